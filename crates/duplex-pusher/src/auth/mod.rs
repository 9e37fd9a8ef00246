//! Channel authorization and user sign-in signatures.
//!
//! An auth token is `"{app_key}:{signature}"`, where the signature is the
//! lowercase hex HMAC-SHA256, keyed with the app secret, of:
//!
//! | what | string to sign |
//! |---|---|
//! | private channel | `{socket_id}:{channel}` |
//! | presence channel (or any channel with `channel_data`) | `{socket_id}:{channel}:{channel_data}` |
//! | user sign-in | `{socket_id}::user::{user_data}` |
//!
//! Verification compares in constant time.

mod data;
mod socket_id;

pub use data::{DataError, PresenceMember, UserData, CHANNEL_DATA_ALLOWANCE};
pub use socket_id::{InvalidSocketId, SocketId};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::channel::ChannelKind;

type HmacSha256 = Hmac<Sha256>;

/// An app's key and secret: what signs and verifies.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The public app key, the first half of every token.
    pub key: &'a str,
    /// The app secret, the HMAC key.
    pub secret: &'a str,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Why an auth token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token, or an empty one, where one is required.
    #[error("an auth token is required")]
    Missing,
    /// The token is not `key:signature` with a 64-digit hex signature.
    #[error("malformed auth token: expected \"key:signature\" with a hex HMAC-SHA256")]
    Malformed,
    /// The token's key is not this app's key.
    #[error("the auth token was issued for another app key")]
    WrongKey,
    /// The signature does not match.
    #[error("invalid signature")]
    InvalidSignature,
    /// A presence subscription without `channel_data`.
    #[error("presence channels require channel_data")]
    MissingChannelData,
    /// `#server-to-user-` channels are authorized by sign-in, not a token.
    #[error("server-to-user channels require a signed-in user")]
    SigninRequired,
}

/// The lowercase hex HMAC-SHA256 of `message` keyed with `secret`.
pub fn sign(secret: &str, message: &str) -> String {
    hex::encode(mac(secret, message))
}

fn mac(secret: &str, message: &str) -> [u8; 32] {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes any key size");
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().into()
}

fn channel_string(socket_id: &SocketId, channel: &str, channel_data: Option<&str>) -> String {
    match channel_data {
        Some(data) => format!("{socket_id}:{channel}:{data}"),
        None => format!("{socket_id}:{channel}"),
    }
}

fn user_string(socket_id: &SocketId, user_data: &str) -> String {
    format!("{socket_id}::user::{user_data}")
}

/// The token an app's auth endpoint returns for a channel subscription.
pub fn channel_token(
    credentials: Credentials<'_>,
    socket_id: &SocketId,
    channel: &str,
    channel_data: Option<&str>,
) -> String {
    let message = channel_string(socket_id, channel, channel_data);
    format!("{}:{}", credentials.key, sign(credentials.secret, &message))
}

/// The token an app's user-authentication endpoint returns for a sign-in.
pub fn user_token(credentials: Credentials<'_>, socket_id: &SocketId, user_data: &str) -> String {
    let message = user_string(socket_id, user_data);
    format!("{}:{}", credentials.key, sign(credentials.secret, &message))
}

/// Checks the token of a channel subscription. `channel_data` is signed
/// whenever present, as the SDKs do.
pub fn verify_channel(
    credentials: Credentials<'_>,
    token: &str,
    socket_id: &SocketId,
    channel: &str,
    channel_data: Option<&str>,
) -> Result<(), AuthError> {
    verify(
        credentials,
        token,
        &channel_string(socket_id, channel, channel_data),
    )
}

/// Checks the token of a `pusher:signin`.
pub fn verify_user(
    credentials: Credentials<'_>,
    token: &str,
    socket_id: &SocketId,
    user_data: &str,
) -> Result<(), AuthError> {
    verify(credentials, token, &user_string(socket_id, user_data))
}

/// Applies the subscription rules of a channel kind: public and cache
/// channels need nothing, private and encrypted channels a valid token,
/// presence channels a valid token and `channel_data`.
///
/// `#server-to-user-` channels always fail with
/// [`AuthError::SigninRequired`]: the caller must instead check that the
/// socket's signed-in user owns the channel.
pub fn authorize_subscription(
    credentials: Credentials<'_>,
    kind: ChannelKind,
    socket_id: &SocketId,
    channel: &str,
    token: Option<&str>,
    channel_data: Option<&str>,
) -> Result<(), AuthError> {
    if kind == ChannelKind::ServerToUser {
        return Err(AuthError::SigninRequired);
    }
    if !kind.requires_auth() {
        return Ok(());
    }
    if kind.is_presence() && channel_data.is_none() {
        return Err(AuthError::MissingChannelData);
    }
    let token = token.ok_or(AuthError::Missing)?;
    verify_channel(credentials, token, socket_id, channel, channel_data)
}

fn verify(credentials: Credentials<'_>, token: &str, message: &str) -> Result<(), AuthError> {
    if token.is_empty() {
        return Err(AuthError::Missing);
    }
    let (key, signature) = token.split_once(':').ok_or(AuthError::Malformed)?;
    let mut given = [0u8; 32];
    hex::decode_to_slice(signature, &mut given).map_err(|_| AuthError::Malformed)?;
    if !bool::from(key.as_bytes().ct_eq(credentials.key.as_bytes())) {
        return Err(AuthError::WrongKey);
    }
    let expected = mac(credentials.secret, message);
    if bool::from(expected.ct_eq(&given)) {
        Ok(())
    } else {
        Err(AuthError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests;
