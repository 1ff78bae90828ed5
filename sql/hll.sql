-- HyperLogLog, byte-compatible with postgresql-hll (extension hll): the same storage
-- format, parameters, hashes, function names and operators, in schema tally. A value
-- built by either one can be cast to the other's type (through bytea or text) and
-- reads with the same cardinality. The C symbols are the pgrx wrappers of
-- extension/src/sketch/. postgresql-hll's session globals (hll_set_defaults,
-- hll_set_max_sparse) are the settings tally.hll_default_* and tally.hll_max_sparse.

-- A hashed value, 8 bytes passed by value exactly like bigint.
CREATE TYPE tally.hll_hashval;
CREATE FUNCTION tally.hll_hashval_in(cstring) RETURNS tally.hll_hashval
    AS 'int8in' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hashval_out(tally.hll_hashval) RETURNS cstring
    AS 'int8out' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE tally.hll_hashval (
    INTERNALLENGTH = 8, PASSEDBYVALUE, ALIGNMENT = double,
    INPUT = tally.hll_hashval_in, OUTPUT = tally.hll_hashval_out
);
CREATE FUNCTION tally.hll_hashval_eq(tally.hll_hashval, tally.hll_hashval) RETURNS bool
    AS 'int8eq' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hashval_ne(tally.hll_hashval, tally.hll_hashval) RETURNS bool
    AS 'int8ne' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR tally.= (
    LEFTARG = tally.hll_hashval, RIGHTARG = tally.hll_hashval, PROCEDURE = tally.hll_hashval_eq,
    COMMUTATOR = OPERATOR(tally.=), NEGATOR = OPERATOR(tally.<>), RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR tally.<> (
    LEFTARG = tally.hll_hashval, RIGHTARG = tally.hll_hashval, PROCEDURE = tally.hll_hashval_ne,
    COMMUTATOR = OPERATOR(tally.<>), NEGATOR = OPERATOR(tally.=), RESTRICT = neqsel, JOIN = neqjoinsel
);
CREATE FUNCTION tally.hll_hashval(bigint) RETURNS tally.hll_hashval
    AS 'SELECT $1::tally.hll_hashval' LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hashval_int4(integer) RETURNS tally.hll_hashval
    AS 'SELECT $1::bigint::tally.hll_hashval' LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (bigint AS tally.hll_hashval) WITHOUT FUNCTION;
CREATE CAST (integer AS tally.hll_hashval) WITH FUNCTION tally.hll_hashval_int4(integer);

-- The sketch: a varlena holding postgresql-hll's bytes, printed as a bytea literal.
CREATE TYPE tally.hll;
CREATE FUNCTION tally.hll_in(cstring, oid, integer) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_in_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_out(tally.hll) RETURNS cstring
    AS 'MODULE_PATHNAME', 'sketch_out_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_recv(internal, oid, integer) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_recv_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_send(tally.hll) RETURNS bytea
    AS 'MODULE_PATHNAME', 'sketch_send_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
-- hll(log2m[, regwidth[, expthresh[, sparseon]]]): columns holding one parameter set.
-- Modifiers left out take the session defaults, hence STABLE.
CREATE FUNCTION tally.hll_typmod_in(cstring[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_typmod_in_wrapper' LANGUAGE c STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_typmod_out(integer) RETURNS cstring
    AS 'MODULE_PATHNAME', 'hll_typmod_out_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE tally.hll (
    INTERNALLENGTH = variable,
    INPUT = tally.hll_in, OUTPUT = tally.hll_out,
    RECEIVE = tally.hll_recv, SEND = tally.hll_send,
    TYPMOD_IN = tally.hll_typmod_in, TYPMOD_OUT = tally.hll_typmod_out,
    -- Sketches are small and dense: out of line without compression, like postgresql-hll.
    STORAGE = external
);
-- bytea -> hll checks the bytes (a cast WITHOUT FUNCTION would let garbage in).
CREATE FUNCTION tally.hll(bytea) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_from_bytea_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (bytea AS tally.hll) WITH FUNCTION tally.hll(bytea);
CREATE CAST (tally.hll AS bytea) WITHOUT FUNCTION;
-- Storing into an hll(...) column checks the value's parameters.
CREATE FUNCTION tally.hll(tally.hll, integer, boolean) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_typmod_cast_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (tally.hll AS tally.hll) WITH FUNCTION tally.hll(tally.hll, integer, boolean) AS IMPLICIT;

CREATE FUNCTION tally.hll_eq(tally.hll, tally.hll) RETURNS bool
    AS 'byteaeq' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_ne(tally.hll, tally.hll) RETURNS bool
    AS 'byteane' LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR tally.= (
    LEFTARG = tally.hll, RIGHTARG = tally.hll, PROCEDURE = tally.hll_eq,
    COMMUTATOR = OPERATOR(tally.=), NEGATOR = OPERATOR(tally.<>), RESTRICT = eqsel, JOIN = eqjoinsel
);
CREATE OPERATOR tally.<> (
    LEFTARG = tally.hll, RIGHTARG = tally.hll, PROCEDURE = tally.hll_ne,
    COMMUTATOR = OPERATOR(tally.<>), NEGATOR = OPERATOR(tally.=), RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE FUNCTION tally.hll_cardinality(tally.hll) RETURNS double precision
    AS 'MODULE_PATHNAME', 'hll_cardinality_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_union(tally.hll, tally.hll) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_union_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_add(tally.hll, tally.hll_hashval) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_add_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_add_rev(tally.hll_hashval, tally.hll) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_add_rev_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE OPERATOR tally.|| (LEFTARG = tally.hll, RIGHTARG = tally.hll, PROCEDURE = tally.hll_union);
CREATE OPERATOR tally.|| (LEFTARG = tally.hll, RIGHTARG = tally.hll_hashval, PROCEDURE = tally.hll_add);
CREATE OPERATOR tally.|| (LEFTARG = tally.hll_hashval, RIGHTARG = tally.hll, PROCEDURE = tally.hll_add_rev);
CREATE OPERATOR tally.# (RIGHTARG = tally.hll, PROCEDURE = tally.hll_cardinality);

CREATE FUNCTION tally.hll_empty(log2m integer, regwidth integer, expthresh bigint, sparseon integer)
    RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_empty4_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
-- The parameters left out come from the session defaults (tally.hll_default_*).
CREATE FUNCTION tally.hll_empty(log2m integer, regwidth integer, expthresh bigint) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_empty3_wrapper' LANGUAGE c STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_empty(log2m integer, regwidth integer) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_empty2_wrapper' LANGUAGE c STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_empty(log2m integer) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_empty1_wrapper' LANGUAGE c STABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_empty() RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_empty0_wrapper' LANGUAGE c STABLE PARALLEL SAFE;

CREATE FUNCTION tally.hll_print(tally.hll) RETURNS cstring
    AS 'MODULE_PATHNAME', 'hll_print_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;

-- Session settings, named as in postgresql-hll; each returns the previous value(s).
CREATE FUNCTION tally.hll_set_output_version(integer) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_set_output_version_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_set_max_sparse(integer) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_set_max_sparse_wrapper' LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION tally.hll_set_defaults4(integer, integer, bigint, integer) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'hll_set_defaults4_wrapper' LANGUAGE c VOLATILE STRICT PARALLEL UNSAFE;
CREATE FUNCTION tally.hll_set_defaults(IN i_log2m integer, IN i_regwidth integer, IN i_expthresh bigint,
                                       IN i_sparseon integer, OUT o_log2m integer, OUT o_regwidth integer,
                                       OUT o_expthresh bigint, OUT o_sparseon integer)
    AS 'SELECT o[1]::integer, o[2]::integer, o[3], o[4]::integer FROM tally.hll_set_defaults4($1, $2, $3, $4) o'
    LANGUAGE sql VOLATILE STRICT PARALLEL UNSAFE;

CREATE FUNCTION tally.hll_log2m(tally.hll) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_log2m_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_regwidth(tally.hll) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_regwidth_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_sparseon(tally.hll) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_sparseon_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_type(tally.hll) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_type_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_schema_version(tally.hll) RETURNS integer
    AS 'MODULE_PATHNAME', 'hll_schema_version_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_expthresh_specified(tally.hll) RETURNS bigint
    AS 'MODULE_PATHNAME', 'hll_expthresh_specified_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_expthresh_effective(tally.hll) RETURNS bigint
    AS 'MODULE_PATHNAME', 'hll_expthresh_effective_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_expthresh(tally.hll, OUT specified bigint, OUT effective bigint)
    AS 'SELECT tally.hll_expthresh_specified($1), tally.hll_expthresh_effective($1)'
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE;

-- Hashes: MurmurHash3 x64 128 of the value's bytes, as postgresql-hll computes them.
CREATE FUNCTION tally.hll_hash_boolean(boolean, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_boolean_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hash_smallint(smallint, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_smallint_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hash_integer(integer, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_integer_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hash_bigint(bigint, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_bigint_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hash_bytea(bytea, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_varlena_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hash_text(text, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_varlena_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_hash_any(anyelement, integer DEFAULT 0) RETURNS tally.hll_hashval
    AS 'MODULE_PATHNAME', 'hll_hash_any_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;

-- Aggregates (extension/src/sketch/hll_agg.rs): one recipe shared by both, parallel
-- safe through combine/serialize/deserialize.
CREATE FUNCTION tally.hll_union_trans(internal, tally.hll) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_union_trans_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_add_trans0(internal, tally.hll_hashval) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_add_trans0_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_add_trans1(internal, tally.hll_hashval, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_add_trans1_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_add_trans2(internal, tally.hll_hashval, integer, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_add_trans2_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_add_trans3(internal, tally.hll_hashval, integer, integer, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_add_trans3_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_add_trans4(internal, tally.hll_hashval, integer, integer, bigint, integer) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_add_trans4_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_agg_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_agg_combine_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.hll_agg_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'hll_agg_serialize_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_agg_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'hll_agg_deserialize_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.hll_agg_pack(internal) RETURNS tally.hll
    AS 'MODULE_PATHNAME', 'hll_agg_pack_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE tally.hll_union_agg(tally.hll) (
    SFUNC = tally.hll_union_trans, STYPE = internal, FINALFUNC = tally.hll_agg_pack,
    COMBINEFUNC = tally.hll_agg_combine, SERIALFUNC = tally.hll_agg_serialize,
    DESERIALFUNC = tally.hll_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE tally.hll_add_agg(tally.hll_hashval) (
    SFUNC = tally.hll_add_trans0, STYPE = internal, FINALFUNC = tally.hll_agg_pack,
    COMBINEFUNC = tally.hll_agg_combine, SERIALFUNC = tally.hll_agg_serialize,
    DESERIALFUNC = tally.hll_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE tally.hll_add_agg(tally.hll_hashval, integer) (
    SFUNC = tally.hll_add_trans1, STYPE = internal, FINALFUNC = tally.hll_agg_pack,
    COMBINEFUNC = tally.hll_agg_combine, SERIALFUNC = tally.hll_agg_serialize,
    DESERIALFUNC = tally.hll_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE tally.hll_add_agg(tally.hll_hashval, integer, integer) (
    SFUNC = tally.hll_add_trans2, STYPE = internal, FINALFUNC = tally.hll_agg_pack,
    COMBINEFUNC = tally.hll_agg_combine, SERIALFUNC = tally.hll_agg_serialize,
    DESERIALFUNC = tally.hll_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE tally.hll_add_agg(tally.hll_hashval, integer, integer, bigint) (
    SFUNC = tally.hll_add_trans3, STYPE = internal, FINALFUNC = tally.hll_agg_pack,
    COMBINEFUNC = tally.hll_agg_combine, SERIALFUNC = tally.hll_agg_serialize,
    DESERIALFUNC = tally.hll_agg_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE tally.hll_add_agg(tally.hll_hashval, integer, integer, bigint, integer) (
    SFUNC = tally.hll_add_trans4, STYPE = internal, FINALFUNC = tally.hll_agg_pack,
    COMBINEFUNC = tally.hll_agg_combine, SERIALFUNC = tally.hll_agg_serialize,
    DESERIALFUNC = tally.hll_agg_deserialize, PARALLEL = SAFE
);
