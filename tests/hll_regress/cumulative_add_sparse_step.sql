-- Successive registers of a sparse set, register i set to (i % 31) + 1.
SELECT hll_set_output_version(1);
WITH RECURSIVE grow(i, h) AS (
    SELECT -1, hll_empty(11, 5, 0, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, ((i + 1) | (1::bigint << (11 + (i + 1) % 31)))::hll_hashval) FROM grow WHERE i < 250
)
SELECT i, hll_type(h), hll_cardinality(h), h FROM grow ORDER BY i;
