//! Messages: what an application sends and receives.

use bytes::Bytes;

use crate::close::CloseFrame;

/// Bytes that are guaranteed to be valid UTF-8: the payload of a text message.
///
/// Cheap to clone and slice (it is a [`Bytes`]), and derefs to `str`.
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// An empty string.
    pub const fn new() -> Self {
        Utf8Bytes(Bytes::new())
    }

    /// Wraps a static string without copying it.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Checks `bytes` and wraps them without copying.
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, crate::utf8::InvalidUtf8> {
        match simdutf8::basic::from_utf8(&bytes) {
            Ok(_) => Ok(Utf8Bytes(bytes)),
            Err(_) => Err(crate::utf8::InvalidUtf8),
        }
    }

    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_bytes_unchecked(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text. Free: the bytes were validated when the value was made.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        debug_assert!(std::str::from_utf8(&self.0).is_ok());
        // SAFETY: every constructor establishes that `self.0` is valid UTF-8:
        // `try_from_bytes` validates; `From<String>`, `From<&str>` and
        // `from_static` start from `str`; `from_bytes_unchecked` is private to
        // the crate and called only on a message that the incremental
        // validator accepted whole (`Connection::on_data`, after
        // `Utf8Validator::finish`); `slice` keeps character boundaries
        // (asserted). The bytes are immutable (`Bytes`) afterwards. The
        // connection proptests and fuzz targets check text messages are UTF-8.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The bytes of the text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// A sub-slice; `range` must fall on character boundaries.
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> Self {
        assert!(
            self.as_str().is_char_boundary(range.start)
                && self.as_str().is_char_boundary(range.end)
        );
        Utf8Bytes(self.0.slice(range))
    }
}

impl std::ops::Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl std::fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Bytes {
        s.0
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A WebSocket message, or a control frame that the application may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message: valid UTF-8, checked on receipt.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). Received pings are answered automatically
    /// unless [`Config::auto_pong`](crate::Config::auto_pong) is off.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame: received from the peer, or to send. `None` is a close
    /// frame without a status code.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(s: impl Into<Utf8Bytes>) -> Self {
        Message::Text(s.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Message::Binary(b.into())
    }

    /// Whether this is a text or binary message (not a control frame).
    pub fn is_data(&self) -> bool {
        matches!(self, Message::Text(_) | Message::Binary(_))
    }

    /// The payload bytes (empty for a close).
    pub fn as_payload(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(_) => &[],
        }
    }

    /// The payload length in bytes (for a close, the frame body's length).
    pub fn len(&self) -> usize {
        match self {
            Message::Close(Some(f)) => 2 + f.reason.len(),
            Message::Close(None) => 0,
            other => other.as_payload().len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b.into())
    }
}
