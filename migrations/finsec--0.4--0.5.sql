/* finsec--0.4--0.5.sql -- types: protected bank card and account numbers,
 * exact money with currency, validated Chinese identifiers.
 *
 * Requirements D1, D2, D3, D8, D9 (docs/cards.md, docs/money.md,
 * docs/identifiers.md).
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.5'" to load this file. \quit

-- =====================================================================
-- Money: exact amounts in minor units with an ISO 4217 currency (src/money)
-- =====================================================================

-- (money section)

-- =====================================================================
-- Chinese identifiers: resident ID, unified social credit code, mobile (src/cnid)
-- =====================================================================

/*
 * Validated identifier types (D9: real-name verification, credit data keyed
 * by ID numbers; D2/D3: masking for display).  The rules are in
 * src/cnid/cnid_parse.c and docs/identifiers.md.  Input normalizes (trims,
 * upper-cases, drops +86 and separators) and refuses anything else with
 * 22P02 and a message that names the rule, never the value.  Output is the
 * normalized value in clear: use finsec.mask() for display, and protected
 * types for storage that must be encrypted at rest.
 *
 * Every type gets =, <>, <, <=, >, >= and default btree and hash operator
 * classes (unique indexes, merge and hash joins, hash partitioning).  The
 * operators live in schema finsec: put finsec on search_path or write
 * OPERATOR(finsec.=).
 *
 * Grants: every finsec role may use the types and call the operators, the
 * masks and the validity functions; type I/O, hash and sort support
 * functions are called by the server, which checks no privilege on them.
 */

-- ---- finsec.cn_resident_id: resident ID number, GB 11643-1999 -------------

CREATE TYPE finsec.cn_resident_id;

CREATE FUNCTION finsec.cn_resident_id_in(cstring) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_in';
CREATE FUNCTION finsec.cn_resident_id_out(finsec.cn_resident_id) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_out';
CREATE FUNCTION finsec.cn_resident_id_recv(internal) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_recv';
CREATE FUNCTION finsec.cn_resident_id_send(finsec.cn_resident_id) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_send';
REVOKE ALL ON FUNCTION finsec.cn_resident_id_in(cstring), finsec.cn_resident_id_out(finsec.cn_resident_id),
	finsec.cn_resident_id_recv(internal), finsec.cn_resident_id_send(finsec.cn_resident_id) FROM PUBLIC;

-- Stored as the first 17 digits in an int8 (the check character follows).
CREATE TYPE finsec.cn_resident_id (
	INPUT = finsec.cn_resident_id_in,
	OUTPUT = finsec.cn_resident_id_out,
	RECEIVE = finsec.cn_resident_id_recv,
	SEND = finsec.cn_resident_id_send,
	LIKE = pg_catalog.int8
);
COMMENT ON TYPE finsec.cn_resident_id IS
	'finsec: resident ID number (GB 11643-1999): 18 characters, ISO 7064 MOD 11-2 check, real birth date, province-level region; personal data, mask with finsec.mask()';
REVOKE ALL ON TYPE finsec.cn_resident_id FROM PUBLIC;
GRANT USAGE ON TYPE finsec.cn_resident_id
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- Comparison is int8's: the packed order is the text order.
CREATE FUNCTION finsec.cn_resident_id_eq(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8eq';
CREATE FUNCTION finsec.cn_resident_id_ne(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8ne';
CREATE FUNCTION finsec.cn_resident_id_lt(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8lt';
CREATE FUNCTION finsec.cn_resident_id_le(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8le';
CREATE FUNCTION finsec.cn_resident_id_gt(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8gt';
CREATE FUNCTION finsec.cn_resident_id_ge(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8ge';
CREATE FUNCTION finsec.cn_resident_id_cmp(finsec.cn_resident_id, finsec.cn_resident_id) RETURNS integer
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'btint8cmp';
CREATE FUNCTION finsec.cn_resident_id_sortsupport(internal) RETURNS void
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'btint8sortsupport';
CREATE FUNCTION finsec.cn_resident_id_hash(finsec.cn_resident_id) RETURNS integer
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'hashint8';
CREATE FUNCTION finsec.cn_resident_id_hash_extended(finsec.cn_resident_id, bigint) RETURNS bigint
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'hashint8extended';
REVOKE ALL ON FUNCTION
	finsec.cn_resident_id_eq(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_ne(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_lt(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_le(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_gt(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_ge(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_cmp(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_sortsupport(internal),
	finsec.cn_resident_id_hash(finsec.cn_resident_id),
	finsec.cn_resident_id_hash_extended(finsec.cn_resident_id, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	finsec.cn_resident_id_eq(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_ne(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_lt(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_le(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_gt(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_ge(finsec.cn_resident_id, finsec.cn_resident_id),
	finsec.cn_resident_id_cmp(finsec.cn_resident_id, finsec.cn_resident_id)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR finsec.= (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_eq, COMMUTATOR = OPERATOR(finsec.=), NEGATOR = OPERATOR(finsec.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR finsec.<> (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_ne, COMMUTATOR = OPERATOR(finsec.<>), NEGATOR = OPERATOR(finsec.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR finsec.< (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_lt, COMMUTATOR = OPERATOR(finsec.>), NEGATOR = OPERATOR(finsec.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR finsec.<= (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_le, COMMUTATOR = OPERATOR(finsec.>=), NEGATOR = OPERATOR(finsec.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR finsec.> (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_gt, COMMUTATOR = OPERATOR(finsec.<), NEGATOR = OPERATOR(finsec.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR finsec.>= (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_ge, COMMUTATOR = OPERATOR(finsec.<=), NEGATOR = OPERATOR(finsec.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS finsec.cn_resident_id_ops DEFAULT FOR TYPE finsec.cn_resident_id USING btree AS
	OPERATOR 1 finsec.<, OPERATOR 2 finsec.<=, OPERATOR 3 finsec.=,
	OPERATOR 4 finsec.>=, OPERATOR 5 finsec.>,
	FUNCTION 1 finsec.cn_resident_id_cmp(finsec.cn_resident_id, finsec.cn_resident_id),
	FUNCTION 2 finsec.cn_resident_id_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);
CREATE OPERATOR CLASS finsec.cn_resident_id_ops DEFAULT FOR TYPE finsec.cn_resident_id USING hash AS
	OPERATOR 1 finsec.=,
	FUNCTION 1 finsec.cn_resident_id_hash(finsec.cn_resident_id),
	FUNCTION 2 finsec.cn_resident_id_hash_extended(finsec.cn_resident_id, bigint);

-- ---- finsec.uscc: unified social credit code, GB 32100-2015 ---------------

CREATE TYPE finsec.uscc;

CREATE FUNCTION finsec.uscc_in(cstring) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_in';
CREATE FUNCTION finsec.uscc_out(finsec.uscc) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_out';
CREATE FUNCTION finsec.uscc_recv(internal) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_recv';
CREATE FUNCTION finsec.uscc_send(finsec.uscc) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_send';
REVOKE ALL ON FUNCTION finsec.uscc_in(cstring), finsec.uscc_out(finsec.uscc),
	finsec.uscc_recv(internal), finsec.uscc_send(finsec.uscc) FROM PUBLIC;

-- Stored as its 18 normalized characters.
CREATE TYPE finsec.uscc (
	INPUT = finsec.uscc_in,
	OUTPUT = finsec.uscc_out,
	RECEIVE = finsec.uscc_recv,
	SEND = finsec.uscc_send,
	INTERNALLENGTH = 18,
	ALIGNMENT = char,
	STORAGE = plain
);
COMMENT ON TYPE finsec.uscc IS
	'finsec: unified social credit code (GB 32100-2015): 18 characters, GB 11714 organization code check, MOD 31 check character';
REVOKE ALL ON TYPE finsec.uscc FROM PUBLIC;
GRANT USAGE ON TYPE finsec.uscc
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.uscc_eq(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_eq';
CREATE FUNCTION finsec.uscc_ne(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_ne';
CREATE FUNCTION finsec.uscc_lt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_lt';
CREATE FUNCTION finsec.uscc_le(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_le';
CREATE FUNCTION finsec.uscc_gt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_gt';
CREATE FUNCTION finsec.uscc_ge(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_ge';
CREATE FUNCTION finsec.uscc_cmp(finsec.uscc, finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_cmp';
CREATE FUNCTION finsec.uscc_hash(finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_hash';
CREATE FUNCTION finsec.uscc_hash_extended(finsec.uscc, bigint) RETURNS bigint
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'uscc_hash_extended';
REVOKE ALL ON FUNCTION
	finsec.uscc_eq(finsec.uscc, finsec.uscc), finsec.uscc_ne(finsec.uscc, finsec.uscc),
	finsec.uscc_lt(finsec.uscc, finsec.uscc), finsec.uscc_le(finsec.uscc, finsec.uscc),
	finsec.uscc_gt(finsec.uscc, finsec.uscc), finsec.uscc_ge(finsec.uscc, finsec.uscc),
	finsec.uscc_cmp(finsec.uscc, finsec.uscc),
	finsec.uscc_hash(finsec.uscc), finsec.uscc_hash_extended(finsec.uscc, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	finsec.uscc_eq(finsec.uscc, finsec.uscc), finsec.uscc_ne(finsec.uscc, finsec.uscc),
	finsec.uscc_lt(finsec.uscc, finsec.uscc), finsec.uscc_le(finsec.uscc, finsec.uscc),
	finsec.uscc_gt(finsec.uscc, finsec.uscc), finsec.uscc_ge(finsec.uscc, finsec.uscc),
	finsec.uscc_cmp(finsec.uscc, finsec.uscc)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR finsec.= (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_eq, COMMUTATOR = OPERATOR(finsec.=), NEGATOR = OPERATOR(finsec.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR finsec.<> (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_ne, COMMUTATOR = OPERATOR(finsec.<>), NEGATOR = OPERATOR(finsec.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR finsec.< (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_lt, COMMUTATOR = OPERATOR(finsec.>), NEGATOR = OPERATOR(finsec.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR finsec.<= (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_le, COMMUTATOR = OPERATOR(finsec.>=), NEGATOR = OPERATOR(finsec.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR finsec.> (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_gt, COMMUTATOR = OPERATOR(finsec.<), NEGATOR = OPERATOR(finsec.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR finsec.>= (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_ge, COMMUTATOR = OPERATOR(finsec.<=), NEGATOR = OPERATOR(finsec.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS finsec.uscc_ops DEFAULT FOR TYPE finsec.uscc USING btree AS
	OPERATOR 1 finsec.<, OPERATOR 2 finsec.<=, OPERATOR 3 finsec.=,
	OPERATOR 4 finsec.>=, OPERATOR 5 finsec.>,
	FUNCTION 1 finsec.uscc_cmp(finsec.uscc, finsec.uscc),
	FUNCTION 4 pg_catalog.btequalimage(oid);
CREATE OPERATOR CLASS finsec.uscc_ops DEFAULT FOR TYPE finsec.uscc USING hash AS
	OPERATOR 1 finsec.=,
	FUNCTION 1 finsec.uscc_hash(finsec.uscc),
	FUNCTION 2 finsec.uscc_hash_extended(finsec.uscc, bigint);

-- ---- finsec.cn_mobile: mainland mobile phone number -----------------------

CREATE TYPE finsec.cn_mobile;

CREATE FUNCTION finsec.cn_mobile_in(cstring) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_in';
CREATE FUNCTION finsec.cn_mobile_out(finsec.cn_mobile) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_out';
CREATE FUNCTION finsec.cn_mobile_recv(internal) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_recv';
CREATE FUNCTION finsec.cn_mobile_send(finsec.cn_mobile) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_send';
REVOKE ALL ON FUNCTION finsec.cn_mobile_in(cstring), finsec.cn_mobile_out(finsec.cn_mobile),
	finsec.cn_mobile_recv(internal), finsec.cn_mobile_send(finsec.cn_mobile) FROM PUBLIC;

-- Stored as its 11 digits in an int8.
CREATE TYPE finsec.cn_mobile (
	INPUT = finsec.cn_mobile_in,
	OUTPUT = finsec.cn_mobile_out,
	RECEIVE = finsec.cn_mobile_recv,
	SEND = finsec.cn_mobile_send,
	LIKE = pg_catalog.int8
);
COMMENT ON TYPE finsec.cn_mobile IS
	'finsec: mainland China mobile number, 11 digits 1[3-9]..., input with or without +86/0086/86, spaces, hyphens; personal data, mask with finsec.mask()';
REVOKE ALL ON TYPE finsec.cn_mobile FROM PUBLIC;
GRANT USAGE ON TYPE finsec.cn_mobile
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.cn_mobile_eq(finsec.cn_mobile, finsec.cn_mobile) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8eq';
CREATE FUNCTION finsec.cn_mobile_ne(finsec.cn_mobile, finsec.cn_mobile) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8ne';
CREATE FUNCTION finsec.cn_mobile_lt(finsec.cn_mobile, finsec.cn_mobile) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8lt';
CREATE FUNCTION finsec.cn_mobile_le(finsec.cn_mobile, finsec.cn_mobile) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8le';
CREATE FUNCTION finsec.cn_mobile_gt(finsec.cn_mobile, finsec.cn_mobile) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8gt';
CREATE FUNCTION finsec.cn_mobile_ge(finsec.cn_mobile, finsec.cn_mobile) RETURNS boolean
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'int8ge';
CREATE FUNCTION finsec.cn_mobile_cmp(finsec.cn_mobile, finsec.cn_mobile) RETURNS integer
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'btint8cmp';
CREATE FUNCTION finsec.cn_mobile_sortsupport(internal) RETURNS void
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'btint8sortsupport';
CREATE FUNCTION finsec.cn_mobile_hash(finsec.cn_mobile) RETURNS integer
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'hashint8';
CREATE FUNCTION finsec.cn_mobile_hash_extended(finsec.cn_mobile, bigint) RETURNS bigint
	LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'hashint8extended';
REVOKE ALL ON FUNCTION
	finsec.cn_mobile_eq(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_ne(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_lt(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_le(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_gt(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_ge(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_cmp(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_sortsupport(internal),
	finsec.cn_mobile_hash(finsec.cn_mobile),
	finsec.cn_mobile_hash_extended(finsec.cn_mobile, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	finsec.cn_mobile_eq(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_ne(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_lt(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_le(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_gt(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_ge(finsec.cn_mobile, finsec.cn_mobile),
	finsec.cn_mobile_cmp(finsec.cn_mobile, finsec.cn_mobile)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR finsec.= (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_eq, COMMUTATOR = OPERATOR(finsec.=), NEGATOR = OPERATOR(finsec.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR finsec.<> (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_ne, COMMUTATOR = OPERATOR(finsec.<>), NEGATOR = OPERATOR(finsec.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR finsec.< (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_lt, COMMUTATOR = OPERATOR(finsec.>), NEGATOR = OPERATOR(finsec.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR finsec.<= (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_le, COMMUTATOR = OPERATOR(finsec.>=), NEGATOR = OPERATOR(finsec.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR finsec.> (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_gt, COMMUTATOR = OPERATOR(finsec.<), NEGATOR = OPERATOR(finsec.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR finsec.>= (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_ge, COMMUTATOR = OPERATOR(finsec.<=), NEGATOR = OPERATOR(finsec.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS finsec.cn_mobile_ops DEFAULT FOR TYPE finsec.cn_mobile USING btree AS
	OPERATOR 1 finsec.<, OPERATOR 2 finsec.<=, OPERATOR 3 finsec.=,
	OPERATOR 4 finsec.>=, OPERATOR 5 finsec.>,
	FUNCTION 1 finsec.cn_mobile_cmp(finsec.cn_mobile, finsec.cn_mobile),
	FUNCTION 2 finsec.cn_mobile_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);
CREATE OPERATOR CLASS finsec.cn_mobile_ops DEFAULT FOR TYPE finsec.cn_mobile USING hash AS
	OPERATOR 1 finsec.=,
	FUNCTION 1 finsec.cn_mobile_hash(finsec.cn_mobile),
	FUNCTION 2 finsec.cn_mobile_hash_extended(finsec.cn_mobile, bigint);

-- ---- Masks, parts, conversion --------------------------------------------

CREATE FUNCTION finsec.mask(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_mask';
COMMENT ON FUNCTION finsec.mask(finsec.cn_resident_id) IS
	'resident ID number for display: region code and last four kept, birth date and sequence masked (110105********002X)';
CREATE FUNCTION finsec.mask(finsec.uscc) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_mask';
COMMENT ON FUNCTION finsec.mask(finsec.uscc) IS
	'credit code for display: department, category, division code and the two check characters kept, organization identifier masked (91350100********43)';
CREATE FUNCTION finsec.mask(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_mask';
COMMENT ON FUNCTION finsec.mask(finsec.cn_mobile) IS
	'mobile number for display: network prefix and last four kept (138****5678)';

CREATE FUNCTION finsec.cn_resident_id_from_15(text) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_from_15';
COMMENT ON FUNCTION finsec.cn_resident_id_from_15(text) IS
	'convert a 15-digit first-generation resident ID number: century 19 inserted, check character computed (GB 11643-1999)';
CREATE FUNCTION finsec.cn_resident_id_birth_date(finsec.cn_resident_id) RETURNS date
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_birth_date';
COMMENT ON FUNCTION finsec.cn_resident_id_birth_date(finsec.cn_resident_id) IS
	'birth date encoded in a resident ID number (characters 7-14); personal data';
CREATE FUNCTION finsec.cn_resident_id_sex(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_sex';
COMMENT ON FUNCTION finsec.cn_resident_id_sex(finsec.cn_resident_id) IS
	'''male'' or ''female'' as encoded in a resident ID number (character 17 odd or even); personal data';
CREATE FUNCTION finsec.cn_resident_id_region(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_region';
COMMENT ON FUNCTION finsec.cn_resident_id_region(finsec.cn_resident_id) IS
	'address code (GB/T 2260) of the issuing registration in a resident ID number (characters 1-6)';
CREATE FUNCTION finsec.cn_mobile_e164(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_e164';
COMMENT ON FUNCTION finsec.cn_mobile_e164(finsec.cn_mobile) IS
	'mobile number in E.164 form, +86 and 11 digits';

REVOKE ALL ON FUNCTION
	finsec.mask(finsec.cn_resident_id), finsec.mask(finsec.uscc), finsec.mask(finsec.cn_mobile),
	finsec.cn_resident_id_from_15(text), finsec.cn_resident_id_birth_date(finsec.cn_resident_id),
	finsec.cn_resident_id_sex(finsec.cn_resident_id), finsec.cn_resident_id_region(finsec.cn_resident_id),
	finsec.cn_mobile_e164(finsec.cn_mobile) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	finsec.mask(finsec.cn_resident_id), finsec.mask(finsec.uscc), finsec.mask(finsec.cn_mobile),
	finsec.cn_resident_id_from_15(text), finsec.cn_resident_id_birth_date(finsec.cn_resident_id),
	finsec.cn_resident_id_sex(finsec.cn_resident_id), finsec.cn_resident_id_region(finsec.cn_resident_id),
	finsec.cn_mobile_e164(finsec.cn_mobile)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- ---- Validity tests for cleaning data: never raise ------------------------
--
-- is_valid_*() is true exactly when the cast would succeed; *_problem()
-- says why not (NULL when valid).  For resident ID numbers, as_of adds
-- "born on or before as_of" (pass current_date), a rule the type itself
-- cannot apply without depending on the clock.

CREATE FUNCTION finsec.is_valid_cn_resident_id(value text, as_of date DEFAULT NULL) RETURNS boolean
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_is_valid';
COMMENT ON FUNCTION finsec.is_valid_cn_resident_id(text, date) IS
	'true if the text is a valid resident ID number (and, given as_of, a birth date not after it); NULL for NULL; never raises';
CREATE FUNCTION finsec.cn_resident_id_problem(value text, as_of date DEFAULT NULL) RETURNS text
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_resident_id_problem';
COMMENT ON FUNCTION finsec.cn_resident_id_problem(text, date) IS
	'why the text is not a valid resident ID number, NULL if it is; never raises and never quotes the value';
CREATE FUNCTION finsec.is_valid_uscc(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_is_valid';
COMMENT ON FUNCTION finsec.is_valid_uscc(text) IS
	'true if the text is a valid unified social credit code; NULL for NULL; never raises';
CREATE FUNCTION finsec.uscc_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'uscc_problem';
COMMENT ON FUNCTION finsec.uscc_problem(text) IS
	'why the text is not a valid unified social credit code, NULL if it is; never raises and never quotes the value';
CREATE FUNCTION finsec.is_valid_cn_mobile(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_is_valid';
COMMENT ON FUNCTION finsec.is_valid_cn_mobile(text) IS
	'true if the text is a valid mainland mobile number; NULL for NULL; never raises';
CREATE FUNCTION finsec.cn_mobile_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'cn_mobile_problem';
COMMENT ON FUNCTION finsec.cn_mobile_problem(text) IS
	'why the text is not a valid mainland mobile number, NULL if it is; never raises and never quotes the value';

REVOKE ALL ON FUNCTION
	finsec.is_valid_cn_resident_id(text, date), finsec.cn_resident_id_problem(text, date),
	finsec.is_valid_uscc(text), finsec.uscc_problem(text),
	finsec.is_valid_cn_mobile(text), finsec.cn_mobile_problem(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
	finsec.is_valid_cn_resident_id(text, date), finsec.cn_resident_id_problem(text, date),
	finsec.is_valid_uscc(text), finsec.uscc_problem(text),
	finsec.is_valid_cn_mobile(text), finsec.cn_mobile_problem(text)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- =====================================================================
-- Protected bank card and account numbers (src/card)
-- =====================================================================

-- (card section)

-- =====================================================================
-- end of finsec--0.4--0.5.sql
-- =====================================================================
