//! The demo's pages and assets, embedded in the binary from the crate's `demo/` folder.
//!
//! Pages carry two placeholders the server fills in: `{{APP_KEY}}` (the
//! key of the first configured app, which the demo uses) and
//! `{{CLIENT_EVENTS}}` (`true` or `false`). Every response forbids inline
//! scripts with a Content-Security-Policy, as a second line of defence
//! behind the pages' rule of never putting user data into HTML.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;
use http_body_util::Full;

use duplex_pusher::app::AppConfig;

use super::super::http::Response;

/// One embedded file.
struct Asset {
    /// The URL path it is served at.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// Whether `{{APP_KEY}}` and `{{CLIENT_EVENTS}}` are filled in.
    template: bool,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every page and asset, from `demo/` (paths relative to this file).
const ASSETS: &[Asset] = &[
    page("/", include_bytes!("../../demo/index.html")),
    page(
        "/leaderboard",
        include_bytes!("../../demo/leaderboard.html"),
    ),
    page("/chat", include_bytes!("../../demo/chat.html")),
    file(
        "/assets/style.css",
        CSS,
        include_bytes!("../../demo/style.css"),
    ),
    file(
        "/assets/common.js",
        JS,
        include_bytes!("../../demo/common.js"),
    ),
    file(
        "/assets/leaderboard.js",
        JS,
        include_bytes!("../../demo/leaderboard.js"),
    ),
    file("/assets/chat.js", JS, include_bytes!("../../demo/chat.js")),
    file(
        "/assets/pusher.min.js",
        JS,
        include_bytes!("../../demo/vendor/pusher.min.js"),
    ),
];

const fn page(path: &'static str, body: &'static [u8]) -> Asset {
    Asset {
        path,
        content_type: HTML,
        body,
        template: true,
    }
}

const fn file(path: &'static str, content_type: &'static str, body: &'static [u8]) -> Asset {
    Asset {
        path,
        content_type,
        body,
        template: false,
    }
}

/// Scripts, styles and connections from this origin only; no inline code.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether `path` is a page or an asset.
pub fn exists(path: &str) -> bool {
    ASSETS.iter().any(|a| a.path == path)
}

/// Serves the page or asset at `path` (`None` if there is none), with the
/// demo app's key filled in; 304 when `if_none_match` is its current ETag.
pub fn serve(path: &str, app: Option<&AppConfig>, if_none_match: Option<&str>) -> Option<Response> {
    let asset = ASSETS.iter().find(|a| a.path == path)?;
    let (body, etag) = if asset.template {
        let body = fill(asset.body, app);
        let etag = etag_of(&body);
        (Bytes::from(body), etag)
    } else {
        (Bytes::from_static(asset.body), static_etag(asset))
    };
    let not_modified = if_none_match.is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    let builder = http::Response::builder()
        .header(http::header::ETAG, &etag)
        .header(http::header::CACHE_CONTROL, "no-cache");
    let response = if not_modified {
        builder.status(304).body(Full::new(Bytes::new()))
    } else {
        builder
            .status(200)
            .header(http::header::CONTENT_TYPE, asset.content_type)
            .body(Full::new(body))
    };
    let mut response = response.unwrap_or_else(|_| http::Response::new(Full::new(Bytes::new())));
    secure(response.headers_mut());
    Some(response)
}

/// Adds the security headers every demo response carries.
pub fn secure(headers: &mut http::HeaderMap) {
    use http::header::{
        HeaderValue, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    };
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
}

/// A page with the app's key and switches filled in. Keys are restricted to
/// `A-Z a-z 0-9 - _ .` by app validation, so they need no escaping in HTML.
fn fill(template: &[u8], app: Option<&AppConfig>) -> Vec<u8> {
    let text = String::from_utf8_lossy(template);
    let key = app.map_or("", |a| a.key.as_str());
    let key: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let client_events = app.is_some_and(|a| a.client_events);
    text.replace("{{APP_KEY}}", &key)
        .replace(
            "{{CLIENT_EVENTS}}",
            if client_events { "true" } else { "false" },
        )
        .into_bytes()
}

fn static_etag(asset: &Asset) -> String {
    static ETAGS: OnceLock<HashMap<&'static str, String>> = OnceLock::new();
    let etags = ETAGS.get_or_init(|| ASSETS.iter().map(|a| (a.path, etag_of(a.body))).collect());
    etags
        .get(asset.path)
        .cloned()
        .unwrap_or_else(|| etag_of(asset.body))
}

/// A strong ETag: the FNV-1a hash of the body.
fn etag_of(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_get_the_app_key_and_switches() {
        let mut app = AppConfig::new("1", "my-key", "s3cr3t-Value");
        app.client_events = true;
        let response = serve("/chat", Some(&app), None).unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"));
        let page = String::from_utf8(fill(ASSETS[2].body, Some(&app))).unwrap();
        assert!(page.contains(r#"content="my-key""#), "{page}");
        assert!(page.contains(r#"content="true""#));
        assert!(!page.contains("{{"), "every placeholder is filled");
        assert!(
            !page.contains("s3cr3t-Value"),
            "the secret never reaches a page"
        );
    }

    #[test]
    fn every_page_links_only_embedded_assets() {
        for asset in ASSETS.iter().filter(|a| a.template) {
            let page = String::from_utf8_lossy(asset.body);
            for link in page
                .split(['"', '\''])
                .filter(|s| s.starts_with("/assets/"))
            {
                assert!(
                    exists(link),
                    "{} links {link}, which is not embedded",
                    asset.path
                );
            }
            assert!(
                !page.contains("<script>"),
                "{}: no inline scripts (the CSP forbids them)",
                asset.path
            );
            assert!(
                !page.contains("style=\""),
                "{}: no inline styles (the CSP forbids them)",
                asset.path
            );
        }
    }

    #[test]
    fn the_vendored_pusher_js_keeps_its_license_header() {
        let js = String::from_utf8_lossy(
            ASSETS
                .iter()
                .find(|a| a.path == "/assets/pusher.min.js")
                .unwrap()
                .body,
        );
        assert!(js.contains("Pusher JavaScript Library v8.6.0"));
        assert!(js.contains("MIT"));
    }

    #[test]
    fn etags_answer_conditional_requests() {
        let first = serve("/assets/style.css", None, None).unwrap();
        let etag = first.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(
            serve("/assets/style.css", None, Some(&etag))
                .unwrap()
                .status(),
            304
        );
        assert_eq!(
            serve("/assets/style.css", None, Some("\"other\", W/\"x\""))
                .unwrap()
                .status(),
            200
        );
        assert!(serve("/nope", None, None).is_none());
        assert_eq!(etag_of(b""), "\"cbf29ce484222325\"");
    }
}
