//! The JSON documents an auth signature covers: presence `channel_data` and
//! sign-in `user_data`.
//!
//! Parse them only after the signature has been verified: the app's auth
//! endpoint wrote them, and the signature covers their exact bytes.

use serde::Deserialize;
use serde_json::value::RawValue;

/// Room for `{"user_id":…,"user_info":}` and the user id in a
/// `channel_data`, on top of the `user_info` limit. Anything longer is
/// rejected before it is parsed.
pub const CHANNEL_DATA_ALLOWANCE: usize = 256;

/// One member of a presence channel, from a subscription's `channel_data`
/// (`{"user_id": "u" | 10, "user_info": {...}}`).
#[derive(Debug, Clone)]
pub struct PresenceMember {
    /// The user id, normalized to a string: `10` and `"10"` are one user
    /// (pusher-js uses ids as object keys).
    pub user_id: String,
    /// The `user_info` object, kept as the app wrote it. `None` when absent
    /// or `null`.
    pub user_info: Option<Box<RawValue>>,
}

/// A signed-in user, from the `user_data` of `pusher:signin`.
#[derive(Debug, Clone)]
pub struct UserData {
    /// The user id: a non-empty string (pusher-js drops a sign-in otherwise).
    pub id: String,
    /// The optional `user_info` object.
    pub user_info: Option<Box<RawValue>>,
    /// The optional `watchlist`: ids of users whose online status this user
    /// follows.
    pub watchlist: Vec<String>,
}

/// Why a `channel_data` or `user_data` document was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The document is not JSON of the expected shape.
    #[error("invalid {document}: {reason}")]
    Invalid {
        /// `channel_data` or `user_data`.
        document: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The user id is missing, empty, or of the wrong type.
    #[error("invalid {document}: {reason}")]
    InvalidUserId {
        /// `channel_data` or `user_data`.
        document: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// `user_info` is present but not a JSON object.
    #[error("invalid {document}: user_info must be an object")]
    UserInfoNotObject {
        /// `channel_data` or `user_data`.
        document: &'static str,
    },
    /// The document or its `user_info` exceeds the limit.
    #[error("{document} is too large: {len} bytes, the limit is {max}")]
    TooLarge {
        /// `channel_data`, `user_data` or `user_info`.
        document: &'static str,
        /// The size found.
        len: usize,
        /// The limit.
        max: usize,
    },
}

const CHANNEL_DATA: &str = "channel_data";
const USER_DATA: &str = "user_data";

#[derive(Deserialize)]
struct RawChannelData<'a> {
    #[serde(borrow)]
    user_id: Option<&'a RawValue>,
    user_info: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct RawUserData<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    user_info: Option<Box<RawValue>>,
    #[serde(default)]
    watchlist: Vec<String>,
}

impl PresenceMember {
    /// Parses a presence `channel_data`, with `user_info` limited to
    /// `max_user_info_bytes` of JSON text.
    pub fn parse(channel_data: &str, max_user_info_bytes: usize) -> Result<Self, DataError> {
        check_size(CHANNEL_DATA, channel_data, max_user_info_bytes)?;
        let raw: RawChannelData<'_> =
            serde_json::from_str(channel_data).map_err(|e| invalid(CHANNEL_DATA, e))?;
        let user_id = raw.user_id.ok_or(DataError::InvalidUserId {
            document: CHANNEL_DATA,
            reason: "user_id is required",
        })?;
        Ok(Self {
            user_id: presence_user_id(user_id)?,
            user_info: user_info(CHANNEL_DATA, raw.user_info, max_user_info_bytes)?,
        })
    }
}

impl UserData {
    /// Parses a sign-in `user_data`, with `user_info` limited to
    /// `max_user_info_bytes` of JSON text.
    ///
    /// The document as a whole is not size-checked here: its `watchlist`
    /// may legitimately be long, and the frame it came in is already bounded.
    pub fn parse(user_data: &str, max_user_info_bytes: usize) -> Result<Self, DataError> {
        let raw: RawUserData<'_> =
            serde_json::from_str(user_data).map_err(|e| invalid(USER_DATA, e))?;
        let bad_id = DataError::InvalidUserId {
            document: USER_DATA,
            reason: "id must be a non-empty string",
        };
        let id = raw.id.ok_or(bad_id.clone())?;
        let id: String = serde_json::from_str(id.get()).map_err(|_| bad_id.clone())?;
        if id.is_empty() {
            return Err(bad_id);
        }
        Ok(Self {
            id,
            user_info: user_info(USER_DATA, raw.user_info, max_user_info_bytes)?,
            watchlist: raw.watchlist,
        })
    }
}

/// A cheap guard before parsing a `channel_data`: it may hold the
/// `user_info` limit plus [`CHANNEL_DATA_ALLOWANCE`].
fn check_size(document: &'static str, text: &str, max_user_info: usize) -> Result<(), DataError> {
    let max = max_user_info.saturating_add(CHANNEL_DATA_ALLOWANCE);
    if text.len() > max {
        return Err(DataError::TooLarge {
            document,
            len: text.len(),
            max,
        });
    }
    Ok(())
}

fn invalid(document: &'static str, e: serde_json::Error) -> DataError {
    DataError::Invalid {
        document,
        reason: e.to_string(),
    }
}

/// A presence user id: a non-empty string, or an integer written as digits.
fn presence_user_id(raw: &RawValue) -> Result<String, DataError> {
    let bad = |reason| DataError::InvalidUserId {
        document: CHANNEL_DATA,
        reason,
    };
    let text = raw.get();
    let id = if text.starts_with('"') {
        serde_json::from_str::<String>(text).map_err(|_| bad("user_id is not a valid string"))?
    } else if let Ok(n) = text.parse::<u64>() {
        n.to_string()
    } else if let Ok(n) = text.parse::<i64>() {
        n.to_string()
    } else {
        return Err(bad("user_id must be a string or an integer"));
    };
    if id.is_empty() {
        return Err(bad("user_id must not be empty"));
    }
    Ok(id)
}

fn user_info(
    document: &'static str,
    info: Option<Box<RawValue>>,
    max: usize,
) -> Result<Option<Box<RawValue>>, DataError> {
    let Some(info) = info else { return Ok(None) };
    if !info.get().starts_with('{') {
        return Err(DataError::UserInfoNotObject { document });
    }
    if info.get().len() > max {
        return Err(DataError::TooLarge {
            document: "user_info",
            len: info.get().len(),
            max,
        });
    }
    Ok(Some(info))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1024;

    fn member(text: &str) -> Result<PresenceMember, DataError> {
        PresenceMember::parse(text, MAX)
    }

    #[test]
    fn numeric_and_string_ids_normalize_alike() {
        let a = member(r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#).unwrap();
        let b = member(r#"{"user_id":"10"}"#).unwrap();
        assert_eq!(a.user_id, "10");
        assert_eq!(b.user_id, "10");
        assert_eq!(a.user_info.unwrap().get(), r#"{"name":"Mr. Channels"}"#);
        assert!(b.user_info.is_none());
        assert_eq!(member(r#"{"user_id":-3}"#).unwrap().user_id, "-3");
        assert_eq!(
            member(r#"{"user_id":"a\u00e9"}"#).unwrap().user_id,
            "a\u{e9}"
        );
        assert!(member(r#"{"user_id":"u","user_info":null}"#)
            .unwrap()
            .user_info
            .is_none());
    }

    #[test]
    fn bad_user_ids() {
        for (text, reason) in [
            (r#"{"user_info":{}}"#, "user_id is required"),
            (r#"{"user_id":null}"#, "user_id is required"),
            (r#"{"user_id":""}"#, "user_id must not be empty"),
            (
                r#"{"user_id":1.5}"#,
                "user_id must be a string or an integer",
            ),
            (
                r#"{"user_id":1e3}"#,
                "user_id must be a string or an integer",
            ),
            (
                r#"{"user_id":true}"#,
                "user_id must be a string or an integer",
            ),
            (
                r#"{"user_id":{"a":1}}"#,
                "user_id must be a string or an integer",
            ),
        ] {
            assert_eq!(
                member(text).unwrap_err(),
                DataError::InvalidUserId {
                    document: "channel_data",
                    reason
                },
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_documents() {
        for text in ["", "nope", "[]", r#""{\"user_id\":1}""#, r#"{"user_id":1"#] {
            assert!(
                matches!(
                    member(text),
                    Err(DataError::Invalid {
                        document: "channel_data",
                        ..
                    })
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn user_info_must_be_an_object() {
        for text in [
            r#"{"user_id":1,"user_info":"x"}"#,
            r#"{"user_id":1,"user_info":[1]}"#,
            r#"{"user_id":1,"user_info":3}"#,
        ] {
            assert_eq!(
                member(text).unwrap_err(),
                DataError::UserInfoNotObject {
                    document: "channel_data"
                }
            );
        }
    }

    #[test]
    fn size_limits() {
        let info = format!(r#"{{"n":"{}"}}"#, "x".repeat(100));
        let text = format!(r#"{{"user_id":1,"user_info":{info}}}"#);
        assert!(PresenceMember::parse(&text, info.len()).is_ok());
        assert_eq!(
            PresenceMember::parse(&text, info.len() - 1).unwrap_err(),
            DataError::TooLarge {
                document: "user_info",
                len: info.len(),
                max: info.len() - 1
            }
        );
        let huge = format!(
            r#"{{"user_id":"{}"}}"#,
            "u".repeat(MAX + CHANNEL_DATA_ALLOWANCE)
        );
        assert_eq!(
            member(&huge).unwrap_err(),
            DataError::TooLarge {
                document: "channel_data",
                len: huge.len(),
                max: MAX + CHANNEL_DATA_ALLOWANCE
            }
        );
    }

    #[test]
    fn user_data() {
        let user = UserData::parse(
            r#"{"id":"12345","user_info":{"name":"A"},"watchlist":["1","2"]}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(user.id, "12345");
        assert_eq!(user.user_info.unwrap().get(), r#"{"name":"A"}"#);
        assert_eq!(user.watchlist, ["1", "2"]);

        // A long watchlist is fine: only user_info is limited.
        let ids: Vec<String> = (0..500).map(|i| format!("\"user-{i}\"")).collect();
        let long = format!(r#"{{"id":"x","watchlist":[{}]}}"#, ids.join(","));
        assert!(long.len() > MAX + CHANNEL_DATA_ALLOWANCE);
        assert_eq!(UserData::parse(&long, MAX).unwrap().watchlist.len(), 500);

        let bare = UserData::parse(r#"{"id":"x"}"#, MAX).unwrap();
        assert!(bare.user_info.is_none() && bare.watchlist.is_empty());
    }

    #[test]
    fn user_data_id_must_be_a_non_empty_string() {
        let bad = DataError::InvalidUserId {
            document: "user_data",
            reason: "id must be a non-empty string",
        };
        for text in [r#"{}"#, r#"{"id":""}"#, r#"{"id":12345}"#, r#"{"id":null}"#] {
            assert_eq!(UserData::parse(text, MAX).unwrap_err(), bad, "{text}");
        }
        assert!(matches!(
            UserData::parse("x", MAX),
            Err(DataError::Invalid {
                document: "user_data",
                ..
            })
        ));
        assert!(matches!(
            UserData::parse(r#"{"id":"1","watchlist":"2"}"#, MAX),
            Err(DataError::Invalid { .. })
        ));
        assert_eq!(
            UserData::parse(r#"{"id":"1","user_info":[]}"#, MAX).unwrap_err(),
            DataError::UserInfoNotObject {
                document: "user_data"
            }
        );
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(
            DataError::TooLarge {
                document: "user_info",
                len: 2000,
                max: 1024
            }
            .to_string(),
            "user_info is too large: 2000 bytes, the limit is 1024"
        );
    }
}
