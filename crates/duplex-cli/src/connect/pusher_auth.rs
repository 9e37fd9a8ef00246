//! Authorizing private and presence subscriptions: locally with the app
//! secret, or by asking the app's auth endpoint as pusher-js does (a form
//! POST of `socket_id` and `channel_name`, answered with `{"auth": ...}`).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use duplex::MaybeTlsStream;
use duplex_pusher::auth::{channel_token, Credentials, SocketId};
use duplex_pusher::ChannelKind;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use super::args::PusherSettings;

/// Bound on one auth endpoint request.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest auth endpoint answer read.
const MAX_AUTH_BODY: usize = 64 * 1024;

/// What a `pusher:subscribe` carries besides the channel name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Authorization {
    /// `key:signature`.
    pub auth: String,
    /// Presence: the signed member data.
    #[serde(default)]
    pub channel_data: Option<String>,
}

/// The authorization for subscribing `socket_id` to `channel`: `None` for a
/// public channel; the error is one line for stderr.
pub async fn authorize(
    pusher: &PusherSettings,
    tls: Option<Arc<rustls::ClientConfig>>,
    socket_id: &str,
    channel: &str,
) -> Result<Option<Authorization>, String> {
    let kind = ChannelKind::of(channel);
    if !kind.requires_auth() {
        return Ok(None);
    }
    if let Some(secret) = &pusher.app_secret {
        let socket_id = SocketId::parse(socket_id)
            .map_err(|e| format!("the server sent an invalid socket id: {e}"))?;
        let credentials = Credentials {
            key: &pusher.app_key,
            secret,
        };
        let channel_data = kind
            .is_presence()
            .then(|| pusher.channel_data.clone())
            .flatten();
        let auth = channel_token(credentials, &socket_id, channel, channel_data.as_deref());
        return Ok(Some(Authorization { auth, channel_data }));
    }
    let Some(endpoint) = &pusher.auth_endpoint else {
        return Err(format!("{channel} needs --app-secret or --auth-endpoint"));
    };
    let body = format!(
        "socket_id={}&channel_name={}",
        form_encode(socket_id),
        form_encode(channel)
    );
    let answer = tokio::time::timeout(
        AUTH_TIMEOUT,
        post_form(endpoint, &pusher.auth_headers, tls, body),
    )
    .await
    .map_err(|_| {
        format!(
            "auth endpoint {endpoint}: no answer within {}s",
            AUTH_TIMEOUT.as_secs()
        )
    })?
    .map_err(|e| format!("auth endpoint {endpoint}: {e}"))?;
    let (status, body) = answer;
    if !(200..300).contains(&status) {
        let body = super::exit::one_line(&String::from_utf8_lossy(&body), 200);
        return Err(format!(
            "auth endpoint {endpoint} refused {channel}: HTTP {status} {body}"
        ));
    }
    let authorization: Authorization = serde_json::from_slice(&body).map_err(|e| {
        format!("auth endpoint {endpoint}: the answer for {channel} is not {{\"auth\": ...}}: {e}")
    })?;
    Ok(Some(authorization))
}

/// POSTs a form body; returns the status and the (bounded) body.
async fn post_form(
    endpoint: &http::Uri,
    headers: &[(String, String)],
    tls: Option<Arc<rustls::ClientConfig>>,
    body: String,
) -> Result<(u16, Bytes), String> {
    let host = endpoint
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let https = endpoint.scheme_str() == Some("https");
    let port = endpoint.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| e.to_string())?;
    let stream = if https {
        let config = tls.unwrap_or_else(duplex::tls::default_client_config);
        let name =
            rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let tls = duplex::tls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        MaybeTlsStream::Tls(Box::new(tls))
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let path = endpoint.path_and_query().map_or("/", |p| p.as_str());
    let authority = endpoint.authority().map_or(host, |a| a.as_str());
    let mut request = http::Request::post(path)
        .header(http::header::HOST, authority)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .header(
            http::header::USER_AGENT,
            concat!("duplex-cli/", env!("CARGO_PKG_VERSION")),
        );
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = Limited::new(response.into_body(), MAX_AUTH_BODY)
        .collect()
        .await
        .map_err(|e| format!("reading the answer: {e}"))?
        .to_bytes();
    Ok((status, body))
}

/// `application/x-www-form-urlencoded` escaping.
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: Option<&str>) -> PusherSettings {
        PusherSettings {
            app_key: "278d425bdf160c739803".into(),
            channels: vec![],
            app_secret: secret.map(Into::into),
            auth_endpoint: None,
            auth_headers: vec![],
            channel_data: Some(r#"{"user_id":"10","user_info":{"name":"Mr. Channels"}}"#.into()),
        }
    }

    #[tokio::test]
    async fn signs_like_the_pusher_docs() {
        // The worked example of Pusher's channel authorization docs.
        let s = settings(Some("7ad3773142a6692b25b8"));
        let auth = authorize(&s, None, "1234.1234", "private-foobar")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            auth.auth,
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"
        );
        assert_eq!(auth.channel_data, None);
        let presence = authorize(&s, None, "1234.1234", "presence-foobar")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(presence.channel_data, s.channel_data);
        assert_eq!(authorize(&s, None, "1234.1234", "public").await, Ok(None));
    }

    #[test]
    fn form_encoding() {
        assert_eq!(form_encode("private-a b;c"), "private-a+b%3Bc");
        assert_eq!(form_encode("123.456"), "123.456");
    }
}
