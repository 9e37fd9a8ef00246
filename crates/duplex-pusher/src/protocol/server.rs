//! Server → client messages, serialized once into a shareable [`Encoded`].
//!
//! Where the protocol double-encodes, `data` is a *string* holding JSON
//! (`"data":"{\"socket_id\":…}"`). `pusher:error` and `pusher:pong` carry an
//! object, as Pusher sends them.

use std::fmt;

use duplex_proto::Utf8Bytes;

use serde::Serialize;
use serde_json::value::RawValue;

use super::ErrorCode;
use crate::auth::SocketId;
use crate::presence::PresencePayload;

/// One server message, serialized to its JSON text. Cloning shares the text,
/// so a channel event is serialized once and sent to every subscriber (each
/// as one WebSocket text message).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Encoded(Utf8Bytes);

impl Encoded {
    /// A message from JSON text that a server serialized itself (another
    /// node of a cluster, over its bus). The text is not validated: never
    /// pass text that a client sent.
    pub fn from_trusted(text: String) -> Encoded {
        Encoded(Utf8Bytes::from(text))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The text, ready to send as a WebSocket text message without a copy.
    pub fn to_text(&self) -> Utf8Bytes {
        self.0.clone()
    }

    /// The JSON text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a message holds at least `{"event":…}`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Encoded").field(&self.0.as_str()).finish()
    }
}

impl fmt::Display for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl AsRef<str> for Encoded {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<[u8]> for Encoded {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A message the server sends. Build one, then [`encode`](Self::encode).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ServerMessage<'a> {
    /// `pusher:connection_established`, the first message on a connection.
    ConnectionEstablished {
        /// The id assigned to the connection.
        socket_id: &'a SocketId,
        /// Seconds of silence after which the client pings; must be
        /// non-zero (pusher-js rejects a handshake without it).
        activity_timeout: u32,
    },
    /// `pusher:error`.
    Error {
        /// What went wrong.
        message: &'a str,
        /// The protocol error code, if any.
        code: Option<ErrorCode>,
    },
    /// `pusher:ping`: the server checks the connection.
    Ping,
    /// `pusher:pong`: the answer to a client's `pusher:ping`.
    Pong,
    /// `pusher_internal:subscription_succeeded`, with the member list on
    /// presence channels.
    SubscriptionSucceeded {
        /// The channel subscribed to.
        channel: &'a str,
        /// The members, for presence channels.
        presence: Option<PresencePayload<'a>>,
    },
    /// `pusher:subscription_error`, in soketi's shape
    /// `{"type":…,"error":…,"status":…}` (pusher-js passes it to the
    /// channel's `pusher:subscription_error` binders).
    SubscriptionError {
        /// The channel refused.
        channel: &'a str,
        /// The kind of failure, e.g. `AuthError` or `LimitReached`.
        error_type: &'a str,
        /// A human-readable reason.
        error: &'a str,
        /// An HTTP-like status, e.g. 401.
        status: u16,
    },
    /// `pusher_internal:member_added`: a user's first socket joined.
    MemberAdded {
        /// The presence channel.
        channel: &'a str,
        /// The user who joined.
        user_id: &'a str,
        /// The user's `user_info`, if any.
        user_info: Option<&'a RawValue>,
    },
    /// `pusher_internal:member_removed`: a user's last socket left.
    MemberRemoved {
        /// The presence channel.
        channel: &'a str,
        /// The user who left.
        user_id: &'a str,
    },
    /// `pusher_internal:subscription_count`.
    SubscriptionCount {
        /// The channel.
        channel: &'a str,
        /// How many sockets are subscribed.
        count: usize,
    },
    /// `pusher:cache_miss`: a cache channel had nothing to replay.
    CacheMiss {
        /// The cache channel.
        channel: &'a str,
    },
    /// `pusher:signin_success`.
    SigninSuccess {
        /// The signed `user_data` JSON string, echoed back.
        user_data: &'a str,
    },
    /// An event published on a channel, by the HTTP API or a client.
    ChannelEvent {
        /// The event name.
        event: &'a str,
        /// The channel.
        channel: &'a str,
        /// The payload string, sent as a string.
        data: Option<&'a str>,
        /// The sender's user id, for client events on presence channels.
        user_id: Option<&'a str>,
    },
}

/// The envelope; `D` is `&str` where the protocol double-encodes.
#[derive(Serialize)]
struct Envelope<'a, D> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<D>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct ErrorData<'a> {
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
}

#[derive(Serialize)]
struct Established<'a> {
    socket_id: &'a SocketId,
    activity_timeout: u32,
}

#[derive(Serialize)]
struct Presence<'a> {
    presence: PresencePayload<'a>,
}

#[derive(Serialize)]
struct SubscriptionErrorData<'a> {
    #[serde(rename = "type")]
    error_type: &'a str,
    error: &'a str,
    status: u16,
}

#[derive(Serialize)]
struct Member<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_info: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct Count {
    subscription_count: usize,
}

#[derive(Serialize)]
struct Signin<'a> {
    user_data: &'a str,
}

/// Serializes plain data (string keys, no fallible `Serialize` impls), which
/// cannot fail.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("serializing plain data to JSON cannot fail")
}

/// A message whose `data` is the JSON of `data`, encoded again as a string.
fn double_encoded<T: Serialize>(event: &str, channel: Option<&str>, data: &T) -> String {
    let data = json(data);
    json(&Envelope {
        event,
        data: Some(data.as_str()),
        channel,
        user_id: None,
    })
}

/// A message whose `data` is a JSON object, or absent.
fn plain<T: Serialize>(event: &str, channel: Option<&str>, data: Option<T>) -> String {
    json(&Envelope {
        event,
        data,
        channel,
        user_id: None,
    })
}

impl ServerMessage<'_> {
    /// Serializes the message.
    pub fn encode(self) -> Encoded {
        Encoded(Utf8Bytes::from(self.to_json()))
    }

    fn to_json(self) -> String {
        match self {
            Self::ConnectionEstablished {
                socket_id,
                activity_timeout,
            } => double_encoded(
                "pusher:connection_established",
                None,
                &Established {
                    socket_id,
                    activity_timeout,
                },
            ),
            Self::Error { message, code } => plain(
                "pusher:error",
                None,
                Some(ErrorData {
                    message,
                    code: code.map(ErrorCode::code),
                }),
            ),
            Self::Ping => plain("pusher:ping", None, Some(Empty {})),
            Self::Pong => plain("pusher:pong", None, Some(Empty {})),
            Self::SubscriptionSucceeded {
                channel,
                presence: None,
            } => double_encoded(
                "pusher_internal:subscription_succeeded",
                Some(channel),
                &Empty {},
            ),
            Self::SubscriptionSucceeded {
                channel,
                presence: Some(presence),
            } => double_encoded(
                "pusher_internal:subscription_succeeded",
                Some(channel),
                &Presence { presence },
            ),
            Self::SubscriptionError {
                channel,
                error_type,
                error,
                status,
            } => double_encoded(
                "pusher:subscription_error",
                Some(channel),
                &SubscriptionErrorData {
                    error_type,
                    error,
                    status,
                },
            ),
            Self::MemberAdded {
                channel,
                user_id,
                user_info,
            } => double_encoded(
                "pusher_internal:member_added",
                Some(channel),
                &Member { user_id, user_info },
            ),
            Self::MemberRemoved { channel, user_id } => double_encoded(
                "pusher_internal:member_removed",
                Some(channel),
                &Member {
                    user_id,
                    user_info: None,
                },
            ),
            Self::SubscriptionCount { channel, count } => double_encoded(
                "pusher_internal:subscription_count",
                Some(channel),
                &Count {
                    subscription_count: count,
                },
            ),
            Self::CacheMiss { channel } => plain::<Empty>("pusher:cache_miss", Some(channel), None),
            Self::SigninSuccess { user_data } => {
                double_encoded("pusher:signin_success", None, &Signin { user_data })
            }
            Self::ChannelEvent {
                event,
                channel,
                data,
                user_id,
            } => json(&Envelope {
                event,
                data,
                channel: Some(channel),
                user_id,
            }),
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
