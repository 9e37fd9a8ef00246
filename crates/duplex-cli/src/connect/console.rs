//! The plain WebSocket session behind pipe and interactive mode: user input
//! goes out, received messages go to a [`View`], pings keep the connection
//! honest.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use duplex::{CloseCode, CloseFrame, Message};
use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use super::dial::{Opened, Ws};
use super::exit::{classify_end, Exit, Outcome};
use super::output::Direction;
use super::session::{flush, queue, Ended, Interrupts, Session};

/// Inputs queued together before a flush, and messages shown together
/// before the output is flushed.
const MAX_BATCH: usize = 64;

/// The payload of `--ping-interval` pings, to tell their pongs apart.
const KEEPALIVE: &[u8] = b"duplex-keepalive";

/// What the user side asks for.
#[derive(Debug)]
pub enum Input {
    /// Send this message.
    Send(Message),
    /// Close with this code and reason; the run ends.
    Close(CloseCode, String),
    /// Close with 1000; the run ends (end of stdin, /quit).
    Quit,
}

/// Where messages and notices are shown.
pub trait View {
    /// The connection is open.
    fn connected(&mut self, opened: &Opened);
    /// A message went out or came in. An error means the output is gone
    /// (stdout closed): the connection is then closed.
    fn message(&mut self, direction: Direction, message: &Message) -> io::Result<()>;
    /// Pushes out what `message` buffered.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// A status line.
    fn notice(&mut self, text: &str);
}

/// Pipe and interactive mode: one [`View`], one stream of [`Input`].
pub struct Console<V> {
    /// Where things are shown.
    pub view: V,
    /// What the user sends; outlives connections (`--reconnect`).
    pub inputs: mpsc::Receiver<Input>,
    /// `--ping-interval`.
    pub ping_interval: Option<Duration>,
    /// Show keepalive pings and pongs.
    pub verbose: bool,
    /// An input taken while waiting to reconnect, sent first on the next
    /// connection.
    pub stashed: Option<Input>,
}

impl<V: View> Session for Console<V> {
    fn connected(&mut self, opened: &Opened) {
        self.view.connected(opened);
    }

    fn notice(&mut self, text: &str) {
        self.view.notice(text);
    }

    async fn drive(&mut self, ws: Ws, interrupts: &mut Interrupts) -> Ended {
        let (mut reader, mut writer) = ws.split();
        // A message is queued and not yet written out.
        let mut dirty = false;
        // The code of the close frame we sent first: once set, the run ends
        // with this connection.
        let mut sent_close: Option<CloseCode> = None;
        let mut last_error = None;
        let mut keepalive = self.ping_interval.map(keepalive_timer);
        // A keepalive ping is unanswered.
        let mut pong_due = false;
        // The writer still takes messages (it refuses once the connection
        // is closing or gone).
        let mut writable = true;
        let mut stashed = self.stashed.take();
        loop {
            tokio::select! {
                item = reader.recv() => {
                    // Show what is already readable too, then flush the output once.
                    let mut item = item;
                    let mut output_gone = false;
                    let mut ended = false;
                    for shown in 1.. {
                        match item {
                            Some(Ok(message)) => {
                                let keepalive_pong = matches!(&message, Message::Pong(p) if p == KEEPALIVE);
                                pong_due &= !keepalive_pong;
                                if (!keepalive_pong || self.verbose) && self.view.message(Direction::In, &message).is_err() {
                                    output_gone = true;
                                }
                            }
                            Some(Err(e)) => last_error = Some(e),
                            None => {
                                ended = true;
                                break;
                            }
                        }
                        if shown == MAX_BATCH {
                            break;
                        }
                        match reader.recv().now_or_never() {
                            Some(next) => item = next,
                            None => break,
                        }
                    }
                    output_gone |= self.view.flush().is_err();
                    if ended {
                        break;
                    }
                    if output_gone && sent_close.is_none() {
                        // Nobody reads our output any more: leave politely.
                        sent_close = Some(CloseCode::GOING_AWAY);
                        dirty |= queue(&mut writer, close_message(CloseCode::GOING_AWAY, "")).await.is_ok();
                    }
                }
                result = flush(&mut writer), if dirty => {
                    dirty = false;
                    if let Err(e) = result {
                        last_error.get_or_insert(e);
                    }
                }
                input = next_input(&mut stashed, &mut self.inputs), if writable && !dirty && sent_close.is_none() => {
                    // Queue what is already waiting too, and flush once.
                    let mut input = input;
                    for queued in 1.. {
                        let message = match input {
                            Some(Input::Send(message)) => message,
                            Some(Input::Close(code, reason)) => close_message(code, &reason),
                            Some(Input::Quit) | None => close_message(CloseCode::NORMAL, ""),
                        };
                        let closing = match &message {
                            Message::Close(frame) => Some(frame.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code)),
                            _ => None,
                        };
                        if queue(&mut writer, message.clone()).await.is_err() {
                            // Closed under us: the end of the stream will say how.
                            writable = false;
                            break;
                        }
                        dirty = true;
                        sent_close = closing;
                        let _ = self.view.message(Direction::Out, &message);
                        if closing.is_some() || queued == MAX_BATCH {
                            break;
                        }
                        match self.inputs.try_recv() {
                            Ok(next) => input = Some(next),
                            Err(_) => break,
                        }
                    }
                }
                _ = tick(&mut keepalive), if writable && !dirty && sent_close.is_none() => {
                    if pong_due {
                        let secs = self.ping_interval.unwrap_or_default().as_secs_f64();
                        let outcome = Outcome::new(Exit::Timeout, format!("no pong within {secs}s (--ping-interval): the connection looks dead"));
                        return Ended { outcome, by_us: false };
                    }
                    let ping = Message::Ping(Bytes::from_static(KEEPALIVE));
                    if queue(&mut writer, ping.clone()).await.is_ok() {
                        dirty = true;
                        pong_due = true;
                        if self.verbose {
                            let _ = self.view.message(Direction::Out, &ping);
                        }
                    } else {
                        writable = false;
                    }
                }
                Some(()) = interrupts.recv(), if writable && !dirty && sent_close.is_none() => {
                    let message = close_message(CloseCode::NORMAL, "");
                    if queue(&mut writer, message.clone()).await.is_ok() {
                        dirty = true;
                        sent_close = Some(CloseCode::NORMAL);
                        let _ = self.view.message(Direction::Out, &message);
                    } else {
                        writable = false;
                    }
                }
            }
        }
        let outcome = classify_end(reader.close_status(), sent_close, last_error.as_ref());
        Ended {
            outcome,
            by_us: sent_close.is_some(),
        }
    }

    async fn pause(&mut self, delay: Duration, interrupts: &mut Interrupts) -> bool {
        let deadline = tokio::time::sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return true,
                _ = interrupts.recv() => return false,
                input = self.inputs.recv(), if self.stashed.is_none() => match input {
                    Some(Input::Send(message)) => self.stashed = Some(Input::Send(message)),
                    _ => return false,
                },
            }
        }
    }
}

fn close_message(code: CloseCode, reason: &str) -> Message {
    Message::Close(Some(CloseFrame::new(code, reason)))
}

/// The stashed input first, then the channel's.
async fn next_input(
    stashed: &mut Option<Input>,
    inputs: &mut mpsc::Receiver<Input>,
) -> Option<Input> {
    match stashed.take() {
        Some(input) => Some(input),
        None => inputs.recv().await,
    }
}

fn keepalive_timer(period: Duration) -> Interval {
    let mut interval = tokio::time::interval_at(Instant::now() + period, period);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval
}

/// The next keepalive tick; never, without `--ping-interval`.
async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}
