-- Casts to hll(...) accept values with exactly the declared parameters.
SELECT hll_set_output_version(1);
SELECT '\x118b7f'::hll(11, 5, -1, 1);
SELECT '\x118b7f'::hll(11);
SELECT '\x118b7f'::hll(12);
SELECT '\x118b7f'::hll(11, 4);
SELECT '\x118b7f'::hll(11, 5, 32);
SELECT '\x118b7f'::hll(11, 5, -1, 0);
SELECT '\x128b7f0000000000000003'::hll(11, 5, -1, 1);
SELECT '\x128b7f0000000000000003'::hll(10, 5, -1, 1);
SELECT '\x138b7f0003'::hll(11, 5);
SELECT '\x138b7f0003'::hll(11, 6);
SELECT CAST(hll_empty(9, 3, 0, 0) AS hll(9, 3, 0, 0));
SELECT CAST(hll_empty(9, 3, 0, 0) AS hll(9, 3, 0, 1));
SELECT hll_add_agg(hll_hash_integer(g), 10)::hll(10) FROM generate_series(1, 500) g;
SELECT hll_add_agg(hll_hash_integer(g), 10)::hll(11) FROM generate_series(1, 500) g;
SELECT hll_empty(10, 5, 64, 1)::hll(10, 5, 64);
SELECT hll_empty(10, 5, 64, 1)::hll(10, 5, 128);
