//! The live state of one app on this node: its connections, channels,
//! presence members, signed-in users and cache channels' last events.
//!
//! One mutex guards an app's channels. Subscribing, unsubscribing and
//! publishing each take it once, briefly, and never wait while holding it:
//! frames go into the subscribers' bounded queues with `try_send`. Doing
//! both under one lock gives every subscriber a consistent order:
//! `subscription_succeeded` (and a cache replay) before any event published
//! after it, `member_added` after the member list it completes.
//!
//! On a cluster ([`cluster`](self::cluster)), the cluster-wide decisions
//! (first member, occupied, vacated) come from Redis between two short
//! critical sections here, and each presence channel also keeps the member
//! list this node's subscribers were shown (its mirror).

mod cluster;
mod mirror;

pub(crate) use cluster::{JoinOutcome, LocalJoin};
pub(crate) use mirror::MemberChange;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use duplex_pusher::app::{AppConfig, WebhookEvent};
use duplex_pusher::auth::{PresenceMember, SocketId};
use duplex_pusher::channel::ChannelKind;
use duplex_pusher::presence::{PresenceChannel, PresenceError};
use duplex_pusher::protocol::{Encoded, ServerMessage};

use super::conn::ConnHandle;
use super::webhook::{WebhookEventData, Webhooks};

/// How long a cache channel keeps its last event (Pusher: 30 minutes).
pub(crate) const CACHE_TTL: Duration = Duration::from_secs(30 * 60);

/// One app's state on this node.
#[derive(Debug)]
pub struct AppState {
    /// The app's configuration.
    pub config: AppConfig,
    /// Open connections, against `limits.max_connections`.
    connections: Arc<AtomicU64>,
    /// Channels and cached events.
    channels: Mutex<Channels>,
    /// Signed-in users' connections, for `terminate_connections`.
    users: Mutex<HashMap<String, HashMap<SocketId, ConnHandle>>>,
    /// Webhook delivery, if the app has webhooks.
    webhooks: Option<Webhooks>,
    /// Traffic counters, for `/metrics`.
    pub counters: AppCounters,
    /// Events held per socket while a cluster confirms its subscription.
    held_frames_limit: usize,
}

/// Per-app traffic counters.
#[derive(Debug, Default)]
pub struct AppCounters {
    /// Text frames received from the app's clients.
    pub messages_in: AtomicU64,
    /// Bytes of those frames.
    pub bytes_in: AtomicU64,
    /// Frames sent to the app's clients.
    pub messages_out: AtomicU64,
    /// Bytes of those frames.
    pub bytes_out: AtomicU64,
    /// Events published through the HTTP API.
    pub api_events: AtomicU64,
}

#[derive(Debug, Default)]
struct Channels {
    /// Occupied channels only: a channel is removed with its last subscriber.
    map: HashMap<String, Channel>,
    /// The last event of each cache channel, kept after it is vacated.
    cache: HashMap<String, (Encoded, Instant)>,
}

#[derive(Debug)]
struct Channel {
    subscribers: HashMap<SocketId, Subscriber>,
    /// The member list, on presence channels (on a cluster: this node's
    /// sockets and users).
    presence: Option<PresenceChannel>,
    /// On a cluster's presence channels: the cluster-wide member list as
    /// this node's subscribers have been shown it.
    mirror: Option<mirror::Mirror>,
}

/// One subscribed socket.
#[derive(Debug)]
struct Subscriber {
    conn: ConnHandle,
    /// While the cluster decides on its subscription (one Redis round
    /// trip), events for it wait here so that none arrives before
    /// `subscription_succeeded`. Never used by a single node.
    pending: Option<Vec<Encoded>>,
}

impl Subscriber {
    fn ready(conn: ConnHandle) -> Self {
        Subscriber {
            conn,
            pending: None,
        }
    }

    /// Queues `frame`, or holds it until the subscription is confirmed.
    /// Returns whether it was queued or held.
    fn deliver(&mut self, frame: &Encoded, limit: usize) -> bool {
        match &mut self.pending {
            None => self.conn.send(frame.clone()),
            Some(held) if held.len() < limit => {
                held.push(frame.clone());
                true
            }
            Some(_) => {
                self.conn
                    .close(4100, "Over capacity: too many events while subscribing");
                false
            }
        }
    }
}

/// Counts of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelStats {
    /// Subscribed sockets.
    pub subscription_count: usize,
    /// Distinct users, on presence channels.
    pub user_count: Option<usize>,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeError {
    /// The presence channel is full.
    Presence(PresenceError),
}

/// A guard that releases a connection slot when dropped.
#[derive(Debug)]
pub struct ConnectionSlot(Arc<AtomicU64>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Channels {
    /// Remembers the last event of a cache channel.
    fn remember(&mut self, channel: &str, frame: &Encoded) {
        let now = Instant::now();
        match self.cache.get_mut(channel) {
            // The common case: a cache channel publishing again. O(1).
            Some(entry) => *entry = (frame.clone(), now),
            None => {
                // A new cache channel: drop expired entries first, so the
                // map holds only channels published to within the TTL.
                self.cache
                    .retain(|_, (_, at)| now.duration_since(*at) < CACHE_TTL);
                self.cache.insert(channel.to_string(), (frame.clone(), now));
            }
        }
    }

    /// The cached event of a cache channel, if still fresh.
    fn cached(&self, channel: &str) -> Option<&Encoded> {
        self.cache
            .get(channel)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(frame, _)| frame)
    }
}

impl AppState {
    /// The state of a freshly started app; `held_frames_limit` bounds the
    /// events held for one socket while a cluster confirms its subscription.
    pub fn new(config: AppConfig, webhooks: Option<Webhooks>, held_frames_limit: usize) -> Self {
        AppState {
            held_frames_limit,
            config,
            connections: Arc::new(AtomicU64::new(0)),
            channels: Mutex::new(Channels::default()),
            users: Mutex::new(HashMap::new()),
            webhooks,
            counters: AppCounters::default(),
        }
    }

    fn channels(&self) -> MutexGuard<'_, Channels> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn users(&self) -> MutexGuard<'_, HashMap<String, HashMap<SocketId, ConnHandle>>> {
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a connection slot on this node, or `None` when the app is at
    /// its limit here. (On a cluster, the adapter also checks the limit
    /// cluster-wide.)
    pub fn try_connect(&self) -> Option<ConnectionSlot> {
        let max = self.config.limits.max_connections;
        let prev = self.connections.fetch_add(1, Ordering::Relaxed);
        let slot = ConnectionSlot(self.connections.clone());
        (prev < max).then_some(slot)
    }

    /// Open connections.
    pub fn connection_count(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Reports a webhook event, if the app has a webhook for its type.
    pub fn webhook(&self, event: WebhookEventData) {
        if let Some(webhooks) = &self.webhooks {
            webhooks.emit(event);
        }
    }

    /// Whether some webhook of the app wants `kind`.
    pub fn wants_webhook(&self, kind: WebhookEvent) -> bool {
        self.webhooks.as_ref().is_some_and(|w| w.wants(kind))
    }

    /// Subscribes `conn` to `channel` and queues, in this order, the
    /// `subscription_succeeded` frame for it, the cached event or
    /// `pusher:cache_miss` on cache channels, and `member_added` for the
    /// others when this is the user's first socket in a presence channel.
    ///
    /// Subscribing again to a channel the socket is in re-sends
    /// `subscription_succeeded` (with the current member list) and changes
    /// nothing else.
    pub fn subscribe(
        &self,
        conn: &ConnHandle,
        channel: &str,
        kind: ChannelKind,
        member: Option<PresenceMember>,
    ) -> Result<(), SubscribeError> {
        let mut guard = self.channels();
        let Channels { map, cache } = &mut *guard;
        let is_new_channel = !map.contains_key(channel);
        let entry = map
            .entry(channel.to_string())
            .or_insert_with(|| self.new_channel(kind, false));
        let already = entry.subscribers.contains_key(&conn.socket_id);
        let mut added_user = None;
        if !already {
            if let (Some(presence), Some(member)) = (&mut entry.presence, member) {
                let user_id = member.user_id.clone();
                match presence.add(conn.socket_id.clone(), member) {
                    Ok(first) => added_user = first.then_some(user_id),
                    Err(e) => {
                        if is_new_channel {
                            map.remove(channel);
                        }
                        return Err(SubscribeError::Presence(e));
                    }
                }
            }
            entry
                .subscribers
                .insert(conn.socket_id.clone(), Subscriber::ready(conn.clone()));
        }
        let succeeded = ServerMessage::SubscriptionSucceeded {
            channel,
            presence: entry.presence.as_ref().map(PresenceChannel::payload),
        }
        .encode();
        conn.send(succeeded);
        if kind.is_cache() && !already {
            match cache
                .get(channel)
                .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            {
                Some((frame, _)) => {
                    conn.send(frame.clone());
                }
                None => {
                    conn.send(ServerMessage::CacheMiss { channel }.encode());
                    self.webhook(WebhookEventData::cache_miss(channel));
                }
            }
        }
        if let Some(user_id) = &added_user {
            let info = entry.presence.as_ref().and_then(|p| p.user_info(user_id));
            let frame = ServerMessage::MemberAdded {
                channel,
                user_id,
                user_info: info,
            }
            .encode();
            for (id, other) in &entry.subscribers {
                if *id != conn.socket_id {
                    other.conn.send(frame.clone());
                }
            }
        }
        drop(guard);
        if is_new_channel {
            self.webhook(WebhookEventData::channel(
                WebhookEvent::ChannelOccupied,
                channel,
            ));
        }
        if let Some(user_id) = added_user {
            self.webhook(WebhookEventData::member(
                WebhookEvent::MemberAdded,
                channel,
                &user_id,
            ));
        }
        Ok(())
    }

    /// Removes `socket_id` from `channel`; queues `member_removed` to the
    /// others when it was the user's last socket there. Returns whether the
    /// socket was subscribed.
    pub fn unsubscribe(&self, socket_id: &SocketId, channel: &str) -> bool {
        let mut guard = self.channels();
        let Some(entry) = guard.map.get_mut(channel) else {
            return false;
        };
        if entry.subscribers.remove(socket_id).is_none() {
            return false;
        }
        let mut removed_user = None;
        if let Some(presence) = &mut entry.presence {
            if let Some(departure) = presence.remove(socket_id) {
                if departure.last_connection {
                    let frame = ServerMessage::MemberRemoved {
                        channel,
                        user_id: &departure.user_id,
                    }
                    .encode();
                    for other in entry.subscribers.values() {
                        other.conn.send(frame.clone());
                    }
                    removed_user = Some(departure.user_id);
                }
            }
        }
        let vacated = entry.subscribers.is_empty();
        if vacated {
            guard.map.remove(channel);
        }
        drop(guard);
        if let Some(user_id) = removed_user {
            self.webhook(WebhookEventData::member(
                WebhookEvent::MemberRemoved,
                channel,
                &user_id,
            ));
        }
        if vacated {
            self.webhook(WebhookEventData::channel(
                WebhookEvent::ChannelVacated,
                channel,
            ));
        }
        true
    }

    /// Queues `frame` to every subscriber of `channel` but `except`, and
    /// remembers it on cache channels. Returns how many sockets got it.
    pub fn publish(&self, channel: &str, frame: &Encoded, except: Option<&SocketId>) -> usize {
        let mut guard = self.channels();
        if ChannelKind::of(channel).is_cache() {
            guard.remember(channel, frame);
        }
        let limit = self.held_frames_limit;
        let Some(entry) = guard.map.get_mut(channel) else {
            return 0;
        };
        let mut delivered = 0;
        for (id, subscriber) in &mut entry.subscribers {
            if Some(id) != except && subscriber.deliver(frame, limit) {
                delivered += 1;
            }
        }
        delivered
    }

    fn new_channel(&self, kind: ChannelKind, cluster: bool) -> Channel {
        let presence = kind
            .is_presence()
            .then(|| PresenceChannel::new(self.config.limits.max_presence_members));
        Channel {
            subscribers: HashMap::new(),
            presence,
            mirror: (cluster && kind.is_presence()).then(mirror::Mirror::syncing),
        }
    }

    /// The presence user id of `socket_id` in `channel`.
    pub fn presence_user(&self, channel: &str, socket_id: &SocketId) -> Option<String> {
        let guard = self.channels();
        let presence = guard.map.get(channel)?.presence.as_ref()?;
        presence.user_of(socket_id).map(str::to_string)
    }

    /// Counts of one channel; `None` when nobody is subscribed.
    pub fn channel_stats(&self, channel: &str) -> Option<ChannelStats> {
        let guard = self.channels();
        guard.map.get(channel).map(stats)
    }

    /// Occupied channels whose name starts with `prefix`, with their counts.
    pub fn channels_with_prefix(&self, prefix: &str) -> Vec<(String, ChannelStats)> {
        let guard = self.channels();
        let mut out: Vec<_> = guard
            .map
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, channel)| (name.clone(), stats(channel)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// The user ids in a presence channel (`None` if it is not an occupied
    /// presence channel).
    pub fn presence_users(&self, channel: &str) -> Option<Vec<String>> {
        let guard = self.channels();
        let presence = guard.map.get(channel)?.presence.as_ref()?;
        Some(presence.user_ids().map(str::to_string).collect())
    }

    /// Records a signed-in user's connection.
    pub fn add_user_connection(&self, user_id: &str, conn: &ConnHandle) {
        self.users()
            .entry(user_id.to_string())
            .or_default()
            .insert(conn.socket_id.clone(), conn.clone());
    }

    /// Forgets a signed-in user's connection.
    pub fn remove_user_connection(&self, user_id: &str, socket_id: &SocketId) {
        let mut users = self.users();
        if let Some(sockets) = users.get_mut(user_id) {
            sockets.remove(socket_id);
            if sockets.is_empty() {
                users.remove(user_id);
            }
        }
    }

    /// Closes every connection of a signed-in user with 4009; returns how many.
    pub fn terminate_user(&self, user_id: &str) -> usize {
        let users = self.users();
        let Some(sockets) = users.get(user_id) else {
            return 0;
        };
        for conn in sockets.values() {
            conn.close(
                4009,
                "Connection terminated by the server (terminate_connections)",
            );
        }
        sockets.len()
    }

    /// How many connections a signed-in user has on this node.
    pub fn user_connection_count(&self, user_id: &str) -> usize {
        self.users().get(user_id).map_or(0, HashMap::len)
    }
}

fn stats(channel: &Channel) -> ChannelStats {
    ChannelStats {
        subscription_count: channel.subscribers.len(),
        user_count: channel.presence.as_ref().map(PresenceChannel::member_count),
    }
}
