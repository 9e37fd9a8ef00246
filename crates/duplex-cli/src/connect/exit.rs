//! How a `duplex connect` run ended, as an exit status and one line of text.
//!
//! Every way a connection can end maps to exactly one [`Exit`]; the table in
//! `--help` ([`EXIT_CODES`]) is generated from the same list, so the two
//! cannot drift apart.

use duplex::{CloseCode, CloseFrame, CloseStatus};

/// The exit statuses of `duplex connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The connection closed cleanly: 1000, 1001 or 1005, or any code when
    /// we started the close (`/close 4000`) and the server answered.
    Clean,
    /// A local failure: reading stdin, writing stdout, a runtime error.
    Local,
    /// The host name did not resolve.
    Dns,
    /// Nothing accepted the TCP connection (refused, unreachable).
    Refused,
    /// The TLS handshake failed (certificate, protocol version, ...).
    Tls,
    /// The server answered the upgrade with an HTTP status other than 101.
    HttpStatus,
    /// The server broke the WebSocket protocol (in the handshake or in a
    /// frame), or a side closed with 1002 or 1007.
    Protocol,
    /// The connection dropped without a close frame (1006).
    Abnormal,
    /// Connecting, the handshake, a keepalive pong or the closing handshake
    /// took too long.
    Timeout,
    /// The connection closed with another close code (1008, 1009, 1011,
    /// 4000-4999, ...).
    CloseCode,
    /// `--pusher`: a channel could not be authorized (auth endpoint failure).
    Auth,
    /// A bad command line (EX_USAGE).
    Usage,
}

impl Exit {
    /// Every status, in the order of the table.
    pub const ALL: [Exit; 12] = [
        Exit::Clean,
        Exit::Local,
        Exit::Dns,
        Exit::Refused,
        Exit::Tls,
        Exit::HttpStatus,
        Exit::Protocol,
        Exit::Abnormal,
        Exit::Timeout,
        Exit::CloseCode,
        Exit::Auth,
        Exit::Usage,
    ];

    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            Exit::Clean => 0,
            Exit::Local => 1,
            Exit::Dns => 3,
            Exit::Refused => 4,
            Exit::Tls => 5,
            Exit::HttpStatus => 6,
            Exit::Protocol => 7,
            Exit::Abnormal => 8,
            Exit::Timeout => 9,
            Exit::CloseCode => 10,
            Exit::Auth => 11,
            Exit::Usage => 64,
        }
    }

    /// What the status means, for the table in `--help`.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Clean => "closed cleanly: 1000, 1001, 1005 (or the code of our /close)",
            Exit::Local => "local failure (stdin, stdout, terminal)",
            Exit::Dns => "DNS failure: the host name did not resolve",
            Exit::Refused => "connection refused (or host unreachable)",
            Exit::Tls => "TLS error (certificate, handshake)",
            Exit::HttpStatus => "the server answered the upgrade with HTTP status != 101",
            Exit::Protocol => "protocol error: bad handshake answer, bad frame, close 1002/1007",
            Exit::Abnormal => "abnormal closure: the connection dropped without a close (1006)",
            Exit::Timeout => "timeout: --timeout, a keepalive pong, or the closing handshake",
            Exit::CloseCode => "closed with another close code (1008, 1009, 1011, 4xxx, ...)",
            Exit::Auth => "--pusher: a channel could not be authorized",
            Exit::Usage => "usage error: bad option or argument",
        }
    }

    /// Whether trying again may help (for `--reconnect`).
    pub fn is_transient(self) -> bool {
        !matches!(self, Exit::Tls | Exit::Usage | Exit::Local | Exit::Auth)
    }
}

/// The exit status table, for `--help`.
pub fn exit_code_table() -> String {
    let mut out = String::from("Exit status:\n");
    for exit in Exit::ALL {
        out.push_str(&format!("  {:>3}  {}\n", exit.code(), exit.meaning()));
    }
    out
}

/// A run that ended: its status and the line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The exit status.
    pub exit: Exit,
    /// One line for stderr or the status line (no `duplex connect:` prefix).
    pub message: String,
}

impl Outcome {
    /// An outcome.
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        Outcome {
            exit,
            message: message.into(),
        }
    }
}

/// The standard name of a close code, for status lines.
pub fn close_code_name(code: CloseCode) -> &'static str {
    match code.0 {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1005 => "no status",
        1006 => "abnormal closure",
        1007 => "invalid payload",
        1008 => "policy violation",
        1009 => "message too big",
        1010 => "mandatory extension",
        1011 => "internal error",
        1012 => "service restart",
        1013 => "try again later",
        1014 => "bad gateway",
        1015 => "TLS handshake",
        3000..=3999 => "registered",
        4000..=4999 => "private use",
        _ => "unknown",
    }
}

/// The exit status for a connection that ended with `code`.
pub fn exit_for_close_code(code: CloseCode) -> Exit {
    match code.0 {
        1000 | 1001 | 1005 => Exit::Clean,
        1002 | 1007 => Exit::Protocol,
        1006 => Exit::Abnormal,
        _ => Exit::CloseCode,
    }
}

/// Describes a close frame: `1000 (normal closure), reason "bye"`.
pub fn describe_close(frame: Option<&CloseFrame>) -> String {
    match frame {
        None => "1005 (no status)".to_string(),
        Some(frame) => {
            let mut text = format!("{} ({})", frame.code, close_code_name(frame.code));
            if !frame.reason.is_empty() {
                text.push_str(&format!(", reason {:?}", frame.reason.as_str()));
            }
            text
        }
    }
}

/// The outcome of a connection that was open, from how it ended.
///
/// `status` is the connection's close status once its stream has ended;
/// `sent` the code of the close frame we sent, if we sent one; `last_error`
/// the last error the stream yielded, for detail.
pub fn classify_end(
    status: Option<CloseStatus>,
    sent: Option<CloseCode>,
    last_error: Option<&duplex::Error>,
) -> Outcome {
    let we_closed = sent.is_some();
    match status {
        Some(CloseStatus::Clean(frame)) => {
            let code = frame.as_ref().map_or(CloseCode::NO_STATUS, |f| f.code);
            // The close we asked for (even /close 4000), answered in kind.
            let exit = if sent == Some(code) {
                Exit::Clean
            } else {
                exit_for_close_code(code)
            };
            let who = if we_closed {
                "connection closed"
            } else {
                "closed by the server"
            };
            Outcome::new(exit, format!("{who}: {}", describe_close(frame.as_ref())))
        }
        Some(CloseStatus::Failed(error)) => {
            let error = duplex::Error::from(error);
            let code = error.close_code().unwrap_or(CloseCode::ABNORMAL);
            let exit = match error {
                duplex::Error::Protocol(_) => Exit::Protocol,
                _ => exit_for_close_code(code),
            };
            Outcome::new(
                exit,
                format!("{error}; closed with {code} ({})", close_code_name(code)),
            )
        }
        Some(CloseStatus::Abnormal) | None if !we_closed || last_error.is_some() => {
            let detail = match last_error {
                Some(duplex::Error::Io(e)) => format!(": {e}"),
                _ => String::new(),
            };
            Outcome::new(
                Exit::Abnormal,
                format!("connection dropped without a close frame (1006 abnormal closure){detail}"),
            )
        }
        Some(CloseStatus::Abnormal) => Outcome::new(
            Exit::Abnormal,
            "the server dropped the connection instead of answering our close frame (1006)",
        ),
        None => Outcome::new(
            Exit::Timeout,
            "the server did not answer our close frame in time",
        ),
    }
}

/// The outcome of a failed opening (TCP, TLS, handshake), from the error
/// `ClientBuilder::handshake` returned.
pub fn classify_handshake_error(error: &duplex::Error) -> Outcome {
    match error {
        duplex::Error::HttpStatus { status, body, .. } => {
            let reason = http::StatusCode::from_u16(*status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("");
            let mut line = format!(
                "the server answered HTTP {status} {reason} instead of 101 Switching Protocols"
            );
            let body = one_line(&String::from_utf8_lossy(body), 200);
            if !body.is_empty() {
                line.push_str(&format!(": {body}"));
            }
            Outcome::new(Exit::HttpStatus, line)
        }
        duplex::Error::Handshake(e) => {
            Outcome::new(Exit::Protocol, format!("invalid handshake answer: {e}"))
        }
        duplex::Error::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Outcome::new(
            Exit::Protocol,
            "the server closed the connection during the handshake (is it a WebSocket server?)",
        ),
        duplex::Error::Io(e) => Outcome::new(
            Exit::Abnormal,
            format!("connection lost during the handshake: {e}"),
        ),
        duplex::Error::Tls(e) => Outcome::new(Exit::Tls, format!("TLS error: {e}")),
        duplex::Error::Timeout(what) => Outcome::new(Exit::Timeout, format!("timed out {what}")),
        duplex::Error::InvalidInput(e) => {
            Outcome::new(Exit::Usage, format!("invalid request: {e}"))
        }
        other => Outcome::new(Exit::Protocol, other.to_string()),
    }
}

/// The outcome of a failed TCP connection.
pub fn classify_connect_error(target: &str, error: &std::io::Error) -> Outcome {
    use std::io::ErrorKind;
    let exit = match error.kind() {
        ErrorKind::TimedOut => Exit::Timeout,
        _ => Exit::Refused,
    };
    let what = match error.kind() {
        ErrorKind::ConnectionRefused => "connection refused".to_string(),
        _ => format!("could not connect: {error}"),
    };
    Outcome::new(exit, format!("{target}: {what}"))
}

/// The outcome of a failed TLS handshake, with a hint for certificate errors.
pub fn classify_tls_error(host: &str, error: &std::io::Error) -> Outcome {
    let text = error.to_string();
    let hint = if text.contains("certificate")
        || text.contains("UnknownIssuer")
        || text.contains("NotValidForName")
    {
        " (use --ca FILE to trust its CA, or --insecure)"
    } else {
        ""
    };
    Outcome::new(
        Exit::Tls,
        format!("TLS handshake with {host} failed: {text}{hint}"),
    )
}

/// Squeezes text onto one line of at most `max` characters.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        joined
    } else {
        let mut cut: String = joined.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct() {
        let mut codes: Vec<i32> = Exit::ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Exit::ALL.len());
        assert_eq!(Exit::Usage.code(), 64);
        assert_eq!(Exit::Clean.code(), 0);
    }

    #[test]
    fn the_table_lists_every_code() {
        let table = exit_code_table();
        for exit in Exit::ALL {
            assert!(table.contains(exit.meaning()));
        }
    }

    #[test]
    fn clean_codes_exit_zero() {
        for code in [1000, 1001, 1005] {
            assert_eq!(exit_for_close_code(CloseCode(code)), Exit::Clean);
        }
        assert_eq!(exit_for_close_code(CloseCode(1002)), Exit::Protocol);
        assert_eq!(exit_for_close_code(CloseCode(1011)), Exit::CloseCode);
        assert_eq!(exit_for_close_code(CloseCode(4001)), Exit::CloseCode);
    }

    #[test]
    fn server_close_is_described() {
        let frame = CloseFrame::new(4001, "app disabled");
        let outcome = classify_end(Some(CloseStatus::Clean(Some(frame))), None, None);
        assert_eq!(outcome.exit, Exit::CloseCode);
        assert_eq!(
            outcome.message,
            "closed by the server: 4001 (private use), reason \"app disabled\""
        );
        let outcome = classify_end(
            Some(CloseStatus::Clean(None)),
            Some(CloseCode::NORMAL),
            None,
        );
        assert_eq!(
            outcome,
            Outcome::new(Exit::Clean, "connection closed: 1005 (no status)")
        );
        // A close we started with 4000 that the server echoed is a success;
        // a 4001 crossing our 1000 is not.
        let frame = CloseFrame::new(4000, "");
        let status = || Some(CloseStatus::Clean(Some(frame.clone())));
        assert_eq!(
            classify_end(status(), Some(CloseCode(4000)), None).exit,
            Exit::Clean
        );
        assert_eq!(
            classify_end(status(), Some(CloseCode::NORMAL), None).exit,
            Exit::CloseCode
        );
    }

    #[test]
    fn abnormal_and_unanswered_closes() {
        assert_eq!(
            classify_end(Some(CloseStatus::Abnormal), None, None).exit,
            Exit::Abnormal
        );
        assert_eq!(classify_end(None, None, None).exit, Exit::Abnormal);
        assert_eq!(
            classify_end(None, Some(CloseCode::NORMAL), None).exit,
            Exit::Timeout
        );
    }

    #[test]
    fn http_status_names_the_status_and_body() {
        let error = duplex::Error::HttpStatus {
            status: 404,
            headers: vec![],
            body: bytes::Bytes::from_static(b"no such\nendpoint\n"),
        };
        let outcome = classify_handshake_error(&error);
        assert_eq!(outcome.exit, Exit::HttpStatus);
        assert_eq!(
            outcome.message,
            "the server answered HTTP 404 Not Found instead of 101 Switching Protocols: no such endpoint"
        );
    }

    #[test]
    fn one_line_squeezes_and_cuts() {
        assert_eq!(one_line(" a\n\tb  c ", 10), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
    }
}
