//! Client → server messages: decoding a text frame into a [`ClientMessage`].

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A message a client sent, decoded from one text frame.
///
/// `data` may arrive as a JSON object (what pusher-js sends) or as a string
/// holding JSON (the double encoding the server uses); both decode the same.
// Not #[non_exhaustive]: a server must decide what to do with every message,
// so a new one should break its build, not fall into a catch-all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `pusher:subscribe`: join a channel.
    Subscribe {
        /// The channel name, not yet validated.
        channel: String,
        /// The `key:signature` token for private and presence channels.
        /// `None` when absent or empty (pusher-js sends `""` for public
        /// channels).
        auth: Option<String>,
        /// For presence channels, the exact JSON string the signature covers.
        channel_data: Option<String>,
    },
    /// `pusher:unsubscribe`: leave a channel.
    Unsubscribe {
        /// The channel name.
        channel: String,
    },
    /// `pusher:ping`: the client checks the connection; answer with a pong.
    Ping,
    /// `pusher:pong`: the client answers a server ping.
    Pong,
    /// `pusher:signin`: user authentication.
    Signin {
        /// The `key:signature` token.
        auth: String,
        /// The exact JSON string the signature covers.
        user_data: String,
    },
    /// A `client-` event to relay to the other subscribers of a channel.
    ClientEvent {
        /// The event name, starting with `client-`.
        event: String,
        /// The channel to relay on.
        channel: String,
        /// The payload as it must be relayed: a string sent as a string is
        /// kept, any other JSON value is kept as its JSON text. `None` when
        /// absent or `null`.
        data: Option<String>,
    },
}

/// Why a client frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// The frame is not a JSON object of the envelope's shape.
    #[error("invalid message: {0}")]
    InvalidJson(String),
    /// The envelope has no `event`.
    #[error("message has no `event` field")]
    MissingEvent,
    /// A required field of the event is missing.
    #[error("`{event}` message has no `{field}` field")]
    MissingField {
        /// The event, or `client event` for `client-` events.
        event: &'static str,
        /// The missing field, e.g. `data.channel`.
        field: &'static str,
    },
    /// The `data` of a `pusher:` event has the wrong shape.
    #[error("`{event}` message has invalid data: {reason}")]
    InvalidData {
        /// The event.
        event: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A `pusher:` or `pusher_internal:` event the server does not accept
    /// from clients.
    #[error("unknown event `{0}`")]
    UnknownEvent(String),
    /// An event that is neither a `pusher:` event nor a `client-` event.
    #[error("event `{0}` is not a client event: client event names start with `client-`")]
    NotClientEvent(String),
}

const SUBSCRIBE: &str = "pusher:subscribe";
const UNSUBSCRIBE: &str = "pusher:unsubscribe";
const PING: &str = "pusher:ping";
const PONG: &str = "pusher:pong";
const SIGNIN: &str = "pusher:signin";
const CLIENT_EVENT: &str = "client event";

/// The envelope, with `data` kept as raw JSON until the event is known.
#[derive(Deserialize)]
struct Envelope<'a> {
    event: Option<String>,
    channel: Option<String>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct SubscribeData {
    channel: Option<String>,
    auth: Option<String>,
    channel_data: Option<String>,
}

#[derive(Deserialize)]
struct UnsubscribeData {
    channel: Option<String>,
}

#[derive(Deserialize)]
struct SigninData {
    auth: Option<String>,
    user_data: Option<String>,
}

impl ClientMessage {
    /// Decodes one text frame.
    ///
    /// ```
    /// use duplex_pusher::protocol::ClientMessage;
    ///
    /// let msg = ClientMessage::parse(r#"{"event":"pusher:unsubscribe","data":{"channel":"c"}}"#);
    /// assert_eq!(msg, Ok(ClientMessage::Unsubscribe { channel: "c".into() }));
    /// ```
    pub fn parse(text: &str) -> Result<Self, MessageError> {
        let envelope: Envelope<'_> =
            serde_json::from_str(text).map_err(|e| MessageError::InvalidJson(e.to_string()))?;
        let event = envelope.event.ok_or(MessageError::MissingEvent)?;
        match event.as_str() {
            SUBSCRIBE => {
                let data: SubscribeData = data_object(SUBSCRIBE, envelope.data)?;
                Ok(Self::Subscribe {
                    channel: data.channel.ok_or(MessageError::MissingField {
                        event: SUBSCRIBE,
                        field: "data.channel",
                    })?,
                    auth: data.auth.filter(|auth| !auth.is_empty()),
                    channel_data: data.channel_data,
                })
            }
            UNSUBSCRIBE => {
                let data: UnsubscribeData = data_object(UNSUBSCRIBE, envelope.data)?;
                Ok(Self::Unsubscribe {
                    channel: data.channel.ok_or(MessageError::MissingField {
                        event: UNSUBSCRIBE,
                        field: "data.channel",
                    })?,
                })
            }
            PING => Ok(Self::Ping),
            PONG => Ok(Self::Pong),
            SIGNIN => {
                let data: SigninData = data_object(SIGNIN, envelope.data)?;
                let missing = |field| MessageError::MissingField {
                    event: SIGNIN,
                    field,
                };
                Ok(Self::Signin {
                    auth: data.auth.ok_or_else(|| missing("data.auth"))?,
                    user_data: data.user_data.ok_or_else(|| missing("data.user_data"))?,
                })
            }
            _ if event.starts_with("pusher:") || event.starts_with("pusher_internal:") => {
                Err(MessageError::UnknownEvent(event))
            }
            _ if event.starts_with("client-") => Ok(Self::ClientEvent {
                channel: envelope.channel.ok_or(MessageError::MissingField {
                    event: CLIENT_EVENT,
                    field: "channel",
                })?,
                data: relayed_data(envelope.data)?,
                event,
            }),
            _ => Err(MessageError::NotClientEvent(event)),
        }
    }
}

/// Decodes the `data` of a `pusher:` event, given as an object or as a
/// string holding an object.
fn data_object<T: DeserializeOwned>(
    event: &'static str,
    raw: Option<&RawValue>,
) -> Result<T, MessageError> {
    let raw = raw.ok_or(MessageError::MissingField {
        event,
        field: "data",
    })?;
    let invalid = |e: serde_json::Error| MessageError::InvalidData {
        event,
        reason: e.to_string(),
    };
    if raw.get().starts_with('"') {
        let text: String = serde_json::from_str(raw.get()).map_err(invalid)?;
        serde_json::from_str(&text).map_err(invalid)
    } else {
        serde_json::from_str(raw.get()).map_err(invalid)
    }
}

/// The payload of a client event as it must be relayed: strings stay
/// strings, other values become their JSON text.
fn relayed_data(raw: Option<&RawValue>) -> Result<Option<String>, MessageError> {
    match raw.map(RawValue::get) {
        None | Some("null") => Ok(None),
        Some(text) if text.starts_with('"') => {
            serde_json::from_str(text)
                .map(Some)
                .map_err(|e| MessageError::InvalidData {
                    event: CLIENT_EVENT,
                    reason: e.to_string(),
                })
        }
        Some(text) => Ok(Some(text.to_owned())),
    }
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
