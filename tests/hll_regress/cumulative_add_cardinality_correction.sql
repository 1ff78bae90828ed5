-- Registers pushed to their largest values one at a time: the estimate moves from
-- linear counting through the raw estimate into the large-range correction. With
-- max sparse 0 every set with a filled register is stored full.
SELECT hll_set_output_version(1);
SELECT hll_set_max_sparse(0);
WITH RECURSIVE grow(i, h) AS (
    SELECT -1, hll_empty(11, 5, 0, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, ((i + 1) | (1::bigint << (11 + 30)))::hll_hashval) FROM grow WHERE i < 2047
)
SELECT i, hll_cardinality(h), md5(h::text), hll_type(h) FROM grow ORDER BY i;
WITH RECURSIVE grow(i, h) AS (
    SELECT -1, hll_empty(11, 5, 0, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, ((i + 1) % 2048 | (1::bigint << (11 + (i + 1) / 2048 + 20)))::hll_hashval) FROM grow WHERE i < 8191
)
SELECT i, hll_cardinality(h) FROM grow WHERE i % 64 = 0 ORDER BY i;
SELECT hll_set_max_sparse(-1);
