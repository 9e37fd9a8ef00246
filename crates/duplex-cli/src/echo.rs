//! `duplex echo`: a WebSocket echo server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use duplex::{Acceptor, Config, DeflateConfig};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

/// Options of `duplex echo`.
#[derive(Debug, clap::Args)]
pub struct EchoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// Refuse permessage-deflate (it is accepted when a client offers it).
    #[arg(long)]
    no_compress: bool,
    /// Largest message accepted, in bytes.
    #[arg(long, default_value_t = 64 << 20)]
    max_message_size: usize,
    /// Largest frame accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_frame_size: usize,
    /// Worker threads (default: one per core available). With one, the
    /// server runs on a single-threaded runtime.
    #[arg(long)]
    threads: Option<usize>,
    /// PEM certificate chain: serve wss:// (needs --tls-key).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// Runs the echo server until interrupted.
pub fn run(args: EchoArgs) -> Result<()> {
    let threads = args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        |threads| threads.max(1),
    );
    let runtime = if threads == 1 {
        // One thread (one core available, or `--threads 1`): the accept
        // loop and every connection run on this thread, with none of the
        // multi-thread scheduler's machinery (run-queue atomics, a worker
        // thread besides the one in `block_on`).
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(serve(args))
}

async fn serve(args: EchoArgs) -> Result<()> {
    let config = Config::default()
        .max_message_size(args.max_message_size)
        .max_frame_size(args.max_frame_size)
        .deflate((!args.no_compress).then(DeflateConfig::default));
    let acceptor = Arc::new(Acceptor::new().config(config));
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(duplex::tls::TlsAcceptor::from(
            duplex::tls::server_config_from_pem(cert, key)
                .context("loading the TLS certificate")?,
        )),
        _ => None,
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    tracing::info!(
        "echo server listening on {scheme}://{}",
        listener.local_addr()?
    );
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // The TLS path is boxed so that a plain connection's task does not
            // carry the (large) TLS state inline: idle memory per connection.
            let result = match tls {
                Some(tls) => {
                    Box::pin(async move {
                        match tls.accept(tcp).await {
                            Ok(stream) => echo(&acceptor, stream).await,
                            Err(e) => Err(e.into()),
                        }
                    })
                    .await
                }
                None => echo(&acceptor, tcp).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended: {e}");
            }
        });
    }
}

/// Echoes every text and binary message back, in order. Messages that are
/// already buffered are queued together and written with one flush.
async fn echo<S>(acceptor: &Acceptor, stream: S) -> Result<(), duplex::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = acceptor.accept(stream).await?;
    echo_messages(&mut ws).await
}

/// The echo loop, shared with the conformance client. It borrows the
/// WebSocket rather than taking it: an async fn keeps a by-value argument
/// in its state besides the caller's copy, and this future lives as long
/// as the connection (idle memory per connection). After an error the
/// stream is still polled until it ends, so the close frame that reports the
/// error is written and the transport closed as the RFC asks.
///
/// Replies are only fed: the stream writes them once the messages already
/// received are used up, before it waits for more (see
/// [`WebSocket::feed`](duplex::WebSocket::feed)). Replies to a burst of
/// messages go out in one write, and no flush or extra poll is needed.
pub async fn echo_messages<S>(ws: &mut duplex::WebSocket<S>) -> Result<(), duplex::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut first_error = None;
    let deflate = ws.connection().deflate_params();
    while let Some(message) = ws.next().await {
        let result = match message {
            Ok(message) if message.is_data() => ws.feed(message).await,
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    }
    let stats = ws.connection().stats();
    tracing::debug!(
        ?deflate,
        messages_in = stats.messages_in,
        compressed_in = stats.compressed_in,
        messages_out = stats.messages_out,
        compressed_out = stats.compressed_out,
        "connection ended"
    );
    first_error.map_or(Ok(()), Err)
}
