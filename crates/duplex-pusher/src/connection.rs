//! The rules of one client connection, as a state machine without I/O.
//!
//! A server admits a connection with [`admit`], makes a [`Connection`], sends
//! [`Connection::established`], then feeds it what the client sends
//! ([`Connection::handle_frame`]) and the passing of time
//! ([`Connection::poll_timeout`] / [`Connection::handle_timeout`]). Each call
//! answers with an [`Action`] for the server to carry out: a reply to send, a
//! subscription to make, an event to publish, a close. The connection reads no
//! clock and touches no socket: time is an argument, as in
//! `duplex_proto::Connection`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use duplex_pusher::connection::{Action, Connection, Incoming, Settings};
//! use duplex_pusher::{AppConfig, SocketId};
//!
//! let app = AppConfig::new("1", "key", "secret");
//! let now = Instant::now();
//! let mut conn = Connection::new(SocketId::parse("1.1")?, Settings::default(), &app, now);
//! assert!(conn.established().as_str().contains("pusher:connection_established"));
//!
//! // A public channel needs no token: the server is asked to subscribe.
//! let subscribe = r#"{"event":"pusher:subscribe","data":{"channel":"news"}}"#;
//! let Action::Subscribe(subscription) = conn.handle_frame(&app, Incoming::Text(subscribe), now) else {
//!     panic!("expected a subscription");
//! };
//! conn.subscribed(subscription.channel, None);
//!
//! // After the activity timeout the server pings; without a pong it closes with 4201.
//! let idle = conn.poll_timeout();
//! assert!(matches!(conn.handle_timeout(idle), Action::Send(_)));
//! let Action::Close(close) = conn.handle_timeout(conn.poll_timeout()) else { panic!() };
//! assert_eq!(close.code, 4201);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::app::AppConfig;
use crate::auth::{self, PresenceMember, SocketId, UserData};
use crate::channel::{self, ChannelKind};
use crate::protocol::{ClientMessage, Encoded, ErrorCode, ServerMessage};
use crate::rate::TokenBucket;

/// The server's settings for every connection (the app's own limits come
/// from its [`AppConfig`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Silence after which the server pings (and which it tells the client
    /// in `connection_established`, rounded down to seconds, at least 1).
    pub activity_timeout: Duration,
    /// How long a ping may wait for any answer before the connection is
    /// closed with 4201.
    pub pong_timeout: Duration,
    /// For apps that require user authentication: how long a connection may
    /// stay without signing in before it is closed with 4009.
    pub signin_timeout: Duration,
    /// Channels one connection may be subscribed to at once.
    pub max_channels: usize,
    /// Frames of any kind a client may send per second (bursts up to this
    /// number); beyond it the connection is closed with 4301.
    pub max_messages_per_second: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            activity_timeout: Duration::from_secs(120),
            pong_timeout: Duration::from_secs(30),
            signin_timeout: Duration::from_secs(30),
            max_channels: 100,
            max_messages_per_second: 100,
        }
    }
}

/// What a client asks for when it connects: the `protocol` query parameter of
/// `/app/{key}` and the handshake's `Origin` header.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectRequest<'a> {
    /// The `protocol` query parameter, if any.
    pub protocol: Option<&'a str>,
    /// The `Origin` header, if any.
    pub origin: Option<&'a str>,
}

/// Why the server ends (or refuses) a connection: the code goes out in a
/// `pusher:error` and in the close frame that follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// A Pusher error code (4000–4399), or a WebSocket close code such as
    /// 1003 for a binary frame.
    pub code: u16,
    /// What the client is told.
    pub reason: Cow<'static, str>,
}

impl Close {
    fn new(code: ErrorCode, reason: impl Into<Cow<'static, str>>) -> Close {
        Close {
            code: code.code(),
            reason: reason.into(),
        }
    }

    /// The app key names no app (4001).
    pub fn app_not_found() -> Close {
        Close::new(ErrorCode::AppNotFound, "Application does not exist")
    }

    /// The server has no room for another connection (4100).
    pub fn over_capacity() -> Close {
        Close::new(ErrorCode::OverCapacity, "Server is over capacity")
    }

    /// The app's connection quota is used up (4004).
    pub fn over_quota() -> Close {
        Close::new(
            ErrorCode::OverConnectionQuota,
            "Application is over connection quota",
        )
    }

    /// The server is going away: reconnect at once (4200).
    pub fn shutting_down() -> Close {
        Close::new(ErrorCode::ReconnectImmediately, "Server is shutting down")
    }

    /// The `pusher:error` message that goes out before the close frame.
    pub fn encode(&self) -> Encoded {
        ServerMessage::Error {
            message: &self.reason,
            code: ErrorCode::from_code(self.code),
        }
        .encode()
    }
}

/// Checks a new connection to `app` (`None`: the key named no app): the app
/// must exist and be enabled, the origin allowed, and the protocol version
/// one of 5 to 7.
pub fn admit(app: Option<&AppConfig>, request: &ConnectRequest<'_>) -> Result<(), Close> {
    let app = app.ok_or_else(Close::app_not_found)?;
    if !app.enabled {
        return Err(Close::new(ErrorCode::AppDisabled, "Application disabled"));
    }
    if !app.allows_origin(request.origin) {
        return Err(Close::new(ErrorCode::Unauthorized, "Origin not allowed"));
    }
    match request.protocol.map(str::parse::<u8>) {
        None => Err(Close::new(
            ErrorCode::NoProtocolVersion,
            "No protocol version supplied",
        )),
        Some(Ok(5..=7)) => Ok(()),
        Some(_) => Err(Close::new(
            ErrorCode::UnsupportedProtocolVersion,
            "Unsupported protocol version",
        )),
    }
}

/// A frame the client sent.
#[derive(Debug, Clone, Copy)]
pub enum Incoming<'a> {
    /// A text message: a Pusher message, or not.
    Text(&'a str),
    /// A binary message (the protocol has none).
    Binary,
    /// A ping, pong or close frame: proof of life, nothing more.
    Control,
}

/// A subscription the rules allow; the server makes it (members, fan-out),
/// then confirms it with [`Connection::subscribed`] (or answers with
/// [`Connection::subscription_refused`]).
#[derive(Debug, Clone)]
pub struct Subscription {
    /// The channel.
    pub channel: String,
    /// Its kind, from its name.
    pub kind: ChannelKind,
    /// On a presence channel: who this connection is there.
    pub member: Option<PresenceMember>,
}

/// A client event the rules allow, ready to publish to the channel's other
/// subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEvent {
    /// The channel.
    pub channel: String,
    /// The event name (`client-…`).
    pub event: String,
    /// The payload, as the client sent it.
    pub data: Option<String>,
    /// On a presence channel: the sender's user id.
    pub user_id: Option<String>,
    /// The message the subscribers receive.
    pub encoded: Encoded,
}

/// What the server does next.
#[derive(Debug, Clone)]
#[must_use]
pub enum Action {
    /// Nothing.
    None,
    /// Send this to the client now (a reply, an error, a ping).
    Send(Encoded),
    /// Subscribe the connection.
    Subscribe(Subscription),
    /// Remove the connection from this channel.
    Unsubscribe(String),
    /// The client signed in: register `user` (in place of `previous`, if it
    /// had signed in before) and send `reply`.
    SignIn {
        /// The user, from the signed `user_data`.
        user: UserData,
        /// The user this connection was signed in as until now.
        previous: Option<UserData>,
        /// `pusher:signin_success`.
        reply: Encoded,
    },
    /// Publish a client event to the channel, except to this connection.
    Publish(ClientEvent),
    /// Send the close's `pusher:error`, close the WebSocket with its code,
    /// and end the connection.
    Close(Close),
}

/// The state of one client connection.
#[derive(Debug)]
pub struct Connection {
    socket_id: SocketId,
    settings: Settings,
    /// Subscribed channels, with this connection's user id on presence ones.
    channels: HashMap<String, Option<String>>,
    /// The signed-in user.
    user: Option<UserData>,
    liveness: Liveness,
    /// For apps that require sign-in: when it must have happened.
    signin_deadline: Option<Instant>,
    /// Client events per second (the app's limit).
    client_events: TokenBucket,
    /// Frames of any kind per second (the server's limit).
    frames: TokenBucket,
}

/// When the client was last heard from, and the unanswered ping, if any.
#[derive(Debug, Clone, Copy)]
enum Liveness {
    Heard(Instant),
    Pinged(Instant),
}

impl Connection {
    /// A new connection of `app`, admitted at `now`.
    pub fn new(socket_id: SocketId, settings: Settings, app: &AppConfig, now: Instant) -> Self {
        Connection {
            signin_deadline: app
                .user_authentication_required
                .then(|| now + settings.signin_timeout),
            client_events: TokenBucket::new(app.limits.client_event_rate_per_second, now),
            frames: TokenBucket::new(settings.max_messages_per_second, now),
            socket_id,
            settings,
            channels: HashMap::new(),
            user: None,
            liveness: Liveness::Heard(now),
        }
    }

    /// The connection's socket id.
    pub fn socket_id(&self) -> &SocketId {
        &self.socket_id
    }

    /// The signed-in user, if any.
    pub fn user(&self) -> Option<&UserData> {
        self.user.as_ref()
    }

    /// The channels the connection is subscribed to.
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// Whether the connection is subscribed to `channel`.
    pub fn is_subscribed(&self, channel: &str) -> bool {
        self.channels.contains_key(channel)
    }

    /// `pusher:connection_established`, the first message to send.
    pub fn established(&self) -> Encoded {
        let secs = self.settings.activity_timeout.as_secs().max(1);
        ServerMessage::ConnectionEstablished {
            socket_id: &self.socket_id,
            activity_timeout: u32::try_from(secs).unwrap_or(u32::MAX),
        }
        .encode()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    pub fn poll_timeout(&self) -> Instant {
        let liveness = match self.liveness {
            Liveness::Heard(at) => at + self.settings.activity_timeout,
            Liveness::Pinged(at) => at + self.settings.pong_timeout,
        };
        match self.signin_deadline {
            Some(signin) if self.user.is_none() => liveness.min(signin),
            _ => liveness,
        }
    }

    /// The time has come (or passed): ping a quiet client, or close a
    /// connection that did not answer its ping or sign in on time.
    pub fn handle_timeout(&mut self, now: Instant) -> Action {
        if let Some(deadline) = self.signin_deadline {
            if self.user.is_none() && now >= deadline {
                return Action::Close(Close::new(
                    ErrorCode::Unauthorized,
                    "Connection not signed in within the time allowed",
                ));
            }
        }
        match self.liveness {
            Liveness::Pinged(at) if now >= at + self.settings.pong_timeout => Action::Close(
                Close::new(ErrorCode::PongNotReceived, "Pong reply not received"),
            ),
            Liveness::Heard(at) if now >= at + self.settings.activity_timeout => {
                self.liveness = Liveness::Pinged(now);
                Action::Send(ServerMessage::Ping.encode())
            }
            _ => Action::None,
        }
    }

    /// The client sent `frame` at `now`.
    pub fn handle_frame(&mut self, app: &AppConfig, frame: Incoming<'_>, now: Instant) -> Action {
        self.liveness = Liveness::Heard(now);
        if !self.frames.take(now) {
            return Action::Close(Close::new(
                ErrorCode::ClientEventRateLimited,
                format!(
                    "Too many messages: more than {} per second",
                    self.settings.max_messages_per_second
                ),
            ));
        }
        match frame {
            Incoming::Text(text) => self.handle_text(app, text, now),
            Incoming::Binary => Action::Close(Close {
                code: 1003,
                reason: "Binary frames are not supported".into(),
            }),
            Incoming::Control => Action::None,
        }
    }

    fn handle_text(&mut self, app: &AppConfig, text: &str, now: Instant) -> Action {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            // Reverb's convention: 4200 "Invalid message format"; the
            // connection stays open.
            Err(e) => return error(&e.to_string(), ErrorCode::ReconnectImmediately),
        };
        match message {
            ClientMessage::Ping => Action::Send(ServerMessage::Pong.encode()),
            ClientMessage::Pong => Action::None,
            ClientMessage::Subscribe {
                channel,
                auth,
                channel_data,
            } => self.subscribe(app, channel, auth.as_deref(), channel_data.as_deref()),
            ClientMessage::Unsubscribe { channel } => match self.channels.remove(&channel) {
                Some(_) => Action::Unsubscribe(channel),
                None => Action::None,
            },
            ClientMessage::Signin { auth, user_data } => self.signin(app, &auth, &user_data),
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(app, event, channel, data, now),
        }
    }

    fn subscribe(
        &mut self,
        app: &AppConfig,
        channel: String,
        token: Option<&str>,
        channel_data: Option<&str>,
    ) -> Action {
        let max = self.settings.max_channels;
        if self.channels.len() >= max && !self.channels.contains_key(&channel) {
            let error = format!("A connection may be subscribed to at most {max} channels");
            return subscription_error(&channel, "LimitReached", &error, 403);
        }
        let limits = &app.limits;
        let kind = match channel::validate_name(&channel, limits.max_channel_name_length) {
            Ok(kind) => kind,
            Err(e) => return subscription_error(&channel, "InvalidChannel", &e.to_string(), 400),
        };
        if kind == ChannelKind::ServerToUser {
            let owner = channel::server_to_user_id(&channel);
            if owner.is_none() || self.user.as_ref().map(|u| u.id.as_str()) != owner {
                return subscription_error(
                    &channel,
                    "AuthError",
                    "Sign in as this user to subscribe to their channel",
                    401,
                );
            }
        } else if let Err(e) = auth::authorize_subscription(
            app.credentials(),
            kind,
            &self.socket_id,
            &channel,
            token,
            channel_data,
        ) {
            return subscription_error(&channel, "AuthError", &e.to_string(), 401);
        }
        let member = match (kind.is_presence(), channel_data) {
            (true, Some(data)) => {
                match PresenceMember::parse(data, limits.max_presence_user_info_bytes) {
                    Ok(member) => Some(member),
                    Err(e) => {
                        return subscription_error(&channel, "AuthError", &e.to_string(), 400)
                    }
                }
            }
            _ => None,
        };
        Action::Subscribe(Subscription {
            channel,
            kind,
            member,
        })
    }

    /// The server made the subscription to `channel` (with the member's
    /// `user_id` on a presence channel): the connection is now on it.
    pub fn subscribed(&mut self, channel: String, user_id: Option<String>) {
        self.channels.insert(channel, user_id);
    }

    /// The server could not subscribe the connection to `channel` (`why`,
    /// e.g. a presence channel is full): the `pusher:subscription_error`
    /// to send.
    pub fn subscription_refused(&self, channel: &str, why: &str) -> Encoded {
        ServerMessage::SubscriptionError {
            channel,
            error_type: "LimitReached",
            error: why,
            status: 403,
        }
        .encode()
    }

    fn signin(&mut self, app: &AppConfig, token: &str, user_data: &str) -> Action {
        let limit = app.limits.max_presence_user_info_bytes;
        let user = auth::verify_user(app.credentials(), token, &self.socket_id, user_data)
            .map_err(|e| e.to_string())
            .and_then(|()| UserData::parse(user_data, limit).map_err(|e| e.to_string()));
        match user {
            Ok(user) => Action::SignIn {
                previous: self.user.replace(user.clone()),
                user,
                reply: ServerMessage::SigninSuccess { user_data }.encode(),
            },
            Err(reason) => Action::Close(Close::new(
                ErrorCode::Unauthorized,
                format!("Sign-in failed: {reason}"),
            )),
        }
    }

    fn client_event(
        &mut self,
        app: &AppConfig,
        event: String,
        channel: String,
        data: Option<String>,
        now: Instant,
    ) -> Action {
        let limits = &app.limits;
        let kind = ChannelKind::of(&channel);
        let refusal: Option<Cow<'static, str>> = if !app.client_events {
            Some("Client events are not enabled for this app".into())
        } else if !kind.allows_client_events() {
            Some("Client events are only allowed on private and presence channels".into())
        } else if !self.channels.contains_key(&channel) {
            Some(format!("Subscribe to {channel} before sending client events on it").into())
        } else if event.len() > limits.max_event_name_length {
            Some(
                format!(
                    "Event name is longer than {} bytes",
                    limits.max_event_name_length
                )
                .into(),
            )
        } else if data.as_deref().map_or(0, str::len) > limits.max_event_payload_bytes {
            Some(
                format!(
                    "Event data is larger than {} bytes",
                    limits.max_event_payload_bytes
                )
                .into(),
            )
        } else if !self.client_events.take(now) {
            Some("Client event rejected due to rate limit".into())
        } else {
            None
        };
        if let Some(reason) = refusal {
            return error(&reason, ErrorCode::ClientEventRateLimited);
        }
        let user_id = self.channels.get(&channel).cloned().flatten();
        let encoded = ServerMessage::ChannelEvent {
            event: &event,
            channel: &channel,
            data: data.as_deref(),
            user_id: user_id.as_deref(),
        }
        .encode();
        Action::Publish(ClientEvent {
            channel,
            event,
            data,
            user_id,
            encoded,
        })
    }
}

fn error(message: &str, code: ErrorCode) -> Action {
    Action::Send(
        ServerMessage::Error {
            message,
            code: Some(code),
        }
        .encode(),
    )
}

fn subscription_error(channel: &str, error_type: &str, error: &str, status: u16) -> Action {
    Action::Send(
        ServerMessage::SubscriptionError {
            channel,
            error_type,
            error,
            status,
        }
        .encode(),
    )
}

#[cfg(test)]
mod tests;
