//! The connection loop shared by every mode: open, drive the connection
//! until it ends, and with `--reconnect` try again after a backoff.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::{Duration, Instant};

use duplex::{Message, WsWriter};
use futures_util::Sink;
use tokio::sync::mpsc::UnboundedReceiver;

use super::args::Settings;
use super::dial::{self, Opened, Stream, Ws};
use super::exit::{Exit, Outcome};

/// A connection that stayed up this long resets the backoff.
const STABLE_CONNECTION: Duration = Duration::from_secs(10);

/// Ctrl-C presses (the second one exits at once, see `mod.rs`).
pub type Interrupts = UnboundedReceiver<()>;

/// How one connection ended.
#[derive(Debug)]
pub struct Ended {
    /// The status and the line that explains it.
    pub outcome: Outcome,
    /// We ended it (end of stdin, /quit, /close, Ctrl-C): never reconnect.
    pub by_us: bool,
}

/// What a mode does with an open connection.
pub trait Session {
    /// The connection is open.
    fn connected(&mut self, opened: &Opened);
    /// Something to tell the user (reconnecting...).
    fn notice(&mut self, text: &str);
    /// Drives the connection until it ends.
    async fn drive(&mut self, ws: Ws, interrupts: &mut Interrupts) -> Ended;
    /// Waits `delay` before reconnecting; `false` if the user asked to stop
    /// meanwhile.
    async fn pause(&mut self, delay: Duration, interrupts: &mut Interrupts) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => true,
            _ = interrupts.recv() => false,
        }
    }
}

/// Connects and drives connections until one ends for good; returns how.
pub async fn run<S: Session>(
    settings: &Settings,
    session: &mut S,
    interrupts: &mut Interrupts,
) -> Outcome {
    let mut backoff = settings.reconnect.clone();
    loop {
        let ended = match dial::open(settings).await {
            Ok(opened) => {
                let since = Instant::now();
                session.connected(&opened);
                let ended = session.drive(opened.ws, interrupts).await;
                if since.elapsed() >= STABLE_CONNECTION {
                    if let Some(backoff) = &mut backoff {
                        backoff.reset();
                    }
                }
                ended
            }
            Err(outcome) => Ended {
                outcome,
                by_us: false,
            },
        };
        let retry = !ended.by_us && ended.outcome.exit.is_transient();
        let Some(backoff) = backoff.as_mut().filter(|_| retry) else {
            return ended.outcome;
        };
        let Some(delay) = backoff.next_delay(rand::random::<f64>()) else {
            let attempts = backoff.max_attempts();
            let mut outcome = ended.outcome;
            outcome
                .message
                .push_str(&format!("; gave up after {attempts} reconnection attempts"));
            if outcome.exit == Exit::Clean {
                // A clean close exits 0 silently; giving up deserves a word.
                session.notice(&outcome.message);
            }
            return outcome;
        };
        session.notice(&format!(
            "{}; reconnecting in {:.1}s (attempt {} of {})",
            ended.outcome.message,
            delay.as_secs_f64(),
            backoff.attempt(),
            backoff.max_attempts()
        ));
        if !session.pause(delay, interrupts).await {
            return ended.outcome;
        }
    }
}

/// Queues a message on the writer; it goes out with the next flush.
pub async fn queue(writer: &mut WsWriter<Stream>, message: Message) -> duplex::Result<()> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_ready(cx)).await?;
    Pin::new(&mut *writer).start_send(message)
}

/// Writes out everything queued.
pub async fn flush(writer: &mut WsWriter<Stream>) -> duplex::Result<()> {
    poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx)).await
}
