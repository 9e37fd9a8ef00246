//! The Pusher Channels protocol 7 message envelope and events.
//!
//! Every message is `{"event", "channel"?, "data"?, "user_id"?}` in one text
//! frame. [`ClientMessage::parse`] decodes what clients send;
//! [`ServerMessage::to_frame`] builds what the server sends, in the exact
//! shapes pusher-js and the other clients expect.

mod client;
mod error_code;
mod server;

pub use client::{ClientMessage, MessageError};
pub use error_code::ErrorCode;
pub use server::{Frame, ServerMessage};
