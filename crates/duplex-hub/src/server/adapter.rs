//! The adapter: how events, counts and presence reach every node.
//!
//! Everything that must behave the same on one node as on a cluster goes
//! through [`Adapter`]: publishing (fan-out to every subscriber, wherever it
//! is connected), channel and presence queries, and terminating a user's
//! connections. [`AppState`] is this node's share of the state; the adapter
//! decides what else to consult. Today there is one adapter, `Memory`: a
//! single node, where this node's state is the whole state. A cluster adapter
//! (Redis) implements the same operations across nodes.
//!
//! The operations are `async` because a cluster adapter talks to the
//! network; the memory adapter never waits.

use crate::auth::SocketId;
use crate::protocol::Frame;

use super::app_state::{AppState, ChannelStats};

/// Where the server's shared state lives.
#[derive(Debug, Default, Clone)]
#[non_exhaustive]
pub enum Adapter {
    /// One node: everything is in this process.
    #[default]
    Memory,
}

impl Adapter {
    /// Delivers `frame` to every subscriber of `channel` except `except`;
    /// returns how many local sockets got it.
    pub async fn publish(
        &self,
        app: &AppState,
        channel: &str,
        frame: &Frame,
        except: Option<&SocketId>,
    ) -> usize {
        match self {
            Adapter::Memory => app.publish(channel, frame, except),
        }
    }

    /// The counts of one channel; `None` when it is not occupied.
    pub async fn channel_stats(&self, app: &AppState, channel: &str) -> Option<ChannelStats> {
        match self {
            Adapter::Memory => app.channel_stats(channel),
        }
    }

    /// The occupied channels whose name starts with `prefix`.
    pub async fn channels_with_prefix(
        &self,
        app: &AppState,
        prefix: &str,
    ) -> Vec<(String, ChannelStats)> {
        match self {
            Adapter::Memory => app.channels_with_prefix(prefix),
        }
    }

    /// The user ids of a presence channel.
    pub async fn presence_users(&self, app: &AppState, channel: &str) -> Option<Vec<String>> {
        match self {
            Adapter::Memory => app.presence_users(channel),
        }
    }

    /// Closes every connection of a signed-in user (4009); returns how many
    /// local connections were closed.
    pub async fn terminate_user(&self, app: &AppState, user_id: &str) -> usize {
        match self {
            Adapter::Memory => app.terminate_user(user_id),
        }
    }
}
