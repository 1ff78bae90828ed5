//! The gateway's `main`, built inside the test package so integration tests can run the
//! real binary as a child process (`CARGO_BIN_EXE_gateway-under-test`) and kill -9 it.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tally_gateway::cli::run().await
}
