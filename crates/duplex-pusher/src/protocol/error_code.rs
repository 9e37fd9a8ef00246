//! The `pusher:error` / WebSocket close codes of protocol 7.

use std::fmt;

/// An error code from the Pusher protocol, sent as the `code` of a
/// `pusher:error` and as the WebSocket close code.
///
/// The ranges tell pusher-js what to do next: 4000–4099 do not reconnect,
/// 4100–4199 reconnect after a backoff, 4200–4299 reconnect at once,
/// 4300–4399 do not reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 4000: the application only accepts TLS connections.
    SslOnly,
    /// 4001: no application has the key in the connection path.
    AppNotFound,
    /// 4003: the application is disabled.
    AppDisabled,
    /// 4004: the application is over its connection quota.
    OverConnectionQuota,
    /// 4005: the connection path is not `/app/{key}`.
    PathNotFound,
    /// 4006: the `version` query parameter is malformed.
    InvalidVersionFormat,
    /// 4007: the `protocol` query parameter names an unsupported version.
    UnsupportedProtocolVersion,
    /// 4008: the connection request names no protocol version.
    NoProtocolVersion,
    /// 4009: the connection is not authorized (sign-in failed or timed out,
    /// connections terminated through the HTTP API).
    Unauthorized,
    /// 4100: the server is over capacity; reconnect after a backoff.
    OverCapacity,
    /// 4200: generic "reconnect now", used for server shutdown.
    ReconnectImmediately,
    /// 4201: the client did not answer a ping in time.
    PongNotReceived,
    /// 4202: the connection was closed after inactivity.
    ClosedAfterInactivity,
    /// 4301: a client event was rejected by the rate limit.
    ClientEventRateLimited,
}

impl ErrorCode {
    /// The numeric code.
    pub const fn code(self) -> u16 {
        match self {
            Self::SslOnly => 4000,
            Self::AppNotFound => 4001,
            Self::AppDisabled => 4003,
            Self::OverConnectionQuota => 4004,
            Self::PathNotFound => 4005,
            Self::InvalidVersionFormat => 4006,
            Self::UnsupportedProtocolVersion => 4007,
            Self::NoProtocolVersion => 4008,
            Self::Unauthorized => 4009,
            Self::OverCapacity => 4100,
            Self::ReconnectImmediately => 4200,
            Self::PongNotReceived => 4201,
            Self::ClosedAfterInactivity => 4202,
            Self::ClientEventRateLimited => 4301,
        }
    }

    /// The wording of the protocol documentation, usable as the `message`.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::SslOnly => "Application only accepts SSL connections, reconnect using wss://",
            Self::AppNotFound => "Application does not exist",
            Self::AppDisabled => "Application disabled",
            Self::OverConnectionQuota => "Application is over connection quota",
            Self::PathNotFound => "Path not found",
            Self::InvalidVersionFormat => "Invalid version string format",
            Self::UnsupportedProtocolVersion => "Unsupported protocol version",
            Self::NoProtocolVersion => "No protocol version supplied",
            Self::Unauthorized => "Connection is unauthorized",
            Self::OverCapacity => "Over capacity",
            Self::ReconnectImmediately => "Generic reconnect immediately",
            Self::PongNotReceived => "Pong reply not received",
            Self::ClosedAfterInactivity => "Closed after inactivity",
            Self::ClientEventRateLimited => "Client event rejected due to rate limit",
        }
    }

    /// The code for a number, if the protocol defines it.
    pub const fn from_code(code: u16) -> Option<Self> {
        Some(match code {
            4000 => Self::SslOnly,
            4001 => Self::AppNotFound,
            4003 => Self::AppDisabled,
            4004 => Self::OverConnectionQuota,
            4005 => Self::PathNotFound,
            4006 => Self::InvalidVersionFormat,
            4007 => Self::UnsupportedProtocolVersion,
            4008 => Self::NoProtocolVersion,
            4009 => Self::Unauthorized,
            4100 => Self::OverCapacity,
            4200 => Self::ReconnectImmediately,
            4201 => Self::PongNotReceived,
            4202 => Self::ClosedAfterInactivity,
            4301 => Self::ClientEventRateLimited,
            _ => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 14] = [
        ErrorCode::SslOnly,
        ErrorCode::AppNotFound,
        ErrorCode::AppDisabled,
        ErrorCode::OverConnectionQuota,
        ErrorCode::PathNotFound,
        ErrorCode::InvalidVersionFormat,
        ErrorCode::UnsupportedProtocolVersion,
        ErrorCode::NoProtocolVersion,
        ErrorCode::Unauthorized,
        ErrorCode::OverCapacity,
        ErrorCode::ReconnectImmediately,
        ErrorCode::PongNotReceived,
        ErrorCode::ClosedAfterInactivity,
        ErrorCode::ClientEventRateLimited,
    ];

    #[test]
    fn codes_round_trip() {
        for code in ALL {
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
            assert!((4000..4400).contains(&code.code()));
        }
        assert_eq!(ErrorCode::from_code(4002), None);
        assert_eq!(ErrorCode::from_code(1000), None);
    }

    #[test]
    fn display_has_code_and_reason() {
        assert_eq!(
            ErrorCode::Unauthorized.to_string(),
            "4009 Connection is unauthorized"
        );
    }
}
