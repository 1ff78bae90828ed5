-- The || operator between sets, and with hashes on either side.
SELECT hll_set_output_version(1);
SELECT hll_empty(11, 5, 256, 1) || hll_empty(11, 5, 256, 1);
SELECT hll_empty(11, 5, 256, 1) || '\x128b490000000000000077'::hll;
SELECT '\x128b490000000000000077'::hll || '\x128b490000000000000077'::hll;
SELECT '\x128b490000000000000077'::hll || '\x128b49ffffffffffffff77'::hll;
SELECT hll_empty(11, 5, 256, 1) || hll_hash_integer(77);
SELECT hll_empty(11, 5, 256, 1) || hll_hash_integer(77) || hll_hash_integer(78) || hll_hash_integer(79);
SELECT hll_hash_integer(77) || hll_empty(11, 5, 256, 1);
SELECT hll_hash_integer(77) || hll_empty(11, 5, 256, 1) || hll_hash_integer(78);
SELECT hll_hash_integer(77) || (hll_hash_integer(78) || hll_empty(11, 5, 0, 1));
SELECT (SELECT hll_add_agg(hll_hash_integer(g)) FROM generate_series(1, 100) g) || (SELECT hll_add_agg(hll_hash_integer(g)) FROM generate_series(50, 200) g);
SELECT hll_cardinality((SELECT hll_add_agg(hll_hash_integer(g), 10, 4, 0, 1) FROM generate_series(1, 300) g) || (SELECT hll_add_agg(hll_hash_integer(g), 10, 4, 0, 1) FROM generate_series(250, 5000) g));
