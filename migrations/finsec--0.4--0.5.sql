/* finsec 0.4 -> 0.5 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.5'" to load this file. \quit

/* Types: protected bank card and account numbers,
 * exact money with currency, validated Chinese identifiers.
 *
 * Requirements D1, D2, D3, D8, D9 (docs/cards.md, docs/money.md,
 * docs/identifiers.md).
 */

-- =====================================================================
-- Money: exact amounts in minor units with an ISO 4217 currency (src/money)
-- =====================================================================

/*
 * finsec.money (D8; docs/money.md): an exact amount in minor units (int64)
 * with its ISO 4217 currency, 16 bytes, fixed length.  Text form
 * 'CNY 12.34'; input never rounds.  Arithmetic checks overflow (22003);
 * values of different currencies are never added, ordered or aggregated
 * together (22023).  '<' and friends compare amounts of one currency and
 * raise on a mismatch; indexes and ORDER BY use the total order of the
 * btree operator class (currency code, then amount) through the operators
 * ~<~ ~<=~ ~>=~ ~>~.  Like every finsec object, nothing is granted to
 * PUBLIC: the five finsec roles may use the type and all its functions.
 */
CREATE TYPE finsec.money;

CREATE FUNCTION finsec.money_in(cstring) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_in(cstring) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_in(cstring)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_out(finsec.money) RETURNS cstring
	AS 'MODULE_PATHNAME', 'finsec_money_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_out(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_out(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_recv(internal) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_recv(internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_recv(internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_send(finsec.money) RETURNS bytea
	AS 'MODULE_PATHNAME', 'finsec_money_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_send(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_send(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE TYPE finsec.money (
	INPUT = finsec.money_in,
	OUTPUT = finsec.money_out,
	RECEIVE = finsec.money_recv,
	SEND = finsec.money_send,
	INTERNALLENGTH = 16,
	ALIGNMENT = double,
	STORAGE = plain
);
COMMENT ON TYPE finsec.money IS
	'finsec: exact amount in minor units with its ISO 4217 currency, e.g. ''CNY 12.34'' (docs/money.md)';
REVOKE ALL ON TYPE finsec.money FROM PUBLIC;
GRANT USAGE ON TYPE finsec.money
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- ---- the currency table (compiled into the library) ----
CREATE FUNCTION finsec.currencies(OUT code text, OUT numeric_code smallint, OUT minor_units smallint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'finsec_money_currencies' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 170;
REVOKE ALL ON FUNCTION finsec.currencies() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.currencies()
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE VIEW finsec.currency AS SELECT code, numeric_code, minor_units FROM finsec.currencies();
COMMENT ON VIEW finsec.currency IS
	'finsec: the ISO 4217 currencies finsec.money knows, with their minor units (read-only; compiled into the library)';
REVOKE ALL ON TABLE finsec.currency FROM PUBLIC;
GRANT SELECT ON TABLE finsec.currency
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- ---- accessors, constructors, casts ----
CREATE FUNCTION finsec.currency(finsec.money) RETURNS text
	AS 'MODULE_PATHNAME', 'finsec_money_currency' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.currency(finsec.money) IS 'ISO 4217 alphabetic code of an amount';
REVOKE ALL ON FUNCTION finsec.currency(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.currency(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.minor_units(finsec.money) RETURNS bigint
	AS 'MODULE_PATHNAME', 'finsec_money_minor_units' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.minor_units(finsec.money) IS 'amount in minor units (fen, cents): CNY 12.34 -> 1234';
REVOKE ALL ON FUNCTION finsec.minor_units(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.minor_units(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.amount(finsec.money) RETURNS numeric
	AS 'MODULE_PATHNAME', 'finsec_money_amount' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.amount(finsec.money) IS
	'amount in major units with the currency''s decimal places: CNY 12.30 -> 12.30 (also the cast to numeric)';
REVOKE ALL ON FUNCTION finsec.amount(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.amount(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- Explicit only: a numeric has no currency, so the cast drops it knowingly.
CREATE CAST (finsec.money AS numeric) WITH FUNCTION finsec.amount(finsec.money);

CREATE FUNCTION finsec.money(amount numeric, currency text, rounding text DEFAULT 'unnecessary')
	RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_from_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.money(numeric, text, text) IS
	'amount in major units and ISO 4217 code to finsec.money; more decimals than the currency has are an error unless a rounding mode is given';
REVOKE ALL ON FUNCTION finsec.money(numeric, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money(numeric, text, text)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_from_minor(minor_units bigint, currency text) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_from_minor' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.money_from_minor(bigint, text) IS
	'amount in minor units and ISO 4217 code to finsec.money: (1234, ''CNY'') -> CNY 12.34';
REVOKE ALL ON FUNCTION finsec.money_from_minor(bigint, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_from_minor(bigint, text)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- ---- arithmetic ----
CREATE FUNCTION finsec.money_add(finsec.money, finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_add' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_add(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_add(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR pg_catalog.+ (LEFTARG = finsec.money, RIGHTARG = finsec.money,
	FUNCTION = finsec.money_add, COMMUTATOR = OPERATOR(pg_catalog.+));

CREATE FUNCTION finsec.money_sub(finsec.money, finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_sub(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_sub(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR pg_catalog.- (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_sub);

CREATE FUNCTION finsec.money_neg(finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_neg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_neg(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_neg(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR pg_catalog.- (RIGHTARG = finsec.money, FUNCTION = finsec.money_neg);

CREATE FUNCTION finsec.abs(finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_abs' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.abs(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.abs(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- money * numeric, numeric * money, money / numeric: rounded half-even
-- (banker's rounding); finsec.money_mul/money_div take another mode.
CREATE FUNCTION finsec.money_mul_numeric(finsec.money, numeric) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_mul_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_mul_numeric(finsec.money, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_mul_numeric(finsec.money, numeric)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.numeric_mul_money(numeric, finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_numeric_mul_money' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.numeric_mul_money(numeric, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.numeric_mul_money(numeric, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR pg_catalog.* (LEFTARG = finsec.money, RIGHTARG = numeric,
	FUNCTION = finsec.money_mul_numeric, COMMUTATOR = OPERATOR(pg_catalog.*));
CREATE OPERATOR pg_catalog.* (LEFTARG = numeric, RIGHTARG = finsec.money,
	FUNCTION = finsec.numeric_mul_money, COMMUTATOR = OPERATOR(pg_catalog.*));

CREATE FUNCTION finsec.money_div_numeric(finsec.money, numeric) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_div_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_div_numeric(finsec.money, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_div_numeric(finsec.money, numeric)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR pg_catalog./ (LEFTARG = finsec.money, RIGHTARG = numeric, FUNCTION = finsec.money_div_numeric);

CREATE FUNCTION finsec.money_mul(amount finsec.money, factor numeric, rounding text DEFAULT 'half-even')
	RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_mul' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.money_mul(finsec.money, numeric, text) IS
	'amount * factor rounded to the minor unit: half-even (default), half-up, half-down, up, down, ceiling, floor, unnecessary';
REVOKE ALL ON FUNCTION finsec.money_mul(finsec.money, numeric, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_mul(finsec.money, numeric, text)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_div(amount finsec.money, divisor numeric, rounding text DEFAULT 'half-even')
	RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_div' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.money_div(finsec.money, numeric, text) IS
	'amount / divisor rounded to the minor unit: half-even (default), half-up, half-down, up, down, ceiling, floor, unnecessary';
REVOKE ALL ON FUNCTION finsec.money_div(finsec.money, numeric, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_div(finsec.money, numeric, text)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- ---- allocation without losing a minor unit ----
CREATE FUNCTION finsec.allocate(amount finsec.money, parts integer) RETURNS finsec.money[]
	AS 'MODULE_PATHNAME', 'finsec_money_allocate_n' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.allocate(finsec.money, integer) IS
	'split an amount into n parts differing by at most one minor unit and summing exactly to it; the first parts take the extra units';
REVOKE ALL ON FUNCTION finsec.allocate(finsec.money, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.allocate(finsec.money, integer)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.allocate(amount finsec.money, ratios numeric[]) RETURNS finsec.money[]
	AS 'MODULE_PATHNAME', 'finsec_money_allocate_ratios' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION finsec.allocate(finsec.money, numeric[]) IS
	'split an amount by ratios (largest remainder method, ties to the earlier part), summing exactly to it';
REVOKE ALL ON FUNCTION finsec.allocate(finsec.money, numeric[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.allocate(finsec.money, numeric[])
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- ---- comparison ----
-- Equality is total (different currencies are unequal); it hashes and
-- merges.  Ordering comparisons of amounts raise on a currency mismatch;
-- their selectivity estimator never evaluates them on statistics (which
-- hold every currency).
CREATE FUNCTION finsec.money_eq(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_eq(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_eq(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_ne(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_ne(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_ne(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_lt(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_lt(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_lt(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_le(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_le(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_le(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_gt(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_gt(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_gt(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_ge(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_ge(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_ge(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_ineqsel(internal, oid, internal, integer) RETURNS float8
	AS 'MODULE_PATHNAME', 'finsec_money_ineqsel' LANGUAGE C STABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_ineqsel(internal, oid, internal, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_ineqsel(internal, oid, internal, integer)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR pg_catalog.= (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_eq,
	COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_ne,
	COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_lt,
	COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
	RESTRICT = finsec.money_ineqsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_le,
	COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
	RESTRICT = finsec.money_ineqsel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_gt,
	COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
	RESTRICT = finsec.money_ineqsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_ge,
	COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<),
	RESTRICT = finsec.money_ineqsel, JOIN = scalargejoinsel);

-- The total order (currency code, then amount) of indexes and sorting.
CREATE FUNCTION finsec.money_order_lt(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_order_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_order_lt(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_order_lt(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_order_le(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_order_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_order_le(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_order_le(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_order_gt(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_order_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_order_gt(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_order_gt(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_order_ge(finsec.money, finsec.money) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_money_order_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_order_ge(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_order_ge(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR pg_catalog.~<~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_lt,
	COMMUTATOR = OPERATOR(pg_catalog.~>~), NEGATOR = OPERATOR(pg_catalog.~>=~),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.~<=~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_le,
	COMMUTATOR = OPERATOR(pg_catalog.~>=~), NEGATOR = OPERATOR(pg_catalog.~>~),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.~>~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_gt,
	COMMUTATOR = OPERATOR(pg_catalog.~<~), NEGATOR = OPERATOR(pg_catalog.~<=~),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.~>=~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_ge,
	COMMUTATOR = OPERATOR(pg_catalog.~<=~), NEGATOR = OPERATOR(pg_catalog.~<~),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE FUNCTION finsec.money_cmp(finsec.money, finsec.money) RETURNS integer
	AS 'MODULE_PATHNAME', 'finsec_money_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_cmp(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_cmp(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_sortsupport(internal) RETURNS void
	AS 'MODULE_PATHNAME', 'finsec_money_sortsupport' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_sortsupport(internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_sortsupport(internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_hash(finsec.money) RETURNS integer
	AS 'MODULE_PATHNAME', 'finsec_money_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_hash(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_hash(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_hash_extended(finsec.money, bigint) RETURNS bigint
	AS 'MODULE_PATHNAME', 'finsec_money_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF;
REVOKE ALL ON FUNCTION finsec.money_hash_extended(finsec.money, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_hash_extended(finsec.money, bigint)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE OPERATOR CLASS finsec.money_ops DEFAULT FOR TYPE finsec.money USING btree AS
	OPERATOR 1 pg_catalog.~<~,
	OPERATOR 2 pg_catalog.~<=~,
	OPERATOR 3 pg_catalog.=,
	OPERATOR 4 pg_catalog.~>=~,
	OPERATOR 5 pg_catalog.~>~,
	FUNCTION 1 finsec.money_cmp(finsec.money, finsec.money),
	FUNCTION 2 finsec.money_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS finsec.money_hash_ops DEFAULT FOR TYPE finsec.money USING hash AS
	OPERATOR 1 pg_catalog.=,
	FUNCTION 1 finsec.money_hash(finsec.money),
	FUNCTION 2 finsec.money_hash_extended(finsec.money, bigint);

-- ---- aggregates: one currency per group ----
CREATE FUNCTION finsec.money_agg_trans(internal, finsec.money) RETURNS internal
	AS 'MODULE_PATHNAME', 'finsec_money_agg_trans' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_agg_trans(internal, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_agg_trans(internal, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_agg_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'finsec_money_agg_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_agg_combine(internal, internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_agg_combine(internal, internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_agg_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'finsec_money_agg_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_agg_serialize(internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_agg_serialize(internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_agg_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'finsec_money_agg_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_agg_deserialize(bytea, internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_agg_deserialize(bytea, internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_sum_final(internal) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_sum_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_sum_final(internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_sum_final(internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_avg_final(internal) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_avg_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_avg_final(internal) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_avg_final(internal)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_smaller(finsec.money, finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_smaller' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_smaller(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_smaller(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.money_larger(finsec.money, finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_larger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_larger(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_larger(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE pg_catalog.sum(finsec.money) (
	SFUNC = finsec.money_agg_trans, STYPE = internal, SSPACE = 48,
	FINALFUNC = finsec.money_sum_final,
	COMBINEFUNC = finsec.money_agg_combine,
	SERIALFUNC = finsec.money_agg_serialize, DESERIALFUNC = finsec.money_agg_deserialize,
	PARALLEL = SAFE);
COMMENT ON AGGREGATE pg_catalog.sum(finsec.money) IS 'exact sum of amounts of one currency (22003 if out of range)';
REVOKE ALL ON FUNCTION pg_catalog.sum(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.sum(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE pg_catalog.avg(finsec.money) (
	SFUNC = finsec.money_agg_trans, STYPE = internal, SSPACE = 48,
	FINALFUNC = finsec.money_avg_final,
	COMBINEFUNC = finsec.money_agg_combine,
	SERIALFUNC = finsec.money_agg_serialize, DESERIALFUNC = finsec.money_agg_deserialize,
	PARALLEL = SAFE);
COMMENT ON AGGREGATE pg_catalog.avg(finsec.money) IS
	'mean of amounts of one currency, rounded half-even to the minor unit (exact: sum / count as numeric)';
REVOKE ALL ON FUNCTION pg_catalog.avg(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.avg(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE pg_catalog.min(finsec.money) (
	SFUNC = finsec.money_smaller, STYPE = finsec.money,
	COMBINEFUNC = finsec.money_smaller, PARALLEL = SAFE);
COMMENT ON AGGREGATE pg_catalog.min(finsec.money) IS 'smallest amount of one currency';
REVOKE ALL ON FUNCTION pg_catalog.min(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.min(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE pg_catalog.max(finsec.money) (
	SFUNC = finsec.money_larger, STYPE = finsec.money,
	COMBINEFUNC = finsec.money_larger, PARALLEL = SAFE);
COMMENT ON AGGREGATE pg_catalog.max(finsec.money) IS 'largest amount of one currency';
REVOKE ALL ON FUNCTION pg_catalog.max(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pg_catalog.max(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

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
 * operators live in pg_catalog, like those of money and the card types, so
 * that they resolve on any search_path; they take only finsec's types.
 *
 * Grants: every finsec role may use the types and call the operators, the
 * masks and the validity functions; type I/O, hash and sort support
 * functions are called by the server, which checks no privilege on them.
 */

-- ---- finsec.cn_resident_id: resident ID number, GB 11643-1999 -------------

CREATE TYPE finsec.cn_resident_id;

CREATE FUNCTION finsec.cn_resident_id_in(cstring) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_in';
CREATE FUNCTION finsec.cn_resident_id_out(finsec.cn_resident_id) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_out';
CREATE FUNCTION finsec.cn_resident_id_recv(internal) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_recv';
CREATE FUNCTION finsec.cn_resident_id_send(finsec.cn_resident_id) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_send';
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

CREATE OPERATOR pg_catalog.= (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_eq, COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_ne, COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_lt, COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_le, COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_gt, COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (
	LEFTARG = finsec.cn_resident_id, RIGHTARG = finsec.cn_resident_id,
	FUNCTION = finsec.cn_resident_id_ge, COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS finsec.cn_resident_id_ops DEFAULT FOR TYPE finsec.cn_resident_id USING btree AS
	OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=,
	OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
	FUNCTION 1 finsec.cn_resident_id_cmp(finsec.cn_resident_id, finsec.cn_resident_id),
	FUNCTION 2 finsec.cn_resident_id_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);
CREATE OPERATOR CLASS finsec.cn_resident_id_ops DEFAULT FOR TYPE finsec.cn_resident_id USING hash AS
	OPERATOR 1 pg_catalog.=,
	FUNCTION 1 finsec.cn_resident_id_hash(finsec.cn_resident_id),
	FUNCTION 2 finsec.cn_resident_id_hash_extended(finsec.cn_resident_id, bigint);

-- ---- finsec.uscc: unified social credit code, GB 32100-2015 ---------------

CREATE TYPE finsec.uscc;

CREATE FUNCTION finsec.uscc_in(cstring) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_in';
CREATE FUNCTION finsec.uscc_out(finsec.uscc) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_out';
CREATE FUNCTION finsec.uscc_recv(internal) RETURNS finsec.uscc
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_recv';
CREATE FUNCTION finsec.uscc_send(finsec.uscc) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_send';
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
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_eq';
CREATE FUNCTION finsec.uscc_ne(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_ne';
CREATE FUNCTION finsec.uscc_lt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_lt';
CREATE FUNCTION finsec.uscc_le(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_le';
CREATE FUNCTION finsec.uscc_gt(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_gt';
CREATE FUNCTION finsec.uscc_ge(finsec.uscc, finsec.uscc) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_ge';
CREATE FUNCTION finsec.uscc_cmp(finsec.uscc, finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_cmp';
CREATE FUNCTION finsec.uscc_hash(finsec.uscc) RETURNS integer
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_hash';
CREATE FUNCTION finsec.uscc_hash_extended(finsec.uscc, bigint) RETURNS bigint
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF AS 'MODULE_PATHNAME', 'finsec_uscc_hash_extended';
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

CREATE OPERATOR pg_catalog.= (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_eq, COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_ne, COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_lt, COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_le, COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_gt, COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (
	LEFTARG = finsec.uscc, RIGHTARG = finsec.uscc,
	FUNCTION = finsec.uscc_ge, COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS finsec.uscc_ops DEFAULT FOR TYPE finsec.uscc USING btree AS
	OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=,
	OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
	FUNCTION 1 finsec.uscc_cmp(finsec.uscc, finsec.uscc),
	FUNCTION 4 pg_catalog.btequalimage(oid);
CREATE OPERATOR CLASS finsec.uscc_ops DEFAULT FOR TYPE finsec.uscc USING hash AS
	OPERATOR 1 pg_catalog.=,
	FUNCTION 1 finsec.uscc_hash(finsec.uscc),
	FUNCTION 2 finsec.uscc_hash_extended(finsec.uscc, bigint);

-- ---- finsec.cn_mobile: mainland mobile phone number -----------------------

CREATE TYPE finsec.cn_mobile;

CREATE FUNCTION finsec.cn_mobile_in(cstring) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_in';
CREATE FUNCTION finsec.cn_mobile_out(finsec.cn_mobile) RETURNS cstring
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_out';
CREATE FUNCTION finsec.cn_mobile_recv(internal) RETURNS finsec.cn_mobile
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_recv';
CREATE FUNCTION finsec.cn_mobile_send(finsec.cn_mobile) RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_send';
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

CREATE OPERATOR pg_catalog.= (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_eq, COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR pg_catalog.<> (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_ne, COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR pg_catalog.< (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_lt, COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR pg_catalog.<= (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_le, COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR pg_catalog.> (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_gt, COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR pg_catalog.>= (
	LEFTARG = finsec.cn_mobile, RIGHTARG = finsec.cn_mobile,
	FUNCTION = finsec.cn_mobile_ge, COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<),
	RESTRICT = scalargesel, JOIN = scalargejoinsel);

CREATE OPERATOR CLASS finsec.cn_mobile_ops DEFAULT FOR TYPE finsec.cn_mobile USING btree AS
	OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=,
	OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
	FUNCTION 1 finsec.cn_mobile_cmp(finsec.cn_mobile, finsec.cn_mobile),
	FUNCTION 2 finsec.cn_mobile_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);
CREATE OPERATOR CLASS finsec.cn_mobile_ops DEFAULT FOR TYPE finsec.cn_mobile USING hash AS
	OPERATOR 1 pg_catalog.=,
	FUNCTION 1 finsec.cn_mobile_hash(finsec.cn_mobile),
	FUNCTION 2 finsec.cn_mobile_hash_extended(finsec.cn_mobile, bigint);

-- ---- Masks, parts, conversion --------------------------------------------

CREATE FUNCTION finsec.mask(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_mask';
COMMENT ON FUNCTION finsec.mask(finsec.cn_resident_id) IS
	'resident ID number for display: region code and last four kept, birth date and sequence masked (110105********002X)';
CREATE FUNCTION finsec.mask(finsec.uscc) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_mask';
COMMENT ON FUNCTION finsec.mask(finsec.uscc) IS
	'credit code for display: department, category, division code and the two check characters kept, organization identifier masked (91350100********43)';
CREATE FUNCTION finsec.mask(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_mask';
COMMENT ON FUNCTION finsec.mask(finsec.cn_mobile) IS
	'mobile number for display: network prefix and last four kept (138****5678)';

CREATE FUNCTION finsec.cn_resident_id_from_15(text) RETURNS finsec.cn_resident_id
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_from_15';
COMMENT ON FUNCTION finsec.cn_resident_id_from_15(text) IS
	'convert a 15-digit first-generation resident ID number: century 19 inserted, check character computed (GB 11643-1999)';
CREATE FUNCTION finsec.cn_resident_id_birth_date(finsec.cn_resident_id) RETURNS date
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_birth_date';
COMMENT ON FUNCTION finsec.cn_resident_id_birth_date(finsec.cn_resident_id) IS
	'birth date encoded in a resident ID number (characters 7-14); personal data';
CREATE FUNCTION finsec.cn_resident_id_sex(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_sex';
COMMENT ON FUNCTION finsec.cn_resident_id_sex(finsec.cn_resident_id) IS
	'''male'' or ''female'' as encoded in a resident ID number (character 17 odd or even); personal data';
CREATE FUNCTION finsec.cn_resident_id_region(finsec.cn_resident_id) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_region';
COMMENT ON FUNCTION finsec.cn_resident_id_region(finsec.cn_resident_id) IS
	'address code (GB/T 2260) of the issuing registration in a resident ID number (characters 1-6)';
CREATE FUNCTION finsec.cn_mobile_e164(finsec.cn_mobile) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_e164';
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
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_is_valid';
COMMENT ON FUNCTION finsec.is_valid_cn_resident_id(text, date) IS
	'true if the text is a valid resident ID number (and, given as_of, a birth date not after it); NULL for NULL; never raises';
CREATE FUNCTION finsec.cn_resident_id_problem(value text, as_of date DEFAULT NULL) RETURNS text
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_resident_id_problem';
COMMENT ON FUNCTION finsec.cn_resident_id_problem(text, date) IS
	'why the text is not a valid resident ID number, NULL if it is; never raises and never quotes the value';
CREATE FUNCTION finsec.is_valid_uscc(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_is_valid';
COMMENT ON FUNCTION finsec.is_valid_uscc(text) IS
	'true if the text is a valid unified social credit code; NULL for NULL; never raises';
CREATE FUNCTION finsec.uscc_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_uscc_problem';
COMMENT ON FUNCTION finsec.uscc_problem(text) IS
	'why the text is not a valid unified social credit code, NULL if it is; never raises and never quotes the value';
CREATE FUNCTION finsec.is_valid_cn_mobile(value text) RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_is_valid';
COMMENT ON FUNCTION finsec.is_valid_cn_mobile(text) IS
	'true if the text is a valid mainland mobile number; NULL for NULL; never raises';
CREATE FUNCTION finsec.cn_mobile_problem(value text) RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'finsec_cn_mobile_problem';
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

/*
 * finsec.bank_card (13-19 digits, Luhn) and finsec.bank_account (8-32
 * digits): never stored in the clear (docs/cards.md).  The keyring needs an
 * encryption key "card.enc" (aes-256-gcm) and a fingerprint key "card.fp"
 * (hmac-sha256 or hmac-sm3), each created under two-person control.
 */
CREATE TYPE finsec.bank_card;
CREATE TYPE finsec.bank_account;

CREATE FUNCTION finsec.bank_card_in(cstring) RETURNS finsec.bank_card
	AS 'MODULE_PATHNAME', 'finsec_bank_card_in' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_card_out(finsec.bank_card) RETURNS cstring
	AS 'MODULE_PATHNAME', 'finsec_bank_number_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.bank_card_recv(internal) RETURNS finsec.bank_card
	AS 'MODULE_PATHNAME', 'finsec_bank_card_recv' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_card_send(finsec.bank_card) RETURNS bytea
	AS 'MODULE_PATHNAME', 'finsec_bank_number_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.bank_account_in(cstring) RETURNS finsec.bank_account
	AS 'MODULE_PATHNAME', 'finsec_bank_account_in' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_account_out(finsec.bank_account) RETURNS cstring
	AS 'MODULE_PATHNAME', 'finsec_bank_number_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.bank_account_recv(internal) RETURNS finsec.bank_account
	AS 'MODULE_PATHNAME', 'finsec_bank_account_recv' LANGUAGE C STABLE STRICT;
CREATE FUNCTION finsec.bank_account_send(finsec.bank_account) RETURNS bytea
	AS 'MODULE_PATHNAME', 'finsec_bank_number_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE finsec.bank_card (
	INPUT = finsec.bank_card_in, OUTPUT = finsec.bank_card_out,
	RECEIVE = finsec.bank_card_recv, SEND = finsec.bank_card_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = main);
CREATE TYPE finsec.bank_account (
	INPUT = finsec.bank_account_in, OUTPUT = finsec.bank_account_out,
	RECEIVE = finsec.bank_account_recv, SEND = finsec.bank_account_send,
	INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = main);
COMMENT ON TYPE finsec.bank_card IS
	'bank card number (13-19 digits, Luhn): encrypted, fingerprinted, masked; finsec.reveal() for finsec_unmask';
COMMENT ON TYPE finsec.bank_account IS
	'bank account number (8-32 digits): encrypted, fingerprinted, masked; finsec.reveal() for finsec_unmask';

/*
 * The comparison operators live in pg_catalog, the one schema every
 * search_path includes, so that "card = other_card", joins and GROUP BY
 * work without putting finsec on the search path.  They take only
 * finsec's types, so they cannot capture any other expression.
 */
DO $$
DECLARE
	t text;
	op record;
BEGIN
	FOREACH t IN ARRAY ARRAY['bank_card', 'bank_account'] LOOP
		FOR op IN SELECT * FROM (VALUES ('eq', '=', 'boolean'), ('ne', '<>', 'boolean'),
										('lt', '<', 'boolean'), ('le', '<=', 'boolean'),
										('gt', '>', 'boolean'), ('ge', '>=', 'boolean'),
										('cmp', NULL, 'integer')) v(fn, sym, ret)
		LOOP
			EXECUTE format('CREATE FUNCTION finsec.%1$s_%2$s(finsec.%1$s, finsec.%1$s) RETURNS %3$s '
						   'AS ''MODULE_PATHNAME'', ''finsec_bank_number_%2$s'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE',
						   t, op.fn, op.ret);
		END LOOP;
		EXECUTE format('CREATE FUNCTION finsec.%1$s_hash(finsec.%1$s) RETURNS integer '
					   'AS ''MODULE_PATHNAME'', ''finsec_bank_number_hash'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE', t);
		EXECUTE format('CREATE FUNCTION finsec.%1$s_hash_extended(finsec.%1$s, bigint) RETURNS bigint '
					   'AS ''MODULE_PATHNAME'', ''finsec_bank_number_hash_extended'' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE', t);
		EXECUTE format($f$
			CREATE OPERATOR pg_catalog.= (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_eq,
				COMMUTATOR = OPERATOR(pg_catalog.=), NEGATOR = OPERATOR(pg_catalog.<>), RESTRICT = eqsel, JOIN = eqjoinsel,
				HASHES, MERGES);
			CREATE OPERATOR pg_catalog.<> (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_ne,
				COMMUTATOR = OPERATOR(pg_catalog.<>), NEGATOR = OPERATOR(pg_catalog.=), RESTRICT = neqsel, JOIN = neqjoinsel);
			CREATE OPERATOR pg_catalog.< (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_lt,
				COMMUTATOR = OPERATOR(pg_catalog.>), NEGATOR = OPERATOR(pg_catalog.>=), RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
			CREATE OPERATOR pg_catalog.<= (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_le,
				COMMUTATOR = OPERATOR(pg_catalog.>=), NEGATOR = OPERATOR(pg_catalog.>), RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
			CREATE OPERATOR pg_catalog.> (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_gt,
				COMMUTATOR = OPERATOR(pg_catalog.<), NEGATOR = OPERATOR(pg_catalog.<=), RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
			CREATE OPERATOR pg_catalog.>= (LEFTARG = finsec.%1$s, RIGHTARG = finsec.%1$s, FUNCTION = finsec.%1$s_ge,
				COMMUTATOR = OPERATOR(pg_catalog.<=), NEGATOR = OPERATOR(pg_catalog.<), RESTRICT = scalargesel, JOIN = scalargejoinsel);
			CREATE OPERATOR CLASS finsec.%1$s_ops DEFAULT FOR TYPE finsec.%1$s USING btree AS
				OPERATOR 1 pg_catalog.<, OPERATOR 2 pg_catalog.<=, OPERATOR 3 pg_catalog.=, OPERATOR 4 pg_catalog.>=, OPERATOR 5 pg_catalog.>,
				FUNCTION 1 finsec.%1$s_cmp(finsec.%1$s, finsec.%1$s);
			CREATE OPERATOR CLASS finsec.%1$s_hash_ops DEFAULT FOR TYPE finsec.%1$s USING hash AS
				OPERATOR 1 pg_catalog.=,
				FUNCTION 1 finsec.%1$s_hash(finsec.%1$s),
				FUNCTION 2 finsec.%1$s_hash_extended(finsec.%1$s, bigint);
		$f$, t);
	END LOOP;
END
$$;

CREATE FUNCTION finsec.mask(number finsec.bank_card, keep_first integer DEFAULT NULL,
							keep_last integer DEFAULT NULL, grouped boolean DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_mask' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION finsec.mask(number finsec.bank_account, keep_first integer DEFAULT NULL,
							keep_last integer DEFAULT NULL, grouped boolean DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_mask' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION finsec.mask(finsec.bank_card, integer, integer, boolean) IS
	'masked card number (default finsec.card_mask_first/last: 622202******1234); never more than the BIN and last four';
COMMENT ON FUNCTION finsec.mask(finsec.bank_account, integer, integer, boolean) IS
	'masked account number; at least half the digits always hidden';

CREATE FUNCTION finsec.reveal(number finsec.bank_card, reason text DEFAULT NULL, context text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_reveal' LANGUAGE C VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION finsec.reveal(number finsec.bank_account, reason text DEFAULT NULL, context text DEFAULT NULL)
RETURNS text AS 'MODULE_PATHNAME', 'finsec_bank_number_reveal' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION finsec.reveal(finsec.bank_card, text, text) IS
	'the full card number, for finsec_unmask; every call is written to the audit ledger (who, reason, context)';
COMMENT ON FUNCTION finsec.reveal(finsec.bank_account, text, text) IS
	'the full account number, for finsec_unmask; every call is written to the audit ledger (who, reason, context)';

CREATE FUNCTION finsec.card_rekey(number finsec.bank_card) RETURNS finsec.bank_card
	AS 'MODULE_PATHNAME', 'finsec_bank_number_rekey' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
CREATE FUNCTION finsec.card_rekey(number finsec.bank_account) RETURNS finsec.bank_account
	AS 'MODULE_PATHNAME', 'finsec_bank_number_rekey' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION finsec.card_rekey(finsec.bank_card) IS
	'the same number encrypted and fingerprinted under the active versions of card.enc and card.fp (after rotation)';

CREATE FUNCTION finsec.number_info(number finsec.bank_card,
	OUT kind text, OUT digits integer, OUT bin text, OUT last4 text, OUT luhn_valid boolean,
	OUT enc_key_version integer, OUT fp_key_version integer)
RETURNS record AS 'MODULE_PATHNAME', 'finsec_bank_number_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.number_info(number finsec.bank_account,
	OUT kind text, OUT digits integer, OUT bin text, OUT last4 text, OUT luhn_valid boolean,
	OUT enc_key_version integer, OUT fp_key_version integer)
RETURNS record AS 'MODULE_PATHNAME', 'finsec_bank_number_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION finsec._is_valid_bank_number(text, boolean) RETURNS boolean
	AS 'MODULE_PATHNAME', 'finsec_is_valid_bank_card' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION finsec.is_valid_bank_card(text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	AS $$ SELECT finsec._is_valid_bank_number($1, false) $$;
CREATE FUNCTION finsec.is_valid_bank_account(text) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
	AS $$ SELECT finsec._is_valid_bank_number($1, true) $$;
COMMENT ON FUNCTION finsec.is_valid_bank_card(text) IS
	'whether text is a bank card number (digits, 13-19, Luhn), without raising: for cleaning legacy data';
COMMENT ON FUNCTION finsec.is_valid_bank_account(text) IS
	'whether text is a bank account number (digits, 8-32), without raising';

-- Deny by default: the types and their functions to finsec's roles only;
-- revealing to finsec_unmask, re-keying to finsec_admin.
DO $$
DECLARE
	f regprocedure;
BEGIN
	REVOKE USAGE ON TYPE finsec.bank_card, finsec.bank_account FROM PUBLIC;
	GRANT USAGE ON TYPE finsec.bank_card, finsec.bank_account
		TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace
				AND (p.proname ~ '^bank_(card|account)_' OR p.proname IN ('mask', 'number_info', '_is_valid_bank_number',
																		   'is_valid_bank_card', 'is_valid_bank_account'))
				AND pg_get_function_identity_arguments(p.oid) ~ 'bank_(card|account)|^text|cstring|internal'
	LOOP
		EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
		EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask', f);
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION finsec.reveal(finsec.bank_card, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.reveal(finsec.bank_account, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.reveal(finsec.bank_card, text, text) TO finsec_unmask;
GRANT EXECUTE ON FUNCTION finsec.reveal(finsec.bank_account, text, text) TO finsec_unmask;
REVOKE ALL ON FUNCTION finsec.card_rekey(finsec.bank_card) FROM PUBLIC;
REVOKE ALL ON FUNCTION finsec.card_rekey(finsec.bank_account) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.card_rekey(finsec.bank_card) TO finsec_admin;
GRANT EXECUTE ON FUNCTION finsec.card_rekey(finsec.bank_account) TO finsec_admin;

CREATE FUNCTION finsec.status_card(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	WITH keys AS (
		SELECT count(*) FILTER (WHERE k.label = 'card.enc' AND k.purpose = 'encryption' AND v.state = 'active') = 1
			   AND count(*) FILTER (WHERE k.label = 'card.fp' AND k.purpose = 'fingerprint' AND v.state = 'active') = 1
			   AS ready
		  FROM finsec.key k JOIN finsec.key_version v ON v.key_id = k.key_id
	), used AS (
		SELECT count(DISTINCT a.attrelid) AS tables
		  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		 WHERE a.atttypid IN ('finsec.bank_card'::regtype, 'finsec.bank_account'::regtype)
		   AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'm')
	)
	SELECT 'card_keys', keys.ready OR used.tables = 0,
		   CASE WHEN keys.ready
				THEN 'card.enc and card.fp are active: bank_card and bank_account values can be written'
				WHEN used.tables = 0
				THEN 'not in use; bank_card and bank_account need active keys card.enc (encryption, aes-256-gcm) and card.fp (fingerprint): see docs/cards.md'
				ELSE format('%s table(s) have bank_card or bank_account columns but card.enc and card.fp are not both active: see docs/cards.md',
							used.tables)
		   END
	  FROM keys, used
$$;
REVOKE ALL ON FUNCTION finsec.status_card() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_card() TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- Keyring: parallel pg_restore loads the rows of finsec.key and
-- finsec.key_version in any order, so a foreign key between them can
-- reject the versions; versions are written only by finsec's own code
-- with their key, and finsec.status() reports any orphan.
-- =====================================================================
ALTER TABLE finsec.key_version DROP CONSTRAINT key_version_key_id_fkey;

CREATE OR REPLACE FUNCTION finsec.status_keyring(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'keyring_master_key', m.loaded,
		   CASE WHEN m.loaded THEN 'master key loaded, check value ' || m.check_value
				ELSE 'no master key: key functions fail (' || m.problem || ')' END
	  FROM finsec.keyring_master() m
	UNION ALL
	SELECT 'keyring_keys',
		   NOT EXISTS (SELECT 1 FROM finsec.key_version v
						WHERE v.state IN ('active', 'retired', 'pending')
						  AND v.master_kcv IS DISTINCT FROM (SELECT check_value FROM finsec.keyring_master()))
		   AND NOT EXISTS (SELECT 1 FROM finsec.key_version v WHERE NOT EXISTS (SELECT 1 FROM finsec.key k WHERE k.key_id = v.key_id)),
		   format('%s active, %s retired, %s pending versions; %s wrapped under another master key; %s without their key',
				  count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'retired'),
				  count(*) FILTER (WHERE state = 'pending'),
				  count(*) FILTER (WHERE state <> 'destroyed'
								   AND master_kcv IS DISTINCT FROM (SELECT check_value FROM finsec.keyring_master())),
				  count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM finsec.key k WHERE k.key_id = key_version.key_id)))
	  FROM finsec.key_version
	UNION ALL
	SELECT 'change_requests', true,
		   format('%s pending, %s expired in the last 7 days',
				  count(*) FILTER (WHERE state = 'pending' AND expires_at > now()),
				  count(*) FILTER (WHERE (state = 'expired' OR (state = 'pending' AND expires_at <= now()))
									 AND expires_at > now() - interval '7 days'))
	  FROM finsec.change_request
$$;

-- =====================================================================
-- end of finsec--0.4--0.5.sql
-- =====================================================================
