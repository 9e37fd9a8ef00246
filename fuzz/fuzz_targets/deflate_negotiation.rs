//! permessage-deflate negotiation on arbitrary `Sec-WebSocket-Extensions`
//! values. The input is `[client config] [server config] header lines...`
//! (lines split at `\n`, made UTF-8 lossily); each config byte picks
//! no-context-takeover flags and window bits (see `config`).
//!
//! - server: `negotiate_server` on the lines; an answer must be valid and
//!   acceptable to a client;
//! - client: `accept_client` on the lines; accepted parameters must respect
//!   the offer and work for a real connection;
//! - our own client offer must be accepted by our server, and both must end
//!   with the same parameters.
#![no_main]

use duplex_proto::deflate::DeflateConfig;
use libfuzzer_sys::fuzz_target;

/// Bits 0–2: server window bits 8 + n (8 and 16+ are clamped to 9..=15),
/// bits 3–5 client window bits likewise, bit 6 server_no_context_takeover,
/// bit 7 client_no_context_takeover.
fn config(byte: u8) -> DeflateConfig {
    DeflateConfig::default()
        .with_server_max_window_bits(8 + (byte & 7))
        .with_client_max_window_bits(8 + ((byte >> 3) & 7))
        .with_server_no_context_takeover(byte & 0x40 != 0)
        .with_client_no_context_takeover(byte & 0x80 != 0)
}

fuzz_target!(|data: &[u8]| {
    let client = config(data.first().copied().unwrap_or(0x3f));
    let server = config(data.get(1).copied().unwrap_or(0x3f));
    let text = String::from_utf8_lossy(data.get(2..).unwrap_or_default());
    let lines: Vec<&str> = text.split('\n').collect();

    // Arbitrary offers to our server.
    for config in [&server, &DeflateConfig::default()] {
        if let Some((params, answer)) = config.negotiate_server(&lines) {
            duplex_fuzz::check_server_params(config, &params, &answer);
            // Whoever made an offer the server took gets the same answer
            // again for the same lines.
            assert_eq!(config.negotiate_server(&lines), Some((params, answer)));
        }
    }

    // Arbitrary answers to our client.
    match client.accept_client(&lines) {
        Ok(Some(params)) => {
            duplex_fuzz::check_client_params(&client, &params);
            duplex_fuzz::round_trip(Some(params));
        }
        Ok(None) => assert!(lines.iter().all(|l| l.split(',').all(|e| e.trim_matches([' ', '\t']).is_empty())), "{lines:?}"),
        Err(_) => {}
    }

    // Our client and our server agree.
    let offer = client.client_offer();
    let (params, answer) = server
        .negotiate_server(&[&offer])
        .unwrap_or_else(|| panic!("our server declines our offer {offer:?}"));
    duplex_fuzz::check_server_params(&server, &params, &answer);
    let accepted = client
        .accept_client(&[&answer])
        .unwrap_or_else(|e| panic!("our client refuses our answer {answer:?} to {offer:?}: {e}"));
    assert_eq!(accepted, Some(params), "offer {offer:?}, answer {answer:?}");
    duplex_fuzz::check_client_params(&client, &params);
});
