//! `wss://` with rustls: a self-signed certificate for `localhost`, trusted
//! through a CA file, not trusted at all, or not checked (insecure mode).

#![cfg(feature = "tls")]

mod common;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use common::*;
use duplex::tls::TlsAcceptor;
use duplex::{Acceptor, ClientBuilder, CloseCode, CloseFrame, CloseStatus, Error, Message};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::task::JoinHandle;

/// A self-signed certificate for `localhost`, with its key, and the PEM
/// written to a file unique to this test.
struct TestCert {
    der: CertificateDer<'static>,
    key: Vec<u8>,
    pem_file: PathBuf,
}

impl TestCert {
    fn new(test: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let pem_file = std::env::temp_dir().join(format!(
            "duplex-test-{test}-{}-{}.pem",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&pem_file, certified.cert.pem()).unwrap();
        TestCert {
            der: certified.cert.der().clone(),
            key: certified.key_pair.serialize_der(),
            pem_file,
        }
    }

    fn tls_acceptor(&self) -> TlsAcceptor {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone()));
        TlsAcceptor::from(duplex::tls::server_config(vec![self.der.clone()], key).unwrap())
    }

    fn trusting_client(&self) -> Arc<rustls::ClientConfig> {
        duplex::tls::client_config_with_ca(&[self.pem_file.as_path()], false, None).unwrap()
    }
}

impl Drop for TestCert {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pem_file);
    }
}

/// A wss:// echo server for one connection. Returns the port and the task,
/// which yields the echo log, or the TLS error if the handshake failed.
async fn wss_echo_server(tls: TlsAcceptor) -> (u16, JoinHandle<Result<EchoLog, String>>) {
    let (listener, _) = listen().await;
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls_stream = tls.accept(tcp).await.map_err(|e| e.to_string())?;
        let ws = Acceptor::new()
            .accept(tls_stream)
            .await
            .map_err(|e| e.to_string())?;
        Ok(echo(ws).await)
    });
    (port, task)
}

#[tokio::test]
async fn wss_round_trip_with_a_trusted_self_signed_certificate() {
    let cert = TestCert::new("trusted");
    let (port, server) = wss_echo_server(cert.tls_acceptor()).await;

    let (mut ws, response) = within(
        ClientBuilder::new(&format!("wss://localhost:{port}/secure"))
            .unwrap()
            .tls_config(cert.trusting_client())
            .connect(),
    )
    .await
    .unwrap();
    assert_eq!(response.status, 101);
    assert!(matches!(ws.get_ref(), duplex::MaybeTlsStream::Tls(_)));

    round_trip(&mut ws, Message::text("over TLS")).await;
    round_trip(&mut ws, Message::binary(pattern(300_000, 7))).await;
    within(ws.send(Message::Ping("tls ping".into())))
        .await
        .unwrap();
    assert_eq!(
        within(ws.recv()).await.unwrap().unwrap(),
        Message::Pong("tls ping".into())
    );
    let status = within(ws.close(CloseCode::NORMAL, "done")).await.unwrap();
    assert_eq!(
        status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, ""))))
    );

    let log = within(server).await.unwrap().unwrap();
    assert_eq!(log.echoed, 2);
    assert_eq!(
        log.control,
        [
            Message::Ping("tls ping".into()),
            Message::Close(Some(CloseFrame::new(1000, "done")))
        ]
    );
    assert_eq!(
        log.status,
        Some(CloseStatus::Clean(Some(CloseFrame::new(1000, "done"))))
    );
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let cert = TestCert::new("untrusted");
    let (port, server) = wss_echo_server(cert.tls_acceptor()).await;

    // The default settings trust the Mozilla roots only.
    let result = within(duplex::connect(&format!("wss://localhost:{port}/"))).await;
    match result {
        Err(Error::Tls(message)) => assert!(message.contains("certificate"), "{message}"),
        Err(other) => panic!("expected a TLS error, got {other:?}"),
        Ok(_) => panic!("connected to a server with an untrusted certificate"),
    }
    // The server sees the handshake fail too.
    assert!(within(server).await.unwrap().is_err());
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let cert = TestCert::new("wrong-name");
    let (port, server) = wss_echo_server(cert.tls_acceptor()).await;

    // Trusted, but issued for "localhost", not "127.0.0.1".
    let result = within(
        ClientBuilder::new(&format!("wss://127.0.0.1:{port}/"))
            .unwrap()
            .tls_config(cert.trusting_client())
            .connect(),
    )
    .await;
    assert!(
        matches!(result, Err(Error::Tls(_))),
        "{:?}",
        result.map(|_| ())
    );
    assert!(within(server).await.unwrap().is_err());
}

#[tokio::test]
async fn the_insecure_config_connects_to_any_certificate() {
    let cert = TestCert::new("insecure");
    let (port, server) = wss_echo_server(cert.tls_acceptor()).await;

    let (mut ws, _) = within(
        ClientBuilder::new(&format!("wss://localhost:{port}/"))
            .unwrap()
            .tls_config(duplex::tls::insecure_client_config())
            .connect(),
    )
    .await
    .unwrap();
    round_trip(&mut ws, Message::text("unverified but encrypted")).await;
    within(ws.close(CloseCode::NORMAL, "")).await.unwrap();
    assert_eq!(within(server).await.unwrap().unwrap().echoed, 1);
}
