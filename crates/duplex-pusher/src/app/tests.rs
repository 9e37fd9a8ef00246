use super::*;

const FULL: &str = r#"
[[apps]]
id = "1"
key = "app-key"
secret = "app-secret"
enabled = false
client_events = true
user_authentication_required = true

[apps.limits]
max_connections = 5
max_event_payload_bytes = 2048
max_channels_per_publish = 10
max_channel_name_length = 200
max_event_name_length = 100
max_presence_members = 50
max_presence_user_info_bytes = 512
client_event_rate_per_second = 5
max_batch_size = 3

[[apps.webhooks]]
url = "https://example.com/hooks"
event_types = ["channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count"]

[[apps]]
id = "2"
key = "other-key"
secret = "other-secret"
"#;

#[test]
fn defaults_are_conservative() {
    let limits = AppLimits::default();
    assert_eq!(limits.max_event_payload_bytes, 10 * 1024);
    assert_eq!(limits.max_channels_per_publish, 100);
    assert_eq!(limits.max_channel_name_length, 164);
    assert_eq!(limits.max_event_name_length, 200);
    assert_eq!(limits.max_presence_members, 100);
    assert_eq!(limits.max_presence_user_info_bytes, 1024);
    assert_eq!(limits.client_event_rate_per_second, 10);
    assert_eq!(limits.max_batch_size, 10);
    assert_eq!(limits.max_connections, 10_000);

    let app = AppConfig::new("1", "k", "s");
    assert!(app.enabled && !app.client_events && !app.user_authentication_required);
    assert!(app.webhooks.is_empty());
    assert_eq!(app.validate(), Ok(()));
}

#[test]
fn reads_every_field_from_toml() {
    let apps = Apps::from_toml(FULL).unwrap();
    assert_eq!(apps.len(), 2);
    let app = apps.by_id("1").unwrap();
    assert_eq!(
        (app.key.as_str(), app.secret.as_str()),
        ("app-key", "app-secret")
    );
    assert!(!app.enabled && app.client_events && app.user_authentication_required);
    assert_eq!(
        app.limits,
        AppLimits {
            max_connections: 5,
            max_event_payload_bytes: 2048,
            max_channels_per_publish: 10,
            max_channel_name_length: 200,
            max_event_name_length: 100,
            max_presence_members: 50,
            max_presence_user_info_bytes: 512,
            client_event_rate_per_second: 5,
            max_batch_size: 3,
        }
    );
    assert_eq!(app.webhooks.len(), 1);
    let names: Vec<&str> = app.webhooks[0]
        .event_types
        .iter()
        .map(|e| e.name())
        .collect();
    assert_eq!(
        names,
        [
            "channel_occupied",
            "channel_vacated",
            "member_added",
            "member_removed",
            "client_event",
            "cache_miss",
            "subscription_count"
        ]
    );

    let other = apps.by_key("other-key").unwrap();
    assert_eq!(other.id, "2");
    assert!(other.enabled);
    assert_eq!(other.limits, AppLimits::default());
    assert_eq!(
        apps.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["1", "2"]
    );
}

#[test]
fn partial_limits_keep_the_other_defaults() {
    let apps = Apps::from_toml(
        "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[apps.limits]\nmax_batch_size = 20\n",
    )
    .unwrap();
    let limits = &apps.by_id("1").unwrap().limits;
    assert_eq!(limits.max_batch_size, 20);
    assert_eq!(limits.max_channels_per_publish, 100);
}

#[test]
fn lookups() {
    let apps = Apps::from_toml(FULL).unwrap();
    assert!(apps.by_id("3").is_none());
    assert!(apps.by_key("app-secret").is_none());
    assert!(apps.by_id("app-key").is_none());
    assert_eq!(
        apps.by_key("app-key").unwrap().credentials().secret,
        "app-secret"
    );
    let empty = Apps::from_toml("").unwrap();
    assert!(empty.is_empty());
    assert!(Apps::default().by_key("k").is_none());
}

#[test]
fn unknown_and_mistyped_fields_are_rejected() {
    for (text, needle) in [
        ("[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\nclient_event = true\n", "client_event"),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[apps.limits]\nmax_members = 1\n",
            "max_members",
        ),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[[apps.webhooks]]\nurl = \"http://x\"\nevent_types = [\"channel_opened\"]\n",
            "channel_opened",
        ),
        (
            "[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[[apps.webhooks]]\nurl = \"http://x\"\nevent_types = []\nheaders = 1\n",
            "headers",
        ),
        ("[[apps]]\nid = 1\nkey = \"k\"\nsecret = \"s\"\n", "string"),
        ("[[apps]]\nid = \"1\"\nkey = \"k\"\n", "secret"),
        ("[[app]]\nid = \"1\"\n", "app"),
        ("[[apps]]\nid = \"1\"\nkey = \"k\"\nsecret = \"s\"\n[apps.limits]\nmax_batch_size = -1\n", "max_batch_size"),
        ("this is not toml", ""),
    ] {
        match Apps::from_toml(text) {
            Err(AppConfigError::Toml(message)) => {
                assert!(message.contains(needle), "{message}");
            }
            other => panic!("{text:?} gave {other:?}"),
        }
    }
}

#[test]
fn validation_errors() {
    let app = |id: &str, key: &str, secret: &str| AppConfig::new(id, key, secret);
    let check = |apps: Vec<AppConfig>| Apps::new(apps).map(|_| ()).unwrap_err();

    assert_eq!(
        check(vec![app("1", "k", "")]),
        AppConfigError::Empty {
            app: "1".into(),
            field: "secret"
        }
    );
    assert_eq!(
        check(vec![app("", "k", "s")]),
        AppConfigError::Empty {
            app: "".into(),
            field: "id"
        }
    );
    assert_eq!(
        check(vec![app("1", "k/x", "s")]),
        AppConfigError::InvalidIdentifier {
            app: "1".into(),
            field: "key"
        }
    );
    assert_eq!(
        check(vec![app("a b", "k", "s")]),
        AppConfigError::InvalidIdentifier {
            app: "a b".into(),
            field: "id"
        }
    );
    assert_eq!(
        check(vec![app("1", "k", "s"), app("1", "k2", "s")]),
        AppConfigError::DuplicateId("1".into())
    );
    assert_eq!(
        check(vec![app("1", "k", "s"), app("2", "k", "t")]),
        AppConfigError::DuplicateKey {
            first: "1".into(),
            second: "2".into()
        }
    );

    let mut zero = app("1", "k", "s");
    zero.limits.max_presence_members = 0;
    assert_eq!(
        check(vec![zero]),
        AppConfigError::ZeroLimit {
            app: "1".into(),
            limit: "max_presence_members"
        }
    );
}

#[test]
fn webhook_validation() {
    let with_hook = |url: &str, events: Vec<WebhookEvent>| {
        let mut app = AppConfig::new("1", "k", "s");
        app.webhooks.push(WebhookConfig {
            url: url.into(),
            event_types: events,
        });
        app.validate()
    };
    let events = || vec![WebhookEvent::ChannelOccupied];
    assert_eq!(with_hook("http://localhost:3000/hook", events()), Ok(()));
    assert_eq!(with_hook("https://example.com", events()), Ok(()));
    for (url, events, reason) in [
        (
            "ftp://example.com",
            events(),
            "the url must start with http:// or https://",
        ),
        (
            "example.com",
            events(),
            "the url must start with http:// or https://",
        ),
        ("https://", events(), "the url has no host"),
        ("https:///path", events(), "the url has no host"),
        (
            "https://exa mple.com",
            events(),
            "the url contains whitespace",
        ),
        ("https://example.com", vec![], "event_types is empty"),
    ] {
        assert_eq!(
            with_hook(url, events),
            Err(AppConfigError::InvalidWebhook {
                app: "1".into(),
                url: url.into(),
                reason
            })
        );
    }
}

#[test]
fn debug_never_shows_the_secret() {
    let apps = Apps::from_toml(FULL).unwrap();
    let text = format!("{apps:?}");
    assert!(text.contains("app-key"));
    assert!(!text.contains("app-secret") && !text.contains("other-secret"));
}

#[test]
fn messages_read_well() {
    assert_eq!(
        AppConfigError::DuplicateKey {
            first: "1".into(),
            second: "2".into()
        }
        .to_string(),
        r#"apps "1" and "2" have the same key"#
    );
    assert_eq!(
        AppConfigError::Empty {
            app: "1".into(),
            field: "secret"
        }
        .to_string(),
        r#"app "1": `secret` must not be empty"#
    );
}

#[test]
fn origin_allowlist() {
    let mut app = AppConfig::new("1", "k", "s");
    assert!(app.allows_origin(None) && app.allows_origin(Some("https://evil.example")));
    app.allowed_origins = vec!["https://good.example".into()];
    assert!(app.allows_origin(Some("https://GOOD.example")));
    assert!(app.allows_origin(Some("https://good.example/")));
    assert!(!app.allows_origin(Some("https://evil.example")));
    assert!(!app.allows_origin(None));
    app.allowed_origins.push("*".into());
    assert!(app.allows_origin(Some("https://evil.example")));
}
