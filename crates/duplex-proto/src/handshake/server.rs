//! The server side of the opening handshake.

use base64::Engine;

use super::{
    accept_key, find, has_token, head_window, incomplete_head, is_valid_header_name,
    is_valid_header_value, own_headers, tokens, HandshakeError, Header, Limits, BASE64,
};
use crate::deflate::{DeflateConfig, DeflateParams};

/// A parsed HTTP request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, e.g. `/chat?room=1`.
    pub path: String,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` while the head is incomplete (and within the limits),
/// or the request and the length of its head; bytes after it belong to the
/// WebSocket connection.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Request, usize)>, HandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(head_window(buf, limits)) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return incomplete_head(buf, limits),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::TooManyHeaders(limits.max_headers))
        }
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    if req.version != Some(1) {
        return Err(HandshakeError::HttpVersion);
    }
    Ok(Some((
        Request {
            method: req.method.unwrap_or_default().to_string(),
            path: req.path.unwrap_or_default().to_string(),
            headers: own_headers(req.headers),
        },
        len,
    )))
}

impl Request {
    /// The first header named `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(&h.value).ok())
    }

    /// The subprotocols the client offers, in its order of preference.
    pub fn subprotocols(&self) -> impl Iterator<Item = &str> {
        tokens(&self.headers, "Sec-WebSocket-Protocol")
    }

    /// All `Sec-WebSocket-Extensions` values of the request.
    pub fn extensions(&self) -> Vec<&str> {
        find(&self.headers, "Sec-WebSocket-Extensions")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect()
    }

    /// Checks that this is a valid WebSocket upgrade request (RFC 6455 §4.2.1).
    pub fn validate(&self) -> Result<ServerHandshake, HandshakeError> {
        if self.method != "GET" {
            return Err(HandshakeError::MethodNotAllowed(self.method.clone()));
        }
        if find(&self.headers, "Host").count() != 1 {
            return Err(HandshakeError::MissingHost);
        }
        if !has_token(&self.headers, "Upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !has_token(&self.headers, "Connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let mut versions = find(&self.headers, "Sec-WebSocket-Version");
        if versions.next().map(<[u8]>::trim_ascii) != Some(b"13") || versions.next().is_some() {
            return Err(HandshakeError::UnsupportedVersion);
        }
        let mut keys = find(&self.headers, "Sec-WebSocket-Key");
        let key = keys
            .next()
            .map(<[u8]>::trim_ascii)
            .ok_or(HandshakeError::InvalidKey)?;
        if keys.next().is_some() || BASE64.decode(key).map(|k| k.len()) != Ok(16) {
            return Err(HandshakeError::InvalidKey);
        }
        Ok(ServerHandshake {
            accept: accept_key(key),
        })
    }
}

/// A validated upgrade request, ready to be answered with `101`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHandshake {
    /// The `Sec-WebSocket-Accept` value for the request's key.
    accept: String,
}

impl ServerHandshake {
    /// The `Sec-WebSocket-Accept` value.
    pub fn accept_value(&self) -> &str {
        &self.accept
    }

    /// Negotiates permessage-deflate for `request` under `config` (`None`:
    /// compression off). Returns the parameters for the connection and the
    /// `Sec-WebSocket-Extensions` response value.
    pub fn negotiate_deflate(
        request: &Request,
        config: Option<&DeflateConfig>,
    ) -> Option<(DeflateParams, String)> {
        config?.negotiate_server(&request.extensions())
    }

    /// The `101 Switching Protocols` response, with the chosen subprotocol,
    /// extension answer and extra headers. Extra headers with invalid names
    /// or values (CR/LF) are refused with `Err` rather than written.
    pub fn accept(
        &self,
        subprotocol: Option<&str>,
        extensions: Option<&str>,
        extra_headers: &[(String, String)],
    ) -> Result<Vec<u8>, &'static str> {
        let mut out = String::with_capacity(160);
        out.push_str("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ");
        out.push_str(&self.accept);
        out.push_str("\r\n");
        if let Some(protocol) = subprotocol {
            if !is_valid_header_value(protocol) {
                return Err("invalid subprotocol");
            }
            out.push_str("Sec-WebSocket-Protocol: ");
            out.push_str(protocol);
            out.push_str("\r\n");
        }
        if let Some(extensions) = extensions {
            out.push_str("Sec-WebSocket-Extensions: ");
            out.push_str(extensions);
            out.push_str("\r\n");
        }
        for (name, value) in extra_headers {
            if !is_valid_header_name(name) || !is_valid_header_value(value) {
                return Err("invalid header name or value");
            }
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        Ok(out.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Version: 13\r\n\r\n";

    fn parse(s: &str) -> Request {
        parse_request(s.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn rfc_example_request_is_accepted() {
        let req = parse(GOOD);
        assert_eq!(req.path, "/chat");
        assert_eq!(
            req.subprotocols().collect::<Vec<_>>(),
            ["chat", "superchat"]
        );
        let hs = req.validate().unwrap();
        assert_eq!(hs.accept_value(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        let resp = String::from_utf8(hs.accept(Some("chat"), None, &[]).unwrap()).unwrap();
        assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(resp.contains("Sec-WebSocket-Protocol: chat\r\n"));
        assert!(resp.ends_with("\r\n\r\n"));
    }

    #[test]
    fn partial_heads_need_more() {
        for end in 0..GOOD.len() {
            assert_eq!(
                parse_request(&GOOD.as_bytes()[..end], &Limits::default()).unwrap(),
                None
            );
        }
    }

    #[test]
    fn bad_requests_get_the_right_status() {
        let cases: &[(&str, &str, u16)] = &[
            ("GET /chat HTTP/1.1", "POST /chat HTTP/1.1", 405),
            ("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 426),
            ("Upgrade: websocket", "Upgrade: h2c", 400),
            (
                "Connection: keep-alive, Upgrade",
                "Connection: keep-alive",
                400,
            ),
            ("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ==", 400),
            ("Host: server.example.com\r\n", "", 400),
        ];
        for (from, to, status) in cases {
            let req = parse(&GOOD.replace(from, to));
            let err = req.validate().unwrap_err();
            assert_eq!(err.http_status(), *status, "{from} -> {to}: {err}");
        }
        let resp = String::from_utf8(HandshakeError::UnsupportedVersion.to_response()).unwrap();
        assert!(resp.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
        assert!(resp.contains("Sec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn tokens_are_case_insensitive() {
        let req = parse(
            &GOOD
                .replace("Upgrade: websocket", "uPgRaDe: WebSocket")
                .replace("keep-alive, Upgrade", "UPGRADE"),
        );
        assert!(req.validate().is_ok());
    }

    #[test]
    fn http_1_0_is_refused() {
        let err = parse_request(
            GOOD.replace("HTTP/1.1", "HTTP/1.0").as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(err, HandshakeError::HttpVersion);
    }

    #[test]
    fn head_limits() {
        let limits = Limits {
            max_head_bytes: 1024,
            max_headers: 8,
        };
        let huge = format!("GET / HTTP/1.1\r\nX-Big: {}", "a".repeat(2000));
        assert_eq!(
            parse_request(huge.as_bytes(), &limits),
            Err(HandshakeError::HeadTooLarge(1024))
        );
        let many: String = (0..20).map(|i| format!("X-{i}: 1\r\n")).collect();
        let req = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            parse_request(req.as_bytes(), &limits),
            Err(HandshakeError::TooManyHeaders(8))
        );
        assert_eq!(HandshakeError::TooManyHeaders(8).http_status(), 431);
        // Blank lines before the request line are skipped, not the end of a head.
        let endless = format!("\r\n\r\nGET / HTTP/1.1\r\nX-Big: {}", "a".repeat(2000));
        assert_eq!(
            parse_request(&endless.as_bytes()[..1024], &limits),
            Ok(None)
        );
        assert_eq!(
            parse_request(endless.as_bytes(), &limits),
            Err(HandshakeError::HeadTooLarge(1024))
        );
    }

    #[test]
    fn header_injection_is_refused() {
        let hs = parse(GOOD).validate().unwrap();
        assert!(hs
            .accept(None, None, &[("X-A".into(), "1\r\nEvil: 1".into())])
            .is_err());
        assert!(hs.accept(Some("a\r\nb"), None, &[]).is_err());
    }
}
