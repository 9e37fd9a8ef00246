//! Channel names: their kind, told by the prefix, and their validation.
//!
//! Pusher documents that a channel name holds at most 164 characters and
//! only `A-Z a-z 0-9 _ - = @ , . ;` (Pusher support, "What does the error
//! 'Invalid channel name' mean?"). The SDKs accept up to 200
//! (pusher-http-node `validateChannel`), hence the configurable limit.
//! Names starting with `#` are reserved; the only one a client may use is
//! `#server-to-user-{user_id}`.

/// The limit Pusher documents for a channel name, prefix included.
pub const DEFAULT_MAX_CHANNEL_NAME_LENGTH: usize = 164;

/// The prefix of the channel that carries events sent to one signed-in user.
pub const SERVER_TO_USER_PREFIX: &str = "#server-to-user-";

/// What a channel is, from its name's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// No prefix: anyone may subscribe.
    Public,
    /// `private-`: subscribing needs an auth token.
    Private,
    /// `private-encrypted-`: like private; payloads are end-to-end encrypted,
    /// so client events are refused.
    PrivateEncrypted,
    /// `presence-`: like private, plus a member list.
    Presence,
    /// `cache-`: public, and the last event is replayed to new subscribers.
    Cache,
    /// `private-cache-`: private with a cache.
    PrivateCache,
    /// `private-encrypted-cache-`: encrypted with a cache.
    PrivateEncryptedCache,
    /// `presence-cache-`: presence with a cache.
    PresenceCache,
    /// `#server-to-user-{user_id}`: events for one signed-in user; only that
    /// user's sockets may subscribe.
    ServerToUser,
}

/// Longest prefixes first, so `private-encrypted-cache-` wins over `private-`.
const PREFIXES: [(&str, ChannelKind); 8] = [
    (SERVER_TO_USER_PREFIX, ChannelKind::ServerToUser),
    (
        "private-encrypted-cache-",
        ChannelKind::PrivateEncryptedCache,
    ),
    ("private-encrypted-", ChannelKind::PrivateEncrypted),
    ("private-cache-", ChannelKind::PrivateCache),
    ("private-", ChannelKind::Private),
    ("presence-cache-", ChannelKind::PresenceCache),
    ("presence-", ChannelKind::Presence),
    ("cache-", ChannelKind::Cache),
];

impl ChannelKind {
    /// The kind a name's prefix announces. This does not validate the name:
    /// see [`validate_name`].
    pub fn of(name: &str) -> Self {
        PREFIXES
            .iter()
            .find(|(prefix, _)| name.starts_with(prefix))
            .map_or(Self::Public, |&(_, kind)| kind)
    }

    /// Whether subscribing needs a signed auth token (private, encrypted and
    /// presence channels, cached or not).
    pub fn requires_auth(self) -> bool {
        !matches!(self, Self::Public | Self::Cache | Self::ServerToUser)
    }

    /// Whether subscribing needs the socket to be signed in as the user the
    /// channel belongs to.
    pub fn requires_signin(self) -> bool {
        self == Self::ServerToUser
    }

    /// Whether the channel keeps a member list.
    pub fn is_presence(self) -> bool {
        matches!(self, Self::Presence | Self::PresenceCache)
    }

    /// Whether payloads are end-to-end encrypted (the server only relays).
    pub fn is_encrypted(self) -> bool {
        matches!(self, Self::PrivateEncrypted | Self::PrivateEncryptedCache)
    }

    /// Whether the last event is replayed to new subscribers.
    pub fn is_cache(self) -> bool {
        matches!(
            self,
            Self::Cache | Self::PrivateCache | Self::PrivateEncryptedCache | Self::PresenceCache
        )
    }

    /// Whether clients may send `client-` events on it: private and presence
    /// channels, not encrypted ones (pusher-js refuses those too). The app
    /// must also allow client events.
    pub fn allows_client_events(self) -> bool {
        matches!(
            self,
            Self::Private | Self::PrivateCache | Self::Presence | Self::PresenceCache
        )
    }
}

/// Why a channel name was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelNameError {
    /// The name is empty.
    #[error("channel name is empty")]
    Empty,
    /// The name is longer than the limit.
    #[error("channel name is {len} bytes long, the limit is {max}")]
    TooLong {
        /// The name's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name holds a character outside `A-Z a-z 0-9 _ - = @ , . ;`.
    #[error("channel name has invalid character {0:?}; allowed: A-Z a-z 0-9 _ - = @ , . ;")]
    InvalidCharacter(char),
    /// The name starts with `#` but is not `#server-to-user-{user_id}`.
    #[error("channel names starting with '#' are reserved")]
    Reserved,
    /// A `#server-to-user-` name without a usable user id.
    #[error("server-to-user channel has an empty or invalid user id")]
    InvalidUserId,
}

/// Validates a channel name against the charset and `max_len` (in bytes;
/// the allowed charset is ASCII) and returns its kind.
///
/// The user id of a `#server-to-user-` name is only required to be
/// non-empty and free of control characters: user ids are app-defined.
pub fn validate_name(name: &str, max_len: usize) -> Result<ChannelKind, ChannelNameError> {
    if name.is_empty() {
        return Err(ChannelNameError::Empty);
    }
    if name.len() > max_len {
        return Err(ChannelNameError::TooLong {
            len: name.len(),
            max: max_len,
        });
    }
    if let Some(user_id) = server_to_user_id(name) {
        if user_id.is_empty() || user_id.chars().any(char::is_control) {
            return Err(ChannelNameError::InvalidUserId);
        }
        return Ok(ChannelKind::ServerToUser);
    }
    if name.starts_with('#') {
        return Err(ChannelNameError::Reserved);
    }
    if let Some(bad) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(ChannelNameError::InvalidCharacter(bad));
    }
    Ok(ChannelKind::of(name))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '=' | '@' | ',' | '.' | ';')
}

/// The channel carrying events for `user_id`.
pub fn server_to_user_channel(user_id: &str) -> String {
    format!("{SERVER_TO_USER_PREFIX}{user_id}")
}

/// The user id of a `#server-to-user-` channel name.
pub fn server_to_user_id(name: &str) -> Option<&str> {
    name.strip_prefix(SERVER_TO_USER_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChannelKind::*;

    const MAX: usize = DEFAULT_MAX_CHANNEL_NAME_LENGTH;

    #[test]
    fn kinds_from_prefixes() {
        for (name, kind) in [
            ("news", Public),
            ("privatefoo", Public),
            ("presence", Public),
            ("cache", Public),
            ("my-private-x", Public),
            ("private-x", Private),
            ("private-", Private),
            ("private-encrypted-x", PrivateEncrypted),
            ("presence-x", Presence),
            ("cache-x", Cache),
            ("private-cache-x", PrivateCache),
            ("private-encrypted-cache-x", PrivateEncryptedCache),
            ("presence-cache-x", PresenceCache),
            ("#server-to-user-42", ServerToUser),
        ] {
            assert_eq!(ChannelKind::of(name), kind, "{name}");
        }
    }

    #[test]
    fn rules_per_kind() {
        // (kind, auth, signin, presence, encrypted, cache, client events)
        let table = [
            (Public, false, false, false, false, false, false),
            (Private, true, false, false, false, false, true),
            (PrivateEncrypted, true, false, false, true, false, false),
            (Presence, true, false, true, false, false, true),
            (Cache, false, false, false, false, true, false),
            (PrivateCache, true, false, false, false, true, true),
            (PrivateEncryptedCache, true, false, false, true, true, false),
            (PresenceCache, true, false, true, false, true, true),
            (ServerToUser, false, true, false, false, false, false),
        ];
        for (kind, auth, signin, presence, encrypted, cache, client) in table {
            assert_eq!(kind.requires_auth(), auth, "{kind:?}");
            assert_eq!(kind.requires_signin(), signin, "{kind:?}");
            assert_eq!(kind.is_presence(), presence, "{kind:?}");
            assert_eq!(kind.is_encrypted(), encrypted, "{kind:?}");
            assert_eq!(kind.is_cache(), cache, "{kind:?}");
            assert_eq!(kind.allows_client_events(), client, "{kind:?}");
        }
    }

    #[test]
    fn the_whole_charset_is_accepted() {
        // The "complex channel" name of the Pusher SDK test suites.
        assert_eq!(validate_name("private-azAZ9_=@,.;", MAX), Ok(Private));
        assert_eq!(
            validate_name(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-=@,.;",
                MAX
            ),
            Ok(Public)
        );
    }

    #[test]
    fn invalid_characters() {
        for (name, bad) in [
            ("a b", ' '),
            ("a:b", ':'),
            ("a/b", '/'),
            ("a+b", '+'),
            ("a*b", '*'),
            ("caf\u{e9}", '\u{e9}'),
            ("a\nb", '\n'),
            ("a#b", '#'),
        ] {
            assert_eq!(
                validate_name(name, MAX),
                Err(ChannelNameError::InvalidCharacter(bad)),
                "{name:?}"
            );
        }
    }

    #[test]
    fn length_limit() {
        let at_limit = "a".repeat(MAX);
        assert_eq!(validate_name(&at_limit, MAX), Ok(Public));
        let over = "a".repeat(MAX + 1);
        assert_eq!(
            validate_name(&over, MAX),
            Err(ChannelNameError::TooLong { len: 165, max: 164 })
        );
        // The SDKs' 200 can be configured.
        assert_eq!(validate_name(&"a".repeat(200), 200), Ok(Public));
        assert_eq!(validate_name("", MAX), Err(ChannelNameError::Empty));
    }

    #[test]
    fn reserved_and_server_to_user_names() {
        assert_eq!(validate_name("#server-to-user-42", MAX), Ok(ServerToUser));
        assert_eq!(
            validate_name("#server-to-user-a+b@example.com", MAX),
            Ok(ServerToUser)
        );
        assert_eq!(
            validate_name("#server-to-user-", MAX),
            Err(ChannelNameError::InvalidUserId)
        );
        assert_eq!(
            validate_name("#server-to-user-a\u{0}b", MAX),
            Err(ChannelNameError::InvalidUserId)
        );
        for name in ["#foo", "#server-to-user", "#"] {
            assert_eq!(validate_name(name, MAX), Err(ChannelNameError::Reserved));
        }
    }

    #[test]
    fn server_to_user_helpers() {
        let channel = server_to_user_channel("u-1");
        assert_eq!(channel, "#server-to-user-u-1");
        assert_eq!(server_to_user_id(&channel), Some("u-1"));
        assert_eq!(server_to_user_id("private-u-1"), None);
    }

    #[test]
    fn messages_read_well() {
        assert_eq!(
            ChannelNameError::TooLong { len: 165, max: 164 }.to_string(),
            "channel name is 165 bytes long, the limit is 164"
        );
    }
}
