//! Memory per connection: what a server task carries for every connection,
//! idle ones included (the #9 target is ≤ 4 KiB of RSS per idle `duplex
//! echo` connection; `benches/run.sh` measures it, these tests keep the
//! inline sizes that it is made of from creeping back up).

use std::mem::size_of;

use duplex::proto::Connection;
use duplex::{Acceptor, WebSocket};
use tokio::net::TcpStream;

/// The sans-I/O state machine: cold state (permessage-deflate, ~300 bytes)
/// is boxed, so a connection without compression does not carry it.
#[test]
fn connection_state_is_small() {
    let size = size_of::<Connection>();
    assert!(size <= 448, "Connection is {size} bytes");
}

#[test]
fn websocket_is_small() {
    let size = size_of::<WebSocket<TcpStream>>();
    assert!(size <= 560, "WebSocket<TcpStream> is {size} bytes");
}

/// A task that accepts and then serves a connection is as large as its
/// largest await. The handshake's state (buffer, timer, parsed request) is
/// boxed inside `accept`, so the accept future is about its arguments.
#[tokio::test]
async fn accept_future_does_not_carry_the_handshake_inline() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, _) = listener.accept().await.unwrap();
    let acceptor = Acceptor::new();
    let accept = acceptor.accept(stream);
    let size = size_of_val(&accept);
    assert!(
        size <= size_of::<TcpStream>() + 64,
        "the accept future is {size} bytes"
    );
    drop(accept);
    let handshake = acceptor.handshake(
        TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap(),
    );
    let size = size_of_val(&handshake);
    assert!(
        size <= size_of::<TcpStream>() + 64,
        "the handshake future is {size} bytes"
    );
    drop(client);
}
