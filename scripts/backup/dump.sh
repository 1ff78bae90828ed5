#!/usr/bin/env bash
# Logical backup of a Tally database with pg_dump, restorable into another PostgreSQL 15
# cluster (another machine, another major-version-compatible build): the cluster's roles
# first (pg_dumpall --roles-only: every Tally user is a role, and the gateway's login
# role is a member of them), then the database.
#
#   dump.sh dump SOURCE OUT_DIR            SOURCE: libpq connection string of the Tally database
#                                          (a superuser: role passwords are read from pg_authid)
#   dump.sh restore OUT_DIR SERVER DBNAME  SERVER: libpq connection string of the target
#                                          cluster without dbname (a superuser); DBNAME must not exist
#
# OUT_DIR holds roles.sql and tally.dump (pg_dump's custom format). The extension hands
# pg_dump every table a restore needs, the tables of ingest's idempotency and of alert
# delivery and the id sequences among them, so a client's retry after the restore is
# stored once and new ids do not collide with restored ones. Sessions, login failures
# and daily salts stay behind on purpose: users sign in again, and a restored database
# starts new salts.
source "$(dirname "$0")/../lib.sh"

usage() { sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

psql_at() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -tA -d "$@"; }

dump() {
    local src=$1 out=$2
    # Releases before 0.2.0 did not hand every table to pg_dump (docs/upgrades.md).
    local state; state=$(psql_at "$src" -c "SELECT e.extversion || ' ' || a.default_version
        FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname = 'tally'")
    [ -n "$state" ] || die "$src has no tally extension"
    [ "${state% *}" = "${state#* }" ] \
        || die "$src has extension tally ${state% *} but the server's files are ${state#* }: run scripts/update-extension.sh first"
    # roles.sql holds the roles' password hashes.
    umask 077
    mkdir -p "$out"
    "$PG_BIN/pg_dumpall" --roles-only -d "$src" -f "$out/roles.sql"
    "$PG_BIN/pg_dump" -Fc -d "$src" -f "$out/tally.dump"
    log "dumped $(du -sh "$out" | cut -f1) into $out"
}

restore() {
    local out=$1 server=$2 db=$3
    [ -f "$out/tally.dump" ] && [ -f "$out/roles.sql" ] || die "$out holds no dump (roles.sql, tally.dump): run dump.sh dump first"
    [ -z "$(psql_at "$server dbname=postgres" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ] \
        || die "database $db already exists in the target cluster: restore into a new database"
    # Roles first. Those the target has already (its bootstrap superuser, the group roles
    # of another Tally database there) keep their attributes and passwords: their CREATE
    # and ALTER statements are left out, their memberships granted.
    local existing; existing=$(psql_at "$server dbname=postgres" -c "SELECT rolname FROM pg_roles")
    EXISTING=$existing awk '
        BEGIN { n = split(ENVIRON["EXISTING"], names, "\n"); for (i = 1; i <= n; i++) skip[names[i]] = 1 }
        /^(CREATE|ALTER) ROLE / { name = $3; sub(/;$/, "", name); gsub(/"/, "", name); if (name in skip) next }
        { print }' "$out/roles.sql" \
        | "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$server dbname=postgres" -f - >/dev/null \
        || die "creating the roles from $out/roles.sql failed"
    psql_at "$server dbname=postgres" -c "CREATE DATABASE \"$db\""
    "$PG_BIN/pg_restore" --exit-on-error -d "$server dbname=$db" "$out/tally.dump"
    log "restored $out into database $db"
}

case "${1:-}" in
    dump) [ $# -eq 3 ] || usage; dump "$2" "$3" ;;
    restore) [ $# -eq 4 ] || usage; restore "$2" "$3" "$4" ;;
    *) usage ;;
esac
