//! The Pusher Channels protocol 7, without I/O.
//!
//! `duplex-pusher` holds the rules of the Pusher Channels protocol 7 so that
//! pusher-js, Laravel Echo and the Pusher server SDKs work unchanged against
//! a duplex server. It never touches a socket, a clock or a runtime: callers
//! pass in frames, request parts, the current time and a random generator,
//! and get back typed messages, serialized frames and decisions.
//!
//! The `duplex-hub` crate builds the running server on these rules and on
//! the `duplex` WebSocket crate: sessions, fan-out, the HTTP API, webhooks
//! and metrics.
//!
//! # Contents
//!
//! - [`protocol`]: the message envelope. [`ClientMessage::parse`] decodes a
//!   client frame; [`ServerMessage::encode`] builds a server frame, once,
//!   into a [`Encoded`] shared by every recipient.
//! - [`channel`]: a channel's [`ChannelKind`] from its name prefix, name
//!   validation, and what each kind allows.
//! - [`auth`]: channel authorization and user sign-in tokens
//!   (HMAC-SHA256, constant-time checks), presence `channel_data` and
//!   sign-in `user_data`, and [`SocketId`]s.
//! - [`api_auth`]: HTTP API request signatures ([`ApiRequest`]).
//! - [`app`]: [`AppConfig`] and its limits, read from TOML, and the [`Apps`]
//!   registry.
//! - [`presence`]: the member list of one presence channel
//!   ([`PresenceChannel`]).
//!
//! # Example
//!
//! A client subscribes to a private channel; the server checks its token
//! and answers.
//!
//! ```
//! use duplex_pusher::{auth, AppConfig, ChannelKind, ClientMessage, ServerMessage, SocketId};
//!
//! let app = AppConfig::new("1", "278d425bdf160c739803", "7ad3773142a6692b25b8");
//! let socket_id = SocketId::parse("1234.1234")?;
//!
//! let frame = r#"{"event":"pusher:subscribe","data":{"channel":"private-foobar",
//!     "auth":"278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"}}"#;
//! let ClientMessage::Subscribe { channel, auth, channel_data } = ClientMessage::parse(frame)? else {
//!     unreachable!()
//! };
//! let kind = duplex_pusher::channel::validate_name(&channel, app.limits.max_channel_name_length)?;
//! assert_eq!(kind, ChannelKind::Private);
//! auth::authorize_subscription(
//!     app.credentials(),
//!     kind,
//!     &socket_id,
//!     &channel,
//!     auth.as_deref(),
//!     channel_data.as_deref(),
//! )?;
//!
//! let reply = ServerMessage::SubscriptionSucceeded { channel: &channel, presence: None };
//! assert_eq!(
//!     reply.encode().as_str(),
//!     r#"{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"private-foobar"}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api_auth;
pub mod app;
pub mod auth;
pub mod channel;
pub mod connection;
pub mod presence;
pub mod protocol;
pub mod rate;

pub use api_auth::{ApiAuthError, ApiRequest};
pub use app::{AppConfig, AppConfigError, AppLimits, Apps};
pub use auth::{AuthError, Credentials, SocketId};
pub use channel::{ChannelKind, ChannelNameError};
pub use presence::{PresenceChannel, PresenceError};
pub use protocol::{ClientMessage, Encoded, ErrorCode, MessageError, ServerMessage};
