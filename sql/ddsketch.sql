-- DDSketch quantiles (extension/src/sketch/ddsketch.rs): visit duration and engagement
-- time percentiles with 1% relative error, mergeable exactly, so rollups keep one per
-- hour and any range's median or p99 is the quantile of their union.
--
--   SELECT tally.ddsketch_quantiles(tally.ddsketch_agg(engagement_ms), '{0.5,0.9,0.99}')
--   FROM tally.events WHERE site_id = 1;

CREATE TYPE tally.ddsketch;
CREATE FUNCTION tally.ddsketch_in(cstring, oid, integer) RETURNS tally.ddsketch
    AS 'MODULE_PATHNAME', 'ddsketch_in_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_out(tally.ddsketch) RETURNS cstring
    AS 'MODULE_PATHNAME', 'sketch_out_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_recv(internal) RETURNS tally.ddsketch
    AS 'MODULE_PATHNAME', 'ddsketch_recv_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_send(tally.ddsketch) RETURNS bytea
    AS 'MODULE_PATHNAME', 'sketch_send_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE tally.ddsketch (
    INTERNALLENGTH = variable,
    INPUT = tally.ddsketch_in, OUTPUT = tally.ddsketch_out,
    RECEIVE = tally.ddsketch_recv, SEND = tally.ddsketch_send,
    STORAGE = external
);

CREATE FUNCTION tally.ddsketch_quantile(tally.ddsketch, q double precision) RETURNS double precision
    AS 'MODULE_PATHNAME', 'ddsketch_quantile_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_quantiles(tally.ddsketch, qs double precision[]) RETURNS double precision[]
    AS 'MODULE_PATHNAME', 'ddsketch_quantiles_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_count(tally.ddsketch) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ddsketch_count_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION tally.ddsketch_trans(internal, double precision) RETURNS internal
    AS 'MODULE_PATHNAME', 'ddsketch_trans_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_union_trans(internal, tally.ddsketch) RETURNS internal
    AS 'MODULE_PATHNAME', 'ddsketch_union_trans_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'ddsketch_combine_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'ddsketch_serialize_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'ddsketch_deserialize_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION tally.ddsketch_final(internal) RETURNS tally.ddsketch
    AS 'MODULE_PATHNAME', 'ddsketch_final_wrapper' LANGUAGE c IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE tally.ddsketch_agg(double precision) (
    SFUNC = tally.ddsketch_trans, STYPE = internal, FINALFUNC = tally.ddsketch_final,
    COMBINEFUNC = tally.ddsketch_combine, SERIALFUNC = tally.ddsketch_serialize,
    DESERIALFUNC = tally.ddsketch_deserialize, PARALLEL = SAFE
);
CREATE AGGREGATE tally.ddsketch_union_agg(tally.ddsketch) (
    SFUNC = tally.ddsketch_union_trans, STYPE = internal, FINALFUNC = tally.ddsketch_final,
    COMBINEFUNC = tally.ddsketch_combine, SERIALFUNC = tally.ddsketch_serialize,
    DESERIALFUNC = tally.ddsketch_deserialize, PARALLEL = SAFE
);

-- bytea -> ddsketch checks the bytes (rollups pass their sketches as bytea); ddsketch
-- -> bytea is the same bytes.
CREATE FUNCTION tally.ddsketch(bytea) RETURNS tally.ddsketch
    AS 'MODULE_PATHNAME', 'ddsketch_from_bytea_wrapper' LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE;
CREATE CAST (bytea AS tally.ddsketch) WITH FUNCTION tally.ddsketch(bytea);
CREATE CAST (tally.ddsketch AS bytea) WITHOUT FUNCTION;
