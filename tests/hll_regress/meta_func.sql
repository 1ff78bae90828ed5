-- The metadata functions on every kind of value, and on NULL.
SELECT hll_set_output_version(1);
SELECT v, hll_schema_version(v::hll), hll_type(v::hll), hll_log2m(v::hll), hll_regwidth(v::hll),
       hll_expthresh(v::hll), hll_sparseon(v::hll)
  FROM (VALUES ('\x108b7f'), ('\x118b7f'), ('\x116a21'), ('\x128b490000000000000042'), ('\x138b400062'),
               ('\x14857f0840008001000020000008042000062884120021'), ('\x118b4f'), ('\x118001')) t(v);
SELECT hll_schema_version(hll_empty(10, 4, 32, 0)), hll_type(hll_empty(10, 4, 32, 0)), hll_log2m(hll_empty(10, 4, 32, 0)),
       hll_regwidth(hll_empty(10, 4, 32, 0)), hll_expthresh(hll_empty(10, 4, 32, 0)), hll_sparseon(hll_empty(10, 4, 32, 0));
SELECT hll_schema_version(NULL), hll_type(NULL), hll_log2m(NULL), hll_regwidth(NULL), hll_expthresh(NULL), hll_sparseon(NULL);
SELECT (hll_expthresh(hll_empty(13, 6, -1, 1))).specified, (hll_expthresh(hll_empty(13, 6, -1, 1))).effective;
