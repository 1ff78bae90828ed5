//! Appends to `tally.audit_log`. Rows are written inside the request's transaction, as
//! the caller's role: Postgres stamps the actor and user itself (sql/auth.sql), so a row
//! can only ever name whoever wrote it.

use std::net::IpAddr;

use deadpool_postgres::GenericClient;
use serde_json::Value;

use crate::error::ApiError;

/// Records `action` (`login`, `site.create`, `query`, ...) with what it concerned.
pub async fn record(db: &impl GenericClient, action: &str, site_id: Option<i32>, detail: Value, ip: IpAddr) -> Result<(), ApiError> {
    db.execute("INSERT INTO tally.audit_log (action, site_id, detail, ip) VALUES ($1, $2, $3, $4)", &[&action, &site_id, &detail, &ip])
        .await?;
    Ok(())
}
