/* finsec--0.3--0.4.sql -- keyring with two-person control, and message
 * security: MACs, signatures, replay and duplicate-payment guards, one-time
 * codes.
 *
 * Requirements D5, D7, A7, M1-M4, M6, M7 (docs/keyring.md, docs/mac.md,
 * docs/signatures.md, docs/guards.md).
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.4'" to load this file. \quit

-- =====================================================================
-- Keyring and two-person approvals (src/keyring)
-- =====================================================================

-- (keyring section)

-- =====================================================================
-- Message authentication codes and one-time codes (src/mac)
-- =====================================================================

-- (mac section)

-- =====================================================================
-- Replay and duplicate-payment guards (src/guard)
-- =====================================================================

/*
 * Replay guard (M2; docs/guards.md).  Each accepted nonce, kept until its
 * message timestamp leaves finsec.nonce_window; the primary key makes
 * exactly one of concurrent consumers win.  Written only by the functions
 * below, as the extension owner.  Dumped with the data so that a restored
 * database still refuses replays of recent messages.
 */
CREATE TABLE finsec.nonce (
	scope		text NOT NULL,
	nonce		bytea NOT NULL,
	ts			timestamptz NOT NULL,
	consumed_at	timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
	PRIMARY KEY (scope, nonce)
);
CREATE INDEX nonce_ts_idx ON finsec.nonce (ts);
SELECT pg_catalog.pg_extension_config_dump('finsec.nonce', '');
REVOKE ALL ON finsec.nonce FROM PUBLIC;
GRANT SELECT ON finsec.nonce TO finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.consume_nonce(scope text, nonce text, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_consume_nonce';
COMMENT ON FUNCTION finsec.consume_nonce(text, text, timestamptz, interval) IS
'Accept a message nonce once per scope; raises S9G01 (replay), S9G02 (stale) or S9G03 (future timestamp).';
REVOKE ALL ON FUNCTION finsec.consume_nonce(text, text, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.consume_nonce(text, text, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.consume_nonce(scope text, nonce bytea, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_consume_nonce';
COMMENT ON FUNCTION finsec.consume_nonce(text, bytea, timestamptz, interval) IS
'Accept a binary message nonce once per scope; raises S9G01, S9G02 or S9G03.';
REVOKE ALL ON FUNCTION finsec.consume_nonce(text, bytea, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.consume_nonce(text, bytea, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.try_consume_nonce(scope text, nonce text, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_try_consume_nonce';
COMMENT ON FUNCTION finsec.try_consume_nonce(text, text, timestamptz, interval) IS
'consume_nonce() returning false instead of refusing a replayed, stale or future message.';
REVOKE ALL ON FUNCTION finsec.try_consume_nonce(text, text, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.try_consume_nonce(text, text, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.try_consume_nonce(scope text, nonce bytea, ts timestamptz,
	"window" interval DEFAULT NULL)
RETURNS boolean
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_try_consume_nonce';
COMMENT ON FUNCTION finsec.try_consume_nonce(text, bytea, timestamptz, interval) IS
'consume_nonce() for a binary nonce, returning false instead of refusing.';
REVOKE ALL ON FUNCTION finsec.try_consume_nonce(text, bytea, timestamptz, interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.try_consume_nonce(text, bytea, timestamptz, interval) TO finsec_app;

CREATE FUNCTION finsec.nonce_purge(max_rows bigint DEFAULT 100000)
RETURNS bigint
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_nonce_purge';
COMMENT ON FUNCTION finsec.nonce_purge(bigint) IS
'Delete up to max_rows remembered nonces whose timestamp left finsec.nonce_window; returns how many.';
REVOKE ALL ON FUNCTION finsec.nonce_purge(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.nonce_purge(bigint) TO finsec_admin, finsec_operator;

/*
 * Duplicate-payment, cancellation and refund guards (M3; docs/guards.md).
 * What is guarded, for the DBA to see; the triggers carry the same
 * configuration.  Written only by enable_/disable_*_guard().
 */
CREATE TABLE finsec.order_guard (
	relid					regclass PRIMARY KEY,
	status_column			text NOT NULL,
	paid_amount_column		text,
	refunded_amount_column	text,
	payment_ref_column		text,
	paid_states				text[] NOT NULL,
	cancelled_states		text[] NOT NULL,
	enabled_by				name NOT NULL,
	enabled_at				timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('finsec.order_guard', '');
REVOKE ALL ON finsec.order_guard FROM PUBLIC;
GRANT SELECT ON finsec.order_guard TO finsec_admin, finsec_auditor, finsec_operator;

CREATE TABLE finsec.refund_guard (
	relid				regclass PRIMARY KEY,
	orders				regclass NOT NULL,	-- an order guard; disable_order_guard() refuses while referenced
	order_ref_column	text NOT NULL,
	amount_column		text NOT NULL,
	order_key			text NOT NULL,
	enabled_by			name NOT NULL,
	enabled_at			timestamptz NOT NULL DEFAULT pg_catalog.now()
);
SELECT pg_catalog.pg_extension_config_dump('finsec.refund_guard', '');
REVOKE ALL ON finsec.refund_guard FROM PUBLIC;
GRANT SELECT ON finsec.refund_guard TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.order_guard_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_order_guard_trigger';
REVOKE ALL ON FUNCTION finsec.order_guard_trigger() FROM PUBLIC;

CREATE FUNCTION finsec.refund_guard_trigger()
RETURNS trigger
LANGUAGE C
AS 'MODULE_PATHNAME', 'finsec_refund_guard_trigger';
REVOKE ALL ON FUNCTION finsec.refund_guard_trigger() FROM PUBLIC;

CREATE FUNCTION finsec.enable_order_guard(
	orders regclass,
	status text DEFAULT 'status',
	paid_amount text DEFAULT 'paid_amount',
	refunded_amount text DEFAULT NULL,
	payment_ref text DEFAULT NULL,
	paid_states text[] DEFAULT '{paid,partially_refunded,refunded}',
	cancelled_states text[] DEFAULT '{cancelled,canceled}')
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_order_guard';
COMMENT ON FUNCTION finsec.enable_order_guard(regclass, text, text, text, text, text[], text[]) IS
'Guard an order table: paid once, no cancellation once paid, refunds at most the paid amount (audited).';
REVOKE ALL ON FUNCTION finsec.enable_order_guard(regclass, text, text, text, text, text[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_order_guard(regclass, text, text, text, text, text[], text[]) TO finsec_admin;

CREATE FUNCTION finsec.disable_order_guard(orders regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_order_guard';
COMMENT ON FUNCTION finsec.disable_order_guard(regclass) IS
'Remove the order guard of a table (audited).';
REVOKE ALL ON FUNCTION finsec.disable_order_guard(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_order_guard(regclass) TO finsec_admin;

CREATE FUNCTION finsec.enable_refund_guard(
	refunds regclass,
	orders regclass,
	order_ref text DEFAULT 'order_id',
	amount text DEFAULT 'amount',
	order_key text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_enable_refund_guard';
COMMENT ON FUNCTION finsec.enable_refund_guard(regclass, regclass, text, text, text) IS
'Guard a refund table: the refunds of one order never total more than its paid amount (audited).';
REVOKE ALL ON FUNCTION finsec.enable_refund_guard(regclass, regclass, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.enable_refund_guard(regclass, regclass, text, text, text) TO finsec_admin;

CREATE FUNCTION finsec.disable_refund_guard(refunds regclass)
RETURNS void
LANGUAGE C VOLATILE PARALLEL UNSAFE
AS 'MODULE_PATHNAME', 'finsec_disable_refund_guard';
COMMENT ON FUNCTION finsec.disable_refund_guard(regclass) IS
'Remove the refund guard of a table (audited).';
REVOKE ALL ON FUNCTION finsec.disable_refund_guard(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.disable_refund_guard(regclass) TO finsec_admin;

/*
 * Each guard whose trigger is missing or disabled (the table's owner can
 * drop it) is reported, so the DBA sees what is really enforced.
 */
CREATE FUNCTION finsec.status_guard(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'nonce_replay', true,
		   format('nonces accepted once within %s, clock skew %s; %s remembered, %s expired awaiting purge',
				  current_setting('finsec.nonce_window'), current_setting('finsec.nonce_max_skew'),
				  (SELECT count(*) FROM finsec.nonce),
				  (SELECT count(*) FROM finsec.nonce
					WHERE ts < clock_timestamp() - current_setting('finsec.nonce_window')::interval))
	UNION ALL
	SELECT g.kind, coalesce(bool_and(g.enforced) FILTER (WHERE g.relid IS NOT NULL), true),
		   CASE WHEN count(g.relid) = 0 THEN 'no table guarded'
				ELSE string_agg(g.relid::text || CASE WHEN g.enforced THEN '' ELSE ' (TRIGGER MISSING OR DISABLED)' END,
								', ' ORDER BY g.relid::text)
		   END
	  FROM (SELECT k.kind, c.relid,
				   EXISTS (SELECT FROM pg_trigger t
							WHERE t.tgrelid = c.relid AND t.tgname = k.trigger AND t.tgenabled <> 'D') AS enforced
			  FROM (VALUES ('order_guards', 'finsec_order_guard'), ('refund_guards', 'finsec_refund_guard')) k (kind, trigger)
			  LEFT JOIN (SELECT 'order_guards' AS kind, relid FROM finsec.order_guard
						 UNION ALL SELECT 'refund_guards', relid FROM finsec.refund_guard) c USING (kind)) g
	 GROUP BY g.kind
$$;
REVOKE ALL ON FUNCTION finsec.status_guard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_guard()
	TO finsec_admin, finsec_auditor, finsec_operator;

-- =====================================================================
-- Signatures: registered signers, proof of origin and receipt (src/signature)
-- =====================================================================

-- (signature section)

-- =====================================================================
-- end of finsec--0.3--0.4.sql
-- =====================================================================
