-- MurmurHash3 of bigints over a range of values and seeds.
SELECT hll_set_output_version(1);
SELECT seed, v, hll_hash_bigint(v, seed)
  FROM unnest(ARRAY[0, 1, 7, 65535, 2147483647]) seed,
       unnest(ARRAY[0, 1, -1, 255, 256, 65536, 4294967296, -9223372036854775808, 9223372036854775807]) v
 ORDER BY seed, v;
SELECT count(*), md5(string_agg(hll_hash_bigint(g * 7919, s)::text, ',' ORDER BY g, s))
  FROM generate_series(-5000, 5000) g, generate_series(0, 40, 8) s;
-- hll_hashval(bigint) and the hash compare as hashes.
SELECT count(*) FROM generate_series(1, 1000) g WHERE hll_hashval(hll_hash_bigint(g)::text::bigint) <> hll_hash_bigint(g);
