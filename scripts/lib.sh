# Shared settings and helpers for Tally's scripts. Sourced, not run.
# shellcheck shell=bash

set -euo pipefail

TALLY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export TALLY_ROOT
# Debian's own pg_config; /usr/bin/pg_config is a wrapper that pgrx cannot use.
SYSTEM_PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
# TALLY_PG_CONFIG points the extension install and the clusters at another copy of the
# same PostgreSQL 15 (a relocated copy of Debian's tree), so several work trees can
# build, install and test different versions of the extension side by side.
PG_CONFIG=${TALLY_PG_CONFIG:-$SYSTEM_PG_CONFIG}
PG_BIN=$(dirname "$PG_CONFIG")
export SYSTEM_PG_CONFIG PG_CONFIG PG_BIN
# Clusters live outside the checkout: the postgres OS user must be able to reach them,
# and a clone under /root is not traversable by it.
TALLY_STATE=${TALLY_STATE:-/var/lib/tally}
export TALLY_STATE
export DEBIAN_FRONTEND=noninteractive
# cargo installed by rustup may not be on PATH in a non-login shell.
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
# A Node 20 that setup-deps.sh installed where the system's is older (Debian 12's 18).
[ -x "$TALLY_STATE/node/bin/node" ] && PATH="$TALLY_STATE/node/bin:$PATH"
export PATH

log() { printf '\033[1;34m[tally]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[tally] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Runs a command as the postgres OS user (initdb and postgres refuse root).
as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

# `npm ci` in directory $1 when its package-lock.json changed since the last install
# (a stamp in node_modules), so a second run costs one sha256sum.
npm_ci_if_changed() {
    local dir=$1 lock_sha
    lock_sha=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ "$(cat "$dir/node_modules/.tally-lock-sha" 2>/dev/null)" != "$lock_sha" ]; then
        log "installing npm packages in ${dir#"$TALLY_ROOT"/}"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
        echo "$lock_sha" > "$dir/node_modules/.tally-lock-sha"
    fi
}

# What every Tally cluster adds to its postgresql.conf (scripts/pgcluster.sh, the
# failover nodes of scripts/ha/pgautofailover.sh).
tally_postgresql_conf() {
    cat <<'CONF'
# pg_cron runs scheduled jobs; tally registers its background workers at load time.
shared_preload_libraries = 'pg_cron,tally'
cron.database_name = 'postgres'
CONF
}

# Creates database tally in the running cluster at host $1 (socket directory or address)
# and port $2, and schedules its alert evaluation. Idempotent.
prepare_tally_database() {
    local host=$1 port=$2
    # The tally background worker compacts database `tally` (tally.worker_database).
    as_postgres psql -X -q -h "$host" -p "$port" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'tally'" | grep -q 1 \
        || as_postgres psql -X -q -h "$host" -p "$port" -d postgres -c "CREATE DATABASE tally" >/dev/null
    # pg_cron (cron.database_name = postgres) evaluates database tally's alert rules every
    # minute, one transaction per rule; the guard makes the job a no-op until the
    # extension is created there. Scheduling a job name again replaces its command.
    as_postgres psql -X -q -h "$host" -p "$port" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule_in_database('tally-alerts-tally', '* * * * *',
    $job$DO $do$ BEGIN IF to_regprocedure('tally.run_alerts(timestamptz)') IS NOT NULL THEN CALL tally.run_alerts(); END IF; END $do$$job$,
    'tally');
SQL
}
