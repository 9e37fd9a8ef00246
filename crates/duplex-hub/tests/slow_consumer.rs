//! One stalled subscriber among 1,000 active ones on a busy channel: the
//! stalled one is dropped (4100) and the others' p99 delivery latency stays
//! within 2x of the same run without it. Runs with and without the stalled
//! subscriber alternate, in one process, so machine noise hits both alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use duplex::Message;
use duplex_hub::{Server, ServerConfig};
use duplex_pusher::protocol::ServerMessage;
use duplex_pusher::AppConfig;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

const ACTIVE: usize = 1000;
const EVENTS: usize = 200;
const INTERVAL: Duration = Duration::from_millis(40);
const PAYLOAD: usize = 1024;

/// Subscribes a raw socket that never reads again (with a small receive
/// buffer, so the server's queue for it fills soon).
async fn stalled_subscriber(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket.connect(addr).await.unwrap();
    let request = "GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    let subscribe = br#"{"event":"pusher:subscribe","data":{"channel":"busy"}}"#;
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![0x81, 0x80 | subscribe.len() as u8];
    frame.extend_from_slice(&key);
    frame.extend(subscribe.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    tcp.write_all(&frame).await.unwrap();
    tcp
}

/// Everything the server sent, read to the end.
async fn drained(mut tcp: tokio::net::TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut all)).await;
    all
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_is_dropped_and_does_not_slow_the_others() {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        // Five seconds of backlog at this rate: an active subscriber is never
        // that far behind; the stalled one gets there within a round.
        send_queue_frames: 128,
        // Without a fixed send buffer, Linux lets a stalled socket soak up to
        // 4 MiB before the queue even starts to fill.
        socket_send_buffer_bytes: Some(16 * 1024),
        apps: vec![AppConfig::new("1", "app-key", "secret")],
        ..ServerConfig::default()
    };
    let server = Server::bind(config).await.unwrap();
    let addr = server.local_addr().unwrap();
    let app = server.hub().app_by_id("1").unwrap().clone();
    let server_hub = server.hub().clone();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run(
        async {
            let _ = stopped.await;
        },
        Duration::from_secs(1),
    ));

    // 1,000 subscribers, each reporting (event number, latency) per event.
    let epoch = Arc::new(Instant::now());
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Duration)>();
    let url = format!("ws://{addr}/app/app-key?protocol=7");
    for _ in 0..ACTIVE {
        let (mut ws, _) = duplex::connect(&url).await.unwrap();
        ws.next().await.unwrap().unwrap(); // connection_established
        ws.send(Message::text(
            r#"{"event":"pusher:subscribe","data":{"channel":"busy"}}"#,
        ))
        .await
        .unwrap();
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("subscription_succeeded") => {}
            other => panic!("{other:?}"),
        }
        let (tx, epoch) = (tx.clone(), epoch.clone());
        tokio::spawn(async move {
            while let Some(Ok(Message::Text(text))) = ws.next().await {
                // `"data":"N:T:padding"`, read without a JSON parser: the
                // receivers must stay cheap so that the server is what is measured.
                let data = text
                    .split("\"data\":\"")
                    .nth(1)
                    .unwrap_or_else(|| panic!("an active subscriber got {text}"));
                let mut fields = data.splitn(3, ':');
                let n: usize = fields.next().unwrap().parse().unwrap();
                let sent = Duration::from_nanos(fields.next().unwrap().parse().unwrap());
                let _ = tx.send((n, epoch.elapsed() - sent));
            }
        });
    }
    assert_eq!(
        app.channel_stats("busy").unwrap().subscription_count,
        ACTIVE
    );

    let padding = "x".repeat(PAYLOAD);
    let mut p99s = [Vec::new(), Vec::new()]; // [without, with] the stalled subscriber
    for round in 0..4 {
        let with_stalled = round % 2 == 1;
        let stalled = if with_stalled {
            let tcp = stalled_subscriber(addr).await;
            let deadline = Instant::now() + Duration::from_secs(5);
            while app.channel_stats("busy").unwrap().subscription_count < ACTIVE + 1 {
                assert!(
                    Instant::now() < deadline,
                    "stalled subscriber never subscribed"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Some(tcp)
        } else {
            None
        };
        let mut ticker = tokio::time::interval(INTERVAL);
        for n in 0..EVENTS {
            ticker.tick().await;
            let data = format!("{n}:{}:{padding}", epoch.elapsed().as_nanos());
            let frame = ServerMessage::ChannelEvent {
                event: "tick",
                channel: "busy",
                data: Some(&data),
                user_id: None,
            }
            .encode();
            app.publish("busy", &frame, None);
        }
        let mut latencies = Vec::with_capacity(ACTIVE * EVENTS);
        while latencies.len() < ACTIVE * EVENTS {
            let (_, latency) = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("an active subscriber stopped receiving")
                .unwrap();
            latencies.push(latency);
        }
        p99s[usize::from(with_stalled)].push(p99(latencies));
        if let Some(tcp) = stalled {
            // The stalled subscriber was cut off: the server counted a 4100
            // close, and the socket ends without having carried every event
            // (the close frame itself reaches it only if it reads in time).
            let closes =
                server_hub.metrics.closes_by_code[100].load(std::sync::atomic::Ordering::Relaxed);
            assert_eq!(
                closes,
                round / 2 + 1,
                "the stalled subscriber was closed with 4100"
            );
            let bytes = drained(tcp).await;
            assert!(
                bytes.len() < EVENTS * PAYLOAD,
                "the stalled subscriber got all {} bytes",
                bytes.len()
            );
            assert_eq!(
                app.channel_stats("busy").unwrap().subscription_count,
                ACTIVE
            );
        }
    }
    let mean = |v: &Vec<Duration>| v.iter().sum::<Duration>() / v.len() as u32;
    let (without, with) = (mean(&p99s[0]), mean(&p99s[1]));
    eprintln!("p99 delivery latency: without the stalled subscriber {without:?} ({:?}), with it {with:?} ({:?})", p99s[0], p99s[1]);
    assert!(
        with <= without * 2 + Duration::from_millis(2),
        "p99 {with:?} with a stalled subscriber vs {without:?} without"
    );
}
