//! Per-app limits, each with a conservative default.

use serde::Deserialize;

use crate::channel::DEFAULT_MAX_CHANNEL_NAME_LENGTH;

/// The limits one app runs under. Every field has a default; a TOML table
/// sets only what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppLimits {
    /// Concurrent connections; more are refused with 4004.
    pub max_connections: u64,
    /// Bytes of an event's `data`, from the HTTP API or a client; Pusher's
    /// limit is 10 KB (HTTP 413 beyond).
    pub max_event_payload_bytes: usize,
    /// Channels one HTTP publish may target (Pusher: 100).
    pub max_channels_per_publish: usize,
    /// Bytes of a channel name (Pusher documents 164; the SDKs allow 200).
    pub max_channel_name_length: usize,
    /// Bytes of an event name (the SDKs' limit is 200).
    pub max_event_name_length: usize,
    /// Distinct users in one presence channel.
    pub max_presence_members: usize,
    /// Bytes of one member's `user_info` JSON.
    pub max_presence_user_info_bytes: usize,
    /// Client events one connection may send per second; more are refused
    /// with 4301.
    pub client_event_rate_per_second: u32,
    /// Events in one `batch_events` request (Pusher: 10).
    pub max_batch_size: usize,
}

impl Default for AppLimits {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_event_payload_bytes: 10 * 1024,
            max_channels_per_publish: 100,
            max_channel_name_length: DEFAULT_MAX_CHANNEL_NAME_LENGTH,
            max_event_name_length: 200,
            max_presence_members: 100,
            max_presence_user_info_bytes: 1024,
            client_event_rate_per_second: 10,
            max_batch_size: 10,
        }
    }
}

impl AppLimits {
    /// Every limit must be at least 1: a zero would make the app unusable
    /// (disable client events with `client_events = false` instead).
    pub(crate) fn zero_limit(&self) -> Option<&'static str> {
        let limits: [(&'static str, u64); 9] = [
            ("max_connections", self.max_connections),
            (
                "max_event_payload_bytes",
                self.max_event_payload_bytes as u64,
            ),
            (
                "max_channels_per_publish",
                self.max_channels_per_publish as u64,
            ),
            (
                "max_channel_name_length",
                self.max_channel_name_length as u64,
            ),
            ("max_event_name_length", self.max_event_name_length as u64),
            ("max_presence_members", self.max_presence_members as u64),
            (
                "max_presence_user_info_bytes",
                self.max_presence_user_info_bytes as u64,
            ),
            (
                "client_event_rate_per_second",
                u64::from(self.client_event_rate_per_second),
            ),
            ("max_batch_size", self.max_batch_size as u64),
        ];
        limits
            .into_iter()
            .find(|&(_, value)| value == 0)
            .map(|(name, _)| name)
    }
}
