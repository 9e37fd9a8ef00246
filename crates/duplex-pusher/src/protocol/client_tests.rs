//! Decoding client frames: every shape and every error.

use super::*;

fn parse(text: &str) -> Result<ClientMessage, MessageError> {
    ClientMessage::parse(text)
}

#[test]
fn subscribe_with_data_object() {
    let msg = parse(
        r#"{"event":"pusher:subscribe","data":{"channel":"presence-x","auth":"k:s","channel_data":"{\"user_id\":1}"}}"#,
    );
    assert_eq!(
        msg,
        Ok(ClientMessage::Subscribe {
            channel: "presence-x".into(),
            auth: Some("k:s".into()),
            channel_data: Some(r#"{"user_id":1}"#.into()),
        })
    );
}

#[test]
fn subscribe_with_data_string_decodes_the_same() {
    let as_object = parse(r#"{"event":"pusher:subscribe","data":{"channel":"c","auth":"k:s"}}"#);
    let as_string =
        parse(r#"{"event":"pusher:subscribe","data":"{\"channel\":\"c\",\"auth\":\"k:s\"}"}"#);
    assert_eq!(as_object, as_string);
    assert!(as_object.is_ok());
}

#[test]
fn subscribe_public_with_empty_auth_has_no_auth() {
    let msg = parse(r#"{"event":"pusher:subscribe","data":{"auth":"","channel":"news"}}"#);
    assert_eq!(
        msg,
        Ok(ClientMessage::Subscribe {
            channel: "news".into(),
            auth: None,
            channel_data: None
        })
    );
}

#[test]
fn subscribe_errors() {
    assert_eq!(
        parse(r#"{"event":"pusher:subscribe"}"#),
        Err(MessageError::MissingField {
            event: "pusher:subscribe",
            field: "data"
        })
    );
    assert_eq!(
        parse(r#"{"event":"pusher:subscribe","data":{"auth":""}}"#),
        Err(MessageError::MissingField {
            event: "pusher:subscribe",
            field: "data.channel"
        })
    );
    // channel_data must be the signed JSON string, not an object.
    assert!(matches!(
        parse(
            r#"{"event":"pusher:subscribe","data":{"channel":"presence-x","channel_data":{"user_id":1}}}"#
        ),
        Err(MessageError::InvalidData {
            event: "pusher:subscribe",
            ..
        })
    ));
    assert!(matches!(
        parse(r#"{"event":"pusher:subscribe","data":"not json"}"#),
        Err(MessageError::InvalidData { .. })
    ));
    assert!(matches!(
        parse(r#"{"event":"pusher:subscribe","data":42}"#),
        Err(MessageError::InvalidData { .. })
    ));
    assert!(matches!(
        parse(r#"{"event":"pusher:subscribe","data":{"channel":7}}"#),
        Err(MessageError::InvalidData { .. })
    ));
}

#[test]
fn unsubscribe() {
    assert_eq!(
        parse(r#"{"event":"pusher:unsubscribe","data":"{\"channel\":\"c\"}"}"#),
        Ok(ClientMessage::Unsubscribe {
            channel: "c".into()
        })
    );
    assert_eq!(
        parse(r#"{"event":"pusher:unsubscribe","data":{}}"#),
        Err(MessageError::MissingField {
            event: "pusher:unsubscribe",
            field: "data.channel"
        })
    );
}

#[test]
fn ping_and_pong_ignore_data() {
    assert_eq!(
        parse(r#"{"event":"pusher:ping","data":{}}"#),
        Ok(ClientMessage::Ping)
    );
    assert_eq!(parse(r#"{"event":"pusher:ping"}"#), Ok(ClientMessage::Ping));
    assert_eq!(
        parse(r#"{"event":"pusher:pong","data":"{}"}"#),
        Ok(ClientMessage::Pong)
    );
}

#[test]
fn signin() {
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"1\"}"}}"#),
        Ok(ClientMessage::Signin {
            auth: "k:s".into(),
            user_data: r#"{"id":"1"}"#.into()
        })
    );
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":{"auth":"k:s"}}"#),
        Err(MessageError::MissingField {
            event: "pusher:signin",
            field: "data.user_data"
        })
    );
    assert_eq!(
        parse(r#"{"event":"pusher:signin","data":{"user_data":"{}"}}"#),
        Err(MessageError::MissingField {
            event: "pusher:signin",
            field: "data.auth"
        })
    );
}

#[test]
fn client_event_with_object_data_keeps_its_json_text() {
    assert_eq!(
        parse(r#"{"event":"client-typing","channel":"private-c","data":{"b":1,"a":[true]}}"#),
        Ok(ClientMessage::ClientEvent {
            event: "client-typing".into(),
            channel: "private-c".into(),
            data: Some(r#"{"b":1,"a":[true]}"#.into()),
        })
    );
}

#[test]
fn client_event_with_string_data_keeps_the_string() {
    assert_eq!(
        parse(r#"{"event":"client-x","channel":"private-c","data":"{\"a\":1}"}"#),
        Ok(ClientMessage::ClientEvent {
            event: "client-x".into(),
            channel: "private-c".into(),
            data: Some(r#"{"a":1}"#.into()),
        })
    );
}

#[test]
fn client_event_without_data() {
    for text in [
        r#"{"event":"client-x","channel":"private-c"}"#,
        r#"{"event":"client-x","channel":"private-c","data":null}"#,
    ] {
        assert_eq!(
            parse(text),
            Ok(ClientMessage::ClientEvent {
                event: "client-x".into(),
                channel: "private-c".into(),
                data: None,
            })
        );
    }
    assert_eq!(
        parse(r#"{"event":"client-x","channel":"private-c","data":7}"#),
        Ok(ClientMessage::ClientEvent {
            event: "client-x".into(),
            channel: "private-c".into(),
            data: Some("7".into()),
        })
    );
}

#[test]
fn client_event_needs_a_channel() {
    assert_eq!(
        parse(r#"{"event":"client-x","data":{}}"#),
        Err(MessageError::MissingField {
            event: "client event",
            field: "channel"
        })
    );
}

#[test]
fn envelope_errors() {
    assert!(matches!(
        parse("not json"),
        Err(MessageError::InvalidJson(_))
    ));
    assert!(matches!(parse(""), Err(MessageError::InvalidJson(_))));
    assert!(matches!(parse("[1,2]"), Err(MessageError::InvalidJson(_))));
    assert!(matches!(
        parse(r#"{"event":1}"#),
        Err(MessageError::InvalidJson(_))
    ));
    assert!(matches!(
        parse(r#"{"event":"client-x","channel":"c","data":{"#),
        Err(MessageError::InvalidJson(_))
    ));
    assert_eq!(parse(r#"{"data":{}}"#), Err(MessageError::MissingEvent));
    assert_eq!(parse("{}"), Err(MessageError::MissingEvent));
}

#[test]
fn unknown_and_non_client_events() {
    assert_eq!(
        parse(r#"{"event":"pusher:bogus","data":{}}"#),
        Err(MessageError::UnknownEvent("pusher:bogus".into()))
    );
    assert_eq!(
        parse(r#"{"event":"pusher_internal:subscription_succeeded","channel":"c"}"#),
        Err(MessageError::UnknownEvent(
            "pusher_internal:subscription_succeeded".into()
        ))
    );
    assert_eq!(
        parse(r#"{"event":"my-event","channel":"c"}"#),
        Err(MessageError::NotClientEvent("my-event".into()))
    );
}

#[test]
fn unknown_envelope_fields_are_ignored() {
    assert_eq!(
        parse(r#"{"event":"pusher:ping","data":{},"user_id":"u","extra":[1]}"#),
        Ok(ClientMessage::Ping)
    );
}

#[test]
fn escaped_event_names_decode() {
    assert_eq!(
        parse(r#"{"event":"pusher:p\u0069ng"}"#),
        Ok(ClientMessage::Ping)
    );
}

#[test]
fn errors_read_well() {
    assert_eq!(
        MessageError::MissingField {
            event: "pusher:subscribe",
            field: "data.channel"
        }
        .to_string(),
        "`pusher:subscribe` message has no `data.channel` field"
    );
}
