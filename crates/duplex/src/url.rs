//! Parsing `ws://` and `wss://` URLs.

use crate::error::{Error, Result};

/// The parts of a WebSocket URL that a connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// `wss://` (TLS) or `ws://`.
    pub tls: bool,
    /// The host name or address, without IPv6 brackets.
    pub host: String,
    /// The port (default 80 for `ws`, 443 for `wss`).
    pub port: u16,
    /// The `Host` header value: host, and the port if not the default.
    pub host_header: String,
    /// Path and query, at least `/`.
    pub resource: String,
}

impl WsUrl {
    /// Parses a `ws://` or `wss://` URL (`http://` and `https://` are taken
    /// as their WebSocket equivalents). Fragments are not allowed (RFC 6455 §3).
    ///
    /// ```
    /// let url = duplex::WsUrl::parse("wss://[::1]:8443/chat?room=1").unwrap();
    /// assert!(url.tls);
    /// assert_eq!((url.host.as_str(), url.port), ("::1", 8443));
    /// assert_eq!(url.host_header, "[::1]:8443");
    /// assert_eq!(url.resource, "/chat?room=1");
    /// ```
    pub fn parse(url: &str) -> Result<WsUrl> {
        if url.contains('#') {
            return Err(Error::InvalidUrl(format!(
                "{url}: fragments are not allowed"
            )));
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|e| Error::InvalidUrl(format!("{url}: {e}")))?;
        let tls = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("ws" | "http") => false,
            Some("wss" | "https") => true,
            _ => {
                return Err(Error::InvalidUrl(format!(
                    "{url}: the scheme must be ws:// or wss://"
                )))
            }
        };
        let authority = uri
            .authority()
            .ok_or_else(|| Error::InvalidUrl(format!("{url}: no host")))?;
        if authority.as_str().contains('@') {
            return Err(Error::InvalidUrl(format!(
                "{url}: credentials in URLs are not supported; use an Authorization header"
            )));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(Error::InvalidUrl(format!("{url}: no host")));
        }
        let default_port = if tls { 443 } else { 80 };
        let port = authority.port_u16().unwrap_or(default_port);
        let host_header = if port == default_port {
            host.to_string()
        } else {
            format!("{host}:{port}")
        };
        let resource = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        let resource = if resource.starts_with('/') {
            resource.to_string()
        } else {
            format!("/{resource}")
        };
        Ok(WsUrl {
            tls,
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
            host_header,
            resource,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_usual_forms() {
        let u = WsUrl::parse("ws://localhost").unwrap();
        assert_eq!(
            (
                u.tls,
                u.host.as_str(),
                u.port,
                u.host_header.as_str(),
                u.resource.as_str()
            ),
            (false, "localhost", 80, "localhost", "/")
        );
        let u = WsUrl::parse("ws://127.0.0.1:9001/runCase?case=1&agent=duplex").unwrap();
        assert_eq!(
            (u.port, u.host_header.as_str(), u.resource.as_str()),
            (9001, "127.0.0.1:9001", "/runCase?case=1&agent=duplex")
        );
        let u = WsUrl::parse("wss://example.com/x").unwrap();
        assert_eq!(
            (u.tls, u.port, u.host_header.as_str()),
            (true, 443, "example.com")
        );
    }

    #[test]
    fn refuses_what_is_not_a_websocket_url() {
        for bad in [
            "ftp://x/",
            "ws://",
            "ws://h/#frag",
            "localhost:80",
            "ws://user:pw@h/",
        ] {
            assert!(WsUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
