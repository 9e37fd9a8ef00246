//! A real `redis-server` and real `duplex serve` nodes on free loopback
//! ports, Pusher protocol clients, signed HTTP API calls and a webhook
//! receiver.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use duplex::{Message, WebSocket};
use duplex_pusher::api_auth::ApiRequest;
use duplex_pusher::auth::{channel_token, user_token, Credentials, SocketId};
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const KEY: &str = "cluster-key";
pub const SECRET: &str = "cluster-secret";
pub const APP: &str = "cluster";
pub const WAIT: Duration = Duration::from_secs(5);
/// Heartbeat and node timeout of the test clusters.
pub const HEARTBEAT_MS: u64 = 200;
pub const NODE_TIMEOUT_MS: u64 = 1500;

pub type Ws = WebSocket<duplex::MaybeTlsStream>;

pub fn creds() -> Credentials<'static> {
    Credentials {
        key: KEY,
        secret: SECRET,
    }
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `redis-server` program (`$REDIS_SERVER`, default from `PATH`), checked
/// once per test binary. When it cannot run, the first test to ask says why
/// and how to install it; the others fail with a one-line pointer to that.
fn redis_server() -> &'static str {
    static FOUND: OnceLock<Result<String, String>> = OnceLock::new();
    static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let found = FOUND.get_or_init(|| {
        let program = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        match Command::new(&program).arg("--version").output() {
            Ok(out) if out.status.success() => Ok(program),
            Ok(out) => Err(format!("`{program} --version` failed ({})", out.status)),
            Err(e) => Err(format!("`{program}` cannot run ({e})")),
        }
    });
    match found {
        Ok(program) => program,
        Err(why) if !TOLD.swap(true, std::sync::atomic::Ordering::SeqCst) => panic!(
            "{why}: the cluster tests need a real Redis. Install it with \
             `apt-get install redis-server` (scripts/setup does), or set REDIS_SERVER=path"
        ),
        Err(_) => {
            panic!("redis-server is missing (reported once, by the first cluster test to fail)")
        }
    }
}

/// A `redis-server` process of this test.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
    dir: std::path::PathBuf,
}

impl Redis {
    pub fn start() -> Redis {
        let dir = std::env::temp_dir().join(format!(
            "duplex-cluster-test-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut redis = Redis {
            port: free_port(),
            child: None,
            dir,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port, with an empty data set.
    pub fn restart(&mut self) {
        let child = Command::new(redis_server())
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", redis_server()));
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server (SIGKILL: no goodbye).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `duplex serve --adapter redis` process.
pub struct Node {
    pub addr: SocketAddr,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    /// Starts a node of the cluster on `redis`, optionally with a webhook.
    pub fn start(redis: &Redis, webhook: Option<&str>) -> Node {
        Node::start_with(redis, webhook, "")
    }

    /// Like [`Node::start`], with `limits` (TOML lines) as the app's
    /// `[apps.limits]`.
    pub fn start_with(redis: &Redis, webhook: Option<&str>, limits: &str) -> Node {
        let config = std::env::temp_dir().join(format!(
            "duplex-cluster-node-{}-{}.toml",
            std::process::id(),
            rand::random::<u32>()
        ));
        let mut toml = format!(
            "adapter = \"redis\"\n\
             [redis]\nurl = \"{}\"\nheartbeat_interval_ms = {HEARTBEAT_MS}\n\
             node_timeout_ms = {NODE_TIMEOUT_MS}\ncommand_timeout_ms = 500\n\
             [[apps]]\nid = \"{APP}\"\nkey = \"{KEY}\"\nsecret = \"{SECRET}\"\nclient_events = true\n",
            redis.url()
        );
        if !limits.is_empty() {
            toml.push_str(&format!("[apps.limits]\n{limits}\n"));
        }
        if let Some(url) = webhook {
            toml.push_str(&format!(
                "[[apps.webhooks]]\nurl = \"{url}\"\nevent_types = [\"channel_occupied\", \"channel_vacated\", \"member_added\", \"member_removed\"]\n"
            ));
        }
        std::fs::write(&config, toml).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_duplex"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-demo", "--config"])
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start duplex serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let addr = loop {
            let line = lines.next().expect("duplex serve exited early").unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().parse().unwrap();
            }
        };
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let _ = std::fs::remove_file(&config);
        Node {
            addr,
            child: Some(child),
            log,
        }
    }

    /// Kills the node (SIGKILL: no goodbye).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether a log line contains `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(text))
    }

    /// The log, for failure messages.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Connects a Pusher client; returns it and its socket id.
    pub async fn connect(&self) -> (Ws, SocketId) {
        let url = format!(
            "ws://{}/app/{KEY}?protocol=7&client=js&version=8.4.0",
            self.addr
        );
        let (mut ws, _) = duplex::connect(&url).await.expect("connect");
        let established = next_json(&mut ws).await;
        assert_eq!(established["event"], "pusher:connection_established");
        let data = data_of(&established);
        let socket_id = SocketId::parse(data["socket_id"].as_str().unwrap()).unwrap();
        (ws, socket_id)
    }

    /// A signed HTTP API request; returns the status and JSON body.
    pub async fn api(
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
        let query = ApiRequest::signed_query(creds(), method, path, params, body.as_bytes(), now);
        http(self.addr, method, &format!("{path}?{query}"), body).await
    }

    /// Publishes an event through this node's HTTP API.
    pub async fn publish(&self, channel: &str, event: &str, data: &str, except: Option<&SocketId>) {
        let mut body = json!({ "name": event, "channel": channel, "data": data });
        if let Some(socket_id) = except {
            body["socket_id"] = json!(socket_id.as_str());
        }
        let (status, reply) = self
            .api(
                "POST",
                &format!("/apps/{APP}/events"),
                &[],
                &body.to_string(),
            )
            .await;
        assert_eq!(status, 200, "publish: {reply}");
    }

    /// `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let (_, body) = http(self.addr, "GET", "/metrics", "").await;
        body.as_str().unwrap_or_default().to_string()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A minimal HTTP/1.1 request (`Connection: close`).
pub async fn http(addr: SocketAddr, method: &str, target: &str, body: &str) -> (u16, Value) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        response
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .expect("HTTP request timed out");
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let value = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, value)
}

pub async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

/// The next text frame as JSON (pusher:ping answered, pongs skipped).
pub async fn next_json(ws: &mut Ws) -> Value {
    next_json_within(ws, WAIT)
        .await
        .expect("timed out waiting for a message")
}

/// The next text frame within `wait`, or `None`.
pub async fn next_json_within(ws: &mut Ws, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match message
            .expect("connection ended")
            .expect("connection error")
        {
            Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => panic!("unexpected close {frame:?}"),
            _ => continue,
        }
    }
}

/// The next frame that is not a `pusher:` control event.
pub async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let frame = next_json(ws).await;
        if !frame["event"].as_str().unwrap_or("").starts_with("pusher:") {
            return frame;
        }
    }
}

/// Reads until the close frame; returns its code.
pub async fn close_code(ws: &mut Ws) -> u16 {
    loop {
        match tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("timed out waiting for close")
        {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.0,
            Some(Ok(Message::Close(None))) => return 1005,
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("error before close: {e}"),
            None => panic!("ended without a close frame"),
        }
    }
}

pub fn data_of(frame: &Value) -> Value {
    match &frame["data"] {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        other => other.clone(),
    }
}

/// Subscribes with the right auth for the channel's kind; returns the
/// `subscription_succeeded` frame (panics on anything else).
pub async fn subscribe(
    ws: &mut Ws,
    socket_id: &SocketId,
    channel: &str,
    user: Option<&str>,
) -> Value {
    let channel_data =
        user.map(|u| json!({ "user_id": u, "user_info": { "name": u } }).to_string());
    let mut data = json!({ "channel": channel });
    if channel.starts_with("private-") || channel.starts_with("presence-") {
        data["auth"] = json!(channel_token(
            creds(),
            socket_id,
            channel,
            channel_data.as_deref()
        ));
    }
    if let Some(cd) = &channel_data {
        data["channel_data"] = json!(cd);
    }
    send_json(ws, json!({ "event": "pusher:subscribe", "data": data })).await;
    let reply = next_json(ws).await;
    assert_eq!(
        reply["event"], "pusher_internal:subscription_succeeded",
        "subscribing to {channel}: {reply}"
    );
    reply
}

/// Signs the connection in as `user`.
pub async fn sign_in(ws: &mut Ws, socket_id: &SocketId, user: &str) {
    let user_data = json!({ "id": user }).to_string();
    let auth = user_token(creds(), socket_id, &user_data);
    send_json(
        ws,
        json!({ "event": "pusher:signin", "data": { "auth": auth, "user_data": user_data } }),
    )
    .await;
    let reply = next_json(ws).await;
    assert_eq!(reply["event"], "pusher:signin_success", "{reply}");
}

/// Polls `check` every 50 ms until it returns `Some`, for up to `wait`.
pub async fn eventually<T, F, Fut>(wait: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + wait;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Receives webhook requests and keeps their events.
#[derive(Clone, Default)]
pub struct Webhooks {
    pub events: Arc<Mutex<Vec<Value>>>,
    pub url: String,
}

impl Webhooks {
    pub async fn start() -> Webhooks {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let hooks = Webhooks {
            events: Arc::default(),
            url,
        };
        let events = hooks.events.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let events = events.clone();
                tokio::spawn(async move {
                    if let Some(body) = read_request(stream).await {
                        let value: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                        if let Some(list) = value["events"].as_array() {
                            events.lock().unwrap().extend(list.iter().cloned());
                        }
                    }
                });
            }
        });
        hooks
    }

    /// How many events named `name` on `channel` (for user `user`) arrived.
    pub fn count(&self, name: &str, channel: &str, user: Option<&str>) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                e["name"] == name
                    && e["channel"] == channel
                    && user.is_none_or(|u| e["user_id"] == u)
            })
            .count()
    }
}

/// Reads one HTTP request, answers 200, returns its body.
async fn read_request(mut stream: tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..pos]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (pos + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .await;
    Some(String::from_utf8_lossy(&buf[head_end..]).into_owned())
}
