-- <> is the negation of = for hll values.
SELECT hll_set_output_version(1);
SELECT a, b, a::hll <> b::hll AS differs, NOT (a::hll = b::hll) AS negation
  FROM (VALUES
    ('\x108b7f', '\x108b7f'),
    ('\x108b7f', '\x108b49'),
    ('\x118b49', '\x118b49'),
    ('\x118b49', '\x118b09'),
    ('\x128b7f0000000000000005', '\x128b7f0000000000000005'),
    ('\x128b7f0000000000000005', '\x128b7f0000000000000006'),
    ('\x138b7f0011', '\x138b7f0011'),
    ('\x138b7f0011', '\x138b7f00110022'),
    ('\x118b7f', '\x138b7f0011')) t(a, b);
SELECT hll_empty(12, 5, 256, 1) <> hll_empty(12, 5, 256, 1),
       hll_empty(12, 5, 256, 1) <> hll_empty(12, 6, 256, 1),
       hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(9)) <> hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(9)),
       hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(9)) <> hll_add(hll_empty(11, 5, 0, 0), hll_hash_integer(10));
