/* finsec 0.8 -> 0.9 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.9'" to load this file. \quit

-- =====================================================================
-- Architecture (issue 15, docs/development.md): one worker framework, one
-- hook registry, shared primitives in src/common, one layer for
-- application tables.  Behaviour is unchanged except where a section
-- says otherwise.
-- =====================================================================

-- ---------------------------------------------------------------------
-- 1. Every C symbol of the library is prefixed finsec_ (PostgreSQL loads
--    the library RTLD_GLOBAL).  The identifier types' functions are
--    re-pointed at their new symbols; names, signatures and attributes are
--    those of 0.5.
-- ---------------------------------------------------------------------

CREATE OR REPLACE FUNCTION finsec.cn_resident_id_in(cstring) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_in';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_out(finsec.cn_resident_id) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_out';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_recv(internal) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_recv';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_send(finsec.cn_resident_id) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_send';
CREATE OR REPLACE FUNCTION finsec.uscc_in(cstring) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_in';
CREATE OR REPLACE FUNCTION finsec.uscc_out(finsec.uscc) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_out';
CREATE OR REPLACE FUNCTION finsec.uscc_recv(internal) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_recv';
CREATE OR REPLACE FUNCTION finsec.uscc_send(finsec.uscc) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_send';
CREATE OR REPLACE FUNCTION finsec.uscc_eq(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_eq';
CREATE OR REPLACE FUNCTION finsec.uscc_ne(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_ne';
CREATE OR REPLACE FUNCTION finsec.uscc_lt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_lt';
CREATE OR REPLACE FUNCTION finsec.uscc_le(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_le';
CREATE OR REPLACE FUNCTION finsec.uscc_gt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_gt';
CREATE OR REPLACE FUNCTION finsec.uscc_ge(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_ge';
CREATE OR REPLACE FUNCTION finsec.uscc_cmp(finsec.uscc, finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_cmp';
CREATE OR REPLACE FUNCTION finsec.uscc_hash(finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_hash';
CREATE OR REPLACE FUNCTION finsec.uscc_hash_extended(finsec.uscc, bigint) RETURNS bigint
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_hash_extended';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_in(cstring) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_in';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_out(finsec.cn_mobile) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_out';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_recv(internal) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_recv';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_send(finsec.cn_mobile) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_send';
CREATE OR REPLACE FUNCTION finsec.mask(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_mask';
CREATE OR REPLACE FUNCTION finsec.mask(finsec.uscc) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_mask';
CREATE OR REPLACE FUNCTION finsec.mask(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_mask';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_from_15(text) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_from_15';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_birth_date(finsec.cn_resident_id) RETURNS date
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_birth_date';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_sex(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_sex';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_region(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_region';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_e164(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_e164';
CREATE OR REPLACE FUNCTION finsec.is_valid_cn_resident_id(value text, as_of date DEFAULT NULL) RETURNS boolean
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_is_valid';
CREATE OR REPLACE FUNCTION finsec.cn_resident_id_problem(value text, as_of date DEFAULT NULL) RETURNS text
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_problem';
CREATE OR REPLACE FUNCTION finsec.is_valid_uscc(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_is_valid';
CREATE OR REPLACE FUNCTION finsec.uscc_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_problem';
CREATE OR REPLACE FUNCTION finsec.is_valid_cn_mobile(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_is_valid';
CREATE OR REPLACE FUNCTION finsec.cn_mobile_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_problem';

-- (end of section 1)

-- ---------------------------------------------------------------------
-- 2. Worker framework: registered tasks and their status (src/worker).
-- ---------------------------------------------------------------------

-- (end of section 2)

-- ---------------------------------------------------------------------
-- 3. Hooks and settings (src/finsec.c, src/common/hooks.c).
-- ---------------------------------------------------------------------

-- (end of section 3)

-- ---------------------------------------------------------------------
-- 4. Application tables: one layer, finsec.money amounts everywhere
--    (src/common/apptable.c).
-- ---------------------------------------------------------------------

-- (end of section 4)

-- ---------------------------------------------------------------------
-- 5. Dispatchers split (risk rules, key versions, history scans, limit
--    trigger, purge).
-- ---------------------------------------------------------------------

-- (end of section 5)

-- ---------------------------------------------------------------------
-- 6. Messages, schema listing, script headers.
-- ---------------------------------------------------------------------

-- (end of section 6)
