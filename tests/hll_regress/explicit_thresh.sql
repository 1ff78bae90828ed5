-- Explicit thresholds: fixed (0, 1, 2, 4, 8) and automatic for several register
-- counts and widths; where each set stops being explicit.
SELECT hll_set_output_version(1);
SELECT t, n, hll_type(h), h
  FROM unnest(ARRAY[0, 1, 2, 4, 8]) t,
       generate_series(0, 10) n,
       LATERAL (SELECT coalesce(hll_add_agg(hll_hash_integer(g), 12, 5, t, 1), hll_empty(12, 5, t, 1)) h
                  FROM generate_series(1, n) g) x
 ORDER BY t, n;
-- Adding to a literal explicit set.
SELECT hll_add('\x118c49'::hll, hll_hash_integer(3));
SELECT hll_add('\x128c410000000000000007'::hll, hll_hash_integer(3));
-- The automatic threshold: ((2^log2m * regwidth + 7) / 8) / 8.
SELECT log2m, regwidth, hll_print(hll_empty(log2m, regwidth, -1, 1)), (hll_expthresh(hll_empty(log2m, regwidth, -1, 1))).*
  FROM (VALUES (12, 5), (10, 5), (10, 4), (10, 3), (2, 5), (4, 5), (4, 4), (5, 5), (17, 7), (17, 1)) p(log2m, regwidth);
WITH RECURSIVE grow(n, h) AS (
    SELECT 0, hll_empty(5, 5, -1, 1)
    UNION ALL
    SELECT n + 1, hll_add(h, hll_hash_integer(n + 1)) FROM grow WHERE n < 4
)
SELECT n, hll_type(h), h FROM grow ORDER BY n;
