-- Unions of every kind of set: empty, explicit, sparse and full, in a mixed order.
SELECT hll_set_output_version(1);
CREATE TABLE parts AS
    SELECT i AS recno, CASE i % 4 WHEN 0 THEN hll_empty(11, 5, 128, 1) ELSE (SELECT hll_add_agg(hll_hash_bigint(i * 1000 + v), 11, 5, 128, 1) FROM generate_series(1, (i * 37) % 300 + 1) v) END AS part
      FROM generate_series(1, 120) i;
\i :cases/cumulative_union_checks.psql
