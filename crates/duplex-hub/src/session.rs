//! One client connection speaking the Pusher protocol, from
//! `connection_established` to the last unsubscribe.
//!
//! The task owns the WebSocket. It waits on four things at once: the
//! client's frames, the connection's send queue (events fanned out to it),
//! a close order (from the API, a full queue, or shutdown) and its timers
//! (activity ping, pong wait, sign-in deadline). Frames that are already
//! queued are written together, with one flush.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use duplex::{CloseCode, Message, WebSocket};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use duplex_pusher::auth::{self, PresenceMember, SocketId, UserData};
use duplex_pusher::channel::{self, ChannelKind};
use duplex_pusher::protocol::{ClientMessage, Encoded, ErrorCode, ServerMessage};
use duplex_pusher::rate::TokenBucket;

use super::app_state::{AppState, ConnectionSlot, SubscribeError};
use super::conn::{CloseOrder, Closer, ConnHandle, Outbound, Outbox};
use super::hub::{Hub, ProcessSlot};
use super::webhook::WebhookEventData;

/// Frames written per batch before flushing.
const WRITE_BATCH: usize = 64;

/// What the client asked for in the connection URL's query.
#[derive(Debug, Clone, Default)]
pub struct ConnectQuery {
    /// The `protocol` parameter.
    pub protocol: Option<String>,
    /// The handshake's `Origin` header.
    pub origin: Option<String>,
}

impl ConnectQuery {
    /// Reads the query string of `/app/{key}?…`.
    pub fn parse(query: Option<&str>) -> Self {
        let protocol = query.unwrap_or("").split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == "protocol").then(|| v.to_string())
        });
        ConnectQuery {
            protocol,
            origin: None,
        }
    }

    /// Checks the protocol version: 4008 when absent, 4007 when not 5 to 7.
    fn check(&self) -> Result<(), (ErrorCode, &'static str)> {
        match self.protocol.as_deref().map(str::parse::<u8>) {
            None => Err((ErrorCode::NoProtocolVersion, "No protocol version supplied")),
            Some(Ok(5..=7)) => Ok(()),
            Some(_) => Err((
                ErrorCode::UnsupportedProtocolVersion,
                "Unsupported protocol version",
            )),
        }
    }
}

/// Runs a Pusher session for the app with `key` on the WebSocket that
/// `upgrade` gives (the HTTP upgrade completing), once it is admitted.
///
/// Not an `async fn`: the upgrade and the admission (checks, the adapter's
/// quota) run in a boxed future that takes the arguments at once, so that
/// the session's task, which lives as long as the connection, carries
/// neither their state nor a second copy of the WebSocket (an `async fn`
/// keeps its arguments' slots, and a value moved out of a local keeps the
/// local's, for the whole await that follows).
pub fn run<S, U>(
    hub: Arc<Hub>,
    key: String,
    query: ConnectQuery,
    upgrade: U,
) -> impl std::future::Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    U: std::future::Future<Output = Option<WebSocket<S>>>,
{
    let admission = Box::pin(async move {
        let ws = upgrade.await?;
        admit(hub, key, query, ws).await
    });
    async move {
        if let Some((mut session, rx, closer)) = admission.await {
            session.run(rx, closer).await;
        }
    }
}

/// Checks the app, the query and the limits; refuses the connection (and
/// returns `None`) or returns the session ready to run.
async fn admit<S>(
    hub: Arc<Hub>,
    key: String,
    query: ConnectQuery,
    mut ws: WebSocket<S>,
) -> Option<(Session<S>, Outbox, Arc<Closer>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.set_close_timeout(Duration::from_secs(2));
    hub.metrics
        .connections_total
        .fetch_add(1, Ordering::Relaxed);
    let refuse = |code: ErrorCode, message: &str| (code.code(), message.to_string());
    let app = hub.app_by_key(&key).cloned();
    let checked = match (&app, query.check()) {
        (None, _) => Err(refuse(ErrorCode::AppNotFound, "Application does not exist")),
        (Some(app), _) if !app.config.enabled => {
            Err(refuse(ErrorCode::AppDisabled, "Application disabled"))
        }
        (Some(app), _) if !app.config.allows_origin(query.origin.as_deref()) => {
            Err(refuse(ErrorCode::Unauthorized, "Origin not allowed"))
        }
        (_, Err((code, message))) => Err(refuse(code, message)),
        (Some(app), Ok(())) => Ok(app.clone()),
    };
    let app = match checked {
        Ok(app) => app,
        Err((code, reason)) => {
            refuse_connection(&hub, ws, code, &reason).await;
            return None;
        }
    };
    let Some(process_slot) = hub.try_connect() else {
        refuse_connection(
            &hub,
            ws,
            ErrorCode::OverCapacity.code(),
            "Server is over capacity",
        )
        .await;
        return None;
    };
    let Some(app_slot) = hub.adapter.connect(&app).await else {
        let code = ErrorCode::OverConnectionQuota.code();
        refuse_connection(&hub, ws, code, "Application is over connection quota").await;
        return None;
    };
    let socket_id = SocketId::generate();
    let drops = hub.metrics.send_queue_drops.clone();
    let (handle, rx, closer) =
        ConnHandle::new(socket_id.clone(), hub.config.send_queue_frames, drops);
    let session = Session {
        activity_timeout: Duration::from_secs(hub.config.activity_timeout.into()),
        pong_timeout: Duration::from_secs(hub.config.pong_timeout.into()),
        signin_deadline: app
            .config
            .user_authentication_required
            .then(|| Instant::now() + Duration::from_secs(hub.config.signin_timeout.into())),
        rate: TokenBucket::new(
            app.config.limits.client_event_rate_per_second,
            Instant::now().into_std(),
        ),
        message_rate: TokenBucket::new(
            hub.config.max_messages_per_second,
            Instant::now().into_std(),
        ),
        hub,
        app,
        ws,
        handle,
        socket_id,
        channels: HashSet::new(),
        app_slot: Some(app_slot),
        user: None,
        last_seen: Instant::now(),
        ping_sent: None,
        _process_slot: process_slot,
    };
    Some((session, rx, closer))
}

async fn refuse_connection<S>(hub: &Hub, mut ws: WebSocket<S>, code: u16, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(code, reason, "refusing Pusher connection");
    error_and_close(hub, &mut ws, code, reason).await;
}

/// Sends `pusher:error` with `code` and `reason`, then closes the WebSocket
/// with the same code (the convention soketi and Reverb follow), and counts it.
async fn error_and_close<S>(hub: &Hub, ws: &mut WebSocket<S>, code: u16, reason: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    hub.metrics.count_close(code);
    let error = ServerMessage::Error {
        message: reason,
        code: ErrorCode::from_code(code),
    }
    .encode();
    let _ = ws.feed(Message::Text(error.to_text())).await;
    let _ = ws.close(CloseCode(code), reason).await;
}

struct Session<S> {
    hub: Arc<Hub>,
    app: Arc<AppState>,
    ws: WebSocket<S>,
    /// This connection, as channels see it.
    handle: ConnHandle,
    socket_id: SocketId,
    /// Channels this connection is subscribed to.
    channels: HashSet<String>,
    /// The connection's place in the app's quota, released at the end.
    app_slot: Option<ConnectionSlot>,
    /// The signed-in user, after `pusher:signin`.
    user: Option<UserData>,
    /// When the client last sent anything.
    last_seen: Instant,
    /// When we sent a `pusher:ping` that is not answered yet.
    ping_sent: Option<Instant>,
    activity_timeout: Duration,
    pong_timeout: Duration,
    /// Apps that require sign-in close connections that miss this deadline.
    signin_deadline: Option<Instant>,
    /// Client events allowed per second.
    rate: TokenBucket,
    /// Frames of any kind allowed per second.
    message_rate: TokenBucket,
    /// The connection's place under the process-wide limit, released when
    /// the session is dropped.
    _process_slot: ProcessSlot,
}

/// What ends a turn of the loop.
enum Step {
    Continue,
    Close(CloseOrder),
    End,
}

impl<S> Session<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async fn run(&mut self, mut rx: Outbox, closer: Arc<Closer>) {
        let established = ServerMessage::ConnectionEstablished {
            socket_id: &self.socket_id,
            activity_timeout: self.hub.config.activity_timeout,
        }
        .encode();
        self.send_now(&established).await;
        let mut shutdown = self.hub.shutdown_signal();
        if *shutdown.borrow_and_update() {
            closer.close(
                ErrorCode::ReconnectImmediately.code(),
                "Server is shutting down",
            );
        }
        // One timer for the connection's life, moved only when needed: a
        // later deadline (the client was active) is left for the timer to
        // find when it fires early, so a busy connection does not re-arm it
        // on every message.
        let mut timer = Box::pin(tokio::time::sleep_until(self.next_deadline()));
        loop {
            let deadline = self.next_deadline();
            if deadline < timer.deadline() || timer.is_elapsed() {
                timer.as_mut().reset(deadline);
            }
            let step = tokio::select! {
                biased;
                order = closer.closed() => Step::Close(order),
                _ = shutdown.changed() => Step::Close(CloseOrder {
                    code: ErrorCode::ReconnectImmediately.code(),
                    reason: "Server is shutting down".into(),
                }),
                frame = rx.recv() => self.write_queued(frame, &mut rx, &closer).await,
                message = self.ws.next() => match message {
                    None => Step::End,
                    // Boxed (as are `close` and `cleanup`): handling a
                    // message can await the adapter, and inline its state
                    // would be carried by every idle connection's task.
                    Some(Ok(message)) => Box::pin(self.on_message(message)).await,
                    Some(Err(e)) => {
                        tracing::debug!(socket_id = %self.socket_id, "connection error: {e}");
                        Step::Continue // the stream ends after reporting the close
                    }
                },
                () = timer.as_mut() => self.on_timer().await,
            };
            match step {
                Step::Continue => {}
                Step::End => break,
                Step::Close(order) => {
                    Box::pin(self.close(order)).await;
                    break;
                }
            }
        }
        Box::pin(self.cleanup()).await;
    }

    fn next_deadline(&self) -> Instant {
        let activity = match self.ping_sent {
            Some(sent) => sent + self.pong_timeout,
            None => self.last_seen + self.activity_timeout,
        };
        match self.signin_deadline {
            Some(signin) if self.user.is_none() => activity.min(signin),
            _ => activity,
        }
    }

    async fn on_timer(&mut self) -> Step {
        let now = Instant::now();
        if let Some(deadline) = self.signin_deadline {
            if self.user.is_none() && now >= deadline {
                return Step::Close(CloseOrder {
                    code: ErrorCode::Unauthorized.code(),
                    reason: "Connection not signed in within the time allowed".into(),
                });
            }
        }
        match self.ping_sent {
            Some(sent) if now >= sent + self.pong_timeout => Step::Close(CloseOrder {
                code: ErrorCode::PongNotReceived.code(),
                reason: "Pong reply not received".into(),
            }),
            None if now >= self.last_seen + self.activity_timeout => {
                self.ping_sent = Some(now);
                self.send_now(&ServerMessage::Ping.encode()).await;
                Step::Continue
            }
            _ => Step::Continue,
        }
    }

    /// Writes `first` and whatever else is queued, then flushes; a close
    /// order interrupts a flush that a slow client holds up.
    async fn write_queued(&mut self, first: Outbound, rx: &mut Outbox, closer: &Closer) -> Step {
        let mut frame = Some(first);
        let mut count = 0;
        while let Some(outbound) = frame.take() {
            self.hub
                .metrics
                .publish_to_send
                .observe(outbound.queued_at.elapsed());
            let f = outbound.frame;
            self.count_out(&f);
            if self.ws.feed(Message::Text(f.to_text())).await.is_err() {
                return Step::End;
            }
            count += 1;
            if count < WRITE_BATCH {
                frame = rx.try_recv();
            }
        }
        tokio::select! {
            biased;
            order = closer.closed() => Step::Close(order),
            result = self.ws.flush() => match result {
                Ok(()) => Step::Continue,
                Err(_) => Step::End,
            },
        }
    }

    fn count_out(&self, frame: &Encoded) {
        let metrics = &self.hub.metrics;
        metrics.messages_out.fetch_add(1, Ordering::Relaxed);
        metrics
            .bytes_out
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        self.app
            .counters
            .messages_out
            .fetch_add(1, Ordering::Relaxed);
        self.app
            .counters
            .bytes_out
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
    }

    /// Sends a reply to this client right away (not through the queue).
    async fn send_now(&mut self, frame: &Encoded) {
        self.count_out(frame);
        let _ = self.ws.send(Message::Text(frame.to_text())).await;
    }

    async fn send_error(&mut self, message: &str, code: Option<ErrorCode>) {
        self.send_now(&ServerMessage::Error { message, code }.encode())
            .await;
    }

    async fn close(&mut self, order: CloseOrder) {
        tracing::debug!(socket_id = %self.socket_id, code = order.code, reason = %order.reason, "closing connection");
        error_and_close(&self.hub, &mut self.ws, order.code, &order.reason).await;
    }

    async fn cleanup(&mut self) {
        for channel in std::mem::take(&mut self.channels) {
            self.hub
                .adapter
                .unsubscribe(&self.app, &self.socket_id, &channel)
                .await;
        }
        if let Some(user) = &self.user {
            self.app.remove_user_connection(&user.id, &self.socket_id);
        }
        if let Some(slot) = self.app_slot.take() {
            self.hub.adapter.disconnect(&self.app, slot).await;
        }
    }

    async fn on_message(&mut self, message: Message) -> Step {
        self.last_seen = Instant::now();
        self.ping_sent = None;
        if !self.message_rate.take(self.last_seen.into_std()) {
            return Step::Close(CloseOrder {
                code: ErrorCode::ClientEventRateLimited.code(),
                reason: format!(
                    "Too many messages: more than {} per second",
                    self.hub.config.max_messages_per_second
                ),
            });
        }
        match message {
            Message::Text(text) => {
                self.hub.metrics.messages_in.fetch_add(1, Ordering::Relaxed);
                self.hub
                    .metrics
                    .bytes_in
                    .fetch_add(text.len() as u64, Ordering::Relaxed);
                self.app
                    .counters
                    .messages_in
                    .fetch_add(1, Ordering::Relaxed);
                self.app
                    .counters
                    .bytes_in
                    .fetch_add(text.len() as u64, Ordering::Relaxed);
                self.on_text(&text).await
            }
            Message::Binary(_) => Step::Close(CloseOrder {
                code: CloseCode::UNSUPPORTED_DATA.0,
                reason: "Binary frames are not supported".into(),
            }),
            _ => Step::Continue,
        }
    }

    async fn on_text(&mut self, text: &str) -> Step {
        let message = match ClientMessage::parse(text) {
            Ok(message) => message,
            Err(e) => {
                // Reverb's convention: 4200 "Invalid message format"; the
                // connection stays open.
                self.send_error(&e.to_string(), Some(ErrorCode::ReconnectImmediately))
                    .await;
                return Step::Continue;
            }
        };
        match message {
            ClientMessage::Ping => self.send_now(&ServerMessage::Pong.encode()).await,
            ClientMessage::Pong => {}
            ClientMessage::Subscribe {
                channel,
                auth,
                channel_data,
            } => {
                self.subscribe(&channel, auth.as_deref(), channel_data.as_deref())
                    .await
            }
            ClientMessage::Unsubscribe { channel } => {
                if self.channels.remove(&channel) {
                    self.hub
                        .adapter
                        .unsubscribe(&self.app, &self.socket_id, &channel)
                        .await;
                }
            }
            ClientMessage::Signin { auth, user_data } => {
                return self.signin(&auth, &user_data).await
            }
            ClientMessage::ClientEvent {
                event,
                channel,
                data,
            } => self.client_event(&event, &channel, data.as_deref()).await,
        }
        Step::Continue
    }

    async fn subscription_error(
        &mut self,
        channel: &str,
        error_type: &str,
        error: &str,
        status: u16,
    ) {
        let frame = ServerMessage::SubscriptionError {
            channel,
            error_type,
            error,
            status,
        }
        .encode();
        self.send_now(&frame).await;
    }

    async fn subscribe(&mut self, channel: &str, token: Option<&str>, channel_data: Option<&str>) {
        let max_channels = self.hub.config.max_channels_per_connection;
        if self.channels.len() >= max_channels && !self.channels.contains(channel) {
            let error =
                format!("A connection may be subscribed to at most {max_channels} channels");
            return self
                .subscription_error(channel, "LimitReached", &error, 403)
                .await;
        }
        let limits = &self.app.config.limits;
        let kind = match channel::validate_name(channel, limits.max_channel_name_length) {
            Ok(kind) => kind,
            Err(e) => {
                return self
                    .subscription_error(channel, "InvalidChannel", &e.to_string(), 400)
                    .await
            }
        };
        if kind == ChannelKind::ServerToUser {
            let owner = channel::server_to_user_id(channel);
            if self.user.as_ref().map(|u| u.id.as_str()) != owner || owner.is_none() {
                return self
                    .subscription_error(
                        channel,
                        "AuthError",
                        "Sign in as this user to subscribe to their channel",
                        401,
                    )
                    .await;
            }
        } else if let Err(e) = auth::authorize_subscription(
            self.app.config.credentials(),
            kind,
            &self.socket_id,
            channel,
            token,
            channel_data,
        ) {
            return self
                .subscription_error(channel, "AuthError", &e.to_string(), 401)
                .await;
        }
        let member = match (kind.is_presence(), channel_data) {
            (true, Some(data)) => {
                match PresenceMember::parse(data, limits.max_presence_user_info_bytes) {
                    Ok(member) => Some(member),
                    Err(e) => {
                        return self
                            .subscription_error(channel, "AuthError", &e.to_string(), 400)
                            .await
                    }
                }
            }
            _ => None,
        };
        let subscribed = self
            .hub
            .adapter
            .subscribe(&self.app, &self.handle, channel, kind, member)
            .await;
        match subscribed {
            Ok(()) => {
                self.channels.insert(channel.to_string());
            }
            Err(SubscribeError::Presence(e)) => {
                self.subscription_error(channel, "LimitReached", &e.to_string(), 403)
                    .await;
            }
        }
    }

    async fn signin(&mut self, token: &str, user_data: &str) -> Step {
        let credentials = self.app.config.credentials();
        let limit = self.app.config.limits.max_presence_user_info_bytes;
        let user = auth::verify_user(credentials, token, &self.socket_id, user_data)
            .map_err(|e| e.to_string())
            .and_then(|()| UserData::parse(user_data, limit).map_err(|e| e.to_string()));
        match user {
            Ok(user) => {
                if let Some(previous) = self.user.take() {
                    self.app
                        .remove_user_connection(&previous.id, &self.socket_id);
                }
                self.app.add_user_connection(&user.id, &self.handle);
                self.user = Some(user);
                self.send_now(&ServerMessage::SigninSuccess { user_data }.encode())
                    .await;
                Step::Continue
            }
            Err(reason) => Step::Close(CloseOrder {
                code: ErrorCode::Unauthorized.code(),
                reason: format!("Sign-in failed: {reason}"),
            }),
        }
    }

    async fn client_event(&mut self, event: &str, channel: &str, data: Option<&str>) {
        let rejected = |why: &str| why.to_string();
        let limits = &self.app.config.limits;
        let kind = ChannelKind::of(channel);
        let refusal = if !self.app.config.client_events {
            Some(rejected("Client events are not enabled for this app"))
        } else if !kind.allows_client_events() {
            Some(rejected(
                "Client events are only allowed on private and presence channels",
            ))
        } else if !self.channels.contains(channel) {
            Some(format!(
                "Subscribe to {channel} before sending client events on it"
            ))
        } else if event.len() > limits.max_event_name_length {
            Some(format!(
                "Event name is longer than {} bytes",
                limits.max_event_name_length
            ))
        } else if data.map_or(0, str::len) > limits.max_event_payload_bytes {
            Some(format!(
                "Event data is larger than {} bytes",
                limits.max_event_payload_bytes
            ))
        } else if !self.rate.take(Instant::now().into_std()) {
            Some(rejected("Client event rejected due to rate limit"))
        } else {
            None
        };
        if let Some(reason) = refusal {
            return self
                .send_error(&reason, Some(ErrorCode::ClientEventRateLimited))
                .await;
        }
        let user_id = if kind.is_presence() {
            self.app.presence_user(channel, &self.socket_id)
        } else {
            None
        };
        let frame = ServerMessage::ChannelEvent {
            event,
            channel,
            data,
            user_id: user_id.as_deref(),
        }
        .encode();
        self.hub
            .adapter
            .publish(&self.app, channel, &frame, Some(&self.socket_id))
            .await;
        self.app.webhook(WebhookEventData::client_event(
            channel,
            event,
            data,
            self.socket_id.as_str(),
            user_id.as_deref(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_versions() {
        assert!(
            ConnectQuery::parse(Some("protocol=7&client=js&version=8.4.0"))
                .check()
                .is_ok()
        );
        assert_eq!(
            ConnectQuery::parse(Some("client=js"))
                .check()
                .unwrap_err()
                .0,
            ErrorCode::NoProtocolVersion
        );
        assert_eq!(
            ConnectQuery::parse(Some("protocol=3"))
                .check()
                .unwrap_err()
                .0,
            ErrorCode::UnsupportedProtocolVersion
        );
        assert_eq!(
            ConnectQuery::parse(None).check().unwrap_err().0,
            ErrorCode::NoProtocolVersion
        );
    }
}
