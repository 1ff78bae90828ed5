-- A column of hll(...) stores only values with its parameters.
SELECT hll_set_output_version(1);
CREATE TABLE narrow (v hll(10));
INSERT INTO narrow VALUES ('\x118b7f');
INSERT INTO narrow VALUES ('\x128b7f0000000000000001');
INSERT INTO narrow VALUES (hll_empty(11));
INSERT INTO narrow VALUES (hll_empty(10, 4));
INSERT INTO narrow VALUES (hll_empty(10, 5, 16));
INSERT INTO narrow VALUES (hll_empty(10, 5, -1, 0));
INSERT INTO narrow SELECT hll_add_agg(hll_hash_integer(g)) FROM generate_series(1, 10) g;
INSERT INTO narrow VALUES ('\x118a7f'), ('\x128a7f0000000000000001'), (hll_empty(10)), (NULL);
INSERT INTO narrow SELECT hll_add_agg(hll_hash_integer(g), 10) FROM generate_series(1, 1000) g;
UPDATE narrow SET v = hll_empty(12) WHERE v IS NULL;
UPDATE narrow SET v = v || hll_hash_integer(5) WHERE v IS NOT NULL;
SELECT hll_type(v), hll_cardinality(v) FROM narrow ORDER BY 2 NULLS FIRST, 1;
-- The declared parameters with the session defaults filled in.
SELECT hll_set_defaults(10, 4, 16, 0);
CREATE TABLE narrow2 (v hll(10));
INSERT INTO narrow2 VALUES (hll_empty(10));
INSERT INTO narrow2 VALUES (hll_empty(10, 5, -1, 1));
SELECT hll_set_defaults(11, 5, -1, 1);
SELECT count(*) FROM narrow2;
DROP TABLE narrow, narrow2;
