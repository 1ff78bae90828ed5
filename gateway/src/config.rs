//! Gateway settings. Every field is a command-line flag and an environment variable
//! (`TALLY_*`), so the same binary runs from a shell, a systemd unit or a container;
//! `tally-gateway --help` prints them with their defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Clone, Parser)]
#[command(name = "tally-gateway", version, about = "Tally gateway: ingest, API and dashboard")]
pub struct Cli {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve ingestion, the API and the dashboard (the default).
    Serve(Box<ServeConfig>),
    /// Load generated demo traffic into a site, creating the site if needed.
    Seed(SeedConfig),
    /// Create the first administrator, or make an existing user one with this password.
    /// The password comes from TALLY_ADMIN_PASSWORD or the first line of standard input.
    /// Needs a database role that may create roles (the extension's owner, a superuser).
    CreateAdmin(CreateAdminConfig),
    /// Import a file into a site (docs/import.md): Plausible's CSV export (a .zip of
    /// imported_*.csv, or one such file) or Google Analytics 4 reports (.json) as
    /// imported data; raw events (.csv, .ndjson, .parquet) through tally.import_events.
    /// All or nothing: a bad row is reported with its file, row and field and nothing of
    /// the file is stored.
    Import(ImportConfig),
}

#[derive(Debug, Clone, Args)]
pub struct ImportConfig {
    /// The file to import.
    pub file: PathBuf,
    /// Domain of the site to import into (it must exist).
    #[arg(long)]
    pub site: String,
}

#[derive(Debug, Clone, Args)]
pub struct CreateAdminConfig {
    /// The administrator's email, which is their sign-in name.
    #[arg(long)]
    pub email: String,
    /// Display name.
    #[arg(long, default_value = "Administrator")]
    pub name: String,
}

/// Where Postgres is. Shared by every subcommand.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// libpq-style connection string of the database that has `CREATE EXTENSION tally`.
    /// Several hosts with `target_session_attrs=read-write` give failover to a promoted standby.
    #[arg(long, env = "TALLY_DATABASE_URL", default_value = "host=127.0.0.1 port=54315 user=postgres dbname=tally")]
    pub database_url: String,

    /// Connections in the API's pool: stats queries, realtime updates, sign-in,
    /// administration and alert delivery.
    #[arg(long, env = "TALLY_DB_POOL_SIZE", default_value_t = 8)]
    pub db_pool_size: usize,

    /// Connections in ingest's own pool: the batch writers (--writers), the spool
    /// replayer, and the lookups of sites, ingest keys and visitor salts. Apart from the
    /// API's, so dashboards and streams cannot starve ingest. Keep it above --writers.
    #[arg(long, env = "TALLY_DB_INGEST_POOL_SIZE", default_value_t = 4)]
    pub db_ingest_pool_size: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on. Loopback by default: put a TLS proxy in front, or bind 0.0.0.0 deliberately.
    #[arg(long, env = "TALLY_LISTEN", default_value = "127.0.0.1:8710")]
    pub listen: SocketAddr,

    /// Flush a batch once it holds this many events. Larger batches amortise the COPY round trip;
    /// 1000 keeps one flush well under a millisecond of server time.
    #[arg(long, env = "TALLY_BATCH_MAX_EVENTS", default_value_t = 1000)]
    pub batch_max_events: usize,

    /// How long a batch may wait for more events after its first one, in milliseconds.
    /// 0 (group commit) writes whatever is queued as soon as the writer is free: requests
    /// pile up while a batch commits, so batches grow with the load and a quiet site's
    /// events are committed at once. A positive value trades latency for larger batches.
    #[arg(long, env = "TALLY_BATCH_MAX_WAIT_MS", default_value_t = 0)]
    pub batch_max_wait_ms: u64,

    /// Batches written to Postgres at once, each in its own transaction on its own
    /// connection: one COPY uses one Postgres core, so 2 lets a two-core server use both
    /// while the gateway gathers the next batch. Keep it below --db-ingest-pool-size.
    #[arg(long, env = "TALLY_WRITERS", default_value_t = 2)]
    pub writers: usize,

    /// Connections that answer one batch of stats queries (the dashboard's panels) side
    /// by side, each a share (`tally.query_batch(queries, part, parts)`): a backend
    /// reads rollups on one core, so 2 lets a two-core server use both. 1 answers a
    /// batch in one statement.
    #[arg(long, env = "TALLY_QUERY_PARTS", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub query_parts: u16,

    /// Events held in memory (queued or being written) before new requests get 503 +
    /// Retry-After. Bounds the memory of events not yet committed: about 1 KB each.
    #[arg(long, env = "TALLY_QUEUE_CAPACITY", default_value_t = 100_000)]
    pub queue_capacity: usize,

    /// Directory of the disk spool that holds accepted batches while Postgres is
    /// unreachable. One gateway process per directory.
    #[arg(long, env = "TALLY_SPOOL_DIR", default_value = ".tally/spool")]
    pub spool_dir: PathBuf,

    /// Largest size of the spool in bytes; beyond it requests get 503 + Retry-After
    /// instead of filling the disk. 1 GiB holds about two million events.
    #[arg(long, env = "TALLY_SPOOL_MAX_BYTES", default_value_t = 1 << 30)]
    pub spool_max_bytes: u64,

    /// A MaxMind DB file (GeoLite2-City or GeoIP2-City format) for country, region and
    /// city. Without it, location comes only from the trusted proxy headers below.
    #[arg(long, env = "TALLY_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,

    /// Header with the client's ISO country code set by a trusted proxy or CDN (e.g.
    /// `CF-IPCountry`). Read only with --trust-proxy; wins over the MMDB file.
    #[arg(long, env = "TALLY_GEO_COUNTRY_HEADER")]
    pub geo_country_header: Option<String>,

    /// Header with the client's ISO 3166-2 region code from a trusted proxy (e.g.
    /// `CF-Region-Code` combined by the proxy into `DE-BE`). Read only with --trust-proxy.
    #[arg(long, env = "TALLY_GEO_REGION_HEADER")]
    pub geo_region_header: Option<String>,

    /// Header with the client's city name from a trusted proxy (e.g. `CF-IPCity`). Read
    /// only with --trust-proxy.
    #[arg(long, env = "TALLY_GEO_CITY_HEADER")]
    pub geo_city_header: Option<String>,

    /// Oldest event the batch API takes, in days before now; older timestamps get 400
    /// naming the field. Every accepted event makes compaction recompute the rollup
    /// hours around it, so how far back an ingest key (shipped inside apps, so public)
    /// may write is bounded; two years covers backfilling a year-on-year comparison.
    #[arg(long, env = "TALLY_MAX_EVENT_AGE_DAYS", default_value_t = 730)]
    pub max_event_age_days: u32,

    /// Largest request body accepted, in bytes; larger bodies get 413.
    #[arg(long, env = "TALLY_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Directory with the built dashboard (`scripts/build-dashboard.sh` writes it), served at `/`.
    #[arg(long, env = "TALLY_DASHBOARD_DIR", default_value = "dashboards/dist")]
    pub dashboard_dir: PathBuf,

    /// Directory of the files administrators may import through the API
    /// (`POST /api/v1/imports` names a file in it). Long imports are large files:
    /// copied here (scp, rsync) they need no upload through proxies and body limits.
    /// Unset, the API imports nothing.
    #[arg(long, env = "TALLY_IMPORT_DIR")]
    pub import_dir: Option<PathBuf>,

    /// Connection string of the alert listener's own session (`LISTEN tally_alerts`);
    /// `serve` uses --database-url when unset. Set it to reach the primary directly when
    /// --database-url goes through a transaction-mode pooler, which cannot LISTEN.
    #[arg(long, env = "TALLY_ALERTS_DATABASE_URL")]
    pub alerts_database_url: Option<String>,

    /// SMTP server for email alerts, in lettre's URL form: `smtp://host:port` (plain),
    /// `smtp://host:port?tls=required` (STARTTLS), `smtps://host:port` (TLS), with
    /// `user:password@` before the host for AUTH.
    #[arg(long, env = "TALLY_SMTP_URL", default_value = "smtp://127.0.0.1:25")]
    pub smtp_url: String,

    /// The Chromium (or Chrome) binary that prints reports to PDF (PDF export, the
    /// PDF attached to scheduled emails); see docs/reports.md.
    #[arg(long, env = "TALLY_CHROMIUM", default_value = "/usr/bin/chromium")]
    pub chromium: std::path::PathBuf,

    /// PDFs printed at once: each is a Chromium process of about 150 MB for a second or
    /// two, so two keep a small server responsive; more requests wait their turn.
    #[arg(long, env = "TALLY_MAX_PDF_RENDERS", default_value_t = 2)]
    pub max_pdf_renders: usize,

    /// Longest a PDF may wait for its turn, and then take to print, in milliseconds.
    #[arg(long, env = "TALLY_PDF_TIMEOUT_MS", default_value_t = 30_000)]
    pub pdf_timeout_ms: u64,

    /// The gateway's address as people reach it (scheme, host, port, any path prefix):
    /// the links in scheduled report emails (unsubscribe) start with it.
    #[arg(long, env = "TALLY_PUBLIC_URL", default_value = "http://127.0.0.1:8710")]
    pub public_url: String,

    /// How often the gateway looks for scheduled reports that are due, in milliseconds.
    #[arg(long, env = "TALLY_REPORT_POLL_MS", default_value_t = 60_000)]
    pub report_poll_ms: u64,

    /// Wait before retrying a report email that failed, in milliseconds; it doubles
    /// with each failure, up to an hour.
    #[arg(long, env = "TALLY_REPORT_RETRY_BASE_MS", default_value_t = 60_000)]
    pub report_retry_base_ms: u64,

    /// Sender of alert and report emails.
    #[arg(long, env = "TALLY_SMTP_FROM", default_value = "Tally <alerts@localhost>")]
    pub smtp_from: String,

    /// Longest one alert delivery attempt (a webhook POST or an SMTP session) may take,
    /// in milliseconds; a receiver slower than that is retried later.
    #[arg(long, env = "TALLY_ALERT_TIMEOUT_MS", default_value_t = 10_000)]
    pub alert_timeout_ms: u64,

    /// Wait before retrying a failed alert delivery, in milliseconds; it doubles after
    /// every further failure (at most an hour).
    #[arg(long, env = "TALLY_ALERT_RETRY_BASE_MS", default_value_t = 5_000)]
    pub alert_retry_base_ms: u64,

    /// Attempts of one alert delivery before it is marked failed. With the defaults
    /// the tenth attempt comes about 40 minutes after the first.
    #[arg(long, env = "TALLY_ALERT_MAX_ATTEMPTS", default_value_t = 10)]
    pub alert_max_attempts: u32,

    /// Realtime streams (`GET /api/v1/realtime`) open at once, over all users; one more
    /// gets 429 + Retry-After. Each costs a small query every two seconds on the API's
    /// pool, so the cap bounds that load.
    #[arg(long, env = "TALLY_MAX_REALTIME_STREAMS", default_value_t = 200)]
    pub max_realtime_streams: usize,

    /// Networks alert webhooks may reach although they are internal (CIDRs, comma
    /// separated), e.g. `10.20.0.0/16` for an intranet receiver. Otherwise webhooks go
    /// only to public addresses: loopback, private, link-local (cloud metadata),
    /// carrier-grade NAT, unique-local and multicast addresses are refused, checked on
    /// the address each delivery connects to.
    #[arg(long, env = "TALLY_WEBHOOK_ALLOW", value_delimiter = ',')]
    pub webhook_allow: Vec<ipnet::IpNet>,

    /// Alert emails one site may send per hour, over all its rules: a rule cannot turn
    /// the SMTP server into a mass mailer. Deliveries beyond it wait for their retry.
    #[arg(long, env = "TALLY_ALERT_EMAILS_PER_HOUR", default_value_t = 100)]
    pub alert_emails_per_hour: u32,

    /// Take the client address from the first `X-Forwarded-For` entry. Enable only behind a proxy
    /// you run: otherwise clients choose their own visitor id. Sign-in limits and the
    /// audit log read the header only from --trusted-proxies, right to left.
    #[arg(long, env = "TALLY_TRUST_PROXY", default_value_t = false)]
    pub trust_proxy: bool,

    /// Addresses of the reverse proxies in front of the gateway (CIDRs, comma
    /// separated). With --trust-proxy, a request from one of them is attributed (for
    /// sign-in limits, lockouts and the audit log) to the right-most `X-Forwarded-For`
    /// entry that is not one of them; entries a client wrote itself are ignored.
    #[arg(long, env = "TALLY_TRUSTED_PROXIES", value_delimiter = ',', default_value = "127.0.0.0/8,::1/128")]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Bearer token `GET /metrics` requires (`Authorization: Bearer <token>`). Unset,
    /// /metrics is not served (404): its figures are the gateway's internals.
    #[arg(long, env = "TALLY_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    #[command(flatten)]
    pub timeouts: StatementTimeouts,

    #[command(flatten)]
    pub auth: AuthConfig,
}

/// How long one request's statement may keep a backend busy, per kind of request
/// (`statement_timeout`, set for the request's transaction only). A statement that
/// runs out answers 504; a client that hangs up cancels its statement at once.
#[derive(Debug, Clone, Args)]
pub struct StatementTimeouts {
    /// A stats query (`/api/v1/query`) and each update of a realtime stream, in milliseconds.
    #[arg(long, env = "TALLY_QUERY_TIMEOUT_MS", default_value_t = 30_000)]
    pub query_timeout_ms: u64,

    /// A dashboard's batch of queries (`/api/v1/query/batch`), each share of it, in milliseconds.
    #[arg(long, env = "TALLY_BATCH_TIMEOUT_MS", default_value_t = 30_000)]
    pub batch_timeout_ms: u64,

    /// A CSV export (`/api/v1/export`), in milliseconds: longer, as exports are rare and deliberate.
    #[arg(long, env = "TALLY_EXPORT_TIMEOUT_MS", default_value_t = 120_000)]
    pub export_timeout_ms: u64,

    /// Reading the latest raw events (`GET /api/v1/events`), in milliseconds.
    #[arg(long, env = "TALLY_EVENTS_TIMEOUT_MS", default_value_t = 10_000)]
    pub events_timeout_ms: u64,
}

/// Sign-in, sessions, rate limits and TLS.
#[derive(Debug, Clone, Args)]
pub struct AuthConfig {
    /// Hours a dashboard session lasts without use; each request extends it (sliding).
    /// Two weeks: a weekly dashboard user stays signed in, a lost laptop's session dies.
    #[arg(long, env = "TALLY_SESSION_TTL_HOURS", default_value_t = 336)]
    pub session_ttl_hours: u32,

    /// Sign-in attempts per minute from one client address, right or wrong. Ten lets a
    /// person mistype; a password-guessing script gets 429 + Retry-After.
    #[arg(long, env = "TALLY_LOGIN_ATTEMPTS_PER_MINUTE", default_value_t = 10)]
    pub login_attempts_per_minute: u32,

    /// Wrong passwords in a row, from one client address, that lock a sign-in name
    /// for that address ... (The lock is per name and address, so an attacker who
    /// knows a name cannot keep its owner out: the owner's own address stays open.)
    #[arg(long, env = "TALLY_LOCKOUT_AFTER", default_value_t = 5)]
    pub lockout_after: u32,

    /// ... for this many seconds (the lock applies across gateways: it is in Postgres).
    #[arg(long, env = "TALLY_LOCKOUT_SECONDS", default_value_t = 900)]
    pub lockout_seconds: u32,

    /// Password hashes computed at once (sign-in, password changes, new users): each
    /// takes 19 MiB and tens of milliseconds of a core by design, so a flood of
    /// sign-ins must queue, not exhaust memory. A request that waits over a second for
    /// its turn (`--password-hash-wait-ms`) gets 503 + Retry-After.
    #[arg(long, env = "TALLY_MAX_PASSWORD_HASHES", default_value_t = 4)]
    pub max_password_hashes: usize,

    /// Milliseconds a sign-in waits for its turn to hash before it gets 503 +
    /// Retry-After: long enough to ride out a burst, short enough that a flood is told
    /// to come back rather than queueing without end.
    #[arg(long, env = "TALLY_PASSWORD_HASH_WAIT_MS", default_value_t = 1000)]
    pub password_hash_wait_ms: u64,

    /// Requests per minute one API key may make (a runaway script gets 429 +
    /// Retry-After instead of starving the dashboards).
    #[arg(long, env = "TALLY_API_KEY_REQUESTS_PER_MINUTE", default_value_t = 600)]
    pub api_key_requests_per_minute: u32,

    /// PEM certificate chain for HTTPS. With --tls-key the gateway speaks only HTTPS and
    /// marks its session cookie Secure.
    #[arg(long, env = "TALLY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "TALLY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Mark the session cookie Secure without --tls-cert, for a gateway behind a proxy
    /// that terminates TLS.
    #[arg(long, env = "TALLY_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
}

impl AuthConfig {
    /// Whether the session cookie carries `Secure`.
    pub fn cookie_secure(&self) -> bool {
        self.secure_cookies || self.tls_cert.is_some()
    }
}

impl ServeConfig {
    /// The settings `serve` would run with given no flags: defaults overridden by any
    /// `TALLY_*` variables. Lets tests and tools start from the documented defaults.
    pub fn from_env() -> Self {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            serve: ServeConfig,
        }
        Wrap::parse_from(["tally-gateway"]).serve
    }
}

#[derive(Debug, Clone, Args)]
pub struct SeedConfig {
    /// Domain of the site to fill; created when missing.
    #[arg(long, default_value = "demo.tally.local")]
    pub domain: String,
    /// Sites to spread the traffic over (Zipf-sized): the first is `--domain`, the others
    /// `site2.<domain>`, `site3.<domain>`, ...
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sites: u32,
    /// How many events to generate.
    #[arg(long, default_value_t = 200_000)]
    pub events: u64,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Random seed, so the same command loads the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
