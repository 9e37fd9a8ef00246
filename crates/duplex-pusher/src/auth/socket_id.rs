//! Socket ids: the `"{digits}.{digits}"` name of one connection.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Serialize, Serializer};

/// The id of one client connection, e.g. `"123.456"`.
///
/// The server assigns it in `pusher:connection_established`; clients send it
/// to the app's auth endpoint, which signs it; the HTTP API uses it to exclude
/// a recipient. It always matches `^\d+\.\d+$` (what pusher-http-node's
/// `validateSocketId` accepts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketId(String);

/// The text is not a socket id of the form `"{digits}.{digits}"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid socket id {0:?}: expected digits, a dot, digits")]
pub struct InvalidSocketId(pub String);

impl SocketId {
    /// Validates `text` as a socket id.
    pub fn parse(text: &str) -> Result<Self, InvalidSocketId> {
        let valid = text.split_once('.').is_some_and(|(a, b)| {
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            digits(a) && digits(b)
        });
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidSocketId(text.to_owned()))
        }
    }

    /// A fresh random socket id drawn from `rng` (two random `u32`s), so
    /// tests can pass a seeded generator.
    pub fn random<R: Rng + ?Sized>(rng: &mut R) -> Self {
        Self(format!("{}.{}", rng.random::<u32>(), rng.random::<u32>()))
    }

    /// A fresh random socket id from the thread-local generator.
    pub fn generate() -> Self {
        Self::random(&mut rand::rng())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SocketId {
    type Err = InvalidSocketId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for SocketId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SocketId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for SocketId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashSet;

    #[test]
    fn accepts_digits_dot_digits() {
        for ok in ["1234.1234", "0.0", "123.456", "18446744073709551615.1"] {
            assert_eq!(SocketId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "", ".", "1.", ".1", "1", "1.2.3", "a.1", "1.a", " 1.2", "1.2 ", "1.2\n", "-1.2",
            "+1.2", "1,2", "1..2", "١.٢", // Arabic-Indic digits are not ASCII digits
        ] {
            assert_eq!(
                SocketId::parse(bad),
                Err(InvalidSocketId(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let mut rng = StdRng::seed_from_u64(7);
        let ids: HashSet<SocketId> = (0..1000).map(|_| SocketId::random(&mut rng)).collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            assert_eq!(SocketId::parse(id.as_str()).as_ref(), Ok(id));
        }
        let fresh = SocketId::generate();
        assert_eq!(fresh.as_str().parse::<SocketId>(), Ok(fresh.clone()));
    }

    #[test]
    fn seeded_generation_is_deterministic() {
        let a = SocketId::random(&mut StdRng::seed_from_u64(1));
        let b = SocketId::random(&mut StdRng::seed_from_u64(1));
        assert_eq!(a, b);
    }

    #[test]
    fn serializes_as_a_string_and_borrows_as_str() {
        let id = SocketId::parse("1.2").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#""1.2""#);
        let set: HashSet<SocketId> = [id].into();
        assert!(set.contains("1.2"));
        assert_eq!(
            InvalidSocketId("x".into()).to_string(),
            r#"invalid socket id "x": expected digits, a dot, digits"#
        );
    }
}
