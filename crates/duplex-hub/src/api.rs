//! The HTTP API (Pusher's REST API): publishing events, querying channels
//! and presence members, and terminating a user's connections.
//!
//! Every request is signed (see [`duplex_pusher::api_auth`]); a bad signature, key
//! or stale timestamp is answered with 401, an unknown app with 404, a
//! disabled one with 403, a malformed request with 400, and a body or event
//! over the limits with 413. Errors are JSON: `{"error": "…"}`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use duplex_pusher::api_auth::ApiRequest;
use duplex_pusher::auth::SocketId;
use duplex_pusher::channel::{self, ChannelKind};
use duplex_pusher::protocol::ServerMessage;

use super::app_state::{AppState, ChannelStats};
use super::http::{json, json_error, Response};
use super::hub::Hub;

/// Handles a request under `/apps/` (or pusher-http-python's
/// `/users/{id}/terminate_connections`).
pub async fn handle(hub: Arc<Hub>, req: http::Request<Incoming>) -> Response {
    let response = handle_inner(&hub, req).await;
    if response.status().is_client_error() {
        hub.metrics.api_errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

async fn handle_inner(hub: &Hub, req: http::Request<Incoming>) -> Response {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, hub.config.max_request_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return json_error(
                413,
                &format!(
                    "request body is larger than {} bytes",
                    hub.config.max_request_body_bytes
                ),
            )
        }
        Err(e) => return json_error(400, &format!("could not read the request body: {e}")),
    };
    let path = parts.uri.path();
    let query = parts.uri.query().unwrap_or("");
    let method = parts.method.as_str();
    let request = match ApiRequest::parse(method, path, query, &body) {
        Ok(request) => request,
        Err(e) => return json_error(e.status(), &e.to_string()),
    };
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    // pusher-http-python posts terminate_connections without the /apps/{id}
    // prefix; the auth_key names the app then.
    let (app, route) = match segments.as_slice() {
        ["apps", id, rest @ ..] => (hub.app_by_id(id), rest),
        ["users", ..] => (hub.app_by_key(request.auth_key()), &segments[..]),
        _ => (None, &segments[..]),
    };
    let Some(app) = app else {
        return json_error(404, "unknown app");
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if let Err(e) = request.verify(
        app.config.credentials(),
        now,
        hub.config.api_timestamp_window,
    ) {
        return json_error(e.status(), &e.to_string());
    }
    if !app.config.enabled {
        return json_error(403, "application disabled");
    }
    match (method, route) {
        ("POST", ["events"]) => post_events(hub, app, &body).await,
        ("POST", ["batch_events"]) => post_batch(hub, app, &body).await,
        ("POST", ["channels", channel, "events"]) => post_legacy(hub, app, channel, &body).await,
        ("GET", ["channels"]) => get_channels(hub, app, &request).await,
        ("GET", ["channels", channel]) => get_channel(hub, app, channel, &request).await,
        ("GET", ["channels", channel, "users"]) => get_users(hub, app, channel).await,
        ("POST", ["users", user_id, "terminate_connections"]) => {
            hub.adapter.terminate_user(app, user_id).await;
            json(200, "{}")
        }
        _ => json_error(404, "no such API endpoint"),
    }
}

/// An event to publish, as `POST /events` and each `batch` item carry it.
#[derive(Debug, Deserialize)]
struct EventBody {
    name: Option<String>,
    data: Option<Value>,
    channels: Option<Vec<String>>,
    channel: Option<String>,
    socket_id: Option<String>,
    info: Option<String>,
}

/// A validated event, ready to publish.
struct Event {
    name: String,
    data: String,
    channels: Vec<String>,
    except: Option<SocketId>,
    info: Info,
}

#[derive(Default, Clone, Copy)]
struct Info {
    user_count: bool,
    subscription_count: bool,
}

impl Info {
    fn parse(info: Option<&str>) -> Result<Self, String> {
        let mut out = Info::default();
        for attribute in info
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match attribute {
                "user_count" => out.user_count = true,
                "subscription_count" => out.subscription_count = true,
                other => return Err(format!("unknown info attribute {other:?}")),
            }
        }
        Ok(out)
    }

    fn any(self) -> bool {
        self.user_count || self.subscription_count
    }

    /// The requested counts of a channel, as a JSON object.
    fn render(self, kind: ChannelKind, stats: ChannelStats) -> Value {
        let mut out = Map::new();
        if self.user_count && kind.is_presence() {
            out.insert("user_count".into(), stats.user_count.unwrap_or(0).into());
        }
        if self.subscription_count {
            out.insert("subscription_count".into(), stats.subscription_count.into());
        }
        Value::Object(out)
    }
}

/// An error answer: the status and the message.
type Refusal = (u16, String);

fn validate_event(app: &AppState, body: EventBody) -> Result<Event, Refusal> {
    let limits = &app.config.limits;
    let bad = |message: String| (400, message);
    let name = body
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| bad("missing event `name`".into()))?;
    if name.len() > limits.max_event_name_length {
        return Err(bad(format!(
            "event name is longer than {} bytes",
            limits.max_event_name_length
        )));
    }
    let data = match body.data {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => return Err(bad("missing event `data`".into())),
        Some(other) => other.to_string(),
    };
    if data.len() > limits.max_event_payload_bytes {
        return Err((
            413,
            format!(
                "event data is larger than {} bytes",
                limits.max_event_payload_bytes
            ),
        ));
    }
    let channels = match (body.channels, body.channel) {
        (Some(channels), None) => channels,
        (None, Some(channel)) => vec![channel],
        (Some(_), Some(_)) => {
            return Err(bad("give either `channels` or `channel`, not both".into()))
        }
        (None, None) => return Err(bad("missing `channels`".into())),
    };
    if channels.is_empty() {
        return Err(bad("`channels` is empty".into()));
    }
    if channels.len() > limits.max_channels_per_publish {
        return Err(bad(format!(
            "more than {} channels in one event",
            limits.max_channels_per_publish
        )));
    }
    for channel in &channels {
        let kind = channel::validate_name(channel, limits.max_channel_name_length)
            .map_err(|e| bad(format!("{channel:?}: {e}")))?;
        if kind.is_encrypted() && channels.len() > 1 {
            return Err(bad(
                "an event on an encrypted channel cannot target other channels".into(),
            ));
        }
    }
    let except = match body.socket_id {
        Some(id) => Some(SocketId::parse(&id).map_err(|e| bad(e.to_string()))?),
        None => None,
    };
    let info = Info::parse(body.info.as_deref()).map_err(bad)?;
    Ok(Event {
        name,
        data,
        channels,
        except,
        info,
    })
}

async fn publish(hub: &Hub, app: &AppState, event: &Event) -> Value {
    hub.metrics.api_events.fetch_add(1, Ordering::Relaxed);
    app.counters.api_events.fetch_add(1, Ordering::Relaxed);
    let mut info = Map::new();
    for channel in &event.channels {
        let frame = ServerMessage::ChannelEvent {
            event: &event.name,
            channel,
            data: Some(&event.data),
            user_id: None,
        }
        .encode();
        hub.adapter
            .publish(app, channel, &frame, event.except.as_ref())
            .await;
        if event.info.any() {
            // The event is delivered even when the cluster's counts cannot
            // be read; the info then shows zeros.
            let stats = hub
                .adapter
                .channel_stats(app, channel)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            info.insert(
                channel.clone(),
                event.info.render(ChannelKind::of(channel), stats),
            );
        }
    }
    if event.info.any() {
        json!({ "channels": info })
    } else {
        json!({})
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| (400, format!("invalid JSON body: {e}")))
}

fn answer(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(value) => json(200, value.to_string()),
        Err((status, message)) => json_error(status, &message),
    }
}

async fn post_events(hub: &Hub, app: &AppState, body: &Bytes) -> Response {
    match parse_json(body).and_then(|b| validate_event(app, b)) {
        Ok(event) => answer(Ok(publish(hub, app, &event).await)),
        Err(refusal) => answer(Err(refusal)),
    }
}

async fn post_legacy(hub: &Hub, app: &AppState, channel: &str, body: &Bytes) -> Response {
    let event = parse_json::<EventBody>(body).and_then(|mut b| {
        b.channel = Some(channel.to_string());
        b.channels = None;
        validate_event(app, b)
    });
    match event {
        Ok(event) => answer(Ok(publish(hub, app, &event).await)),
        Err(refusal) => answer(Err(refusal)),
    }
}

async fn post_batch(hub: &Hub, app: &AppState, body: &Bytes) -> Response {
    #[derive(Deserialize)]
    struct Batch {
        batch: Vec<EventBody>,
    }
    let events = parse_json::<Batch>(body).and_then(|batch| {
        let max = app.config.limits.max_batch_size;
        if batch.batch.len() > max {
            return Err((400, format!("more than {max} events in one batch")));
        }
        batch
            .batch
            .into_iter()
            .map(|b| validate_event(app, b))
            .collect::<Result<Vec<_>, _>>()
    });
    let events = match events {
        Ok(events) => events,
        Err(refusal) => return answer(Err(refusal)),
    };
    let with_info = events.iter().any(|e| e.info.any());
    let mut results = Vec::with_capacity(events.len());
    for event in &events {
        let result = publish(hub, app, event).await;
        results.push(match event.channels.first() {
            Some(channel) if event.info.any() => result["channels"][channel].clone(),
            _ => json!({}),
        });
    }
    answer(Ok(if with_info {
        json!({ "batch": results })
    } else {
        json!({})
    }))
}

async fn get_channels(hub: &Hub, app: &AppState, request: &ApiRequest<'_>) -> Response {
    let prefix = request.param("filter_by_prefix").unwrap_or("");
    let info = match Info::parse(request.param("info")) {
        Ok(info) => info,
        Err(e) => return json_error(400, &e),
    };
    if info.user_count && !prefix.starts_with("presence-") {
        return json_error(400, "info=user_count requires filter_by_prefix=presence-");
    }
    let found = match hub.adapter.channels_with_prefix(app, prefix).await {
        Ok(found) => found,
        Err(e) => return unavailable(e),
    };
    let mut channels = Map::new();
    for (name, stats) in found {
        let kind = ChannelKind::of(&name);
        channels.insert(name, info.render(kind, stats));
    }
    json(200, json!({ "channels": channels }).to_string())
}

async fn get_channel(
    hub: &Hub,
    app: &AppState,
    channel: &str,
    request: &ApiRequest<'_>,
) -> Response {
    let kind = match channel::validate_name(channel, app.config.limits.max_channel_name_length) {
        Ok(kind) => kind,
        Err(e) => return json_error(400, &e.to_string()),
    };
    let info = match Info::parse(request.param("info")) {
        Ok(info) => info,
        Err(e) => return json_error(400, &e),
    };
    if info.user_count && !kind.is_presence() {
        return json_error(
            400,
            "info=user_count is only available for presence channels",
        );
    }
    let stats = match hub.adapter.channel_stats(app, channel).await {
        Ok(stats) => stats,
        Err(e) => return unavailable(e),
    };
    let mut body = info.render(kind, stats.unwrap_or_default());
    if let Value::Object(map) = &mut body {
        map.insert("occupied".into(), stats.is_some().into());
    }
    json(200, body.to_string())
}

async fn get_users(hub: &Hub, app: &AppState, channel: &str) -> Response {
    if !ChannelKind::of(channel).is_presence() {
        return json_error(400, "users can only be listed for presence channels");
    }
    let users = match hub.adapter.presence_users(app, channel).await {
        Ok(users) => users,
        Err(e) => return unavailable(e),
    };
    let users: Vec<Value> = users
        .unwrap_or_default()
        .into_iter()
        .map(|id| json!({ "id": id }))
        .collect();
    json(200, json!({ "users": users }).to_string())
}

/// 503: the cluster state cannot be read (Redis is unreachable), so a
/// cluster-wide answer cannot be given.
fn unavailable(e: super::cluster::Unavailable) -> Response {
    json_error(503, &e.to_string())
}

/// Decodes `%XX` escapes in a path segment (invalid escapes are kept as is).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("presence-a%40b"), "presence-a@b");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn info_attributes() {
        let info = Info::parse(Some("user_count, subscription_count")).unwrap();
        assert!(info.user_count && info.subscription_count);
        assert!(Info::parse(Some("members")).is_err());
    }
}
