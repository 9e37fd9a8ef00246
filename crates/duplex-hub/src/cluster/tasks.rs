//! A node's two background tasks: the bus listener (events from the other
//! nodes) and the heartbeat (liveness, dead nodes, outage recovery).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::Value;
use tokio::time::Instant;

use duplex_pusher::auth::SocketId;
use duplex_pusher::protocol::Encoded;

use super::bus::{BusBody, BusMessage};
use super::scripts;
use super::Cluster;
use crate::app_state::MemberChange;
use crate::Hub;

/// Longest wait between two attempts to reconnect the bus.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

impl Cluster {
    /// Starts the node's tasks. They hold the hub weakly and end with it.
    pub fn start(self: &Arc<Self>, hub: &Arc<Hub>) {
        tracing::info!(
            node = %self.node,
            prefix = %self.keys.prefix(),
            "cluster node started (Redis adapter)"
        );
        let outbox = self
            .outbox_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let mut tasks = vec![
            tokio::spawn(listen(Arc::downgrade(self), Arc::downgrade(hub))),
            tokio::spawn(heartbeat(Arc::downgrade(self), Arc::downgrade(hub))),
        ];
        if let Some(outbox) = outbox {
            tasks.push(tokio::spawn(send(Arc::downgrade(self), outbox)));
        }
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(tasks);
    }

    /// Re-reads the member lists this node shows after `delay` (or sooner
    /// if one is already due).
    fn schedule_member_resync(&self, delay: Duration) {
        let at = Instant::now() + delay;
        let mut due = self
            .member_resync_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        *due = Some(due.map_or(at, |d| d.min(at)));
    }

    /// Handles one message from the bus.
    fn on_bus(&self, hub: &Hub, payload: &[u8]) {
        let message = match BusMessage::decode(payload) {
            Ok(message) => message,
            Err(e) => {
                tracing::warn!(node = %self.node, "ignoring a bus message: {e}");
                return;
            }
        };
        if message.node == self.node {
            return; // delivered here when it was published
        }
        self.stats.bus_in.fetch_add(1, Ordering::Relaxed);
        let Some(app) = hub.app_by_id(&message.app) else {
            return; // an app this node does not serve
        };
        match message.body {
            BusBody::Event {
                channel,
                except,
                frame,
            } => {
                let except = SocketId::parse(&except).ok();
                app.publish(&channel, &Encoded::from_trusted(frame), except.as_ref());
            }
            BusBody::MemberAdded {
                channel,
                user,
                info,
            } => {
                let change = MemberChange::Added(user, scripts::parse_info(&info));
                app.apply_member_change(&channel, change);
            }
            BusBody::MemberRemoved { channel, user } => {
                app.apply_member_change(&channel, MemberChange::Removed(user));
            }
            BusBody::Terminate { user } => {
                app.terminate_user(&user);
            }
        }
    }

    /// One heartbeat: register, notice Redis coming back or this node's
    /// state going missing, rebuild if needed, remove dead nodes, re-read
    /// member lists when due.
    async fn beat(&self, hub: &Hub, registered: &mut bool) {
        let mut invocation = self.heartbeat.prepare_invoke();
        invocation.key(self.keys.nodes()).arg(&self.node);
        let mut conn = self.conn();
        let Some(known) = self
            .attempt("heartbeat", invocation.invoke_async::<i64>(&mut conn))
            .await
        else {
            return;
        };
        if !self.up.swap(true, Ordering::Relaxed) {
            tracing::info!(node = %self.node, "redis reachable again: rebuilding this node's share of the cluster state");
            self.dirty.store(true, Ordering::Relaxed);
        }
        if *registered && known == 0 {
            tracing::warn!(
                node = %self.node,
                "this node was missing from the cluster state (Redis restarted, or the node was taken for dead): rebuilding"
            );
            self.dirty.store(true, Ordering::Relaxed);
        }
        *registered = true;
        if self.dirty.swap(false, Ordering::Relaxed) && !self.rebuild(hub).await {
            self.dirty.store(true, Ordering::Relaxed);
            return;
        }
        self.reap(hub).await;
        let due = {
            let mut at = self
                .member_resync_at
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match *at {
                Some(t) if t <= Instant::now() => at.take().is_some(),
                _ => false,
            }
        };
        if due {
            self.resync_members(hub).await;
        }
    }

    /// Replaces this node's ledger with what its connections hold now.
    async fn rebuild(&self, hub: &Hub) -> bool {
        let _exclusive = self.ledger.write().await;
        let mut records = Vec::new();
        for app in hub.apps() {
            let id = &app.config.id;
            records.push("n".to_string());
            records.push(id.clone());
            records.push(app.connection_count().to_string());
            for c in app.contributions() {
                records.push("c".to_string());
                records.push(scripts::channel_field(id, &c.channel));
                records.push(c.subscribers.to_string());
                for (user, sockets, info) in c.users {
                    records.push("p".to_string());
                    records.push(scripts::user_field(id, &c.channel, &user));
                    records.push(sockets.to_string());
                    records.push(info);
                }
            }
        }
        let subscriptions = records.iter().filter(|r| *r == "c").count();
        if !self.set_ledger(hub, records).await {
            return false;
        }
        self.stats.rebuilds.fetch_add(1, Ordering::Relaxed);
        tracing::info!(node = %self.node, channels = subscriptions, "rebuilt this node's share of the cluster state");
        // Other nodes rebuild within a heartbeat or two; then re-read the
        // member lists, in case changes were missed while apart.
        self.schedule_member_resync(Duration::from_millis(
            self.config
                .node_timeout_ms
                .min(3 * self.config.heartbeat_interval_ms),
        ));
        true
    }

    /// Removes nodes whose heartbeat stopped.
    async fn reap(&self, hub: &Hub) {
        for _ in 0..32 {
            let mut invocation = self.set_ledger.prepare_invoke();
            invocation
                .arg(self.keys.prefix())
                .arg("reap")
                .arg(self.config.node_timeout_ms);
            let mut conn = self.conn();
            let Some(reply) = self
                .call("reap", invocation.invoke_async::<Value>(&mut conn))
                .await
            else {
                return;
            };
            let Some(Some((node, transitions))) = self.parse("reap", scripts::parse_ledger(reply))
            else {
                return;
            };
            self.stats.nodes_reaped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                node = %self.node,
                dead = %node,
                changes = transitions.len(),
                "removed a node that stopped heartbeating"
            );
            self.announce(hub, transitions).await;
        }
    }

    /// Re-reads the member list of every presence channel shown here.
    async fn resync_members(&self, hub: &Hub) {
        for app in hub.apps() {
            for channel in app.begin_member_resync() {
                let members = self.members(&app.config.id, &channel).await;
                app.finish_member_resync(&channel, members);
            }
        }
    }
}

async fn listen(cluster: Weak<Cluster>, hub: Weak<Hub>) {
    let mut backoff = Duration::from_millis(100);
    let mut was_connected = false;
    let mut reported = false;
    loop {
        let Some(node) = cluster.upgrade() else {
            return;
        };
        let client = node.client.clone();
        let bus = node.keys.bus();
        let timeout = node.command_timeout();
        let id = node.node.clone();
        drop(node);
        let connected = tokio::time::timeout(timeout, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&bus).await?;
            Ok::<_, redis::RedisError>(pubsub)
        })
        .await;
        match connected {
            Ok(Ok(pubsub)) => {
                backoff = Duration::from_millis(100);
                reported = false;
                if was_connected {
                    tracing::info!(node = %id, "bus reconnected");
                    if let Some(node) = cluster.upgrade() {
                        // Messages were lost meanwhile: re-read member lists.
                        node.schedule_member_resync(Duration::ZERO);
                    }
                }
                was_connected = true;
                let mut messages = pubsub.into_on_message();
                while let Some(message) = messages.next().await {
                    let (Some(node), Some(hub)) = (cluster.upgrade(), hub.upgrade()) else {
                        return;
                    };
                    node.on_bus(&hub, message.get_payload_bytes());
                }
                tracing::warn!(node = %id, "bus connection to redis lost; reconnecting");
            }
            Ok(Err(e)) if !reported => {
                reported = true;
                tracing::warn!(node = %id, "bus cannot connect to redis: {e}; retrying");
            }
            Err(_) if !reported => {
                reported = true;
                tracing::warn!(node = %id, "bus connection to redis timed out; retrying");
            }
            _ => {}
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Bus messages sent in one pipeline at most.
const SEND_BATCH: usize = 256;

async fn send(cluster: Weak<Cluster>, mut outbox: tokio::sync::mpsc::Receiver<super::Outgoing>) {
    let mut batch = Vec::with_capacity(SEND_BATCH);
    while outbox.recv_many(&mut batch, SEND_BATCH).await > 0 {
        let Some(node) = cluster.upgrade() else {
            return;
        };
        node.send_outgoing(&batch).await;
        batch.clear();
    }
}

async fn heartbeat(cluster: Weak<Cluster>, hub: Weak<Hub>) {
    let Some(interval) = cluster
        .upgrade()
        .map(|c| Duration::from_millis(c.config.heartbeat_interval_ms))
    else {
        return;
    };
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut registered = false;
    loop {
        ticker.tick().await;
        let (Some(node), Some(hub)) = (cluster.upgrade(), hub.upgrade()) else {
            return;
        };
        node.beat(&hub, &mut registered).await;
    }
}
