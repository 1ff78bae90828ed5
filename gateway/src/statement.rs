//! What a request may ask of a backend: a `statement_timeout` per kind of request
//! ([`Work`]), and the cancel of the running statement when the client goes away.
//!
//! axum drops a handler's future when its client disconnects. Dropping a
//! tokio-postgres future does not stop the statement: Postgres keeps computing an
//! answer nobody reads, and the pooled connection stays busy with it. [`Cancellable`]
//! sends Postgres a cancel request in that case.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use deadpool_postgres::{Object, Transaction};
use tokio_postgres::{CancelToken, NoTls};

use crate::config::StatementTimeouts;
use crate::error::ApiError;

/// The kinds of request whose statements are bounded differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Query,
    Batch,
    Export,
    Events,
}

impl StatementTimeouts {
    /// How long a statement of `work` may run.
    pub fn of(&self, work: Work) -> Duration {
        Duration::from_millis(match work {
            Work::Query => self.query_timeout_ms,
            Work::Batch => self.batch_timeout_ms,
            Work::Export => self.export_timeout_ms,
            Work::Events => self.events_timeout_ms,
        })
    }
}

/// Bounds every later statement of `tx` by the timeout of `work` (until `tx` ends).
pub async fn limit(tx: &Transaction<'_>, timeouts: &StatementTimeouts, work: Work) -> Result<(), ApiError> {
    let ms = timeouts.of(work).as_millis().to_string();
    tx.execute("SELECT pg_catalog.set_config('statement_timeout', $1, true)", &[&ms]).await?;
    Ok(())
}

/// A pooled connection that cancels the statement it runs when dropped, unless
/// [`Cancellable::disarm`]ed first: a handler holds one across its awaits and disarms it
/// once its statements are done, so a handler dropped midway (its client left) or
/// leaving early with an error cancels. Such a connection never goes back to the pool:
/// Postgres signals the backend some time after the cancel request was delivered, when
/// a pooled connection could already be running the next request's statement, so it is
/// taken out of the pool and closed after the cancel.
pub struct Cancellable {
    object: Option<Object>,
    token: CancelToken,
}

impl Cancellable {
    pub fn new(object: Object) -> Self {
        let token = object.cancel_token();
        Cancellable { object: Some(object), token }
    }

    /// The statements are done: the connection goes back to the pool as it is.
    pub fn disarm(mut self) {
        drop(self.object.take());
    }
}

impl Deref for Cancellable {
    type Target = Object;

    fn deref(&self) -> &Object {
        self.object.as_ref().expect("held until dropped")
    }
}

impl DerefMut for Cancellable {
    fn deref_mut(&mut self) -> &mut Object {
        self.object.as_mut().expect("held until dropped")
    }
}

impl Drop for Cancellable {
    fn drop(&mut self) {
        let Some(object) = self.object.take() else { return };
        let client = Object::take(object);
        let token = self.token.clone();
        // Outside a runtime (never, in the gateway) the connection is just closed.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = token.cancel_query(NoTls).await {
                    tracing::warn!(error = %e, "could not cancel the statement of a request that ended early");
                }
                drop(client);
            });
        }
    }
}
