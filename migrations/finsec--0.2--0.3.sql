/* finsec 0.2 -> 0.3 */
\echo Use "ALTER EXTENSION finsec UPDATE TO '0.3'" to load this file. \quit

/* Credential policy for database roles (part 1).
 *
 * Requirements A1, A1b, A1c, A2 (docs/auth.md).  Password rules, expiry and
 * pre-hashed refusal are hooks of the preloaded library, configured by
 * finsec.password_* settings; this script adds their status.
 */

-- =====================================================================
-- Credential policy
-- =====================================================================

/*
 * Password history (finsec.password_reuse_history): salted PBKDF2-HMAC-SHA256
 * of each role's recent passwords, written by the statement that changes
 * the password, in its transaction.  Nobody reads it but finsec.
 */
CREATE SEQUENCE finsec.password_history_id_seq AS bigint;
CREATE TABLE finsec.password_history (
	id			bigint NOT NULL DEFAULT nextval('finsec.password_history_id_seq') PRIMARY KEY,
	rolname		name NOT NULL,
	changed_at	timestamptz NOT NULL DEFAULT now(),
	salt		bytea NOT NULL CHECK (length(salt) = 16),
	hash		bytea NOT NULL CHECK (length(hash) = 32)
);
ALTER SEQUENCE finsec.password_history_id_seq OWNED BY finsec.password_history.id;
CREATE INDEX password_history_role_idx ON finsec.password_history (rolname, changed_at);
COMMENT ON TABLE finsec.password_history IS
	'finsec: salted hashes of recent role passwords, for the reuse check (docs/auth.md)';
REVOKE ALL ON TABLE finsec.password_history FROM PUBLIC;
REVOKE ALL ON SEQUENCE finsec.password_history_id_seq FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('finsec.password_history', '');
SELECT pg_catalog.pg_extension_config_dump('finsec.password_history_id_seq', '');

/*
 * Personal data a role's password must not contain (A1b), kept only as
 * salted hashes of derived tokens; set by finsec_admin.
 */
CREATE TABLE finsec.role_profile (
	rolname			name PRIMARY KEY,
	salt			bytea NOT NULL CHECK (length(salt) = 16),
	token_lengths	smallint[] NOT NULL,
	token_hashes	bytea[] NOT NULL,
	updated_at		timestamptz NOT NULL DEFAULT now(),
	updated_by		name NOT NULL
);
COMMENT ON TABLE finsec.role_profile IS
	'finsec: salted hashes of personal-data tokens a role''s password must not contain (docs/auth.md)';
REVOKE ALL ON TABLE finsec.role_profile FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('finsec.role_profile', '');

CREATE FUNCTION finsec.set_role_profile(
	role name,
	birth_date date DEFAULT NULL,
	id_number text DEFAULT NULL,
	phone text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'finsec_set_role_profile'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.set_role_profile(name, date, text, text) IS
	'record the personal data a role''s password must not contain (stored as salted hashes only); all NULL removes it';
REVOKE ALL ON FUNCTION finsec.set_role_profile(name, date, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.set_role_profile(name, date, text, text) TO finsec_admin;

/* Login lockout (A3): lift a lock, see who is failing. */
CREATE FUNCTION finsec.unlock_role(role name)
RETURNS boolean
AS 'MODULE_PATHNAME', 'finsec_unlock_role'
LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION finsec.unlock_role(name) IS
	'lift the login lock of a role (and reset its failure count); audited; true if it was locked';
REVOKE ALL ON FUNCTION finsec.unlock_role(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.unlock_role(name) TO finsec_admin;

CREATE FUNCTION finsec.auth_state(
	OUT role name,
	OUT failures integer,
	OUT last_failure timestamptz,
	OUT last_address text,
	OUT locked_until timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'finsec_auth_state'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION finsec.auth_state() IS
	'roles with recent failed logins or a login lock';
REVOKE ALL ON FUNCTION finsec.auth_state() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.auth_state() TO finsec_admin, finsec_auditor, finsec_operator;

/*
 * Inventory of login roles (A4, A5): what the compliance check judges.
 * Reads pg_authid as the extension owner; never shows a password or hash.
 */
CREATE FUNCTION finsec.role_inventory(
	OUT role name,
	OUT superuser boolean,
	OUT createrole boolean,
	OUT createdb boolean,
	OUT replication boolean,
	OUT bypassrls boolean,
	OUT connection_limit integer,
	OUT has_password boolean,
	OUT password_changed_at timestamptz,
	OUT valid_until timestamptz,
	OUT password_expired boolean,
	OUT expiry_within_policy boolean,
	OUT recent_failures integer,
	OUT locked_until timestamptz,
	OUT finsec_duties name[],
	OUT member_of name[])
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.rolname, a.rolsuper, a.rolcreaterole, a.rolcreatedb, a.rolreplication,
		   a.rolbypassrls, a.rolconnlimit,
		   a.rolpassword IS NOT NULL,
		   (SELECT max(h.changed_at) FROM finsec.password_history h WHERE h.rolname = a.rolname),
		   a.rolvaliduntil,
		   a.rolvaliduntil IS NOT NULL AND a.rolvaliduntil < now(),
		   a.rolpassword IS NULL
			 OR coalesce(current_setting('finsec.password_max_age', true), '0') = '0'
			 OR (a.rolvaliduntil IS NOT NULL
				 AND a.rolvaliduntil <= now() + current_setting('finsec.password_max_age')::interval),
		   coalesce(s.failures, 0),
		   s.locked_until,
		   ARRAY(SELECT f.rolname FROM pg_authid f
				  WHERE f.rolname IN ('finsec_admin', 'finsec_auditor', 'finsec_operator',
									  'finsec_app', 'finsec_unmask')
					AND pg_has_role(a.oid, f.oid, 'MEMBER')
				  ORDER BY f.rolname),
		   ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_authid g ON g.oid = m.roleid
				  WHERE m.member = a.oid ORDER BY g.rolname)
	  FROM pg_authid a
	  LEFT JOIN (SELECT * FROM finsec.auth_state()) s ON s.role = a.rolname
	 WHERE a.rolcanlogin
	 ORDER BY a.rolname
$$;
COMMENT ON FUNCTION finsec.role_inventory() IS
	'login roles with privileges, password age and expiry, failures, locks and finsec duties (A4, A5)';
REVOKE ALL ON FUNCTION finsec.role_inventory() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.role_inventory() TO finsec_admin, finsec_auditor;

/*
 * Which login roles have a password, and when it expires, lives in
 * pg_authid, readable by superusers only; this function reads it as the
 * extension owner and reveals names and counts, never a password hash.
 */
CREATE FUNCTION finsec.status_auth(
	OUT component text,
	OUT ok boolean,
	OUT detail text)
RETURNS SETOF record
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT 'password_policy', finsec.preloaded(),
		   CASE WHEN NOT finsec.preloaded()
				THEN 'not enforced: password rules need finsec in shared_preload_libraries'
				ELSE format('at least %s characters of %s classes; expiry within %s (%s without VALID UNTIL); pre-hashed %s',
							current_setting('finsec.password_min_length'),
							current_setting('finsec.password_min_classes'),
							current_setting('finsec.password_max_age'),
							current_setting('finsec.password_valid_until'),
							CASE current_setting('finsec.password_allow_prehashed')
								 WHEN 'on' THEN 'allowed' ELSE 'refused' END)
		   END
	UNION ALL
	SELECT 'password_history',
		   h.setting = '0' OR d.setting IN ('', current_database()),
		   CASE WHEN h.setting = '0' THEN 'password reuse is not checked (finsec.password_reuse_history = 0)'
				WHEN d.setting = '' THEN 'the last ' || h.setting || ' passwords of each role are kept in this database'
				WHEN d.setting = current_database() THEN 'this database keeps the password history of every role'
				ELSE 'passwords are changed in database ' || quote_ident(d.setting) || ', not here'
		   END
	  FROM (SELECT coalesce(current_setting('finsec.password_reuse_history', true), '0') AS setting) h,
		   (SELECT coalesce(current_setting('finsec.password_history_database', true), '') AS setting) d
	UNION ALL
	SELECT 'login_lockout',
		   finsec.preloaded() AND coalesce(current_setting('finsec.max_auth_failures', true), '0') <> '0',
		   CASE WHEN NOT finsec.preloaded() THEN 'not enforced: lockout needs finsec in shared_preload_libraries'
				WHEN current_setting('finsec.max_auth_failures') = '0' THEN 'off (finsec.max_auth_failures = 0)'
				ELSE format('a role is locked for %s after %s failed logins within %s',
							current_setting('finsec.lockout_duration'),
							current_setting('finsec.max_auth_failures'),
							current_setting('finsec.auth_failure_window'))
					 || coalesce('; locked now: ' || (SELECT string_agg(quote_ident(role), ', ' ORDER BY role)
														 FROM finsec.auth_state() WHERE locked_until IS NOT NULL), '')
		   END
	UNION ALL
	-- login roles whose password never expires or expires later than allowed
	SELECT 'password_expiry', count(*) = 0,
		   CASE WHEN count(*) = 0 THEN 'every login role with a password expires in time'
				ELSE count(*) || ' login role(s) with a password that does not expire within finsec.password_max_age: '
					 || string_agg(quote_ident(rolname), ', ' ORDER BY rolname)
		   END
	  FROM pg_authid
	 WHERE rolcanlogin AND rolpassword IS NOT NULL
	   AND current_setting('finsec.password_max_age', true) IS NOT NULL
	   AND current_setting('finsec.password_max_age') <> '0'
	   AND (rolvaliduntil IS NULL
			OR rolvaliduntil > now() + current_setting('finsec.password_max_age')::interval)
$$;
REVOKE ALL ON FUNCTION finsec.status_auth() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION finsec.status_auth()
	TO finsec_admin, finsec_auditor, finsec_operator;
