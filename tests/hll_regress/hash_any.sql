-- hll_hash_any equals the typed hashes, and hashes types without one of their own.
SELECT hll_set_output_version(1);
SELECT hll_hash_any(true) = hll_hash_boolean(true), hll_hash_any(false) = hll_hash_boolean(false),
       hll_hash_any(12::smallint) = hll_hash_smallint(12::smallint), hll_hash_any(-12) = hll_hash_integer(-12),
       hll_hash_any(12::bigint) = hll_hash_bigint(12), hll_hash_any('\x0c'::bytea) = hll_hash_bytea('\x0c'),
       hll_hash_any('twelve'::text) = hll_hash_text('twelve'), hll_hash_any(''::text) = hll_hash_text(''),
       hll_hash_any(12::bigint, 5) = hll_hash_bigint(12, 5);
SELECT hll_hash_any(v) FROM unnest(ARRAY['08:00:2b:01:02:03', '0800.2b01.0203', 'ab-cd-ef-01-23-45']::macaddr[]) v;
SELECT hll_hash_any(v) FROM unnest(ARRAY['3 days 4 hours', 'P1Y2M3DT4H5M6S', '-1 year 3 mins', '1997-06 20 12:00:00']::interval[]) v;
SELECT hll_hash_any(v) FROM unnest(ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11']::uuid[]) v;
SELECT hll_hash_any(1.5::float8), hll_hash_any(1.5::float4), hll_hash_any('2024-02-29'::date),
       hll_hash_any('2024-02-29 12:00'::timestamp), hll_hash_any(12.5::numeric), hll_hash_any('x'::"char"),
       hll_hash_any('abc'::varchar), hll_hash_any('abc'::char(5)), hll_hash_any('{1,2}'::int[]),
       hll_hash_any('10.0.0.1'::inet), hll_hash_any('(1,2)'::point), hll_hash_any('12:00+02'::timetz),
       hll_hash_any('(1,2),3'::circle);
SELECT hll_hash_any(7, -1);
