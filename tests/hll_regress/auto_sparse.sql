-- With the automatic threshold, 32 registers of 5 bits keep 2 explicit values; past
-- that the registers are stored sparse until the full array is smaller.
SELECT hll_set_output_version(1);
WITH RECURSIVE grow(n, h) AS (
    SELECT 0, hll_empty(5, 5, -1, 1)
    UNION ALL
    SELECT n + 1, hll_add(h, hll_hash_integer(n * 37 + 5)) FROM grow WHERE n < 40
)
SELECT n, hll_type(h), h FROM grow ORDER BY n;

-- Registers chosen one by one: register i gets value (i % 3) + 1.
WITH RECURSIVE grow(i, h) AS (
    SELECT -1, hll_empty(5, 5, 0, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, ((i + 1) | (1::bigint << (5 + (i + 1) % 3)))::hll_hashval) FROM grow WHERE i < 31
)
SELECT i, hll_type(h), h FROM grow ORDER BY i;
