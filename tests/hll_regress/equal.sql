-- = compares values byte for byte: same kind, same parameters, same contents.
SELECT hll_set_output_version(1);
SELECT a, b, a::hll = b::hll AS same
  FROM (VALUES
    ('\x108b7f', '\x108b7f'),
    ('\x108b7f', '\x108c7f'),
    ('\x118b49', '\x118b49'),
    ('\x118b49', '\x118b09'),
    ('\x118b49', '\x118b48'),
    ('\x118b49', '\x116b49'),
    ('\x128b7f0000000000000005', '\x128b7f0000000000000005'),
    ('\x128b7f0000000000000005', '\x128b7f0000000000000006'),
    ('\x128b7f0000000000000005', '\x128b7f00000000000000050000000000000006'),
    ('\x138b7f0011', '\x138b7f0011'),
    ('\x138b7f0011', '\x138b7f0012'),
    ('\x138b7f0011', '\x138b7f00110022'),
    ('\x108b7f', '\x118b7f'),
    ('\x118b7f', '\x128b7f0000000000000005'),
    ('\x128b7f0000000000000005', '\x138b7f0011')) t(a, b);
SELECT hll_empty(11, 5, 256, 1) = hll_empty(11, 5, 256, 1),
       hll_empty(11, 5, 256, 1) = hll_empty(11, 5, 256, 0),
       hll_empty(11, 5, 256, 1) = hll_empty(11, 5, 128, 1),
       hll_empty(11, 5, 256, 1) = hll_empty(11, 4, 256, 1),
       hll_empty(11, 5, 256, 1) = hll_empty(10, 5, 256, 1);
SELECT hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(5)) = hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(5)),
       hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(5)) = hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(6)),
       hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(5)) = hll_add(hll_empty(11, 5, 0, 1), hll_hash_integer(5));
-- Built two ways, the same bytes.
SELECT hll_add(hll_empty(11, 5, 0, 1), hll_hash_integer(5)) = '\x118b40'::hll || hll_hash_integer(5);
-- hll_hashval equality.
SELECT hll_hash_integer(5) = hll_hash_integer(5), hll_hash_integer(5) = hll_hash_integer(6),
       hll_hash_integer(5) <> hll_hash_integer(6), 7::hll_hashval = 7::bigint::hll_hashval;
