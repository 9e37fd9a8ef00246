//! Per-connection settings and limits.

use crate::deflate::DeflateConfig;

/// Settings and limits of one connection. Every limit has a conservative
/// default; raise them for trusted peers.
///
/// ```
/// use duplex_proto::Config;
/// let config = Config::default()
///     .max_message_size(1 << 20)
///     .max_frame_size(256 << 10)
///     .auto_pong(false);
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Largest frame payload accepted from the peer, in bytes; a larger one
    /// fails the connection with 1009. Default 16 MiB.
    pub max_frame_size: usize,
    /// Largest message accepted from the peer, in bytes, after reassembly and
    /// decompression; a larger one fails the connection with 1009. Default 64 MiB.
    pub max_message_size: usize,
    /// Most bytes that may wait in the outgoing buffer; beyond it `send`
    /// refuses with [`Error::WriteBufferFull`](crate::Error::WriteBufferFull)
    /// until the transport drains it. Default 64 MiB.
    pub max_write_buffer: usize,
    /// Buffered bytes above which a driver should flush before accepting
    /// another message ([`Connection::wants_flush`](crate::Connection::wants_flush)).
    /// Default 128 KiB.
    pub write_buffer_high_water: usize,
    /// Largest frame payload this side sends; longer messages go out as
    /// several frames. Default: no limit (one frame per message).
    pub max_send_frame_size: usize,
    /// Answer pings with pongs automatically. Default on.
    pub auto_pong: bool,
    /// permessage-deflate (RFC 7692) settings; `None` turns it off.
    pub deflate: Option<DeflateConfig>,
    /// Most bytes an idle connection keeps in each of its read and staging
    /// buffers ([`Connection::release_idle_buffers`](crate::Connection::release_idle_buffers)):
    /// larger ones are freed when the connection goes idle. Smaller ones are
    /// kept so that exchanging small messages does not allocate for each.
    /// Default 4 KiB; 0 frees every buffer when idle.
    pub idle_buffer_keep: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_write_buffer: 64 << 20,
            write_buffer_high_water: 128 << 10,
            max_send_frame_size: usize::MAX,
            auto_pong: true,
            deflate: None,
            idle_buffer_keep: 4 << 10,
        }
    }
}

impl Config {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`max_message_size`](Self::max_message_size).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`max_write_buffer`](Self::max_write_buffer).
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.max_write_buffer = bytes;
        self
    }

    /// Sets [`write_buffer_high_water`](Self::write_buffer_high_water).
    pub fn write_buffer_high_water(mut self, bytes: usize) -> Self {
        self.write_buffer_high_water = bytes;
        self
    }

    /// Sets [`max_send_frame_size`](Self::max_send_frame_size) (at least 1).
    pub fn max_send_frame_size(mut self, bytes: usize) -> Self {
        self.max_send_frame_size = bytes.max(1);
        self
    }

    /// Sets [`auto_pong`](Self::auto_pong).
    pub fn auto_pong(mut self, on: bool) -> Self {
        self.auto_pong = on;
        self
    }

    /// Sets [`deflate`](Self::deflate).
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.deflate = deflate;
        self
    }

    /// Sets [`idle_buffer_keep`](Self::idle_buffer_keep).
    pub fn idle_buffer_keep(mut self, bytes: usize) -> Self {
        self.idle_buffer_keep = bytes;
        self
    }
}
