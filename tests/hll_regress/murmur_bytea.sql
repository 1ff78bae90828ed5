-- MurmurHash3 of byte strings of every length up to 40 (all tail lengths of the
-- 16-byte blocks), over seeds.
SELECT hll_set_output_version(1);
SELECT n, seed, hll_hash_bytea(substr(b, 1, n), seed)
  FROM (SELECT decode(string_agg(lpad(to_hex((g * 37 + 11) % 256), 2, '0'), '' ORDER BY g), 'hex') b FROM generate_series(1, 40) g) x,
       generate_series(0, 40) n, unnest(ARRAY[0, 99]) seed
 ORDER BY n, seed;
SELECT count(*), md5(string_agg(hll_hash_bytea(sha256(int4send(g)), g % 5)::text, ',' ORDER BY g)) FROM generate_series(1, 20000) g;
SELECT count(*), md5(string_agg(hll_hash_text(repeat(chr(65 + g % 26), g % 70), g)::text, ',' ORDER BY g)) FROM generate_series(1, 3000) g;
