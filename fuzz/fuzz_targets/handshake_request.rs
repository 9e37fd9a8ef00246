//! An opening request as a server reads it: `parse_request` with small
//! limits, then `Request::validate`, permessage-deflate negotiation and the
//! `101` answer, which our own response parser must read back.
#![no_main]

use duplex_proto::deflate::DeflateConfig;
use duplex_proto::handshake::{accept_key, parse_request, parse_response, Limits, ServerHandshake};
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
    max_head_bytes: 1024,
    max_headers: 16,
};

fuzz_target!(|data: &[u8]| {
    let (request, len) = match parse_request(data, &LIMITS) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            // An incomplete head is only waited for while within the limit.
            assert!(data.len() <= LIMITS.max_head_bytes, "waiting for a head of {} bytes", data.len());
            return;
        }
        Err(e) => {
            duplex_fuzz::check_refusal(&e);
            return;
        }
    };
    assert!(len <= data.len() && len <= LIMITS.max_head_bytes, "head of {len} bytes");
    assert!(request.headers.len() <= LIMITS.max_headers);
    // The same head, alone, parses the same; any shorter prefix is incomplete.
    assert_eq!(parse_request(&data[..len], &LIMITS), Ok(Some((request.clone(), len))));
    for cut in [len - 1, usize::from(data[0]) % len] {
        assert_eq!(parse_request(&data[..cut], &LIMITS), Ok(None), "prefix of {cut} bytes");
    }
    let _ = request.header("origin");
    let subprotocol = request.subprotocols().next();

    let handshake = match request.validate() {
        Ok(handshake) => handshake,
        Err(e) => {
            duplex_fuzz::check_refusal(&e);
            return;
        }
    };
    let key = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .map(|h| h.value.trim_ascii())
        .expect("a valid request has a key");
    assert_eq!(handshake.accept_value(), accept_key(key));

    let configs = [
        DeflateConfig::default(),
        DeflateConfig::default()
            .with_server_no_context_takeover(true)
            .with_client_no_context_takeover(true)
            .with_server_max_window_bits(9)
            .with_client_max_window_bits(10),
    ];
    for config in &configs {
        let negotiated = ServerHandshake::negotiate_deflate(&request, Some(config));
        let answer = negotiated.as_ref().map(|(params, answer)| {
            duplex_fuzz::check_server_params(config, params, answer);
            answer.as_str()
        });
        let extra = [("X-Fuzz".to_string(), "1".to_string())];
        let bytes = handshake
            .accept(subprotocol, answer, &extra)
            .expect("answering a parsed request cannot fail");
        let (response, response_len) = parse_response(&bytes, &Limits::default())
            .expect("our 101 must parse")
            .expect("our 101 is complete");
        assert_eq!(response_len, bytes.len());
        assert_eq!(response.status, 101);
        assert_eq!(response.header("sec-websocket-accept"), Some(handshake.accept_value()));
        assert_eq!(response.header("sec-websocket-protocol"), subprotocol);
        assert_eq!(response.header("sec-websocket-extensions"), answer);
        assert_eq!(response.header("x-fuzz"), Some("1"));
        // The connection the server would now run works with those parameters.
        duplex_fuzz::round_trip(negotiated.map(|(params, _)| params));
    }
});
