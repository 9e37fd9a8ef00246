//! Accepting connections: [`accept`], [`Acceptor`] and [`Handshake`].

use std::time::Duration;

use bytes::BytesMut;
use duplex_proto::handshake::{parse_request, HandshakeError, Limits, Request, ServerHandshake};
use duplex_proto::{Config, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::websocket::WebSocket;

/// Accepts a WebSocket connection on `stream` with the default settings,
/// answering an invalid request with the right HTTP error.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::{SinkExt, StreamExt};
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = duplex::accept(tcp).await?;
/// while let Some(Ok(msg)) = ws.next().await {
///     if msg.is_data() {
///         ws.send(msg).await?;
///     }
/// }
/// # Ok(()) }
/// ```
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    Acceptor::new().accept(stream).await
}

/// Server-side settings: limits, timeouts, subprotocols, compression.
///
/// ```
/// use std::time::Duration;
/// let acceptor = duplex::Acceptor::new()
///     .subprotocol("chat.v1")
///     .handshake_timeout(Duration::from_secs(5))
///     .config(duplex::Config::default().max_message_size(1 << 20));
/// ```
#[derive(Debug, Clone)]
pub struct Acceptor {
    /// Connection settings; `config.deflate` enables compression.
    config: Config,
    /// Limits on the request head.
    limits: Limits,
    /// Bound on receiving the request head (slowloris defence).
    handshake_timeout: Duration,
    /// Subprotocols we speak, most preferred first.
    subprotocols: Vec<String>,
}

impl Default for Acceptor {
    fn default() -> Self {
        Acceptor {
            config: Config::default(),
            limits: Limits::default(),
            handshake_timeout: Duration::from_secs(10),
            subprotocols: Vec::new(),
        }
    }
}

impl Acceptor {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the connection settings and limits.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Sets the limits on the request head (default 16 KiB, 64 headers).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Bounds the time a client may take to send its request (default 10 s).
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Adds a subprotocol we speak; [`Handshake::accept`] picks the client's
    /// most preferred one among ours.
    pub fn subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// The client's most preferred subprotocol that we speak, if any.
    pub fn choose_subprotocol(&self, request: &Request) -> Option<String> {
        request
            .subprotocols()
            .find(|p| self.subprotocols.iter().any(|ours| ours == p))
            .map(str::to_string)
    }

    /// The connection settings.
    pub fn connection_config(&self) -> &Config {
        &self.config
    }

    /// Reads and accepts a handshake.
    pub async fn accept<S>(&self, stream: S) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Boxed as a whole (one allocation; the unboxed steps inside): the
        // `Handshake` between the two steps is several times the size of a
        // `WebSocket` (see `handshake`).
        Box::pin(async move {
            let handshake = self.read_handshake(stream).await?;
            let answer = handshake.default_answer();
            handshake.respond(answer).await
        })
        .await
    }

    /// Reads and checks the request, without answering yet, so the
    /// application can look at it (path, headers, cookies) and then accept
    /// or reject. An invalid request is answered here with the matching
    /// HTTP error (400, 405, 426, 431) and returned as an error.
    pub async fn handshake<S>(&self, stream: S) -> Result<Handshake<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        // Boxed, as is `Handshake::accept_with`: the task that awaits the
        // handshake usually goes on to serve the connection for its whole
        // life, and an async fn's state is as large as its largest await. The
        // handshake's state (read buffer, timer, parsed request) is several
        // times the `WebSocket`'s, so inline it would be carried by every
        // idle connection; boxed, it is one short-lived allocation.
        Box::pin(self.read_handshake(stream)).await
    }

    async fn read_handshake<S>(&self, mut stream: S) -> Result<Handshake<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut buf = BytesMut::with_capacity(1024);
        let read = async {
            loop {
                if let Some(parsed) = parse_request(&buf, &self.limits)? {
                    return Ok(parsed);
                }
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
            }
        };
        let parsed = match tokio::time::timeout(self.handshake_timeout, read).await {
            Ok(parsed) => parsed,
            Err(_) => {
                let _ = respond_error(&mut stream, 408, "handshake timed out\n").await;
                return Err(Error::Timeout("receiving the handshake request"));
            }
        };
        let (request, head_len) = match parsed {
            Ok(parsed) => parsed,
            Err(Error::Handshake(e)) => return Err(refuse(&mut stream, e).await),
            Err(e) => return Err(e),
        };
        let validated = match request.validate() {
            Ok(v) => v,
            Err(e) => return Err(refuse(&mut stream, e).await),
        };
        let _ = buf.split_to(head_len);
        Ok(Handshake {
            stream,
            request,
            validated,
            leftover: buf,
            acceptor: self.clone(),
        })
    }
}

async fn refuse<S: AsyncWrite + Unpin>(stream: &mut S, error: HandshakeError) -> Error {
    tracing::debug!(%error, "refusing WebSocket handshake");
    let _ = stream.write_all(&error.to_response()).await;
    let _ = stream.shutdown().await;
    Error::Handshake(error)
}

async fn respond_error<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    body: &str,
) -> std::io::Result<()> {
    stream
        .write_all(&duplex_proto::handshake::error_response(status, &[], body))
        .await?;
    stream.shutdown().await
}

/// How to answer a handshake: the subprotocol and extra response headers.
#[derive(Debug, Clone, Default)]
pub struct Accept {
    /// The chosen subprotocol (must be one the client offered).
    pub subprotocol: Option<String>,
    /// Extra response headers (e.g. `Set-Cookie`).
    pub headers: Vec<(String, String)>,
}

/// A valid upgrade request, waiting for the application to accept or reject it.
#[derive(Debug)]
pub struct Handshake<S> {
    stream: S,
    request: Request,
    validated: ServerHandshake,
    /// Bytes that arrived after the request head.
    leftover: BytesMut,
    acceptor: Acceptor,
}

impl<S> Handshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The request: path, headers (Origin, cookies, offered subprotocols).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The transport.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// Accepts, choosing the client's most preferred subprotocol that the
    /// acceptor speaks (or none).
    pub async fn accept(self) -> Result<WebSocket<S>> {
        let answer = self.default_answer();
        self.accept_with(answer).await
    }

    /// The client's most preferred subprotocol that the acceptor speaks,
    /// no extra headers.
    fn default_answer(&self) -> Accept {
        Accept {
            subprotocol: self.acceptor.choose_subprotocol(&self.request),
            headers: Vec::new(),
        }
    }

    /// Accepts with the given answer.
    pub async fn accept_with(self, answer: Accept) -> Result<WebSocket<S>> {
        // Boxed for the same reason as `Acceptor::handshake`.
        Box::pin(self.respond(answer)).await
    }

    async fn respond(mut self, answer: Accept) -> Result<WebSocket<S>> {
        if let Some(p) = &answer.subprotocol {
            if !self.request.subprotocols().any(|offered| offered == p) {
                return Err(Error::InvalidInput(
                    "subprotocol was not offered by the client",
                ));
            }
        }
        let config = self.acceptor.config.clone();
        let deflate = ServerHandshake::negotiate_deflate(&self.request, config.deflate.as_ref());
        let response = self
            .validated
            .accept(
                answer.subprotocol.as_deref(),
                deflate.as_ref().map(|(_, header)| header.as_str()),
                &answer.headers,
            )
            .map_err(Error::InvalidInput)?;
        self.stream.write_all(&response).await?;
        self.stream.flush().await?;
        Ok(WebSocket::from_raw(
            self.stream,
            Role::Server,
            config,
            deflate.map(|(params, _)| params),
            &self.leftover,
        )
        .with_protocol(answer.subprotocol))
    }

    /// Refuses the upgrade with an HTTP status and a plain-text body.
    pub async fn reject(mut self, status: u16, body: &str) -> Result<()> {
        respond_error(&mut self.stream, status, body).await?;
        Ok(())
    }
}
