//! Site lookup by domain, cached: every ingested event needs its site id, and sites
//! change rarely, so a hit costs a read lock instead of a query.

use std::collections::HashMap;
use std::sync::RwLock;

use deadpool_postgres::Pool;

use crate::error::DbError;

#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub site_id: i32,
    pub domain: String,
    pub timezone: String,
}

pub struct Sites {
    pool: Pool,
    known: RwLock<HashMap<String, Site>>,
}

impl Sites {
    pub fn new(pool: Pool) -> Self {
        Sites { pool, known: RwLock::new(HashMap::new()) }
    }

    /// The site registered for `domain` (lower-case), if any. Unknown domains are not
    /// cached, so a site created after a miss is found on the next event.
    pub async fn by_domain(&self, domain: &str) -> Result<Option<Site>, DbError> {
        if let Some(site) = self.known.read().expect("site cache poisoned").get(domain) {
            return Ok(Some(site.clone()));
        }
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT site_id, domain, timezone FROM tally.sites WHERE domain = $1", &[&domain]).await?;
        let Some(row) = row else { return Ok(None) };
        let site = Site { site_id: row.get(0), domain: row.get(1), timezone: row.get(2) };
        self.known.write().expect("site cache poisoned").insert(site.domain.clone(), site.clone());
        Ok(Some(site))
    }
}
