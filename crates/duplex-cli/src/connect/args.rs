//! The command line of `duplex connect`, and its validation into [`Settings`].
//!
//! Everything that can be checked before connecting is checked here, so a
//! bad command line exits with 64 and never touches the network.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use duplex::WsUrl;
use duplex_pusher::ChannelKind;

use super::backoff::Backoff;

/// What a pipe-mode stream of bytes looks like; see `--binary` in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BinaryMode {
    /// Each read of stdin (at most 64 KiB) goes out as a binary message;
    /// received payloads (text or binary) are written to stdout back to back.
    Raw,
    /// Both ways, each message is a 4-byte big-endian length and then the
    /// payload: stdin frames go out as binary messages; every received
    /// message (text or binary) is written as one frame.
    LengthPrefixed,
}

const ABOUT: &str = "Open a WebSocket connection: interactively on a terminal, as a pipe otherwise";

const LONG_ABOUT: &str = "\
Open a WebSocket connection to a ws:// or wss:// URL.

On a terminal (stdin and stdout both TTYs) it is interactive: type a line to
send it as a text message; received messages print above the prompt with a
timestamp and a direction (< in, > out); binary shows as a hex dump. Commands:
/ping [text], /close [code] [reason], /binary <hex|base64:DATA>, /help, /quit
(Ctrl-D quits too; start a line with // to send text that begins with /).
History is kept in $DUPLEX_HISTORY or ~/.duplex_history.

Otherwise it is a pipe: each stdin line is sent as a text message and each
received message is written to stdout: text as is, binary as one line of
base64. --binary raw and --binary length-prefixed carry binary messages
instead (see --binary). At the end of stdin it sends a close (1000) and waits
for the server's (--keep-open: it listens on); Ctrl-C closes too (twice: quit
at once). The exit status
tells how the connection ended (table below); any failure is one line on stderr
starting with 'duplex connect:'.

With --pusher, URL is a Pusher-protocol server (duplex serve, Soketi, Pusher
itself): it connects to /app/KEY?protocol=7, subscribes to each --channel
(private and presence channels are authorized with --app-secret or
--auth-endpoint), answers pings, and prints every event as one JSON line:
{\"event\":...,\"channel\":...,\"data\":...} with data parsed when it is a JSON string.
stdin lines, if stdin is not a terminal, are sent as they are (e.g. client
events).";

/// Options of `duplex connect`.
#[derive(Debug, clap::Args)]
#[command(about = ABOUT, long_about = LONG_ABOUT, after_long_help = super::exit::exit_code_table())]
pub struct ConnectArgs {
    /// The ws:// or wss:// URL (with --pusher, the server's base URL, e.g. ws://127.0.0.1:6001).
    url: String,
    /// A request header, 'Name: value' (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Offer this subprotocol (repeatable; most preferred first).
    #[arg(long = "subprotocol", value_name = "NAME")]
    subprotocols: Vec<String>,
    /// The Origin header to send.
    #[arg(long)]
    origin: Option<String>,
    /// Send a ping every SECS seconds; no pong by the next one ends the connection (exit 9).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    ping_interval: Option<Duration>,
    /// Offer permessage-deflate (the default).
    #[arg(long, overrides_with = "no_compress")]
    compress: bool,
    /// Do not offer permessage-deflate.
    #[arg(long, overrides_with = "compress")]
    no_compress: bool,
    /// Largest message (and frame) accepted, in bytes; K, M and G suffixes work. Default 64M.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_message_size: Option<usize>,
    /// Pretty-print text messages that are JSON.
    #[arg(long)]
    json: bool,
    /// Pipe mode: carry binary messages on stdin and stdout (without it:
    /// lines of text, received binary as base64).
    #[arg(long, value_enum, value_name = "MODE")]
    binary: Option<BinaryMode>,
    /// Pipe mode: at the end of stdin keep the connection open (listen only) instead of closing it.
    #[arg(long)]
    keep_open: bool,
    /// Accept any server certificate (the connection is encrypted, not authenticated).
    #[arg(short = 'k', long)]
    insecure: bool,
    /// Trust the CA certificates in this PEM file (instead of the built-in roots).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Present this client certificate (PEM; needs --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Reconnect when the connection fails or the server closes it, with exponential backoff.
    #[arg(long)]
    reconnect: bool,
    /// With --reconnect: attempts in a row before giving up.
    #[arg(long, value_name = "N", default_value_t = 10)]
    reconnect_attempts: u32,
    /// With --reconnect: the longest delay between attempts, in seconds.
    #[arg(long, value_name = "SECS", default_value = "30", value_parser = parse_secs)]
    reconnect_max_delay: Duration,
    /// Bound on DNS + TCP connect + TLS + the WebSocket handshake, in seconds.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    timeout: Duration,
    /// Show the handshake request and response headers (and connection details) on stderr.
    #[arg(short, long)]
    verbose: bool,

    /// Speak the Pusher Channels protocol 7 (see --help).
    #[arg(long, help_heading = "Pusher")]
    pusher: bool,
    /// The app key.
    #[arg(
        long,
        value_name = "KEY",
        env = "DUPLEX_APP_KEY",
        default_value = "duplex-key",
        help_heading = "Pusher"
    )]
    app_key: String,
    /// A channel to subscribe to (repeatable).
    #[arg(long = "channel", value_name = "NAME", help_heading = "Pusher")]
    channels: Vec<String>,
    /// Sign private and presence subscriptions locally with the app secret.
    #[arg(
        long,
        value_name = "SECRET",
        env = "DUPLEX_APP_SECRET",
        hide_env_values = true,
        help_heading = "Pusher"
    )]
    app_secret: Option<String>,
    /// Authorize private and presence subscriptions by POSTing socket_id and
    /// channel_name (form data) to this URL, as pusher-js does.
    #[arg(long, value_name = "URL", help_heading = "Pusher")]
    auth_endpoint: Option<String>,
    /// A header for --auth-endpoint requests, 'Name: value' (repeatable).
    #[arg(
        long = "auth-header",
        value_name = "NAME: VALUE",
        help_heading = "Pusher"
    )]
    auth_headers: Vec<String>,
    /// Presence channels: the user id (with --app-secret).
    #[arg(long, value_name = "ID", help_heading = "Pusher")]
    user_id: Option<String>,
    /// Presence channels: the user info, a JSON object (with --app-secret).
    #[arg(long, value_name = "JSON", help_heading = "Pusher")]
    user_info: Option<String>,
}

/// A validated `duplex connect` configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The URL to connect to (for --pusher, with `/app/KEY?...` added).
    pub url: String,
    /// Its parts.
    pub ws_url: WsUrl,
    /// Extra request headers, `Origin` included.
    pub headers: Vec<(String, String)>,
    /// Subprotocols to offer.
    pub subprotocols: Vec<String>,
    /// Offer permessage-deflate.
    pub compress: bool,
    /// Largest message and frame accepted.
    pub max_message_size: Option<usize>,
    /// Keepalive ping period.
    pub ping_interval: Option<Duration>,
    /// Bound on the opening.
    pub timeout: Duration,
    /// TLS settings (`None`: the built-in roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Print handshake details on stderr.
    pub verbose: bool,
    /// Pretty-print JSON text.
    pub json: bool,
    /// Pipe-mode binary framing (`None`: lines).
    pub binary: Option<BinaryMode>,
    /// Pipe mode: the end of stdin does not close the connection.
    pub keep_open: bool,
    /// Reconnection policy.
    pub reconnect: Option<Backoff>,
    /// Pusher mode.
    pub pusher: Option<PusherSettings>,
}

/// The `--pusher` part of the settings.
#[derive(Debug, Clone)]
pub struct PusherSettings {
    /// The app key.
    pub app_key: String,
    /// Channels to subscribe to, in order.
    pub channels: Vec<String>,
    /// The secret, to sign subscriptions locally.
    pub app_secret: Option<String>,
    /// The auth endpoint, to authorize subscriptions remotely.
    pub auth_endpoint: Option<http::Uri>,
    /// Headers for the auth endpoint.
    pub auth_headers: Vec<(String, String)>,
    /// Presence `channel_data` signed with the secret.
    pub channel_data: Option<String>,
}

impl Settings {
    /// Checks the command line; the error is one line for stderr (exit 64).
    pub fn from_args(args: ConnectArgs) -> Result<Settings, String> {
        let mut headers = args
            .headers
            .iter()
            .map(|h| parse_header(h, "--header"))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(origin) = &args.origin {
            check_header_value(origin, "--origin")?;
            headers.push(("Origin".to_string(), origin.clone()));
        }
        for protocol in &args.subprotocols {
            if protocol.is_empty() || !protocol.bytes().all(is_token_byte) {
                return Err(format!("--subprotocol {protocol:?}: not a valid token"));
            }
        }
        if args.binary.is_some() && args.pusher {
            return Err("--binary and --pusher cannot be combined".into());
        }
        if args.pusher && args.json {
            return Err("--json does not apply to --pusher (events are JSON lines already)".into());
        }
        if args.pusher && args.ping_interval.is_some() {
            return Err(
                "--ping-interval does not apply to --pusher (it pings as the Pusher protocol asks)"
                    .into(),
            );
        }
        let pusher = if args.pusher {
            Some(pusher_settings(&args)?)
        } else {
            if !args.channels.is_empty() || args.auth_endpoint.is_some() || args.user_id.is_some() {
                return Err("--channel, --auth-endpoint and --user-id need --pusher".into());
            }
            None
        };
        let url = match &pusher {
            Some(p) => pusher_url(&args.url, &p.app_key)?,
            None => args.url.clone(),
        };
        let ws_url = WsUrl::parse(&url).map_err(|e| e.to_string())?;
        let tls = tls_config(&args)?;
        if tls.is_some() && !ws_url.tls && pusher.as_ref().is_none_or(|p| p.auth_endpoint.is_none())
        {
            return Err("--insecure, --ca, --cert and --key need a wss:// URL".into());
        }
        if args.ping_interval.is_some_and(|d| d.is_zero()) {
            return Err("--ping-interval must be more than 0".into());
        }
        if args.timeout.is_zero() {
            return Err("--timeout must be more than 0".into());
        }
        Ok(Settings {
            url,
            ws_url,
            headers,
            subprotocols: args.subprotocols,
            compress: !args.no_compress,
            max_message_size: args.max_message_size,
            ping_interval: args.ping_interval,
            timeout: args.timeout,
            tls,
            verbose: args.verbose,
            json: args.json,
            binary: args.binary,
            keep_open: args.keep_open,
            reconnect: args
                .reconnect
                .then(|| Backoff::new(args.reconnect_attempts, args.reconnect_max_delay)),
            pusher,
        })
    }
}

fn pusher_settings(args: &ConnectArgs) -> Result<PusherSettings, String> {
    if args.app_key.is_empty()
        || !args
            .app_key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return Err(format!(
            "--app-key {:?}: letters, digits, '-', '_' and '.' only",
            args.app_key
        ));
    }
    let auth_endpoint = match &args.auth_endpoint {
        Some(url) => {
            let uri: http::Uri = url
                .parse()
                .map_err(|e| format!("--auth-endpoint {url}: {e}"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(format!(
                    "--auth-endpoint {url}: an http:// or https:// URL is needed"
                ));
            }
            Some(uri)
        }
        None => None,
    };
    let auth_headers = args
        .auth_headers
        .iter()
        .map(|h| parse_header(h, "--auth-header"))
        .collect::<Result<Vec<_>, _>>()?;
    let can_sign = args.app_secret.is_some() || auth_endpoint.is_some();
    let mut needs_channel_data = false;
    for channel in &args.channels {
        let kind = duplex_pusher::channel::validate_name(channel, 200)
            .map_err(|e| format!("--channel {channel:?}: {e}"))?;
        if kind == ChannelKind::ServerToUser {
            return Err(format!("--channel {channel}: server-to-user channels need a signed-in user, which duplex connect does not do"));
        }
        if kind.requires_auth() && !can_sign {
            return Err(format!(
                "--channel {channel}: a {} channel needs --app-secret or --auth-endpoint",
                kind_name(kind)
            ));
        }
        needs_channel_data |= kind.is_presence();
    }
    let channel_data = match (&args.user_id, &args.user_info) {
        (Some(id), info) => Some(channel_data(id, info.as_deref())?),
        (None, Some(_)) => return Err("--user-info needs --user-id".into()),
        (None, None) => None,
    };
    if needs_channel_data && channel_data.is_none() && auth_endpoint.is_none() {
        return Err("presence channels need --user-id (and optionally --user-info) to sign with --app-secret".into());
    }
    Ok(PusherSettings {
        app_key: args.app_key.clone(),
        channels: args.channels.clone(),
        app_secret: args.app_secret.clone(),
        auth_endpoint,
        auth_headers,
        channel_data,
    })
}

fn kind_name(kind: ChannelKind) -> &'static str {
    if kind.is_presence() {
        "presence"
    } else if kind.is_encrypted() {
        "private-encrypted"
    } else {
        "private"
    }
}

/// The presence `channel_data`: `{"user_id":…,"user_info":…}`.
fn channel_data(user_id: &str, user_info: Option<&str>) -> Result<String, String> {
    if user_id.is_empty() {
        return Err("--user-id must not be empty".into());
    }
    let id = serde_json::to_string(user_id).map_err(|e| e.to_string())?;
    match user_info {
        None => Ok(format!("{{\"user_id\":{id}}}")),
        Some(info) => {
            let value: serde_json::Value =
                serde_json::from_str(info).map_err(|e| format!("--user-info: not JSON: {e}"))?;
            if !value.is_object() {
                return Err("--user-info must be a JSON object".into());
            }
            Ok(format!("{{\"user_id\":{id},\"user_info\":{value}}}"))
        }
    }
}

/// `ws://host:port[/prefix]` + `/app/KEY?protocol=7&client=duplex-cli&version=…`.
pub fn pusher_url(base: &str, app_key: &str) -> Result<String, String> {
    if base.contains('?') || base.contains('#') {
        return Err(format!(
            "{base}: with --pusher, give the server's base URL without a query"
        ));
    }
    let base = base.trim_end_matches('/');
    Ok(format!(
        "{base}/app/{app_key}?protocol=7&client=duplex-cli&version={}&flash=false",
        env!("CARGO_PKG_VERSION")
    ))
}

fn tls_config(args: &ConnectArgs) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    let identity = args.cert.as_deref().zip(args.key.as_deref());
    if args.insecure {
        if args.ca.is_some() {
            return Err("--insecure and --ca cannot be combined".into());
        }
        let config = duplex::tls::insecure_client_config();
        let Some((cert, key)) = identity else {
            return Ok(Some(config));
        };
        let certs = duplex::tls::load_certs(cert).map_err(|e| e.to_string())?;
        let key = duplex::tls::load_key(key).map_err(|e| e.to_string())?;
        let provider = rustls::crypto::ring::default_provider();
        let certified = rustls::sign::CertifiedKey::from_der(certs, key, &provider)
            .map_err(|e| format!("--cert/--key: {e}"))?;
        let mut config = (*config).clone();
        config.client_auth_cert_resolver =
            Arc::new(rustls::sign::SingleCertAndKey::from(certified));
        return Ok(Some(Arc::new(config)));
    }
    if args.ca.is_none() && identity.is_none() {
        return Ok(None);
    }
    let ca: Vec<&std::path::Path> = args.ca.as_deref().into_iter().collect();
    duplex::tls::client_config_with_ca(&ca, args.ca.is_none(), identity)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// Parses `Name: value`.
pub fn parse_header(text: &str, option: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{option} {text:?}: expected 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!(
            "{option} {text:?}: {name:?} is not a valid header name"
        ));
    }
    let value = value.trim();
    check_header_value(value, option)?;
    Ok((name.to_string(), value.to_string()))
}

fn check_header_value(value: &str, option: &str) -> Result<(), String> {
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(format!(
            "{option}: header values may not contain CR, LF or NUL"
        ));
    }
    Ok(())
}

/// An RFC 9110 token character.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Seconds, possibly fractional: `10`, `0.5`.
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !secs.is_finite() || !(0.0..=1e9).contains(&secs) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A byte count with an optional K, M or G suffix (powers of 1024; `KiB`,
/// `MB` and the like are read the same way).
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("{text:?}: unknown unit (use K, M or G)")),
    };
    number
        .checked_mul(1 << shift)
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ConnectArgs,
    }

    fn settings(args: &[&str]) -> Result<Settings, String> {
        let cli = Cli::try_parse_from(std::iter::once("connect").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Settings::from_args(cli.args)
    }

    #[test]
    fn plain_settings() {
        let s = settings(&[
            "-H",
            "A: b",
            "--origin",
            "http://o",
            "--no-compress",
            "ws://127.0.0.1:9/x",
        ])
        .unwrap();
        assert_eq!(
            s.headers,
            [
                ("A".to_string(), "b".to_string()),
                ("Origin".to_string(), "http://o".to_string())
            ]
        );
        assert!(!s.compress);
        assert_eq!(s.ws_url.resource, "/x");
        assert!(s.tls.is_none() && s.pusher.is_none() && s.reconnect.is_none());
        assert!(settings(&["--compress", "ws://h/"]).unwrap().compress);
    }

    #[test]
    fn command_line_mistakes() {
        for (args, why) in [
            (&["--insecure", "ws://h/"][..], "TLS options on ws://"),
            (
                &["--pusher", "--channel", "private-a", "ws://h"],
                "private channel, no secret",
            ),
            (
                &[
                    "--pusher",
                    "--app-secret",
                    "s",
                    "--channel",
                    "presence-a",
                    "ws://h",
                ],
                "presence, no user id",
            ),
            (
                &[
                    "--pusher",
                    "--channel",
                    "#server-to-user-1",
                    "--app-secret",
                    "s",
                    "ws://h",
                ],
                "server-to-user",
            ),
            (
                &["--pusher", "--binary", "raw", "ws://h"],
                "--binary with --pusher",
            ),
            (
                &["--pusher", "--ping-interval", "5", "ws://h"],
                "--ping-interval with --pusher",
            ),
            (&["--user-id", "1", "ws://h"], "--user-id without --pusher"),
            (&["--subprotocol", "a b", "ws://h"], "bad subprotocol"),
            (&["--timeout", "0", "ws://h"], "zero timeout"),
            (&["--cert", "c.pem", "wss://h"], "--cert without --key"),
            (&["--ca", "/nonexistent/ca.pem", "wss://h"], "unreadable CA"),
        ] {
            assert!(settings(args).is_err(), "{why}: {args:?} was accepted");
        }
    }

    #[test]
    fn client_certificates_load_with_and_without_insecure() {
        let dir = std::env::temp_dir().join(format!("duplex-connect-args-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["client".to_string()]).unwrap();
        let (cert_file, key_file) = (dir.join("c.pem"), dir.join("k.pem"));
        std::fs::write(&cert_file, cert.cert.pem()).unwrap();
        std::fs::write(&key_file, cert.key_pair.serialize_pem()).unwrap();
        let (c, k) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
        let insecure = settings(&["--insecure", "--cert", c, "--key", k, "wss://h/"]).unwrap();
        assert!(insecure.tls.unwrap().client_auth_cert_resolver.has_certs());
        let with_ca = settings(&["--ca", c, "--cert", c, "--key", k, "wss://h/"]).unwrap();
        assert!(with_ca.tls.unwrap().client_auth_cert_resolver.has_certs());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn pusher_settings_build_the_url() {
        let s = settings(&[
            "--pusher",
            "--app-key",
            "k",
            "--channel",
            "a",
            "--channel",
            "presence-b",
            "--app-secret",
            "s",
            "--user-id",
            "7",
            "ws://127.0.0.1:6001",
        ])
        .unwrap();
        assert!(s
            .url
            .starts_with("ws://127.0.0.1:6001/app/k?protocol=7&client=duplex-cli&version="));
        let pusher = s.pusher.unwrap();
        assert_eq!(pusher.channels, ["a", "presence-b"]);
        assert_eq!(pusher.channel_data.as_deref(), Some(r#"{"user_id":"7"}"#));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("-1").is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("10"), Ok(Duration::from_secs(10)));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("Authorization:  Bearer x ", "-H"),
            Ok(("Authorization".into(), "Bearer x".into()))
        );
        assert!(parse_header("no colon", "-H").is_err());
        assert!(parse_header("Bad Name: x", "-H").is_err());
        assert!(parse_header(": x", "-H").is_err());
    }

    #[test]
    fn pusher_urls() {
        assert_eq!(
            pusher_url("ws://127.0.0.1:6001/", "k").unwrap(),
            format!(
                "ws://127.0.0.1:6001/app/k?protocol=7&client=duplex-cli&version={}&flash=false",
                env!("CARGO_PKG_VERSION")
            )
        );
        assert!(pusher_url("ws://h/?x=1", "k").is_err());
    }

    #[test]
    fn presence_channel_data() {
        assert_eq!(channel_data("7", None).unwrap(), r#"{"user_id":"7"}"#);
        assert_eq!(
            channel_data("ann", Some(r#"{"name": "Ann"}"#)).unwrap(),
            r#"{"user_id":"ann","user_info":{"name":"Ann"}}"#
        );
        assert!(channel_data("ann", Some("[1]")).is_err());
    }
}
