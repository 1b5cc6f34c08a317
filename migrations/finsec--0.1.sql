/* finsec 0.1 */
\echo Use "CREATE EXTENSION finsec" to load this file. \quit

/* The base install script.
 *
 * Layout: one section per capability, each object followed by its
 * REVOKE ... FROM PUBLIC and GRANT ... TO finsec_* lines.  Nothing in schema
 * finsec is granted to PUBLIC (test: sql/002_privileges.sql).
 */

-- =====================================================================
-- Foundation: schema, roles, preload status
-- =====================================================================

/*
 * CREATE EXTENSION reuses an existing schema finsec.  One created by anyone
 * but a superuser would let its owner drop or replace finsec's objects, so
 * refuse it (the same concern as CVE-2022-2625).
 */
DO $schema$
DECLARE
	owner name;
BEGIN
	SELECT r.rolname INTO owner
	  FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
	 WHERE n.nspname = 'finsec' AND NOT r.rolsuper;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "finsec" is owned by role "%", which is not a superuser', owner
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'The owner of schema finsec could alter or replace every finsec object.',
				  HINT = 'Drop or rename that schema (or ALTER SCHEMA finsec OWNER TO a superuser) and retry.';
	END IF;
END
$schema$;

REVOKE ALL ON SCHEMA finsec FROM PUBLIC;
COMMENT ON SCHEMA finsec IS 'finsec: financial security controls (see docs/README.md)';

/*
 * Roles for separation of duties (requirements A6, A7).  Roles are cluster
 * wide: the first database to install finsec creates them, later ones reuse
 * them.  A pre-existing role of the same name is reused only if it is an
 * ordinary NOLOGIN group role: a role that can log in or carries SUPERUSER,
 * CREATEROLE, REPLICATION or BYPASSRLS would hand finsec's privileges to
 * whoever controls it, so the install refuses.
 *
 * Two databases may install concurrently: the loser of the race on
 * pg_authid's unique index waits for the winner, then reuses its role.
 */
DO $roles$
DECLARE
	r record;
	bad text;
BEGIN
	FOR r IN SELECT * FROM (VALUES
		('finsec_admin',    'finsec: manages policies, limits and keys; cannot read the audit ledger'),
		('finsec_auditor',  'finsec: reads the audit ledger and compliance reports; changes nothing'),
		('finsec_operator', 'finsec: reviews monitoring alerts and works cases'),
		('finsec_app',      'finsec: the application; calls finsec functions and writes business rows'),
		('finsec_unmask',   'finsec: may reveal protected data; every reveal is audited')
	) AS v(name, description)
	LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.name) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN', r.name);
				EXECUTE format('COMMENT ON ROLE %I IS %L', r.name, r.description);
			EXCEPTION WHEN unique_violation OR duplicate_object THEN
				NULL;			-- created meanwhile by a concurrent install
			END;
		END IF;

		SELECT concat_ws(', ',
						 CASE WHEN rolcanlogin THEN 'LOGIN' END,
						 CASE WHEN rolsuper THEN 'SUPERUSER' END,
						 CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
						 CASE WHEN rolcreatedb THEN 'CREATEDB' END,
						 CASE WHEN rolreplication THEN 'REPLICATION' END,
						 CASE WHEN rolbypassrls THEN 'BYPASSRLS' END)
		  INTO bad
		  FROM pg_catalog.pg_roles WHERE rolname = r.name;
		IF bad <> '' THEN
			RAISE EXCEPTION 'role "%" already exists with attributes finsec cannot accept', r.name
				USING ERRCODE = 'object_not_in_prerequisite_state',
					  DETAIL = format('The role has %s; finsec roles must be NOLOGIN group roles without special attributes.', bad),
					  HINT = format('Remove those attributes (ALTER ROLE %I NOLOGIN ...) or drop the role, then retry.', r.name);
		END IF;
	END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA finsec
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app, finsec_unmask;

CREATE FUNCTION finsec.preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_preloaded_sql'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION finsec.preloaded() IS
	'true when finsec is in shared_preload_libraries, so its hooks and workers are active';
REVOKE ALL ON FUNCTION finsec.preloaded() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.preloaded()
	TO finsec_admin, finsec_auditor, finsec_operator, finsec_app;

CREATE FUNCTION finsec.library_version()
RETURNS text
AS 'MODULE_PATHNAME', 'finsec_library_version'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION finsec.library_version() IS
	'version of the loaded finsec shared library';
REVOKE ALL ON FUNCTION finsec.library_version() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.library_version()
	TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * finsec.status(): one row per component, with whether it is in the state
 * finsec needs and what to do if not.  Later capabilities add rows.
 */
CREATE FUNCTION finsec.status(
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
COMMENT ON FUNCTION finsec.status() IS
	'state of each finsec component, with what to do when one is not ok';
REVOKE ALL ON FUNCTION finsec.status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status()
	TO finsec_admin, finsec_auditor, finsec_operator;

/* Installing without the preload works, but must not pass unnoticed. */
DO $preload$
BEGIN
	IF NOT finsec.preloaded() THEN
		RAISE WARNING 'finsec is not loaded through shared_preload_libraries'
			USING DETAIL = 'Types and functions work; hooks, audit protection and background workers refuse to run until it is.',
				  HINT = 'Add finsec to shared_preload_libraries in postgresql.conf and restart the server.';
	END IF;
END
$preload$;
