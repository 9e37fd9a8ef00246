//! Helpers for the `duplex connect` tests: servers started on 127.0.0.1
//! port 0 (child processes of the same binary, or scripted in-process), and
//! a way to run the client with a deadline.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use duplex::{Acceptor, WebSocket};
use tokio::net::TcpStream;

/// How long anything may take before a test gives up: generous, so a
/// loaded machine does not fail a test; a passing test never waits for it.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The binary under test.
pub fn duplex() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_duplex"));
    command
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("DUPLEX_APP_SECRET");
    command
}

/// A child process killed when dropped.
pub struct Server {
    /// The server process.
    pub child: Child,
    /// Where it listens (`127.0.0.1:port`).
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `duplex ARGS` and waits for the stderr line holding `marker`
/// followed by the address. The rest of stderr is drained in the background.
fn spawn_server(args: &[&str], marker: &str) -> Server {
    let mut child = duplex()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the server");
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = mpsc::channel();
    let marker = marker.to_string();
    std::thread::spawn(move || {
        let mut found = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if !found {
                if let Some(at) = line.find(&marker) {
                    let rest = &line[at + marker.len()..];
                    let addr: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    found = true;
                    let _ = tx.send(addr);
                }
            }
        }
    });
    let addr = rx
        .recv_timeout(DEADLINE)
        .expect("the server announces its address");
    Server { child, addr }
}

/// `duplex echo` on a free port (extra args, e.g. TLS).
pub fn echo_server(extra: &[&str]) -> Server {
    let mut args = vec!["echo", "--listen", "127.0.0.1:0", "--threads", "1"];
    args.extend_from_slice(extra);
    let marker = if extra.contains(&"--tls-cert") {
        "wss://"
    } else {
        "ws://"
    };
    spawn_server(&args, marker)
}

/// `duplex serve` on a free port with the default app (`duplex` /
/// `duplex-key`) and this secret.
pub fn pusher_server(secret: &str) -> Server {
    spawn_server(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--app-secret",
            secret,
            "--no-demo",
            "--drain",
            "0",
        ],
        "http://",
    )
}

/// A finished client run.
#[derive(Debug)]
pub struct Run {
    /// Its exit status.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Run {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.status.code().expect("exited, not killed")
    }

    /// stdout as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `duplex connect ARGS` with `stdin`, within [`DEADLINE`].
pub fn connect(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = duplex()
        .arg("connect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn duplex connect");
    let mut input = child.stdin.take().expect("piped stdin");
    let stdin = stdin.to_vec();
    std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    finish(child)
}

/// Waits for a client within [`DEADLINE`] and collects its output.
pub fn finish(mut child: Child) -> Run {
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("duplex connect did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = stdout.recv_timeout(DEADLINE).unwrap_or_default();
    let stderr =
        String::from_utf8_lossy(&stderr.recv_timeout(DEADLINE).unwrap_or_default()).into_owned();
    Run {
        status,
        stdout,
        stderr,
    }
}

/// Reads a pipe to its end on a thread.
pub fn read_all(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut out);
        }
        let _ = tx.send(out);
    });
    rx
}

/// Lines of a child's pipe, as they come.
pub fn lines_of(pipe: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line that satisfies `pred`, returning it; panics at the deadline.
pub fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let started = Instant::now();
    let mut seen = Vec::new();
    while let Some(left) = DEADLINE.checked_sub(started.elapsed()) {
        match lines.recv_timeout(left) {
            Ok(line) if pred(&line) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {what}; saw {seen:#?}");
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A raw TCP server on a thread: `handle` gets each connection, for up to
/// `connections` of them.
pub fn tcp_server(
    connections: usize,
    handle: impl Fn(std::net::TcpStream) + Send + 'static,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections).flatten() {
            handle(stream);
        }
    });
    addr
}

/// A WebSocket server in this process that runs `script` on each accepted
/// connection (the n-th connection gets n = 0, 1, ...), with `config`.
pub fn ws_server<F, Fut>(config: duplex::Config, script: F) -> SocketAddr
where
    F: Fn(usize, WebSocket<TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr"))
                .expect("send addr");
            let acceptor = Acceptor::new().config(config);
            let mut n = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                if let Ok(ws) = acceptor.accept(tcp).await {
                    tokio::spawn(script(n, ws));
                }
                n += 1;
            }
        });
    });
    rx.recv_timeout(DEADLINE)
        .expect("the scripted server starts")
}

/// Text with ANSI escape sequences removed.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('[') => {
                // CSI: parameters, then one final byte in @..~.
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            Some(']') => {
                // OSC: up to BEL or ST.
                while let Some(c) = chars.next() {
                    if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The current unix time, for signing API requests.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A plain HTTP/1.1 request over TCP; returns the status line and body.
pub fn http_request(addr: &str, method: &str, target: &str, body: &str) -> (String, String) {
    let mut tcp = std::net::TcpStream::connect(addr).expect("connect to the HTTP API");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    write!(
        tcp,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send the request");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    let status = answer.lines().next().unwrap_or_default().to_string();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh directory under the system's temporary directory.
    pub fn new(name: &str) -> TempDir {
        let unique = format!(
            "duplex-connect-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
