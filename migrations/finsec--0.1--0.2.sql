/* finsec 0.1 -> 0.2 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.2'" to load this file. \quit

/* The audit ledger and protected tables.
 *
 * Requirements U1-U5, D6, W3 (docs/audit.md).  A fresh install of 0.2 runs
 * finsec--0.1.sql and then this script.
 */

-- =====================================================================
-- Audit ledger and protected tables
-- =====================================================================

-- Trigger functions: stamp (finsec_txid, finsec_seq); refuse change.
CREATE FUNCTION finsec.ledger_stamp()
RETURNS trigger
AS 'MODULE_PATHNAME', 'finsec_ledger_stamp'
LANGUAGE C;
REVOKE ALL ON FUNCTION finsec.ledger_stamp() FROM PUBLIC;

CREATE FUNCTION finsec.ledger_immutable()
RETURNS trigger
AS 'MODULE_PATHNAME', 'finsec_ledger_immutable'
LANGUAGE C;
REVOKE ALL ON FUNCTION finsec.ledger_immutable() FROM PUBLIC;

/*
 * The ledger (U1).  Written only through finsec.audit_event() and finsec's
 * own C code; read by finsec_auditor.
 */
CREATE TABLE finsec.audit (
	finsec_seq			bigint NOT NULL,
	event_time			timestamptz NOT NULL,
	db_user				name NOT NULL,
	session_user_name	name NOT NULL,
	client_addr			inet,
	application_name	text NOT NULL,
	backend_pid			integer NOT NULL,
	event_type			text NOT NULL,
	subject				text,
	object				text,
	action				text,
	success				boolean NOT NULL,
	description			text,
	detail				jsonb,
	finsec_txid			xid8 NOT NULL
);
COMMENT ON TABLE finsec.audit IS
	'finsec audit ledger: append-only, hash-chained (docs/audit.md)';
CREATE SEQUENCE finsec.audit_finsec_seq AS bigint OWNED BY finsec.audit.finsec_seq;
CREATE INDEX audit_finsec_chain_idx ON finsec.audit (finsec_txid, finsec_seq);
CREATE INDEX audit_event_time_idx ON finsec.audit (event_time);
CREATE TRIGGER finsec_ledger_stamp BEFORE INSERT ON finsec.audit
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_stamp();
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.audit
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.audit
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.audit ENABLE ALWAYS TRIGGER finsec_ledger_stamp,
	ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;
REVOKE ALL ON TABLE finsec.audit FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.audit_finsec_seq FROM PUBLIC;
GRANT SELECT ON TABLE finsec.audit TO finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.audit', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.audit_finsec_seq', '');

/* One chain per protected table, finsec.audit included. */
CREATE TABLE finsec.ledger_chain (
	relid				regclass PRIMARY KEY,
	chain_id			uuid NOT NULL UNIQUE,
	algorithm			text NOT NULL CHECK (algorithm IN ('sha256', 'sm3')),
	encoding_version	integer NOT NULL,
	system_identifier	text NOT NULL,
	end_txid			xid8 NOT NULL,
	blocks				bigint NOT NULL,
	sealed_rows			bigint NOT NULL,
	head_hash			bytea NOT NULL,
	protected_at		timestamptz NOT NULL,
	protected_by		name NOT NULL,
	sealed_at			timestamptz
);
COMMENT ON TABLE finsec.ledger_chain IS
	'finsec: one hash chain per protected table, with its sealed head';

/* Sealed blocks; a purged block keeps its hashes as the tombstone. */
CREATE TABLE finsec.ledger_block (
	relid				regclass NOT NULL,
	block_no			bigint NOT NULL,
	start_txid			xid8 NOT NULL,
	end_txid			xid8 NOT NULL,
	row_count			bigint NOT NULL,
	row_hashes			bytea,
	rows_digest			bytea NOT NULL,
	prev_hash			bytea NOT NULL,
	block_hash			bytea NOT NULL,
	sealed_at			timestamptz NOT NULL,
	purged_at			timestamptz,
	purged_by			name,
	PRIMARY KEY (relid, block_no)
);
ALTER TABLE finsec.ledger_block ALTER row_hashes SET STORAGE EXTERNAL;
COMMENT ON TABLE finsec.ledger_block IS
	'finsec: sealed blocks of each chain (docs/audit.md, "Hash chaining")';

CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.ledger_chain
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.ledger_chain
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_immutable BEFORE UPDATE OR DELETE ON finsec.ledger_block
	FOR EACH ROW EXECUTE FUNCTION finsec.ledger_immutable();
CREATE TRIGGER finsec_ledger_no_truncate BEFORE TRUNCATE ON finsec.ledger_block
	FOR EACH STATEMENT EXECUTE FUNCTION finsec.ledger_immutable();
ALTER TABLE finsec.ledger_chain ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;
ALTER TABLE finsec.ledger_block ENABLE ALWAYS TRIGGER finsec_ledger_immutable,
	ENABLE ALWAYS TRIGGER finsec_ledger_no_truncate;
REVOKE ALL ON TABLE finsec.ledger_chain, finsec.ledger_block FROM PUBLIC;
GRANT SELECT ON TABLE finsec.ledger_chain, finsec.ledger_block TO finsec_auditor;
SELECT pg_catalog.pg_extension_config_dump('finsec.ledger_chain', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.ledger_block', '');

/* Writing events (U1, U5). */
CREATE FUNCTION finsec.audit_event(
	event_type text,
	object text DEFAULT NULL,
	action text DEFAULT NULL,
	success boolean DEFAULT true,
	description text DEFAULT NULL,
	detail jsonb DEFAULT NULL,
	subject text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'finsec_audit_event_sql'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.audit_event(text, text, text, boolean, text, jsonb, text) IS
	'record an audit event in finsec.audit; returns its finsec_seq';
REVOKE ALL ON FUNCTION finsec.audit_event(text, text, text, boolean, text, jsonb, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_event(text, text, text, boolean, text, jsonb, text)
	TO finsec_admin, finsec_operator, finsec_app;

/* Protecting application tables (U5, L4, C6). */
CREATE FUNCTION finsec.protect_table(relation regclass, algorithm text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_protect_table'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.protect_table(regclass, text) IS
	'make a table append-only and hash-chained like the audit ledger';
REVOKE ALL ON FUNCTION finsec.protect_table(regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.protect_table(regclass, text) TO finsec_admin;

/* Sealing (normally done by the sealer worker). */
CREATE FUNCTION finsec.audit_seal(
	rel regclass DEFAULT NULL,
	OUT relation regclass,
	OUT blocks_sealed integer,
	OUT rows_sealed bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_audit_seal'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.audit_seal(regclass) IS
	'seal rows of finished transactions into the hash chain of one or every protected table';
REVOKE ALL ON FUNCTION finsec.audit_seal(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_seal(regclass) TO finsec_admin, finsec_auditor;

/* The canonical row hash, for recomputation by auditors. */
CREATE FUNCTION finsec.row_hash(row_value anyelement, algorithm text DEFAULT 'sha256')
RETURNS bytea
AS 'MODULE_PATHNAME', 'finsec_row_hash_sql'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION finsec.row_hash(anyelement, text) IS
	'canonical row hash (encoding v1) of a row value';
REVOKE ALL ON FUNCTION finsec.row_hash(anyelement, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.row_hash(anyelement, text) TO finsec_auditor;

/* Verification (D6). */
CREATE FUNCTION finsec.ledger_verify(
	rel regclass,
	checkpoint_block bigint,
	checkpoint_hash bytea,
	OUT relation regclass,
	OUT ok boolean,
	OUT rows_checked bigint,
	OUT blocks_checked bigint,
	OUT rows_pending bigint,
	OUT first_failure text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_ledger_verify'
LANGUAGE C STABLE;
COMMENT ON FUNCTION finsec.ledger_verify(regclass, bigint, bytea) IS
	'verify one chain, optionally from a checkpoint; finsec.audit_verify() is the interface';
REVOKE ALL ON FUNCTION finsec.ledger_verify(regclass, bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.ledger_verify(regclass, bigint, bytea) TO finsec_auditor;

CREATE FUNCTION finsec.audit_verify(
	rel regclass DEFAULT NULL,
	since jsonb DEFAULT NULL,
	OUT relation regclass,
	OUT ok boolean,
	OUT rows_checked bigint,
	OUT blocks_checked bigint,
	OUT rows_pending bigint,
	OUT first_failure text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT v.*
	  FROM finsec.ledger_chain c
	  LEFT JOIN LATERAL (
			SELECT (e->>'blocks')::bigint AS blocks, decode(e->>'head_hash', 'hex') AS head
			  FROM jsonb_array_elements(since->'chains') e
			 WHERE (e->>'chain_id')::uuid = c.chain_id) d ON true
	 CROSS JOIN LATERAL finsec.ledger_verify(c.relid, d.blocks, d.head) v
	 WHERE rel IS NULL OR c.relid = rel
	UNION ALL
	-- a chain the digest knows but the ledger lost
	SELECT to_regclass(e->>'relation'), false, 0, 0, 0,
		   format('chain %s of %s named by the digest is missing (deleted)',
				  e->>'chain_id', e->>'relation')
	  FROM jsonb_array_elements(coalesce(since->'chains', '[]')) e
	 WHERE NOT EXISTS (SELECT 1 FROM finsec.ledger_chain c
						WHERE c.chain_id = (e->>'chain_id')::uuid)
	   AND (rel IS NULL OR to_regclass(e->>'relation') = rel)
	ORDER BY 1
$$;
COMMENT ON FUNCTION finsec.audit_verify(regclass, jsonb) IS
	'verify protected tables against their hash chains, from the start or from an earlier digest';
REVOKE ALL ON FUNCTION finsec.audit_verify(regclass, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_verify(regclass, jsonb) TO finsec_auditor;

CREATE FUNCTION finsec.audit_digest()
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT jsonb_build_object(
		'format', 'finsec-digest-v1',
		'database', current_database(),
		'system_identifier', (SELECT system_identifier::text FROM pg_control_system()),
		'timeline', (SELECT timeline_id FROM pg_control_checkpoint()),
		'taken_at', now(),
		'chains', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
						'relation', c.relid::text,
						'chain_id', c.chain_id,
						'algorithm', c.algorithm,
						'blocks', c.blocks,
						'rows', c.sealed_rows,
						'end_txid', c.end_txid::text,
						'head_hash', encode(c.head_hash, 'hex'))
					ORDER BY c.relid::text)
			  FROM finsec.ledger_chain c), '[]'::jsonb))
$$;
COMMENT ON FUNCTION finsec.audit_digest() IS
	'compact digest of every chain head, to be stored outside the database';
REVOKE ALL ON FUNCTION finsec.audit_digest() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_digest() TO finsec_auditor;

/* Retention (U3). */
CREATE FUNCTION finsec.audit_purge(
	rel regclass,
	before date,
	OUT blocks_purged bigint,
	OUT rows_purged bigint)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_audit_purge'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.audit_purge(regclass, date) IS
	'remove whole sealed periods older than finsec.audit_retention, leaving a tombstone';
REVOKE ALL ON FUNCTION finsec.audit_purge(regclass, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.audit_purge(regclass, date) TO finsec_auditor;

/*
 * Second layer: event triggers.  While finsec is preloaded its utility hook
 * vets DDL on protected tables precisely (and these functions return at
 * once).  Should the server run without the preload, the hook is absent;
 * then these refuse every ALTER TABLE on a protected table, any change to
 * finsec's triggers, and any DROP that takes finsec's protection with it.
 * A superuser can disable event triggers; that, like editing catalogs, is
 * left to detection.  The guards run for every DDL statement of every
 * user, most of whom cannot see schema finsec: they are SECURITY DEFINER,
 * with search_path pinned, and only read catalogs.
 */
CREATE FUNCTION finsec.ledger_ddl_guard()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cmd record;
BEGIN
	IF finsec.preloaded() THEN
		RETURN;					-- the utility hook is in charge
	END IF;
	FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE NOT in_extension
	LOOP
		-- by trigger function, not name: a rename has already happened here
		IF (cmd.object_type = 'table'
			AND EXISTS (SELECT FROM pg_trigger
						 WHERE tgrelid = cmd.objid
						   AND tgfoid = 'finsec.ledger_immutable()'::regprocedure))
		   OR (cmd.object_type = 'trigger'
			   AND EXISTS (SELECT FROM pg_trigger
							WHERE oid = cmd.objid
							  AND tgfoid IN ('finsec.ledger_immutable()'::regprocedure,
											 'finsec.ledger_stamp()'::regprocedure)))
		THEN
			RAISE EXCEPTION 'cannot % on protected table while finsec is not preloaded', cmd.command_tag
				USING ERRCODE = 'S9U04',
					  DETAIL = format('%s is append-only, hash-chained audit evidence.', cmd.object_identity),
					  HINT = 'Add finsec to shared_preload_libraries and restart; see docs/audit.md.';
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION finsec.ledger_ddl_guard() FROM PUBLIC;

CREATE FUNCTION finsec.ledger_drop_guard()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	obj record;
BEGIN
	IF finsec.preloaded() THEN
		RETURN;
	END IF;
	FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects()
	LOOP
		IF obj.object_type = 'trigger' AND obj.object_identity LIKE 'finsec\_ledger\_immutable on %' THEN
			RAISE EXCEPTION 'cannot drop the protection of %',
					substr(obj.object_identity, length('finsec_ledger_immutable on ') + 1)
				USING ERRCODE = 'S9U04',
					  DETAIL = 'Protected tables are append-only, hash-chained audit evidence.',
					  HINT = 'Add finsec to shared_preload_libraries and restart; see docs/audit.md.';
		END IF;
	END LOOP;
END
$$;
REVOKE ALL ON FUNCTION finsec.ledger_drop_guard() FROM PUBLIC;

CREATE EVENT TRIGGER finsec_ledger_ddl_guard ON ddl_command_end
	EXECUTE FUNCTION finsec.ledger_ddl_guard();
CREATE EVENT TRIGGER finsec_ledger_drop_guard ON sql_drop
	EXECUTE FUNCTION finsec.ledger_drop_guard();

/*
 * finsec.status() becomes the union of one function per capability,
 * finsec.status_<capability>(), in creation order: each capability adds
 * its rows by adding its function (granted like status()), without
 * redefining status().
 */
CREATE FUNCTION finsec.status_foundation(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'library', true,
		   'finsec library ' || finsec.library_version()
	UNION ALL
	SELECT 'schema', e.extversion = finsec.library_version(),
		   CASE WHEN e.extversion = finsec.library_version()
				THEN 'schema version ' || e.extversion || ' matches the library'
				ELSE 'schema version ' || e.extversion || ' differs from library '
					 || finsec.library_version() || ': run ALTER EXTENSION finsec UPDATE'
		   END
	  FROM pg_extension e WHERE e.extname = 'finsec'
	UNION ALL
	SELECT 'shared_preload_libraries', finsec.preloaded(),
		   CASE WHEN finsec.preloaded()
				THEN 'preloaded: hooks and background workers are active'
				ELSE 'not preloaded: add finsec to shared_preload_libraries and restart; '
					 || 'hooks and background workers are unavailable'
		   END
	UNION ALL
	SELECT 'hash_algorithm', true,
		   'new integrity chains use ' || current_setting('finsec.hash_algorithm')
$$;
REVOKE ALL ON FUNCTION finsec.status_foundation() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_foundation()
	TO finsec_admin, finsec_auditor, finsec_operator;

CREATE FUNCTION finsec.status_audit(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'audit_sealer', s.listed,
		   CASE WHEN s.listed
				THEN 'a sealer seals this database every ' || current_setting('finsec.audit_seal_interval')
				ELSE 'no sealer for this database: add it to finsec.audit_seal_databases and restart, '
					 || 'or run finsec.audit_seal() on a schedule'
		   END
	  FROM (SELECT current_database() = ANY (string_to_array(
					   replace(coalesce(current_setting('finsec.audit_seal_databases', true), ''), ' ', ''), ',')) AS listed) s
	UNION ALL
	SELECT 'audit_capacity',
		   w.mb = 0 OR sz.mb < w.mb,
		   format('ledger uses %s MB; warning at %s, limit %s', sz.mb,
				  CASE WHEN w.mb = 0 THEN 'off' ELSE w.mb || ' MB' END,
				  CASE WHEN l.mb = 0 THEN 'none' ELSE l.mb || ' MB' END)
	  FROM (SELECT ((pg_total_relation_size('finsec.audit') + pg_total_relation_size('finsec.ledger_block'))
					/ (1024 * 1024))::bigint AS mb) sz,
		   (SELECT setting::bigint AS mb FROM pg_settings WHERE name = 'finsec.audit_capacity_warning') w,
		   (SELECT setting::bigint AS mb FROM pg_settings WHERE name = 'finsec.audit_capacity_limit') l
$$;
REVOKE ALL ON FUNCTION finsec.status_audit() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_audit()
	TO finsec_admin, finsec_auditor, finsec_operator;

CREATE OR REPLACE FUNCTION finsec.status(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.pronamespace = 'finsec'::regnamespace
				AND p.proname LIKE 'status\_%' AND p.pronargs = 0
			  ORDER BY p.oid
	LOOP
		RETURN QUERY EXECUTE format('SELECT * FROM %s', f);
	END LOOP;
END
$$;
