-- Plans of grouped hll aggregates with hll.force_groupagg off. (With it on,
-- postgresql-hll's planner hook forces group aggregation; Tally has no such hook, see
-- README.md, so that half of postgresql-hll's file is left out.)
SELECT hll_set_output_version(1);
SET hll.force_groupagg TO off;
CREATE TABLE counters (id integer, part integer, s hll);
INSERT INTO counters SELECT g % 3, g, hll_empty() || hll_hash_integer(g) FROM generate_series(1, 12) g;
EXPLAIN (COSTS OFF) SELECT id, hll_union_agg(s) FROM counters GROUP BY id;
EXPLAIN (COSTS OFF) SELECT id, hll_union_agg(s) || hll_union_agg(s) FROM counters GROUP BY id;
EXPLAIN (COSTS OFF) SELECT id, #hll_union_agg(s) FROM counters GROUP BY id HAVING hll_cardinality(hll_union_agg(s)) > 2;
SELECT id, hll_union_agg(s), #hll_union_agg(s) FROM counters GROUP BY id ORDER BY id;
SET work_mem TO '256MB';
CREATE TABLE pairs (a bigint, b bigint);
INSERT INTO pairs SELECT g, g * 3 FROM generate_series(1, 1000) g;
ANALYZE pairs;
EXPLAIN (COSTS OFF) SELECT a, hll_add_agg(hll_hash_bigint(b)) FROM pairs GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT a, hll_add_agg(hll_hash_bigint(b), 12) FROM pairs GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT a, hll_add_agg(hll_hash_bigint(b), 12, 4) FROM pairs GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT a, hll_add_agg(hll_hash_bigint(b), 12, 4, 64) FROM pairs GROUP BY 1;
EXPLAIN (COSTS OFF) SELECT a, hll_add_agg(hll_hash_bigint(b), 12, 4, 64, 0) FROM pairs GROUP BY 1;
SELECT a % 5, hll_add_agg(hll_hash_bigint(b), 12, 4, 64, 0) FROM pairs GROUP BY 1 ORDER BY 1;
RESET work_mem;
DROP TABLE counters, pairs;
