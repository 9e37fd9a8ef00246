//! Apps: credentials, switches, webhooks and limits, and the registry that
//! finds an app by id (HTTP API paths) or by key (WebSocket paths).
//!
//! Apps are read from TOML; unknown fields are errors, so a typo never
//! silently falls back to a default:
//!
//! ```toml
//! [[apps]]
//! id = "1"
//! key = "app-key"
//! secret = "app-secret"
//! client_events = true
//!
//! [apps.limits]
//! max_presence_members = 50
//!
//! [[apps.webhooks]]
//! url = "https://example.com/pusher/webhooks"
//! event_types = ["channel_occupied", "channel_vacated"]
//! ```

mod limits;
mod webhook;

pub use limits::AppLimits;
pub use webhook::{WebhookConfig, WebhookEvent};

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

use crate::auth::Credentials;

/// One app: what a client connects to with its key and what the HTTP API
/// addresses by id.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The app id, in HTTP API paths (`/apps/{id}/events`).
    pub id: String,
    /// The public key, in WebSocket paths (`/app/{key}`) and auth tokens.
    pub key: String,
    /// The secret that signs auth tokens and API requests. Never logged.
    pub secret: String,
    /// A disabled app refuses connections (4003) and API requests (403).
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    /// Whether clients may send `client-` events; off by default, as in
    /// Pusher, because they let any subscriber speak on a channel.
    #[serde(default)]
    pub client_events: bool,
    /// Whether connections must sign in (`pusher:signin`) within a grace
    /// period, or be closed with 4009 (Pusher's "authorized connections").
    #[serde(default)]
    pub user_authentication_required: bool,
    /// Origins allowed to connect (the `Origin` header of the WebSocket
    /// handshake, e.g. `https://example.com`); `*` as an entry, or an empty
    /// list, allows any. A refused origin is closed with 4009.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where to report channel and presence events.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// The limits the app runs under.
    #[serde(default)]
    pub limits: AppLimits,
}

fn enabled_by_default() -> bool {
    true
}

impl fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppConfig")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .field("enabled", &self.enabled)
            .field("client_events", &self.client_events)
            .field(
                "user_authentication_required",
                &self.user_authentication_required,
            )
            .field("allowed_origins", &self.allowed_origins)
            .field("webhooks", &self.webhooks)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Why an app configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AppConfigError {
    /// The TOML does not parse or has unknown or mistyped fields.
    #[error("invalid app configuration: {0}")]
    Toml(String),
    /// `id`, `key` or `secret` is empty.
    #[error("app {app:?}: `{field}` must not be empty")]
    Empty {
        /// The app's id.
        app: String,
        /// The empty field.
        field: &'static str,
    },
    /// `id` or `key` has a character that does not fit a URL path segment.
    #[error("app {app:?}: `{field}` may only contain A-Z a-z 0-9 - _ .")]
    InvalidIdentifier {
        /// The app's id.
        app: String,
        /// The field.
        field: &'static str,
    },
    /// Two apps share an id.
    #[error("two apps have the id {0:?}")]
    DuplicateId(String),
    /// Two apps share a key.
    #[error("apps {first:?} and {second:?} have the same key")]
    DuplicateKey {
        /// The first app's id.
        first: String,
        /// The second app's id.
        second: String,
    },
    /// A limit is zero.
    #[error("app {app:?}: limit `{limit}` must be at least 1")]
    ZeroLimit {
        /// The app's id.
        app: String,
        /// The limit.
        limit: &'static str,
    },
    /// A webhook is unusable.
    #[error("app {app:?}: webhook {url:?}: {reason}")]
    InvalidWebhook {
        /// The app's id.
        app: String,
        /// The webhook URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
}

impl AppConfig {
    /// An enabled app with default switches and limits.
    pub fn new(id: impl Into<String>, key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: key.into(),
            secret: secret.into(),
            enabled: true,
            client_events: false,
            user_authentication_required: false,
            allowed_origins: Vec::new(),
            webhooks: Vec::new(),
            limits: AppLimits::default(),
        }
    }

    /// The key and secret, for signing and verifying.
    pub fn credentials(&self) -> Credentials<'_> {
        Credentials {
            key: &self.key,
            secret: &self.secret,
        }
    }

    /// Whether a connection with this `Origin` header (or none) may connect.
    /// Origins compare case-insensitively; a client that sends no `Origin`
    /// (not a browser) is allowed only when every origin is.
    pub fn allows_origin(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() || self.allowed_origins.iter().any(|o| o == "*") {
            return true;
        }
        origin.is_some_and(|origin| {
            let origin = origin.trim_end_matches('/');
            self.allowed_origins
                .iter()
                .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
        })
    }

    /// Checks the app on its own (see [`Apps::new`] for checks across apps).
    pub fn validate(&self) -> Result<(), AppConfigError> {
        let app = || self.id.clone();
        for (field, value) in [
            ("id", &self.id),
            ("key", &self.key),
            ("secret", &self.secret),
        ] {
            if value.is_empty() {
                return Err(AppConfigError::Empty { app: app(), field });
            }
        }
        for (field, value) in [("id", &self.id), ("key", &self.key)] {
            let url_safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
            if !value.chars().all(url_safe) {
                return Err(AppConfigError::InvalidIdentifier { app: app(), field });
            }
        }
        if let Some(limit) = self.limits.zero_limit() {
            return Err(AppConfigError::ZeroLimit { app: app(), limit });
        }
        for webhook in &self.webhooks {
            if let Some(reason) = webhook.problem() {
                return Err(AppConfigError::InvalidWebhook {
                    app: app(),
                    url: webhook.url.clone(),
                    reason,
                });
            }
        }
        Ok(())
    }
}

/// The validated set of apps, found by id or by key.
#[derive(Debug, Clone, Default)]
pub struct Apps {
    /// The apps, in configuration order.
    apps: Vec<AppConfig>,
    /// Index into `apps` by id.
    by_id: HashMap<String, usize>,
    /// Index into `apps` by key.
    by_key: HashMap<String, usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppsFile {
    #[serde(default)]
    apps: Vec<AppConfig>,
}

impl Apps {
    /// Validates every app and that ids and keys are unique.
    pub fn new(apps: Vec<AppConfig>) -> Result<Self, AppConfigError> {
        let mut by_id = HashMap::new();
        let mut by_key = HashMap::new();
        for (index, app) in apps.iter().enumerate() {
            app.validate()?;
            if by_id.insert(app.id.clone(), index).is_some() {
                return Err(AppConfigError::DuplicateId(app.id.clone()));
            }
            if let Some(first) = by_key.insert(app.key.clone(), index) {
                return Err(AppConfigError::DuplicateKey {
                    first: apps[first].id.clone(),
                    second: app.id.clone(),
                });
            }
        }
        Ok(Self {
            apps,
            by_id,
            by_key,
        })
    }

    /// Reads `[[apps]]` tables from TOML and validates them.
    pub fn from_toml(text: &str) -> Result<Self, AppConfigError> {
        let file: AppsFile =
            toml::from_str(text).map_err(|e| AppConfigError::Toml(e.to_string()))?;
        Self::new(file.apps)
    }

    /// The app with this id (HTTP API).
    pub fn by_id(&self, id: &str) -> Option<&AppConfig> {
        self.by_id.get(id).map(|&index| &self.apps[index])
    }

    /// The app with this key (WebSocket connections, API `auth_key`).
    pub fn by_key(&self, key: &str) -> Option<&AppConfig> {
        self.by_key.get(key).map(|&index| &self.apps[index])
    }

    /// All apps, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &AppConfig> {
        self.apps.iter()
    }

    /// The number of apps.
    pub fn len(&self) -> usize {
        self.apps.len()
    }

    /// Whether there is no app.
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

#[cfg(test)]
mod tests;
