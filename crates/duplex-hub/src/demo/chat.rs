//! The chat demo's rooms: the last messages of each room, for newcomers.
//!
//! No I/O here: the handler in `mod.rs` checks that the sender is in the
//! room's presence channel, calls [`Rooms::post`] and publishes the message.
//! Memory is bounded twice: each room keeps its last [`HISTORY`] messages,
//! and at most [`MAX_ROOMS`] rooms keep any (the least recently used room's
//! history goes first).

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::InputError;

/// Messages kept per room.
pub const HISTORY: usize = 50;
/// Rooms that keep a history.
pub const MAX_ROOMS: usize = 64;
/// Characters of a room name.
pub const MAX_ROOM_LENGTH: usize = 24;
/// Characters of a message.
pub const MAX_TEXT_LENGTH: usize = 500;
/// The presence channel of room `{room}` is `presence-chat-{room}`.
pub const CHANNEL_PREFIX: &str = "presence-chat-";

/// One chat message, as stored and as published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// Increases with every message on the server, so a page can merge the
    /// history it fetched with the messages it was sent.
    pub id: u64,
    /// The room.
    pub room: String,
    /// The sender's presence user id (from the server, not the request).
    pub user_id: String,
    /// The sender's name.
    pub name: String,
    /// The message.
    pub text: String,
    /// When the server got it, in Unix milliseconds.
    pub at: u64,
}

/// A room's history and when it was last used.
#[derive(Debug, Default)]
struct Room {
    messages: VecDeque<ChatMessage>,
    /// The `Rooms::clock` of its last message.
    used: u64,
}

/// The history of every room.
#[derive(Debug)]
pub struct Rooms {
    rooms: HashMap<String, Room>,
    /// Messages kept per room.
    history: usize,
    /// Rooms kept.
    max_rooms: usize,
    /// The last message id handed out; also orders rooms by use.
    clock: u64,
}

impl Default for Rooms {
    fn default() -> Self {
        Rooms::new(HISTORY, MAX_ROOMS)
    }
}

/// A message to post, validated by [`validate_text`] and friends.
#[derive(Debug, Clone, Copy)]
pub struct Post<'a> {
    /// The room (see [`validate_room`]).
    pub room: &'a str,
    /// The sender's presence user id.
    pub user_id: &'a str,
    /// The sender's name.
    pub name: &'a str,
    /// The text.
    pub text: &'a str,
    /// Unix milliseconds.
    pub at: u64,
}

impl Rooms {
    /// Rooms keeping `history` messages each (at least 1), at most `max_rooms` (at least 1).
    pub fn new(history: usize, max_rooms: usize) -> Self {
        Rooms {
            rooms: HashMap::new(),
            history: history.max(1),
            max_rooms: max_rooms.max(1),
            clock: 0,
        }
    }

    /// Records a message and returns it, numbered. A new room beyond the
    /// limit pushes out the least recently used room's history.
    pub fn post(&mut self, post: Post<'_>) -> ChatMessage {
        if !self.rooms.contains_key(post.room) && self.rooms.len() >= self.max_rooms {
            let oldest = self
                .rooms
                .iter()
                .min_by_key(|(_, room)| room.used)
                .map(|(name, _)| name.clone());
            if let Some(oldest) = oldest {
                self.rooms.remove(&oldest);
            }
        }
        self.clock += 1;
        let message = ChatMessage {
            id: self.clock,
            room: post.room.to_string(),
            user_id: post.user_id.to_string(),
            name: post.name.to_string(),
            text: post.text.to_string(),
            at: post.at,
        };
        let room = self.rooms.entry(post.room.to_string()).or_default();
        room.used = self.clock;
        if room.messages.len() >= self.history {
            room.messages.pop_front();
        }
        room.messages.push_back(message.clone());
        message
    }

    /// The last messages of `room`, oldest first.
    pub fn history(&self, room: &str) -> impl Iterator<Item = &ChatMessage> {
        self.rooms
            .get(room)
            .into_iter()
            .flat_map(|room| room.messages.iter())
    }

    /// Rooms that keep a history.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.rooms.len()
    }
}

/// A room name: 1 to [`MAX_ROOM_LENGTH`] of `a-z 0-9 -`, so that the
/// channel name is valid and the room reads the same in a URL.
pub fn validate_room(room: &str) -> Result<&str, InputError> {
    let valid = !room.is_empty()
        && room.len() <= MAX_ROOM_LENGTH
        && room
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(room)
    } else {
        Err(InputError::Invalid(
            "room",
            "1 to 24 characters of a-z, 0-9 and -",
        ))
    }
}

/// The room of a chat channel name, if it is one.
pub fn room_of(channel: &str) -> Option<&str> {
    channel
        .strip_prefix(CHANNEL_PREFIX)
        .and_then(|room| validate_room(room).ok())
}

/// A message's text: trimmed, 1 to [`MAX_TEXT_LENGTH`] characters, no
/// control characters (see `super::validate_name`).
pub fn validate_text(text: &str) -> Result<&str, InputError> {
    super::validate_line(text, "text", MAX_TEXT_LENGTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post<'a>(room: &'a str, text: &'a str) -> Post<'a> {
        Post {
            room,
            user_id: "demo-1",
            name: "ann",
            text,
            at: 0,
        }
    }

    fn texts<'a>(rooms: &'a Rooms, room: &str) -> Vec<&'a str> {
        rooms.history(room).map(|m| m.text.as_str()).collect()
    }

    #[test]
    fn history_keeps_the_last_messages_in_order() {
        let mut rooms = Rooms::new(3, 10);
        for text in ["a", "b", "c", "d"] {
            rooms.post(post("lobby", text));
        }
        assert_eq!(texts(&rooms, "lobby"), ["b", "c", "d"]);
        let ids: Vec<u64> = rooms.history("lobby").map(|m| m.id).collect();
        assert_eq!(ids, [2, 3, 4]);
        assert_eq!(texts(&rooms, "elsewhere"), Vec::<&str>::new());
    }

    #[test]
    fn the_default_history_is_fifty_messages() {
        let mut rooms = Rooms::default();
        for i in 0..(HISTORY + 10) {
            rooms.post(post("lobby", &i.to_string()));
        }
        assert_eq!(rooms.history("lobby").count(), HISTORY);
        assert_eq!(
            rooms.history("lobby").next().map(|m| m.text.as_str()),
            Some("10")
        );
    }

    #[test]
    fn rooms_beyond_the_limit_push_out_the_least_recently_used() {
        let mut rooms = Rooms::new(5, 2);
        rooms.post(post("a", "1"));
        rooms.post(post("b", "2"));
        rooms.post(post("a", "3")); // a is now the most recently used
        rooms.post(post("c", "4"));
        assert_eq!(rooms.len(), 2);
        assert_eq!(texts(&rooms, "a"), ["1", "3"]);
        assert_eq!(texts(&rooms, "b"), Vec::<&str>::new());
        assert_eq!(texts(&rooms, "c"), ["4"]);
    }

    #[test]
    fn room_names() {
        assert_eq!(validate_room("lobby"), Ok("lobby"));
        assert!(validate_room("rust-2024").is_ok());
        for bad in [
            "",
            "Lobby",
            "a b",
            "a_b",
            "é",
            "a.b",
            &"x".repeat(MAX_ROOM_LENGTH + 1),
        ] {
            assert!(validate_room(bad).is_err(), "{bad:?}");
        }
        assert_eq!(room_of("presence-chat-lobby"), Some("lobby"));
        assert_eq!(room_of("presence-chat-"), None);
        assert_eq!(room_of("presence-leaderboard"), None);
        assert_eq!(room_of("private-chat-lobby"), None);
    }

    #[test]
    fn message_texts() {
        assert_eq!(validate_text("  hello  "), Ok("hello"));
        assert_eq!(
            validate_text("<img src=x onerror=alert(1)>"),
            Ok("<img src=x onerror=alert(1)>"),
            "escaping is the page's job"
        );
        assert!(validate_text("   ").is_err());
        assert!(validate_text("a\u{0}b").is_err());
        assert!(validate_text("line\nbreak").is_err());
        assert!(
            validate_text(&"é".repeat(MAX_TEXT_LENGTH)).is_ok(),
            "characters, not bytes"
        );
        assert!(validate_text(&"x".repeat(MAX_TEXT_LENGTH + 1)).is_err());
    }
}
