//! The test run's PostgreSQL cluster and per-test databases.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use tokio_postgres::{Client, NoTls, Row};

/// Where the project's clusters live (`TALLY_STATE` of `scripts/lib.sh`); tests put the
/// extra clusters they start (standbys, lifecycle checks) there too.
pub fn state_dir() -> String {
    std::env::var("TALLY_STATE").unwrap_or_else(|_| "/var/lib/tally".into())
}

/// Where the cluster of this test run lives; `./dev test` sets both and starts clean.
fn cluster_dir() -> String {
    std::env::var("TALLY_TEST_CLUSTER_DIR").unwrap_or_else(|_| format!("{}/test", state_dir()))
}

/// The server log of the test run's cluster (`pg_ctl -l`, see scripts/pgcluster.sh).
pub fn server_log() -> PathBuf {
    PathBuf::from(cluster_dir()).join("server.log")
}

/// The path of a PostgreSQL program, from the installation the scripts use (`PG_BIN`,
/// exported by `scripts/lib.sh`), so a standby runs the same build as the primary.
pub fn pg_program(name: &str) -> String {
    let bin = std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".into());
    format!("{bin}/{name}")
}

pub fn cluster_port() -> u16 {
    std::env::var("TALLY_TEST_PGPORT").ok().and_then(|p| p.parse().ok()).unwrap_or(54316)
}

/// A free loopback TCP port (for a cluster or gateway a test starts itself).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().expect("bound address").port()
}

/// Runs `scripts/pgcluster.sh` under a time limit, so a hang fails the test instead of CI.
pub fn pgcluster(args: &[&str]) {
    let status =
        Command::new("timeout").arg("120").arg(repo_root().join("scripts/pgcluster.sh")).args(args).status().expect("run pgcluster.sh");
    assert!(status.success(), "pgcluster.sh {args:?} failed or hung: {status}");
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// Makes sure the cluster runs, once per test process (the script itself serialises
/// concurrent processes and is a no-op when the cluster is up).
fn ensure_cluster() {
    static READY: OnceLock<()> = OnceLock::new();
    READY.get_or_init(|| {
        let status = Command::new(repo_root().join("scripts/pgcluster.sh"))
            .args(["ensure", &cluster_dir(), &cluster_port().to_string()])
            .status()
            .expect("run scripts/pgcluster.sh");
        assert!(status.success(), "scripts/pgcluster.sh ensure failed: is the extension installed? Run ./dev test");
    });
}

/// libpq-style URL of database `db` in the test cluster.
pub fn url_of(db: &str) -> String {
    format!("host=127.0.0.1 port={} user=postgres dbname={db}", cluster_port())
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A database of its own for one test, with `CREATE EXTENSION tally CASCADE` done.
/// It is dropped when the test passes (see `Drop`); a failed test's stays to be looked
/// at, until the next run throws the cluster away.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub client: Client,
    /// Made by [`TestDb::create_with`] in the run's cluster, so the test's to drop.
    made_here: bool,
}

impl TestDb {
    pub async fn create() -> TestDb {
        TestDb::create_with("CREATE EXTENSION tally CASCADE").await
    }

    /// A database of its own with the extension made by `create`, e.g. at an earlier
    /// release: `CREATE EXTENSION tally VERSION '0.1.0'`.
    pub async fn create_with(create: &str) -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        ensure_cluster();
        let name = format!("t_{}_{}_{:08x}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), rand::random::<u32>());
        let admin = connect(&url_of("postgres")).await;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create test database");
        let url = url_of(&name);
        let client = connect(&url).await;
        client.batch_execute(create).await.unwrap_or_else(|e| panic!("{create}: {e:?}"));
        TestDb { name, url, client, made_here: true }
    }

    /// A database the test made some other way (in a cluster of its own, or the
    /// background worker's database), left as it is when the test ends.
    pub fn existing(name: &str, url: &str, client: Client) -> TestDb {
        TestDb { name: name.into(), url: url.into(), client, made_here: false }
    }

    pub async fn query(&self, sql: &str) -> Vec<Row> {
        self.client.query(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Loads generated traffic (ending at `end_us`) straight into the hot table through
    /// the gateway's batch writer, and returns how many events were stored.
    pub async fn load(&self, events: u64, days: u32, sites: u32, end_us: i64) -> u64 {
        let pool = tally_gateway::pool::build(&self.url, 2).expect("pool");
        for site in 1..=sites {
            self.client.execute("SELECT tally.create_site($1)", &[&format!("site{site}.example")]).await.expect("create site");
        }
        let config = tally_core::datagen::Config { seed: 7, sites, days, events, start_ts: end_us - i64::from(days) * 86_400_000_000 };
        let all: Vec<_> = tally_core::datagen::DataGen::new(config).collect();
        for chunk in all.chunks(20_000) {
            tally_gateway::ingest::store::write_events(&pool, chunk).await.expect("write batch");
        }
        all.len() as u64
    }

    /// Runs `sql`, which must fail with an error whose message contains `expected` and
    /// which carries a hint (what every bad-input error of the extension gives).
    pub async fn assert_error_with_hint(&self, sql: &str, expected: &str) {
        let err = self.client.query(sql, &[]).await.expect_err(sql);
        let e = err.as_db_error().unwrap_or_else(|| panic!("{sql}: {err}"));
        assert!(e.message().contains(expected), "{sql}: {}", e.message());
        assert!(e.hint().is_some_and(|h| !h.is_empty()), "{sql}: no hint");
    }

    /// The single value of a one-row, one-column query.
    pub async fn value<T: for<'a> tokio_postgres::types::FromSql<'a>>(&self, sql: &str) -> T {
        self.client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
    }
}

impl Drop for TestDb {
    /// Drops the database of a passed test: kept, every test's data would stay in the
    /// run's cluster to its end (gigabytes on a fresh machine's disk, copied again by
    /// each base backup the replication tests take).
    fn drop(&mut self) {
        if !self.made_here || std::thread::panicking() {
            return;
        }
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Its own thread and runtime: a drop cannot await, and may run inside the test's.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url_of("postgres"), NoTls).await?;
                tokio::spawn(connection);
                client.batch_execute(&sql).await
            })
        })
        .join()
        .expect("the drop's thread");
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}
