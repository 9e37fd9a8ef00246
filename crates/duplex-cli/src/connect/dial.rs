//! Opening a connection step by step — DNS, TCP, TLS, the handshake — so
//! that each failure is told apart (and shown with `-v`, curl style).
//!
//! `ClientBuilder::connect` does the same in one call; here each step maps
//! its error to its own exit status, and [`Tap`] records the request head
//! for `-v`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use duplex::{ClientBuilder, Config, DeflateConfig, MaybeTlsStream, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::args::Settings;
use super::exit::{
    classify_connect_error, classify_handshake_error, classify_tls_error, Exit, Outcome,
};

/// The transport of a `duplex connect` connection.
pub type Stream = Tap<MaybeTlsStream>;
/// A `duplex connect` connection.
pub type Ws = WebSocket<Stream>;

/// An open connection and what the handshake said.
pub struct Opened {
    /// The connection.
    pub ws: Ws,
    /// The address connected to.
    pub peer: SocketAddr,
}

/// Opens the connection within `--timeout`.
pub async fn open(settings: &Settings) -> Result<Opened, Outcome> {
    match tokio::time::timeout(settings.timeout, open_steps(settings)).await {
        Ok(result) => result,
        Err(_) => Err(Outcome::new(
            Exit::Timeout,
            format!(
                "timed out after {}s connecting to {} (--timeout)",
                settings.timeout.as_secs_f64(),
                settings.ws_url.host_header
            ),
        )),
    }
}

async fn open_steps(settings: &Settings) -> Result<Opened, Outcome> {
    let url = &settings.ws_url;
    let verbose = settings.verbose;
    let target = url.host_header.clone();
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((url.host.as_str(), url.port))
        .await
        .map_err(|e| {
            Outcome::new(
                Exit::Dns,
                format!("could not resolve host {}: {e}", url.host),
            )
        })?
        .collect();
    if addrs.is_empty() {
        return Err(Outcome::new(
            Exit::Dns,
            format!("could not resolve host {}: no addresses", url.host),
        ));
    }
    if verbose && url.host.parse::<std::net::IpAddr>().is_err() {
        let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        eprintln!("* {} resolved to {}", url.host, list.join(", "));
    }

    let mut last_error = None;
    let mut connected = None;
    for addr in &addrs {
        if verbose {
            eprintln!("* connecting to {addr}");
        }
        match TcpStream::connect(addr).await {
            Ok(tcp) => {
                connected = Some((tcp, *addr));
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let Some((tcp, peer)) = connected else {
        let error = last_error.unwrap_or_else(|| io::ErrorKind::NotFound.into());
        return Err(classify_connect_error(&target, &error));
    };
    let _ = tcp.set_nodelay(true);
    if verbose {
        eprintln!("* connected to {peer}");
    }

    let stream = if url.tls {
        let config = settings
            .tls
            .clone()
            .unwrap_or_else(duplex::tls::default_client_config);
        let name = rustls::pki_types::ServerName::try_from(url.host.clone()).map_err(|e| {
            Outcome::new(
                Exit::Usage,
                format!("invalid TLS server name {:?}: {e}", url.host),
            )
        })?;
        let tls = duplex::tls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| classify_tls_error(&url.host, &e))?;
        if verbose {
            let (_, session) = tls.get_ref();
            let version = session
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            let suite = session
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default();
            eprintln!("* TLS handshake done: {version} {suite}");
        }
        MaybeTlsStream::Tls(Box::new(tls))
    } else {
        MaybeTlsStream::Plain(tcp)
    };

    let builder = client_builder(settings).map_err(|e| Outcome::new(Exit::Usage, e.to_string()))?;
    match builder.handshake(Tap::new(stream, verbose)).await {
        Ok((ws, response)) => {
            if verbose {
                print_response_head(response.status, &response.reason, &response.headers);
                let deflate = if ws.is_compressed() { "on" } else { "off" };
                let protocol = ws.protocol().unwrap_or("none");
                eprintln!("* permessage-deflate {deflate}, subprotocol {protocol}");
            }
            Ok(Opened { ws, peer })
        }
        Err(error) => {
            if let (
                true,
                duplex::Error::HttpStatus {
                    status,
                    headers,
                    body,
                },
            ) = (verbose, &error)
            {
                print_response_head(*status, "", headers);
                if !body.is_empty() {
                    eprintln!("{}", String::from_utf8_lossy(body).trim_end());
                }
            }
            Err(classify_handshake_error(&error))
        }
    }
}

/// The handshake settings.
fn client_builder(settings: &Settings) -> duplex::Result<ClientBuilder> {
    let mut config = Config::default().deflate(settings.compress.then(DeflateConfig::default));
    if let Some(max) = settings.max_message_size {
        config = config.max_message_size(max).max_frame_size(max);
    }
    let mut builder = ClientBuilder::new(&settings.url)?.config(config);
    for (name, value) in &settings.headers {
        builder = builder.header(name, value);
    }
    for protocol in &settings.subprotocols {
        builder = builder.subprotocol(protocol);
    }
    Ok(builder)
}

fn print_response_head(status: u16, reason: &str, headers: &[duplex::proto::handshake::Header]) {
    let reason = if reason.is_empty() {
        http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
    } else {
        reason
    };
    eprintln!("< HTTP/1.1 {status} {reason}");
    for header in headers {
        eprintln!(
            "< {}: {}",
            header.name,
            String::from_utf8_lossy(&header.value)
        );
    }
    eprintln!("<");
}

/// A transport that, for `-v`, prints the request head it writes (`> ...`
/// lines on stderr), then passes everything through untouched.
pub struct Tap<S> {
    /// The transport.
    inner: S,
    /// The head written so far, while it is being recorded.
    head: Option<Vec<u8>>,
}

impl<S> Tap<S> {
    /// Wraps `inner`; records the request head when `verbose`.
    pub fn new(inner: S, verbose: bool) -> Self {
        Tap {
            inner,
            head: verbose.then(Vec::new),
        }
    }

    fn record(&mut self, written: &[u8]) {
        let Some(head) = &mut self.head else { return };
        head.extend_from_slice(written);
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            for line in String::from_utf8_lossy(&head[..end]).split("\r\n") {
                eprintln!("> {line}");
            }
            eprintln!(">");
            self.head = None;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = poll {
            this.record(&buf[..n]);
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.head.is_some() {
            let first = bufs
                .iter()
                .find(|b| !b.is_empty())
                .map_or(&[][..], |b| &**b);
            return self.poll_write(cx, first);
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
