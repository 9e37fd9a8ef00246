//! The client side of the opening handshake.

use base64::Engine;

use super::{
    accept_key, find, has_token, head_window, incomplete_head, is_valid_header_name,
    is_valid_header_value, own_headers, tokens, HandshakeError, Header, Limits, BASE64,
};
use crate::deflate::{DeflateConfig, DeflateParams};

/// A client's opening request (RFC 6455 §4.1).
///
/// ```
/// use duplex_proto::handshake::ClientRequest;
/// let req = ClientRequest::new("example.com:9001", "/chat").subprotocol("chat");
/// let bytes = req.encode();
/// assert!(bytes.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com:9001\r\n"));
/// ```
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The `Host` header value (host, and port when not the default).
    host: String,
    /// The request target: path and query.
    path: String,
    /// The `Sec-WebSocket-Key`: 16 random bytes in base64.
    key: String,
    /// Subprotocols to offer, in order of preference.
    subprotocols: Vec<String>,
    /// permessage-deflate to offer, if any.
    deflate: Option<DeflateConfig>,
    /// Further headers (Origin, Authorization, cookies…).
    headers: Vec<(String, String)>,
}

impl ClientRequest {
    /// A request for `path` on `host`, with a fresh random key.
    pub fn new(host: impl Into<String>, path: impl Into<String>) -> Self {
        ClientRequest {
            host: host.into(),
            path: path.into(),
            key: BASE64.encode(rand::random::<[u8; 16]>()),
            subprotocols: Vec::new(),
            deflate: None,
            headers: Vec::new(),
        }
    }

    /// Offers a subprotocol (call again to offer several).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Offers permessage-deflate with these settings.
    pub fn deflate(mut self, config: Option<DeflateConfig>) -> Self {
        self.deflate = config;
        self
    }

    /// Adds a header. Names and values that would break the request (CR, LF,
    /// non-token names) are rejected by [`encode`](Self::encode)'s caller
    /// check, [`validate_headers`](Self::validate_headers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Checks the extra headers and subprotocols for characters that could
    /// split the request.
    pub fn validate_headers(&self) -> Result<(), &'static str> {
        for (name, value) in &self.headers {
            if !is_valid_header_name(name) || !is_valid_header_value(value) {
                return Err("invalid header name or value");
            }
        }
        if self.subprotocols.iter().any(|p| !is_valid_header_name(p)) {
            return Err("invalid subprotocol name");
        }
        Ok(())
    }

    /// The key this request carries.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The request head, ready to write.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
            self.path, self.host, self.key
        );
        if !self.subprotocols.is_empty() {
            out.push_str(&format!(
                "Sec-WebSocket-Protocol: {}\r\n",
                self.subprotocols.join(", ")
            ));
        }
        if let Some(deflate) = &self.deflate {
            out.push_str(&format!(
                "Sec-WebSocket-Extensions: {}\r\n",
                deflate.client_offer()
            ));
        }
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.into_bytes()
    }

    /// Checks the server's answer (RFC 6455 §4.1, steps 1–6 of the client's
    /// response handling) and returns what was negotiated.
    pub fn check_response(&self, response: &Response) -> Result<Negotiated, HandshakeError> {
        if response.status != 101 {
            return Err(HandshakeError::UnexpectedStatus {
                status: response.status,
            });
        }
        if !has_token(&response.headers, "Upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !has_token(&response.headers, "Connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let expected = accept_key(self.key.as_bytes());
        let mut accepts = find(&response.headers, "Sec-WebSocket-Accept");
        if accepts.next().map(<[u8]>::trim_ascii) != Some(expected.as_bytes())
            || accepts.next().is_some()
        {
            return Err(HandshakeError::InvalidAccept);
        }
        let mut protocols = tokens(&response.headers, "Sec-WebSocket-Protocol");
        let subprotocol = match (protocols.next(), protocols.next()) {
            (None, _) => None,
            (Some(p), None) if self.subprotocols.iter().any(|o| o == p) => Some(p.to_string()),
            (Some(p), _) => return Err(HandshakeError::UnrequestedSubprotocol(p.to_string())),
        };
        let extensions: Vec<&str> = find(&response.headers, "Sec-WebSocket-Extensions")
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect();
        let deflate = match &self.deflate {
            _ if extensions.iter().all(|e| e.trim().is_empty()) => None,
            Some(config) => config.accept_client(&extensions)?,
            None => {
                return Err(HandshakeError::UnrequestedExtension(extensions.join(", ")));
            }
        };
        Ok(Negotiated {
            subprotocol,
            deflate,
        })
    }
}

/// What the handshake settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol the server chose, if any.
    pub subprotocol: Option<String>,
    /// The permessage-deflate parameters, if compression was agreed.
    pub deflate: Option<DeflateParams>,
}

/// A parsed HTTP response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The headers, in order.
    pub headers: Vec<Header>,
}

impl Response {
    /// The first header named `name` (case-insensitive), if it is UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(&h.value).ok())
    }
}

/// Parses a response head from the start of `buf`: `Ok(None)` while it is
/// incomplete, else the response and the length of its head.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(Response, usize)>, HandshakeError> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(head_window(buf, limits)) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return incomplete_head(buf, limits),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::TooManyHeaders(limits.max_headers))
        }
        Err(e) => return Err(HandshakeError::Malformed(e.to_string())),
    };
    Ok(Some((
        Response {
            status: resp.code.unwrap_or_default(),
            reason: resp.reason.unwrap_or_default().to_string(),
            headers: own_headers(resp.headers),
        },
        len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::parse_request;

    fn server_answer(req: &ClientRequest, protocol: Option<&str>) -> Response {
        let (request, _) = parse_request(&req.encode(), &Limits::default())
            .unwrap()
            .unwrap();
        let hs = request.validate().unwrap();
        let bytes = hs.accept(protocol, None, &[]).unwrap();
        parse_response(&bytes, &Limits::default())
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn round_trip_with_our_server() {
        let req = ClientRequest::new("localhost", "/").subprotocol("chat");
        let resp = server_answer(&req, Some("chat"));
        let negotiated = req.check_response(&resp).unwrap();
        assert_eq!(negotiated.subprotocol.as_deref(), Some("chat"));
        assert_eq!(negotiated.deflate, None);
    }

    #[test]
    fn wrong_accept_is_refused() {
        let req = ClientRequest::new("localhost", "/");
        let other = ClientRequest::new("localhost", "/");
        let resp = server_answer(&other, None);
        assert_eq!(
            req.check_response(&resp),
            Err(HandshakeError::InvalidAccept)
        );
    }

    #[test]
    fn unrequested_subprotocol_and_extension_are_refused() {
        let req = ClientRequest::new("localhost", "/");
        let resp = server_answer(&req, Some("chat"));
        assert_eq!(
            req.check_response(&resp),
            Err(HandshakeError::UnrequestedSubprotocol("chat".into()))
        );
        let mut resp = server_answer(&req, None);
        resp.headers.push(Header {
            name: "Sec-WebSocket-Extensions".into(),
            value: b"permessage-deflate".to_vec(),
        });
        assert!(matches!(
            req.check_response(&resp),
            Err(HandshakeError::UnrequestedExtension(_))
        ));
    }

    #[test]
    fn non_101_and_missing_upgrade_are_refused() {
        let req = ClientRequest::new("localhost", "/");
        let bytes = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        let (resp, _) = parse_response(bytes, &Limits::default()).unwrap().unwrap();
        assert_eq!(
            req.check_response(&resp),
            Err(HandshakeError::UnexpectedStatus { status: 404 })
        );
        let mut resp = server_answer(&req, None);
        resp.headers
            .retain(|h| !h.name.eq_ignore_ascii_case("upgrade"));
        assert_eq!(
            req.check_response(&resp),
            Err(HandshakeError::MissingUpgrade)
        );
    }

    #[test]
    fn head_just_over_the_limit_is_refused() {
        // Found by fuzz/ (handshake_response): a head ending 1..=4 bytes past
        // max_head_bytes was accepted.
        let limits = Limits {
            max_head_bytes: 1024,
            max_headers: 16,
        };
        let start = "HTTP/1.1 101 Switching Protocols\r\nX: ";
        for total in [1024, 1025, 1028] {
            let head = format!("{start}{}\r\n\r\n", "a".repeat(total - start.len() - 4));
            assert_eq!(head.len(), total);
            let parsed = parse_response(head.as_bytes(), &limits);
            if total <= 1024 {
                assert_eq!(parsed.unwrap().unwrap().1, total);
            } else {
                assert_eq!(parsed, Err(HandshakeError::HeadTooLarge(1024)));
            }
        }
    }

    #[test]
    fn blank_lines_before_the_status_line_do_not_end_the_head() {
        // Found by fuzz/ (handshake_response): the size check took a leading
        // `\r\n\r\n` for the end of the head, so an endless head was awaited.
        let limits = Limits {
            max_head_bytes: 1024,
            max_headers: 16,
        };
        let endless = format!(
            "\r\n\r\nHTTP/1.1 101 Switching Protocols\r\nX: {}",
            "a".repeat(2000)
        );
        for len in [1024, 1025, endless.len()] {
            let parsed = parse_response(&endless.as_bytes()[..len], &limits);
            if len <= 1024 {
                assert_eq!(parsed, Ok(None));
            } else {
                assert_eq!(parsed, Err(HandshakeError::HeadTooLarge(1024)));
            }
        }
        let short = "\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n";
        let (response, len) = parse_response(short.as_bytes(), &limits).unwrap().unwrap();
        assert_eq!((response.status, len), (101, short.len()));
    }

    #[test]
    fn header_injection_is_refused() {
        let req = ClientRequest::new("localhost", "/").header("X-A", "1\r\nEvil: 2");
        assert!(req.validate_headers().is_err());
    }
}
