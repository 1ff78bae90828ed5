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
# OUT_DIR holds roles.sql, tally.dump (pg_dump's custom format) and, in tables/, the rows
# of the tables that ingest's idempotency and alert evaluation need but that the
# extension does not hand to pg_dump (see CARRIED): all taken from one snapshot, so an
# event id is in the dump exactly when its event is, and a client's retry after the
# restore is stored once.
source "$(dirname "$0")/../lib.sh"

# Tables whose rows a restore needs and pg_dump leaves out unless the extension registers
# them with pg_extension_config_dump, in load order (foreign keys). Sessions, login
# failures and daily salts stay behind on purpose: users sign in again, and a restored
# database starts new salts.
CARRIED=(ingest_batches ingest_event_ids alert_state alert_deliveries alert_delivery_attempts)

usage() { sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

psql_at() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -tA -d "$@"; }

dump() {
    local src=$1 out=$2
    # roles.sql holds the roles' password hashes.
    umask 077
    mkdir -p "$out/tables"
    rm -f "$out"/tables/*.copy
    "$PG_BIN/pg_dumpall" --roles-only -d "$src" -f "$out/roles.sql"
    # One snapshot for pg_dump and the carried tables: a transaction that exports it stays
    # open (a psql co-process) until both have read.
    coproc SNAP { "$PG_BIN/psql" -X -q -tA -v ON_ERROR_STOP=1 -d "$src"; }
    echo "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT pg_export_snapshot();" >&"${SNAP[1]}"
    local snapshot; read -r -t 30 snapshot <&"${SNAP[0]}" || die "could not export a snapshot from $src"
    "$PG_BIN/pg_dump" -Fc --snapshot="$snapshot" -d "$src" -f "$out/tally.dump"
    local registered; registered=$(psql_at "$src" -c "SELECT string_agg(c.relname, ' ')
        FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid WHERE e.extname = 'tally'")
    local copies=(-c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SET TRANSACTION SNAPSHOT '$snapshot'")
    for t in "${CARRIED[@]}"; do
        [[ " $registered " == *" $t "* ]] && continue
        copies+=(-c "\\copy tally.$t TO '$out/tables/$t.copy'")
    done
    psql_at "$src" "${copies[@]}" -c "COMMIT"
    echo "COMMIT;" >&"${SNAP[1]}"
    exec {SNAP[1]}>&-
    wait "$SNAP_PID"
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
    local loads=()
    for t in "${CARRIED[@]}"; do
        [ -f "$out/tables/$t.copy" ] && loads+=(-c "\\copy tally.$t FROM '$out/tables/$t.copy'")
    done
    # Identity sequences the extension does not register are restored at their start:
    # move each past the highest id its table holds, so new sites, rules, keys and audit
    # rows do not collide with restored ones.
    psql_at "$server dbname=$db" -c "BEGIN" "${loads[@]}" -c "DO \$\$
        DECLARE s record; top bigint;
        BEGIN
            FOR s IN SELECT d.objid::regclass AS seq, d.refobjid::regclass AS tbl, a.attname AS col
                     FROM pg_depend d
                     JOIN pg_class c ON c.oid = d.objid AND c.relkind = 'S'
                     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                     WHERE d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                       AND c.relnamespace = 'tally'::regnamespace
            LOOP
                EXECUTE format('SELECT max(%I) FROM %s', s.col, s.tbl) INTO top;
                IF top IS NOT NULL THEN
                    PERFORM setval(s.seq, greatest(top, (SELECT last_value FROM pg_sequences
                        WHERE format('%I.%I', schemaname, sequencename)::regclass = s.seq)));
                END IF;
            END LOOP;
        END \$\$" -c "COMMIT"
    log "restored $out into database $db"
}

case "${1:-}" in
    dump) [ $# -eq 3 ] || usage; dump "$2" "$3" ;;
    restore) [ $# -eq 4 ] || usage; restore "$2" "$3" "$4" ;;
    *) usage ;;
esac
