#!/usr/bin/env bash
# Initialises Dockerfile.pg's database once, from the official image's entrypoint:
# database `tally` with the extension, alert evaluation every minute (pg_cron runs its
# jobs from database `postgres`, cron.database_name), and the gateway's login role.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE DATABASE tally;
CREATE EXTENSION IF NOT EXISTS pg_cron;
SELECT cron.schedule_in_database('tally-alerts-tally', '* * * * *',
    'CALL tally.run_alerts()', 'tally');
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname tally -c 'CREATE EXTENSION tally CASCADE'

# The gateway logs in as a role of its own, not a superuser (docs/install.md).
if [ -n "${TALLY_GATEWAY_PASSWORD:-}" ]; then
    # From standard input: psql interpolates :'pw' there (quoted), not in -c.
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname tally -v pw="$TALLY_GATEWAY_PASSWORD" <<'SQL'
CREATE ROLE tally_gw LOGIN BYPASSRLS PASSWORD :'pw' IN ROLE tally_gateway;
SQL
fi
