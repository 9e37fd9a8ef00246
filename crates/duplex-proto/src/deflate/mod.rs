//! RFC 7692 `permessage-deflate` building blocks: negotiation and the
//! per-message compressor/decompressor.
//!
//! This module is sans-I/O and knows nothing about frames or handshakes; the
//! connection and handshake code wire it in:
//!
//! * [`DeflateConfig`] is what this endpoint is willing to do. It is plain data
//!   with a [`Default`] and chained `with_*` setters.
//! * Client: send [`DeflateConfig::client_offer`] as the
//!   `Sec-WebSocket-Extensions` request header, then pass every
//!   `Sec-WebSocket-Extensions` value of the response to
//!   [`DeflateConfig::accept_client`]. `Err` means the client must fail the
//!   handshake, `Ok(None)` means the server declined compression.
//! * Server: pass every `Sec-WebSocket-Extensions` value of the request to
//!   [`DeflateConfig::negotiate_server`]; `Some((params, value))` means the
//!   response must carry `Sec-WebSocket-Extensions: value`.
//! * Both sides then build one [`PerMessageDeflate`] per connection from the
//!   negotiated [`DeflateParams`]. For each outgoing data message:
//!   if [`PerMessageDeflate::should_compress`], [`PerMessageDeflate::compress`]
//!   it and set RSV1 on its first frame, else send it as is with RSV1 clear.
//!   For each incoming message whose first frame has RSV1 set, call
//!   [`PerMessageDeflate::decompress`] once per frame payload (`is_last` on the
//!   FIN frame). Any [`DeflateError`] fails the connection with
//!   [`DeflateError::close_code`] (1009 too big, 1007 corrupt, 1011 internal).
//!
//! ```text
//! pub const EXTENSION_NAME: &str;
//! pub struct DeflateConfig { server_no_context_takeover, client_no_context_takeover,
//!     server_max_window_bits, client_max_window_bits, compression_level, min_compress_size }
//! impl DeflateConfig {
//!     pub fn client_offer(&self) -> String;
//!     pub fn negotiate_server(&self, header_values: &[&str]) -> Option<(DeflateParams, String)>;
//!     pub fn accept_client(&self, header_values: &[&str])
//!         -> Result<Option<DeflateParams>, NegotiationError>;
//! }
//! pub struct DeflateParams { server_no_context_takeover, client_no_context_takeover,
//!     server_max_window_bits, client_max_window_bits }
//! impl PerMessageDeflate {
//!     pub fn new(params: DeflateParams, is_server: bool, config: &DeflateConfig) -> Self;
//!     pub fn should_compress(&self, len: usize) -> bool;
//!     pub fn compress(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<(), DeflateError>;
//!     pub fn decompress(&mut self, input: &[u8], is_last: bool, out: &mut BytesMut,
//!         max_output: usize) -> Result<(), DeflateError>;
//! }
//! ```
//!
//! # Negotiation decisions
//!
//! * **Invalid offers are declined, not fatal.** RFC 7692 §5 says a server
//!   *declines* (ignores) an offer it does not accept, and §7 lists when it
//!   MUST decline: unknown parameter, invalid value, duplicate parameter. So
//!   the server skips such an offer (and any offer whose header syntax is
//!   malformed) and tries the next one; the connection goes on without
//!   compression if none is left. Other extensions are ignored.
//! * **Names are matched ASCII-case-insensitively**; values may be tokens or
//!   quoted strings (RFC 6455 §9.1), window bits must be `8`..=`15` without
//!   leading zeroes (RFC 7692 §7.1.2).
//! * **Server response.** `server_no_context_takeover` is echoed when offered
//!   and added when configured. `client_no_context_takeover` is echoed when
//!   offered (it is the client's own promise) and added when configured.
//!   `server_max_window_bits` is `min(offer, config)`, sent whenever the offer
//!   had it (accepting it requires echoing it) or our config is below 15.
//!   `client_max_window_bits` is only sent when the offer had it (RFC 7692
//!   §7.1.2.2 forbids it otherwise) and our config is below what the client
//!   already promised; a client that does not offer it keeps window 15 even if
//!   our config is smaller (the offer is still accepted, as python-websockets
//!   does by default).
//! * **Client checks.** Fatal: any extension other than `permessage-deflate`,
//!   `permessage-deflate` twice, unknown/duplicate/invalid parameters,
//!   `client_max_window_bits` without a value, a missing echo of a requested
//!   `server_no_context_takeover` or `server_max_window_bits`, and a
//!   `server_max_window_bits` above the one we offered. A response
//!   `client_max_window_bits` *above* the value we hinted in our offer is
//!   accepted and we use our hinted (smaller) window: RFC 7692 §7.1.2.2 lets
//!   the server ignore the hint and says the client then still stays within
//!   its hint (python-websockets rejects this; the RFC does not require it).
//!   The client offer always carries `client_max_window_bits`, so the server
//!   may constrain us.
//!
//! # Window bits 8
//!
//! zlib (since 1.2.9; older versions had a bug with it) and zlib-rs refuse
//! `windowBits = 8` when compressing raw deflate streams, and flate2 only
//! takes 9..=15. Peers may still negotiate 8 (RFC 7692 allows 8..=15, and
//! Autobahn cases 13.3.x/13.5.x/13.7.x offer `server_max_window_bits=8` to a
//! server and answer `client_max_window_bits=8` to a client). We **accept 8
//! from the peer** and, when we must compress within a 256-byte window, we run
//! the compressor with window bits 9: a zlib(-rs) compressor with a window of
//! `2^w` bytes never emits a match farther than `2^w - 262` bytes
//! (`MAX_DIST = w_size - MIN_LOOKAHEAD`), i.e. at most 250 bytes for `w = 9`,
//! which is within the 256-byte window the peer allowed. This is RFC-legal
//! (the LZ77 window we actually use is ≤ 256 bytes) and a test checks the
//! emitted distances with an independent deflate parser. For inflating, any
//! window at least as large as the peer's decodes its data, so a peer window
//! of 8 is inflated with 9. Our own [`DeflateConfig`] window sizes are clamped
//! to 9..=15, because we must not ask a peer for 8: most zlib-based peers
//! cannot compress with it.
//!
//! # Defaults
//!
//! * `compression_level` = [`DeflateConfig::DEFAULT_COMPRESSION_LEVEL`] (1).
//!   Measured with zlib-rs 0.6 on JSON-like text with context takeover:
//!   level 1 gives ratio 0.29/0.25/0.23 for 64 B/256 B/4 KiB messages at
//!   150–350 MB/s, level 3 gives 0.23/0.19/0.13 but at only 12–160 MB/s and
//!   level 6 0.21/0.18/0.13 at 11–60 MB/s: levels ≥ 2 pay a few µs per
//!   message to build dynamic Huffman trees at every flush, which dominates
//!   for typical small WebSocket messages. Raise it for large, bandwidth-bound
//!   messages.
//! * `min_compress_size` = [`DeflateConfig::DEFAULT_MIN_COMPRESS_SIZE`] (64
//!   bytes). Without context takeover, messages up to 64 bytes do not shrink
//!   at all (measured ratio 1.11 at 16 B, 1.04 at 32 B, 1.00 at 64 B); with
//!   context takeover they shrink, but by fewer bytes than the per-packet
//!   TCP/TLS overhead, so the CPU is better saved.
//! * Window bits default to 15 and both context takeovers are allowed
//!   (best ratio); see the memory table to trade ratio for memory.
//!
//! # Memory per connection
//!
//! State is created lazily on the first message in each direction, and the
//! state of a direction that uses no context takeover is dropped after each
//! message, so an idle connection costs nothing for it. Re-creating costs
//! ~1.4 µs (window 9) to ~3.8 µs (window 15) more per message than resetting
//! a kept compressor (a reset alone costs ~3.5–4.3 µs: it clears the 128 KiB
//! hash table), and ~0.5 µs for a decompressor: cheap next to the memory that
//! idle connections would keep. In release builds a 256-byte JSON message
//! costs ~0.65 µs to compress with context takeover and ~7 µs without (window
//! 15); decompressing ~0.5 µs and ~1.2 µs. Measured heap use of one
//! flate2/zlib-rs 0.6 state (counting allocator), memLevel 8 (fixed by flate2):
//!
//! | window bits | compressor (send side) | decompressor (receive side) |
//! |------------:|-----------------------:|----------------------------:|
//! | 8 (as 9)    | 251,008 B (245 KiB)    | 47,616 B (46.5 KiB)         |
//! | 9           | 251,008 B (245 KiB)    | 47,616 B (46.5 KiB)         |
//! | 10          | 253,056 B (247 KiB)    | 47,616 B (46.5 KiB)         |
//! | 11          | 257,152 B (251 KiB)    | 47,616 B (46.5 KiB)         |
//! | 12          | 265,344 B (259 KiB)    | 47,616 B (46.5 KiB)         |
//! | 13          | 281,728 B (275 KiB)    | 47,616 B (46.5 KiB)         |
//! | 14          | 314,496 B (307 KiB)    | 47,616 B (46.5 KiB)         |
//! | 15          | 380,032 B (371 KiB)    | 47,616 B (46.5 KiB)         |
//!
//! The compressor is `4 * 2^w` (doubled window plus `u16` hash chains) plus
//! a fixed 128 KiB hash head table and 112 KiB of symbol/pending buffers; the
//! decompressor always allocates and keeps a 32 KiB window whatever the
//! window bits (zlib-rs only uses them to check zlib headers), so a smaller
//! `client_max_window_bits` on a server saves no memory with zlib-rs, and a
//! peer exceeding its negotiated window is still decoded. Ask for
//! `server_no_context_takeover` (server) or `client_no_context_takeover`
//! (client) to free the big compressor between messages.

mod codec;
mod negotiate;

pub use codec::PerMessageDeflate;

/// The extension token of RFC 7692 §7.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// Smallest window bits this implementation uses for its own compressor and
/// decompressor, and the smallest it asks a peer for.
pub const MIN_WINDOW_BITS: u8 = 9;

/// Largest (and default) LZ77 window bits: a 32 KiB window.
pub const MAX_WINDOW_BITS: u8 = 15;

/// What this endpoint is willing to do for `permessage-deflate`.
///
/// Plain data: build it with [`Default`] and the `with_*` setters (or a struct
/// literal). Out-of-range values are clamped when used: window bits into
/// 9..=15 and the compression level into 0..=9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeflateConfig {
    /// As a server: always answer with `server_no_context_takeover` (reset
    /// our compressor after every message, freeing its memory). As a client:
    /// request it from the server in the offer.
    pub server_no_context_takeover: bool,
    /// As a client: do not use context takeover for what we send, and tell
    /// the server so in the offer. As a server: require it from the client
    /// in the response.
    pub client_no_context_takeover: bool,
    /// Largest LZ77 window (log2, 9..=15) the server may compress with. As a
    /// server this limits our compressor; as a client values below 15 are
    /// requested in the offer. Default 15.
    pub server_max_window_bits: u8,
    /// Largest LZ77 window (log2, 9..=15) the client may compress with. As a
    /// client this limits our compressor (and is offered as a hint when below
    /// 15); as a server it is requested in the response when the client
    /// supports that. Default 15.
    pub client_max_window_bits: u8,
    /// flate2 compression level (0..=9). Default
    /// [`DeflateConfig::DEFAULT_COMPRESSION_LEVEL`].
    pub compression_level: u32,
    /// Messages shorter than this many bytes are sent uncompressed (RSV1
    /// clear). Default [`DeflateConfig::DEFAULT_MIN_COMPRESS_SIZE`].
    pub min_compress_size: usize,
}

impl DeflateConfig {
    /// Default compression level: 1, the fastest level that compresses (see
    /// the module documentation for measurements).
    pub const DEFAULT_COMPRESSION_LEVEL: u32 = 1;

    /// Default threshold below which messages are sent uncompressed: 64
    /// bytes (see the module documentation).
    pub const DEFAULT_MIN_COMPRESS_SIZE: usize = 64;

    /// Sets [`DeflateConfig::server_no_context_takeover`].
    #[must_use]
    pub fn with_server_no_context_takeover(mut self, value: bool) -> Self {
        self.server_no_context_takeover = value;
        self
    }

    /// Sets [`DeflateConfig::client_no_context_takeover`].
    #[must_use]
    pub fn with_client_no_context_takeover(mut self, value: bool) -> Self {
        self.client_no_context_takeover = value;
        self
    }

    /// Sets [`DeflateConfig::server_max_window_bits`] (clamped into 9..=15).
    #[must_use]
    pub fn with_server_max_window_bits(mut self, bits: u8) -> Self {
        self.server_max_window_bits = clamp_bits(bits);
        self
    }

    /// Sets [`DeflateConfig::client_max_window_bits`] (clamped into 9..=15).
    #[must_use]
    pub fn with_client_max_window_bits(mut self, bits: u8) -> Self {
        self.client_max_window_bits = clamp_bits(bits);
        self
    }

    /// Sets [`DeflateConfig::compression_level`] (clamped into 0..=9).
    #[must_use]
    pub fn with_compression_level(mut self, level: u32) -> Self {
        self.compression_level = level.min(9);
        self
    }

    /// Sets [`DeflateConfig::min_compress_size`].
    #[must_use]
    pub fn with_min_compress_size(mut self, bytes: usize) -> Self {
        self.min_compress_size = bytes;
        self
    }
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
            compression_level: Self::DEFAULT_COMPRESSION_LEVEL,
            min_compress_size: Self::DEFAULT_MIN_COMPRESS_SIZE,
        }
    }
}

/// The `permessage-deflate` parameters negotiated for one connection.
///
/// The window bits are as negotiated, 8..=15 (8 is only ever chosen by the
/// peer; see the module documentation). [`Default`] is the parameterless
/// `permessage-deflate`: context takeover in both directions, 32 KiB windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message.
    pub client_no_context_takeover: bool,
    /// The server compresses with an LZ77 window of at most `2^bits` bytes.
    pub server_max_window_bits: u8,
    /// The client compresses with an LZ77 window of at most `2^bits` bytes.
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

/// Why a compressed message could not be (de)compressed. After any error the
/// connection must be failed; the affected state has been discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeflateError {
    /// The inflated message would exceed the size limit (close code 1009).
    #[error("decompressed message exceeds the size limit")]
    TooBig,
    /// The compressed data is not valid DEFLATE for the negotiated window
    /// (close code 1007, as Autobahn and common practice expect).
    #[error("invalid compressed data: {0}")]
    Corrupt(String),
    /// The compressor failed; should not happen (close code 1011).
    #[error("compression failed: {0}")]
    Internal(String),
}

impl DeflateError {
    /// The RFC 6455 close code to fail the connection with: 1009 for
    /// [`DeflateError::TooBig`], 1007 for [`DeflateError::Corrupt`], 1011
    /// for [`DeflateError::Internal`].
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TooBig => 1009,
            Self::Corrupt(_) => 1007,
            Self::Internal(_) => 1011,
        }
    }
}

/// Why a client must fail the handshake after reading the server's
/// `Sec-WebSocket-Extensions` response (RFC 6455 §9.1, RFC 7692 §7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NegotiationError {
    /// The header does not follow the RFC 6455 §9.1 grammar.
    #[error("malformed Sec-WebSocket-Extensions header")]
    Malformed,
    /// The server accepted an extension the client did not offer.
    #[error("server accepted extension {0:?}, which was not offered")]
    UnexpectedExtension(String),
    /// `permessage-deflate` appears more than once in the response.
    #[error("server accepted permessage-deflate more than once")]
    DuplicateExtension,
    /// A parameter RFC 7692 does not define for a response.
    #[error("unknown permessage-deflate parameter {0:?}")]
    UnknownParameter(String),
    /// The same parameter appears twice.
    #[error("duplicate permessage-deflate parameter {0}")]
    DuplicateParameter(&'static str),
    /// A parameter has a missing, superfluous or out-of-range value.
    #[error("invalid value for permessage-deflate parameter {0}")]
    InvalidValue(&'static str),
    /// The response omits a parameter the offer requested
    /// (`server_no_context_takeover` or `server_max_window_bits`).
    #[error("server response lacks the requested {0}")]
    MissingParameter(&'static str),
    /// The response's `server_max_window_bits` is larger than the one offered.
    #[error("server_max_window_bits={got} exceeds the offered {offered}")]
    WindowTooLarge {
        /// The value in our offer.
        offered: u8,
        /// The value in the server's response.
        got: u8,
    },
}

/// Clamps configured window bits into the range we use ourselves.
fn clamp_bits(bits: u8) -> u8 {
    bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_setters() {
        let c = DeflateConfig::default();
        assert!(!c.server_no_context_takeover && !c.client_no_context_takeover);
        assert_eq!(
            (c.server_max_window_bits, c.client_max_window_bits),
            (15, 15)
        );
        assert_eq!(c.compression_level, 1);
        assert_eq!(c.min_compress_size, 64);

        let c = DeflateConfig::default()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true)
            .with_server_max_window_bits(8)
            .with_client_max_window_bits(20)
            .with_compression_level(42)
            .with_min_compress_size(0);
        assert!(c.server_no_context_takeover && c.client_no_context_takeover);
        assert_eq!(
            (c.server_max_window_bits, c.client_max_window_bits),
            (9, 15)
        );
        assert_eq!((c.compression_level, c.min_compress_size), (9, 0));
    }

    #[test]
    fn close_codes() {
        assert_eq!(DeflateError::TooBig.close_code(), 1009);
        assert_eq!(DeflateError::Corrupt(String::new()).close_code(), 1007);
        assert_eq!(DeflateError::Internal(String::new()).close_code(), 1011);
    }

    #[test]
    fn params_default_is_parameterless_extension() {
        let p = DeflateParams::default();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (15, 15)
        );
        assert!(!p.server_no_context_takeover && !p.client_no_context_takeover);
    }
}
