//! A server's answer as a client reads it: `parse_response`, then
//! `ClientRequest::check_response` against requests offering
//! permessage-deflate (with and without parameters) and subprotocols.
//!
//! The request key is random, so the RFC 6455 example accept value
//! `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` in the input stands for the right accept
//! value of whichever request is checked (seeds use it).
#![no_main]

use duplex_proto::deflate::DeflateConfig;
use duplex_proto::handshake::{accept_key, parse_response, ClientRequest, HandshakeError, Limits};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_head_bytes: 1024,
    max_headers: 16,
};

/// Stands for the accept value of the request being checked.
const ACCEPT_PLACEHOLDER: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn replace_placeholder(data: &[u8], accept: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while i < data.len() {
        if data[i..].starts_with(ACCEPT_PLACEHOLDER) {
            out.extend_from_slice(accept);
            i += ACCEPT_PLACEHOLDER.len();
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let offers: [(Option<DeflateConfig>, &[&str]); 3] = [
        (Some(DeflateConfig::default()), &["chat", "superchat"]),
        (
            Some(
                DeflateConfig::default()
                    .with_server_no_context_takeover(true)
                    .with_client_no_context_takeover(true)
                    .with_server_max_window_bits(10)
                    .with_client_max_window_bits(9),
            ),
            &["pusher-channels-protocol-7"],
        ),
        (None, &[]),
    ];
    for (deflate, subprotocols) in offers {
        let mut request = ClientRequest::new("ws.example.com", "/app/key?protocol=7").deflate(deflate.clone());
        for p in subprotocols {
            request = request.subprotocol(*p);
        }
        let bytes = replace_placeholder(data, accept_key(request.key().as_bytes()).as_bytes());
        let (response, len) = match parse_response(&bytes, &LIMITS) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => {
                assert!(bytes.len() <= LIMITS.max_head_bytes, "waiting for a head of {} bytes", bytes.len());
                continue;
            }
            Err(e) => {
                assert!(matches!(
                    e,
                    HandshakeError::Malformed(_) | HandshakeError::HeadTooLarge(_) | HandshakeError::TooManyHeaders(_)
                ));
                continue;
            }
        };
        assert!(len <= bytes.len());
        assert!(len <= LIMITS.max_head_bytes, "accepted a head of {len} bytes, limit {}", LIMITS.max_head_bytes);
        assert!(response.headers.len() <= LIMITS.max_headers);
        assert_eq!(parse_response(&bytes[..len], &LIMITS), Ok(Some((response.clone(), len))));
        assert_eq!(parse_response(&bytes[..len - 1], &LIMITS), Ok(None));

        let Ok(negotiated) = request.check_response(&response) else { continue };
        assert_eq!(response.status, 101);
        if let Some(p) = &negotiated.subprotocol {
            assert!(subprotocols.contains(&p.as_str()), "unrequested subprotocol {p:?} accepted");
        }
        match (&deflate, &negotiated.deflate) {
            (None, Some(params)) => panic!("deflate accepted without an offer: {params:?}"),
            (Some(config), Some(params)) => duplex_fuzz::check_client_params(config, params),
            _ => {}
        }
        duplex_fuzz::round_trip(negotiated.deflate);
    }
});
