//! Echo mode: connections that each keep `depth` messages in flight and
//! check every echo that comes back.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{Buf, BytesMut};
use futures_util::StreamExt;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{JoinSet, LocalSet};

use super::histogram::Histogram;
use super::proc::Pid;
use super::wire::{self, Outgoing, SEQ_LEN};
use super::{micros, seconds, BenchArgs, Target};

/// Bound on opening one connection.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// Where the run is: echoes count only while measuring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Warmup,
    Measure,
    Stop,
}

/// What the connection tasks share (one thread: cells, no locks).
#[derive(Debug)]
struct Shared {
    /// Set by the clock in `run`, read by every task after each read.
    phase: Cell<Phase>,
    /// Round trips of the echoes received while measuring.
    rtt: RefCell<Histogram>,
    /// Echoes received while measuring.
    echoes: Cell<u64>,
    /// Echoes received while measuring whose whole content was compared.
    checked: Cell<u64>,
}

/// The result of an echo run.
#[derive(Debug)]
pub struct EchoReport {
    /// Wall time measured.
    elapsed: Duration,
    /// Echoes received in it.
    echoes: u64,
    /// Echoes whose whole content was compared.
    checked: u64,
    /// Their round-trip times.
    rtt: Histogram,
    /// Our CPU time in the window.
    self_cpu: Option<Duration>,
    /// The server's CPU time in the window.
    server_cpu: Option<Duration>,
}

/// Connects, runs the warmup and the measured window, and checks every echo.
pub async fn run(args: &BenchArgs, target: &Target) -> Result<EchoReport> {
    let streams = connect_all(args, target).await?;
    let shared = Rc::new(Shared {
        phase: Cell::new(Phase::Warmup),
        rtt: RefCell::new(Histogram::default()),
        echoes: Cell::new(0),
        checked: Cell::new(0),
    });
    let local = LocalSet::new();
    let report = local
        .run_until(async {
            let mut tasks = JoinSet::new();
            for (id, (tcp, leftover)) in streams.into_iter().enumerate() {
                let connection = Connection::new(id, args, leftover);
                tasks.spawn_local(connection.drive(tcp, shared.clone()));
            }
            tokio::time::sleep(seconds(args.warmup)).await;
            check_failures(&mut tasks)?;

            let server = args.server_pid.first().copied().map(Pid::Other);
            let cpu_at_start = (Pid::Me.cpu_time(), server.and_then(Pid::cpu_time));
            let start = Instant::now();
            shared.phase.set(Phase::Measure);
            tokio::time::sleep(seconds(args.duration)).await;
            shared.phase.set(Phase::Stop);
            let elapsed = start.elapsed();
            let self_cpu = Pid::Me
                .cpu_time()
                .zip(cpu_at_start.0)
                .map(|(b, a)| b.saturating_sub(a));
            let server_cpu = server
                .and_then(Pid::cpu_time)
                .zip(cpu_at_start.1)
                .map(|(b, a)| b.saturating_sub(a));

            check_failures(&mut tasks)?;
            // Each task stops after its next read; a server that went quiet
            // is not waited for long.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while let Ok(Some(joined)) = tokio::time::timeout_at(deadline, tasks.join_next()).await
            {
                joined.context("a connection task panicked")??;
            }
            tasks.abort_all();
            anyhow::Ok(EchoReport {
                elapsed,
                echoes: shared.echoes.get(),
                checked: shared.checked.get(),
                rtt: shared.rtt.borrow().clone(),
                self_cpu,
                server_cpu,
            })
        })
        .await?;
    if report.echoes == 0 {
        bail!("no echo arrived in {:.1} s", report.elapsed.as_secs_f64());
    }
    Ok(report)
}

/// Fails on the first connection task that already failed.
fn check_failures(tasks: &mut JoinSet<Result<()>>) -> Result<()> {
    while let Some(joined) = tasks.try_join_next() {
        joined.context("a connection task panicked")??;
    }
    Ok(())
}

/// Opens every connection, a bounded number at a time.
async fn connect_all(args: &BenchArgs, target: &Target) -> Result<Vec<(TcpStream, BytesMut)>> {
    let opened: Vec<_> = futures_util::stream::iter(0..args.connections)
        .map(|_| async {
            let open = wire::open(
                &target.host,
                target.port,
                &target.host_header,
                &target.resource,
            );
            match tokio::time::timeout(OPEN_TIMEOUT, open).await {
                Ok(opened) => opened,
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "timed out",
                )),
            }
        })
        .buffer_unordered(args.connect_concurrency)
        .collect()
        .await;
    let total = opened.len();
    opened
        .into_iter()
        .enumerate()
        .map(|(i, result)| {
            result.with_context(|| format!("opening connection {} of {total}", i + 1))
        })
        .collect()
}

/// One connection's sender and checker.
#[derive(Debug)]
struct Connection {
    /// Index, to tell connections apart in errors and payloads.
    id: usize,
    /// The payload, unmasked, to compare echoes with.
    payload: Vec<u8>,
    /// Its frame, re-stamped per send.
    outgoing: Outgoing,
    /// Messages kept in flight.
    depth: usize,
    /// Compare the whole content of every Nth echo.
    check_every: u64,
    /// Bytes received and not yet parsed.
    read_buf: BytesMut,
}

impl Connection {
    fn new(id: usize, args: &BenchArgs, leftover: BytesMut) -> Self {
        let payload = wire::payload(id, args.size);
        let outgoing = Outgoing::new(&payload, rand::random());
        let mut read_buf = leftover;
        read_buf.reserve((2 * outgoing.len()).max(4096));
        Connection {
            id,
            payload,
            outgoing,
            depth: args.depth,
            check_every: args.check_every,
            read_buf,
        }
    }

    /// Sends `depth` messages, then one more for every echo, until the
    /// phase is `Stop`.
    async fn drive(mut self, mut tcp: TcpStream, shared: Rc<Shared>) -> Result<()> {
        let id = self.id;
        // Send times of the messages in flight, oldest first.
        let mut in_flight: VecDeque<Instant> = VecDeque::with_capacity(self.depth);
        let mut write_buf = Vec::with_capacity(self.outgoing.len() * self.depth);
        let (mut next_send, mut next_echo) = (0u64, 0u64);
        let now = Instant::now();
        for _ in 0..self.depth {
            self.outgoing.append(next_send, &mut write_buf);
            next_send += 1;
            in_flight.push_back(now);
        }
        loop {
            if !write_buf.is_empty() {
                tcp.write_all(&write_buf)
                    .await
                    .with_context(|| format!("connection {id}: write"))?;
                write_buf.clear();
            }
            if self.read_buf.capacity() - self.read_buf.len() < 2048 {
                self.read_buf.reserve(self.outgoing.len().max(4096));
            }
            if tcp
                .read_buf(&mut self.read_buf)
                .await
                .with_context(|| format!("connection {id}: read"))?
                == 0
            {
                bail!("connection {id}: the server closed the connection");
            }
            let now = Instant::now();
            let phase = shared.phase.get();
            let mut echoes = 0;
            while let Some(frame) =
                wire::parse(&self.read_buf).with_context(|| format!("connection {id}"))?
            {
                let compared = self
                    .check(&frame, next_echo)
                    .with_context(|| format!("connection {id}, message {next_echo}"))?;
                let sent = in_flight
                    .pop_front()
                    .context("an echo of a message never sent")?;
                if phase == Phase::Measure {
                    shared.rtt.borrow_mut().record(now - sent);
                    shared.echoes.set(shared.echoes.get() + 1);
                    shared
                        .checked
                        .set(shared.checked.get() + u64::from(compared));
                }
                self.read_buf.advance(frame.len);
                next_echo += 1;
                echoes += 1;
            }
            if phase == Phase::Stop {
                let _ = tcp.write_all(&wire::CLOSE_NORMAL).await;
                return Ok(());
            }
            for _ in 0..echoes {
                self.outgoing.append(next_send, &mut write_buf);
                next_send += 1;
                in_flight.push_back(now);
            }
        }
    }

    /// Checks one echo: a whole binary frame, the right length, the expected
    /// sequence number, and on a sample the whole content (then returns
    /// true).
    fn check(&self, frame: &wire::Encoded, seq: u64) -> Result<bool> {
        if !frame.is_whole_binary() {
            bail!(
                "expected a whole binary frame, got first byte {:#04x}",
                frame.first
            );
        }
        if frame.payload_len() != self.payload.len() {
            bail!(
                "echo of {} bytes, sent {}",
                frame.payload_len(),
                self.payload.len()
            );
        }
        let payload = &self.read_buf[frame.payload_start..frame.len];
        let got = u64::from_le_bytes(payload[..SEQ_LEN].try_into().expect("8 bytes"));
        if got != seq {
            bail!("echo carries sequence number {got}");
        }
        if seq.is_multiple_of(self.check_every) {
            if payload[SEQ_LEN..] != self.payload[SEQ_LEN..] {
                bail!("echo content differs from what was sent");
            }
            return Ok(true);
        }
        Ok(false)
    }
}

impl EchoReport {
    /// The report, with the options that produced it.
    pub fn into_json(self, args: &BenchArgs) -> serde_json::Value {
        let secs = self.elapsed.as_secs_f64();
        let rate = self.echoes as f64 / secs;
        let cpu = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1000.0).round() / 1000.0);
        let per_server_cpu = self
            .server_cpu
            .filter(|d| !d.is_zero())
            .map(|d| (self.echoes as f64 / d.as_secs_f64()).round());
        json!({
            "mode": "echo",
            "label": args.label,
            "connections": args.connections,
            "size": args.size,
            "depth": args.depth,
            "seconds": (secs * 1000.0).round() / 1000.0,
            "echoes": self.echoes,
            "checked": self.checked,
            "msg_per_s": rate.round(),
            "mb_per_s": (rate * args.size as f64 / 1e4).round() / 100.0,
            "rtt_p50_us": micros(self.rtt.quantile(0.50)),
            "rtt_p99_us": micros(self.rtt.quantile(0.99)),
            "rtt_p999_us": micros(self.rtt.quantile(0.999)),
            "rtt_max_us": micros(self.rtt.max()),
            "self_cpu_s": cpu(self.self_cpu),
            "server_cpu_s": cpu(self.server_cpu),
            "echoes_per_server_cpu_s": per_server_cpu,
        })
    }
}
