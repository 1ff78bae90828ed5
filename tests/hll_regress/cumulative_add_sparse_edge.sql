-- Sparse registers at the edges: the first and last register index, the smallest and
-- largest register value, with a fixed max sparse of 512 filled registers.
SELECT hll_set_output_version(1);
SELECT hll_set_max_sparse(512);
WITH RECURSIVE grow(i, h) AS (
    SELECT 0, hll_empty(11, 5, 0, 1)
    UNION ALL
    SELECT i + 1, hll_add(h, (CASE (i + 1) % 4
            WHEN 0 THEN 0::bigint | (1::bigint << 11)
            WHEN 1 THEN 2047::bigint | (1::bigint << (11 + 30))
            WHEN 2 THEN ((i + 1) % 2048)::bigint | (1::bigint << (11 + (i + 1) % 31))
            ELSE ((i * 97) % 2048)::bigint | (1::bigint << (11 + 30)) END)::hll_hashval)
      FROM grow WHERE i < 700
)
SELECT i, hll_type(h), hll_cardinality(h), CASE WHEN i < 300 THEN h::text ELSE md5(h::text) END FROM grow ORDER BY i;
SELECT hll_set_max_sparse(-1);
