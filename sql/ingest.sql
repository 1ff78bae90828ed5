-- Ingestion: per-site ingest keys for the batch API and the idempotency records that
-- make a retried batch or a resent event id land once. Loaded after schema.sql.

-- Ingest keys: a server or app sends `Authorization: Bearer <key>` to POST /api/v1/events;
-- the key names its site and can only write events. Only a SHA-256 of the key is kept
-- (the key is 244 random bits, so a fast hash is as good as a slow one), and the plain
-- key is shown once, by tally.create_ingest_key. The auth issue extends this table.
CREATE TABLE tally.ingest_keys (
    key_id     int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id    int NOT NULL REFERENCES tally.sites ON DELETE CASCADE,
    key_hash   bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set by tally.revoke_ingest_key; a revoked key is refused (gateways cache keys for
    -- at most their key cache TTL, 30 s by default).
    revoked_at timestamptz
);
CREATE INDEX ingest_keys_site ON tally.ingest_keys (site_id);
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_keys', '');
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_keys_key_id_seq', '');

-- A new ingest key for a site: returns its id and the key itself, which is not stored
-- and cannot be shown again.
CREATE FUNCTION tally.create_ingest_key(site_id int, OUT key_id int, OUT key text)
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tally.sites s WHERE s.site_id = create_ingest_key.site_id) THEN
        RAISE EXCEPTION 'no site with id %', create_ingest_key.site_id
            USING ERRCODE = 'foreign_key_violation',
                  HINT = 'Create the site first: SELECT tally.create_site(''example.com'').';
    END IF;
    -- Two v4 UUIDs: 244 bits from PostgreSQL's cryptographic random source.
    key := 'tk_' || encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex');
    INSERT INTO tally.ingest_keys (site_id, key_hash)
    VALUES (create_ingest_key.site_id, sha256(convert_to(key, 'UTF8')))
    RETURNING ingest_keys.key_id INTO key_id;
END $$;

-- Revokes an ingest key; returns false when no active key has that id.
CREATE FUNCTION tally.revoke_ingest_key(key_id int) RETURNS boolean LANGUAGE sql AS $$
    WITH revoked AS (
        UPDATE tally.ingest_keys k SET revoked_at = now()
        WHERE k.key_id = revoke_ingest_key.key_id AND k.revoked_at IS NULL
        RETURNING 1
    )
    SELECT count(*) > 0 FROM revoked;
$$;

-- Batches the gateway has committed, by the id it gave the batch. tally.ingest_batch
-- (extension/src/ingest/) claims the id in the same transaction as the batch's COPY: a
-- batch replayed from the disk spool after its COMMIT was in fact done (the answer was
-- lost, or the gateway died before deleting the spool file) finds its id taken and is
-- skipped, so it is stored once.
CREATE TABLE tally.ingest_batches (
    batch_id     uuid PRIMARY KEY,
    committed_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_batches', '');

-- Client-chosen event ids (the batch API's optional `id`), per site, claimed in the same
-- transaction as the COPY: an event sent again, by a retrying client or by two
-- gateways at once, is stored once. The second claimant waits on the first's row lock
-- and then finds the id taken.
CREATE TABLE tally.ingest_event_ids (
    site_id     int NOT NULL,
    event_id    text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, event_id)
);
SELECT pg_catalog.pg_extension_config_dump('tally.ingest_event_ids', '');

-- Forgets idempotency records older than `keep`: a batch or event id resent after that
-- is stored again. Every gateway calls it hourly with 30 days, which outlasts any spool
-- outage or client retry policy.
CREATE FUNCTION tally.prune_ingest_ids(keep interval DEFAULT interval '30 days')
RETURNS bigint LANGUAGE sql AS $$
    WITH b AS (DELETE FROM tally.ingest_batches WHERE committed_at < now() - keep RETURNING 1),
         e AS (DELETE FROM tally.ingest_event_ids WHERE received_at < now() - keep RETURNING 1)
    SELECT (SELECT count(*) FROM b) + (SELECT count(*) FROM e);
$$;
