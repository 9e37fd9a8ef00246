//! Opening connections: [`connect`] and [`ClientBuilder`].

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use duplex_proto::deflate::DeflateConfig;
use duplex_proto::handshake::{parse_response, ClientRequest, Limits, Response};
use duplex_proto::{Config, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{Error, Result};
use crate::stream::MaybeTlsStream;
use crate::url::WsUrl;
use crate::websocket::WebSocket;

/// How much of a refused handshake's body is kept for the error.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Connects to a `ws://` or `wss://` URL with the default settings.
///
/// ```no_run
/// # async fn run() -> Result<(), duplex::Error> {
/// let (mut ws, _response) = duplex::connect("ws://127.0.0.1:9001/").await?;
/// ws.send(duplex::Message::text("hello")).await?;
/// # Ok(()) }
/// ```
pub async fn connect(url: &str) -> Result<(WebSocket<MaybeTlsStream>, Response)> {
    ClientBuilder::new(url)?.connect().await
}

/// Settings for opening a client connection.
///
/// ```no_run
/// # async fn run() -> Result<(), duplex::Error> {
/// use duplex::{ClientBuilder, Config};
/// let (ws, response) = ClientBuilder::new("wss://example.com/chat")?
///     .subprotocol("chat.v1")
///     .header("Authorization", "Bearer abc")
///     .config(Config::default().max_message_size(1 << 20))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    /// Where to connect.
    url: WsUrl,
    /// Subprotocols to offer.
    subprotocols: Vec<String>,
    /// Extra request headers.
    headers: Vec<(String, String)>,
    /// Connection settings (including the permessage-deflate offer).
    config: Config,
    /// Limits on the server's response head.
    limits: Limits,
    /// Bound on TCP connect + TLS + the handshake.
    timeout: Duration,
    /// TLS settings for `wss://`; `None` uses the webpki root certificates.
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl ClientBuilder {
    /// Settings for connecting to `url`.
    pub fn new(url: &str) -> Result<Self> {
        Ok(ClientBuilder {
            url: WsUrl::parse(url)?,
            subprotocols: Vec::new(),
            headers: Vec::new(),
            config: Config::default(),
            limits: Limits::default(),
            timeout: Duration::from_secs(30),
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Offers a subprotocol (call again to offer several, most preferred first).
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Adds a request header (e.g. `Origin`, `Authorization`, `Cookie`).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the connection settings and limits.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Offers permessage-deflate (`None` to not offer it).
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.config.deflate = deflate;
        self
    }

    /// Sets the limits on the server's response head.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Bounds the whole opening: TCP connect, TLS and the handshake (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Uses these TLS settings for `wss://` (custom roots, client
    /// certificates). See [`crate::tls`] for helpers.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The parsed URL.
    pub fn url(&self) -> &WsUrl {
        &self.url
    }

    /// Connects over TCP (and TLS for `wss://`) and performs the handshake.
    pub async fn connect(self) -> Result<(WebSocket<MaybeTlsStream>, Response)> {
        let timeout = self.timeout;
        tokio::time::timeout(timeout, async move {
            let tcp = TcpStream::connect((self.url.host.as_str(), self.url.port)).await?;
            tcp.set_nodelay(true)?;
            let stream = if self.url.tls {
                self.wrap_tls(tcp).await?
            } else {
                MaybeTlsStream::Plain(tcp)
            };
            self.handshake(stream).await
        })
        .await
        .map_err(|_| Error::Timeout("opening the connection"))?
    }

    #[cfg(feature = "tls")]
    async fn wrap_tls(&self, tcp: TcpStream) -> Result<MaybeTlsStream> {
        let config = match &self.tls {
            Some(config) => config.clone(),
            None => crate::tls::default_client_config(),
        };
        let name = rustls::pki_types::ServerName::try_from(self.url.host.clone())
            .map_err(|e| Error::Tls(format!("invalid server name {:?}: {e}", self.url.host)))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(MaybeTlsStream::Tls(Box::new(tls)))
    }

    #[cfg(not(feature = "tls"))]
    async fn wrap_tls(&self, _tcp: TcpStream) -> Result<MaybeTlsStream> {
        Err(Error::Tls("wss:// needs the `tls` feature".into()))
    }

    /// Performs the handshake over a transport that is already connected
    /// (and already TLS, if it should be). No timeout is applied here.
    pub async fn handshake<S>(&self, mut stream: S) -> Result<(WebSocket<S>, Response)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut request = ClientRequest::new(&self.url.host_header, &self.url.resource)
            .deflate(self.config.deflate.clone());
        for protocol in &self.subprotocols {
            request = request.subprotocol(protocol);
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.validate_headers().map_err(Error::InvalidInput)?;
        stream.write_all(&request.encode()).await?;
        stream.flush().await?;

        let mut buf = BytesMut::with_capacity(1024);
        let (response, head_len) = loop {
            if let Some(parsed) = parse_response(&buf, &self.limits)? {
                break parsed;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        };
        let _ = buf.split_to(head_len);
        if response.status != 101 {
            let body = read_error_body(&mut stream, &response, buf).await;
            return Err(Error::HttpStatus {
                status: response.status,
                headers: response.headers,
                body,
            });
        }
        let negotiated = request.check_response(&response)?;
        let ws = WebSocket::from_raw(
            stream,
            Role::Client,
            self.config.clone(),
            negotiated.deflate,
            &buf,
        )
        .with_protocol(negotiated.subprotocol);
        Ok((ws, response))
    }
}

/// Reads (a bounded part of) the body of a refused handshake, for the error.
async fn read_error_body<S: AsyncRead + Unpin>(
    stream: &mut S,
    response: &Response,
    mut buf: BytesMut,
) -> Bytes {
    let want = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(MAX_ERROR_BODY)
        .min(MAX_ERROR_BODY);
    let read = async {
        while buf.len() < want {
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), read).await;
    buf.truncate(want);
    buf.freeze()
}
