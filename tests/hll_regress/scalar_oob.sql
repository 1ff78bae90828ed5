-- hll_cardinality and hll_union on NULL, undefined, empty, explicit and sparse values.
SET extra_float_digits = 0;
SELECT hll_set_output_version(1);
SELECT v, hll_cardinality(v::hll) FROM (VALUES (NULL), ('\x108b7f'), ('\x118b7f'), ('\x128b7f0000000000000021'), ('\x138b7f0022')) t(v);
SELECT a, b, hll_union(a::hll, b::hll), hll_cardinality(hll_union(a::hll, b::hll))
  FROM (VALUES (NULL), ('\x108b7f'), ('\x118b7f'), ('\x128b7f0000000000000021'), ('\x138b7f0022')) x(a),
       (VALUES (NULL), ('\x108b7f'), ('\x118b7f'), ('\x128b7f0000000000000021'), ('\x138b7f0022')) y(b)
 ORDER BY a NULLS FIRST, b NULLS FIRST;
-- Different parameters cannot be unioned.
SELECT hll_union('\x118b7f'::hll, '\x118c7f'::hll);
SELECT hll_union('\x128b7f0000000000000021'::hll, '\x128b490000000000000021'::hll);
SELECT hll_union('\x138b7f0022'::hll, '\x13ab7f000080'::hll);
SELECT hll_union('\x118b7f'::hll, '\x118b3f'::hll);
SELECT hll_union_agg(v::hll) FROM (VALUES ('\x118b7f'), ('\x118a7f')) t(v);
SELECT hll_empty(11) || hll_empty(12);
