//! The server end to end, over real sockets on 127.0.0.1: every error code,
//! limit and bad input of the Pusher protocol and the HTTP API.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use duplex::{Message, WebSocket};
use duplex_hub::{Server, ServerConfig};
use duplex_pusher::api_auth::ApiRequest;
use duplex_pusher::auth::{channel_token, Credentials, SocketId};
use duplex_pusher::protocol::ServerMessage;
use duplex_pusher::AppConfig;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use tokio::sync::oneshot;

const KEY: &str = "app-key";
const SECRET: &str = "app-secret";
const WAIT: Duration = Duration::from_secs(5);

type Ws = WebSocket<duplex::MaybeTlsStream>;

struct TestServer {
    addr: std::net::SocketAddr,
    hub: std::sync::Arc<duplex_hub::Hub>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut app = AppConfig::new("1", KEY, SECRET);
        app.client_events = true;
        let mut config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            apps: vec![app],
            ..ServerConfig::default()
        };
        configure(&mut config);
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr().unwrap();
        let hub = server.hub().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run(
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(3),
        ));
        TestServer {
            addr,
            hub,
            stop: Some(stop),
            done,
        }
    }

    async fn connect_raw(&self, path: &str) -> Ws {
        let url = format!("ws://{}{path}", self.addr);
        duplex::connect(&url).await.expect("connect").0
    }

    /// Connects to the app and returns the socket and its socket id.
    async fn connect(&self) -> (Ws, SocketId) {
        let mut ws = self
            .connect_raw(&format!("/app/{KEY}?protocol=7&client=js&version=8.4.0"))
            .await;
        let established = next_json(&mut ws).await;
        assert_eq!(established["event"], "pusher:connection_established");
        let data: Value = serde_json::from_str(established["data"].as_str().unwrap()).unwrap();
        assert!(data["activity_timeout"].as_u64().unwrap() > 0);
        let socket_id = SocketId::parse(data["socket_id"].as_str().unwrap()).unwrap();
        (ws, socket_id)
    }

    async fn api(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.api_signed(method, path, params, body, SECRET, now)
            .await
    }

    async fn api_signed(
        &self,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: &str,
        secret: &str,
        timestamp: u64,
    ) -> (u16, Value) {
        let credentials = Credentials { key: KEY, secret };
        let query = ApiRequest::signed_query(
            credentials,
            method,
            path,
            params,
            body.as_bytes(),
            timestamp,
        );
        self.http(method, &format!("{path}?{query}"), body).await
    }

    async fn http(&self, method: &str, path_and_query: &str, body: &str) -> (u16, Value) {
        let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path_and_query}", self.addr))
            .header("Content-Type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = tokio::time::timeout(WAIT, client.request(request))
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, value)
    }

    async fn publish(&self, channel: &str, event: &str, data: &str) -> (u16, Value) {
        let body = json!({ "name": event, "channel": channel, "data": data }).to_string();
        self.api("POST", "/apps/1/events", &[], &body).await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(WAIT, &mut self.done).await;
    }
}

async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

/// The next text frame as JSON (pings and pongs skipped).
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for a message")
            .expect("connection ended")
            .expect("connection error");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("unexpected close {frame:?}"),
            _ => continue,
        }
    }
}

/// Reads until the close frame, returning its code (and the frames before it).
async fn close_code(ws: &mut Ws) -> (u16, Vec<Value>) {
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for close")
        {
            Some(Ok(Message::Text(text))) => seen.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(Some(frame)))) => return (frame.code.0, seen),
            Some(Ok(Message::Close(None))) => return (1005, seen),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error before close: {e}"),
            None => panic!("ended without a close frame"),
        }
    }
}

fn data_of(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    }
}

async fn subscribe(
    ws: &mut Ws,
    channel: &str,
    auth: Option<String>,
    channel_data: Option<&str>,
) -> Value {
    let mut data = json!({ "channel": channel });
    if let Some(auth) = auth {
        data["auth"] = json!(auth);
    }
    if let Some(cd) = channel_data {
        data["channel_data"] = json!(cd);
    }
    send_json(ws, json!({ "event": "pusher:subscribe", "data": data })).await;
    next_json(ws).await
}

fn creds() -> Credentials<'static> {
    Credentials {
        key: KEY,
        secret: SECRET,
    }
}

#[tokio::test]
async fn connection_refusals_use_the_protocol_codes() {
    let server = TestServer::start(|c| {
        c.apps.push(AppConfig {
            enabled: false,
            ..AppConfig::new("2", "off-key", "s")
        });
        c.apps[0].limits.max_connections = 1;
    })
    .await;
    let cases = [
        ("/app/nope?protocol=7", 4001),
        ("/app/off-key?protocol=7", 4003),
        (&format!("/app/{KEY}") as &str, 4008),
        (&format!("/app/{KEY}?protocol=3") as &str, 4007),
    ];
    for (path, code) in cases {
        let mut ws = server.connect_raw(path).await;
        let (got, frames) = close_code(&mut ws).await;
        assert_eq!(got, code, "{path}");
        assert_eq!(frames[0]["event"], "pusher:error");
        assert_eq!(frames[0]["data"]["code"], code);
    }
    // The app allows one connection: the second is over quota (4004).
    let (_first, _) = server.connect().await;
    let mut second = server.connect_raw(&format!("/app/{KEY}?protocol=7")).await;
    assert_eq!(close_code(&mut second).await.0, 4004);
    server.stop().await;
}

#[tokio::test]
async fn bad_messages_get_errors_and_the_connection_stays_open() {
    let server = TestServer::start(|_| {}).await;
    let (mut ws, _) = server.connect().await;
    for bad in [
        "not json",
        "{\"data\":{}}",
        "{\"event\":\"pusher:bogus\",\"data\":{}}",
        "[1,2]",
    ] {
        ws.send(Message::text(bad)).await.unwrap();
        let error = next_json(&mut ws).await;
        assert_eq!(error["event"], "pusher:error", "{bad}");
        assert_eq!(error["data"]["code"], 4200, "{bad}");
    }
    send_json(&mut ws, json!({"event": "pusher:ping", "data": {}})).await;
    assert_eq!(next_json(&mut ws).await["event"], "pusher:pong");
    // Binary frames are not part of the protocol.
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_code(&mut ws).await.0, 1003);
    server.stop().await;
}

#[tokio::test]
async fn subscription_rules() {
    let server = TestServer::start(|c| c.apps[0].limits.max_presence_members = 1).await;
    let (mut ws, socket_id) = server.connect().await;
    let reply = subscribe(&mut ws, "bad name!", None, None).await;
    assert_eq!(reply["event"], "pusher:subscription_error");
    assert_eq!(data_of(&reply)["status"], 400);
    let reply = subscribe(
        &mut ws,
        "private-x",
        Some(format!("{KEY}:{}", "0".repeat(64))),
        None,
    )
    .await;
    assert_eq!(reply["event"], "pusher:subscription_error");
    assert_eq!(data_of(&reply)["status"], 401);
    let reply = subscribe(
        &mut ws,
        "private-x",
        Some(channel_token(creds(), &socket_id, "private-x", None)),
        None,
    )
    .await;
    assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    // Subscribing twice answers again and counts once.
    let reply = subscribe(
        &mut ws,
        "private-x",
        Some(channel_token(creds(), &socket_id, "private-x", None)),
        None,
    )
    .await;
    assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    let (status, body) = server
        .api(
            "GET",
            "/apps/1/channels/private-x",
            &[("info", "subscription_count")],
            "",
        )
        .await;
    assert_eq!(
        (status, body),
        (200, json!({"occupied": true, "subscription_count": 1}))
    );
    // Presence: the member limit (1 user) refuses a second user.
    let data = r#"{"user_id":"u1","user_info":{"name":"Ann"}}"#;
    let token = channel_token(creds(), &socket_id, "presence-p", Some(data));
    let reply = subscribe(&mut ws, "presence-p", Some(token), Some(data)).await;
    assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(data_of(&reply)["presence"]["count"], 1);
    let (mut other, other_id) = server.connect().await;
    let data2 = r#"{"user_id":"u2"}"#;
    let token = channel_token(creds(), &other_id, "presence-p", Some(data2));
    let reply = subscribe(&mut other, "presence-p", Some(token), Some(data2)).await;
    assert_eq!(reply["event"], "pusher:subscription_error");
    assert_eq!(data_of(&reply)["type"], "LimitReached");
    // A server-to-user channel needs a signed-in user.
    let reply = subscribe(&mut ws, "#server-to-user-u1", None, None).await;
    assert_eq!(data_of(&reply)["status"], 401);
    server.stop().await;
}

#[tokio::test]
async fn channels_per_connection_are_limited() {
    let server = TestServer::start(|c| c.max_channels_per_connection = 3).await;
    let (mut ws, _) = server.connect().await;
    for i in 0..3 {
        let reply = subscribe(&mut ws, &format!("c{i}"), None, None).await;
        assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    }
    let reply = subscribe(&mut ws, "c3", None, None).await;
    assert_eq!(reply["event"], "pusher:subscription_error");
    assert_eq!(data_of(&reply)["type"], "LimitReached");
    // Leaving one makes room again.
    send_json(
        &mut ws,
        json!({"event": "pusher:unsubscribe", "data": {"channel": "c0"}}),
    )
    .await;
    let reply = subscribe(&mut ws, "c3", None, None).await;
    assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    server.stop().await;
}

#[tokio::test]
async fn presence_join_and_leave() {
    let server = TestServer::start(|_| {}).await;
    let join = |socket_id: SocketId, user: &'static str| {
        let data = format!(r#"{{"user_id":"{user}","user_info":{{"name":"{user}"}}}}"#);
        (
            channel_token(creds(), &socket_id, "presence-room", Some(&data)),
            data,
        )
    };
    let (mut a, a_id) = server.connect().await;
    let (token, data) = join(a_id, "ann");
    subscribe(&mut a, "presence-room", Some(token), Some(&data)).await;
    let (mut b, b_id) = server.connect().await;
    let (token, data) = join(b_id, "bob");
    let reply = subscribe(&mut b, "presence-room", Some(token), Some(&data)).await;
    assert_eq!(data_of(&reply)["presence"]["count"], 2);
    let added = next_json(&mut a).await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(data_of(&added)["user_id"], "bob");
    // A second socket of bob: no member_added.
    let (mut b2, b2_id) = server.connect().await;
    let (token, data) = join(b2_id, "bob");
    subscribe(&mut b2, "presence-room", Some(token), Some(&data)).await;
    let (status, users) = server
        .api("GET", "/apps/1/channels/presence-room/users", &[], "")
        .await;
    assert_eq!(status, 200);
    assert_eq!(users["users"].as_array().unwrap().len(), 2);
    drop(b2);
    drop(b);
    let removed = next_json(&mut a).await;
    assert_eq!(
        removed["event"], "pusher_internal:member_removed",
        "one removal, after bob's last socket"
    );
    assert_eq!(data_of(&removed)["user_id"], "bob");
    let (_, info) = server
        .api(
            "GET",
            "/apps/1/channels/presence-room",
            &[("info", "user_count")],
            "",
        )
        .await;
    assert_eq!(info["user_count"], 1);
    server.stop().await;
}

#[tokio::test]
async fn client_events_rules_and_rate_limit() {
    let server = TestServer::start(|c| c.apps[0].limits.client_event_rate_per_second = 3).await;
    let (mut a, a_id) = server.connect().await;
    let (mut b, b_id) = server.connect().await;
    subscribe(
        &mut a,
        "private-c",
        Some(channel_token(creds(), &a_id, "private-c", None)),
        None,
    )
    .await;
    subscribe(
        &mut b,
        "private-c",
        Some(channel_token(creds(), &b_id, "private-c", None)),
        None,
    )
    .await;
    subscribe(&mut a, "public", None, None).await;
    // Not on public channels, not on unsubscribed ones, not too big.
    for (channel, data) in [
        ("public", "x".to_string()),
        ("private-other", "x".to_string()),
        ("private-c", "x".repeat(20_000)),
    ] {
        send_json(
            &mut a,
            json!({"event": "client-hi", "channel": channel, "data": data}),
        )
        .await;
        let error = next_json(&mut a).await;
        assert_eq!(error["event"], "pusher:error", "{channel}");
        assert_eq!(error["data"]["code"], 4301);
    }
    // Delivered to the other subscriber, not echoed; the 4th within a second is refused.
    for i in 0..4 {
        send_json(
            &mut a,
            json!({"event": "client-hi", "channel": "private-c", "data": {"i": i}}),
        )
        .await;
    }
    for i in 0..3 {
        let got = next_json(&mut b).await;
        assert_eq!(got["event"], "client-hi");
        assert_eq!(data_of(&got)["i"], i);
    }
    let error = next_json(&mut a).await;
    assert_eq!(error["data"]["code"], 4301);
    assert!(error["data"]["message"]
        .as_str()
        .unwrap()
        .contains("rate limit"));
    server.stop().await;
}

#[tokio::test]
async fn client_events_need_the_app_switch() {
    let server = TestServer::start(|c| c.apps[0].client_events = false).await;
    let (mut a, a_id) = server.connect().await;
    subscribe(
        &mut a,
        "private-c",
        Some(channel_token(creds(), &a_id, "private-c", None)),
        None,
    )
    .await;
    send_json(
        &mut a,
        json!({"event": "client-hi", "channel": "private-c", "data": {}}),
    )
    .await;
    assert_eq!(next_json(&mut a).await["data"]["code"], 4301);
    server.stop().await;
}

#[tokio::test]
async fn http_api_publishes_with_exclusion_and_info() {
    let server = TestServer::start(|_| {}).await;
    let (mut a, a_id) = server.connect().await;
    let (mut b, _) = server.connect().await;
    subscribe(&mut a, "news", None, None).await;
    subscribe(&mut b, "news", None, None).await;
    let body = json!({"name": "story", "channels": ["news"], "data": "{\"n\":1}", "socket_id": a_id.as_str(), "info": "subscription_count"}).to_string();
    let (status, reply) = server.api("POST", "/apps/1/events", &[], &body).await;
    assert_eq!(
        (status, reply),
        (
            200,
            json!({"channels": {"news": {"subscription_count": 2}}})
        )
    );
    let got = next_json(&mut b).await;
    assert_eq!(
        (
            got["event"].as_str(),
            got["channel"].as_str(),
            got["data"].as_str()
        ),
        (Some("story"), Some("news"), Some("{\"n\":1}"))
    );
    // a was excluded: the next thing it sees is the second event.
    server.publish("news", "second", "2").await;
    assert_eq!(next_json(&mut a).await["event"], "second");
    // A batch.
    let body = json!({"batch": [{"channel": "news", "name": "b1", "data": "1"}, {"channel": "news", "name": "b2", "data": "2"}]}).to_string();
    assert_eq!(
        server
            .api("POST", "/apps/1/batch_events", &[], &body)
            .await
            .0,
        200
    );
    assert_eq!(next_json(&mut b).await["event"], "second");
    assert_eq!(next_json(&mut b).await["event"], "b1");
    assert_eq!(next_json(&mut b).await["event"], "b2");
    let (status, channels) = server.api("GET", "/apps/1/channels", &[], "").await;
    assert_eq!((status, channels), (200, json!({"channels": {"news": {}}})));
    server.stop().await;
}

#[tokio::test]
async fn http_api_refusals() {
    let server = TestServer::start(|c| c.max_request_body_bytes = 64 * 1024).await;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = json!({"name": "e", "channel": "c", "data": "x"}).to_string();
    assert_eq!(
        server
            .api_signed("POST", "/apps/1/events", &[], &body, "wrong", now)
            .await
            .0,
        401
    );
    assert_eq!(
        server
            .api_signed("POST", "/apps/1/events", &[], &body, SECRET, now - 3600)
            .await
            .0,
        401
    );
    assert_eq!(
        server.api("POST", "/apps/9/events", &[], &body).await.0,
        404
    );
    assert_eq!(
        server.http("POST", "/apps/1/events", &body).await.0,
        401,
        "unsigned"
    );
    let big = json!({"name": "e", "channel": "c", "data": "x".repeat(11 * 1024)}).to_string();
    let (status, error) = server.api("POST", "/apps/1/events", &[], &big).await;
    assert_eq!(status, 413, "{error}");
    let many: Vec<String> = (0..101).map(|i| format!("c{i}")).collect();
    let body = json!({"name": "e", "channels": many, "data": "x"}).to_string();
    assert_eq!(
        server.api("POST", "/apps/1/events", &[], &body).await.0,
        400
    );
    let huge = "x".repeat(100 * 1024);
    assert_eq!(
        server.api("POST", "/apps/1/events", &[], &huge).await.0,
        413
    );
    assert_eq!(
        server
            .api("POST", "/apps/1/events", &[], "{not json")
            .await
            .0,
        400
    );
    let batch: Vec<Value> = (0..11)
        .map(|_| json!({"channel": "c", "name": "e", "data": "x"}))
        .collect();
    let body = json!({ "batch": batch }).to_string();
    assert_eq!(
        server
            .api("POST", "/apps/1/batch_events", &[], &body)
            .await
            .0,
        400
    );
    assert_eq!(
        server
            .api("GET", "/apps/1/channels/c", &[("info", "user_count")], "")
            .await
            .0,
        400
    );
    assert_eq!(
        server
            .api("GET", "/apps/1/channels/c/users", &[], "")
            .await
            .0,
        400
    );
    assert_eq!(server.api("GET", "/apps/1/nothing", &[], "").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn cache_channels_replay_the_last_event() {
    let server = TestServer::start(|_| {}).await;
    let (mut a, _) = server.connect().await;
    subscribe(&mut a, "cache-scores", None, None).await;
    assert_eq!(next_json(&mut a).await["event"], "pusher:cache_miss");
    server.publish("cache-scores", "score", "42").await;
    assert_eq!(next_json(&mut a).await["data"], "42");
    let (mut b, _) = server.connect().await;
    subscribe(&mut b, "cache-scores", None, None).await;
    let replay = next_json(&mut b).await;
    assert_eq!(
        (replay["event"].as_str(), replay["data"].as_str()),
        (Some("score"), Some("42"))
    );
    server.stop().await;
}

#[tokio::test]
async fn terminate_connections_closes_a_signed_in_user() {
    let server = TestServer::start(|_| {}).await;
    let (mut ws, socket_id) = server.connect().await;
    let user_data = r#"{"id":"u7"}"#;
    let auth = duplex_pusher::auth::user_token(creds(), &socket_id, user_data);
    send_json(
        &mut ws,
        json!({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}}),
    )
    .await;
    assert_eq!(next_json(&mut ws).await["event"], "pusher:signin_success");
    let reply = subscribe(&mut ws, "#server-to-user-u7", None, None).await;
    assert_eq!(reply["event"], "pusher_internal:subscription_succeeded");
    let (status, _) = server
        .api("POST", "/apps/1/users/u7/terminate_connections", &[], "{}")
        .await;
    assert_eq!(status, 200);
    assert_eq!(close_code(&mut ws).await.0, 4009);
    server.stop().await;
}

#[tokio::test]
async fn a_bad_signin_is_closed_with_4009() {
    let server = TestServer::start(|_| {}).await;
    let (mut ws, _) = server.connect().await;
    send_json(&mut ws, json!({"event": "pusher:signin", "data": {"auth": format!("{KEY}:{}", "ab".repeat(32)), "user_data": "{\"id\":\"x\"}"}})).await;
    assert_eq!(close_code(&mut ws).await.0, 4009);
    server.stop().await;
}

/// A server that pings after one silent second and waits one for the pong.
async fn with_one_second_timeouts() -> TestServer {
    TestServer::start(|c| {
        c.activity_timeout = 1;
        c.pong_timeout = 1;
    })
    .await
}

#[tokio::test]
async fn silent_clients_are_pinged_then_closed_with_4201() {
    let server = with_one_second_timeouts().await;
    let (mut ws, _) = server.connect().await;
    assert_eq!(next_json(&mut ws).await["event"], "pusher:ping");
    assert_eq!(close_code(&mut ws).await.0, 4201);
    // Answering keeps the connection.
    let (mut ws, _) = server.connect().await;
    assert_eq!(next_json(&mut ws).await["event"], "pusher:ping");
    send_json(&mut ws, json!({"event": "pusher:pong", "data": {}})).await;
    assert_eq!(
        next_json(&mut ws).await["event"],
        "pusher:ping",
        "pinged again, not closed"
    );
    server.stop().await;
}

#[tokio::test]
async fn active_clients_are_not_pinged_until_they_fall_silent() {
    let server = with_one_second_timeouts().await;
    let (mut ws, _) = server.connect().await;
    // Twice the activity timeout, always active: every message from the
    // server is the pong to our ping, never a ping of its own.
    for _ in 0..7 {
        send_json(&mut ws, json!({"event": "pusher:ping", "data": {}})).await;
        assert_eq!(next_json(&mut ws).await["event"], "pusher:pong");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Silent from here: pinged, then closed for not answering.
    assert_eq!(next_json(&mut ws).await["event"], "pusher:ping");
    assert_eq!(close_code(&mut ws).await.0, 4201);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped_with_4100() {
    let server = TestServer::start(|c| c.send_queue_frames = 8).await;
    let (mut slow, _) = server.connect().await;
    let (mut fast, _) = server.connect().await;
    subscribe(&mut slow, "busy", None, None).await;
    subscribe(&mut fast, "busy", None, None).await;
    let app = server.hub.app_by_id("1").unwrap().clone();
    let payload = "x".repeat(8 * 1024);
    let frame = ServerMessage::ChannelEvent {
        event: "e",
        channel: "busy",
        data: Some(&payload),
        user_id: None,
    }
    .encode();
    // `slow` never reads: its socket buffers fill, then its queue; `fast` reads along.
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while n < 2000 {
            next_json(&mut fast).await;
            n += 1;
        }
        fast
    });
    for _ in 0..2000 {
        app.publish("busy", &frame, None);
        tokio::task::yield_now().await;
    }
    let _fast = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("fast reader kept up")
        .unwrap();
    // Now read the slow one: the queued frames, then the 4100 close.
    let mut frames = 0;
    let ended = loop {
        match tokio::time::timeout(WAIT, slow.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                break format!("close {:?}", frame.map(|f| f.code.0))
            }
            Ok(Some(Ok(_))) => frames += 1,
            other => break format!("{other:?}"),
        }
    };
    // The close frame reaches the client only if it reads again before the
    // server's close timeout; a client that stays stalled just loses the
    // connection. Either way it was cut off, and the server counted a 4100.
    assert!(
        ended == "close Some(4100)" || ended.contains("AbnormalClosure"),
        "ended with {ended} after {frames} frames"
    );
    assert!(
        frames < 2000,
        "the stalled client got everything ({frames} frames)"
    );
    let closes = &server.hub.metrics.closes_by_code[100];
    assert_eq!(
        closes.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "one 4100 close"
    );
    server.stop().await;
}

#[tokio::test]
async fn shutdown_tells_clients_to_reconnect() {
    let server = TestServer::start(|_| {}).await;
    let (mut a, _) = server.connect().await;
    let (mut b, _) = server.connect().await;
    let stop = tokio::spawn(server.stop());
    for ws in [&mut a, &mut b] {
        let (code, frames) = close_code(ws).await;
        assert_eq!(code, 4200);
        assert_eq!(frames.last().unwrap()["data"]["code"], 4200);
    }
    stop.await.unwrap();
}

#[tokio::test]
async fn health_metrics_and_plain_http_on_the_websocket_path() {
    let server = TestServer::start(|_| {}).await;
    assert_eq!(server.http("GET", "/healthz", "").await.0, 200);
    assert_eq!(server.http("GET", "/readyz", "").await.0, 200);
    let (mut ws, _) = server.connect().await;
    subscribe(&mut ws, "m", None, None).await;
    server.publish("m", "e", "x").await;
    next_json(&mut ws).await;
    let (status, metrics) = server.http("GET", "/metrics", "").await;
    assert_eq!(status, 200);
    let metrics = metrics.as_str().unwrap();
    for line in [
        "duplex_connections 1",
        "duplex_channels 1",
        "duplex_app_connections{app=\"1\"} 1",
        "duplex_app_api_events_total{app=\"1\"} 1",
        "duplex_publish_to_send_seconds_count 2", // subscription_succeeded and the event
        "duplex_send_queue_drops_total 0",
        "duplex_publish_to_send_seconds_bucket{le=\"+Inf\"} 2",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "missing {line:?} in\n{metrics}"
        );
    }
    assert_eq!(server.http("GET", &format!("/app/{KEY}"), "").await.0, 426);
    server.stop().await;
}

/// Writes a fresh self-signed certificate for `localhost`; returns the paths.
fn write_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    (cert_path, key_path)
}

async fn connect_wss(
    addr: std::net::SocketAddr,
    ca: &std::path::Path,
) -> Result<Ws, duplex::Error> {
    let tls = duplex::tls::client_config_with_ca(&[ca], false, None)?;
    let url = format!("wss://localhost:{}/app/{KEY}?protocol=7", addr.port());
    Ok(duplex::ClientBuilder::new(&url)?
        .tls_config(tls)
        .connect()
        .await?
        .0)
}

#[tokio::test]
async fn tls_serves_wss_and_reloads_the_certificate() {
    let dir = std::env::temp_dir().join(format!("duplex-tls-{}-{}", std::process::id(), line!()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = write_cert(&dir);
    let old_ca = dir.join("old-ca.pem");
    std::fs::copy(&cert, &old_ca).unwrap();
    let server = TestServer::start(|c| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    })
    .await;
    let mut first = connect_wss(server.addr, &old_ca)
        .await
        .expect("wss connect");
    assert_eq!(
        next_json(&mut first).await["event"],
        "pusher:connection_established"
    );
    // A new certificate: new connections use it, the open one carries on.
    write_cert(&dir);
    server.hub.load_tls().unwrap();
    let mut second = connect_wss(server.addr, &cert)
        .await
        .expect("wss with the new certificate");
    assert_eq!(
        next_json(&mut second).await["event"],
        "pusher:connection_established"
    );
    assert!(
        matches!(
            connect_wss(server.addr, &old_ca).await,
            Err(duplex::Error::Tls(_))
        ),
        "old CA no longer trusted"
    );
    subscribe(&mut first, "still-open", None, None).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
