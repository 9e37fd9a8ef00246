//! HTTP API request signatures, checked the way Pusher's REST API and SDKs
//! compute them.
//!
//! ```text
//! string_to_sign = "{METHOD}\n{path}\n{query}"
//! auth_signature = hex(HMAC-SHA256(secret, string_to_sign))
//! ```
//!
//! `query` is every query parameter except `auth_signature`, keys
//! lowercased, sorted by key, joined as `key=value` with `&`, and **not**
//! URL-escaped: the SDKs sign the raw values, so the server signs the
//! URL-decoded ones (`+` decodes to a space, as in every form decoder).
//! `path` is the request path as received, e.g. `/apps/3/events`.
//!
//! Sans-I/O: the caller passes the request parts and the current time.
//!
//! ```
//! use duplex_pusher::api_auth::ApiRequest;
//! use duplex_pusher::auth::Credentials;
//!
//! let credentials = Credentials { key: "278d425bdf160c739803", secret: "7ad3773142a6692b25b8" };
//! let query = ApiRequest::signed_query(credentials, "GET", "/apps/3/channels", &[], b"", 1353088179);
//! let request = ApiRequest::parse("GET", "/apps/3/channels", &query, b"")?;
//! assert_eq!(request.auth_key(), "278d425bdf160c739803");
//! request.verify(credentials, 1353088179 + 30, 600)?;
//! # Ok::<(), duplex_pusher::api_auth::ApiAuthError>(())
//! ```

use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

use crate::auth::{sign, Credentials};

/// How far `auth_timestamp` may be from the server's clock, in seconds.
pub const DEFAULT_TIMESTAMP_WINDOW_SECS: u64 = 600;

/// Why an HTTP API request was refused. [`status`](Self::status) gives the
/// HTTP status to answer with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiAuthError {
    /// The query string cannot be decoded (bad `%` escape, not UTF-8).
    #[error("malformed query string: {0}")]
    MalformedQuery(String),
    /// A parameter appears twice (keys compared lowercased).
    #[error("query parameter `{0}` appears more than once")]
    DuplicateParameter(String),
    /// `auth_version` is not `1.0`.
    #[error("unsupported auth_version {0:?}: only 1.0 is supported")]
    UnsupportedAuthVersion(String),
    /// `auth_timestamp` is not a number of seconds.
    #[error("auth_timestamp {0:?} is not a unix timestamp in seconds")]
    InvalidTimestamp(String),
    /// A required authentication parameter is missing.
    #[error("missing `{0}` query parameter")]
    MissingParameter(&'static str),
    /// The request has a body but no `body_md5`.
    #[error("body_md5 is required when the request has a body")]
    MissingBodyMd5,
    /// `auth_key` is not the app's key.
    #[error("unknown auth_key")]
    UnknownKey,
    /// `auth_signature` does not match.
    #[error("invalid signature: expected HMAC-SHA256 of {string_to_sign:?}")]
    InvalidSignature {
        /// What the server signed, to help client authors (it holds no
        /// secret).
        string_to_sign: String,
    },
    /// `auth_timestamp` is outside the accepted window.
    #[error(
        "auth_timestamp {timestamp} is {skew} s from the server time {now}; the limit is {window} s"
    )]
    TimestampExpired {
        /// The request's timestamp.
        timestamp: u64,
        /// The server's time.
        now: u64,
        /// `|now - timestamp|`.
        skew: u64,
        /// The accepted window.
        window: u64,
    },
    /// `body_md5` is not the MD5 of the body.
    #[error("body_md5 does not match the request body")]
    BodyMd5Mismatch,
}

impl ApiAuthError {
    /// The HTTP status: 400 for a malformed request, 401 for failed
    /// authentication (missing, unknown, stale or wrong credentials).
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedQuery(_)
            | Self::DuplicateParameter(_)
            | Self::UnsupportedAuthVersion(_)
            | Self::InvalidTimestamp(_) => 400,
            Self::MissingParameter(_)
            | Self::MissingBodyMd5
            | Self::UnknownKey
            | Self::InvalidSignature { .. }
            | Self::TimestampExpired { .. }
            | Self::BodyMd5Mismatch => 401,
        }
    }
}

/// A signed HTTP API request, its query decoded and checked for shape.
#[derive(Debug, Clone)]
pub struct ApiRequest<'a> {
    /// The request method, uppercased.
    method: String,
    /// The path as received.
    path: &'a str,
    /// Every parameter but `auth_signature`: decoded, keys lowercased,
    /// sorted by key.
    params: Vec<(String, String)>,
    /// The `auth_signature` parameter.
    signature: String,
    /// The parsed `auth_timestamp`.
    timestamp: u64,
    /// The raw body, whose MD5 `body_md5` must be.
    body: &'a [u8],
}

impl<'a> ApiRequest<'a> {
    /// Decodes the query string (without the `?`) and checks that the
    /// authentication parameters are present and well-formed.
    pub fn parse(
        method: &str,
        path: &'a str,
        query: &str,
        body: &'a [u8],
    ) -> Result<Self, ApiAuthError> {
        let mut params = decode_query(query)?;
        params.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = params.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Err(ApiAuthError::DuplicateParameter(pair[0].0.clone()));
        }
        let position = params.iter().position(|(key, _)| key == "auth_signature");
        let (_, signature) =
            params.remove(position.ok_or(ApiAuthError::MissingParameter("auth_signature"))?);
        let find = |name| params.iter().find(|(key, _)| key == name).map(|(_, v)| v);
        find("auth_key").ok_or(ApiAuthError::MissingParameter("auth_key"))?;
        let version = find("auth_version").ok_or(ApiAuthError::MissingParameter("auth_version"))?;
        if version != "1.0" {
            return Err(ApiAuthError::UnsupportedAuthVersion(version.clone()));
        }
        let timestamp =
            find("auth_timestamp").ok_or(ApiAuthError::MissingParameter("auth_timestamp"))?;
        let timestamp = parse_timestamp(timestamp)?;
        Ok(Self {
            method: method.to_ascii_uppercase(),
            path,
            params,
            signature,
            timestamp,
            body,
        })
    }

    /// The `auth_key`, to find the app.
    pub fn auth_key(&self) -> &str {
        self.param("auth_key").unwrap_or_default()
    }

    /// The `auth_timestamp`, in unix seconds.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// A decoded query parameter other than `auth_signature`, by lowercase
    /// name (e.g. `info`, `filter_by_prefix`).
    pub fn param(&self, name: &str) -> Option<&str> {
        let index = self
            .params
            .binary_search_by(|(key, _)| key.as_str().cmp(name))
            .ok()?;
        Some(&self.params[index].1)
    }

    /// `"{METHOD}\n{path}\n{sorted query}"`.
    pub fn string_to_sign(&self) -> String {
        string_to_sign(&self.method, self.path, &self.params)
    }

    /// Checks the key, the signature, the timestamp (at most `window_secs`
    /// from `now_unix_secs`) and `body_md5`.
    ///
    /// `body_md5` is required when the body is non-empty. When present with
    /// an empty body (pusher-http-python sends it on every GET), it must be
    /// the MD5 of the empty body; either way it is part of the signed query.
    pub fn verify(
        &self,
        credentials: Credentials<'_>,
        now_unix_secs: u64,
        window_secs: u64,
    ) -> Result<(), ApiAuthError> {
        if !bool::from(self.auth_key().as_bytes().ct_eq(credentials.key.as_bytes())) {
            return Err(ApiAuthError::UnknownKey);
        }
        let string_to_sign = self.string_to_sign();
        let expected = sign(credentials.secret, &string_to_sign);
        let given = self.signature.to_ascii_lowercase();
        if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(ApiAuthError::InvalidSignature { string_to_sign });
        }
        let skew = now_unix_secs.abs_diff(self.timestamp);
        if skew > window_secs {
            return Err(ApiAuthError::TimestampExpired {
                timestamp: self.timestamp,
                now: now_unix_secs,
                skew,
                window: window_secs,
            });
        }
        match self.param("body_md5") {
            None if self.body.is_empty() => Ok(()),
            None => Err(ApiAuthError::MissingBodyMd5),
            Some(given) => {
                let actual = body_md5(self.body);
                if bool::from(
                    actual
                        .as_bytes()
                        .ct_eq(given.to_ascii_lowercase().as_bytes()),
                ) {
                    Ok(())
                } else {
                    Err(ApiAuthError::BodyMd5Mismatch)
                }
            }
        }
    }

    /// The signed query string an SDK sends, with `body_md5` added for a
    /// non-empty body (as pusher-http-node does). `params` are extra
    /// parameters, raw; the result is not URL-escaped either.
    pub fn signed_query(
        credentials: Credentials<'_>,
        method: &str,
        path: &str,
        params: &[(&str, &str)],
        body: &[u8],
        timestamp: u64,
    ) -> String {
        let mut all: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect();
        all.push(("auth_key".into(), credentials.key.into()));
        all.push(("auth_timestamp".into(), timestamp.to_string()));
        all.push(("auth_version".into(), "1.0".into()));
        if !body.is_empty() {
            all.push(("body_md5".into(), body_md5(body)));
        }
        all.sort_by(|a, b| a.0.cmp(&b.0));
        let method = method.to_ascii_uppercase();
        let signature = sign(credentials.secret, &string_to_sign(&method, path, &all));
        format!("{}&auth_signature={signature}", join(&all))
    }
}

/// The lowercase hex MD5 of a body.
pub fn body_md5(body: &[u8]) -> String {
    hex::encode(Md5::digest(body))
}

fn string_to_sign(method: &str, path: &str, sorted: &[(String, String)]) -> String {
    format!("{method}\n{path}\n{}", join(sorted))
}

fn join(params: &[(String, String)]) -> String {
    let pairs: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

fn parse_timestamp(text: &str) -> Result<u64, ApiAuthError> {
    let invalid = || ApiAuthError::InvalidTimestamp(text.to_owned());
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    text.parse().map_err(|_| invalid())
}

/// Splits and form-decodes a query string; keys are lowercased.
fn decode_query(query: &str) -> Result<Vec<(String, String)>, ApiAuthError> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((form_decode(key)?.to_ascii_lowercase(), form_decode(value)?))
        })
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a
/// byte; the result must be UTF-8.
fn form_decode(text: &str) -> Result<String, ApiAuthError> {
    let malformed = |reason: &str| ApiAuthError::MalformedQuery(format!("{reason} in {text:?}"));
    let mut bytes = Vec::with_capacity(text.len());
    let mut input = text.bytes();
    while let Some(byte) = input.next() {
        match byte {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hi = input.next().and_then(hex_digit);
                let lo = input.next().and_then(hex_digit);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => bytes.push(hi << 4 | lo),
                    _ => return Err(malformed("invalid percent escape")),
                }
            }
            _ => bytes.push(byte),
        }
    }
    String::from_utf8(bytes).map_err(|_| malformed("invalid UTF-8"))
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests;
