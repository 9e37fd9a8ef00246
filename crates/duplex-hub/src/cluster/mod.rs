//! The Redis adapter: several `duplex serve` nodes behaving as one server.
//!
//! - **Fan-out**: a node delivers an event to its own subscribers at once,
//!   then publishes it on one Redis pub/sub channel; every other node
//!   delivers it to theirs (a node skips its own messages, so each
//!   subscriber gets each event once). `socket_id` exclusion travels with it.
//! - **Shared state**: subscription counts, presence members and cache
//!   channels' last events live in Redis, changed only by Lua scripts that
//!   report each transition (occupied, first member, …) to exactly one node,
//!   which sends the member event and the webhook ([`scripts`]).
//! - **Node death**: every node heartbeats into a sorted set; any node
//!   removes a node silent for `node_timeout_ms`, subtracting its ledger and
//!   announcing the members that left.
//! - **Redis outage**: commands fail fast while Redis is down; the node
//!   serves its own connections alone, logs and counts the outage, retries
//!   every heartbeat, and when Redis answers again replaces its ledger with
//!   its local truth, then re-reads the member lists it shows.

mod bus;
mod scripts;
mod tasks;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script, Value};
use tokio::sync::mpsc;

use duplex_pusher::auth::{PresenceMember, SocketId};
use duplex_pusher::channel::ChannelKind;
use duplex_pusher::presence::{Members, PresenceError};
use duplex_pusher::protocol::Encoded;

use super::app_state::{
    AppState, ChannelStats, ConnectionSlot, JoinOutcome, LocalJoin, MemberChange, SubscribeError,
    CACHE_TTL,
};
use super::config::RedisConfig;
use super::conn::ConnHandle;
use duplex_pusher::app::WebhookEvent;

use bus::{BusBody, BusMessage};
use scripts::{Keys, Subscribed, Transition};

/// Bus messages a node queues for Redis at most (about 64 MiB of 1 KiB
/// events); beyond, events are not sent to the other nodes (and counted).
const OUTBOX_MESSAGES: usize = 65_536;

/// A queued bus message.
#[derive(Debug)]
struct Outgoing {
    /// The encoded [`BusMessage`].
    message: Vec<u8>,
}

/// Redis is unreachable (or answered nonsense): the cluster-wide answer is
/// unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the cluster state (Redis) is unavailable")]
pub struct Unavailable;

/// Counters of the Redis adapter, for `/metrics`.
#[derive(Debug, Default)]
pub struct ClusterStats {
    /// Failed Redis commands.
    pub redis_errors: AtomicU64,
    /// Times Redis went from reachable to unreachable.
    pub outages: AtomicU64,
    /// Bus messages published.
    pub bus_out: AtomicU64,
    /// Bus messages received from other nodes.
    pub bus_in: AtomicU64,
    /// Bus messages not published because Redis was unreachable.
    pub bus_skipped: AtomicU64,
    /// Times this node rebuilt its share of the cluster state.
    pub rebuilds: AtomicU64,
    /// Dead nodes this node removed.
    pub nodes_reaped: AtomicU64,
}

/// One node of a cluster: its Redis connections and background tasks.
pub struct Cluster {
    node: String,
    keys: Keys,
    config: RedisConfig,
    client: redis::Client,
    conn: ConnectionManager,
    /// Whether Redis answered the last command.
    up: AtomicBool,
    /// This node's ledger in Redis may be wrong: rebuild it when possible.
    dirty: AtomicBool,
    /// Subscriptions and leaves hold it shared; a rebuild holds it alone,
    /// so that no join is half counted when the ledger is replaced.
    ledger: tokio::sync::RwLock<()>,
    subscribe: Script,
    unsubscribe: Script,
    set_ledger: Script,
    heartbeat: Script,
    connect: Script,
    disconnect: Script,
    /// Bus messages waiting for the sender task.
    outbox: mpsc::Sender<Outgoing>,
    /// Its receiving end, until the task starts.
    outbox_rx: Mutex<Option<mpsc::Receiver<Outgoing>>>,
    /// Whether the outbox overflowed (logged once per episode).
    outbox_full: AtomicBool,
    /// When to re-read the member lists shown here (after a rebuild or a
    /// bus reconnect).
    member_resync_at: Mutex<Option<tokio::time::Instant>>,
    /// Counters.
    pub stats: ClusterStats,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node", &self.node)
            .field("prefix", &self.keys.prefix())
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl Cluster {
    /// Prepares a node (connections are made lazily, so a node starts even
    /// while Redis is down). Must be called inside a tokio runtime.
    pub fn new(config: &RedisConfig) -> RedisResult<Self> {
        let client = redis::Client::open(config.url.as_str())?;
        let timeout = Duration::from_millis(config.command_timeout_ms);
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(config.heartbeat_interval_ms));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
        let node = format!("{:016x}", rand::random::<u64>());
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX_MESSAGES);
        Ok(Cluster {
            outbox,
            outbox_rx: Mutex::new(Some(outbox_rx)),
            outbox_full: AtomicBool::new(false),
            node,
            keys: Keys::new(&config.prefix),
            config: config.clone(),
            client,
            conn,
            up: AtomicBool::new(true),
            dirty: AtomicBool::new(false),
            ledger: tokio::sync::RwLock::new(()),
            subscribe: Script::new(scripts::SUBSCRIBE),
            unsubscribe: Script::new(scripts::UNSUBSCRIBE),
            set_ledger: Script::new(scripts::SET_LEDGER),
            heartbeat: Script::new(scripts::HEARTBEAT),
            connect: Script::new(scripts::CONNECT),
            disconnect: Script::new(scripts::DISCONNECT),
            member_resync_at: Mutex::new(None),
            stats: ClusterStats::default(),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// This node's id (random, logged at start).
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Whether Redis answered the last command.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    fn command_timeout(&self) -> Duration {
        Duration::from_millis(self.config.command_timeout_ms)
    }

    /// Runs a Redis command; `None` when Redis is down or the command
    /// failed (which is logged, counted, and marks this node's ledger for
    /// a rebuild).
    async fn call<T>(
        &self,
        what: &str,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Option<T> {
        if !self.is_up() {
            self.dirty.store(true, Ordering::Relaxed);
            return None;
        }
        self.attempt(what, command).await
    }

    /// Like [`call`](Self::call), but tries even while Redis is down (the
    /// heartbeat uses it to notice Redis coming back).
    async fn attempt<T>(
        &self,
        what: &str,
        command: impl Future<Output = RedisResult<T>>,
    ) -> Option<T> {
        let result = match tokio::time::timeout(self.command_timeout(), command).await {
            Ok(Ok(value)) => return Some(value),
            Ok(Err(e)) => e,
            Err(_) => redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "command timed out",
            )),
        };
        self.failed(what, &result);
        None
    }

    fn failed(&self, what: &str, error: &redis::RedisError) {
        self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
        self.dirty.store(true, Ordering::Relaxed);
        let unreachable = error.is_io_error()
            || error.is_timeout()
            || error.is_connection_dropped()
            || error.is_connection_refusal();
        if !unreachable {
            tracing::error!(node = %self.node, "redis {what} failed: {error}");
        } else if self.up.swap(false, Ordering::Relaxed) {
            self.stats.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                node = %self.node,
                "redis unreachable ({what}: {error}): serving this node's connections alone until it is back"
            );
        }
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Delivers `frame` here, then to the other nodes; remembers it on
    /// cache channels. Returns how many local sockets got it.
    pub async fn publish(
        &self,
        app: &AppState,
        channel: &str,
        frame: &Encoded,
        except: Option<&SocketId>,
    ) -> usize {
        let delivered = app.publish(channel, frame, except);
        let message = BusMessage {
            node: self.node.clone(),
            app: app.config.id.clone(),
            body: BusBody::Event {
                channel: channel.to_string(),
                except: except.map(|s| s.as_str().to_string()).unwrap_or_default(),
                frame: frame.as_str().to_string(),
            },
        };
        if ChannelKind::of(channel).is_cache() {
            // Stored before the publish returns, so that a subscriber on any
            // node gets it from then on (read-your-writes for the caller).
            let mut set = redis::cmd("SET");
            set.arg(self.keys.cache(&app.config.id, channel))
                .arg(frame.as_str())
                .arg("PX")
                .arg(CACHE_TTL.as_millis() as u64);
            let mut conn = self.conn();
            self.call("cache", set.query_async::<()>(&mut conn)).await;
        }
        self.enqueue(Outgoing {
            message: message.encode(),
        });
        delivered
    }

    /// Queues a bus message for the sender task (which pipelines what
    /// accumulates): publishing never waits for Redis. When the queue is
    /// full or Redis is down the message is dropped and counted.
    fn enqueue(&self, outgoing: Outgoing) {
        if !self.is_up() {
            self.stats.bus_skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.outbox.try_send(outgoing).is_err() {
            self.stats.bus_skipped.fetch_add(1, Ordering::Relaxed);
            if !self.outbox_full.swap(true, Ordering::Relaxed) {
                tracing::warn!(node = %self.node, "bus queue full: events are not reaching the other nodes (is Redis slow?)");
            }
        } else {
            self.outbox_full.store(false, Ordering::Relaxed);
        }
    }

    fn broadcast(&self, app: &str, body: BusBody) {
        let message = BusMessage {
            node: self.node.clone(),
            app: app.to_string(),
            body,
        };
        self.enqueue(Outgoing {
            message: message.encode(),
        });
    }

    /// Sends queued bus messages, many per round trip.
    async fn send_outgoing(&self, batch: &[Outgoing]) {
        let mut pipe = redis::pipe();
        for item in batch {
            pipe.cmd("PUBLISH")
                .arg(self.keys.bus())
                .arg(&item.message)
                .ignore();
        }
        let mut conn = self.conn();
        let counter = match self
            .call("publish", pipe.query_async::<()>(&mut conn))
            .await
        {
            Some(()) => &self.stats.bus_out,
            None => &self.stats.bus_skipped,
        };
        counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }

    /// Admits a connection to `app` against its quota cluster-wide (this
    /// node's slot first, then the cluster's count). While Redis is
    /// unreachable, this node's count alone decides.
    pub async fn connect(&self, app: &AppState) -> Option<ConnectionSlot> {
        let slot = app.try_connect()?;
        let _shared = self.ledger.read().await;
        let mut invocation = self.connect.prepare_invoke();
        invocation
            .key(self.keys.connections())
            .key(self.keys.node_connections(&self.node))
            .arg(&app.config.id)
            .arg(app.config.limits.max_connections);
        let mut conn = self.conn();
        match self
            .call("connect", invocation.invoke_async::<i64>(&mut conn))
            .await
        {
            Some(0) => None,
            _ => Some(slot),
        }
    }

    /// Releases a connection admitted by [`connect`](Self::connect).
    pub async fn disconnect(&self, app: &AppState, slot: ConnectionSlot) {
        let _shared = self.ledger.read().await;
        let mut invocation = self.disconnect.prepare_invoke();
        invocation
            .key(self.keys.connections())
            .key(self.keys.node_connections(&self.node))
            .arg(&app.config.id);
        let mut conn = self.conn();
        self.call("disconnect", invocation.invoke_async::<i64>(&mut conn))
            .await;
        drop(slot);
    }

    /// Subscribes `conn` to `channel` cluster-wide: see the module docs of
    /// `app_state::cluster` for the three steps.
    pub async fn subscribe(
        &self,
        app: &AppState,
        conn: &ConnHandle,
        channel: &str,
        kind: ChannelKind,
        member: Option<PresenceMember>,
    ) -> Result<(), SubscribeError> {
        let info = member
            .as_ref()
            .and_then(|m| m.user_info.as_ref())
            .map_or_else(String::new, |i| i.get().to_string());
        let shared = self.ledger.read().await;
        let LocalJoin::Registered {
            user_id,
            new_here,
            first_here,
            needs_members,
            needs_cache,
        } = app.join_local(conn, channel, kind, member)?
        else {
            return Ok(());
        };
        let app_id = &app.config.id;
        let user = user_id.as_deref().unwrap_or("");
        let mut invocation = self.subscribe.prepare_invoke();
        invocation
            .key(self.keys.channels(app_id))
            .key(self.keys.node_subs(&self.node))
            .key(self.keys.users(app_id, channel))
            .key(self.keys.info(app_id, channel))
            .key(self.keys.node_pres(&self.node))
            .key(self.keys.cache(app_id, channel))
            .arg(channel)
            .arg(scripts::channel_field(app_id, channel))
            .arg(if user_id.is_some() { "1" } else { "0" })
            .arg(user)
            .arg(&info)
            .arg(app.config.limits.max_presence_members)
            .arg(scripts::user_field(app_id, channel, user))
            .arg(if needs_members { "1" } else { "0" })
            .arg(if needs_cache { "1" } else { "0" });
        let mut redis_conn = self.conn();
        let reply = self
            .call(
                "subscribe",
                invocation.invoke_async::<Value>(&mut redis_conn),
            )
            .await
            .and_then(|v| self.parse("subscribe", scripts::parse_subscribed(v)));
        let outcome = match reply {
            Some(Subscribed::Full) => {
                app.abort_join(&conn.socket_id, channel);
                return Err(SubscribeError::Presence(
                    PresenceError::MemberLimitReached {
                        max: app.config.limits.max_presence_members,
                    },
                ));
            }
            Some(Subscribed::Joined {
                occupied,
                first_member,
                members,
                cached,
            }) => JoinOutcome {
                occupied,
                first_member,
                members: needs_members.then_some(members),
                cached: cached.map(Encoded::from_trusted),
            },
            // Redis is unreachable: decide as if this node were alone.
            None => JoinOutcome {
                occupied: new_here,
                first_member: first_here,
                members: None,
                cached: None,
            },
        };
        let (occupied, first_member) = (outcome.occupied, outcome.first_member);
        app.finish_join(conn, channel, kind, outcome);
        drop(shared);
        if occupied {
            app.webhook_transition(channel, WebhookEvent::ChannelOccupied, None);
        }
        if let (true, Some(user)) = (first_member, user_id) {
            app.webhook_transition(channel, WebhookEvent::MemberAdded, Some(&user));
            let body = BusBody::MemberAdded {
                channel: channel.to_string(),
                user,
                info,
            };
            self.broadcast(app_id, body);
        }
        Ok(())
    }

    /// Unsubscribes `socket_id` from `channel` cluster-wide.
    pub async fn unsubscribe(&self, app: &AppState, socket_id: &SocketId, channel: &str) -> bool {
        let shared = self.ledger.read().await;
        let Some(leave) = app.leave_local(socket_id, channel) else {
            return false;
        };
        let app_id = &app.config.id;
        let user = leave.user.as_ref().map_or("", |(user, _)| user.as_str());
        let mut invocation = self.unsubscribe.prepare_invoke();
        invocation
            .key(self.keys.channels(app_id))
            .key(self.keys.node_subs(&self.node))
            .key(self.keys.users(app_id, channel))
            .key(self.keys.info(app_id, channel))
            .key(self.keys.node_pres(&self.node))
            .arg(channel)
            .arg(scripts::channel_field(app_id, channel))
            .arg(if leave.user.is_some() { "1" } else { "0" })
            .arg(user)
            .arg(scripts::user_field(app_id, channel, user));
        let mut redis_conn = self.conn();
        let (vacated, last_member) = self
            .call(
                "unsubscribe",
                invocation.invoke_async::<Value>(&mut redis_conn),
            )
            .await
            .and_then(|v| self.parse("unsubscribe", scripts::parse_unsubscribed(v)))
            .unwrap_or((
                leave.emptied,
                leave.user.as_ref().is_some_and(|(_, last)| *last),
            ));
        drop(shared);
        if let (true, Some((user, _))) = (last_member, leave.user) {
            app.apply_member_change(channel, MemberChange::Removed(user.clone()));
            app.webhook_transition(channel, WebhookEvent::MemberRemoved, Some(&user));
            let body = BusBody::MemberRemoved {
                channel: channel.to_string(),
                user,
            };
            self.broadcast(app_id, body);
        }
        if vacated {
            app.webhook_transition(channel, WebhookEvent::ChannelVacated, None);
        }
        true
    }

    fn parse<T>(&self, what: &str, parsed: Result<T, scripts::ReplyError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.stats.redis_errors.fetch_add(1, Ordering::Relaxed);
                self.dirty.store(true, Ordering::Relaxed);
                tracing::error!(node = %self.node, "redis {what}: {e}");
                None
            }
        }
    }

    /// Closes a user's connections on every node.
    pub async fn terminate_user(&self, app: &AppState, user_id: &str) -> usize {
        let closed = app.terminate_user(user_id);
        let body = BusBody::Terminate {
            user: user_id.to_string(),
        };
        self.broadcast(&app.config.id, body);
        closed
    }

    /// Cluster-wide counts of one channel.
    pub async fn channel_stats(
        &self,
        app: &AppState,
        channel: &str,
    ) -> Result<Option<ChannelStats>, Unavailable> {
        let app_id = &app.config.id;
        let mut pipe = redis::pipe();
        pipe.cmd("HGET")
            .arg(self.keys.channels(app_id))
            .arg(channel);
        pipe.cmd("HLEN").arg(self.keys.users(app_id, channel));
        let mut conn = self.conn();
        let (count, users): (Option<usize>, usize) = self
            .call("channel query", pipe.query_async(&mut conn))
            .await
            .ok_or(Unavailable)?;
        Ok(count
            .filter(|n| *n > 0)
            .map(|subscription_count| ChannelStats {
                subscription_count,
                user_count: ChannelKind::of(channel).is_presence().then_some(users),
            }))
    }

    /// Cluster-wide: the occupied channels whose name starts with `prefix`.
    pub async fn channels_with_prefix(
        &self,
        app: &AppState,
        prefix: &str,
    ) -> Result<Vec<(String, ChannelStats)>, Unavailable> {
        let app_id = &app.config.id;
        let key = self.keys.channels(app_id);
        let pattern = format!("{}*", glob_escape(prefix));
        let mut conn = self.conn();
        let mut found: Vec<(String, usize)> = Vec::new();
        let mut cursor = 0u64;
        loop {
            let mut cmd = redis::cmd("HSCAN");
            cmd.arg(&key)
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let (next, page): (u64, Vec<(String, usize)>) = self
                .call("channel query", cmd.query_async(&mut conn))
                .await
                .ok_or(Unavailable)?;
            found.extend(page.into_iter().filter(|(_, n)| *n > 0));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        found.sort();
        found.dedup_by(|a, b| a.0 == b.0);
        let mut pipe = redis::pipe();
        for (name, _) in &found {
            pipe.cmd("HLEN").arg(self.keys.users(app_id, name));
        }
        let user_counts: Vec<usize> = if found.is_empty() {
            Vec::new()
        } else {
            self.call("channel query", pipe.query_async(&mut conn))
                .await
                .ok_or(Unavailable)?
        };
        Ok(found
            .into_iter()
            .zip(user_counts)
            .map(|((name, subscription_count), users)| {
                let user_count = ChannelKind::of(&name).is_presence().then_some(users);
                let stats = ChannelStats {
                    subscription_count,
                    user_count,
                };
                (name, stats)
            })
            .collect())
    }

    /// Cluster-wide: the user ids of a presence channel.
    pub async fn presence_users(
        &self,
        app: &AppState,
        channel: &str,
    ) -> Result<Option<Vec<String>>, Unavailable> {
        let mut conn = self.conn();
        let mut cmd = redis::cmd("HKEYS");
        cmd.arg(self.keys.users(&app.config.id, channel));
        let mut users: Vec<String> = self
            .call("users query", cmd.query_async(&mut conn))
            .await
            .ok_or(Unavailable)?;
        users.sort();
        Ok((!users.is_empty()).then_some(users))
    }

    /// Reads a presence channel's member list from Redis.
    async fn members(&self, app_id: &str, channel: &str) -> Option<Members> {
        let mut conn = self.conn();
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(self.keys.info(app_id, channel));
        let value = self
            .call("member list", cmd.query_async::<Value>(&mut conn))
            .await?;
        self.parse("member list", scripts::parse_members(value))
    }

    /// Says goodbye: empties this node's ledger (with the usual events)
    /// and unregisters it. Called after the connections are gone.
    pub async fn leave(&self, hub: &super::Hub) {
        self.set_ledger(hub, Vec::new()).await;
        // Let the sender task deliver what is queued (member_removed above).
        let deadline = tokio::time::Instant::now() + self.command_timeout();
        while self.outbox.capacity() < OUTBOX_MESSAGES && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut conn = self.conn();
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(self.keys.nodes()).arg(&self.node);
        self.call("goodbye", cmd.query_async::<()>(&mut conn)).await;
        self.stop_tasks();
    }

    fn stop_tasks(&self) {
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        for task in tasks.drain(..) {
            task.abort();
        }
    }

    /// Replaces this node's ledger with `records` (see
    /// [`scripts::SET_LEDGER`]) and announces what changed.
    async fn set_ledger(&self, hub: &super::Hub, records: Vec<String>) -> bool {
        let mut invocation = self.set_ledger.prepare_invoke();
        invocation
            .arg(self.keys.prefix())
            .arg("resync")
            .arg(&self.node)
            .arg(records);
        let mut conn = self.conn();
        let Some(reply) = self
            .attempt("rebuild", invocation.invoke_async::<Value>(&mut conn))
            .await
        else {
            return false;
        };
        let Some(Some((_, transitions))) = self.parse("rebuild", scripts::parse_ledger(reply))
        else {
            return false;
        };
        self.announce(hub, transitions).await;
        true
    }

    /// Sends the member events and webhooks of cluster transitions found by
    /// a rebuild or a reap.
    async fn announce(&self, hub: &super::Hub, transitions: Vec<Transition>) {
        for transition in transitions {
            match transition {
                Transition::Occupied { app, channel } => {
                    if let Some(app) = hub.app_by_id(&app) {
                        app.webhook_transition(&channel, WebhookEvent::ChannelOccupied, None);
                    }
                }
                Transition::Vacated { app, channel } => {
                    if let Some(app) = hub.app_by_id(&app) {
                        app.webhook_transition(&channel, WebhookEvent::ChannelVacated, None);
                    }
                }
                Transition::MemberAdded {
                    app: app_id,
                    channel,
                    user,
                    info,
                } => {
                    if let Some(app) = hub.app_by_id(&app_id) {
                        let change = MemberChange::Added(user.clone(), scripts::parse_info(&info));
                        app.apply_member_change(&channel, change);
                        app.webhook_transition(&channel, WebhookEvent::MemberAdded, Some(&user));
                    }
                    let body = BusBody::MemberAdded {
                        channel,
                        user,
                        info,
                    };
                    self.broadcast(&app_id, body);
                }
                Transition::MemberRemoved {
                    app: app_id,
                    channel,
                    user,
                } => {
                    if let Some(app) = hub.app_by_id(&app_id) {
                        app.apply_member_change(&channel, MemberChange::Removed(user.clone()));
                        app.webhook_transition(&channel, WebhookEvent::MemberRemoved, Some(&user));
                    }
                    self.broadcast(&app_id, BusBody::MemberRemoved { channel, user });
                }
            }
        }
    }

    /// Renders the adapter's metrics.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let s = &self.stats;
        let _ = writeln!(
            out,
            "# HELP duplex_redis_up Whether Redis answered the last command\n# TYPE duplex_redis_up gauge\nduplex_redis_up {}",
            u8::from(self.is_up())
        );
        for (name, help, value) in [
            (
                "duplex_redis_errors_total",
                "Failed Redis commands",
                &s.redis_errors,
            ),
            (
                "duplex_redis_outages_total",
                "Times Redis became unreachable",
                &s.outages,
            ),
            (
                "duplex_cluster_bus_published_total",
                "Events and member changes published to the other nodes",
                &s.bus_out,
            ),
            (
                "duplex_cluster_bus_received_total",
                "Bus messages received from the other nodes",
                &s.bus_in,
            ),
            (
                "duplex_cluster_bus_skipped_total",
                "Bus messages not published (Redis unreachable)",
                &s.bus_skipped,
            ),
            (
                "duplex_cluster_rebuilds_total",
                "Times this node rebuilt its share of the cluster state",
                &s.rebuilds,
            ),
            (
                "duplex_cluster_nodes_reaped_total",
                "Dead nodes this node removed from the cluster state",
                &s.nodes_reaped,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                load(value)
            );
        }
    }
}

/// Escapes Redis glob characters so a prefix matches literally.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
