//! # duplex: WebSockets for tokio
//!
//! An async WebSocket client and server (RFC 6455, with RFC 7692
//! permessage-deflate) over any `AsyncRead + AsyncWrite`, built on the
//! sans-I/O [`duplex_proto`] core. A [`WebSocket`] is a `Stream` of received
//! [`Message`]s and a `Sink` of messages to send; payloads are
//! [`bytes::Bytes`], and text is guaranteed UTF-8.
//!
//! - [`connect`] / [`ClientBuilder`]: open `ws://` and `wss://` connections.
//! - [`accept`] / [`Acceptor`] / [`Handshake`]: accept them, with a look at
//!   the request first if you want.
//! - [`WebSocket::split`]: a reader and a writer for two tasks.
//! - [`tls`]: rustls settings; [`hyper`](mod@crate::hyper): upgrade requests
//!   of a hyper or axum server.
//!
//! An echo server and a client, in one runnable program:
//!
//! ```
//! use duplex::Message;
//! use futures_util::{SinkExt, StreamExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), duplex::Error> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(async move {
//!     let (tcp, _) = listener.accept().await?;
//!     let mut ws = duplex::accept(tcp).await?;
//!     while let Some(Ok(msg)) = ws.next().await {
//!         if msg.is_data() {
//!             ws.send(msg).await?;
//!         }
//!     }
//!     Ok::<_, duplex::Error>(())
//! });
//!
//! let (mut ws, _) = duplex::connect(&url).await?;
//! ws.send(Message::text("hello")).await?;
//! assert_eq!(ws.next().await.unwrap()?, Message::text("hello"));
//! ws.close(duplex::CloseCode::NORMAL, "done").await?;
//! # Ok(()) }
//! ```

mod client;
mod error;
#[cfg(feature = "hyper")]
pub mod hyper;
mod server;
mod split;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;
mod url;
mod websocket;

pub use client::{connect, ClientBuilder};
pub use error::{Error, Result};
pub use server::{accept, Accept, Acceptor, Handshake};
pub use split::{WsReader, WsWriter};
pub use stream::MaybeTlsStream;
pub use url::WsUrl;
pub use websocket::{WebSocket, DEFAULT_CLOSE_TIMEOUT};

/// The Cargo features this build of the crate was compiled with, in the order
/// they are declared: `"tls"` (`wss://` via rustls) and `"hyper"` (upgrades of
/// hyper and axum requests). permessage-deflate is always built in.
///
/// ```
/// # #[cfg(feature = "tls")]
/// assert!(duplex::FEATURES.contains(&"tls"));
/// ```
pub const FEATURES: &[&str] = &[
    #[cfg(feature = "tls")]
    "tls",
    #[cfg(feature = "hyper")]
    "hyper",
];

pub use duplex_proto as proto;
pub use duplex_proto::deflate::DeflateConfig;
pub use duplex_proto::handshake::{Limits, Request, Response};
pub use duplex_proto::{CloseCode, CloseFrame, CloseStatus, Config, Message, Role, Utf8Bytes};
