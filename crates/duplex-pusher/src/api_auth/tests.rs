use super::*;

const DOCS: Credentials<'static> = Credentials {
    key: "278d425bdf160c739803",
    secret: "7ad3773142a6692b25b8",
};
/// The body, timestamp and signature of the REST API reference's worked
/// authentication example.
const BODY: &[u8] = br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
const TIMESTAMP: u64 = 1353088179;
const BODY_MD5: &str = "ec365a775a4cd0599faeb73354201b6f";
const SIGNATURE: &str = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";
const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

fn docs_query() -> String {
    format!(
        "auth_key=278d425bdf160c739803&auth_timestamp={TIMESTAMP}&auth_version=1.0\
         &body_md5={BODY_MD5}&auth_signature={SIGNATURE}"
    )
}

fn check(method: &str, path: &str, query: &str, body: &[u8], now: u64) -> Result<(), ApiAuthError> {
    ApiRequest::parse(method, path, query, body)?.verify(DOCS, now, DEFAULT_TIMESTAMP_WINDOW_SECS)
}

#[test]
fn the_documented_example_verifies() {
    assert_eq!(body_md5(BODY), BODY_MD5);
    let request = ApiRequest::parse("POST", "/apps/3/events", &docs_query(), BODY).unwrap();
    assert_eq!(
        request.string_to_sign(),
        format!(
            "POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp={TIMESTAMP}\
             &auth_version=1.0&body_md5={BODY_MD5}"
        )
    );
    assert_eq!(request.verify(DOCS, TIMESTAMP, 600), Ok(()));
    assert_eq!(request.auth_key(), DOCS.key);
    assert_eq!(request.timestamp(), TIMESTAMP);
}

#[test]
fn signed_query_reproduces_the_documented_example() {
    assert_eq!(
        ApiRequest::signed_query(DOCS, "post", "/apps/3/events", &[], BODY, TIMESTAMP),
        docs_query()
    );
}

#[test]
fn parameter_order_and_key_case_do_not_matter() {
    let shuffled = format!(
        "AUTH_SIGNATURE={SIGNATURE}&Body_MD5={BODY_MD5}&auth_version=1.0\
         &auth_timestamp={TIMESTAMP}&auth_key=278d425bdf160c739803"
    );
    assert_eq!(
        check("POST", "/apps/3/events", &shuffled, BODY, TIMESTAMP),
        Ok(())
    );
    // Uppercase hex from a client is fine too.
    let upper = docs_query().replace(SIGNATURE, &SIGNATURE.to_uppercase());
    assert_eq!(
        check("POST", "/apps/3/events", &upper, BODY, TIMESTAMP),
        Ok(())
    );
    assert_eq!(
        check("post", "/apps/3/events", &docs_query(), BODY, TIMESTAMP),
        Ok(())
    );
}

#[test]
fn values_are_signed_decoded() {
    // The REST reference: `Name`: `Something else` signs as
    // `name=Something else`, unescaped, whatever the wire encoding.
    let query = ApiRequest::signed_query(
        DOCS,
        "GET",
        "/apps/3/channels",
        &[
            ("Name", "Something else"),
            ("info", "user_count,subscription_count"),
        ],
        b"",
        TIMESTAMP,
    );
    assert!(query.contains("name=Something else&"));
    for wire in [
        query.replace(' ', "%20"),
        query.replace(' ', "+"),
        query.replace(',', "%2C").replace(' ', "%20"),
        query.replace(' ', "%20").replace("info=", "%69nfo="),
    ] {
        let request = ApiRequest::parse("GET", "/apps/3/channels", &wire, b"").unwrap();
        assert_eq!(request.param("name"), Some("Something else"));
        assert_eq!(request.param("info"), Some("user_count,subscription_count"));
        assert_eq!(request.verify(DOCS, TIMESTAMP, 600), Ok(()), "{wire}");
    }
}

#[test]
fn python_sdk_get_with_empty_body_md5_verifies() {
    // pusher-http-python sends body_md5 of the empty body on GET and signs it.
    let query = ApiRequest::signed_query(
        DOCS,
        "GET",
        "/apps/3/channels",
        &[("body_md5", EMPTY_MD5), ("filter_by_prefix", "presence-")],
        b"",
        TIMESTAMP,
    );
    assert!(query.contains(&format!("body_md5={EMPTY_MD5}")));
    assert_eq!(
        check("GET", "/apps/3/channels", &query, b"", TIMESTAMP),
        Ok(())
    );

    // A wrong body_md5 on an empty body is refused, even though signed.
    let wrong = ApiRequest::signed_query(
        DOCS,
        "GET",
        "/apps/3/channels",
        &[("body_md5", BODY_MD5)],
        b"",
        TIMESTAMP,
    );
    assert_eq!(
        check("GET", "/apps/3/channels", &wrong, b"", TIMESTAMP),
        Err(ApiAuthError::BodyMd5Mismatch)
    );
}

#[test]
fn node_sdk_get_without_body_md5_verifies() {
    let query = ApiRequest::signed_query(DOCS, "GET", "/apps/3/channels/c", &[], b"", TIMESTAMP);
    assert!(!query.contains("body_md5"));
    assert_eq!(
        check("GET", "/apps/3/channels/c", &query, b"", TIMESTAMP),
        Ok(())
    );
}

#[test]
fn tampering_is_detected() {
    let query = docs_query();
    let cases = [
        ("GET", "/apps/3/events", query.clone(), BODY),
        ("POST", "/apps/4/events", query.clone(), BODY),
        ("POST", "/apps/3/events", format!("{query}&extra=1"), BODY),
        (
            "POST",
            "/apps/3/events",
            query.replace("auth_timestamp=1353088179", "auth_timestamp=1353088180"),
            BODY,
        ),
    ];
    for (method, path, query, body) in cases {
        assert!(
            matches!(
                check(method, path, &query, body, TIMESTAMP),
                Err(ApiAuthError::InvalidSignature { .. })
            ),
            "{method} {path}?{query}"
        );
    }
    let other_secret = Credentials {
        secret: "not the secret",
        ..DOCS
    };
    let request = ApiRequest::parse("POST", "/apps/3/events", &query, BODY).unwrap();
    let error = request.verify(other_secret, TIMESTAMP, 600).unwrap_err();
    assert_eq!(error.status(), 401);
    assert!(error
        .to_string()
        .contains("POST\\n/apps/3/events\\nauth_key="));
}

#[test]
fn body_must_match_body_md5() {
    let mut body = BODY.to_vec();
    body[10] ^= 1;
    assert_eq!(
        check("POST", "/apps/3/events", &docs_query(), &body, TIMESTAMP),
        Err(ApiAuthError::BodyMd5Mismatch)
    );
    let without_md5 = ApiRequest::signed_query(DOCS, "POST", "/apps/3/events", &[], b"", TIMESTAMP);
    assert_eq!(
        check("POST", "/apps/3/events", &without_md5, BODY, TIMESTAMP),
        Err(ApiAuthError::MissingBodyMd5)
    );
}

#[test]
fn timestamp_window() {
    let q = docs_query();
    let at = |now| check("POST", "/apps/3/events", &q, BODY, now);
    assert_eq!(at(TIMESTAMP + 600), Ok(()));
    assert_eq!(at(TIMESTAMP - 600), Ok(()));
    assert_eq!(
        at(TIMESTAMP + 601),
        Err(ApiAuthError::TimestampExpired {
            timestamp: TIMESTAMP,
            now: TIMESTAMP + 601,
            skew: 601,
            window: 600
        })
    );
    assert!(matches!(
        at(TIMESTAMP - 601),
        Err(ApiAuthError::TimestampExpired { skew: 601, .. })
    ));
    let request = ApiRequest::parse("POST", "/apps/3/events", &q, BODY).unwrap();
    assert_eq!(
        request
            .verify(DOCS, TIMESTAMP + 30, 10)
            .unwrap_err()
            .status(),
        401
    );
    assert_eq!(request.verify(DOCS, u64::MAX, u64::MAX), Ok(()));
}

#[test]
fn unknown_key() {
    let other = Credentials {
        key: "another-key",
        ..DOCS
    };
    let request = ApiRequest::parse("POST", "/apps/3/events", &docs_query(), BODY).unwrap();
    let error = request.verify(other, TIMESTAMP, 600).unwrap_err();
    assert_eq!(error, ApiAuthError::UnknownKey);
    assert_eq!(error.status(), 401);
}

#[test]
fn missing_parameters() {
    let full = docs_query();
    for name in [
        "auth_signature",
        "auth_key",
        "auth_version",
        "auth_timestamp",
    ] {
        let query: Vec<&str> = full.split('&').filter(|p| !p.starts_with(name)).collect();
        let error =
            ApiRequest::parse("POST", "/apps/3/events", &query.join("&"), BODY).unwrap_err();
        assert_eq!(error, ApiAuthError::MissingParameter(name));
        assert_eq!(error.status(), 401);
    }
    assert_eq!(
        ApiRequest::parse("GET", "/", "", b"").unwrap_err(),
        ApiAuthError::MissingParameter("auth_signature")
    );
}

#[test]
fn malformed_requests_are_400() {
    let q = docs_query();
    let cases = [
        (format!("{q}&x=%zz"), "MalformedQuery"),
        (format!("{q}&x=%4"), "MalformedQuery"),
        (format!("{q}&x=%ff"), "MalformedQuery"),
        (format!("{q}&auth_key=again"), "DuplicateParameter"),
        (format!("{q}&AUTH_KEY=again"), "DuplicateParameter"),
        (
            q.replace("auth_version=1.0", "auth_version=2.0"),
            "UnsupportedAuthVersion",
        ),
        (
            q.replace("auth_timestamp=1353088179", "auth_timestamp=-5"),
            "InvalidTimestamp",
        ),
        (
            q.replace("auth_timestamp=1353088179", "auth_timestamp=1.5"),
            "InvalidTimestamp",
        ),
        (
            q.replace("auth_timestamp=1353088179", "auth_timestamp="),
            "InvalidTimestamp",
        ),
        (
            q.replace(
                "auth_timestamp=1353088179",
                "auth_timestamp=99999999999999999999999",
            ),
            "InvalidTimestamp",
        ),
    ];
    for (query, kind) in cases {
        let error = ApiRequest::parse("POST", "/apps/3/events", &query, BODY).unwrap_err();
        assert_eq!(error.status(), 400, "{query}");
        assert!(format!("{error:?}").starts_with(kind), "{error:?}");
    }
}

#[test]
fn empty_pairs_and_bare_keys_are_tolerated() {
    let query = ApiRequest::signed_query(DOCS, "GET", "/apps/3/channels", &[("flag", "")], b"", 1);
    let wire = format!("&{}&&", query.replace("flag=", "flag"));
    let request = ApiRequest::parse("GET", "/apps/3/channels", &wire, b"").unwrap();
    assert_eq!(request.param("flag"), Some(""));
    assert_eq!(request.param("missing"), None);
    assert_eq!(request.verify(DOCS, 1, 600), Ok(()));
}

#[test]
fn messages_read_well() {
    assert_eq!(
        ApiAuthError::TimestampExpired {
            timestamp: 1,
            now: 700,
            skew: 699,
            window: 600
        }
        .to_string(),
        "auth_timestamp 1 is 699 s from the server time 700; the limit is 600 s"
    );
    assert_eq!(
        ApiAuthError::MissingParameter("auth_key").to_string(),
        "missing `auth_key` query parameter"
    );
}
