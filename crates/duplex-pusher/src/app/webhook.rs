//! Where and what an app's webhooks report.

use serde::Deserialize;

/// One webhook endpoint and the events it receives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The `http://` or `https://` URL the events are POSTed to.
    pub url: String,
    /// The events to send; at least one.
    pub event_types: Vec<WebhookEvent>,
}

/// A webhook event type, named as in the webhook body's `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A channel got its first subscriber.
    ChannelOccupied,
    /// A channel lost its last subscriber.
    ChannelVacated,
    /// A user joined a presence channel (first connection).
    MemberAdded,
    /// A user left a presence channel (last connection).
    MemberRemoved,
    /// A client sent a `client-` event.
    ClientEvent,
    /// A cache channel was subscribed to with nothing cached.
    CacheMiss,
    /// A channel's subscription count changed.
    SubscriptionCount,
}

impl WebhookEvent {
    /// The name used in the webhook body.
    pub fn name(self) -> &'static str {
        match self {
            Self::ChannelOccupied => "channel_occupied",
            Self::ChannelVacated => "channel_vacated",
            Self::MemberAdded => "member_added",
            Self::MemberRemoved => "member_removed",
            Self::ClientEvent => "client_event",
            Self::CacheMiss => "cache_miss",
            Self::SubscriptionCount => "subscription_count",
        }
    }
}

impl WebhookConfig {
    /// Why the webhook is unusable, if it is.
    pub(crate) fn problem(&self) -> Option<&'static str> {
        let rest = self
            .url
            .strip_prefix("https://")
            .or_else(|| self.url.strip_prefix("http://"));
        match rest {
            None => Some("the url must start with http:// or https://"),
            Some(host) if host.is_empty() || host.starts_with('/') => Some("the url has no host"),
            Some(_) if self.url.chars().any(char::is_whitespace) => {
                Some("the url contains whitespace")
            }
            Some(_) if self.event_types.is_empty() => Some("event_types is empty"),
            Some(_) => None,
        }
    }
}
