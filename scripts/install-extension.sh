#!/usr/bin/env bash
# Builds the `tally` extension in release mode and installs it into the system
# PostgreSQL 15. Skipped when the sources are unchanged since the last install and the
# installed files are still there.
source "$(dirname "$0")/lib.sh"
cd "$TALLY_ROOT"

libdir=$("$PG_CONFIG" --pkglibdir)
sharedir=$("$PG_CONFIG" --sharedir)
# The stamp lives beside the installed files: it says what is installed there, whichever
# work tree or target directory built it.
stamp_file="$sharedir/extension/tally.stamp"
# Everything the extension build reads: its crates, the shipped SQL, the lock file.
stamp=$(find extension sql Cargo.toml Cargo.lock -type f \
            -not -path '*/target/*' -not -path 'extension/core/fuzz/*' -print0 2>/dev/null \
        | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)

if [ -f "$libdir/tally.so" ] && [ -f "$sharedir/extension/tally.control" ] \
   && [ "$(cat "$stamp_file" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
log "building and installing the tally extension (release)"
(cd extension && cargo pgrx install --release --pg-config "$PG_CONFIG" >/dev/null)
# cargo-pgrx installs the upgrade scripts of extension/sql/ (tally--A--B.sql); the frozen
# scripts of earlier releases (tally--A.sql) go beside them, so that tests can create a
# database at an earlier release and upgrade it (docs/upgrades.md).
install -m 644 extension/sql/tally--*.sql "$sharedir/extension/"
echo "$stamp" > "$stamp_file"
