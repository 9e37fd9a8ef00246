//! The opening handshake (RFC 6455 §4), for both roles, without I/O.
//!
//! - A server parses the request with [`parse_request`], checks it with
//!   [`Request::validate`], and answers with [`ServerHandshake::accept`]
//!   (the `101` response) or a rejection ([`HandshakeError::to_response`]).
//! - A client builds its request with [`ClientRequest`], parses the answer
//!   with [`parse_response`] and checks it with [`ClientRequest::check_response`].
//!
//! Both parsers bound what a peer can make us hold: the head may be at most
//! [`Limits::max_head_bytes`] long with at most [`Limits::max_headers`]
//! headers, checked on every partial read so a slow or huge handshake is
//! refused (431) long before it can tie up memory.

mod client;
mod server;

pub use client::{parse_response, ClientRequest, Response};
pub use server::{parse_request, Request, ServerHandshake};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::deflate::NegotiationError;

/// The GUID of RFC 6455 §1.3, appended to the key to compute the accept value.
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key + GUID)).
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(duplex_proto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(WEBSOCKET_GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// Size limits on a handshake's request or response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in the head (request or status line and headers). Default 16 KiB.
    pub max_head_bytes: usize,
    /// Most header lines. Default 64.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 64,
        }
    }
}

/// One header line: the name as sent, and the raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header name (compare case-insensitively).
    pub name: String,
    /// The header value, as bytes (HTTP allows non-UTF-8 values).
    pub value: Vec<u8>,
}

/// Looks up headers by name, case-insensitively.
pub(crate) fn find<'a>(
    headers: &'a [Header],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_slice())
}

/// The comma-separated tokens of all headers named `name`, trimmed.
pub(crate) fn tokens<'a>(
    headers: &'a [Header],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    find(headers, name)
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether some header `name` has the token `token` (case-insensitive).
pub(crate) fn has_token(headers: &[Header], name: &str, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token))
}

/// Copies httparse's borrowed headers into owned ones.
pub(crate) fn own_headers(headers: &[httparse::Header<'_>]) -> Vec<Header> {
    headers
        .iter()
        .map(|h| Header {
            name: h.name.to_string(),
            value: h.value.to_vec(),
        })
        .collect()
}

/// Why a handshake failed. On the server side each maps to an HTTP status
/// ([`http_status`](Self::http_status)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head is not valid HTTP/1.x.
    #[error("malformed HTTP: {0}")]
    Malformed(String),
    /// The head exceeded [`Limits::max_head_bytes`].
    #[error("handshake head larger than {0} bytes")]
    HeadTooLarge(usize),
    /// More than [`Limits::max_headers`] headers.
    #[error("more than {0} headers")]
    TooManyHeaders(usize),
    /// The request method is not GET.
    #[error("method {0} not allowed: a WebSocket handshake is a GET")]
    MethodNotAllowed(String),
    /// The request is HTTP/1.0.
    #[error("HTTP/1.1 or later is required")]
    HttpVersion,
    /// No `Host` header (or more than one).
    #[error("missing or repeated Host header")]
    MissingHost,
    /// No `Upgrade: websocket`.
    #[error("missing \"Upgrade: websocket\" header")]
    MissingUpgrade,
    /// No `Connection` header with the `Upgrade` token.
    #[error("missing \"Connection: Upgrade\" header")]
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` missing, repeated, or not 16 bytes in base64.
    #[error("missing or invalid Sec-WebSocket-Key")]
    InvalidKey,
    /// `Sec-WebSocket-Version` is not 13.
    #[error("unsupported WebSocket version (only 13 is supported)")]
    UnsupportedVersion,
    /// The server answered with a status other than 101.
    #[error("server answered {status} instead of 101 Switching Protocols")]
    UnexpectedStatus {
        /// The status code.
        status: u16,
    },
    /// `Sec-WebSocket-Accept` missing or wrong.
    #[error("wrong or missing Sec-WebSocket-Accept")]
    InvalidAccept,
    /// The server chose a subprotocol the client did not offer.
    #[error("server chose subprotocol {0:?}, which was not offered")]
    UnrequestedSubprotocol(String),
    /// The server answered with an extension the client did not offer.
    #[error("server answered with extension {0:?}, which was not offered")]
    UnrequestedExtension(String),
    /// The permessage-deflate answer is invalid.
    #[error("permessage-deflate negotiation failed: {0}")]
    Deflate(#[from] NegotiationError),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            HandshakeError::HeadTooLarge(_) | HandshakeError::TooManyHeaders(_) => 431,
            HandshakeError::MethodNotAllowed(_) => 405,
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// The complete HTTP response a server sends to refuse the handshake:
    /// the status, the headers the status requires (`Allow: GET` with 405,
    /// `Sec-WebSocket-Version: 13` with 426) and the error as a text body.
    pub fn to_response(&self) -> Vec<u8> {
        error_response(
            self.http_status(),
            self.response_headers(),
            &format!("{self}\n"),
        )
    }

    /// The headers the refusal's status requires: `Allow: GET` with 405,
    /// `Sec-WebSocket-Version: 13` (and the upgrade offer) with 426. For
    /// servers that build their own responses (hyper, axum).
    pub fn response_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self {
            HandshakeError::MethodNotAllowed(_) => &[("Allow", "GET")],
            HandshakeError::UnsupportedVersion => &[
                ("Sec-WebSocket-Version", "13"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
            ],
            _ => &[],
        }
    }
}

/// An HTTP/1.1 error response with a plain-text body, closing the connection.
pub fn error_response(status: u16, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
        reason_phrase(status),
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}

/// The standard reason phrase of the statuses we send.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Whether a header value is safe to write (no CR, LF or NUL), so that
/// application-supplied headers cannot split the response.
pub(crate) fn is_valid_header_value(value: &str) -> bool {
    !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// Whether a header name is an HTTP token.
pub(crate) fn is_valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The part of `buf` a head may occupy: at most `max_head_bytes`, so the
/// parser never looks past the limit however much the peer sent.
pub(crate) fn head_window<'a>(buf: &'a [u8], limits: &Limits) -> &'a [u8] {
    &buf[..buf.len().min(limits.max_head_bytes)]
}

/// The answer when the head in [`head_window`] is incomplete: wait for more
/// bytes, or refuse once the buffer already holds more than a head may be.
///
/// This must not look for `\r\n\r\n` itself: the parser skips empty lines
/// before the start line, so a blank line there does not end a head.
pub(crate) fn incomplete_head<T>(buf: &[u8], limits: &Limits) -> Result<Option<T>, HandshakeError> {
    if buf.len() > limits.max_head_bytes {
        Err(HandshakeError::HeadTooLarge(limits.max_head_bytes))
    } else {
        Ok(None)
    }
}
