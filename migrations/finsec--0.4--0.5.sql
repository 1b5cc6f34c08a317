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
CREATE OPERATOR finsec.+ (LEFTARG = finsec.money, RIGHTARG = finsec.money,
	FUNCTION = finsec.money_add, COMMUTATOR = OPERATOR(finsec.+));

CREATE FUNCTION finsec.money_sub(finsec.money, finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_sub' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_sub(finsec.money, finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_sub(finsec.money, finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR finsec.- (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_sub);

CREATE FUNCTION finsec.money_neg(finsec.money) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_neg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_neg(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_neg(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR finsec.- (RIGHTARG = finsec.money, FUNCTION = finsec.money_neg);

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

CREATE OPERATOR finsec.* (LEFTARG = finsec.money, RIGHTARG = numeric,
	FUNCTION = finsec.money_mul_numeric, COMMUTATOR = OPERATOR(finsec.*));
CREATE OPERATOR finsec.* (LEFTARG = numeric, RIGHTARG = finsec.money,
	FUNCTION = finsec.numeric_mul_money, COMMUTATOR = OPERATOR(finsec.*));

CREATE FUNCTION finsec.money_div_numeric(finsec.money, numeric) RETURNS finsec.money
	AS 'MODULE_PATHNAME', 'finsec_money_div_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
REVOKE ALL ON FUNCTION finsec.money_div_numeric(finsec.money, numeric) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.money_div_numeric(finsec.money, numeric)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;
CREATE OPERATOR finsec./ (LEFTARG = finsec.money, RIGHTARG = numeric, FUNCTION = finsec.money_div_numeric);

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

CREATE OPERATOR finsec.= (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_eq,
	COMMUTATOR = OPERATOR(finsec.=), NEGATOR = OPERATOR(finsec.<>),
	RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
CREATE OPERATOR finsec.<> (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_ne,
	COMMUTATOR = OPERATOR(finsec.<>), NEGATOR = OPERATOR(finsec.=),
	RESTRICT = neqsel, JOIN = neqjoinsel);
CREATE OPERATOR finsec.< (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_lt,
	COMMUTATOR = OPERATOR(finsec.>), NEGATOR = OPERATOR(finsec.>=),
	RESTRICT = finsec.money_ineqsel, JOIN = scalarltjoinsel);
CREATE OPERATOR finsec.<= (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_le,
	COMMUTATOR = OPERATOR(finsec.>=), NEGATOR = OPERATOR(finsec.>),
	RESTRICT = finsec.money_ineqsel, JOIN = scalarlejoinsel);
CREATE OPERATOR finsec.> (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_gt,
	COMMUTATOR = OPERATOR(finsec.<), NEGATOR = OPERATOR(finsec.<=),
	RESTRICT = finsec.money_ineqsel, JOIN = scalargtjoinsel);
CREATE OPERATOR finsec.>= (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_ge,
	COMMUTATOR = OPERATOR(finsec.<=), NEGATOR = OPERATOR(finsec.<),
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

CREATE OPERATOR finsec.~<~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_lt,
	COMMUTATOR = OPERATOR(finsec.~>~), NEGATOR = OPERATOR(finsec.~>=~),
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
CREATE OPERATOR finsec.~<=~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_le,
	COMMUTATOR = OPERATOR(finsec.~>=~), NEGATOR = OPERATOR(finsec.~>~),
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
CREATE OPERATOR finsec.~>~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_gt,
	COMMUTATOR = OPERATOR(finsec.~<~), NEGATOR = OPERATOR(finsec.~<=~),
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
CREATE OPERATOR finsec.~>=~ (LEFTARG = finsec.money, RIGHTARG = finsec.money, FUNCTION = finsec.money_order_ge,
	COMMUTATOR = OPERATOR(finsec.~<=~), NEGATOR = OPERATOR(finsec.~<~),
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
	OPERATOR 1 finsec.~<~,
	OPERATOR 2 finsec.~<=~,
	OPERATOR 3 finsec.=,
	OPERATOR 4 finsec.~>=~,
	OPERATOR 5 finsec.~>~,
	FUNCTION 1 finsec.money_cmp(finsec.money, finsec.money),
	FUNCTION 2 finsec.money_sortsupport(internal),
	FUNCTION 4 pg_catalog.btequalimage(oid);

CREATE OPERATOR CLASS finsec.money_hash_ops DEFAULT FOR TYPE finsec.money USING hash AS
	OPERATOR 1 finsec.=,
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

CREATE AGGREGATE finsec.sum(finsec.money) (
	SFUNC = finsec.money_agg_trans, STYPE = internal, SSPACE = 48,
	FINALFUNC = finsec.money_sum_final,
	COMBINEFUNC = finsec.money_agg_combine,
	SERIALFUNC = finsec.money_agg_serialize, DESERIALFUNC = finsec.money_agg_deserialize,
	PARALLEL = SAFE);
COMMENT ON AGGREGATE finsec.sum(finsec.money) IS 'exact sum of amounts of one currency (22003 if out of range)';
REVOKE ALL ON FUNCTION finsec.sum(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.sum(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE finsec.avg(finsec.money) (
	SFUNC = finsec.money_agg_trans, STYPE = internal, SSPACE = 48,
	FINALFUNC = finsec.money_avg_final,
	COMBINEFUNC = finsec.money_agg_combine,
	SERIALFUNC = finsec.money_agg_serialize, DESERIALFUNC = finsec.money_agg_deserialize,
	PARALLEL = SAFE);
COMMENT ON AGGREGATE finsec.avg(finsec.money) IS
	'mean of amounts of one currency, rounded half-even to the minor unit (exact: sum / count as numeric)';
REVOKE ALL ON FUNCTION finsec.avg(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.avg(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE finsec.min(finsec.money) (
	SFUNC = finsec.money_smaller, STYPE = finsec.money,
	COMBINEFUNC = finsec.money_smaller, PARALLEL = SAFE);
COMMENT ON AGGREGATE finsec.min(finsec.money) IS 'smallest amount of one currency';
REVOKE ALL ON FUNCTION finsec.min(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.min(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE AGGREGATE finsec.max(finsec.money) (
	SFUNC = finsec.money_larger, STYPE = finsec.money,
	COMBINEFUNC = finsec.money_larger, PARALLEL = SAFE);
COMMENT ON AGGREGATE finsec.max(finsec.money) IS 'largest amount of one currency';
REVOKE ALL ON FUNCTION finsec.max(finsec.money) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.max(finsec.money)
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

-- =====================================================================
-- Chinese identifiers: resident ID, unified social credit code, mobile (src/cnid)
-- =====================================================================

-- (identifier section)

-- =====================================================================
-- Protected bank card and account numbers (src/card)
-- =====================================================================

-- (card section)

-- =====================================================================
-- end of finsec--0.4--0.5.sql
-- =====================================================================
