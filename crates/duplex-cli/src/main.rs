//! `duplex`: the command-line tool of the duplex WebSocket stack.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod autobahn;
mod bench;
mod connect;
mod echo;
mod serve;

/// duplex: a WebSocket stack — real-time server, echo server, conformance client.
#[derive(Debug, Parser)]
#[command(name = "duplex", version, long_version = long_version(), about)]
struct Cli {
    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DUPLEX_LOG_FORMAT")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// `duplex --version`: the version, then what this build can do: the Cargo
/// features of the `duplex` library it was built with, and the built-in
/// protocol extensions and cluster adapters.
fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let features = if duplex::FEATURES.is_empty() {
            "none".to_string()
        } else {
            duplex::FEATURES.join(", ")
        };
        format!(
            "{}\nfeatures: {features}\nextensions: permessage-deflate\nadapters: memory, redis",
            env!("CARGO_PKG_VERSION")
        )
    })
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

// Parsed once at start-up, so the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the real-time server (Pusher Channels protocol 7) with its demo pages.
    Serve(serve::ServeArgs),
    /// Run a WebSocket echo server (for conformance tests and benchmarks).
    Echo(echo::EchoArgs),
    /// Drive the Autobahn TestSuite's client mode (getCaseCount, runCase, updateReports).
    AutobahnClient(autobahn::AutobahnArgs),
    /// Load-test a WebSocket server on this machine: echo round trips, idle memory, fan-out.
    Bench(bench::BenchArgs),
    /// Connect to a WebSocket server: interactive on a terminal, lines in and out in a pipe, or Pusher events as JSON.
    Connect(connect::ConnectArgs),
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> Result<()> {
    // A bad command line exits with 64 (EX_USAGE), as a bad config does.
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        let _ = e.print();
        std::process::exit(if e.use_stderr() { 64 } else { 0 })
    });
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Echo(args) => echo::run(args),
        Command::AutobahnClient(args) => autobahn::run(args),
        Command::Connect(args) => connect::run(args),
        Command::Bench(args) => bench::run(args),
    }
}
