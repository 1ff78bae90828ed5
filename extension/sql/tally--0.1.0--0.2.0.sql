-- tally 0.1.0 -> 0.2.0, run by ALTER EXTENSION tally UPDATE.
--
-- What changed (docs/upgrades.md says how to add to this file until 0.2.0 is released;
-- after that it is never edited again):
--
-- * pg_dump carries the rows a restore needs for idempotent ingest and alert delivery,
--   and the identity sequences of every table it carries, so a restored database
--   neither stores a retried batch twice nor hands out ids it already used.
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_batches', '');
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_event_ids', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_state', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_delivery_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('tally.sites_site_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_rules_rule_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.alert_history_history_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.api_keys_key_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.audit_log_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_keys_key_id_seq', '');
