-- The typed hash functions, seeds, and casts into hll_hashval.
SELECT hll_set_output_version(1);
SELECT hll_hash_boolean(false), hll_hash_boolean(true);
SELECT v, hll_hash_smallint(v::smallint), hll_hash_integer(v), hll_hash_bigint(v) FROM unnest(ARRAY[0, 1, -1, 42, -32768, 32767]) v;
SELECT hll_hash_bigint(9223372036854775807), hll_hash_bigint(-9223372036854775808), hll_hash_integer(-2147483648);
SELECT v, hll_hash_bytea(v::bytea), hll_hash_text(v) FROM unnest(ARRAY['', 'a', 'b', 'ab', 'hyperloglog', 'ünïcødé']) v;
-- Seeds: 0 is the default, positive ones are fine, negative ones warn.
SELECT hll_hash_integer(7, 0), hll_hash_integer(7, 3), hll_hash_integer(7, 2147483647);
SELECT hll_hash_integer(7, -3);
SELECT hll_hash_integer(7, -2147483648);
SELECT hll_hash_boolean(true, -1);
SELECT hll_hash_smallint(7::smallint, -1);
SELECT hll_hash_bigint(7, -1);
SELECT hll_hash_bytea('\x07', -1);
SELECT hll_hash_text('seven', -1);
-- No boolean overload takes an integer.
SELECT hll_hash_boolean(1, -1);
-- Each typed hash is the hash of the value's bytes.
SELECT hll_hash_boolean(true) = hll_hash_bytea('\x01'),
       hll_hash_smallint(258::smallint) = hll_hash_bytea('\x0201'),
       hll_hash_integer(258) = hll_hash_bytea('\x02010000'),
       hll_hash_bigint(258) = hll_hash_bytea('\x0201000000000000'),
       hll_hash_text('xy') = hll_hash_bytea('\x7879');
SELECT hll_hash_integer(11) = hll_hash_integer(11, 0), hll_hash_text('q') = hll_hash_text('q', 0);
-- Casts: integers become hashes only explicitly.
SELECT hll_empty() || 1234::hll_hashval, hll_empty() || CAST(1234 AS hll_hashval),
       hll_empty() || 1234::bigint::hll_hashval, hll_empty() || hll_hashval(1234);
SELECT 1234::hll_hashval, (-5)::hll_hashval, 99999999999::hll_hashval;
SELECT hll_empty() || 1234;
SELECT hll_empty() || 1234::bigint;
