//! `tally-gateway`: serves ingestion, the API and the dashboard (see `cli`).

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tally_gateway::cli::run().await
}
