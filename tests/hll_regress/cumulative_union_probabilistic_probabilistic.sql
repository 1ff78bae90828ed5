-- Full register sets (never explicit, never sparse) unioned.
SELECT hll_set_output_version(1);
CREATE TABLE parts AS
    SELECT i AS recno, (SELECT hll_add_agg(hll_hash_bigint(i * 500 + v), 11, 5, 0, 0) FROM generate_series(1, 50 + i * 10) v) AS part
      FROM generate_series(1, 40) i;
\i :cases/cumulative_union_checks.psql
