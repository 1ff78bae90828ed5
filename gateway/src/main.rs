//! `tally-gateway`: serves ingestion, the API and the dashboard (see `cli`).

/// mimalloc instead of glibc's malloc: faster for the many small, short-lived
/// allocations of request handling (see the Ingest section of benches/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tally_gateway::cli::run().await
}
