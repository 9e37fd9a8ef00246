//! `duplex connect`: the WebSocket client for debugging.
//!
//! - [`args`]: the command line, checked into [`args::Settings`] (exit 64).
//! - [`dial`]: DNS, TCP, TLS and the handshake, one failure kind each.
//! - [`session`]: the connect / drive / reconnect loop every mode shares.
//! - [`console`]: the plain session, shown by [`pipe`] (stdin/stdout) or
//!   [`interactive`] (line editor, transcript); [`command`] parses its
//!   `/commands` and [`output`] formats what it shows.
//! - [`pusher`] and [`pusher_auth`]: `--pusher`.
//! - [`exit`]: the exit status table and how each ending maps onto it.

mod args;
mod backoff;
mod command;
mod console;
mod dial;
mod exit;
mod interactive;
mod output;
mod pipe;
mod pusher;
mod pusher_auth;
mod session;
mod terminal;

use std::io::{IsTerminal, Write};

use anyhow::Result;
use tokio::sync::mpsc;

pub use args::ConnectArgs;
use args::Settings;
use exit::Exit;
use output::Clock;

/// Runs `duplex connect`; never returns: the exit status tells how the
/// connection ended.
pub fn run(args: ConnectArgs) -> Result<()> {
    // Read the time zone while the process has one thread (see `Clock`).
    let clock = Clock::new();
    let settings = match Settings::from_args(args) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("duplex connect: {e}");
            exit(Exit::Usage.code());
        }
    };
    let interactive = settings.pusher.is_none()
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    if interactive {
        terminal::save();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let mut interrupts = interrupts();
        match &settings.pusher {
            Some(pusher) => pusher::run(&settings, pusher, &mut interrupts).await,
            None if interactive => interactive::run(&settings, clock, &mut interrupts).await,
            None => pipe::run(&settings, &mut interrupts).await,
        }
    });
    if outcome.exit != Exit::Clean {
        eprintln!("duplex connect: {}", outcome.message);
    }
    // Not a return: the runtime would wait for the blocking stdin reader.
    exit(outcome.exit.code())
}

/// Ctrl-C (or SIGTERM): the first is handed to the session, which closes
/// with 1000; the second exits at once with 130.
fn interrupts() -> mpsc::UnboundedReceiver<()> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut pressed = false;
        while signal().await {
            if pressed {
                eprintln!("duplex connect: interrupted");
                exit(130);
            }
            pressed = true;
            let _ = tx.send(());
        }
    });
    rx
}

/// The next SIGINT or SIGTERM; `false` if they cannot be watched.
async fn signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            return tokio::signal::ctrl_c().await.is_ok();
        };
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.is_ok(),
            _ = term.recv() => true,
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.is_ok()
    }
}

/// Flushes stdout, gives the terminal back, and exits.
fn exit(code: i32) -> ! {
    let _ = std::io::stdout().flush();
    terminal::restore();
    std::process::exit(code)
}
