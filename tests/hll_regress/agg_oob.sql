-- hll_union_agg over NULL, undefined, empty, explicit and sparse values, in mixes.
SELECT hll_set_output_version(1);
CREATE TABLE sets (kind text, n integer, v hll);
INSERT INTO sets VALUES
    ('null', 1, NULL), ('null', 2, NULL),
    ('undefined', 1, '\x108b7f'), ('undefined', 2, '\x108b7f'),
    ('empty', 1, '\x118b7f'), ('empty', 2, '\x118b7f'),
    ('explicit', 1, '\x128b7f0000000000000007'), ('explicit', 2, '\x128b7f00000000000000070000000000000009'),
    ('explicit', 3, '\x128b7fffffffffffffff00'),
    ('sparse', 1, '\x138b7f0003'), ('sparse', 2, '\x138b7f1001'), ('sparse', 3, '\x138b7f0004');

SELECT a.kind AS first, b.kind AS second,
       (SELECT hll_union_agg(v) FROM sets WHERE kind IN (a.kind, b.kind)) AS unioned,
       (SELECT ceil(hll_cardinality(hll_union_agg(v))) FROM sets WHERE kind IN (a.kind, b.kind)) AS card
  FROM (SELECT DISTINCT kind FROM sets) a, (SELECT DISTINCT kind FROM sets) b
 WHERE a.kind <= b.kind
 ORDER BY 1, 2;

SELECT (SELECT hll_union_agg(v) FROM sets WHERE kind IN ('empty', 'explicit', 'sparse')),
       (SELECT hll_union_agg(v) FROM sets WHERE kind <> 'undefined'),
       (SELECT hll_union_agg(v) FROM sets);

-- No rows.
SELECT hll_union_agg(v), hll_cardinality(hll_union_agg(v)) FROM sets WHERE n > 10;
DROP TABLE sets;
