#!/usr/bin/env bash
# Builds the dashboard (dashboards/src → dashboards/dist) with esbuild from npm, pinned
# by dashboards/package-lock.json. The bundle is built, not committed: it is made from
# the sources in well under a second, and a committed copy would drift from them.
# Idempotent: npm runs only when the lock file changed, esbuild only when a source did.
source "$(dirname "$0")/lib.sh"
dir="$TALLY_ROOT/dashboards"

npm_ci_if_changed "$dir"

stamp=$(cd "$dir" && find src build.mjs package-lock.json -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ -f "$dir/dist/index.html" ] && [ "$(cat "$dir/dist/.stamp" 2>/dev/null)" = "$stamp" ]; then
    exit 0
fi
log "building the dashboard"
(cd "$dir" && node build.mjs)
echo "$stamp" > "$dir/dist/.stamp"
