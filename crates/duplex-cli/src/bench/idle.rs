//! Idle mode: what an open connection costs the server in resident memory.
//!
//! Each connection completes the handshake and one round trip of `--size`
//! bytes (16 by default: so every server has set up whatever a live
//! connection needs; larger, to see whether a server keeps the buffers a
//! large message needed), then all sit idle while the server's `VmRSS` is
//! read.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Buf;
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::proc::Pid;
use super::wire::{self, Outgoing, SEQ_LEN};
use super::{seconds, BenchArgs, Target};

/// Bound on opening one connection and its round trip.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The result of an idle run.
#[derive(Debug)]
pub struct IdleReport {
    /// Connections held open.
    connections: usize,
    /// The server's RSS before connecting, KiB.
    server_before: Option<u64>,
    /// The server's RSS with every connection open, KiB.
    server_after: Option<u64>,
    /// Our own RSS before and after, KiB.
    self_before: Option<u64>,
    /// Our own RSS with every connection open, KiB.
    self_after: Option<u64>,
    /// How long opening them took.
    open_time: Duration,
}

/// Opens the connections, lets them settle, reads the memory, closes them.
pub async fn run(args: &BenchArgs, target: &Target) -> Result<IdleReport> {
    let server = args.server_pid.first().copied().map(Pid::Other);
    if server.is_none() {
        eprintln!("duplex bench: idle mode without --server-pid only reports its own memory");
    }
    let server_before = server.and_then(Pid::rss_kib);
    let self_before = Pid::Me.rss_kib();
    let started = std::time::Instant::now();
    let opened: Vec<Result<TcpStream>> = futures_util::stream::iter(0..args.connections)
        .map(|id| async move {
            tokio::time::timeout(OPEN_TIMEOUT, open_and_touch(id, args.size, target))
                .await
                .context("timed out")?
        })
        .buffer_unordered(args.connect_concurrency)
        .collect()
        .await;
    let open_time = started.elapsed();
    let mut streams = Vec::with_capacity(opened.len());
    for (i, result) in opened.into_iter().enumerate() {
        streams
            .push(result.with_context(|| {
                format!("opening connection {} of {}", i + 1, args.connections)
            })?);
    }
    tokio::time::sleep(seconds(args.settle)).await;
    let report = IdleReport {
        connections: streams.len(),
        server_before,
        server_after: server.and_then(Pid::rss_kib),
        self_before,
        self_after: Pid::Me.rss_kib(),
        open_time,
    };
    for tcp in &mut streams {
        let _ = tcp.try_write(&wire::CLOSE_NORMAL);
    }
    Ok(report)
}

/// Opens one connection and makes one round trip of `size` bytes on it.
async fn open_and_touch(id: usize, size: usize, target: &Target) -> Result<TcpStream> {
    let (mut tcp, mut buf) = wire::open(
        &target.host,
        target.port,
        &target.host_header,
        &target.resource,
    )
    .await?;
    let payload = wire::payload(id, size);
    let mut frame = Vec::new();
    Outgoing::new(&payload, rand::random()).append(0, &mut frame);
    tcp.write_all(&frame).await?;
    loop {
        if let Some(frame) = wire::parse(&buf)? {
            let echo = &buf[frame.payload_start..frame.len];
            let whole = frame.is_whole_binary() && echo.len() == payload.len();
            if !whole || echo[..SEQ_LEN] != [0; SEQ_LEN] || echo[SEQ_LEN..] != payload[SEQ_LEN..] {
                bail!("wrong echo");
            }
            buf.advance(frame.len);
            break;
        }
        if tcp.read_buf(&mut buf).await? == 0 {
            bail!("the server closed the connection");
        }
    }
    Ok(tcp)
}

impl IdleReport {
    /// The report, with the options that produced it.
    pub fn into_json(self, args: &BenchArgs) -> serde_json::Value {
        let per_connection = |before: Option<u64>, after: Option<u64>| {
            before.zip(after).map(|(b, a)| {
                ((a as f64 - b as f64) / self.connections as f64 * 100.0).round() / 100.0
            })
        };
        json!({
            "mode": "idle",
            "label": args.label,
            "connections": self.connections,
            "size": args.size,
            "open_seconds": (self.open_time.as_secs_f64() * 1000.0).round() / 1000.0,
            "server_rss_before_kib": self.server_before,
            "server_rss_after_kib": self.server_after,
            "server_kib_per_connection": per_connection(self.server_before, self.server_after),
            "self_rss_before_kib": self.self_before,
            "self_rss_after_kib": self.self_after,
            "self_kib_per_connection": per_connection(self.self_before, self.self_after),
        })
    }
}
