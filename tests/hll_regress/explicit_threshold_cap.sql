-- Parameters at the limits of the explicit threshold and the register array. (The
-- malformed headers postgresql-hll 2.20 refuses are accepted by 2.17, the version this
-- suite compares against; Tally refuses them, see tests/tests/hll.rs.)
SELECT hll_set_output_version(1);
-- Limits: register width 7, 2^17 registers.
SELECT hll_cardinality(hll_add('\x11cb3f'::hll, hll_hash_integer(4)));
SELECT hll_cardinality(hll_empty(17, 7, -1, 0) || hll_hash_integer(1) || hll_hash_integer(2));
SELECT hll_cardinality(hll_union(hll_empty(17, 7, -1, 0) || hll_hash_integer(1), hll_empty(17, 7, -1, 0) || hll_hash_integer(2)));
-- Promotion at a threshold of 2, by adding and by union.
SELECT hll_type(hll_empty(11, 5, 2, 0) || hll_hash_integer(1) || hll_hash_integer(2)),
       hll_type(hll_empty(11, 5, 2, 0) || hll_hash_integer(1) || hll_hash_integer(2) || hll_hash_integer(3)),
       hll_type(hll_union(hll_empty(11, 5, 2, 0) || hll_hash_integer(1) || hll_hash_integer(2), hll_empty(11, 5, 2, 0) || hll_hash_integer(3)));
-- Unions near the automatic threshold (160 for 2048 registers of 5 bits).
SELECT hll_type(hll_union(
    (SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) FROM generate_series(1, 80) g),
    (SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) FROM generate_series(81, 160) g))),
       hll_type(hll_union(
    (SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) FROM generate_series(1, 80) g),
    (SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) FROM generate_series(81, 161) g)));
SELECT hll_type(hll_union_agg(h)) FROM (
    SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) h FROM generate_series(1, 300) g GROUP BY g / 15) x;
SELECT length(hll_send(hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0))) FROM generate_series(1, 161) g;
-- The largest automatic threshold (14336) crossed by a union.
SELECT hll_type(hll_union(
    (SELECT hll_add_agg(hll_hash_integer(g), 17, 7, -1, 0) FROM generate_series(1, 9000) g),
    (SELECT hll_add_agg(hll_hash_integer(g), 17, 7, -1, 0) FROM generate_series(6000, 16000) g)));
-- Parallel and serial union aggregates agree.
CREATE TABLE singles AS SELECT g, hll_empty(11, 5, -1, 0) || hll_hash_integer(g) h FROM generate_series(1, 2000) g;
ANALYZE singles;
SET max_parallel_workers_per_gather = 0;
SELECT hll_union_agg(h) = (SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) FROM generate_series(1, 2000) g), round(hll_cardinality(hll_union_agg(h))::numeric, 3) FROM singles;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT hll_union_agg(h) = (SELECT hll_add_agg(hll_hash_integer(g), 11, 5, -1, 0) FROM generate_series(1, 2000) g), round(hll_cardinality(hll_union_agg(h))::numeric, 3) FROM singles;
RESET ALL;
DROP TABLE singles;
