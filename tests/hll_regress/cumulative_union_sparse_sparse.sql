-- Sparse sets whose union stays sparse.
SELECT hll_set_output_version(1);
CREATE TABLE parts AS
    SELECT i AS recno, (SELECT hll_add_agg(hll_hash_bigint(i * 10 + v), 11, 5, 0, 1) FROM generate_series(0, i % 3) v) AS part
      FROM generate_series(1, 60) i;
\i :cases/cumulative_union_checks.psql
