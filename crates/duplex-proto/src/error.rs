//! Errors of the protocol layer.
//!
//! Every way a peer can break RFC 6455 is one [`ProtocolError`] variant, and
//! each maps to exactly one close code ([`Error::close_code`]). Misuse of the
//! API by the application is kept apart ([`Error::InvalidInput`]), as are
//! limits ([`Error::MessageTooBig`]) and the end of the connection.

use crate::close::{CloseCode, CloseFrame};

/// A violation of RFC 6455 (or RFC 7692) by the peer. All map to close 1002,
/// except where noted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode reserved for future use (§5.2).
    #[error("reserved opcode {0:#x}")]
    ReservedOpCode(u8),
    /// RSV1, RSV2 or RSV3 set without an extension that defines it (§5.2).
    #[error("reserved bit set without a negotiated extension")]
    ReservedBits,
    /// A 64-bit payload length with the most significant bit set (§5.2).
    #[error("invalid 64-bit payload length")]
    InvalidLength,
    /// A server received an unmasked frame (§5.1).
    #[error("client frame was not masked")]
    UnmaskedFrame,
    /// A client received a masked frame (§5.1).
    #[error("server frame was masked")]
    MaskedFrame,
    /// A control frame longer than 125 bytes (§5.5).
    #[error("control frame payload exceeds 125 bytes")]
    ControlFrameTooBig,
    /// A control frame without FIN (§5.5).
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A continuation frame with no message in progress (§5.4).
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished (§5.4).
    #[error("new data frame before the fragmented message ended")]
    ExpectedContinuation,
    /// A close frame whose body is one byte long (§5.5.1).
    #[error("close frame with a 1-byte body")]
    InvalidCloseFrame,
    /// A close code that may not be sent on the wire (§7.4).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// Text (or a close reason) that is not valid UTF-8 (§8.1): close 1007.
    #[error("invalid UTF-8 in a text message or close reason")]
    InvalidUtf8,
    /// A compressed message that does not inflate (RFC 7692 §6.2): close 1007.
    #[error("compressed message does not inflate: {0}")]
    InvalidCompressedData(String),
    /// RSV1 on a continuation or control frame (RFC 7692 §6.1).
    #[error("compressed bit on a continuation or control frame")]
    MisplacedCompressedBit,
}

impl ProtocolError {
    /// The close code that reports this violation to the peer.
    pub fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCompressedData(_) => {
                CloseCode::INVALID_PAYLOAD
            }
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// Errors of the protocol state machine.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the protocol; the connection is being failed with the
    /// matching close code.
    #[error("protocol violation: {0}")]
    Protocol(#[from] ProtocolError),
    /// A frame or message exceeded the configured limit: close 1009.
    #[error("message too big: more than {limit} bytes")]
    MessageTooBig {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The application used the API wrongly (e.g. a 126-byte ping, a close
    /// code that may not be sent, sending after close). Nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The outgoing buffer holds more than the configured maximum; flush
    /// before sending more.
    #[error("outgoing buffer full")]
    WriteBufferFull,
    /// The connection is closed: no more messages can be sent or received.
    #[error("connection closed")]
    Closed,
    /// The transport ended without a closing handshake (close code 1006).
    #[error("connection closed abnormally (no close frame)")]
    AbnormalClosure,
}

impl Error {
    /// The close code sent to the peer because of this error, if any.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::MessageTooBig { .. } => Some(CloseCode::MESSAGE_TOO_BIG),
            _ => None,
        }
    }

    /// The close frame sent to the peer because of this error, if any.
    pub fn close_frame(&self) -> Option<CloseFrame> {
        let code = self.close_code()?;
        Some(CloseFrame::new(code, self.to_string()))
    }
}
