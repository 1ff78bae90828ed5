-- Explicit sets whose union stays explicit (at most 256 values).
SELECT hll_set_output_version(1);
CREATE TABLE parts AS
    SELECT i AS recno, (SELECT hll_add_agg(hll_hash_bigint(i * 3 + v), 11, 5, 256, 1) FROM generate_series(0, i % 4) v) AS part
      FROM generate_series(1, 60) i;
\i :cases/cumulative_union_checks.psql
