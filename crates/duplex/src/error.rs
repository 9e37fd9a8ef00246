//! The errors of the async API.

use std::io;

use bytes::Bytes;
use duplex_proto::handshake::{HandshakeError, Header};
use duplex_proto::{CloseCode, ProtocolError};

/// Everything that can go wrong with a WebSocket connection.
///
/// The variants keep apart a peer that broke the protocol
/// ([`Protocol`](Error::Protocol)), a limit that was hit
/// ([`MessageTooBig`](Error::MessageTooBig)), a refused or failed opening
/// handshake, misuse of the API, and transport failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the transport failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The peer broke the protocol; the connection was failed with the
    /// matching close code (1002, or 1007 for invalid UTF-8).
    #[error("protocol violation: {0}")]
    Protocol(ProtocolError),
    /// A frame or message exceeded the configured limit; the connection was
    /// failed with close code 1009.
    #[error("message too big: more than {limit} bytes")]
    MessageTooBig {
        /// The limit.
        limit: usize,
    },
    /// The opening handshake was invalid (ours to refuse, or the server's
    /// answer was wrong).
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// The server answered the handshake with a status other than 101.
    #[error("server refused the WebSocket upgrade with HTTP {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The response headers.
        headers: Vec<Header>,
        /// The start of the response body (bounded).
        body: Bytes,
    },
    /// The URL is not a valid `ws://` or `wss://` URL.
    #[error("invalid URL: {0}")]
    InvalidUrl(String),
    /// TLS setup or handshake failed.
    #[error("TLS error: {0}")]
    Tls(String),
    /// An operation took longer than its configured timeout.
    #[error("timed out: {0}")]
    Timeout(&'static str),
    /// The connection is closed: the closing handshake is done, or it failed.
    #[error("connection closed")]
    Closed,
    /// The peer went away without a closing handshake (close code 1006).
    #[error("connection closed abnormally (no close frame)")]
    AbnormalClosure,
    /// The application used the API wrongly; nothing was sent.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
}

impl Error {
    /// The close code this error sent to the peer or reports locally.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::MessageTooBig { .. } => Some(CloseCode::MESSAGE_TOO_BIG),
            Error::AbnormalClosure => Some(CloseCode::ABNORMAL),
            _ => None,
        }
    }
}

impl From<duplex_proto::Error> for Error {
    fn from(e: duplex_proto::Error) -> Self {
        use duplex_proto::Error as P;
        match e {
            P::Protocol(p) => Error::Protocol(p),
            P::MessageTooBig { limit } => Error::MessageTooBig { limit },
            P::InvalidInput(s) => Error::InvalidInput(s),
            P::WriteBufferFull => Error::InvalidInput("outgoing buffer full"),
            P::Closed => Error::Closed,
            P::AbnormalClosure => Error::AbnormalClosure,
            _ => Error::Closed,
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
