//! The member list of one presence channel.
//!
//! A user may be subscribed from several sockets (tabs, devices). Other
//! members hear `member_added` only when the user's first socket joins and
//! `member_removed` only when the last one leaves; [`PresenceChannel::add`]
//! and [`PresenceChannel::remove`] say when.

use std::collections::{BTreeMap, HashMap};

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use crate::auth::{PresenceMember, SocketId};

/// The members of one presence channel, and which socket is which user.
#[derive(Debug, Clone)]
pub struct PresenceChannel {
    /// Each subscribed socket's user, to find the user again on unsubscribe.
    sockets: HashMap<SocketId, String>,
    /// How many sockets each present user has subscribed.
    socket_counts: HashMap<String, usize>,
    /// The member list clients see.
    members: Members,
    /// The most distinct users the channel admits.
    max_members: usize,
}

/// A member list: each present user's id and `user_info`, ordered by id so
/// the subscription payload is deterministic.
///
/// A user keeps the `user_info` of its first socket; later sockets' info is
/// ignored, so other members never see it change without an event.
#[derive(Debug, Clone, Default)]
pub struct Members(BTreeMap<String, Option<Box<RawValue>>>);

impl Members {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user; returns `false` (and keeps the old info) if present.
    pub fn insert(&mut self, user_id: &str, info: Option<Box<RawValue>>) -> bool {
        if self.0.contains_key(user_id) {
            return false;
        }
        self.0.insert(user_id.to_string(), info);
        true
    }

    /// Removes a user; returns whether it was present.
    pub fn remove(&mut self, user_id: &str) -> bool {
        self.0.remove(user_id).is_some()
    }

    /// Whether a user is present.
    pub fn contains(&self, user_id: &str) -> bool {
        self.0.contains_key(user_id)
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nobody is present.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `user_info` of a present user (`None` also when it has none).
    pub fn info(&self, user_id: &str) -> Option<&RawValue> {
        self.0.get(user_id)?.as_deref()
    }

    /// The user ids, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The users and their info, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&RawValue>)> {
        self.0
            .iter()
            .map(|(id, info)| (id.as_str(), info.as_deref()))
    }

    /// The `presence` object of `pusher_internal:subscription_succeeded`.
    pub fn payload(&self) -> PresencePayload<'_> {
        PresencePayload(self)
    }
}

/// A socket left a presence channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// The user the socket belonged to.
    pub user_id: String,
    /// Whether it was the user's last socket: send `member_removed`.
    pub last_connection: bool,
}

/// Why a socket could not join a presence channel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PresenceError {
    /// The channel already has the most members allowed.
    #[error("presence channel is full: it has the maximum of {max} members")]
    MemberLimitReached {
        /// The limit.
        max: usize,
    },
    /// The socket is already a member of the channel.
    #[error("socket {0} is already subscribed to this presence channel")]
    AlreadySubscribed(SocketId),
}

impl PresenceChannel {
    /// An empty channel admitting at most `max_members` distinct users.
    pub fn new(max_members: usize) -> Self {
        Self {
            sockets: HashMap::new(),
            socket_counts: HashMap::new(),
            members: Members::new(),
            max_members,
        }
    }

    /// Adds a socket as `member`. Returns whether this is the user's first
    /// socket, i.e. whether to send `member_added` to the other sockets.
    ///
    /// A new user is refused when the channel is full; another socket of a
    /// present user is always admitted.
    pub fn add(
        &mut self,
        socket_id: SocketId,
        member: PresenceMember,
    ) -> Result<bool, PresenceError> {
        if self.sockets.contains_key(&socket_id) {
            return Err(PresenceError::AlreadySubscribed(socket_id));
        }
        let first = match self.socket_counts.get_mut(&member.user_id) {
            Some(count) => {
                *count += 1;
                false
            }
            None => {
                if self.members.len() >= self.max_members {
                    return Err(PresenceError::MemberLimitReached {
                        max: self.max_members,
                    });
                }
                self.members.insert(&member.user_id, member.user_info);
                self.socket_counts.insert(member.user_id.clone(), 1);
                true
            }
        };
        self.sockets.insert(socket_id, member.user_id);
        Ok(first)
    }

    /// Removes a socket. `None` if it was not subscribed.
    pub fn remove(&mut self, socket_id: &SocketId) -> Option<Departure> {
        let user_id = self.sockets.remove(socket_id)?;
        let count = self.socket_counts.get_mut(&user_id)?;
        *count -= 1;
        let last_connection = *count == 0;
        if last_connection {
            self.socket_counts.remove(&user_id);
            self.members.remove(&user_id);
        }
        Some(Departure {
            user_id,
            last_connection,
        })
    }

    /// The number of distinct users (the `count` clients see).
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// The number of subscribed sockets.
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// Whether no socket is subscribed.
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }

    /// The user a socket joined as: the `user_id` added to its client events.
    pub fn user_of(&self, socket_id: &SocketId) -> Option<&str> {
        self.sockets.get(socket_id).map(String::as_str)
    }

    /// Whether a user has at least one socket subscribed.
    pub fn contains_user(&self, user_id: &str) -> bool {
        self.members.contains(user_id)
    }

    /// The `user_info` of a present user (`None` also when it has none).
    pub fn user_info(&self, user_id: &str) -> Option<&RawValue> {
        self.members.info(user_id)
    }

    /// The user ids, in order.
    pub fn user_ids(&self) -> impl Iterator<Item = &str> {
        self.members.ids()
    }

    /// The `presence` object of `pusher_internal:subscription_succeeded`.
    pub fn payload(&self) -> PresencePayload<'_> {
        self.members.payload()
    }

    /// The member list.
    pub fn members(&self) -> &Members {
        &self.members
    }

    /// How many of this channel's sockets belong to each user.
    pub fn socket_counts(&self) -> impl Iterator<Item = (&str, usize)> {
        self.socket_counts.iter().map(|(id, n)| (id.as_str(), *n))
    }
}

/// Serializes as the `{"ids":[…],"hash":{id: user_info},"count":n}` that
/// pusher-js reads on subscription; a user without `user_info` maps to
/// `null`.
#[derive(Debug, Clone, Copy)]
pub struct PresencePayload<'a>(&'a Members);

impl Serialize for PresencePayload<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut payload = serializer.serialize_struct("presence", 3)?;
        payload.serialize_field("ids", &Ids(self.0))?;
        payload.serialize_field("hash", &Hash(self.0))?;
        payload.serialize_field("count", &self.0.len())?;
        payload.end()
    }
}

struct Ids<'a>(&'a Members);

impl Serialize for Ids<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.ids())
    }
}

struct Hash<'a>(&'a Members);

impl Serialize for Hash<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (id, info) in self.0.iter() {
            map.serialize_entry(id, &info)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(n: u32) -> SocketId {
        SocketId::parse(&format!("{n}.{n}")).unwrap()
    }

    fn member(channel_data: &str) -> PresenceMember {
        PresenceMember::parse(channel_data, 1024).unwrap()
    }

    #[test]
    fn first_and_last_connection_of_a_user() {
        let mut channel = PresenceChannel::new(100);
        assert_eq!(
            channel.add(socket(1), member(r#"{"user_id":"a"}"#)),
            Ok(true)
        );
        assert_eq!(
            channel.add(socket(2), member(r#"{"user_id":"a"}"#)),
            Ok(false)
        );
        assert_eq!(
            channel.add(socket(3), member(r#"{"user_id":"b"}"#)),
            Ok(true)
        );
        assert_eq!((channel.member_count(), channel.socket_count()), (2, 3));
        assert_eq!(channel.user_of(&socket(2)), Some("a"));

        assert_eq!(
            channel.remove(&socket(1)),
            Some(Departure {
                user_id: "a".into(),
                last_connection: false
            })
        );
        assert!(channel.contains_user("a"));
        assert_eq!(
            channel.remove(&socket(2)),
            Some(Departure {
                user_id: "a".into(),
                last_connection: true
            })
        );
        assert!(!channel.contains_user("a"));
        assert_eq!(channel.remove(&socket(2)), None);
        assert_eq!(channel.remove(&socket(9)), None);
        assert_eq!(
            channel.remove(&socket(3)).map(|d| d.last_connection),
            Some(true)
        );
        assert!(channel.is_empty());
        assert_eq!(channel.member_count(), 0);
    }

    #[test]
    fn numeric_and_string_ids_are_one_user() {
        let mut channel = PresenceChannel::new(100);
        assert_eq!(
            channel.add(socket(1), member(r#"{"user_id":10}"#)),
            Ok(true)
        );
        assert_eq!(
            channel.add(socket(2), member(r#"{"user_id":"10"}"#)),
            Ok(false)
        );
        assert_eq!(channel.member_count(), 1);
    }

    #[test]
    fn member_limit_counts_users_not_sockets() {
        let mut channel = PresenceChannel::new(2);
        channel
            .add(socket(1), member(r#"{"user_id":"a"}"#))
            .unwrap();
        channel
            .add(socket(2), member(r#"{"user_id":"b"}"#))
            .unwrap();
        assert_eq!(
            channel.add(socket(3), member(r#"{"user_id":"c"}"#)),
            Err(PresenceError::MemberLimitReached { max: 2 })
        );
        assert_eq!(channel.socket_count(), 2);
        // Another tab of a present user still joins.
        assert_eq!(
            channel.add(socket(4), member(r#"{"user_id":"a"}"#)),
            Ok(false)
        );
        // Once a user has left, a new one fits.
        channel.remove(&socket(2));
        assert_eq!(
            channel.add(socket(3), member(r#"{"user_id":"c"}"#)),
            Ok(true)
        );
    }

    #[test]
    fn a_socket_joins_once() {
        let mut channel = PresenceChannel::new(10);
        channel
            .add(socket(1), member(r#"{"user_id":"a"}"#))
            .unwrap();
        assert_eq!(
            channel.add(socket(1), member(r#"{"user_id":"b"}"#)),
            Err(PresenceError::AlreadySubscribed(socket(1)))
        );
        assert_eq!((channel.member_count(), channel.socket_count()), (1, 1));
    }

    #[test]
    fn payload_shape() {
        let mut channel = PresenceChannel::new(10);
        channel
            .add(
                socket(1),
                member(r#"{"user_id":"b","user_info":{"name":"Bo"}}"#),
            )
            .unwrap();
        channel.add(socket(2), member(r#"{"user_id":10}"#)).unwrap();
        channel
            .add(
                socket(3),
                member(r#"{"user_id":"b","user_info":{"name":"ignored"}}"#),
            )
            .unwrap();
        assert_eq!(
            serde_json::to_string(&channel.payload()).unwrap(),
            r#"{"ids":["10","b"],"hash":{"10":null,"b":{"name":"Bo"}},"count":2}"#
        );
        assert_eq!(
            channel.user_info("b").map(RawValue::get),
            Some(r#"{"name":"Bo"}"#)
        );
        assert!(channel.user_info("10").is_none());
        assert_eq!(channel.user_ids().collect::<Vec<_>>(), ["10", "b"]);

        let empty = PresenceChannel::new(10);
        assert_eq!(
            serde_json::to_string(&empty.payload()).unwrap(),
            r#"{"ids":[],"hash":{},"count":0}"#
        );
    }
}
