-- One-value sparse sets: the union is promoted from sparse to full (max sparse 512).
SELECT hll_set_output_version(1);
SELECT hll_set_max_sparse(512);
CREATE TABLE parts AS
    SELECT i AS recno, hll_empty(11, 5, 0, 1) || hll_hash_bigint(i, 3) AS part
      FROM generate_series(1, 700) i;
\i :cases/cumulative_union_checks.psql
