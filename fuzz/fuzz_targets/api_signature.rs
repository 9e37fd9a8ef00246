//! HTTP API signatures. The input is `METHOD \n PATH \n QUERY \n BODY`
//! (missing parts are empty; the first three are made UTF-8 lossily):
//!
//! 1. `ApiRequest::parse`, then `verify` with fixed credentials and time;
//! 2. a round trip: the query's `key=value` pairs, kept to the characters a
//!    raw (unescaped) signed query can carry, are signed with
//!    `ApiRequest::signed_query` and must then parse and verify, and fail
//!    with another secret or an expired timestamp.
#![no_main]

use duplex_pusher::api_auth::{ApiAuthError, ApiRequest};
use duplex_pusher::auth::Credentials;
use libfuzzer_sys::fuzz_target;

const CREDENTIALS: Credentials<'static> = Credentials {
    key: "278d425bdf160c739803",
    secret: "7ad3773142a6692b25b8",
};
/// The server's clock: the timestamp of the Pusher REST API documentation
/// example.
const NOW: u64 = 1_353_088_179;
const WINDOW: u64 = 600;
const RESERVED: [&str; 5] = ["auth_key", "auth_timestamp", "auth_version", "auth_signature", "body_md5"];

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == b'\n');
    let mut next = || parts.next().unwrap_or_default();
    let (method, path, query, body) = (next(), next(), next(), next());
    let method = String::from_utf8_lossy(method);
    let path = String::from_utf8_lossy(path);
    let query = String::from_utf8_lossy(query);

    // 1. Arbitrary requests.
    if let Ok(request) = ApiRequest::parse(&method, &path, &query, body) {
        let to_sign = request.string_to_sign();
        assert!(to_sign.starts_with(&format!("{}\n{path}\n", method.to_ascii_uppercase())));
        let _ = request.auth_key();
        let _ = request.param("info");
        match request.verify(CREDENTIALS, NOW, WINDOW) {
            Ok(()) => {
                assert_eq!(request.auth_key(), CREDENTIALS.key);
                assert!(request.timestamp().abs_diff(NOW) <= WINDOW);
            }
            Err(e) => assert_eq!(e.status(), 401, "{e:?}"),
        }
    }

    // 2. Round trip through signed_query.
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = key.to_ascii_lowercase();
        if key.contains(['%', '+', '=', '&']) || value.contains(['%', '+', '&']) {
            continue;
        }
        if RESERVED.contains(&key.as_str()) || params.iter().any(|(k, _)| *k == key) {
            continue;
        }
        params.push((key, value.to_string()));
    }
    let pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let timestamp = NOW - u64::from(body.first().copied().unwrap_or(0));
    let signed = ApiRequest::signed_query(CREDENTIALS, &method, &path, &pairs, body, timestamp);
    let request = ApiRequest::parse(&method, &path, &signed, body)
        .unwrap_or_else(|e| panic!("our signed query {signed:?} does not parse: {e}"));
    assert_eq!(request.timestamp(), timestamp);
    for (key, value) in &params {
        assert_eq!(request.param(key), Some(value.as_str()), "param {key:?} in {signed:?}");
    }
    request
        .verify(CREDENTIALS, NOW, WINDOW)
        .unwrap_or_else(|e| panic!("our signed query {signed:?} does not verify: {e}"));
    let other = Credentials { key: CREDENTIALS.key, secret: "another secret" };
    assert!(matches!(request.verify(other, NOW, WINDOW), Err(ApiAuthError::InvalidSignature { .. })));
    assert!(matches!(
        request.verify(CREDENTIALS, timestamp + WINDOW + 1, WINDOW),
        Err(ApiAuthError::TimestampExpired { .. })
    ));
});
