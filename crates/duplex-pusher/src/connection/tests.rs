use std::time::{Duration, Instant};

use super::*;
use crate::auth::{channel_token, user_token};

const KEY: &str = "278d425bdf160c739803";
const SECRET: &str = "7ad3773142a6692b25b8";

fn app() -> AppConfig {
    let mut app = AppConfig::new("1", KEY, SECRET);
    app.client_events = true;
    app
}

fn socket() -> SocketId {
    SocketId::parse("1234.1234").unwrap()
}

fn new_conn(app: &AppConfig, now: Instant) -> Connection {
    Connection::new(socket(), Settings::default(), app, now)
}

fn text(conn: &mut Connection, app: &AppConfig, text: &str, now: Instant) -> Action {
    conn.handle_frame(app, Incoming::Text(text), now)
}

fn sent(action: Action) -> String {
    match action {
        Action::Send(encoded) => encoded.as_str().to_string(),
        other => panic!("expected a message to send, got {other:?}"),
    }
}

fn closed(action: Action) -> Close {
    match action {
        Action::Close(close) => close,
        other => panic!("expected a close, got {other:?}"),
    }
}

/// Subscribes through the rules and confirms, as a server would.
fn join(conn: &mut Connection, app: &AppConfig, subscribe: &str, now: Instant) -> Subscription {
    match text(conn, app, subscribe, now) {
        Action::Subscribe(subscription) => {
            let user_id = subscription.member.as_ref().map(|m| m.user_id.clone());
            conn.subscribed(subscription.channel.clone(), user_id);
            subscription
        }
        other => panic!("expected a subscription, got {other:?}"),
    }
}

fn subscribe_json(channel: &str, auth: Option<&str>, channel_data: Option<&str>) -> String {
    let mut data = serde_json::json!({ "channel": channel });
    if let Some(auth) = auth {
        data["auth"] = auth.into();
    }
    if let Some(channel_data) = channel_data {
        data["channel_data"] = channel_data.into();
    }
    serde_json::json!({ "event": "pusher:subscribe", "data": data }).to_string()
}

#[test]
fn admission_checks_the_app_the_origin_and_the_protocol() {
    let mut app = app();
    let v7 = ConnectRequest {
        protocol: Some("7"),
        origin: None,
    };
    assert_eq!(admit(Some(&app), &v7), Ok(()));
    assert_eq!(admit(None, &v7).unwrap_err().code, 4001);
    let code = |request: ConnectRequest<'_>| admit(Some(&app), &request).unwrap_err().code;
    assert_eq!(code(ConnectRequest::default()), 4008);
    assert_eq!(
        code(ConnectRequest {
            protocol: Some("3"),
            origin: None
        }),
        4007
    );
    assert_eq!(
        code(ConnectRequest {
            protocol: Some("seven"),
            origin: None
        }),
        4007
    );
    app.allowed_origins = vec!["https://good.example".into()];
    let from = |origin| ConnectRequest {
        protocol: Some("7"),
        origin,
    };
    assert_eq!(
        admit(Some(&app), &from(Some("https://good.example"))),
        Ok(())
    );
    assert_eq!(
        admit(Some(&app), &from(Some("https://evil.example")))
            .unwrap_err()
            .code,
        4009
    );
    app.enabled = false;
    assert_eq!(admit(Some(&app), &v7).unwrap_err().code, 4003);
}

#[test]
fn a_refusal_encodes_as_a_pusher_error_with_its_code() {
    let error = Close::over_quota().encode();
    assert_eq!(
        error.as_str(),
        r#"{"event":"pusher:error","data":{"message":"Application is over connection quota","code":4004}}"#
    );
}

#[test]
fn established_tells_the_socket_id_and_the_activity_timeout() {
    let conn = new_conn(&app(), Instant::now());
    assert_eq!(
        conn.established().as_str(),
        r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1234.1234\",\"activity_timeout\":120}"}"#
    );
}

#[test]
fn ping_gets_pong_and_bad_json_gets_4200_without_closing() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let pong = sent(text(
        &mut conn,
        &app,
        r#"{"event":"pusher:ping","data":{}}"#,
        now,
    ));
    assert!(pong.contains("pusher:pong"), "{pong}");
    let error = sent(text(&mut conn, &app, "not json", now));
    assert!(
        error.contains("pusher:error") && error.contains("4200"),
        "{error}"
    );
    assert!(matches!(
        text(&mut conn, &app, r#"{"event":"pusher:pong","data":{}}"#, now),
        Action::None
    ));
}

#[test]
fn binary_frames_close_with_1003() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    assert_eq!(
        closed(conn.handle_frame(&app, Incoming::Binary, now)).code,
        1003
    );
}

#[test]
fn public_private_and_presence_subscriptions() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let public = join(&mut conn, &app, &subscribe_json("news", None, None), now);
    assert_eq!(public.kind, ChannelKind::Public);

    // A private channel without a token, then with a wrong one, then a good one.
    let refused = sent(text(
        &mut conn,
        &app,
        &subscribe_json("private-a", None, None),
        now,
    ));
    assert!(refused.contains("pusher:subscription_error") && refused.contains("AuthError"));
    let wrong = format!("{KEY}:{}", "0".repeat(64));
    let refused = sent(text(
        &mut conn,
        &app,
        &subscribe_json("private-a", Some(&wrong), None),
        now,
    ));
    assert!(refused.contains("401"), "{refused}");
    let token = channel_token(app.credentials(), &socket(), "private-a", None);
    join(
        &mut conn,
        &app,
        &subscribe_json("private-a", Some(&token), None),
        now,
    );

    // Presence: the member comes from the signed channel_data.
    let data = r#"{"user_id":"ann","user_info":{"name":"Ann"}}"#;
    let token = channel_token(app.credentials(), &socket(), "presence-room", Some(data));
    let presence = join(
        &mut conn,
        &app,
        &subscribe_json("presence-room", Some(&token), Some(data)),
        now,
    );
    assert_eq!(presence.member.unwrap().user_id, "ann");

    let mut channels: Vec<_> = conn.channels().collect();
    channels.sort();
    assert_eq!(channels, ["news", "presence-room", "private-a"]);
}

#[test]
fn invalid_names_and_the_channel_limit() {
    let app = app();
    let now = Instant::now();
    let settings = Settings {
        max_channels: 2,
        ..Settings::default()
    };
    let mut conn = Connection::new(socket(), settings, &app, now);
    let bad = sent(text(
        &mut conn,
        &app,
        &subscribe_json("bad name!", None, None),
        now,
    ));
    assert!(
        bad.contains("InvalidChannel") && bad.contains("400"),
        "{bad}"
    );
    join(&mut conn, &app, &subscribe_json("a", None, None), now);
    join(&mut conn, &app, &subscribe_json("b", None, None), now);
    let full = sent(text(&mut conn, &app, &subscribe_json("c", None, None), now));
    assert!(
        full.contains("LimitReached") && full.contains("403"),
        "{full}"
    );
    // Subscribing again to a channel it has is not over the limit.
    assert!(matches!(
        text(&mut conn, &app, &subscribe_json("a", None, None), now),
        Action::Subscribe(_)
    ));
}

#[test]
fn unsubscribe_only_from_a_subscribed_channel() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    join(&mut conn, &app, &subscribe_json("news", None, None), now);
    let unsubscribe = r#"{"event":"pusher:unsubscribe","data":{"channel":"news"}}"#;
    assert!(matches!(
        text(&mut conn, &app, unsubscribe, now),
        Action::Unsubscribe(channel) if channel == "news"
    ));
    assert!(matches!(
        text(&mut conn, &app, unsubscribe, now),
        Action::None
    ));
    assert!(!conn.is_subscribed("news"));
}

#[test]
fn a_subscription_the_server_refuses_is_not_kept() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let Action::Subscribe(subscription) =
        text(&mut conn, &app, &subscribe_json("news", None, None), now)
    else {
        panic!("a public channel needs no token")
    };
    let refusal = conn.subscription_refused(&subscription.channel, "the channel is full");
    assert_eq!(
        refusal.as_str(),
        r#"{"event":"pusher:subscription_error","data":"{\"type\":\"LimitReached\",\"error\":\"the channel is full\",\"status\":403}","channel":"news"}"#
    );
    assert!(!conn.is_subscribed("news"));
}

#[test]
fn signin_then_the_users_own_channel() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let own = subscribe_json("#server-to-user-ann", None, None);
    let refused = sent(text(&mut conn, &app, &own, now));
    assert!(refused.contains("AuthError"), "{refused}");

    let user_data = r#"{"id":"ann"}"#;
    let signin = serde_json::json!({
        "event": "pusher:signin",
        "data": { "auth": user_token(app.credentials(), &socket(), user_data), "user_data": user_data },
    })
    .to_string();
    let Action::SignIn {
        user,
        previous,
        reply,
    } = text(&mut conn, &app, &signin, now)
    else {
        panic!("sign-in refused")
    };
    assert_eq!(user.id, "ann");
    assert!(previous.is_none());
    assert!(reply.as_str().contains("pusher:signin_success"));
    assert_eq!(conn.user().unwrap().id, "ann");
    join(&mut conn, &app, &own, now);
    let others = sent(text(
        &mut conn,
        &app,
        &subscribe_json("#server-to-user-bob", None, None),
        now,
    ));
    assert!(others.contains("AuthError"));
}

#[test]
fn a_bad_signin_closes_with_4009() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let signin = r#"{"event":"pusher:signin","data":{"auth":"k:00","user_data":"{\"id\":\"x\"}"}}"#;
    assert_eq!(closed(text(&mut conn, &app, signin, now)).code, 4009);
}

#[test]
fn client_events_checks_in_order() {
    let mut app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let event = |channel: &str| {
        format!(r#"{{"event":"client-typing","channel":"{channel}","data":"{{\"x\":1}}"}}"#)
    };
    // Not subscribed yet.
    let refused = sent(text(&mut conn, &app, &event("private-a"), now));
    assert!(refused.contains("Subscribe to private-a"), "{refused}");
    // Public channels never allow them.
    join(&mut conn, &app, &subscribe_json("news", None, None), now);
    let refused = sent(text(&mut conn, &app, &event("news"), now));
    assert!(
        refused.contains("only allowed on private and presence"),
        "{refused}"
    );

    let token = channel_token(app.credentials(), &socket(), "private-a", None);
    join(
        &mut conn,
        &app,
        &subscribe_json("private-a", Some(&token), None),
        now,
    );
    let Action::Publish(published) = text(&mut conn, &app, &event("private-a"), now) else {
        panic!("client event refused")
    };
    assert_eq!(
        (
            published.channel.as_str(),
            published.event.as_str(),
            published.user_id
        ),
        ("private-a", "client-typing", None)
    );
    assert_eq!(
        published.encoded.as_str(),
        r#"{"event":"client-typing","data":"{\"x\":1}","channel":"private-a"}"#
    );

    // The app's rate: 10 per second by default, one was used.
    let allowed = (0..20)
        .filter(|_| {
            matches!(
                text(&mut conn, &app, &event("private-a"), now),
                Action::Publish(_)
            )
        })
        .count();
    assert_eq!(allowed, 9);
    let later = now + Duration::from_secs(1);
    assert!(matches!(
        text(&mut conn, &app, &event("private-a"), later),
        Action::Publish(_)
    ));

    app.client_events = false;
    let refused = sent(text(&mut conn, &app, &event("private-a"), later));
    assert!(refused.contains("not enabled"), "{refused}");
}

#[test]
fn client_events_on_presence_carry_the_senders_user_id() {
    let app = app();
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let data = r#"{"user_id":"ann"}"#;
    let token = channel_token(app.credentials(), &socket(), "presence-room", Some(data));
    join(
        &mut conn,
        &app,
        &subscribe_json("presence-room", Some(&token), Some(data)),
        now,
    );
    let event = r#"{"event":"client-hi","channel":"presence-room","data":"{}"}"#;
    let Action::Publish(published) = text(&mut conn, &app, event, now) else {
        panic!()
    };
    assert_eq!(published.user_id.as_deref(), Some("ann"));
    assert!(published.encoded.as_str().contains(r#""user_id":"ann""#));
}

#[test]
fn oversized_client_events_are_refused() {
    let mut app = app();
    app.limits.max_event_payload_bytes = 4;
    let now = Instant::now();
    let mut conn = new_conn(&app, now);
    let token = channel_token(app.credentials(), &socket(), "private-a", None);
    join(
        &mut conn,
        &app,
        &subscribe_json("private-a", Some(&token), None),
        now,
    );
    let event = r#"{"event":"client-big","channel":"private-a","data":"12345"}"#;
    assert!(sent(text(&mut conn, &app, event, now)).contains("larger than 4 bytes"));
}

#[test]
fn liveness_pings_a_quiet_client_then_closes_with_4201() {
    let app = app();
    let start = Instant::now();
    let mut conn = new_conn(&app, start);
    let idle = start + Duration::from_secs(120);
    assert_eq!(conn.poll_timeout(), idle);
    assert!(matches!(
        conn.handle_timeout(idle - Duration::from_secs(1)),
        Action::None
    ));
    assert!(sent(conn.handle_timeout(idle)).contains("pusher:ping"));
    assert_eq!(conn.poll_timeout(), idle + Duration::from_secs(30));
    let close = closed(conn.handle_timeout(conn.poll_timeout()));
    assert_eq!(close.code, 4201);
}

#[test]
fn any_frame_answers_a_ping_and_moves_the_deadline() {
    let app = app();
    let start = Instant::now();
    let mut conn = new_conn(&app, start);
    let idle = start + Duration::from_secs(120);
    let _ = conn.handle_timeout(idle);
    let later = idle + Duration::from_secs(5);
    assert!(matches!(
        conn.handle_frame(&app, Incoming::Control, later),
        Action::None
    ));
    assert_eq!(conn.poll_timeout(), later + Duration::from_secs(120));
    assert!(matches!(
        conn.handle_timeout(later + Duration::from_secs(30)),
        Action::None
    ));
}

#[test]
fn an_app_that_requires_signin_closes_the_unsigned() {
    let mut app = app();
    app.user_authentication_required = true;
    let start = Instant::now();
    let mut conn = new_conn(&app, start);
    let deadline = start + Duration::from_secs(30);
    assert_eq!(conn.poll_timeout(), deadline);
    let close = closed(conn.handle_timeout(deadline));
    assert_eq!(close.code, 4009);

    // Signed in before the deadline: only liveness remains.
    let mut conn = new_conn(&app, start);
    let user_data = r#"{"id":"ann"}"#;
    let signin = serde_json::json!({
        "event": "pusher:signin",
        "data": { "auth": user_token(app.credentials(), &socket(), user_data), "user_data": user_data },
    })
    .to_string();
    assert!(matches!(
        text(&mut conn, &app, &signin, start),
        Action::SignIn { .. }
    ));
    assert_eq!(conn.poll_timeout(), start + Duration::from_secs(120));
}

#[test]
fn too_many_frames_close_with_4301() {
    let app = app();
    let now = Instant::now();
    let settings = Settings {
        max_messages_per_second: 3,
        ..Settings::default()
    };
    let mut conn = Connection::new(socket(), settings, &app, now);
    for _ in 0..3 {
        assert!(matches!(
            conn.handle_frame(&app, Incoming::Control, now),
            Action::None
        ));
    }
    let close = closed(conn.handle_frame(&app, Incoming::Control, now));
    assert_eq!(close.code, 4301);
    assert!(close.reason.contains("more than 3 per second"));
}
