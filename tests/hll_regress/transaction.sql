-- The session functions inside and outside transactions, and their effect on the
-- values made afterwards: backend state, kept by COMMIT and ROLLBACK alike.
SELECT hll_set_max_sparse(-1);
SELECT hll_set_max_sparse(3);
SELECT hll_set_defaults(11, 5, -1, 1);
SELECT hll_set_defaults(10, 4, 128, 0);
SELECT hll_print(hll_empty()), hll_print(hll_empty(12)), hll_print(hll_empty(12, 6)), hll_print(hll_empty(12, 6, 8));
SELECT hll_print(hll_add_agg(hll_hash_integer(g))) FROM generate_series(1, 3) g;
BEGIN;
SELECT hll_set_max_sparse(-1);
SELECT hll_set_defaults(11, 5, -1, 1);
COMMIT;
SELECT hll_set_max_sparse(3);
SELECT hll_set_defaults(10, 4, 128, 1);
-- A rolled-back call stays: the values after the ROLLBACK say so.
BEGIN;
SELECT hll_set_max_sparse(-1);
SELECT hll_set_defaults(11, 5, -1, 1);
ROLLBACK;
SELECT hll_print(hll_empty()), hll_print(hll_add_agg(hll_hash_integer(g))) FROM generate_series(1, 5) g;
SELECT hll_set_max_sparse(3);
SELECT hll_set_defaults(10, 4, 128, 1);
-- So does one rolled back to a savepoint, and one made by a failed statement's transaction.
BEGIN;
SAVEPOINT s;
SELECT hll_set_defaults(12, 5, -1, 1);
ROLLBACK TO SAVEPOINT s;
SELECT hll_set_max_sparse(1);
SELECT 1 / 0;
ROLLBACK;
SELECT hll_print(hll_empty()), hll_type(hll_add_agg(hll_hash_integer(g), 10, 4, 0, 1)) FROM generate_series(1, 2) g;
-- DISCARD ALL keeps them too.
DISCARD ALL;
SELECT hll_set_max_sparse(3);
SELECT hll_set_defaults(10, 4, 128, 1);
-- max sparse 3: sparse up to 3 filled registers, then full.
SELECT n, hll_type(hll_add_agg(hll_hash_integer(g), 10, 4, 0, 1)) FROM generate_series(1, 6) n, generate_series(1, n) g GROUP BY n ORDER BY n;
SELECT hll_set_max_sparse(-1);
SELECT n, hll_type(hll_add_agg(hll_hash_integer(g), 10, 4, 0, 1)) FROM generate_series(1, 6) n, generate_series(1, n) g GROUP BY n ORDER BY n;
-- Bad values are refused and change nothing.
SELECT hll_set_max_sparse(-2);
SELECT hll_set_defaults(18, 5, -1, 1);
SELECT hll_set_defaults(11, 5, 3, 1);
SELECT hll_set_output_version(2);
SELECT hll_set_output_version(1);
SELECT hll_set_defaults(11, 5, -1, 1);
