//! The interactive mode's input line: a message to send or a `/command`.

use base64::Engine as _;
use bytes::Bytes;
use duplex::{CloseCode, Message};

/// The `/help` text.
pub const HELP: &str = "\
Type a line to send it as a text message. Commands:
  /ping [text]              send a ping (the pong shows as < pong)
  /close [code] [reason]    close with a code (default 1000) and reason, then quit
  /binary <hex>             send a binary message: /binary 48 65 6c 6c 6f
  /binary base64:<data>     ... or from base64: /binary base64:SGVsbG8=
  /help                     this help
  /quit                     close (1000) and quit; Ctrl-D and Ctrl-C too
A line starting with // sends the text after the first /.";

/// What an input line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Send this message (text, binary or ping).
    Send(Message),
    /// Close with this code and reason, then quit.
    Close(CloseCode, String),
    /// Show the help.
    Help,
    /// Close with 1000 and quit.
    Quit,
    /// Nothing (an empty line).
    Nothing,
}

/// Parses one input line; the error is shown to the user.
pub fn parse(line: &str) -> Result<Command, String> {
    if line.is_empty() {
        return Ok(Command::Nothing);
    }
    if let Some(text) = line.strip_prefix("//") {
        return Ok(Command::Send(Message::text(format!("/{text}"))));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Command::Send(Message::text(line)));
    };
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    let rest = rest.trim();
    match name {
        "ping" => {
            if rest.len() > 125 {
                return Err("a ping carries at most 125 bytes".into());
            }
            Ok(Command::Send(Message::Ping(Bytes::copy_from_slice(
                rest.as_bytes(),
            ))))
        }
        "close" => parse_close(rest),
        "binary" | "bin" => parse_binary(rest).map(|b| Command::Send(Message::Binary(b))),
        "help" | "?" => Ok(Command::Help),
        "quit" | "exit" | "q" => Ok(Command::Quit),
        other => Err(format!(
            "unknown command /{other}; /help lists them (// sends a line starting with /)"
        )),
    }
}

fn parse_close(rest: &str) -> Result<Command, String> {
    if rest.is_empty() {
        return Ok(Command::Close(CloseCode::NORMAL, String::new()));
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let code: u16 = code
        .parse()
        .map_err(|_| format!("/close {code}: the code is a number, e.g. /close 1000 done"))?;
    let code = CloseCode(code);
    if !code.is_sendable() {
        return Err(format!(
            "/close {code}: this code may not be sent (1000-1003, 1007-1014, 3000-4999)"
        ));
    }
    let reason = reason.trim();
    if reason.len() > duplex::proto::MAX_CLOSE_REASON {
        return Err("a close reason has at most 123 bytes".into());
    }
    Ok(Command::Close(code, reason.to_string()))
}

/// `48 65 6c`, `48656c`, `hex:48656c` or `base64:SGVs`.
pub fn parse_binary(rest: &str) -> Result<Bytes, String> {
    if let Some(b64) = rest.strip_prefix("base64:") {
        return base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map(Bytes::from)
            .map_err(|e| format!("/binary: invalid base64: {e}"));
    }
    let hex: String = rest
        .strip_prefix("hex:")
        .unwrap_or(rest)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if hex.is_empty() {
        return Err("/binary needs data: /binary 48 65 6c 6c 6f or /binary base64:SGVsbG8=".into());
    }
    if !hex.len().is_multiple_of(2) {
        return Err("/binary: an odd number of hex digits".into());
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map(Bytes::from)
        .map_err(|_| "/binary: not hex (prefix base64: for base64)".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_escapes() {
        assert_eq!(parse("hello"), Ok(Command::Send(Message::text("hello"))));
        assert_eq!(parse("//etc"), Ok(Command::Send(Message::text("/etc"))));
        assert_eq!(parse(""), Ok(Command::Nothing));
        assert!(parse("/frobnicate").is_err());
    }

    #[test]
    fn ping_close_quit() {
        assert_eq!(
            parse("/ping"),
            Ok(Command::Send(Message::Ping(Bytes::new())))
        );
        assert_eq!(
            parse("/ping are you there"),
            Ok(Command::Send(Message::Ping("are you there".into())))
        );
        assert!(parse(&format!("/ping {}", "x".repeat(126))).is_err());
        assert_eq!(
            parse("/close"),
            Ok(Command::Close(CloseCode::NORMAL, String::new()))
        );
        assert_eq!(
            parse("/close 4000 bye now"),
            Ok(Command::Close(CloseCode(4000), "bye now".into()))
        );
        assert!(parse("/close 1006").is_err());
        assert!(parse("/close soon").is_err());
        assert_eq!(parse("/quit"), Ok(Command::Quit));
        assert_eq!(parse("/help"), Ok(Command::Help));
    }

    #[test]
    fn binary_forms() {
        let hello = Bytes::from_static(b"Hello");
        assert_eq!(parse_binary("48 65 6c 6c 6f"), Ok(hello.clone()));
        assert_eq!(parse_binary("48656C6C6F"), Ok(hello.clone()));
        assert_eq!(parse_binary("hex:48656c6c6f"), Ok(hello.clone()));
        assert_eq!(parse_binary("base64:SGVsbG8="), Ok(hello));
        assert!(parse_binary("486").is_err());
        assert!(parse_binary("zz").is_err());
        assert!(parse_binary("").is_err());
        assert!(parse_binary("base64:!!").is_err());
    }
}
