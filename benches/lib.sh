# Shared set-up of the end-to-end benches, sourced by every benches/*.sh instead of
# scripts/lib.sh; the functions read DIR and PORT, which each bench sets.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

# Installs what the bench needs and starts its own cluster in $DIR on $PORT (restarted
# by pgcluster.sh when the extension library is newer than the running server).
bench_cluster() {
    scripts/setup-deps.sh
    scripts/install-extension.sh
    scripts/pgcluster.sh ensure "$DIR" "$PORT"
}

# A new, empty database $DB with the extension (dropped first if it exists).
bench_new_db() {
    q -d postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
    q -d "$DB" -c "CREATE EXTENSION tally"
}

# A short fingerprint of the installed extension's SQL script: data kept between runs
# was created with the same functions only while it is unchanged. Comment lines are
# left out (pgrx writes each function's Rust source line there, which moves with any
# edit above it) and the rest sorted (pgrx's order of items changes between builds).
extension_sql_fingerprint() {
    cat "$("$PG_CONFIG" --sharedir)"/extension/tally--*.sql | grep -v '^[[:space:]]*--' | LC_ALL=C sort | md5sum | cut -c1-12
}

# psql on the bench cluster, quiet, unaligned, stopping at the first error.
q() { psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

# The release gateway binary in $GATEWAY: TALLY_BENCH_GATEWAY, or this tree's, built.
bench_gateway_binary() {
    GATEWAY=${TALLY_BENCH_GATEWAY:-}
    if [ -z "$GATEWAY" ]; then
        cargo build --release -q -p tally-gateway
        GATEWAY="${CARGO_TARGET_DIR:-target}/release/tally-gateway"
    fi
}

# Starts $GATEWAY serving $URL on $GW_PORT (spool and log in $WORK) in the background,
# sets gw_pid, and waits until it answers on $BASE.
bench_gateway_start() {
    TALLY_DATABASE_URL="$URL" TALLY_LISTEN="127.0.0.1:$GW_PORT" TALLY_SPOOL_DIR="$WORK/spool" TALLY_LOG=warn \
        "$GATEWAY" serve >"$WORK/gateway.log" 2>&1 &
    gw_pid=$!
    for _ in $(seq 100); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    curl -fsS "$BASE/healthz" >/dev/null || die "gateway did not start: $(tail -5 "$WORK/gateway.log")"
}

# DuckDB and chDB (embedded ClickHouse), the baselines of the SQL benches, and psycopg
# to time Postgres the same way: pinned, from PyPI, into the tools venv that
# scripts/setup-deps.sh creates (bench_cluster runs it first). Installed only when a
# bench needs them, never by ./dev test. Sets PYTHON.
bench_python_engines() {
    local pins=(duckdb==2.0.1 chdb==4.4.0 "psycopg[binary]==3.3.9")
    PYTHON="$TALLY_STATE/tools-venv/bin/python"
    if ! "$PYTHON" -c "import duckdb, chdb, psycopg; assert duckdb.__version__ == '2.0.1' and chdb.__version__ == '4.4.0'" 2>/dev/null; then
        log "installing ${pins[*]} into $TALLY_STATE/tools-venv"
        "$PYTHON" -m pip install -q --disable-pip-version-check "${pins[@]}"
    fi
}
