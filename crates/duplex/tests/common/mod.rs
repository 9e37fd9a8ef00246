//! Helpers shared by the integration tests: a deadline around every await,
//! connected client/server pairs on 127.0.0.1:0, an echo server, and raw
//! HTTP exchanges for handshake tests.
//!
//! Every await that depends on the peer goes through [`within`], so a hang
//! fails the test with the line that hung instead of blocking CI.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::future::Future;
use std::panic::Location;
use std::time::Duration;

use bytes::Bytes;
use duplex::{Acceptor, ClientBuilder, CloseStatus, Config, MaybeTlsStream, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest any single step may take. Generous: a loaded 2-core CI
/// machine building other crates must never trip it; only a hang does.
pub const LIMIT: Duration = Duration::from_secs(20);

/// The client end of a test connection.
pub type Client = WebSocket<MaybeTlsStream>;
/// The server end of a test connection.
pub type Server = WebSocket<TcpStream>;

/// Awaits `fut`, panicking (with the caller's location) if it takes longer
/// than [`LIMIT`].
#[track_caller]
pub fn within<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let caller = Location::caller();
    async move {
        match tokio::time::timeout(LIMIT, fut).await {
            Ok(output) => output,
            Err(_) => panic!("timed out after {LIMIT:?} at {caller}: the test hung"),
        }
    }
}

/// A listener on 127.0.0.1 with an OS-chosen port, and its `ws://` URL.
pub async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().expect("local_addr"));
    (listener, url)
}

/// A connected client (with `client_config`) and server (with `acceptor`).
pub async fn pair_with(client_config: Config, acceptor: Acceptor) -> (Client, Server) {
    let (listener, url) = listen().await;
    let server = async {
        let (tcp, _) = listener.accept().await?;
        acceptor.accept(tcp).await
    };
    let client = async {
        ClientBuilder::new(&url)?
            .config(client_config)
            .connect()
            .await
    };
    let (client, server) = within(async { tokio::join!(client, server) }).await;
    let (client, _response) = client.expect("client handshake");
    (client, server.expect("server handshake"))
}

/// A connected client and server with the default settings.
pub async fn pair() -> (Client, Server) {
    pair_with(Config::default(), Acceptor::new()).await
}

/// What an echo server saw on its one connection.
#[derive(Debug)]
pub struct EchoLog {
    /// Every non-data message the server's stream yielded (pings, pongs,
    /// the close frame), in order.
    pub control: Vec<Message>,
    /// Errors the stream yielded, as text.
    pub errors: Vec<String>,
    /// The data messages echoed.
    pub echoed: usize,
    /// How the connection ended, as the server saw it.
    pub status: Option<CloseStatus>,
}

/// Starts a server that accepts one connection with `acceptor`, echoes every
/// data message until its stream ends, and reports what it saw.
pub async fn echo_server(acceptor: Acceptor) -> (String, JoinHandle<EchoLog>) {
    let (listener, url) = listen().await;
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = acceptor.accept(tcp).await.expect("server handshake");
        echo(ws).await
    });
    (url, task)
}

/// Echoes data messages on `ws` until its stream ends.
pub async fn echo<S>(mut ws: WebSocket<S>) -> EchoLog
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut log = EchoLog {
        control: Vec::new(),
        errors: Vec::new(),
        echoed: 0,
        status: None,
    };
    while let Some(item) = ws.next().await {
        match item {
            Ok(msg) if msg.is_data() => {
                if let Err(e) = ws.send(msg).await {
                    log.errors.push(e.to_string());
                    break;
                }
                log.echoed += 1;
            }
            Ok(msg) => log.control.push(msg),
            Err(e) => log.errors.push(e.to_string()),
        }
    }
    log.status = ws.close_status();
    log
}

/// Reads everything `ws` yields until its stream ends.
pub async fn drain<S>(ws: &mut WebSocket<S>) -> Vec<duplex::Result<Message>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut items = Vec::new();
    while let Some(item) = ws.recv().await {
        items.push(item);
    }
    items
}

/// Sends `msg` and expects it back unchanged.
pub async fn round_trip<S>(ws: &mut WebSocket<S>, msg: Message)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    within(ws.send(msg.clone())).await.expect("send");
    let got = within(ws.next())
        .await
        .expect("stream ended")
        .expect("receive");
    assert_messages_eq(&got, &msg);
}

/// Compares messages without dumping megabytes of payload on failure.
#[track_caller]
pub fn assert_messages_eq(got: &Message, expected: &Message) {
    if got == expected {
        return;
    }
    if expected.len() <= 256 {
        panic!("got {got:?}, expected {expected:?}");
    }
    let first_diff = got
        .as_payload()
        .iter()
        .zip(expected.as_payload())
        .position(|(a, b)| a != b);
    panic!(
        "messages differ: got {} of {} bytes, expected {} of {} bytes; first differing byte at {first_diff:?}",
        kind(got),
        got.len(),
        kind(expected),
        expected.len()
    );
}

fn kind(msg: &Message) -> &'static str {
    match msg {
        Message::Text(_) => "text",
        Message::Binary(_) => "binary",
        Message::Ping(_) => "ping",
        Message::Pong(_) => "pong",
        Message::Close(_) => "close",
    }
}

/// `len` bytes of a pseudo-random pattern (xorshift), different per `seed`,
/// so that a shifted, truncated or reordered payload cannot compare equal.
pub fn pattern(len: usize, seed: u32) -> Bytes {
    let mut state = seed.wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out.into()
}

/// A valid client handshake request for `/chat`; tests break it with
/// `str::replace`.
pub const GOOD_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
Host: 127.0.0.1\r\n\
Upgrade: websocket\r\n\
Connection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\
\r\n";

/// Writes `request` on a fresh connection to `addr` and reads the
/// whole answer, until the server closes the connection.
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    within(tcp.write_all(request)).await.expect("write request");
    read_to_close(&mut tcp).await
}

/// Reads until end of stream. A reset after some bytes arrived ends the
/// read too (the bytes before it are what the test looks at).
pub async fn read_to_close(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match within(tcp.read(&mut buf)).await {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if !out.is_empty() => {
                eprintln!("read ended with {e} after {} bytes", out.len());
                break;
            }
            Err(e) => panic!("read failed before any response: {e}"),
        }
    }
    String::from_utf8(out).expect("the HTTP response is UTF-8")
}

/// The status code of a raw HTTP response.
#[track_caller]
pub fn status_of(response: &str) -> u16 {
    response
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 response: {response:?}"))
}

/// The value of header `name` (case-insensitive) in a raw HTTP response.
pub fn header_of<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The body of a raw HTTP response.
pub fn body_of(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

/// Sends `msgs` through `ws` as a Sink (feeding all, flushing once).
pub async fn send_all<S>(ws: &mut WebSocket<S>, msgs: Vec<Message>) -> duplex::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut stream = futures_util::stream::iter(msgs.into_iter().map(Ok));
    ws.send_all(&mut stream).await
}
