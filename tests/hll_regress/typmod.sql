-- Column types hll(log2m, regwidth, expthresh, sparseon): the defaults filled in, the
-- range of each modifier, and how \d shows them.
SELECT hll_set_output_version(1);
CREATE TABLE typed (a hll, b hll(12), c hll(12, 6), d hll(12, 6, 32), e hll(12, 6, 32, 0), f hll(0), g hll(17, 7, 8192, 1), h hll(11, 0));
\d typed
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'typed'::regclass AND attnum > 0 ORDER BY attnum;
DROP TABLE typed;
-- Defaults come from the session.
SELECT hll_set_defaults(13, 4, 0, 0);
CREATE TABLE typed (a hll(14), b hll(14, 5));
\d typed
DROP TABLE typed;
SELECT hll_set_defaults(11, 5, -1, 1);
-- Out of range or malformed.
CREATE TABLE bad (v hll(10, 4, 64, 0, 1));
CREATE TABLE bad (v hll(-1));
CREATE TABLE bad (v hll(18));
CREATE TABLE bad (v hll(40));
CREATE TABLE bad (v hll(11, -1));
CREATE TABLE bad (v hll(11, 8));
CREATE TABLE bad (v hll(11, 5, -2));
CREATE TABLE bad (v hll(11, 5, 100));
CREATE TABLE bad (v hll(11, 5, 32768));
CREATE TABLE bad (v hll(11, 5, 4294967296));
CREATE TABLE bad (v hll(11, 5, 64, -1));
CREATE TABLE bad (v hll(11, 5, 64, 2));
CREATE TABLE bad (v hll(x));
CREATE TABLE bad (v hll('7'));
\d bad
SELECT '\x118b7f'::hll(11, 5, -1, 1)::text;
