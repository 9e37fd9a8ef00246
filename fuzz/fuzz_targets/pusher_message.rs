//! A client frame of the Pusher protocol: `ClientMessage::parse` on the input
//! (lossily made UTF-8 when it is not), then what the server does with the
//! result: channel name checks, token verification (ours must verify),
//! presence `channel_data` / sign-in `user_data` parsing, and the relay of a
//! client event, which must parse back to the same event.
#![no_main]

use duplex_pusher::auth::{self, Credentials, PresenceMember, SocketId, UserData};
use duplex_pusher::channel::validate_name;
use duplex_pusher::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

const CREDENTIALS: Credentials<'static> = Credentials {
    key: "278d425bdf160c739803",
    secret: "7ad3773142a6692b25b8",
};
const MAX_USER_INFO: usize = 1024;

fn check_json(frame: &str) -> serde_json::Value {
    serde_json::from_str(frame).unwrap_or_else(|e| panic!("server frame is not JSON ({e}): {frame}"))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(message) = ClientMessage::parse(&text) else { return };
    let socket_id = SocketId::parse("1234.1234").expect("valid socket id");
    match message {
        ClientMessage::Subscribe { channel, auth, channel_data } => {
            assert!(auth.as_ref().is_none_or(|a| !a.is_empty()));
            if let Ok(kind) = validate_name(&channel, 200) {
                let _ = auth::authorize_subscription(
                    CREDENTIALS,
                    kind,
                    &socket_id,
                    &channel,
                    auth.as_deref(),
                    channel_data.as_deref(),
                );
            }
            let _ = auth::verify_channel(CREDENTIALS, auth.as_deref().unwrap_or(""), &socket_id, &channel, channel_data.as_deref());
            let token = auth::channel_token(CREDENTIALS, &socket_id, &channel, channel_data.as_deref());
            auth::verify_channel(CREDENTIALS, &token, &socket_id, &channel, channel_data.as_deref())
                .expect("our own channel token must verify");
            if let Some(Ok(member)) = channel_data.as_deref().map(|d| PresenceMember::parse(d, MAX_USER_INFO)) {
                assert!(!member.user_id.is_empty());
                if let Some(info) = &member.user_info {
                    assert!(info.get().starts_with('{') && info.get().len() <= MAX_USER_INFO);
                }
                let frame = ServerMessage::MemberAdded {
                    channel: &channel,
                    user_id: &member.user_id,
                    user_info: member.user_info.as_deref(),
                }
                .encode();
                let value = check_json(frame.as_str());
                let data: serde_json::Value =
                    serde_json::from_str(value["data"].as_str().expect("data is a string")).expect("data is JSON");
                assert_eq!(data["user_id"].as_str(), Some(member.user_id.as_str()));
            }
            let frame = ServerMessage::SubscriptionError {
                channel: &channel,
                error_type: "AuthError",
                error: &format!("refused {channel:?}"),
                status: 401,
            }
            .encode();
            assert_eq!(check_json(frame.as_str())["channel"].as_str(), Some(channel.as_str()));
        }
        ClientMessage::Unsubscribe { channel } => {
            let _ = validate_name(&channel, 200);
        }
        ClientMessage::Signin { auth, user_data } => {
            let _ = auth::verify_user(CREDENTIALS, &auth, &socket_id, &user_data);
            let token = auth::user_token(CREDENTIALS, &socket_id, &user_data);
            auth::verify_user(CREDENTIALS, &token, &socket_id, &user_data).expect("our own user token must verify");
            if let Ok(user) = UserData::parse(&user_data, MAX_USER_INFO) {
                assert!(!user.id.is_empty());
                if let Some(info) = &user.user_info {
                    assert!(info.get().starts_with('{') && info.get().len() <= MAX_USER_INFO);
                }
                let frame = ServerMessage::SigninSuccess { user_data: &user_data }.encode();
                check_json(frame.as_str());
            }
        }
        ClientMessage::ClientEvent { event, channel, data } => {
            assert!(event.starts_with("client-"));
            let _ = validate_name(&channel, 200);
            // What the other subscribers get must decode to the same event.
            let frame = ServerMessage::ChannelEvent {
                event: &event,
                channel: &channel,
                data: data.as_deref(),
                user_id: None,
            }
            .encode();
            check_json(frame.as_str());
            let again = ClientMessage::parse(frame.as_str()).expect("a relayed event parses");
            assert_eq!(again, ClientMessage::ClientEvent { event, channel, data });
        }
        _ => {}
    }
});
