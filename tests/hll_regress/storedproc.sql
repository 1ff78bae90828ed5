-- The session functions called from a PL/pgSQL function take effect when it runs.
SELECT hll_set_max_sparse(100);
SELECT hll_set_defaults(12, 4, 64, 0);
CREATE FUNCTION reset_hll_settings() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hll_set_max_sparse(-1);
    PERFORM hll_set_defaults(11, 5, -1, 1);
END;
$$;
-- Defining it changed nothing.
SELECT hll_set_max_sparse(100);
SELECT hll_set_defaults(12, 4, 64, 0);
SELECT hll_print(hll_empty());
SELECT reset_hll_settings();
SELECT hll_print(hll_empty());
SELECT hll_set_max_sparse(100);
SELECT hll_set_defaults(12, 4, 64, 0);
SELECT reset_hll_settings();
DROP FUNCTION reset_hll_settings();
