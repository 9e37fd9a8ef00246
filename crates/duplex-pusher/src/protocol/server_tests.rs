//! Exact wire shapes of the server messages.

use super::*;
use crate::auth::PresenceMember;
use crate::presence::PresenceChannel;

fn frame(message: ServerMessage<'_>) -> String {
    message.encode().as_str().to_owned()
}

/// Decodes the double-encoded `data` of a frame.
fn inner_data(text: &str) -> serde_json::Value {
    let outer: serde_json::Value = serde_json::from_str(text).unwrap();
    let data = outer["data"].as_str().expect("data is a string");
    serde_json::from_str(data).unwrap()
}

#[test]
fn connection_established_is_double_encoded() {
    let socket_id = SocketId::parse("123.456").unwrap();
    let text = frame(ServerMessage::ConnectionEstablished {
        socket_id: &socket_id,
        activity_timeout: 120,
    });
    assert_eq!(
        text,
        r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"123.456\",\"activity_timeout\":120}"}"#
    );
    assert_eq!(inner_data(&text)["activity_timeout"], 120);
}

#[test]
fn error_carries_an_object() {
    assert_eq!(
        frame(ServerMessage::Error {
            message: "Application does not exist",
            code: Some(ErrorCode::AppNotFound),
        }),
        r#"{"event":"pusher:error","data":{"message":"Application does not exist","code":4001}}"#
    );
    assert_eq!(
        frame(ServerMessage::Error {
            message: "bad \"json\"",
            code: None,
        }),
        r#"{"event":"pusher:error","data":{"message":"bad \"json\""}}"#
    );
}

#[test]
fn ping_and_pong() {
    assert_eq!(
        frame(ServerMessage::Ping),
        r#"{"event":"pusher:ping","data":{}}"#
    );
    assert_eq!(
        frame(ServerMessage::Pong),
        r#"{"event":"pusher:pong","data":{}}"#
    );
}

#[test]
fn subscription_succeeded_plain() {
    assert_eq!(
        frame(ServerMessage::SubscriptionSucceeded {
            channel: "my-channel",
            presence: None,
        }),
        r#"{"event":"pusher_internal:subscription_succeeded","data":"{}","channel":"my-channel"}"#
    );
}

#[test]
fn subscription_succeeded_presence() {
    let mut members = PresenceChannel::new(100);
    let me = PresenceMember::parse(
        r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#,
        1024,
    )
    .unwrap();
    members.add(SocketId::parse("1.1").unwrap(), me).unwrap();
    let text = frame(ServerMessage::SubscriptionSucceeded {
        channel: "presence-foobar",
        presence: Some(members.payload()),
    });
    assert_eq!(
        text,
        r#"{"event":"pusher_internal:subscription_succeeded","data":"{\"presence\":{\"ids\":[\"10\"],\"hash\":{\"10\":{\"name\":\"Mr. Channels\"}},\"count\":1}}","channel":"presence-foobar"}"#
    );
    assert_eq!(
        inner_data(&text)["presence"]["hash"]["10"]["name"],
        "Mr. Channels"
    );
}

#[test]
fn subscription_error() {
    assert_eq!(
        frame(ServerMessage::SubscriptionError {
            channel: "private-x",
            error_type: "AuthError",
            error: "invalid signature",
            status: 401,
        }),
        r#"{"event":"pusher:subscription_error","data":"{\"type\":\"AuthError\",\"error\":\"invalid signature\",\"status\":401}","channel":"private-x"}"#
    );
}

#[test]
fn members_added_and_removed() {
    let info = RawValue::from_string(r#"{"name":"Bo"}"#.into()).unwrap();
    assert_eq!(
        frame(ServerMessage::MemberAdded {
            channel: "presence-x",
            user_id: "u",
            user_info: Some(&info),
        }),
        r#"{"event":"pusher_internal:member_added","data":"{\"user_id\":\"u\",\"user_info\":{\"name\":\"Bo\"}}","channel":"presence-x"}"#
    );
    assert_eq!(
        frame(ServerMessage::MemberAdded {
            channel: "presence-x",
            user_id: "u",
            user_info: None,
        }),
        r#"{"event":"pusher_internal:member_added","data":"{\"user_id\":\"u\"}","channel":"presence-x"}"#
    );
    assert_eq!(
        frame(ServerMessage::MemberRemoved {
            channel: "presence-x",
            user_id: "u",
        }),
        r#"{"event":"pusher_internal:member_removed","data":"{\"user_id\":\"u\"}","channel":"presence-x"}"#
    );
}

#[test]
fn subscription_count_cache_miss_and_signin() {
    assert_eq!(
        frame(ServerMessage::SubscriptionCount {
            channel: "c",
            count: 3,
        }),
        r#"{"event":"pusher_internal:subscription_count","data":"{\"subscription_count\":3}","channel":"c"}"#
    );
    assert_eq!(
        frame(ServerMessage::CacheMiss { channel: "cache-c" }),
        r#"{"event":"pusher:cache_miss","channel":"cache-c"}"#
    );
    let text = frame(ServerMessage::SigninSuccess {
        user_data: r#"{"id":"12345"}"#,
    });
    assert_eq!(
        text,
        r#"{"event":"pusher:signin_success","data":"{\"user_data\":\"{\\\"id\\\":\\\"12345\\\"}\"}"}"#
    );
    // pusher-js: JSON.parse(data.user_data).id must be a string.
    let user_data = inner_data(&text)["user_data"].as_str().unwrap().to_owned();
    let user: serde_json::Value = serde_json::from_str(&user_data).unwrap();
    assert_eq!(user["id"], "12345");
}

#[test]
fn channel_event_sends_data_as_a_string() {
    assert_eq!(
        frame(ServerMessage::ChannelEvent {
            event: "my-event",
            channel: "my-channel",
            data: Some(r#"{"message":"hello world"}"#),
            user_id: None,
        }),
        r#"{"event":"my-event","data":"{\"message\":\"hello world\"}","channel":"my-channel"}"#
    );
    assert_eq!(
        frame(ServerMessage::ChannelEvent {
            event: "client-typing",
            channel: "presence-room",
            data: Some("plain text"),
            user_id: Some("42"),
        }),
        r#"{"event":"client-typing","data":"plain text","channel":"presence-room","user_id":"42"}"#
    );
    assert_eq!(
        frame(ServerMessage::ChannelEvent {
            event: "client-poke",
            channel: "private-c",
            data: None,
            user_id: None,
        }),
        r#"{"event":"client-poke","channel":"private-c"}"#
    );
}

#[test]
fn a_relayed_client_event_round_trips() {
    use crate::protocol::ClientMessage;
    let sent = r#"{"event":"client-x","channel":"private-c","data":{"a":[1,2]}}"#;
    let ClientMessage::ClientEvent {
        event,
        channel,
        data,
    } = ClientMessage::parse(sent).unwrap()
    else {
        panic!("not a client event")
    };
    let text = frame(ServerMessage::ChannelEvent {
        event: &event,
        channel: &channel,
        data: data.as_deref(),
        user_id: None,
    });
    assert_eq!(inner_data(&text), serde_json::json!({"a": [1, 2]}));
}

#[test]
fn frames_are_shared_not_copied() {
    let frame = ServerMessage::ChannelEvent {
        event: "e",
        channel: "c",
        data: Some("d"),
        user_id: None,
    }
    .encode();
    let copy = frame.clone();
    assert!(std::ptr::eq(frame.as_str(), copy.as_str()));
    assert_eq!(frame, copy);
    assert_eq!(frame.len(), frame.as_bytes().len());
    assert!(!frame.is_empty());
    assert_eq!(frame.to_string(), frame.as_str());
    assert_eq!(<Encoded as AsRef<[u8]>>::as_ref(&frame), frame.as_bytes());
    assert!(format!("{frame:?}").starts_with("Encoded("));
}
