//! `duplex bench`: a load generator for WebSocket servers on this machine.
//!
//! - `echo` (default): N connections, each keeping D messages of S bytes in
//!   flight against an echo server; every echo is checked (length, the
//!   connection's sequence number in its first 8 bytes, the whole content on
//!   a sample). Reports msg/s, MB/s, round-trip p50/p99/p999, and the CPU
//!   time of the server (`--server-pid`) and of itself, read from `/proc`.
//! - `idle`: opens N connections, exchanges one message on each, waits, and
//!   reports the server's resident memory per connection.
//! - `fanout`: N subscribers on one channel of `duplex serve`, events
//!   published through its signed HTTP API at a fixed rate; reports
//!   deliveries/s and publish-to-receive p50/p99.
//!
//! It runs on one thread (pin it to a core of its own with `taskset`), only
//! against loopback addresses, and every phase is bounded in time.
//! `benches/run.sh` drives it against duplex and its peers.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use duplex::WsUrl;

mod echo;
mod fanout;
mod histogram;
mod idle;
mod proc;
mod wire;

/// Options of `duplex bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, default_value_t = Mode::Echo)]
    mode: Mode,
    /// The server: a ws:// URL on a loopback address (for fanout, the
    /// `duplex serve` base URL).
    #[arg(long, default_value = "ws://127.0.0.1:9001/")]
    url: String,
    /// Connections (subscribers in fanout mode).
    #[arg(short = 'c', long, default_value_t = 100)]
    connections: usize,
    /// Payload bytes of each message (at least 8: the sequence number); in
    /// idle mode, of the one round trip each connection makes.
    #[arg(short = 's', long, default_value_t = 16)]
    size: usize,
    /// Messages in flight per connection (1: ping-pong).
    #[arg(short = 'd', long, default_value_t = 1)]
    depth: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Seconds of traffic before measuring.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// The server's PID: its CPU time (and in idle mode its memory) is read
    /// from /proc. In fanout mode it may be repeated (a cluster's nodes and
    /// its redis-server): the server CPU is their sum.
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Fanout mode: another node of the same cluster (repeatable).
    /// Subscribers are spread round-robin over --url and these; events are
    /// published through --url.
    #[arg(long)]
    node_url: Vec<String>,
    /// Check the whole content of every Nth echo (length and sequence number
    /// are checked on all).
    #[arg(long, default_value_t = 16)]
    check_every: u64,
    /// Connections opened at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Idle mode: seconds to wait, connections open, before reading the
    /// server's memory.
    #[arg(long, default_value_t = 2.0)]
    settle: f64,
    /// Fanout mode: events published per second.
    #[arg(long, default_value_t = 100)]
    rate: u32,
    /// Fanout mode: the app id.
    #[arg(long, default_value = "duplex", env = "DUPLEX_APP_ID")]
    app_id: String,
    /// Fanout mode: the app key.
    #[arg(long, default_value = "duplex-key", env = "DUPLEX_APP_KEY")]
    app_key: String,
    /// Fanout mode: the app secret, to sign API requests.
    #[arg(long, env = "DUPLEX_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,
    /// Fanout mode: the channel.
    #[arg(long, default_value = "bench")]
    channel: String,
    /// A label copied into the report (e.g. the server's name).
    #[arg(long, default_value = "")]
    label: String,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// Round trips through an echo server.
    Echo,
    /// Server memory per idle connection.
    Idle,
    /// Deliveries through `duplex serve`.
    Fanout,
}

/// The target, checked to be on this machine.
#[derive(Debug, Clone)]
struct Target {
    /// Host to connect to (a loopback address or `localhost`).
    host: String,
    /// TCP port.
    port: u16,
    /// `Host` header value.
    host_header: String,
    /// Request path and query.
    resource: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self> {
        let url = WsUrl::parse(url).with_context(|| format!("bad --url {url:?}"))?;
        if url.tls {
            bail!("duplex bench speaks ws:// only");
        }
        let host = url.host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !loopback {
            bail!("duplex bench only targets this machine (127.0.0.0/8, ::1, localhost), not {host:?}");
        }
        Ok(Target {
            host: host.to_owned(),
            port: url.port,
            host_header: url.host_header,
            resource: url.resource,
        })
    }
}

/// Checks the options, then runs the benchmark and prints its report.
pub fn run(args: BenchArgs) -> Result<()> {
    let target = Target::parse(&args.url)?;
    let nodes = args
        .node_url
        .iter()
        .map(|url| Target::parse(url))
        .collect::<Result<Vec<_>>>()?;
    if !nodes.is_empty() && args.mode != Mode::Fanout {
        bail!("--node-url is for fanout mode");
    }
    if args.server_pid.len() > 1 && args.mode != Mode::Fanout {
        bail!("--server-pid may be repeated in fanout mode only");
    }
    check_bounds(&args)?;
    let open_files = raise_open_files_limit();
    if args.connections + 64 > open_files {
        eprintln!(
            "duplex bench: warning: {} connections but only {open_files} open files allowed",
            args.connections
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = match args.mode {
        Mode::Echo => runtime
            .block_on(echo::run(&args, &target))?
            .into_json(&args),
        Mode::Idle => runtime
            .block_on(idle::run(&args, &target))?
            .into_json(&args),
        Mode::Fanout => runtime
            .block_on(fanout::run(&args, &target, &nodes))?
            .into_json(&args),
    };
    if args.json {
        println!("{report}");
    } else {
        print_human(&report);
    }
    Ok(())
}

/// Every loop of the benchmark is bounded by these.
fn check_bounds(args: &BenchArgs) -> Result<()> {
    let seconds = |name: &str, value: f64, max: f64| {
        if !(0.0..=max).contains(&value) {
            bail!("--{name} must be between 0 and {max} seconds");
        }
        Ok(())
    };
    seconds("duration", args.duration, 3600.0)?;
    seconds("warmup", args.warmup, 600.0)?;
    seconds("settle", args.settle, 600.0)?;
    if !(1..=100_000).contains(&args.connections) {
        bail!("--connections must be between 1 and 100000");
    }
    if !(wire::SEQ_LEN..=64 << 20).contains(&args.size) {
        bail!(
            "--size must be between {} and {} bytes",
            wire::SEQ_LEN,
            64 << 20
        );
    }
    if !(1..=4096).contains(&args.depth) {
        bail!("--depth must be between 1 and 4096");
    }
    if !(1..=100_000).contains(&args.rate) {
        bail!("--rate must be between 1 and 100000");
    }
    if args.check_every == 0 || args.connect_concurrency == 0 {
        bail!("--check-every and --connect-concurrency must be at least 1");
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard one (thousands of
/// connections need it); returns the limit in force.
#[cfg(target_os = "linux")]
fn raise_open_files_limit() -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum.map_or(usize::MAX, |n| n as usize);
        }
    }
    limit.current.map_or(usize::MAX, |n| n as usize)
}

#[cfg(not(target_os = "linux"))]
fn raise_open_files_limit() -> usize {
    usize::MAX
}

/// A duration in seconds from a checked option.
fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

/// Microseconds, for reports.
fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// Prints a report as aligned `key: value` lines.
fn print_human(report: &serde_json::Value) {
    let Some(fields) = report.as_object() else {
        println!("{report}");
        return;
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (key, value) in fields {
        match value {
            serde_json::Value::String(s) => println!("{key:>width$}: {s}"),
            serde_json::Value::Null => println!("{key:>width$}: -"),
            other => println!("{key:>width$}: {other}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use futures_util::StreamExt;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: BenchArgs,
    }

    fn args(extra: &[&str]) -> BenchArgs {
        let base = [
            "bench",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
            "-c",
            "4",
            "--check-every",
            "1",
        ];
        Cli::parse_from(base.iter().chain(extra)).args
    }

    /// An echo server on 127.0.0.1:0 that applies `tamper` to every payload.
    async fn echo_server(tamper: fn(&mut Vec<u8>)) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut ws = duplex::accept(tcp).await?;
                    while let Some(Ok(message)) = ws.next().await {
                        if message.is_data() {
                            let mut payload = message.as_payload().to_vec();
                            tamper(&mut payload);
                            ws.send(duplex::Message::binary(payload)).await?;
                        }
                    }
                    Ok::<_, duplex::Error>(())
                });
            }
        });
        url
    }

    #[tokio::test]
    async fn echo_mode_counts_checked_echoes() {
        let url = echo_server(|_| {}).await;
        let args = args(&["--url", &url, "-s", "300", "-d", "3"]);
        let report = echo::run(&args, &Target::parse(&url).unwrap())
            .await
            .unwrap();
        let json = report.into_json(&args);
        assert!(json["echoes"].as_u64().unwrap() > 0, "{json}");
        assert_eq!(json["echoes"], json["checked"], "{json}");
        assert!(json["self_cpu_s"].is_number(), "{json}");
    }

    #[tokio::test]
    async fn echo_mode_fails_on_a_wrong_echo() {
        for tamper in [
            (|p: &mut Vec<u8>| *p.last_mut().unwrap() ^= 1) as fn(&mut Vec<u8>),
            |p| p[0] ^= 1, // the sequence number
            |p| p.truncate(20),
        ] {
            let url = echo_server(tamper).await;
            let args = args(&["--url", &url, "-s", "32"]);
            assert!(echo::run(&args, &Target::parse(&url).unwrap())
                .await
                .is_err());
        }
    }

    #[tokio::test]
    async fn idle_mode_holds_connections() {
        let url = echo_server(|_| {}).await;
        let args = args(&[
            "--url",
            &url,
            "--settle",
            "0",
            "--server-pid",
            &std::process::id().to_string(),
        ]);
        let json = idle::run(&args, &Target::parse(&url).unwrap())
            .await
            .unwrap()
            .into_json(&args);
        assert_eq!(json["connections"], 4, "{json}");
        assert!(json["server_kib_per_connection"].is_number(), "{json}");
    }

    #[test]
    fn only_loopback_targets_are_accepted() {
        for url in [
            "ws://127.0.0.1:9001/",
            "ws://localhost/",
            "ws://[::1]:80/x",
            "ws://127.1.2.3:1/",
        ] {
            Target::parse(url).unwrap();
        }
        for url in [
            "ws://10.0.0.1/",
            "ws://example.com/",
            "wss://127.0.0.1/",
            "ws://192.168.1.1/",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
        let target = Target::parse("ws://127.0.0.1:6001/app/key?protocol=7").unwrap();
        assert_eq!(
            (target.port, target.resource.as_str()),
            (6001, "/app/key?protocol=7")
        );
    }
}
