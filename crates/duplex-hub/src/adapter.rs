//! The adapter: how events, counts and presence reach every node.
//!
//! Everything that must behave the same on one node as on a cluster goes
//! through [`Adapter`]: subscribing and leaving (which decide occupied,
//! vacated, first and last member), publishing (fan-out to every
//! subscriber, wherever it is connected), channel and presence queries, and
//! terminating a user's connections. [`AppState`] is this node's share of
//! the state. `Memory` is a single node, where this node's state is the
//! whole state; `Redis` is a cluster ([`Cluster`]).
//!
//! The operations are `async` because a cluster adapter talks to the
//! network; the memory adapter never waits.

use std::sync::Arc;

use duplex_pusher::auth::{PresenceMember, SocketId};
use duplex_pusher::channel::ChannelKind;
use duplex_pusher::protocol::Encoded;

use super::app_state::{AppState, ChannelStats, ConnectionSlot, SubscribeError};
use super::cluster::{Cluster, Unavailable};
use super::conn::ConnHandle;

/// Where the server's shared state lives.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub enum Adapter {
    /// One node: everything is in this process.
    #[default]
    Memory,
    /// A cluster of nodes sharing state and events through Redis.
    Redis(Arc<Cluster>),
}

impl Adapter {
    /// Admits a connection to `app` against its connection quota (on a
    /// cluster, counted over every node); `None` when over it.
    pub async fn connect(&self, app: &AppState) -> Option<ConnectionSlot> {
        match self {
            Adapter::Memory => app.try_connect(),
            Adapter::Redis(cluster) => cluster.connect(app).await,
        }
    }

    /// Releases a connection admitted by [`connect`](Self::connect).
    pub async fn disconnect(&self, app: &AppState, slot: ConnectionSlot) {
        match self {
            Adapter::Memory => drop(slot),
            Adapter::Redis(cluster) => cluster.disconnect(app, slot).await,
        }
    }

    /// Subscribes `conn` to `channel` and queues `subscription_succeeded`
    /// (and the member list, the cached event, `member_added` for the
    /// others) in order.
    pub async fn subscribe(
        &self,
        app: &AppState,
        conn: &ConnHandle,
        channel: &str,
        kind: ChannelKind,
        member: Option<PresenceMember>,
    ) -> Result<(), SubscribeError> {
        match self {
            Adapter::Memory => app.subscribe(conn, channel, kind, member),
            Adapter::Redis(cluster) => cluster.subscribe(app, conn, channel, kind, member).await,
        }
    }

    /// Unsubscribes `socket_id` from `channel`; returns whether it was
    /// subscribed.
    pub async fn unsubscribe(&self, app: &AppState, socket_id: &SocketId, channel: &str) -> bool {
        match self {
            Adapter::Memory => app.unsubscribe(socket_id, channel),
            Adapter::Redis(cluster) => cluster.unsubscribe(app, socket_id, channel).await,
        }
    }

    /// Delivers `frame` to every subscriber of `channel` except `except`;
    /// returns how many local sockets got it.
    pub async fn publish(
        &self,
        app: &AppState,
        channel: &str,
        frame: &Encoded,
        except: Option<&SocketId>,
    ) -> usize {
        match self {
            Adapter::Memory => app.publish(channel, frame, except),
            Adapter::Redis(cluster) => cluster.publish(app, channel, frame, except).await,
        }
    }

    /// The counts of one channel; `None` when it is not occupied.
    pub async fn channel_stats(
        &self,
        app: &AppState,
        channel: &str,
    ) -> Result<Option<ChannelStats>, Unavailable> {
        match self {
            Adapter::Memory => Ok(app.channel_stats(channel)),
            Adapter::Redis(cluster) => cluster.channel_stats(app, channel).await,
        }
    }

    /// The occupied channels whose name starts with `prefix`.
    pub async fn channels_with_prefix(
        &self,
        app: &AppState,
        prefix: &str,
    ) -> Result<Vec<(String, ChannelStats)>, Unavailable> {
        match self {
            Adapter::Memory => Ok(app.channels_with_prefix(prefix)),
            Adapter::Redis(cluster) => cluster.channels_with_prefix(app, prefix).await,
        }
    }

    /// The user ids of a presence channel.
    pub async fn presence_users(
        &self,
        app: &AppState,
        channel: &str,
    ) -> Result<Option<Vec<String>>, Unavailable> {
        match self {
            Adapter::Memory => Ok(app.presence_users(channel)),
            Adapter::Redis(cluster) => cluster.presence_users(app, channel).await,
        }
    }

    /// Closes every connection of a signed-in user (4009), on every node;
    /// returns how many local connections were closed.
    pub async fn terminate_user(&self, app: &AppState, user_id: &str) -> usize {
        match self {
            Adapter::Memory => app.terminate_user(user_id),
            Adapter::Redis(cluster) => cluster.terminate_user(app, user_id).await,
        }
    }

    /// Appends the adapter's metrics to `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        if let Adapter::Redis(cluster) = self {
            cluster.render_metrics(out);
        }
    }
}
