//! Bad input at a running `duplex serve`: each case drives a raw TCP socket
//! and asserts the exact outcome (HTTP status, close code, or how soon the
//! server lets go), and that the server stays healthy for everyone else.

use std::time::{Duration, Instant};

use duplex_hub::{Server, ServerConfig};
use duplex_pusher::AppConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const KEY: &str = "app-key";
const WAIT: Duration = Duration::from_secs(10);

struct Running {
    addr: std::net::SocketAddr,
    hub: std::sync::Arc<duplex_hub::Hub>,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Running {
    let mut app = AppConfig::new("1", KEY, "secret");
    app.client_events = true;
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        activity_timeout: 1,
        pong_timeout: 1,
        handshake_timeout: 1,
        max_messages_per_second: 50,
        compression: true,
        apps: vec![app],
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let hub = server.hub().clone();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));
    Running {
        addr,
        hub,
        _stop: stop,
    }
}

fn upgrade_request(extra: &str) -> String {
    format!(
        "GET /app/{KEY}?protocol=7 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// Reads an HTTP response head; returns it as text.
async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tokio::time::timeout(WAIT, tcp.read(&mut byte))
            .await
            .expect("timed out reading head")
        {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// One server frame: (opcode, payload).
async fn read_frame(tcp: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    tokio::time::timeout(WAIT, tcp.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    let len = match head[1] & 0x7f {
        126 => u64::from(tcp.read_u16().await.ok()?),
        127 => tcp.read_u64().await.ok()?,
        n => u64::from(n),
    };
    let mut payload = vec![0; len as usize];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x0f, payload))
}

/// Reads frames until the close frame; returns its code.
async fn close_code(tcp: &mut TcpStream) -> Option<u16> {
    loop {
        let (opcode, payload) = read_frame(tcp).await?;
        if opcode == 8 {
            return Some(if payload.len() >= 2 {
                u16::from_be_bytes([payload[0], payload[1]])
            } else {
                1005
            });
        }
    }
}

/// A masked client frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [9, 8, 7, 6];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// An open Pusher connection over a raw socket, past `connection_established`.
async fn open(addr: std::net::SocketAddr, extra_headers: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(upgrade_request(extra_headers).as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let (opcode, payload) = read_frame(&mut tcp).await.unwrap();
    assert_eq!(opcode, 1);
    assert!(String::from_utf8_lossy(&payload).contains("connection_established"));
    tcp
}

async fn wait_for_no_connections(hub: &duplex_hub::Hub, within: Duration) {
    let start = Instant::now();
    while hub.connection_count() > 0 {
        assert!(
            start.elapsed() < within,
            "{} connections still open after {within:?}",
            hub.connection_count()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn slowloris_handshake_is_cut_off() {
    let server = start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request = upgrade_request("");
    let start = Instant::now();
    let mut closed = false;
    for byte in request.as_bytes() {
        if tcp.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(200), tcp.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                closed = true; // an answer or EOF: the server gave up on us
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "the server waited for the whole slow request");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "cut off after {:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn huge_header_gets_431() {
    let server = start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let big = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
    let _ = tcp.write_all(upgrade_request(&big).as_bytes()).await;
    let head = read_head(&mut tcp).await;
    assert!(head.starts_with("HTTP/1.1 431"), "{head:?}");
}

#[tokio::test]
async fn wrong_version_gets_426() {
    let server = start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let request =
        upgrade_request("").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(&mut tcp).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 426"), "{head}");
    assert!(head.contains("sec-websocket-version: 13"), "{head}");
}

#[tokio::test]
async fn protocol_violations_get_their_close_codes() {
    let server = start().await;
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked frame", vec![0x81, 0x02, b'h', b'i'], 1002),
        (
            "2^63 length",
            {
                let mut f = vec![0x82, 0x80 | 127];
                f.extend_from_slice(&(1u64 << 63).to_be_bytes());
                f.extend_from_slice(&[1, 2, 3, 4]);
                f
            },
            1002,
        ),
        ("reserved opcode", frame(0x83, b""), 1002),
        ("bad UTF-8", frame(0x81, &[b'{', 0xff, 0xfe]), 1007),
        (
            "invalid close code",
            frame(0x88, &999u16.to_be_bytes()),
            1002,
        ),
        ("fragmented ping", frame(0x09, b"x"), 1002),
        ("RSV2 set", frame(0xA1, b"x"), 1002),
    ];
    for (name, bytes, code) in cases {
        let mut tcp = open(server.addr, "").await;
        tcp.write_all(&bytes).await.unwrap();
        assert_eq!(close_code(&mut tcp).await, Some(code), "{name}");
    }
    wait_for_no_connections(&server.hub, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn ping_flood_is_closed_by_the_rate_limit() {
    let server = start().await;
    let mut tcp = open(server.addr, "").await;
    let ping = frame(0x89, b"flood");
    let mut burst = Vec::new();
    for _ in 0..1000 {
        burst.extend_from_slice(&ping);
    }
    let _ = tcp.write_all(&burst).await;
    assert_eq!(close_code(&mut tcp).await, Some(4301));
}

#[tokio::test]
async fn compression_bomb_is_refused_with_1009() {
    use flate2::{Compress, Compression, FlushCompress};
    let server = start().await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(upgrade_request("Sec-WebSocket-Extensions: permessage-deflate\r\n").as_bytes())
        .await
        .unwrap();
    let head = read_head(&mut tcp).await.to_ascii_lowercase();
    assert!(head.contains("permessage-deflate"), "{head}");
    read_frame(&mut tcp).await.unwrap(); // connection_established
                                         // About 1 KiB of DEFLATE that inflates to 1 MiB, far past the message limit.
    let mut compress = Compress::new(Compression::best(), false);
    let mut bomb = Vec::with_capacity(4096);
    compress
        .compress_vec(&vec![b' '; 1 << 20], &mut bomb, FlushCompress::Sync)
        .unwrap();
    bomb.truncate(bomb.len() - 4);
    assert!(bomb.len() <= 2048, "{}", bomb.len());
    tcp.write_all(&frame(0xC1, &bomb)).await.unwrap(); // FIN + RSV1 + text
    assert_eq!(close_code(&mut tcp).await, Some(1009));
}

#[tokio::test]
async fn half_open_connection_is_detected_by_heartbeat() {
    let server = start().await;
    // The peer vanishes: it never reads or writes again (no FIN either).
    let _silent = open(server.addr, "").await;
    assert_eq!(server.hub.connection_count(), 1);
    // activity 1 s + pong wait 1 s + close handshake wait 2 s, with slack.
    wait_for_no_connections(&server.hub, Duration::from_secs(8)).await;
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connect_disconnect_cycles_leak_nothing() {
    let server = start().await;
    // Warm up allocator pools and the runtime before measuring.
    for _ in 0..200 {
        drop(open(server.addr, "").await);
    }
    wait_for_no_connections(&server.hub, Duration::from_secs(10)).await;
    let (fds, rss) = (open_fds(), rss_bytes());
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            for _ in 0..1250 {
                let mut tcp = open(addr, "").await;
                let _ = tcp.shutdown().await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    wait_for_no_connections(&server.hub, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (fds_after, rss_after) = (open_fds(), rss_bytes());
    assert!(
        fds_after <= fds + 4,
        "file descriptors: {fds} before, {fds_after} after"
    );
    let growth = rss_after.saturating_sub(rss);
    assert!(
        growth < 16 << 20,
        "RSS grew by {} KiB over 10,000 cycles",
        growth >> 10
    );
}
