-- The # (cardinality) operator and its precedence.
SET extra_float_digits = 0;
SELECT hll_set_output_version(1);
SELECT #'\x108c49'::hll;
SELECT #hll_empty(12, 5, 128, 1);
-- # binds tighter than ||: this is (#hll) || hashval.
SELECT #hll_empty(12, 5, 128, 1) || hll_hash_integer(7);
SELECT #(hll_empty(12, 5, 128, 1) || hll_hash_integer(7));
SELECT #'\x128b490000000000000011'::hll;
SELECT #'\x128b4900000000000000110000000000000022'::hll;
SELECT #'\x138b490044'::hll;
-- A stored threshold of 2^14 (code 15), as postgresql-hll writes it.
SELECT #'\x138b4f0061'::hll, #'\x118b4f'::hll, #'\x128b4f0000000000000001'::hll;
SELECT #hll_add(hll_empty(10, 4, 0, 0), hll_hash_integer(3));
SELECT #(SELECT hll_add_agg(hll_hash_integer(g), 10, 4, 0, 0) FROM generate_series(1, 300) g);
SELECT #(SELECT hll_add_agg(hll_hash_integer(g), 10, 4, 0, 0) FROM generate_series(1, 30000) g);
