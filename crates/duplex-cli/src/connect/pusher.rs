//! `--pusher`: a Pusher Channels protocol 7 client that subscribes to
//! channels and prints every event as one JSON line.

use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use duplex::{CloseCode, CloseFrame, Message};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::args::{PusherSettings, Settings};
use super::dial::{Opened, Ws};
use super::exit::{classify_end, Exit, Outcome};
use super::pusher_auth::authorize;
use super::session::{self, flush, queue, Ended, Interrupts, Session};

/// The longest quiet spell before we ping, whatever the server allows
/// (pusher-js uses the same 120 s).
const MAX_ACTIVITY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a `pusher:ping` may wait for its pong (pusher-js: 30 s).
const PONG_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs `--pusher` mode until the connection ends for good.
pub async fn run(
    settings: &Settings,
    pusher: &PusherSettings,
    interrupts: &mut Interrupts,
) -> Outcome {
    let (tx, lines) = mpsc::channel(16);
    if !std::io::stdin().is_terminal() {
        tokio::spawn(async move {
            let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
            while let Ok(Some(line)) = stdin.next_line().await {
                if !line.trim().is_empty() && tx.send(line).await.is_err() {
                    break;
                }
            }
        });
    }
    let mut session = PusherSession {
        pusher: pusher.clone(),
        tls: settings.tls.clone(),
        lines,
        stdin_open: true,
    };
    session::run(settings, &mut session, interrupts).await
}

struct PusherSession {
    /// Channels and how to authorize them.
    pusher: PusherSettings,
    /// TLS settings, for an https:// auth endpoint.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Lines from stdin, sent as they are (client events).
    lines: mpsc::Receiver<String>,
    /// stdin has not ended.
    stdin_open: bool,
}

/// One printed event.
#[derive(Serialize)]
struct EventLine<'a> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'a str>,
    data: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<&'a str>,
}

/// A received frame, decoded.
#[derive(Debug, PartialEq)]
pub struct Event {
    /// The event name.
    pub event: String,
    /// The channel, for channel events.
    pub channel: Option<String>,
    /// The data: parsed when it was a JSON string holding JSON.
    pub data: Value,
    /// The sender of a client event on a presence channel.
    pub user_id: Option<String>,
}

impl Event {
    /// Decodes a server frame.
    pub fn parse(text: &str) -> Result<Event, String> {
        let Value::Object(mut envelope) =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?
        else {
            return Err("not a JSON object".into());
        };
        let Some(Value::String(event)) = envelope.remove("event") else {
            return Err("no \"event\" field".into());
        };
        let text_field = |value: Option<Value>| match value {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let data = match envelope.remove("data") {
            Some(Value::String(s)) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
            Some(value) => value,
            None => Value::Null,
        };
        Ok(Event {
            event,
            channel: text_field(envelope.remove("channel")),
            data,
            user_id: text_field(envelope.remove("user_id")),
        })
    }

    /// The JSON line printed for it.
    pub fn to_line(&self) -> String {
        let line = EventLine {
            event: &self.event,
            channel: self.channel.as_deref(),
            data: self.data.clone(),
            user_id: self.user_id.as_deref(),
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The `pusher:subscribe` frame.
fn subscribe_frame(channel: &str, auth: Option<&super::pusher_auth::Authorization>) -> String {
    let mut data = serde_json::Map::new();
    data.insert("channel".into(), channel.into());
    if let Some(auth) = auth {
        data.insert("auth".into(), auth.auth.clone().into());
        if let Some(channel_data) = &auth.channel_data {
            data.insert("channel_data".into(), channel_data.clone().into());
        }
    }
    serde_json::json!({ "event": "pusher:subscribe", "data": data }).to_string()
}

impl Session for PusherSession {
    fn connected(&mut self, _opened: &Opened) {}

    fn notice(&mut self, text: &str) {
        eprintln!("duplex connect: {text}");
    }

    async fn drive(&mut self, ws: Ws, interrupts: &mut Interrupts) -> Ended {
        let (mut reader, mut writer) = ws.split();
        // Frames waiting to be queued on the connection.
        let mut outbox: VecDeque<Message> = VecDeque::new();
        // Frames are queued and not yet written out.
        let mut dirty = false;
        // We sent the first close frame (this code): the run ends with this
        // connection.
        let mut sent_close: Option<CloseCode> = None;
        // Why we are closing, when it is not the server's doing.
        let mut failure: Option<Outcome> = None;
        let mut last_error = None;
        let mut activity_timeout = MAX_ACTIVITY_TIMEOUT;
        let idle = tokio::time::sleep(activity_timeout);
        tokio::pin!(idle);
        // A `pusher:ping` of ours is unanswered.
        let mut ping_sent = false;
        loop {
            if !dirty && !outbox.is_empty() {
                while let Some(message) = outbox.pop_front() {
                    if let Err(e) = queue(&mut writer, message).await {
                        last_error.get_or_insert(e);
                        outbox.clear();
                    }
                }
                dirty = true;
            }
            tokio::select! {
                item = reader.recv() => match item {
                    Some(Ok(message)) => {
                        idle.as_mut().reset(Instant::now() + activity_timeout);
                        ping_sent = false;
                        let Message::Text(text) = message else {
                            if let Message::Binary(bytes) = message {
                                eprintln!("duplex connect: ignoring a binary message of {} bytes", bytes.len());
                            }
                            continue;
                        };
                        let event = match Event::parse(&text) {
                            Ok(event) => event,
                            Err(e) => {
                                eprintln!("duplex connect: ignoring a frame that is not a Pusher message ({e}): {}", super::exit::one_line(&text, 200));
                                continue;
                            }
                        };
                        if print_line(&event.to_line()).is_err() && sent_close.is_none() {
                            sent_close = Some(CloseCode::GOING_AWAY);
                            outbox.push_back(close_message(CloseCode::GOING_AWAY));
                        }
                        match event.event.as_str() {
                            "pusher:connection_established" => {
                                if let Some(secs) = event.data.get("activity_timeout").and_then(Value::as_u64) {
                                    activity_timeout = Duration::from_secs(secs.max(1)).min(MAX_ACTIVITY_TIMEOUT);
                                    idle.as_mut().reset(Instant::now() + activity_timeout);
                                }
                                let socket_id = event.data.get("socket_id").and_then(Value::as_str).unwrap_or_default().to_string();
                                match self.subscriptions(&socket_id).await {
                                    Ok(frames) => outbox.extend(frames),
                                    Err(e) => {
                                        failure = Some(Outcome::new(Exit::Auth, e));
                                        sent_close = Some(CloseCode::NORMAL);
                                        outbox.push_back(close_message(CloseCode::NORMAL));
                                    }
                                }
                            }
                            "pusher:ping" if sent_close.is_none() => {
                                outbox.push_back(Message::text(r#"{"event":"pusher:pong","data":{}}"#));
                            }
                            _ => {}
                        }
                    }
                    Some(Err(e)) => last_error = Some(e),
                    None => break,
                },
                result = flush(&mut writer), if dirty => {
                    dirty = false;
                    if let Err(e) = result {
                        last_error.get_or_insert(e);
                    }
                }
                line = self.lines.recv(), if self.stdin_open && sent_close.is_none() => match line {
                    Some(line) => outbox.push_back(Message::text(line)),
                    None => self.stdin_open = false,
                },
                _ = &mut idle, if sent_close.is_none() => {
                    if ping_sent {
                        let outcome = Outcome::new(Exit::Timeout, format!("no pusher:pong within {}s: the connection looks dead", PONG_TIMEOUT.as_secs()));
                        return Ended { outcome, by_us: false };
                    }
                    outbox.push_back(Message::text(r#"{"event":"pusher:ping","data":{}}"#));
                    ping_sent = true;
                    idle.as_mut().reset(Instant::now() + PONG_TIMEOUT);
                }
                Some(()) = interrupts.recv(), if sent_close.is_none() => {
                    outbox.clear();
                    outbox.push_back(close_message(CloseCode::NORMAL));
                    sent_close = Some(CloseCode::NORMAL);
                }
            }
        }
        let by_us = sent_close.is_some();
        let outcome = failure.unwrap_or_else(|| {
            classify_end(reader.close_status(), sent_close, last_error.as_ref())
        });
        Ended { outcome, by_us }
    }
}

impl PusherSession {
    /// The subscribe frames for every channel, authorized for `socket_id`.
    async fn subscriptions(&self, socket_id: &str) -> Result<Vec<Message>, String> {
        let mut frames = Vec::with_capacity(self.pusher.channels.len());
        for channel in &self.pusher.channels {
            let auth = authorize(&self.pusher, self.tls.clone(), socket_id, channel).await?;
            frames.push(Message::text(subscribe_frame(channel, auth.as_ref())));
        }
        Ok(frames)
    }
}

fn close_message(code: CloseCode) -> Message {
    Message::Close(Some(CloseFrame::new(code, "")))
}

fn print_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_strings_holding_json_are_parsed() {
        let frame = r#"{"event":"score","channel":"game","data":"{\"points\":10}"}"#;
        let event = Event::parse(frame).unwrap();
        assert_eq!(
            event.to_line(),
            r#"{"event":"score","channel":"game","data":{"points":10}}"#
        );
        let frame = r#"{"event":"note","channel":"c","data":"just text","user_id":"ann"}"#;
        assert_eq!(
            Event::parse(frame).unwrap().to_line(),
            r#"{"event":"note","channel":"c","data":"just text","user_id":"ann"}"#
        );
        let frame = r#"{"event":"pusher:error","data":{"code":4001,"message":"no app"}}"#;
        assert_eq!(
            Event::parse(frame).unwrap().to_line(),
            r#"{"event":"pusher:error","data":{"code":4001,"message":"no app"}}"#
        );
        assert_eq!(
            Event::parse(r#"{"event":"e"}"#).unwrap().to_line(),
            r#"{"event":"e","data":null}"#
        );
        assert!(Event::parse("[1]").is_err());
        assert!(Event::parse(r#"{"data":1}"#).is_err());
    }

    #[test]
    fn subscribe_frames() {
        assert_eq!(
            subscribe_frame("news", None),
            r#"{"data":{"channel":"news"},"event":"pusher:subscribe"}"#
        );
        let auth = super::super::pusher_auth::Authorization {
            auth: "k:s".into(),
            channel_data: Some(r#"{"user_id":"1"}"#.into()),
        };
        let frame: Value =
            serde_json::from_str(&subscribe_frame("presence-x", Some(&auth))).unwrap();
        assert_eq!(frame["data"]["auth"], "k:s");
        assert_eq!(frame["data"]["channel_data"], r#"{"user_id":"1"}"#);
    }
}
