//! `duplex autobahn-client`: runs the Autobahn TestSuite's client cases.
//!
//! The suite (`wstest -m fuzzingserver`) tells the case count at
//! `/getCaseCount`; for each case the client connects to
//! `/runCase?case=N&agent=A` and echoes every message until the close; then
//! `/updateReports?agent=A` makes the suite write its report.

use anyhow::{bail, Context, Result};
use duplex::{ClientBuilder, Config, DeflateConfig, Message};
use futures_util::StreamExt;

/// Options of `duplex autobahn-client`.
#[derive(Debug, clap::Args)]
pub struct AutobahnArgs {
    /// The suite's address.
    #[arg(long, env = "AUTOBAHN_URL", default_value = "ws://127.0.0.1:9001")]
    url: String,
    /// The agent name the report lists.
    #[arg(long, default_value = "duplex")]
    agent: String,
    /// Do not offer permessage-deflate.
    #[arg(long)]
    no_compress: bool,
}

/// Runs every case, then asks for the report.
pub fn run(args: AutobahnArgs) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run_all(args))
}

fn builder(args: &AutobahnArgs, path: &str) -> Result<ClientBuilder> {
    let config = Config::default()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20)
        .deflate((!args.no_compress).then(DeflateConfig::default));
    Ok(ClientBuilder::new(&format!("{}{path}", args.url.trim_end_matches('/')))?.config(config))
}

async fn run_all(args: AutobahnArgs) -> Result<()> {
    let (mut ws, _) = builder(&args, "/getCaseCount")?
        .connect()
        .await
        .context("connecting to the suite")?;
    let count: u32 = match ws.next().await {
        Some(Ok(Message::Text(text))) => text.trim().parse().context("case count")?,
        other => bail!("expected the case count, got {other:?}"),
    };
    let _ = ws.close(duplex::CloseCode::NORMAL, "").await;
    tracing::info!("running {count} cases");
    for case in 1..=count {
        let path = format!("/runCase?case={case}&agent={}", args.agent);
        if let Err(e) = run_case(builder(&args, &path)?).await {
            tracing::debug!("case {case}: {e}");
        }
    }
    let path = format!("/updateReports?agent={}", args.agent);
    let (mut ws, _) = builder(&args, &path)?.connect().await?;
    while ws.next().await.is_some() {}
    tracing::info!("reports updated");
    Ok(())
}

async fn run_case(builder: ClientBuilder) -> Result<(), duplex::Error> {
    let (mut ws, _) = builder.connect().await?;
    crate::echo::echo_messages(&mut ws).await
}
