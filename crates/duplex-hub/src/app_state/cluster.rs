//! This node's side of a cluster subscription.
//!
//! A subscription on a cluster takes three steps: [`AppState::join_local`]
//! registers the socket here (events for it are held from then on), the
//! adapter asks Redis what the join means cluster-wide, and
//! [`AppState::finish_join`] confirms it: `subscription_succeeded` with the
//! member list, the cached event, then the held events. Leaving is
//! [`AppState::leave_local`], then Redis, then member events through
//! [`AppState::apply_member_change`]. Member events from other nodes go
//! through the channel's mirror, so a duplicate is never shown.

use std::collections::HashMap;

use serde_json::value::RawValue;

use duplex_pusher::app::WebhookEvent;
use duplex_pusher::auth::{PresenceMember, SocketId};
use duplex_pusher::channel::ChannelKind;
use duplex_pusher::presence::{Members, PresenceChannel};
use duplex_pusher::protocol::{Encoded, ServerMessage};

use super::mirror::MemberChange;
use super::{AppState, Channel, SubscribeError, Subscriber};
use crate::conn::ConnHandle;
use crate::webhook::WebhookEventData;

/// What registering a socket on this node found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LocalJoin {
    /// The socket was already subscribed: `subscription_succeeded` was sent
    /// again and nothing else is to be done.
    Already,
    /// Registered; the cluster is to be asked.
    Registered {
        /// The presence user, on presence channels.
        user_id: Option<String>,
        /// The channel had no subscriber on this node.
        new_here: bool,
        /// The user's first socket in the channel on this node.
        first_here: bool,
        /// The channel's mirror is waiting for a snapshot of the members.
        needs_members: bool,
        /// No fresh cached event here for this cache channel: ask Redis.
        needs_cache: bool,
    },
}

/// What the cluster said about a join (or, when Redis is unreachable, what
/// this node decided alone).
#[derive(Debug, Default)]
pub(crate) struct JoinOutcome {
    /// The channel went from no subscriber to one, cluster-wide.
    pub occupied: bool,
    /// The user's first socket in the channel, cluster-wide.
    pub first_member: bool,
    /// The cluster's member list, if asked for.
    pub members: Option<Members>,
    /// The cluster's cached event, if asked for and there is one.
    pub cached: Option<Encoded>,
}

/// What leaving on this node found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LeaveOutcome {
    /// The presence user the socket was, and whether it was that user's
    /// last socket here.
    pub user: Option<(String, bool)>,
    /// The channel has no subscriber left on this node.
    pub emptied: bool,
}

/// This node's share of one channel, for rebuilding the cluster state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Contribution {
    /// The channel.
    pub channel: String,
    /// Sockets subscribed here.
    pub subscribers: usize,
    /// Presence users with sockets here: id, how many sockets, `user_info`
    /// (JSON, empty when none).
    pub users: Vec<(String, usize, String)>,
}

impl AppState {
    /// Registers `conn` in `channel` on this node. The presence member
    /// limit is checked against this node's users here and cluster-wide by
    /// the adapter.
    pub(crate) fn join_local(
        &self,
        conn: &ConnHandle,
        channel: &str,
        kind: ChannelKind,
        member: Option<PresenceMember>,
    ) -> Result<LocalJoin, SubscribeError> {
        let mut guard = self.channels();
        let fresh_cache = guard.cached(channel).is_some();
        let is_new = !guard.map.contains_key(channel);
        let entry = guard
            .map
            .entry(channel.to_string())
            .or_insert_with(|| self.new_channel(kind, true));
        if entry.subscribers.contains_key(&conn.socket_id) {
            let succeeded = succeeded_frame(channel, entry);
            conn.send(succeeded);
            return Ok(LocalJoin::Already);
        }
        let mut user_id = None;
        let mut first_here = false;
        if let (Some(presence), Some(member)) = (&mut entry.presence, member) {
            let id = member.user_id.clone();
            match presence.add(conn.socket_id.clone(), member) {
                Ok(first) => first_here = first,
                Err(e) => {
                    if is_new {
                        guard.map.remove(channel);
                    }
                    return Err(SubscribeError::Presence(e));
                }
            }
            user_id = Some(id);
        }
        let needs_members = entry.mirror.as_ref().is_some_and(|m| m.is_syncing());
        entry.subscribers.insert(
            conn.socket_id.clone(),
            Subscriber {
                conn: conn.clone(),
                pending: Some(Vec::new()),
            },
        );
        Ok(LocalJoin::Registered {
            user_id,
            new_here: is_new,
            first_here,
            needs_members,
            needs_cache: kind.is_cache() && !fresh_cache,
        })
    }

    /// Undoes [`join_local`](Self::join_local) when the cluster refused the
    /// join (presence channel full). Nobody was told of it.
    pub(crate) fn abort_join(&self, socket_id: &SocketId, channel: &str) {
        let mut guard = self.channels();
        let Some(entry) = guard.map.get_mut(channel) else {
            return;
        };
        entry.subscribers.remove(socket_id);
        if let Some(presence) = &mut entry.presence {
            presence.remove(socket_id);
        }
        if entry.subscribers.is_empty() {
            guard.map.remove(channel);
        }
    }

    /// Confirms a join: brings the mirror up to date (telling the others of
    /// any change, including this user's arrival), then queues to `conn`
    /// `subscription_succeeded`, the cached event or `pusher:cache_miss`,
    /// and the events held meanwhile.
    pub(crate) fn finish_join(
        &self,
        conn: &ConnHandle,
        channel: &str,
        kind: ChannelKind,
        outcome: JoinOutcome,
    ) {
        let mut guard = self.channels();
        if let Some(frame) = &outcome.cached {
            guard.remember(channel, frame);
        }
        let cached = guard.cached(channel).cloned();
        let limit = self.held_frames_limit;
        let Some(entry) = guard.map.get_mut(channel) else {
            return; // the connection left meanwhile
        };
        let Some(held) = entry
            .subscribers
            .get_mut(&conn.socket_id)
            .and_then(|s| s.pending.take())
        else {
            return;
        };
        if let Some(mirror) = &mut entry.mirror {
            let mut changes = match outcome.members {
                Some(members) if mirror.is_syncing() => mirror.finish_sync(members),
                _ => {
                    mirror.cancel_sync();
                    Vec::new()
                }
            };
            let own = entry.presence.as_ref().and_then(|p| {
                let user = p.user_of(&conn.socket_id)?;
                let info = p.members().info(user).map(RawValue::to_owned);
                Some(MemberChange::Added(user.to_string(), info))
            });
            if let Some(own) = own {
                if mirror.apply(own.clone()) {
                    changes.push(own);
                }
            }
            for change in changes {
                let frame = member_frame(channel, &change);
                tell_confirmed(entry, &frame, Some(&conn.socket_id), limit);
            }
        }
        conn.send(succeeded_frame(channel, entry));
        if kind.is_cache() {
            match cached {
                Some(frame) => {
                    conn.send(frame);
                }
                None => {
                    conn.send(ServerMessage::CacheMiss { channel }.encode());
                    self.webhook(WebhookEventData::cache_miss(channel));
                }
            }
        }
        for frame in held {
            conn.send(frame);
        }
    }

    /// Removes `socket_id` from `channel` on this node.
    pub(crate) fn leave_local(&self, socket_id: &SocketId, channel: &str) -> Option<LeaveOutcome> {
        let mut guard = self.channels();
        let entry = guard.map.get_mut(channel)?;
        entry.subscribers.remove(socket_id)?;
        let user = entry
            .presence
            .as_mut()
            .and_then(|p| p.remove(socket_id))
            .map(|d| (d.user_id, d.last_connection));
        let emptied = entry.subscribers.is_empty();
        if emptied {
            guard.map.remove(channel);
        }
        Some(LeaveOutcome { user, emptied })
    }

    /// Applies a member event of the cluster to `channel`'s mirror and tells
    /// this node's subscribers if it is news to them. Other events are
    /// ignored when the channel has no subscriber here.
    pub(crate) fn apply_member_change(&self, channel: &str, change: MemberChange) {
        let limit = self.held_frames_limit;
        let mut guard = self.channels();
        let Some(entry) = guard.map.get_mut(channel) else {
            return;
        };
        let Some(mirror) = &mut entry.mirror else {
            return;
        };
        let frame = member_frame(channel, &change);
        if mirror.apply(change) {
            tell_confirmed(entry, &frame, None, limit);
        }
    }

    /// Starts re-reading the member lists of this node's presence
    /// channels; returns their names.
    pub(crate) fn begin_member_resync(&self) -> Vec<String> {
        let mut guard = self.channels();
        guard
            .map
            .iter_mut()
            .filter_map(|(name, entry)| {
                entry.mirror.as_mut()?.begin_sync();
                Some(name.clone())
            })
            .collect()
    }

    /// Ends a member list re-read: `members` is the cluster's list (or
    /// `None` if it could not be read).
    pub(crate) fn finish_member_resync(&self, channel: &str, members: Option<Members>) {
        let limit = self.held_frames_limit;
        let mut guard = self.channels();
        let Some(entry) = guard.map.get_mut(channel) else {
            return;
        };
        let Some(mirror) = &mut entry.mirror else {
            return;
        };
        let Some(members) = members else {
            mirror.cancel_sync();
            return;
        };
        // This node's own users are members whatever the snapshot says (it
        // may predate their rebuild): they stay, and nobody hears otherwise.
        let mut changes = mirror.finish_sync(members);
        if let Some(presence) = &entry.presence {
            for (user, info) in presence.members().iter() {
                mirror.members.insert(user, info.map(RawValue::to_owned));
            }
        }
        changes.retain(|change| match change {
            MemberChange::Removed(user) => !mirror.members.contains(user),
            MemberChange::Added(..) => true,
        });
        for change in changes {
            let frame = member_frame(channel, &change);
            tell_confirmed(entry, &frame, None, limit);
        }
    }

    /// This node's subscriptions and presence users, channel by channel.
    pub(crate) fn contributions(&self) -> Vec<Contribution> {
        let guard = self.channels();
        guard
            .map
            .iter()
            .map(|(name, entry)| Contribution {
                channel: name.clone(),
                subscribers: entry.subscribers.len(),
                users: entry
                    .presence
                    .as_ref()
                    .map(presence_users)
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Reports a cluster transition of `channel` as webhooks.
    pub(crate) fn webhook_transition(&self, channel: &str, kind: WebhookEvent, user: Option<&str>) {
        match user {
            Some(user) => self.webhook(WebhookEventData::member(kind, channel, user)),
            None => self.webhook(WebhookEventData::channel(kind, channel)),
        }
    }
}

fn presence_users(presence: &PresenceChannel) -> Vec<(String, usize, String)> {
    let mut users: HashMap<&str, usize> = HashMap::new();
    for (user, count) in presence.socket_counts() {
        users.insert(user, count);
    }
    presence
        .members()
        .iter()
        .map(|(user, info)| {
            let count = users.get(user).copied().unwrap_or(1);
            let info = info.map_or_else(String::new, |i| i.get().to_string());
            (user.to_string(), count, info)
        })
        .collect()
}

/// Queues a member event to the channel's confirmed subscribers (but
/// `except`). A subscriber still waiting for its `subscription_succeeded`
/// gets the member list in it instead.
fn tell_confirmed(entry: &mut Channel, frame: &Encoded, except: Option<&SocketId>, limit: usize) {
    for (id, subscriber) in &mut entry.subscribers {
        if subscriber.pending.is_none() && Some(id) != except {
            subscriber.deliver(frame, limit);
        }
    }
}

fn succeeded_frame(channel: &str, entry: &Channel) -> Encoded {
    let presence = match (&entry.mirror, &entry.presence) {
        (Some(mirror), _) => Some(mirror.members.payload()),
        (None, Some(presence)) => Some(presence.payload()),
        (None, None) => None,
    };
    ServerMessage::SubscriptionSucceeded { channel, presence }.encode()
}

/// The frame telling a member change.
pub(crate) fn member_frame(channel: &str, change: &MemberChange) -> Encoded {
    match change {
        MemberChange::Added(user_id, info) => ServerMessage::MemberAdded {
            channel,
            user_id,
            user_info: info.as_deref(),
        }
        .encode(),
        MemberChange::Removed(user_id) => {
            ServerMessage::MemberRemoved { channel, user_id }.encode()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    use super::*;
    use crate::conn::Outbox;
    use duplex_pusher::AppConfig;

    fn app() -> AppState {
        AppState::new(AppConfig::new("1", "key", "secret"), None, 4)
    }

    fn conn() -> (ConnHandle, Outbox) {
        let (handle, rx, _closer) =
            ConnHandle::new(SocketId::generate(), 64, Arc::new(AtomicU64::new(0)));
        (handle, rx)
    }

    fn member(user: &str) -> Option<PresenceMember> {
        Some(PresenceMember::parse(&format!(r#"{{"user_id":"{user}"}}"#), 1024).unwrap())
    }

    /// The events queued so far, as (event, user_id or data) pairs.
    fn drain(rx: &mut Outbox) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(outbound) = rx.try_recv() {
            let v: serde_json::Value = serde_json::from_str(outbound.frame.as_str()).unwrap();
            out.push(v["event"].as_str().unwrap().to_string());
        }
        out
    }

    #[test]
    fn events_wait_for_subscription_succeeded() {
        let app = app();
        let (a, mut rx) = conn();
        let join = app
            .join_local(&a, "news", ChannelKind::Public, None)
            .unwrap();
        assert!(matches!(join, LocalJoin::Registered { new_here: true, .. }));
        // Published while the cluster decides: held.
        let frame = ServerMessage::ChannelEvent {
            event: "e",
            channel: "news",
            data: Some("{}"),
            user_id: None,
        }
        .encode();
        assert_eq!(app.publish("news", &frame, None), 1);
        assert!(drain(&mut rx).is_empty());
        app.finish_join(&a, "news", ChannelKind::Public, JoinOutcome::default());
        assert_eq!(
            drain(&mut rx),
            ["pusher_internal:subscription_succeeded", "e"]
        );
    }

    #[test]
    fn held_events_are_bounded() {
        let app = app(); // holds at most 4
        let (a, _rx) = conn();
        app.join_local(&a, "news", ChannelKind::Public, None)
            .unwrap();
        let frame = ServerMessage::Pong.encode();
        for _ in 0..4 {
            assert_eq!(app.publish("news", &frame, None), 1);
        }
        assert_eq!(app.publish("news", &frame, None), 0, "the fifth is refused");
    }

    #[test]
    fn a_member_list_read_while_members_changed() {
        let app = app();
        let channel = "presence-room";
        let (a, mut rx_a) = conn();
        let join = app
            .join_local(&a, channel, ChannelKind::Presence, member("ann"))
            .unwrap();
        assert!(matches!(
            join,
            LocalJoin::Registered {
                needs_members: true,
                first_here: true,
                ..
            }
        ));
        // While the snapshot is read: bob joins elsewhere, cy leaves.
        app.apply_member_change(channel, MemberChange::Added("bob".into(), None));
        app.apply_member_change(channel, MemberChange::Removed("cy".into()));
        let mut snapshot = Members::new();
        snapshot.insert("cy", None); // taken before cy left and bob joined
        snapshot.insert("ann", None);
        app.finish_join(
            &a,
            channel,
            ChannelKind::Presence,
            JoinOutcome {
                first_member: true,
                members: Some(snapshot),
                ..JoinOutcome::default()
            },
        );
        // One subscription_succeeded with ann and bob, and no member events.
        let frames: Vec<_> = std::iter::from_fn(|| rx_a.try_recv()).collect();
        assert_eq!(frames.len(), 1);
        let v: serde_json::Value = serde_json::from_str(frames[0].frame.as_str()).unwrap();
        let data: serde_json::Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["presence"]["ids"], serde_json::json!(["ann", "bob"]));

        // A second local subscriber: ann hears of dan once, even if the bus
        // repeats it.
        let (d, mut rx_d) = conn();
        app.join_local(&d, channel, ChannelKind::Presence, member("dan"))
            .unwrap();
        app.finish_join(&d, channel, ChannelKind::Presence, JoinOutcome::default());
        app.apply_member_change(channel, MemberChange::Added("dan".into(), None));
        assert_eq!(drain(&mut rx_a), ["pusher_internal:member_added"]);
        assert_eq!(drain(&mut rx_d), ["pusher_internal:subscription_succeeded"]);

        // dan leaves: his last socket here.
        let leave = app.leave_local(&d.socket_id, channel).unwrap();
        assert_eq!(leave.user, Some(("dan".into(), true)));
        assert!(!leave.emptied);
        app.apply_member_change(channel, MemberChange::Removed("dan".into()));
        app.apply_member_change(channel, MemberChange::Removed("dan".into()));
        assert_eq!(drain(&mut rx_a), ["pusher_internal:member_removed"]);
    }

    #[test]
    fn contributions_count_sockets_per_user() {
        let app = app();
        let channel = "presence-room";
        for user in ["ann", "ann", "bob"] {
            let (c, _rx) = conn();
            app.join_local(&c, channel, ChannelKind::Presence, member(user))
                .unwrap();
            app.finish_join(&c, channel, ChannelKind::Presence, JoinOutcome::default());
        }
        let mut contributions = app.contributions();
        assert_eq!(contributions.len(), 1);
        let c = contributions.pop().unwrap();
        assert_eq!(c.subscribers, 3);
        assert_eq!(
            c.users,
            vec![
                ("ann".into(), 2, String::new()),
                ("bob".into(), 1, String::new())
            ]
        );
    }
}
