//! The demo pages served at `/` when `demo` is on (the default): a live
//! leaderboard and a chat, both built on pusher-js and this server.
//!
//! The demos use the first configured app. Their server side is a tiny
//! "app backend" living in the server itself, with the two jobs a real
//! backend has: it signs subscriptions (with the app secret, which never
//! reaches the browser) and it publishes events, through the same
//! [`AppState::publish`] the HTTP API uses.
//!
//! | route | what |
//! |---|---|
//! | `GET /`, `/leaderboard`, `/chat`, `/assets/…` | pages and assets ([`assets`]) |
//! | `POST /demo/auth` | signs a demo presence channel: `{socket_id, channel_name, user_id, name}` → `{auth, channel_data}` |
//! | `POST /demo/user-auth` | signs a user sign-in: `{socket_id, user_id, name}` → `{auth, user_data}` |
//! | `GET /demo/leaderboard/board` | the top ranks and the board's version |
//! | `POST /demo/leaderboard/score` | `{name, points}`: records, publishes `board` on `presence-leaderboard` |
//! | `GET /demo/chat/history?room=` | the room's last 50 messages |
//! | `POST /demo/chat/message` | `{room, socket_id, name, text}`: records, publishes `message` on `presence-chat-{room}` |
//!
//! Every input is validated and bounded: names of 1 to 32 characters
//! without control characters, demo channels and `demo-` user ids only (so
//! the endpoints cannot mint tokens for the app's other channels or users),
//! 4 KiB bodies, JSON only (a cross-site form cannot post), a rate limit per
//! client address, a bounded board, bounded rooms and histories. A chat
//! message is accepted only from a socket that is in the room's presence
//! channel, and carries the user id the server knows for it. Turn the demo
//! off (`demo = false`, `duplex serve --no-demo`) on a server that hosts
//! real apps.

mod assets;
mod chat;
mod input;
mod leaderboard;
mod limiter;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use duplex_pusher::auth::{self, SocketId};
use duplex_pusher::protocol::ServerMessage;

use super::app_state::AppState;
use super::http::{json_error, Response};
use super::hub::Hub;

pub use input::{validate_line, validate_name, validate_user_id, InputError};

use chat::Rooms;
use input::query_param;
use leaderboard::Board;
use limiter::Limiter;

/// The leaderboard's presence channel: updates and the viewer count.
pub const LEADERBOARD_CHANNEL: &str = "presence-leaderboard";
/// Bytes of a request body.
pub const MAX_BODY_BYTES: usize = 4096;

/// The demos' state on this server: the leaderboard, the chat histories
/// and the rate limit.
#[derive(Debug, Default)]
pub struct Demo {
    /// The leaderboard. Publishing happens under this lock, so pages get
    /// the updates in version order.
    board: Mutex<Board>,
    /// Chat histories; publishing happens under this lock too.
    rooms: Mutex<Rooms>,
    /// Requests per client address on the POST endpoints.
    limiter: Mutex<Limiter>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves a demo page, asset or endpoint.
pub async fn handle(hub: Arc<Hub>, req: http::Request<Incoming>, peer: SocketAddr) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().as_str().to_string();
    let app = demo_app(&hub);
    if matches!(method.as_str(), "GET" | "HEAD") {
        let if_none_match = req
            .headers()
            .get(http::header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok());
        if let Some(response) = assets::serve(&path, app.map(|a| &a.config), if_none_match) {
            return response;
        }
    }
    let is_endpoint = |p: &str| {
        matches!(
            p,
            "/demo/auth" | "/demo/user-auth" | "/demo/leaderboard/score" | "/demo/chat/message"
        )
    };
    let result = match (method.as_str(), path.as_str()) {
        ("GET", "/demo/leaderboard/board") => board(&hub, req.uri().query()),
        ("GET", "/demo/chat/history") => history(&hub, req.uri().query()),
        ("POST", p) if is_endpoint(p) => post(&hub, app, req, peer).await,
        (_, p) if is_endpoint(p) => Err((405, "use POST".into())),
        (_, p)
            if p == "/demo/leaderboard/board" || p == "/demo/chat/history" || assets::exists(p) =>
        {
            Err((405, "use GET".into()))
        }
        _ => Err((404, "not found".into())),
    };
    let mut response = match result {
        Ok(value) => json(200, value),
        Err((status, message)) => json_error(status, &message),
    };
    assets::secure(response.headers_mut());
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}

/// An error answer: the status and the message.
type Refusal = (u16, String);

fn json(status: u16, value: serde_json::Value) -> Response {
    super::http::json(status, Bytes::from(value.to_string()))
}

/// The first configured app, which the demo uses.
fn demo_app(hub: &Hub) -> Option<&Arc<AppState>> {
    hub.config
        .apps
        .first()
        .and_then(|app| hub.app_by_id(&app.id))
}

async fn post(
    hub: &Hub,
    app: Option<&Arc<AppState>>,
    req: http::Request<Incoming>,
    peer: SocketAddr,
) -> Result<serde_json::Value, Refusal> {
    if !lock(&hub.demo.limiter).allow(peer.ip(), Instant::now()) {
        return Err((429, "too many requests: slow down".into()));
    }
    let app = app
        .filter(|a| a.config.enabled)
        .ok_or_else(|| (503, "the demo app is disabled".to_string()))?;
    let path = req.uri().path().to_string();
    let is_json = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if !is_json {
        return Err((415, "send JSON with Content-Type: application/json".into()));
    }
    let body = match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err((
                413,
                format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            ))
        }
        Err(e) => return Err((400, format!("could not read the body: {e}"))),
    };
    match path.as_str() {
        "/demo/auth" => channel_auth(app, parse(&body)?),
        "/demo/user-auth" => user_auth(app, parse(&body)?),
        "/demo/leaderboard/score" => score(hub, app, parse(&body)?),
        _ => message(hub, app, parse(&body)?),
    }
}

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| (400, format!("invalid JSON body: {e}")))
}

fn bad(e: InputError) -> Refusal {
    (400, e.to_string())
}

fn socket_id(text: &str) -> Result<SocketId, Refusal> {
    SocketId::parse(text).map_err(|e| (400, e.to_string()))
}

/// `POST /demo/auth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelAuthRequest {
    socket_id: String,
    channel_name: String,
    user_id: String,
    name: String,
}

/// Signs a subscription to one of the demo's presence channels, with
/// `user_info = {name}`.
fn channel_auth(app: &AppState, req: ChannelAuthRequest) -> Result<serde_json::Value, Refusal> {
    let socket_id = socket_id(&req.socket_id)?;
    let channel = req.channel_name.as_str();
    if channel != LEADERBOARD_CHANNEL && chat::room_of(channel).is_none() {
        return Err((
            403,
            format!("the demo only signs {LEADERBOARD_CHANNEL} and presence-chat-{{room}}"),
        ));
    }
    let user_id = validate_user_id(&req.user_id).map_err(bad)?;
    let name = validate_name(&req.name).map_err(bad)?;
    let channel_data = json!({ "user_id": user_id, "user_info": { "name": name } }).to_string();
    let token = auth::channel_token(
        app.config.credentials(),
        &socket_id,
        channel,
        Some(&channel_data),
    );
    Ok(json!({ "auth": token, "channel_data": channel_data }))
}

/// `POST /demo/user-auth`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserAuthRequest {
    socket_id: String,
    user_id: String,
    name: String,
}

/// Signs a `pusher:signin` for a demo user (so that the HTTP API can reach
/// the page's connections by user, e.g. `terminate_connections`).
fn user_auth(app: &AppState, req: UserAuthRequest) -> Result<serde_json::Value, Refusal> {
    let socket_id = socket_id(&req.socket_id)?;
    let user_id = validate_user_id(&req.user_id).map_err(bad)?;
    let name = validate_name(&req.name).map_err(bad)?;
    let user_data = json!({ "id": user_id, "user_info": { "name": name } }).to_string();
    let token = auth::user_token(app.config.credentials(), &socket_id, &user_data);
    Ok(json!({ "auth": token, "user_data": user_data }))
}

/// `GET /demo/leaderboard/board[?name=]`: the top ranks, and with a name,
/// that player's rank and score as `me` (`null` when not on the board).
fn board(hub: &Hub, query: Option<&str>) -> Result<serde_json::Value, Refusal> {
    let name = query_param(query, "name");
    let name = name
        .as_deref()
        .map(validate_name)
        .transpose()
        .map_err(bad)?;
    let board = lock(&hub.demo.board);
    let mut value = serde_json::to_value(board.snapshot(None)).unwrap_or_default();
    if let Some(name) = name {
        value["me"] = match board.rank(name) {
            Some(rank) => {
                json!({ "name": name, "rank": rank, "score": board.players()[rank - 1].score })
            }
            None => serde_json::Value::Null,
        };
    }
    Ok(value)
}

/// `POST /demo/leaderboard/score`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScoreRequest {
    name: String,
    points: u32,
}

/// Records points and publishes the new board to every page.
fn score(hub: &Hub, app: &AppState, req: ScoreRequest) -> Result<serde_json::Value, Refusal> {
    let name = validate_name(&req.name).map_err(bad)?;
    let mut board = lock(&hub.demo.board);
    let change = board
        .score(name, req.points)
        .map_err(|e| (400, e.to_string()))?;
    let update = serde_json::to_value(board.snapshot(Some(&change))).unwrap_or_default();
    if change.rank.is_some() {
        publish(app, LEADERBOARD_CHANNEL, "board", &update.to_string());
    }
    Ok(update)
}

/// `GET /demo/chat/history?room=`.
fn history(hub: &Hub, query: Option<&str>) -> Result<serde_json::Value, Refusal> {
    let room = query_param(query, "room").ok_or_else(|| (400, "missing ?room=".to_string()))?;
    let room = chat::validate_room(&room).map_err(bad)?;
    let rooms = lock(&hub.demo.rooms);
    let messages: Vec<_> = rooms.history(room).collect();
    Ok(json!({ "room": room, "messages": messages }))
}

/// `POST /demo/chat/message`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRequest {
    room: String,
    socket_id: String,
    name: String,
    text: String,
}

/// Records a message from a member of the room and publishes it.
fn message(hub: &Hub, app: &AppState, req: MessageRequest) -> Result<serde_json::Value, Refusal> {
    let room = chat::validate_room(&req.room).map_err(bad)?;
    let name = validate_name(&req.name).map_err(bad)?;
    let text = chat::validate_text(&req.text).map_err(bad)?;
    let socket_id = socket_id(&req.socket_id)?;
    let channel = format!("{}{room}", chat::CHANNEL_PREFIX);
    let user_id = app
        .presence_user(&channel, &socket_id)
        .ok_or_else(|| (403, format!("join the room first: subscribe to {channel}")))?;
    let at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut rooms = lock(&hub.demo.rooms);
    let message = rooms.post(chat::Post {
        room,
        user_id: &user_id,
        name,
        text,
        at,
    });
    let value = serde_json::to_value(&message).unwrap_or_default();
    publish(app, &channel, "message", &value.to_string());
    Ok(value)
}

/// Publishes an event as the HTTP API does, to this node's subscribers: the
/// demo keeps its board and histories in this process (a cluster deployment
/// would publish through `hub.adapter` and share the board).
fn publish(app: &AppState, channel: &str, event: &str, data: &str) {
    let frame = ServerMessage::ChannelEvent {
        event,
        channel,
        data: Some(data),
        user_id: None,
    }
    .encode();
    app.publish(channel, &frame, None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use duplex_pusher::AppConfig;

    fn app() -> AppState {
        AppState::new(
            AppConfig::new("1", "278d425bdf160c739803", "7ad3773142a6692b25b8"),
            None,
            64,
        )
    }

    #[test]
    fn signs_demo_presence_channels_only() {
        let request = |channel: &str| ChannelAuthRequest {
            socket_id: "1234.1234".into(),
            channel_name: channel.into(),
            user_id: "demo-1".into(),
            name: "Mr. Channels".into(),
        };
        let signed = channel_auth(&app(), request("presence-leaderboard")).unwrap();
        let channel_data = signed["channel_data"].as_str().unwrap();
        assert_eq!(
            channel_data,
            r#"{"user_id":"demo-1","user_info":{"name":"Mr. Channels"}}"#
        );
        let token = signed["auth"].as_str().unwrap();
        let credentials = duplex_pusher::auth::Credentials {
            key: "278d425bdf160c739803",
            secret: "7ad3773142a6692b25b8",
        };
        let socket = SocketId::parse("1234.1234").unwrap();
        auth::verify_channel(
            credentials,
            token,
            &socket,
            "presence-leaderboard",
            Some(channel_data),
        )
        .unwrap();
        assert!(channel_auth(&app(), request("presence-chat-lobby")).is_ok());
        for other in [
            "private-payments",
            "presence-admins",
            "presence-chat-Lobby",
            "presence-chat-",
        ] {
            assert_eq!(
                channel_auth(&app(), request(other)).unwrap_err().0,
                403,
                "{other}"
            );
        }
        let mut bad = request("presence-leaderboard");
        bad.user_id = "admin".into();
        assert_eq!(channel_auth(&app(), bad).unwrap_err().0, 400);
        let mut bad = request("presence-leaderboard");
        bad.socket_id = "1234".into();
        assert_eq!(channel_auth(&app(), bad).unwrap_err().0, 400);
    }

    #[test]
    fn signs_demo_users() {
        let request = UserAuthRequest {
            socket_id: "1.2".into(),
            user_id: "demo-7".into(),
            name: "Ann".into(),
        };
        let signed = user_auth(&app(), request).unwrap();
        let user_data = signed["user_data"].as_str().unwrap();
        let credentials = app().config.clone();
        let socket = SocketId::parse("1.2").unwrap();
        auth::verify_user(
            credentials.credentials(),
            signed["auth"].as_str().unwrap(),
            &socket,
            user_data,
        )
        .unwrap();
        assert_eq!(
            duplex_pusher::auth::UserData::parse(user_data, 1024)
                .unwrap()
                .id,
            "demo-7"
        );
    }

    /// A hub with the default demo app, and a socket in `channel` as `user_id`.
    fn hub_with_member(
        channel: &str,
        user_id: &str,
    ) -> (Arc<Hub>, SocketId, super::super::conn::Outbox) {
        let mut config = crate::ServerConfig::default();
        config
            .apps
            .push(AppConfig::new("duplex", "duplex-key", "secret"));
        let apps = config.validate().unwrap();
        let hub = Hub::new(config, &apps).unwrap();
        let socket_id = SocketId::parse("1.1").unwrap();
        let (conn, rx, _closer) =
            super::super::conn::ConnHandle::new(socket_id.clone(), 16, Default::default());
        let data = json!({ "user_id": user_id, "user_info": { "name": "Ann" } }).to_string();
        let member = duplex_pusher::auth::PresenceMember::parse(&data, 1024).unwrap();
        let app = demo_app(&hub).unwrap();
        app.subscribe(
            &conn,
            channel,
            duplex_pusher::ChannelKind::Presence,
            Some(member),
        )
        .unwrap();
        (hub, socket_id, rx)
    }

    fn events(rx: &mut super::super::conn::Outbox) -> Vec<serde_json::Value> {
        std::iter::from_fn(|| rx.try_recv())
            .map(|outbound| serde_json::from_str(outbound.frame.as_str()).unwrap())
            .collect()
    }

    #[test]
    fn a_score_is_published_to_the_leaderboard_channel() {
        let (hub, _, mut rx) = hub_with_member(LEADERBOARD_CHANNEL, "demo-1");
        let app = demo_app(&hub).unwrap().clone();
        events(&mut rx); // subscription_succeeded
        let request = ScoreRequest {
            name: "  Ann ".into(),
            points: 7,
        };
        let reply = score(&hub, &app, request).unwrap();
        assert_eq!(reply["change"]["name"], "Ann", "names are trimmed");
        let sent = events(&mut rx);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["event"], "board");
        assert_eq!(sent[0]["channel"], LEADERBOARD_CHANNEL);
        let data: serde_json::Value =
            serde_json::from_str(sent[0]["data"].as_str().unwrap()).unwrap();
        assert_eq!(
            data, reply,
            "the page that scored and the others render the same snapshot"
        );
        assert_eq!(data["top"][0]["score"], 7);
        let bad = ScoreRequest {
            name: "Ann".into(),
            points: 0,
        };
        assert_eq!(score(&hub, &app, bad).unwrap_err().0, 400);
        assert!(
            events(&mut rx).is_empty(),
            "nothing is published for a refused score"
        );
        assert_eq!(board(&hub, Some("name=Ann")).unwrap()["me"]["score"], 7);
        assert_eq!(
            board(&hub, Some("name=Bob")).unwrap()["me"],
            serde_json::Value::Null
        );
    }

    #[test]
    fn chat_messages_come_from_members_of_the_room() {
        let (hub, socket_id, mut rx) = hub_with_member("presence-chat-lobby", "demo-ann");
        let app = demo_app(&hub).unwrap().clone();
        events(&mut rx);
        let request = |room: &str, socket: &str| MessageRequest {
            room: room.into(),
            socket_id: socket.into(),
            name: "Ann".into(),
            text: "<b>hi</b>".into(),
        };
        let reply = message(&hub, &app, request("lobby", socket_id.as_str())).unwrap();
        assert_eq!(
            reply["user_id"], "demo-ann",
            "the user id is the server's, not the request's"
        );
        assert_eq!(reply["text"], "<b>hi</b>");
        let sent = events(&mut rx);
        assert_eq!((sent.len(), &sent[0]["event"]), (1, &json!("message")));
        assert_eq!(
            message(&hub, &app, request("lobby", "9.9")).unwrap_err().0,
            403,
            "not in the room"
        );
        assert_eq!(
            message(&hub, &app, request("rust", socket_id.as_str()))
                .unwrap_err()
                .0,
            403,
            "in another room"
        );
        let history = history(&hub, Some("room=lobby")).unwrap();
        assert_eq!(history["messages"].as_array().unwrap().len(), 1);
        assert_eq!(history["messages"][0], reply);
    }

    #[test]
    fn requests_reject_unknown_fields() {
        let body = Bytes::from_static(br#"{"name":"ann","points":5,"admin":true}"#);
        assert_eq!(parse::<ScoreRequest>(&body).unwrap_err().0, 400);
        let body = Bytes::from_static(br#"{"name":"ann","points":-5}"#);
        assert_eq!(parse::<ScoreRequest>(&body).unwrap_err().0, 400);
        let body = Bytes::from_static(br#"{"name":"ann","points":5}"#);
        assert_eq!(parse::<ScoreRequest>(&body).unwrap().points, 5);
    }
}
