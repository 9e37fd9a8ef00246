//! The demo pages hosted at `/` (filled in by the demos).

use std::sync::Arc;

use hyper::body::Incoming;

use super::http::{respond, Response};
use super::hub::Hub;

/// Serves a demo page or asset.
pub async fn handle(_hub: Arc<Hub>, req: http::Request<Incoming>) -> Response {
    match req.uri().path() {
        "/" => respond(200, "text/html; charset=utf-8", "<!doctype html><title>duplex</title><h1>duplex serve</h1>\n"),
        _ => respond(404, "text/plain", "not found\n"),
    }
}
