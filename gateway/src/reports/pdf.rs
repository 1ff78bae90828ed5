//! HTML to PDF with headless Chromium (`--print-to-pdf`), the browser the dashboard's
//! own tests already drive: it lays out the same CSS and SVG the dashboard uses,
//! paginates tables and embeds fonts, where a Rust PDF crate would need a layout
//! written for it alone (see docs/reports.md for the choice and what it costs to
//! deploy). Each document is printed by a Chromium process of its own, in a
//! directory of its own that is removed afterwards, from a file with no scripts and a
//! policy that forbids loading anything; at most `--max-pdf-renders` at once, each
//! bounded by `--pdf-timeout-ms`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::error::ApiError;

pub struct Printer {
    chromium: PathBuf,
    permits: Semaphore,
    timeout: Duration,
}

/// A directory removed when dropped, whatever happened to the print in it.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Printer {
    pub fn new(chromium: PathBuf, at_once: usize, timeout: Duration) -> Printer {
        Printer { chromium, permits: Semaphore::new(at_once.max(1)), timeout }
    }

    /// The PDF of `html` (a self-contained document); 503 while every render is busy
    /// past the timeout, 500 (the cause logged) when Chromium is missing or fails.
    pub async fn pdf(&self, html: &str) -> Result<Vec<u8>, ApiError> {
        let unavailable = |why: String| ApiError::Internal(anyhow::anyhow!("PDF rendering with {}: {why}", self.chromium.display()));
        let _turn = tokio::time::timeout(self.timeout, self.permits.acquire())
            .await
            .map_err(|_| ApiError::Overloaded { retry_after_secs: 5 })?
            .map_err(|e| unavailable(e.to_string()))?;
        let dir = Scratch(std::env::temp_dir().join(format!("tally-pdf-{}", uuid::Uuid::new_v4())));
        tokio::fs::create_dir_all(&dir.0).await.map_err(|e| unavailable(e.to_string()))?;
        let (page, out) = (dir.0.join("report.html"), dir.0.join("report.pdf"));
        tokio::fs::write(&page, html).await.map_err(|e| unavailable(e.to_string()))?;
        let mut command = Command::new(&self.chromium);
        command
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run", "--no-pdf-header-footer"])
            .args(["--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"])
            .arg(format!("--user-data-dir={}", dir.0.join("profile").display()))
            .arg(format!("--print-to-pdf={}", out.display()))
            .arg(format!("file://{}", page.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let run = command.output();
        let output = tokio::time::timeout(self.timeout, run)
            .await
            .map_err(|_| unavailable(format!("no PDF within {:?}", self.timeout)))?
            .map_err(|e| unavailable(format!("cannot run it: {e}")))?;
        match tokio::fs::read(&out).await {
            Ok(bytes) if bytes.starts_with(b"%PDF") => Ok(bytes),
            _ => Err(unavailable(format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or_default()
            ))),
        }
    }
}
