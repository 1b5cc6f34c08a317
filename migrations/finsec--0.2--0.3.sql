/* finsec--0.2--0.3.sql -- credential policy for database roles (part 1).
 *
 * Requirements A1, A1b, A1c, A2 (docs/auth.md).  Password rules, expiry and
 * pre-hashed refusal are hooks of the preloaded library, configured by
 * finsec.password_* settings; this script adds their status.
 */

\echo Use "ALTER EXTENSION finsec UPDATE TO '0.3'" to load this file. \quit

-- =====================================================================
-- Credential policy
-- =====================================================================

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
