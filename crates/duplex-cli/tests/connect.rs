//! `duplex connect`, run as a user would: the built binary against servers
//! on 127.0.0.1, in pipe mode, `--pusher` mode and on a pseudo-terminal.
//! Each exit status of the table in `duplex connect --help` that can be
//! produced on loopback is checked here.

mod connect_support;

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use connect_support::*;
use duplex::{CloseCode, Message};
use futures_util::StreamExt;

/// Exit statuses (see `duplex connect --help`).
const CLEAN: i32 = 0;
const REFUSED: i32 = 4;
const TLS: i32 = 5;
const HTTP_STATUS: i32 = 6;
const PROTOCOL: i32 = 7;
const ABNORMAL: i32 = 8;
const TIMEOUT: i32 = 9;
const CLOSE_CODE: i32 = 10;
const AUTH: i32 = 11;
const USAGE: i32 = 64;

fn ws_url(addr: &str) -> String {
    format!("ws://{addr}/")
}

// ----- pipe mode -----------------------------------------------------------

#[test]
fn pipe_lines_come_back_from_the_echo_server() {
    let echo = echo_server(&[]);
    let input = "hello\nsecond line\n{\"json\": true}\n\nlast line without newline";
    let run = connect(&[&ws_url(&echo.addr)], input.as_bytes());
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(
        run.stdout_text(),
        "hello\nsecond line\n{\"json\": true}\n\nlast line without newline\n"
    );
    assert_eq!(run.stderr, "", "a clean run prints nothing on stderr");
}

#[test]
fn thousands_of_lines_come_back_complete_and_in_order() {
    let echo = echo_server(&[]);
    let input: String = (0..5000).map(|i| format!("line {i}\n")).collect();
    let run = connect(&[&ws_url(&echo.addr)], input.as_bytes());
    assert_eq!(run.code(), CLEAN, "{}", run.stderr);
    assert!(
        run.stdout_text() == input,
        "{} of {} bytes came back",
        run.stdout.len(),
        input.len()
    );
}

#[test]
fn pipe_mode_without_compression_and_with_json() {
    let echo = echo_server(&[]);
    let run = connect(
        &["--no-compress", "--json", &ws_url(&echo.addr)],
        b"{\"a\":[1,2]}\n",
    );
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout_text(), "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n");
}

#[test]
fn binary_length_prefixed_frames_round_trip() {
    let echo = echo_server(&[]);
    let payloads: [&[u8]; 4] = [
        b"\x00\x01\x02\xff",
        b"",
        b"line\nbreaks\r\n",
        &[0xab; 100_000],
    ];
    let mut framed = Vec::new();
    for payload in payloads {
        framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        framed.extend_from_slice(payload);
    }
    let run = connect(
        &["--binary", "length-prefixed", &ws_url(&echo.addr)],
        &framed,
    );
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert!(
        run.stdout == framed,
        "the echoed frames differ ({} bytes vs {})",
        run.stdout.len(),
        framed.len()
    );
}

#[test]
fn binary_raw_mode_passes_bytes_through() {
    let echo = echo_server(&[]);
    let run = connect(
        &["--binary", "raw", &ws_url(&echo.addr)],
        b"\x00raw\xffbytes",
    );
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout, b"\x00raw\xffbytes");
}

#[test]
fn received_binary_prints_as_base64_in_line_mode() {
    let addr = ws_server(duplex::Config::default(), |_, mut ws| async move {
        let _ = ws.send(Message::binary(vec![0u8, 1, 2, 0xff])).await;
        let _ = ws.send(Message::text("and text")).await;
        let _ = ws.close(CloseCode::NORMAL, "done").await;
    });
    let run = connect(&["--keep-open", &ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout_text(), "AAEC/w==\nand text\n");
}

#[test]
fn verbose_shows_both_handshake_heads() {
    let echo = echo_server(&[]);
    let run = connect(
        &[
            "-v",
            "-H",
            "X-Debug: 1",
            "--origin",
            "http://example.test",
            "--subprotocol",
            "chat",
            &ws_url(&echo.addr),
        ],
        b"hi\n",
    );
    assert_eq!(run.code(), CLEAN, "{run:?}");
    for expected in [
        "> GET / HTTP/1.1",
        "> X-Debug: 1",
        "> Origin: http://example.test",
        "> Sec-WebSocket-Protocol: chat",
        "< HTTP/1.1 101 Switching Protocols",
        "< Sec-WebSocket-Accept: ",
    ] {
        assert!(
            run.stderr.contains(expected),
            "no {expected:?} in {}",
            run.stderr
        );
    }
    assert_eq!(run.stdout_text(), "hi\n");
}

// ----- how connections end: one stderr line, one exit status ---------------

fn assert_one_error_line(run: &Run, containing: &str) {
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got {:?}", run.stderr);
    assert!(lines[0].starts_with("duplex connect: "), "{:?}", lines[0]);
    assert!(
        lines[0].contains(containing),
        "{:?} does not mention {containing:?}",
        lines[0]
    );
}

#[test]
fn refused_connection() {
    let run = connect(&[&format!("ws://127.0.0.1:{}/", closed_port())], b"");
    assert_eq!(run.code(), REFUSED, "{run:?}");
    assert_one_error_line(&run, "connection refused");
}

#[test]
fn non_101_answer_shows_the_status_and_body() {
    let addr = tcp_server(1, |mut tcp| {
        let mut head = [0u8; 4096];
        let _ = tcp.read(&mut head);
        let body = "no such endpoint\n";
        let _ = write!(tcp, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    });
    let run = connect(&[&ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), HTTP_STATUS, "{run:?}");
    assert_one_error_line(&run, "HTTP 404 Not Found");
    assert!(run.stderr.contains("no such endpoint"), "{}", run.stderr);
}

#[test]
fn non_101_from_the_pusher_server_health_check() {
    let server = pusher_server("s3cret");
    let run = connect(&[&format!("ws://{}/healthz", server.addr)], b"");
    assert_eq!(run.code(), HTTP_STATUS, "{run:?}");
    assert_one_error_line(&run, "HTTP 200 OK");
}

#[test]
fn silent_server_times_out() {
    let (hold_tx, hold_rx) = std::sync::mpsc::channel::<std::net::TcpStream>();
    let addr = tcp_server(1, move |tcp| {
        // Keep the connection open and say nothing.
        let _ = hold_tx.send(tcp);
    });
    let run = connect(&["--timeout", "0.5", &ws_url(&addr.to_string())], b"");
    drop(hold_rx);
    assert_eq!(run.code(), TIMEOUT, "{run:?}");
    assert_one_error_line(&run, "timed out");
}

#[test]
fn server_closing_with_an_error_code() {
    let addr = ws_server(duplex::Config::default(), |_, mut ws| async move {
        let _ = ws.close(CloseCode(4001), "app disabled").await;
    });
    let run = connect(&["--keep-open", &ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), CLOSE_CODE, "{run:?}");
    assert_one_error_line(
        &run,
        "closed by the server: 4001 (private use), reason \"app disabled\"",
    );
}

#[test]
fn keep_open_listens_after_the_end_of_stdin() {
    let addr = ws_server(duplex::Config::default(), |_, mut ws| async move {
        // Speak only after the client's stdin has ended.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = ws.send(Message::text("late news")).await;
        let _ = ws.close(CloseCode::NORMAL, "").await;
    });
    let run = connect(&["--keep-open", &ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout_text(), "late news\n");
}

#[test]
fn server_going_away_is_clean() {
    let addr = ws_server(duplex::Config::default(), |_, mut ws| async move {
        let _ = ws.close(CloseCode::GOING_AWAY, "restart").await;
    });
    let run = connect(&["--keep-open", &ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), CLEAN, "{run:?}");
}

#[test]
fn a_message_over_the_limit_closes_with_1009() {
    let addr = ws_server(duplex::Config::default(), |_, mut ws| async move {
        let _ = ws.send(Message::text("x".repeat(100))).await;
        while ws.next().await.is_some() {}
    });
    let run = connect(
        &[
            "--keep-open",
            "--max-message-size",
            "64",
            &ws_url(&addr.to_string()),
        ],
        b"",
    );
    assert_eq!(run.code(), CLOSE_CODE, "{run:?}");
    assert_one_error_line(&run, "1009 (message too big)");
}

#[test]
fn dropped_connection_is_abnormal() {
    let addr = ws_server(duplex::Config::default(), |_, ws| async move {
        drop(ws);
    });
    let run = connect(&["--keep-open", &ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), ABNORMAL, "{run:?}");
    assert_one_error_line(&run, "1006");
}

#[test]
fn a_bad_frame_is_a_protocol_error() {
    let addr = ws_server(duplex::Config::default(), |_, mut ws| async move {
        use tokio::io::AsyncWriteExt;
        // FIN + reserved opcode 0x3: a client must fail the connection (1002).
        let _ = ws.get_mut().write_all(&[0x83, 0x00]).await;
        while ws.next().await.is_some() {}
    });
    let run = connect(&["--keep-open", &ws_url(&addr.to_string())], b"");
    assert_eq!(run.code(), PROTOCOL, "{run:?}");
    assert_one_error_line(&run, "1002");
}

#[test]
fn unanswered_keepalive_pings_time_out() {
    // This server does not answer pings.
    let addr = ws_server(
        duplex::Config::default().auto_pong(false),
        |_, mut ws| async move { while ws.next().await.is_some() {} },
    );
    let mut child = duplex()
        .args([
            "connect",
            "--ping-interval",
            "0.2",
            &ws_url(&addr.to_string()),
        ])
        .stdin(Stdio::piped()) // kept open: only the ping timeout ends the run
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdin = child.stdin.take();
    let run = finish(child);
    drop(stdin);
    assert_eq!(run.code(), TIMEOUT, "{run:?}");
    assert_one_error_line(&run, "no pong");
}

#[test]
fn usage_errors_exit_64() {
    for args in [
        &["-H", "no colon here", "ws://127.0.0.1:1/"][..],
        &["ftp://127.0.0.1/"],
        &["--bogus-flag", "ws://127.0.0.1:1/"],
        &["--max-message-size", "12 parsecs", "ws://127.0.0.1:1/"],
        &["--pusher", "--channel", "private-x", "ws://127.0.0.1:1"],
        &["--channel", "news", "ws://127.0.0.1:1"],
    ] {
        let run = connect(args, b"");
        assert_eq!(run.code(), USAGE, "{args:?}: {run:?}");
        assert!(!run.stderr.is_empty());
    }
}

#[test]
fn help_documents_the_exit_statuses() {
    let run = connect(&["--help"], b"");
    assert_eq!(run.code(), 0);
    let help = run.stdout_text();
    for needle in [
        "Exit status:",
        "connection refused",
        "HTTP status != 101",
        "usage error",
        "--binary",
        "length-prefixed",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}");
    }
}

#[test]
fn reconnects_after_the_server_restarts() {
    // The first connection is told the service restarts; the second echoes.
    let addr = ws_server(duplex::Config::default(), |n, mut ws| async move {
        if n == 0 {
            let _ = ws.close(CloseCode::SERVICE_RESTART, "restarting").await;
            return;
        }
        while let Some(Ok(message)) = ws.next().await {
            if message.is_data() && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    let mut child = duplex()
        .args([
            "connect",
            "--reconnect",
            "--reconnect-max-delay",
            "0.2",
            &ws_url(&addr.to_string()),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let stderr = lines_of(child.stderr.take().expect("stderr"));
    let notice = wait_for_line(&stderr, "a reconnect notice", |l| {
        l.contains("reconnecting in")
    });
    assert!(notice.contains("1012 (service restart)"), "{notice}");
    stdin
        .write_all(b"after the restart\n")
        .expect("write stdin");
    drop(stdin);
    let run = finish(child);
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout_text(), "after the restart\n");
}

#[test]
fn reconnect_gives_up_after_the_attempts() {
    let port = closed_port();
    let run = connect(
        &[
            "--keep-open",
            "--reconnect",
            "--reconnect-attempts",
            "2",
            "--reconnect-max-delay",
            "0.05",
            &format!("ws://127.0.0.1:{port}/"),
        ],
        b"",
    );
    assert_eq!(run.code(), REFUSED, "{run:?}");
    assert_eq!(
        run.stderr.matches("reconnecting in").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("gave up after 2 reconnection attempts"),
        "{}",
        run.stderr
    );
}

// ----- TLS -----------------------------------------------------------------

#[test]
fn wss_needs_a_trusted_certificate() {
    let dir = TempDir::new("tls");
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("certificate");
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_file, cert.key_pair.serialize_pem()).expect("write key");
    let echo = echo_server(&["--tls-cert", &cert_file, "--tls-key", &key_file]);
    let url = format!("wss://{}/", echo.addr);

    let run = connect(&[&url], b"x\n");
    assert_eq!(run.code(), TLS, "{run:?}");
    assert_one_error_line(&run, "--ca");

    let run = connect(&["--ca", &cert_file, &url], b"trusted\n");
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout_text(), "trusted\n");

    let run = connect(&["--insecure", &url], b"insecure\n");
    assert_eq!(run.code(), CLEAN, "{run:?}");
    assert_eq!(run.stdout_text(), "insecure\n");
}

// ----- --pusher ------------------------------------------------------------

/// Spawns `duplex connect --pusher` and returns it with its stdout lines.
fn pusher_client(args: &[&str]) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    let mut child = duplex()
        .arg("connect")
        .arg("--pusher")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = lines_of(child.stdout.take().expect("stdout"));
    (child, lines)
}

fn json(line: &str) -> serde_json::Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?} is not JSON: {e}"))
}

fn subscribed(lines: &std::sync::mpsc::Receiver<String>, channel: &str) -> serde_json::Value {
    let line = wait_for_line(
        lines,
        &format!("subscription_succeeded on {channel}"),
        |l| {
            let v = json(l);
            v["event"] == "pusher_internal:subscription_succeeded" && v["channel"] == channel
        },
    );
    json(&line)
}

#[test]
fn pusher_mode_prints_published_events_as_json_lines() {
    let server = pusher_server("s3cret");
    let (mut child, lines) = pusher_client(&[
        &format!("ws://{}", server.addr),
        "--app-key",
        "duplex-key",
        "--channel",
        "news",
    ]);
    let established = json(&wait_for_line(&lines, "connection_established", |l| {
        l.contains("pusher:connection_established")
    }));
    assert!(
        established["data"]["socket_id"].is_string(),
        "data is parsed: {established}"
    );
    subscribed(&lines, "news");

    // Publish through the HTTP API, signed as the SDKs do.
    let body = r#"{"name":"greeting","channel":"news","data":"{\"hello\":\"world\"}"}"#;
    let credentials = duplex_pusher::Credentials {
        key: "duplex-key",
        secret: "s3cret",
    };
    let path = "/apps/duplex/events";
    let query = duplex_pusher::ApiRequest::signed_query(
        credentials,
        "POST",
        path,
        &[],
        body.as_bytes(),
        unix_now(),
    );
    let (status, answer) = http_request(&server.addr, "POST", &format!("{path}?{query}"), body);
    assert!(status.contains(" 200 "), "{status}: {answer}");

    let line = wait_for_line(&lines, "the greeting event", |l| l.contains("greeting"));
    assert_eq!(
        line,
        r#"{"event":"greeting","channel":"news","data":{"hello":"world"}}"#
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn pusher_private_and_presence_channels_signed_with_the_secret() {
    let server = pusher_server("s3cret");
    let (mut child, lines) = pusher_client(&[
        &format!("ws://{}", server.addr),
        "--app-secret",
        "s3cret",
        "--channel",
        "private-orders",
        "--channel",
        "presence-room",
        "--user-id",
        "ann",
        "--user-info",
        r#"{"name":"Ann"}"#,
    ]);
    subscribed(&lines, "private-orders");
    let presence = subscribed(&lines, "presence-room");
    assert_eq!(
        presence["data"]["presence"]["hash"]["ann"]["name"], "Ann",
        "{presence}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn pusher_auth_endpoint_signs_subscriptions() {
    let server = pusher_server("s3cret");
    // A tiny auth endpoint: reads the form, answers {"auth": ...}.
    let auth = tcp_server(1, |mut tcp| {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        let form = loop {
            let n = tcp.read(&mut buf).unwrap_or(0);
            if n == 0 {
                return;
            }
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    assert!(
                        head.contains("x-session: abc"),
                        "the auth header is sent: {head}"
                    );
                    break body.to_string();
                }
            }
        };
        let field = |name: &str| {
            form.split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap_or_default()
                .to_string()
        };
        let socket_id = duplex_pusher::SocketId::parse(&field("socket_id")).expect("socket_id");
        let channel = field("channel_name");
        let credentials = duplex_pusher::Credentials {
            key: "duplex-key",
            secret: "s3cret",
        };
        let token = duplex_pusher::auth::channel_token(credentials, &socket_id, &channel, None);
        let body = format!("{{\"auth\":\"{token}\"}}");
        let _ = write!(
            tcp,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
    });
    let (mut child, lines) = pusher_client(&[
        &format!("ws://{}", server.addr),
        "--auth-endpoint",
        &format!("http://{auth}/pusher/auth"),
        "--auth-header",
        "X-Session: abc",
        "--channel",
        "private-inbox",
    ]);
    subscribed(&lines, "private-inbox");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn pusher_auth_endpoint_refusal_exits_11() {
    let server = pusher_server("s3cret");
    let auth = tcp_server(1, |mut tcp| {
        let mut buf = [0u8; 4096];
        let _ = tcp.read(&mut buf);
        let _ = write!(
            tcp,
            "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden"
        );
    });
    let (child, _lines) = pusher_client(&[
        &format!("ws://{}", server.addr),
        "--auth-endpoint",
        &format!("http://{auth}/auth"),
        "--channel",
        "private-inbox",
    ]);
    let run = finish(child);
    assert_eq!(run.code(), AUTH, "{run:?}");
    assert_one_error_line(&run, "HTTP 403 forbidden");
}

#[test]
fn pusher_wrong_app_key_ends_with_the_pusher_close_code() {
    let server = pusher_server("s3cret");
    let (child, lines) = pusher_client(&[
        &format!("ws://{}", server.addr),
        "--app-key",
        "nope",
        "--channel",
        "news",
    ]);
    let run = finish(child);
    let error = wait_for_line(&lines, "pusher:error", |l| l.contains("pusher:error"));
    assert_eq!(json(&error)["data"]["code"], 4001, "{error}");
    assert_eq!(run.code(), CLOSE_CODE, "{run:?}");
    assert_one_error_line(&run, "4001");
}

// ----- interactive mode, on a pseudo-terminal -------------------------------

/// A pseudo-terminal: the child gets the slave side as stdin, stdout and
/// stderr; the test reads and types on the master side.
struct Pty {
    master: std::fs::File,
    slave: std::fs::File,
}

fn open_pty() -> Pty {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("utf-8 pts name"))
        .expect("open the slave");
    let size = rustix::termios::Winsize {
        ws_row: 40,
        ws_col: 120,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&slave, size).expect("set the window size");
    Pty {
        master: std::fs::File::from(master),
        slave,
    }
}

#[test]
fn interactive_session_on_a_terminal() {
    let echo = echo_server(&[]);
    let dir = TempDir::new("history");
    let pty = open_pty();
    let mut child = duplex()
        .args(["connect", &ws_url(&echo.addr)])
        .env("TERM", "xterm")
        .env("DUPLEX_HISTORY", dir.join("history"))
        .stdin(pty.slave.try_clone().expect("slave fd"))
        .stdout(pty.slave.try_clone().expect("slave fd"))
        .stderr(pty.slave.try_clone().expect("slave fd"))
        .spawn()
        .expect("spawn on the pty");
    drop(pty.slave);
    let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    {
        let screen = screen.clone();
        let mut master = pty.master.try_clone().expect("master fd");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = master.read(&mut buf) {
                if n == 0 {
                    break;
                }
                screen
                    .lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
    }
    let wait_for = |needle: &str| {
        let started = std::time::Instant::now();
        loop {
            let text = strip_ansi(&screen.lock().expect("lock"));
            if text.contains(needle) {
                return;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "{needle:?} never showed; the screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let mut keyboard = pty.master;
    wait_for("* connected to ws://");
    keyboard.write_all(b"hello over the wire\r").expect("type");
    wait_for("< hello over the wire");
    wait_for("> hello over the wire");
    keyboard.write_all(b"/binary 48 69 00\r").expect("type");
    wait_for("< binary, 3 bytes");
    wait_for("|Hi.|");
    keyboard.write_all(b"/ping marco\r").expect("type");
    wait_for("< pong \"marco\"");
    keyboard.write_all(b"/close 1000 see you\r").expect("type");
    wait_for("< close 1000 (normal closure)");
    wait_for("* connection closed: 1000 (normal closure)");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < DEADLINE, "the client did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(CLEAN));
    let history = std::fs::read_to_string(dir.join("history")).unwrap_or_default();
    assert!(
        history.contains("hello over the wire"),
        "history: {history:?}"
    );
}

#[test]
fn version_names_the_version_and_the_features() {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_duplex"))
        .arg("--version")
        .output()
        .expect("run duplex --version");
    assert!(run.status.success(), "{run:?}");
    let text = String::from_utf8(run.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(concat!("duplex ", env!("CARGO_PKG_VERSION")))
    );
    assert_eq!(lines.next(), Some("features: tls, hyper"), "{text}");
    assert!(text.contains("permessage-deflate"), "{text}");
}
