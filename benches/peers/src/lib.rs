//! What the peer echo servers share: the command line.

use std::net::SocketAddr;

/// Parses `--listen ADDR` (default `127.0.0.1:9001`) from the command line.
pub fn listen_addr() -> SocketAddr {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:9001".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => {
                addr = args
                    .next()
                    .unwrap_or_else(|| usage("--listen needs a value"))
            }
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    addr.parse()
        .unwrap_or_else(|e| usage(&format!("bad address {addr:?}: {e}")))
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "usage: {} [--listen 127.0.0.1:9001]",
        std::env::args().next().unwrap_or_default()
    );
    std::process::exit(if problem.is_empty() { 0 } else { 64 })
}
