//! The messages nodes send each other over one Redis pub/sub channel.
//!
//! Binary and compact: a version byte, a kind byte, then length-prefixed
//! fields (u32, big-endian). The event frame travels as the exact JSON
//! text subscribers receive, so a node does not re-serialize it.

/// A message on the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BusMessage {
    /// The node that sent it (a node skips its own).
    pub node: String,
    /// The app.
    pub app: String,
    /// What happened.
    pub body: BusBody,
}

/// What a bus message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BusBody {
    /// Deliver `frame` to `channel`'s subscribers, except `except`.
    Event {
        /// The channel.
        channel: String,
        /// A socket id not to deliver to (empty: none).
        except: String,
        /// The frame's JSON text.
        frame: String,
    },
    /// A user joined a presence channel (its first socket, cluster-wide).
    MemberAdded {
        /// The channel.
        channel: String,
        /// The user.
        user: String,
        /// Its `user_info` JSON (empty: none).
        info: String,
    },
    /// A user left a presence channel (its last socket, cluster-wide).
    MemberRemoved {
        /// The channel.
        channel: String,
        /// The user.
        user: String,
    },
    /// Close the user's connections (4009).
    Terminate {
        /// The user.
        user: String,
    },
}

const VERSION: u8 = 1;

/// Why a bus message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed bus message: {0}")]
pub(crate) struct DecodeError(&'static str);

impl BusMessage {
    /// The message as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, fields): (u8, Vec<&str>) = match &self.body {
            BusBody::Event {
                channel,
                except,
                frame,
            } => (b'E', vec![channel, except, frame]),
            BusBody::MemberAdded {
                channel,
                user,
                info,
            } => (b'A', vec![channel, user, info]),
            BusBody::MemberRemoved { channel, user } => (b'R', vec![channel, user]),
            BusBody::Terminate { user } => (b'T', vec![user]),
        };
        let size = 2 + [&self.node, &self.app]
            .iter()
            .map(|f| f.len())
            .chain(fields.iter().map(|f| f.len()))
            .map(|n| n + 4)
            .sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.push(VERSION);
        out.push(kind);
        for field in [self.node.as_str(), self.app.as_str()]
            .into_iter()
            .chain(fields)
        {
            let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&field.as_bytes()[..len as usize]);
        }
        out
    }

    /// Reads a message.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let [version, kind, rest @ ..] = bytes else {
            return Err(DecodeError("too short"));
        };
        if *version != VERSION {
            return Err(DecodeError("unknown version"));
        }
        let mut fields = Fields(rest);
        let node = fields.next()?;
        let app = fields.next()?;
        let body = match kind {
            b'E' => BusBody::Event {
                channel: fields.next()?,
                except: fields.next()?,
                frame: fields.next()?,
            },
            b'A' => BusBody::MemberAdded {
                channel: fields.next()?,
                user: fields.next()?,
                info: fields.next()?,
            },
            b'R' => BusBody::MemberRemoved {
                channel: fields.next()?,
                user: fields.next()?,
            },
            b'T' => BusBody::Terminate {
                user: fields.next()?,
            },
            _ => return Err(DecodeError("unknown kind")),
        };
        if !fields.0.is_empty() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(BusMessage { node, app, body })
    }
}

struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn next(&mut self) -> Result<String, DecodeError> {
        let Some((len, rest)) = self.0.split_first_chunk::<4>() else {
            return Err(DecodeError("truncated length"));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(DecodeError("truncated field"));
        }
        let (field, rest) = rest.split_at(len);
        self.0 = rest;
        String::from_utf8(field.to_vec()).map_err(|_| DecodeError("field is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(body: BusBody) {
        let message = BusMessage {
            node: "n-1".into(),
            app: "app".into(),
            body,
        };
        let bytes = message.encode();
        assert_eq!(BusMessage::decode(&bytes), Ok(message));
        for cut in 0..bytes.len() {
            assert!(BusMessage::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(BusMessage::decode(&longer).is_err());
    }

    #[test]
    fn every_kind_round_trips_and_truncation_is_an_error() {
        round_trip(BusBody::Event {
            channel: "presence-room".into(),
            except: "1.2".into(),
            frame: r#"{"event":"e","channel":"c","data":"é"}"#.into(),
        });
        round_trip(BusBody::MemberAdded {
            channel: "presence-room".into(),
            user: "u\n1".into(),
            info: r#"{"name":"Ada"}"#.into(),
        });
        round_trip(BusBody::MemberRemoved {
            channel: "presence-room".into(),
            user: String::new(),
        });
        round_trip(BusBody::Terminate { user: "u".into() });
    }

    #[test]
    fn foreign_bytes_are_refused() {
        assert!(BusMessage::decode(b"").is_err());
        assert!(BusMessage::decode(b"\x02E").is_err());
        assert!(BusMessage::decode(b"\x01Z\0\0\0\0\0\0\0\0").is_err());
        assert!(BusMessage::decode(b"\x01T\0\0\0\x01\xff\0\0\0\0\0\0\0\0").is_err());
    }
}
