//! The signature vectors of Pusher's docs, and every rejection.

use super::*;

/// The credentials of Pusher's "auth signatures" worked examples.
const DOCS: Credentials<'static> = Credentials {
    key: "278d425bdf160c739803",
    secret: "7ad3773142a6692b25b8",
};
const PRIVATE_TOKEN: &str =
    "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
const PRESENCE_DATA: &str = r#"{"user_id":10,"user_info":{"name":"Mr. Channels"}}"#;
const PRESENCE_TOKEN: &str =
    "278d425bdf160c739803:31935e7d86dba64c2a90aed31fdc61869f9b22ba9d8863bba239c03ca481bc80";

fn socket() -> SocketId {
    SocketId::parse("1234.1234").unwrap()
}

#[test]
fn private_channel_vector_from_the_docs() {
    assert_eq!(
        channel_token(DOCS, &socket(), "private-foobar", None),
        PRIVATE_TOKEN
    );
    assert_eq!(
        verify_channel(DOCS, PRIVATE_TOKEN, &socket(), "private-foobar", None),
        Ok(())
    );
}

#[test]
fn presence_channel_vector_from_the_docs() {
    assert_eq!(
        channel_token(DOCS, &socket(), "presence-foobar", Some(PRESENCE_DATA)),
        PRESENCE_TOKEN
    );
    assert_eq!(
        verify_channel(
            DOCS,
            PRESENCE_TOKEN,
            &socket(),
            "presence-foobar",
            Some(PRESENCE_DATA)
        ),
        Ok(())
    );
}

/// The user-authentication example of the same docs page (quoted as "from
/// the Pusher docs" by the Laravel and other SDK test suites).
const USER_TOKEN: &str =
    "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba";

#[test]
fn user_signin_vector_from_the_docs() {
    let user_data = r#"{"id":"12345"}"#;
    assert_eq!(user_token(DOCS, &socket(), user_data), USER_TOKEN);
    assert_eq!(verify_user(DOCS, USER_TOKEN, &socket(), user_data), Ok(()));
    assert_eq!(
        verify_user(DOCS, USER_TOKEN, &socket(), r#"{"id":"12346"}"#),
        Err(AuthError::InvalidSignature)
    );
    assert_eq!(
        verify_user(
            DOCS,
            USER_TOKEN,
            &SocketId::parse("1234.4321").unwrap(),
            user_data
        ),
        Err(AuthError::InvalidSignature)
    );
    // A channel token is not a sign-in token, nor the reverse.
    assert_eq!(
        verify_user(DOCS, PRIVATE_TOKEN, &socket(), user_data),
        Err(AuthError::InvalidSignature)
    );
    assert_eq!(
        verify_channel(DOCS, USER_TOKEN, &socket(), "private-foobar", None),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn anything_changed_fails() {
    let other_socket = SocketId::parse("1234.1235").unwrap();
    let cases = [
        verify_channel(DOCS, PRIVATE_TOKEN, &other_socket, "private-foobar", None),
        verify_channel(DOCS, PRIVATE_TOKEN, &socket(), "private-foobaz", None),
        verify_channel(DOCS, PRIVATE_TOKEN, &socket(), "private-foobar", Some("{}")),
        verify_channel(
            DOCS,
            PRESENCE_TOKEN,
            &socket(),
            "presence-foobar",
            Some(r#"{"user_id":11,"user_info":{"name":"Mr. Channels"}}"#),
        ),
        verify_channel(
            Credentials {
                secret: "another secret",
                ..DOCS
            },
            PRIVATE_TOKEN,
            &socket(),
            "private-foobar",
            None,
        ),
    ];
    for result in cases {
        assert_eq!(result, Err(AuthError::InvalidSignature));
    }
}

#[test]
fn malformed_tokens() {
    let sig = &PRIVATE_TOKEN[21..];
    let cases = [
        ("", AuthError::Missing),
        ("278d425bdf160c739803", AuthError::Malformed),
        ("278d425bdf160c739803:", AuthError::Malformed),
        ("278d425bdf160c739803:xyz", AuthError::Malformed),
        (
            &PRIVATE_TOKEN[..PRIVATE_TOKEN.len() - 1],
            AuthError::Malformed,
        ),
    ];
    for (token, error) in cases {
        assert_eq!(
            verify_channel(DOCS, token, &socket(), "private-foobar", None),
            Err(error),
            "{token:?}"
        );
    }
    let extra = format!("{PRIVATE_TOKEN}00");
    let colon_in_sig = format!("278d425bdf160c739803:{}:{}", &sig[..10], &sig[11..]);
    for token in [extra, colon_in_sig] {
        assert_eq!(
            verify_channel(DOCS, &token, &socket(), "private-foobar", None),
            Err(AuthError::Malformed)
        );
    }
}

#[test]
fn wrong_key() {
    let token = PRIVATE_TOKEN.replacen("278d", "378d", 1);
    assert_eq!(
        verify_channel(DOCS, &token, &socket(), "private-foobar", None),
        Err(AuthError::WrongKey)
    );
    let no_key = &PRIVATE_TOKEN[20..];
    assert_eq!(
        verify_channel(DOCS, no_key, &socket(), "private-foobar", None),
        Err(AuthError::WrongKey)
    );
}

#[test]
fn uppercase_hex_signature_is_accepted() {
    let (key, sig) = PRIVATE_TOKEN.split_once(':').unwrap();
    let token = format!("{key}:{}", sig.to_uppercase());
    assert_eq!(
        verify_channel(DOCS, &token, &socket(), "private-foobar", None),
        Ok(())
    );
}

#[test]
fn subscription_rules_per_kind() {
    let s = socket();
    let auth =
        |kind, channel, token, data| authorize_subscription(DOCS, kind, &s, channel, token, data);
    assert_eq!(auth(ChannelKind::Public, "news", None, None), Ok(()));
    assert_eq!(
        auth(ChannelKind::Cache, "cache-news", Some("junk"), None),
        Ok(())
    );
    assert_eq!(
        auth(ChannelKind::Private, "private-foobar", None, None),
        Err(AuthError::Missing)
    );
    assert_eq!(
        auth(
            ChannelKind::Private,
            "private-foobar",
            Some(PRIVATE_TOKEN),
            None
        ),
        Ok(())
    );
    assert_eq!(
        auth(
            ChannelKind::Presence,
            "presence-foobar",
            Some(PRESENCE_TOKEN),
            None
        ),
        Err(AuthError::MissingChannelData)
    );
    assert_eq!(
        auth(
            ChannelKind::Presence,
            "presence-foobar",
            Some(PRESENCE_TOKEN),
            Some(PRESENCE_DATA)
        ),
        Ok(())
    );
    let encrypted = channel_token(DOCS, &s, "private-encrypted-x", None);
    assert_eq!(
        auth(
            ChannelKind::PrivateEncrypted,
            "private-encrypted-x",
            Some(&encrypted),
            None
        ),
        Ok(())
    );
    assert_eq!(
        auth(
            ChannelKind::PrivateEncrypted,
            "private-encrypted-y",
            Some(&encrypted),
            None
        ),
        Err(AuthError::InvalidSignature)
    );
    assert_eq!(
        auth(
            ChannelKind::ServerToUser,
            "#server-to-user-1",
            Some(PRIVATE_TOKEN),
            None
        ),
        Err(AuthError::SigninRequired)
    );
}

#[test]
fn debug_hides_the_secret() {
    let text = format!("{DOCS:?}");
    assert!(text.contains("278d425bdf160c739803"));
    assert!(!text.contains("7ad3773142a6692b25b8"));
}
