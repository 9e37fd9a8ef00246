//! The Pusher Channels protocol 7 message envelope and events.
//!
//! Every message is `{"event", "channel"?, "data"?, "user_id"?}` in one text
//! frame. [`ClientMessage::parse`] decodes what clients send;
//! [`ServerMessage::encode`] builds what the server sends, in the exact
//! shapes pusher-js and the other clients expect.

mod client;
mod error_code;
mod server;

pub use client::{ClientMessage, MessageError};
pub use error_code::ErrorCode;
pub use server::{Encoded, ServerMessage};
