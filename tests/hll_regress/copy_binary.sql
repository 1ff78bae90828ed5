-- hll values through COPY in binary and text form.
SELECT hll_set_output_version(1);
CREATE TABLE copied (id integer, v hll);
INSERT INTO copied VALUES (1, hll_empty() || hll_hash_text('first')),
                          (2, (SELECT hll_add_agg(hll_hash_integer(g)) FROM generate_series(1, 1000) g)),
                          (3, hll_empty(10, 4, 0, 0)), (4, NULL);
SELECT id, hll_cardinality(v) FROM copied ORDER BY id;
\copy copied TO 'copied.bin' WITH (FORMAT binary)
\copy copied TO 'copied.txt'
TRUNCATE copied;
\copy copied FROM 'copied.bin' WITH (FORMAT binary)
SELECT id, hll_cardinality(v), md5(v::text) FROM copied ORDER BY id;
TRUNCATE copied;
\copy copied FROM 'copied.txt'
SELECT id, hll_cardinality(v), md5(v::text) FROM copied ORDER BY id;
CREATE TABLE narrow (id integer, v hll(10, 4, 0, 0));
\copy narrow FROM 'copied.txt'
SELECT count(*) FROM narrow;
DROP TABLE copied, narrow;
