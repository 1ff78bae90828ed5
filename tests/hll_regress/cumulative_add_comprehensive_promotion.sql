-- Values added one by one to an empty set: empty, explicit (up to 128), sparse (up to
-- 512 filled registers with max sparse 512), then full.
SELECT hll_set_output_version(1);
SELECT hll_set_max_sparse(512);
WITH RECURSIVE grow(i, h) AS (
    SELECT 0, hll_empty(11, 5, 128, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, hll_hash_bigint(i * 7919 + 13)) FROM grow WHERE i < 1500
)
SELECT i, hll_type(h), hll_cardinality(h), CASE WHEN i < 200 THEN h::text ELSE md5(h::text) END FROM grow ORDER BY i;
SELECT hll_set_max_sparse(-1);
