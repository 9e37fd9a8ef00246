//! How messages look: the terminal transcript and the pipe encodings.
//!
//! Pure functions from a message to text or bytes, so that every format is
//! unit-tested without a terminal.

use base64::Engine as _;
use duplex::Message;

use super::args::BinaryMode;
use super::exit::describe_close;

/// Hex dump lines shown for one binary message on the terminal; the rest is
/// summarized.
const MAX_HEXDUMP_LINES: usize = 32;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Received.
    In,
    /// Sent.
    Out,
}

/// Wall-clock timestamps in the local time zone.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The local offset, read once at start (reading it later is unsound
    /// in a multi-threaded process, so `time` refuses to).
    offset: time::UtcOffset,
}

impl Clock {
    /// Reads the local offset. Call before any thread is started; falls
    /// back to UTC.
    pub fn new() -> Self {
        Clock {
            offset: time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC),
        }
    }

    /// `HH:MM:SS.mmm`, now.
    pub fn now(&self) -> String {
        let now = time::OffsetDateTime::now_utc().to_offset(self.offset);
        format!(
            "{:02}:{:02}:{:02}.{:03}",
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond()
        )
    }
}

/// ANSI styling, off unless on a terminal without `NO_COLOR`.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Emit colors.
    pub color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// Timestamps and hex offsets.
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }

    /// The marker of a direction.
    pub fn arrow(self, direction: Direction) -> String {
        match direction {
            Direction::In => self.paint("1;32", "<"),
            Direction::Out => self.paint("1;34", ">"),
        }
    }

    /// Status lines.
    pub fn status(self, text: &str) -> String {
        self.paint("1;33", text)
    }

    /// Errors.
    pub fn error(self, text: &str) -> String {
        self.paint("1;31", text)
    }
}

/// A message as transcript lines (without the timestamp): the first line
/// follows the arrow, the others are indented under it.
pub fn describe(message: &Message, json: bool) -> Vec<String> {
    match message {
        Message::Text(text) => {
            let shown = if json { pretty_json(text) } else { None };
            let shown = shown.unwrap_or_else(|| text.to_string());
            let lines: Vec<String> = shown.split('\n').map(escape_controls).collect();
            if lines.is_empty() {
                vec![String::new()]
            } else {
                lines
            }
        }
        Message::Binary(bytes) => {
            let mut lines = vec![format!("binary, {} bytes", bytes.len())];
            lines.extend(hexdump(bytes, MAX_HEXDUMP_LINES));
            lines
        }
        Message::Ping(payload) => vec![format!("ping{}", control_payload(payload))],
        Message::Pong(payload) => vec![format!("pong{}", control_payload(payload))],
        Message::Close(frame) => vec![format!("close {}", describe_close(frame.as_ref()))],
    }
}

/// A ping or pong payload: quoted if it is printable text, else hex.
fn control_payload(payload: &[u8]) -> String {
    if payload.is_empty() {
        return String::new();
    }
    match std::str::from_utf8(payload) {
        Ok(text) if !text.chars().any(char::is_control) => format!(" {text:?}"),
        _ => format!(" 0x{}", hex(payload)),
    }
}

/// Text with terminal control characters made visible (`\u{1b}`), so a
/// peer cannot move the cursor or retitle the window. Tabs stay.
pub fn escape_controls(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        if c.is_control() && c != '\t' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Pretty-printed JSON, if `text` is JSON.
pub fn pretty_json(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

/// Lowercase hex, no separators.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `xxd`-style lines: offset, 16 bytes in hex, and the printable ASCII.
/// At most `max_lines`, then a line saying how much was left out.
pub fn hexdump(bytes: &[u8], max_lines: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        if i == max_lines {
            lines.push(format!("… {} more bytes", bytes.len() - i * 16));
            break;
        }
        let mut hex_part = String::with_capacity(49);
        for (j, b) in chunk.iter().enumerate() {
            if j == 8 {
                hex_part.push(' ');
            }
            hex_part.push_str(&format!("{b:02x} "));
        }
        let ascii: String = chunk
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        lines.push(format!("{:08x}  {hex_part:<49} |{ascii}|", i * 16));
    }
    lines
}

/// The bytes pipe mode writes to stdout for a received message, or `None`
/// for control frames (they are not data).
pub fn pipe_bytes(message: &Message, mode: Option<BinaryMode>, json: bool) -> Option<Vec<u8>> {
    let payload: &[u8] = match message {
        Message::Text(t) => t.as_bytes(),
        Message::Binary(b) => b,
        _ => return None,
    };
    Some(match mode {
        Some(BinaryMode::Raw) => payload.to_vec(),
        Some(BinaryMode::LengthPrefixed) => {
            let mut out = Vec::with_capacity(4 + payload.len());
            out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
            out.extend_from_slice(payload);
            out
        }
        None => {
            let mut line = match message {
                Message::Text(t) => match json.then(|| pretty_json(t)).flatten() {
                    Some(pretty) => pretty.into_bytes(),
                    None => t.as_bytes().to_vec(),
                },
                _ => base64::engine::general_purpose::STANDARD
                    .encode(payload)
                    .into_bytes(),
            };
            line.push(b'\n');
            line
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexdump_looks_like_xxd() {
        let lines = hexdump(b"hello, world!\x00\x01\x02\xff", 10);
        assert_eq!(
            lines,
            [
                "00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 00 01 02  |hello, world!...|",
                "00000010  ff                                                |.|",
            ]
        );
        let long = hexdump(&[0u8; 100], 2);
        assert_eq!(long.len(), 3);
        assert_eq!(long[2], "… 68 more bytes");
    }

    #[test]
    fn text_is_escaped_and_json_pretty_on_request() {
        assert_eq!(
            describe(&Message::text("a\x1b[2Jb"), false),
            ["a\\u{1b}[2Jb"]
        );
        assert_eq!(
            describe(&Message::text(r#"{"a":1}"#), false),
            [r#"{"a":1}"#]
        );
        assert_eq!(
            describe(&Message::text(r#"{"a":1}"#), true),
            ["{", "  \"a\": 1", "}"]
        );
        assert_eq!(describe(&Message::text("not json"), true), ["not json"]);
    }

    #[test]
    fn control_frames() {
        assert_eq!(
            describe(&Message::Ping("hi".into()), false),
            [r#"ping "hi""#]
        );
        assert_eq!(
            describe(&Message::Pong(vec![0, 1].into()), false),
            ["pong 0x0001"]
        );
        assert_eq!(
            describe(&Message::Pong(Default::default()), false),
            ["pong"]
        );
        let close = Message::Close(Some(duplex::CloseFrame::new(1001, "bye")));
        assert_eq!(
            describe(&close, false),
            [r#"close 1001 (going away), reason "bye""#]
        );
    }

    #[test]
    fn pipe_encodings() {
        let bin = Message::binary(vec![0u8, 0xff]);
        assert_eq!(pipe_bytes(&bin, None, false).unwrap(), b"AP8=\n");
        assert_eq!(
            pipe_bytes(&bin, Some(BinaryMode::Raw), false).unwrap(),
            [0, 0xff]
        );
        assert_eq!(
            pipe_bytes(&bin, Some(BinaryMode::LengthPrefixed), false).unwrap(),
            [0, 0, 0, 2, 0, 0xff]
        );
        assert_eq!(
            pipe_bytes(&Message::text("hi"), None, false).unwrap(),
            b"hi\n"
        );
        assert_eq!(
            pipe_bytes(&Message::Ping(Default::default()), None, false),
            None
        );
    }
}
