-- Sparse sets unioned with sets stored full (max sparse 512).
SELECT hll_set_output_version(1);
SELECT hll_set_max_sparse(512);
CREATE TABLE parts AS
    SELECT i AS recno, CASE WHEN i % 3 = 0 THEN (SELECT hll_add_agg(hll_hash_bigint(i * 5000 + v), 11, 5, 0, 1) FROM generate_series(1, 3000) v) ELSE hll_empty(11, 5, 0, 1) || hll_hash_bigint(i) END AS part
      FROM generate_series(1, 30) i;
\i :cases/cumulative_union_checks.psql
