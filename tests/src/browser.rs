//! Real-browser tests: a node script under `tests/browser/` drives Debian's Chromium
//! through playwright-core against a gateway the test started; the Rust side checks
//! what the pages did. One place to find the scripts, run them and keep screenshots.

use std::path::PathBuf;

use tokio::process::Command;

use crate::cluster::repo_root;

/// Where the dashboard tests keep their screenshots (test artifacts).
pub fn screenshot_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR").map_or_else(|_| repo_root().join("target"), Into::into).join("dashboard-screenshots")
}

/// Checks that the built dashboard is there (the dashboard tests load it).
pub fn assert_dashboard_built() {
    assert!(repo_root().join("dashboards/dist/app.js").exists(), "the dashboard is not built: run scripts/build-dashboard.sh");
}

/// Runs `node <script> <args>` in `tests/browser/` with `env`, at most `timeout_secs`
/// seconds; panics with its output unless it succeeds, else returns its stdout.
pub async fn run_script(script: &str, args: &[&str], env: &[(&str, &str)], timeout_secs: u32) -> String {
    let dir = repo_root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").exists() && std::path::Path::new("/usr/bin/chromium").exists(),
        "Chromium or playwright-core missing: run scripts/setup-deps.sh"
    );
    let timeout = timeout_secs.to_string();
    let out = Command::new("timeout")
        .args([timeout.as_str(), "node", script])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(&dir)
        .output()
        .await
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "browser run {script} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}
