//! `tally-gateway import <file> --site <domain>`: one file into one site, as the
//! database URL's role (an operator's: `tally.import_events` is a maintenance
//! function). Raw events show a progress bar on a terminal, and a line per chunk
//! otherwise (a log, CI).

use std::io::IsTerminal;
use std::time::Instant;

use deadpool_postgres::Pool;
use indicatif::{ProgressBar, ProgressStyle};

use super::bulk::{self, Step};
use super::FileKind;
use crate::config::ImportConfig;

/// Runs the import `config` asks for and prints what was stored.
pub async fn run(pool: &Pool, config: &ImportConfig) -> anyhow::Result<()> {
    let name = config.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let kind = FileKind::of(&name).ok_or_else(|| {
        anyhow::anyhow!(
            "{name}: unknown kind of file; Plausible's export is .zip, GA4 reports .json, raw events are .csv, .ndjson or .parquet"
        )
    })?;
    let mut client = pool.get().await?;
    let site_id: i32 = client
        .query_opt("SELECT site_id FROM tally.sites WHERE domain = $1", &[&config.site.trim().to_ascii_lowercase()])
        .await?
        .ok_or_else(|| anyhow::anyhow!("no site {:?}; create it first", config.site))?
        .get(0);
    let started = Instant::now();
    match kind {
        FileKind::Events(format) => {
            // A spinner counting events until the file says how many (Parquet does).
            let bar = std::io::stderr().is_terminal().then(|| {
                ProgressBar::new_spinner()
                    .with_style(ProgressStyle::with_template("{spinner} {msg}: {human_pos} events").expect("a valid template"))
            });
            if let Some(bar) = &bar {
                // Storing shows no count: the spinner says the import is alive.
                bar.enable_steady_tick(std::time::Duration::from_millis(200));
            }
            let stored = bulk::import(&mut client, site_id, config.file.clone(), format, |step| report(bar.as_ref(), &name, step, started))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            println!("{name}: {stored} events imported into {} in {:.1} s", config.site, started.elapsed().as_secs_f64());
        }
        FileKind::Plausible | FileKind::Ga4 => {
            let bytes = tokio::fs::read(&config.file).await.map_err(|e| anyhow::anyhow!("{name}: cannot be read: {e}"))?;
            let tx = client.transaction().await?;
            let (import_id, rows) = super::load_aggregates(&tx, site_id, &name, bytes, kind).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            println!("{name}: {rows} rows of imported data stored as import {import_id} of {}", config.site);
        }
    }
    Ok(())
}

/// Shows `step` on the bar, or as a line without a terminal.
fn report(bar: Option<&ProgressBar>, name: &str, step: Step, started: Instant) {
    let rate = |done: u64| done as f64 / started.elapsed().as_secs_f64().max(0.001);
    match (bar, step) {
        (Some(bar), Step::Staged { done, total }) => {
            if let (Some(total), None) = (total, bar.length()) {
                bar.set_length(total);
                bar.set_style(
                    ProgressStyle::with_template("{msg}: [{bar:40}] {pos}/{len} events ({per_sec}, {eta} left)")
                        .expect("a valid template")
                        .progress_chars("=> "),
                );
            }
            bar.set_message(format!("{name}: staging"));
            bar.set_position(done);
        }
        (Some(bar), Step::Storing { total }) => {
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"));
            bar.set_message(format!("{name}: storing {total} events as segments and rollups"));
        }
        (None, Step::Staged { done, total }) => {
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            println!("{name}: {done}{of} events staged ({:.0} events/s)", rate(done));
        }
        (None, Step::Storing { total }) => println!("{name}: storing {total} events as segments and rollups"),
    }
}
