-- hll_add_agg: every signature, parameter range checks, and NULL-only input.
SELECT hll_set_output_version(1);
CREATE TABLE visits (visitor integer);
INSERT INTO visits SELECT g % 7 FROM generate_series(1, 20) g;

SELECT hll_print(hll_add_agg(hll_hash_integer(visitor))) FROM visits;
SELECT hll_print(hll_add_agg(hll_hash_integer(visitor), 12)) FROM visits;
SELECT hll_print(hll_add_agg(hll_hash_integer(visitor), 12, 6)) FROM visits;
SELECT hll_print(hll_add_agg(hll_hash_integer(visitor), 12, 6, 4)) FROM visits;
SELECT hll_print(hll_add_agg(hll_hash_integer(visitor), 9, 3, -1)) FROM visits;
SELECT hll_print(hll_add_agg(hll_hash_integer(visitor), 9, 3, 0, 0)) FROM visits;
SELECT hll_print(hll_add_agg(hll_hash_integer(visitor), 9, 3, 0, 1)) FROM visits;

-- Out of range: log2m, regwidth, expthresh, sparseon.
SELECT hll_add_agg(hll_hash_integer(visitor), -3) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 18) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, -2) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, 9) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, 5, -4) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, 5, 17179869184) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, 5, 24) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, 5, 64, -1) FROM visits;
SELECT hll_add_agg(hll_hash_integer(visitor), 11, 5, 64, 3) FROM visits;

-- Only NULLs: an empty set with the requested parameters.
SELECT hll_print(hll_add_agg(NULL::hll_hashval));
SELECT hll_print(hll_add_agg(NULL, 12));
SELECT hll_print(hll_add_agg(NULL, 12, 4));
SELECT hll_print(hll_add_agg(NULL, 12, 4, 256));
SELECT hll_print(hll_add_agg(NULL, 12, 4, 256, 0));
SELECT hll_print(hll_add_agg(hll_hash_integer(NULL::integer), 8)) FROM visits;

-- No rows at all.
SELECT hll_add_agg(hll_hash_integer(visitor)) IS NULL FROM visits WHERE visitor > 100;

DROP TABLE visits;
