//! Upgrading requests of a hyper 1.x (or axum) HTTP server to WebSockets.
//!
//! ```no_run
//! use duplex::hyper::{is_upgrade_request, upgrade};
//! use futures_util::{SinkExt, StreamExt};
//!
//! async fn handle(mut req: http::Request<hyper::body::Incoming>)
//!     -> Result<http::Response<String>, std::convert::Infallible> {
//!     if !is_upgrade_request(&req) {
//!         return Ok(http::Response::new("not a WebSocket request".into()));
//!     }
//!     match upgrade(&mut req, &duplex::Acceptor::new()) {
//!         Ok((response, websocket)) => {
//!             tokio::spawn(async move {
//!                 let Ok(mut ws) = websocket.await else { return };
//!                 while let Some(Ok(msg)) = ws.next().await {
//!                     if msg.is_data() && ws.send(msg).await.is_err() { break }
//!                 }
//!             });
//!             Ok(response)
//!         }
//!         Err(e) => {
//!             let mut response = http::Response::builder().status(e.http_status());
//!             for (name, value) in e.response_headers() {
//!                 response = response.header(*name, *value);
//!             }
//!             Ok(response.body(e.to_string()).unwrap_or_default())
//!         }
//!     }
//! }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use duplex_proto::deflate::DeflateParams;
use duplex_proto::handshake::{HandshakeError, Header, Request, ServerHandshake};
use duplex_proto::{Config, Role};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;

use crate::error::{Error, Result};
use crate::server::Acceptor;
use crate::websocket::WebSocket;

/// The WebSocket an upgraded hyper connection becomes.
pub type HyperWebSocket = WebSocket<TokioIo<Upgraded>>;

/// Whether `req` asks for a WebSocket upgrade (`Upgrade: websocket`).
pub fn is_upgrade_request<B>(req: &http::Request<B>) -> bool {
    req.headers()
        .get_all(http::header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
}

fn to_request<B>(req: &http::Request<B>) -> Request {
    Request {
        method: req.method().as_str().to_string(),
        path: req
            .uri()
            .path_and_query()
            .map_or_else(|| "/".to_string(), |p| p.as_str().to_string()),
        headers: req
            .headers()
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str().to_string(),
                value: value.as_bytes().to_vec(),
            })
            .collect(),
    }
}

/// Checks `req` as a WebSocket upgrade and returns the `101` response to
/// send and a future that resolves to the [`WebSocket`] once hyper hands
/// over the connection. The subprotocol is chosen as by
/// [`Acceptor::subprotocol`], and permessage-deflate negotiated if the
/// acceptor's config enables it.
///
/// On error, answer with [`HandshakeError::http_status`] and
/// [`HandshakeError::response_headers`].
pub fn upgrade<B, R: Default>(
    req: &mut http::Request<B>,
    acceptor: &Acceptor,
) -> Result<(http::Response<R>, UpgradeFuture), HandshakeError> {
    if req.version() != http::Version::HTTP_11 {
        return Err(HandshakeError::HttpVersion);
    }
    let request = to_request(req);
    let validated = request.validate()?;
    let config = acceptor.connection_config().clone();
    let subprotocol = acceptor.choose_subprotocol(&request);
    let deflate = ServerHandshake::negotiate_deflate(&request, config.deflate.as_ref());
    let mut response = http::Response::builder()
        .status(http::StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::SEC_WEBSOCKET_ACCEPT, validated.accept_value());
    if let Some(p) = &subprotocol {
        response = response.header(http::header::SEC_WEBSOCKET_PROTOCOL, p.as_str());
    }
    if let Some((_, header)) = &deflate {
        response = response.header(http::header::SEC_WEBSOCKET_EXTENSIONS, header.as_str());
    }
    let response = response
        .body(R::default())
        .map_err(|e| HandshakeError::Malformed(e.to_string()))?;
    let on_upgrade = hyper::upgrade::on(req);
    Ok((
        response,
        UpgradeFuture {
            on_upgrade,
            config: Some(config),
            deflate: deflate.map(|(params, _)| params),
            subprotocol,
        },
    ))
}

/// Resolves to the [`WebSocket`] once hyper has sent the `101` response.
#[derive(Debug)]
pub struct UpgradeFuture {
    on_upgrade: OnUpgrade,
    config: Option<Config>,
    deflate: Option<DeflateParams>,
    subprotocol: Option<String>,
}

impl Future for UpgradeFuture {
    type Output = Result<HyperWebSocket>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let upgraded = ready!(Pin::new(&mut this.on_upgrade).poll(cx))
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let config = this.config.take().unwrap_or_default();
        let ws = WebSocket::from_raw(
            TokioIo::new(upgraded),
            Role::Server,
            config,
            this.deflate.take(),
            &[],
        )
        .with_protocol(this.subprotocol.take());
        Poll::Ready(Ok(ws))
    }
}
