//! `duplex serve --adapter redis`: three real nodes on one real
//! `redis-server`, each test with its own Redis on a free loopback port.
//!
//! Cross-node delivery (exactly once, with `socket_id` exclusion), client
//! events, cache channels, cluster-wide presence and channel queries,
//! webhooks once per cluster, `terminate_connections` on every node, a node
//! killed without a goodbye, and Redis killed and restarted.

mod harness;

use std::time::{Duration, Instant};

use harness::*;
use serde_json::{json, Value};

/// Three nodes on one Redis.
fn cluster(redis: &Redis, webhook: Option<&str>) -> [Node; 3] {
    [
        Node::start(redis, webhook),
        Node::start(redis, webhook),
        Node::start(redis, webhook),
    ]
}

/// After an event, publishes a marker through `node` and checks that it
/// is the very next event of each client: nothing was delivered twice.
async fn assert_no_duplicates(node: &Node, channel: &str, clients: &mut [&mut Ws]) {
    node.publish(channel, "marker", "{}", None).await;
    for ws in clients {
        let next = next_event(ws).await;
        assert_eq!(next["event"], "marker", "a duplicate arrived first: {next}");
    }
}

async fn assert_no_duplicate(node: &Node, channel: &str, ws: &mut Ws) {
    assert_no_duplicates(node, channel, &mut [ws]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_every_node_exactly_once_with_exclusion() {
    let redis = Redis::start();
    let nodes = cluster(&redis, None);
    let mut clients = Vec::new();
    for node in &nodes {
        let (mut ws, id) = node.connect().await;
        subscribe(&mut ws, &id, "news", None).await;
        subscribe(&mut ws, &id, "private-room", None).await;
        clients.push((ws, id));
    }
    // Published on node 0, excluding the subscriber on node 1.
    let excluded = clients[1].1.clone();
    nodes[0]
        .publish("news", "headline", r#"{"n":1}"#, Some(&excluded))
        .await;
    for i in [0, 2] {
        let event = next_event(&mut clients[i].0).await;
        assert_eq!(event["event"], "headline", "node {i}: {event}");
        assert_eq!(event["channel"], "news");
        assert_eq!(data_of(&event)["n"], 1);
    }
    // The excluded one sees the marker first; the others no duplicate.
    let mut all: Vec<&mut Ws> = clients.iter_mut().map(|(ws, _)| ws).collect();
    assert_no_duplicates(&nodes[2], "news", &mut all).await;

    // A client event from node 2 reaches nodes 0 and 1, not its sender.
    send_json(
        &mut clients[2].0,
        json!({ "event": "client-typing", "channel": "private-room", "data": { "who": "c" } }),
    )
    .await;
    for i in [0, 1] {
        let event = next_event(&mut clients[i].0).await;
        assert_eq!(event["event"], "client-typing", "node {i}: {event}");
    }
    let mut all: Vec<&mut Ws> = clients.iter_mut().map(|(ws, _)| ws).collect();
    assert_no_duplicates(&nodes[1], "private-room", &mut all).await;

    // A cache channel's last event is shared: published on node 0 with no
    // subscriber anywhere, replayed to a subscriber on node 2.
    nodes[0]
        .publish("cache-prices", "price", r#"{"eur":3}"#, None)
        .await;
    let (mut late, late_id) = nodes[2].connect().await;
    subscribe(&mut late, &late_id, "cache-prices", None).await;
    let replay = next_json(&mut late).await;
    assert_eq!(replay["event"], "price", "{replay}");
    assert_eq!(data_of(&replay)["eur"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_channel_queries_are_cluster_wide_and_webhooks_fire_once() {
    let hooks = Webhooks::start().await;
    let redis = Redis::start();
    let nodes = cluster(&redis, Some(&hooks.url));
    let channel = "presence-lobby";

    let (mut ada, ada_id) = nodes[0].connect().await;
    let joined = subscribe(&mut ada, &ada_id, channel, Some("ada")).await;
    assert_eq!(data_of(&joined)["presence"]["count"], 1);

    // Bob on node 1 sees Ada in his list; Ada hears of Bob.
    let (mut bob, bob_id) = nodes[1].connect().await;
    let joined = subscribe(&mut bob, &bob_id, channel, Some("bob")).await;
    let presence = &data_of(&joined)["presence"];
    assert_eq!(presence["count"], 2, "{presence}");
    assert_eq!(presence["ids"], json!(["ada", "bob"]));
    assert_eq!(presence["hash"]["ada"]["name"], "ada");
    let added = next_json(&mut ada).await;
    assert_eq!(added["event"], "pusher_internal:member_added");
    assert_eq!(data_of(&added)["user_id"], "bob");

    // Ada's second socket, on node 2: one member, no member_added.
    let (mut ada2, ada2_id) = nodes[2].connect().await;
    let joined = subscribe(&mut ada2, &ada2_id, channel, Some("ada")).await;
    assert_eq!(data_of(&joined)["presence"]["count"], 2);
    assert!(
        next_json_within(&mut bob, Duration::from_millis(300))
            .await
            .is_none(),
        "a second socket of a member is not a new member"
    );

    // Every node answers with the cluster's counts.
    for node in &nodes {
        let (status, info) = node
            .api(
                "GET",
                &format!("/apps/{APP}/channels/{channel}"),
                &[("info", "user_count,subscription_count")],
                "",
            )
            .await;
        assert_eq!(status, 200, "{info}");
        assert_eq!(info["occupied"], true);
        assert_eq!(info["user_count"], 2, "{info}");
        assert_eq!(info["subscription_count"], 3, "{info}");
        let (_, users) = node
            .api(
                "GET",
                &format!("/apps/{APP}/channels/{channel}/users"),
                &[],
                "",
            )
            .await;
        assert_eq!(
            users,
            json!({ "users": [{ "id": "ada" }, { "id": "bob" }] })
        );
        let (_, list) = node
            .api(
                "GET",
                &format!("/apps/{APP}/channels"),
                &[("filter_by_prefix", "presence-"), ("info", "user_count")],
                "",
            )
            .await;
        assert_eq!(list["channels"][channel]["user_count"], 2, "{list}");
    }

    // Ada's first socket leaves: she is still present through node 2.
    drop(ada);
    assert!(next_json_within(&mut bob, Duration::from_millis(500))
        .await
        .is_none());
    // Her last socket leaves: Bob hears it once.
    drop(ada2);
    let removed = next_json(&mut bob).await;
    assert_eq!(
        removed["event"], "pusher_internal:member_removed",
        "{removed}"
    );
    assert_eq!(data_of(&removed)["user_id"], "ada");
    assert_no_duplicate(&nodes[0], channel, &mut bob).await;
    drop(bob);

    // Webhooks: once per cluster, not once per node.
    let expected = [
        ("channel_occupied", None, 1),
        ("member_added", Some("ada"), 1),
        ("member_added", Some("bob"), 1),
        ("member_removed", Some("ada"), 1),
        ("member_removed", Some("bob"), 1),
        ("channel_vacated", None, 1),
    ];
    eventually(Duration::from_secs(10), "every webhook", || async {
        expected
            .iter()
            .all(|(name, user, n)| hooks.count(name, channel, *user) >= *n)
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (name, user, n) in expected {
        assert_eq!(
            hooks.count(name, channel, user),
            n,
            "{name} {user:?}: {:?}",
            hooks.events.lock().unwrap()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_connections_reaches_every_node() {
    let redis = Redis::start();
    let nodes = cluster(&redis, None);
    let (mut a, a_id) = nodes[1].connect().await;
    sign_in(&mut a, &a_id, "carol").await;
    let (mut b, b_id) = nodes[2].connect().await;
    sign_in(&mut b, &b_id, "carol").await;
    let (mut other, other_id) = nodes[2].connect().await;
    sign_in(&mut other, &other_id, "dave").await;

    let (status, body) = nodes[0]
        .api(
            "POST",
            &format!("/apps/{APP}/users/carol/terminate_connections"),
            &[],
            "{}",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(close_code(&mut a).await, 4009);
    assert_eq!(close_code(&mut b).await, 4009);
    // Dave stays connected.
    send_json(&mut other, json!({ "event": "pusher:ping", "data": {} })).await;
    assert_eq!(next_json(&mut other).await["event"], "pusher:pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_without_goodbye_is_removed_within_the_node_timeout() {
    let hooks = Webhooks::start().await;
    let redis = Redis::start();
    let [node0, node1, mut node2] = cluster(&redis, Some(&hooks.url));
    let channel = "presence-game";

    let (mut bob, bob_id) = node0.connect().await;
    subscribe(&mut bob, &bob_id, channel, Some("bob")).await;
    let (mut eve, eve_id) = node2.connect().await;
    subscribe(&mut eve, &eve_id, channel, Some("eve")).await;
    assert_eq!(data_of(&next_json(&mut bob).await)["user_id"], "eve");
    let (mut watcher, watcher_id) = node1.connect().await;
    subscribe(&mut watcher, &watcher_id, channel, Some("walt")).await;
    let _ = next_json(&mut bob).await; // walt's member_added

    node2.kill();
    let killed = Instant::now();
    let removed = next_json_within(&mut bob, Duration::from_millis(NODE_TIMEOUT_MS) * 4)
        .await
        .expect("member_removed for the dead node's member");
    let took = killed.elapsed();
    assert_eq!(
        removed["event"], "pusher_internal:member_removed",
        "{removed}"
    );
    assert_eq!(data_of(&removed)["user_id"], "eve");
    // The bound: the node timeout plus two heartbeats (and scheduling).
    let bound = Duration::from_millis(NODE_TIMEOUT_MS + 2 * HEARTBEAT_MS + 1000);
    assert!(took <= bound, "took {took:?}, bound {bound:?}");
    let removed = next_json(&mut watcher).await;
    assert_eq!(data_of(&removed)["user_id"], "eve", "{removed}");

    let (status, info) = node1
        .api(
            "GET",
            &format!("/apps/{APP}/channels/{channel}"),
            &[("info", "user_count,subscription_count")],
            "",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            info["user_count"].clone(),
            info["subscription_count"].clone()
        ),
        (json!(2), json!(2)),
        "{info}"
    );
    eventually(WAIT, "member_removed webhook", || async {
        (hooks.count("member_removed", channel, Some("eve")) == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(hooks.count("member_removed", channel, Some("eve")), 1);
    assert!(
        node0.logged("removed a node that stopped heartbeating")
            || node1.logged("removed a node that stopped heartbeating"),
        "{}\n---\n{}",
        node0.log(),
        node1.log()
    );
}

/// Reads a metric's value from `/metrics`.
fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_keeps_local_fan_out_and_the_state_is_rebuilt_after() {
    let mut redis = Redis::start();
    let [node0, node1, _node2] = cluster(&redis, None);
    let (mut a, a_id) = node0.connect().await;
    subscribe(&mut a, &a_id, "news", None).await;
    subscribe(&mut a, &a_id, "presence-team", Some("ann")).await;
    let (mut b, b_id) = node1.connect().await;
    subscribe(&mut b, &b_id, "news", None).await;
    subscribe(&mut b, &b_id, "presence-team", Some("ben")).await;
    let _ = next_json(&mut a).await; // ben's member_added

    redis.kill();
    // Node 0 still serves its own subscribers.
    node0.publish("news", "during", "{}", None).await;
    assert_eq!(next_event(&mut a).await["event"], "during");
    // Cluster-wide queries cannot be answered: 503, not a wrong number.
    let (status, _) = node0
        .api(
            "GET",
            &format!("/apps/{APP}/channels/news"),
            &[("info", "subscription_count")],
            "",
        )
        .await;
    assert_eq!(status, 503);
    let metrics = node0.metrics().await;
    assert_eq!(metric(&metrics, "duplex_redis_up"), Some(0.0), "{metrics}");
    assert!(node0.logged("redis unreachable"), "{}", node0.log());
    // A client joining during the outage is served locally.
    let (mut c, c_id) = node1.connect().await;
    subscribe(&mut c, &c_id, "news", None).await;

    // Redis comes back empty; the nodes rebuild the state.
    redis.restart();
    let info = eventually(Duration::from_secs(15), "state rebuilt", || async {
        let (status, info) = node1
            .api(
                "GET",
                &format!("/apps/{APP}/channels/news"),
                &[("info", "subscription_count")],
                "",
            )
            .await;
        (status == 200 && info["subscription_count"] == 3).then_some(info)
    })
    .await;
    assert_eq!(info["occupied"], true);
    let (_, users) = node0
        .api(
            "GET",
            &format!("/apps/{APP}/channels/presence-team/users"),
            &[],
            "",
        )
        .await;
    assert_eq!(
        users,
        json!({ "users": [{ "id": "ann" }, { "id": "ben" }] })
    );
    assert!(
        node0.logged("redis reachable again") || node0.logged("rebuilt"),
        "{}",
        node0.log()
    );

    // Delivery across nodes resumes (the bus reconnects with backoff).
    let deadline = Instant::now() + Duration::from_secs(15);
    let delivered = loop {
        node0.publish("news", "after", "{}", None).await;
        let got = next_json_within(&mut c, Duration::from_millis(300)).await;
        if let Some(event) = got.filter(|e| e["event"] == "after") {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "cross-node delivery did not resume"
        );
    };
    assert_eq!(delivered["channel"], "news");
    // Nobody was told a member left or joined twice: the outage was not a
    // membership change.
    let mut seen: Vec<Value> = Vec::new();
    while let Some(frame) = next_json_within(&mut b, Duration::from_millis(300)).await {
        seen.push(frame);
    }
    assert!(
        seen.iter()
            .all(|f| !f["event"].as_str().unwrap_or("").contains("member_")),
        "{seen:?}"
    );
    let metrics = node0.metrics().await;
    assert_eq!(metric(&metrics, "duplex_redis_up"), Some(1.0));
    assert!(metric(&metrics, "duplex_redis_outages_total").unwrap_or(0.0) >= 1.0);
}

#[test]
fn incomplete_cluster_settings_are_refused_at_start() {
    let serve = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_duplex"))
            .args(["serve", "--listen", "127.0.0.1:0", "--no-demo"])
            .args(args)
            .env_remove("DUPLEX_APP_SECRET")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = serve(&["--adapter", "redis"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("same app secret"), "{err}");
    let (code, err) = serve(&["--redis-url", "redis://127.0.0.1:1", "--app-secret", "s"]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("--redis-url needs --adapter redis"), "{err}");
    let (code, err) = serve(&[
        "--adapter",
        "redis",
        "--redis-url",
        "http://x",
        "--app-secret",
        "s",
    ]);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("redis.url"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_starts_while_redis_is_down_and_joins_when_it_is_up() {
    let mut redis = Redis::start();
    redis.kill();
    let node = Node::start(&redis, None);
    let (mut ws, id) = node.connect().await;
    subscribe(&mut ws, &id, "presence-early", Some("eve")).await;
    node.publish("presence-early", "local", "{}", None).await;
    assert_eq!(next_event(&mut ws).await["event"], "local");

    redis.restart();
    let other = Node::start(&redis, None);
    let users = eventually(
        Duration::from_secs(15),
        "the early member in Redis",
        || async {
            let (status, users) = other
                .api(
                    "GET",
                    &format!("/apps/{APP}/channels/presence-early/users"),
                    &[],
                    "",
                )
                .await;
            (status == 200 && users["users"] == json!([{ "id": "eve" }])).then_some(users)
        },
    )
    .await;
    assert_eq!(users["users"][0]["id"], "eve");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_connection_quota_holds_across_the_cluster() {
    let redis = Redis::start();
    let a = Node::start_with(&redis, None, "max_connections = 2");
    let b = Node::start_with(&redis, None, "max_connections = 2");
    let (_one, _) = a.connect().await;
    let (_two, _) = b.connect().await;
    // Counted in Redis at each handshake: a third anywhere is over the quota.
    for node in [&a, &b] {
        let url = format!("ws://{}/app/{KEY}?protocol=7", node.addr);
        let (mut ws, _) = duplex::connect(&url).await.expect("connect");
        assert_eq!(close_code(&mut ws).await, 4004);
    }
    // A connection that leaves frees its slot for the cluster.
    drop(_one);
    eventually(Duration::from_secs(5), "a free slot on node b", || async {
        let url = format!("ws://{}/app/{KEY}?protocol=7", b.addr);
        let (mut ws, _) = duplex::connect(&url).await.ok()?;
        let first = next_json_within(&mut ws, Duration::from_millis(500)).await;
        let established = first.is_some_and(|f| f["event"] == "pusher:connection_established");
        if !established {
            return None;
        }
        Some(ws)
    })
    .await;
}
