//! Close codes and close frames (RFC 6455 §5.5.1, §7.4).

use bytes::{BufMut, Bytes, BytesMut};

use crate::message::Utf8Bytes;

/// A close status code (RFC 6455 §7.4).
///
/// Any `u16` can be held, so that codes a peer sends can be reported; use
/// [`CloseCode::is_sendable`] to know whether a code may appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept (e.g. binary to a text-only server).
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Reported locally, never sent.
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a close frame. Reported locally, never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: a message's data was inconsistent with its type (invalid UTF-8 text).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message was too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway got a bad answer upstream (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: the TLS handshake failed. Reported locally, never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Whether this code may be sent in a close frame: the codes defined by
    /// RFC 6455 §7.4.1 and the IANA registry for use on the wire, and the
    /// ranges 3000–3999 (registered) and 4000–4999 (private use).
    pub fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl std::fmt::Display for CloseCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The body of a close frame: a status code and a UTF-8 reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// Why the connection is closing.
    pub code: CloseCode,
    /// A human-readable reason; at most 123 bytes so the frame fits in 125.
    pub reason: Utf8Bytes,
}

/// The largest close reason that fits a control frame (125 − 2 code bytes).
pub const MAX_CLOSE_REASON: usize = 123;

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    ///
    /// A reason longer than 123 bytes is cut at a character boundary so the
    /// frame stays within the control-frame limit.
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        let mut reason: Utf8Bytes = reason.into();
        if reason.len() > MAX_CLOSE_REASON {
            let mut end = MAX_CLOSE_REASON;
            while !reason.as_str().is_char_boundary(end) {
                end -= 1;
            }
            reason = reason.slice(0..end);
        }
        CloseFrame {
            code: code.into(),
            reason,
        }
    }

    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.code.0);
        out.extend_from_slice(self.reason.as_bytes());
    }

    pub(crate) fn to_payload(frame: Option<&CloseFrame>) -> Bytes {
        let mut out = BytesMut::new();
        if let Some(frame) = frame {
            frame.encode(&mut out);
        }
        out.freeze()
    }
}

impl std::fmt::Display for CloseFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{} ({})", self.code, self.reason.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode(code).is_sendable(), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
        }
    }

    #[test]
    fn long_reason_is_cut_on_char_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let frame = CloseFrame::new(1000, reason);
        assert!(frame.reason.len() <= MAX_CLOSE_REASON);
        assert_eq!(frame.reason.len() % 2, 0);
    }
}
