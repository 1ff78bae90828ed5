-- Random registers set to random values in a sparse set, without promotion.
SELECT hll_set_output_version(1);
WITH RECURSIVE grow(i, h) AS (
    SELECT 0, hll_empty(11, 5, 0, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, hll_hash_integer(i, 42)) FROM grow WHERE i < 160
)
SELECT i, hll_type(h), hll_cardinality(h), h FROM grow ORDER BY i;
