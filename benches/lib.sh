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
