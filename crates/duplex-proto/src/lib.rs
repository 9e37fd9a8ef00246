//! # duplex-proto: the WebSocket protocol, without I/O
//!
//! RFC 6455 (and RFC 7692 permessage-deflate) as plain state machines: bytes
//! in, messages and bytes out. No sockets, no clocks, no async runtime, so the
//! same core runs under tokio (the `duplex` crate), in tests that feed bytes
//! by hand, and in fuzzers.
//!
//! - [`handshake`]: the opening handshake, client and server.
//! - [`Connection`]: framing, fragmentation, UTF-8 checks, ping/pong and the
//!   closing handshake for an open connection.
//! - [`deflate`]: permessage-deflate negotiation and compression.
//! - [`apply_mask`], [`Utf8Validator`], [`FrameHeader`]: the building blocks,
//!   public for benchmarks and other drivers.
//!
//! ```
//! use duplex_proto::{Config, Connection, Message, Role, CloseCode};
//!
//! let mut client = Connection::new(Role::Client, Config::default(), None);
//! let mut server = Connection::new(Role::Server, Config::default(), None);
//!
//! client.send(Message::text("ping?")).unwrap();
//! while let Some(bytes) = client.poll_transmit() {
//!     server.recv(&bytes);
//! }
//! let got = server.poll_message().unwrap().unwrap();
//! assert_eq!(got, Message::text("ping?"));
//!
//! server.close(CloseCode::NORMAL, "bye").unwrap();
//! while let Some(bytes) = server.poll_transmit() {
//!     client.recv(&bytes);
//! }
//! assert!(matches!(client.poll_message(), Ok(Some(Message::Close(Some(_))))));
//! ```

mod close;
mod config;
mod connection;
pub mod deflate;
mod error;
mod frame;
pub mod handshake;
mod mask;
mod message;
mod utf8;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::Config;
pub use connection::{CloseStatus, Connection, Stats};
pub use error::{Error, ProtocolError};
pub use frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
pub use mask::apply_mask;
pub use message::{Message, Utf8Bytes};
pub use utf8::{InvalidUtf8, Utf8Validator};

/// Which end of the connection we are. Clients mask what they send; servers
/// require masked frames and send unmasked ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that opened the connection.
    Client,
    /// The side that accepted it.
    Server,
}
