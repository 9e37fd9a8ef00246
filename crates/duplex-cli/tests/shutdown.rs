//! Graceful shutdown of `duplex serve`: SIGTERM with 1,000 connected clients.
//! Every client is told to reconnect (`pusher:error` 4200, then a close frame
//! with 4200) and the process exits within its drain time.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use duplex::Message;
use futures_util::StreamExt;

const CLIENTS: usize = 1000;
const DRAIN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_tells_every_client_to_reconnect_and_exits_within_the_drain_time() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_duplex"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-demo",
            "--drain",
            "5",
            "--app-secret",
            "s",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start duplex serve");
    let stderr = server.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || lines.for_each(drop)); // keep draining stderr

    // Connect everyone (50 at a time) and wait for connection_established.
    let url = format!("ws://{addr}/app/duplex-key?protocol=7&client=test&version=1");
    let mut clients = Vec::with_capacity(CLIENTS);
    for chunk in 0..CLIENTS / 50 {
        let batch: Vec<_> = (0..50)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move {
                    let (mut ws, _) = duplex::connect(&url).await.expect("connect");
                    match ws.next().await {
                        Some(Ok(Message::Text(t))) if t.contains("connection_established") => ws,
                        other => panic!("expected connection_established, got {other:?}"),
                    }
                })
            })
            .collect();
        for task in batch {
            clients.push(task.await.unwrap_or_else(|e| panic!("batch {chunk}: {e}")));
        }
    }
    assert_eq!(clients.len(), CLIENTS);

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Every client: the pusher:error 4200, then close 4200.
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            tokio::spawn(async move {
                let mut saw_error = false;
                loop {
                    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                        Ok(Some(Ok(Message::Text(t)))) => saw_error |= t.contains("\"code\":4200"),
                        Ok(Some(Ok(Message::Close(frame)))) => {
                            return (saw_error, frame.map(|f| f.code.0))
                        }
                        Ok(Some(Ok(_))) => {}
                        other => {
                            panic!("no close frame (saw pusher:error: {saw_error}): {other:?}")
                        }
                    }
                }
            })
        })
        .collect();
    for reader in readers {
        let (saw_error, code) = reader.await.unwrap();
        assert!(saw_error, "pusher:error 4200 before the close");
        assert_eq!(code, Some(4200));
    }

    // The process exits on its own, within the drain time.
    loop {
        if let Some(status) = server.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            started.elapsed() < DRAIN + Duration::from_secs(2),
            "still running after the drain time"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
