-- Sparse storage on and off.
SELECT hll_set_output_version(1);
SELECT hll_print(hll_empty(12, 5, 0, 1)), hll_print(hll_empty(12, 5, 0, 0));
SELECT hll_add(hll_empty(12, 5, 0, 1), hll_hash_integer(8));
SELECT hll_add(hll_empty(12, 5, 0, 0), hll_hash_integer(8));
SELECT hll_type(hll_add_agg(hll_hash_integer(g), 12, 5, 0, 1)), hll_type(hll_add_agg(hll_hash_integer(g), 12, 5, 0, 0))
  FROM generate_series(1, 50) g;
