--
-- 001_install: CREATE EXTENSION, the finsec roles, and what install refuses.
--
-- This cluster has finsec in shared_preload_libraries, so installing emits
-- no preload warning (the non-preloaded case is test/t/001_preload.pl).
CREATE EXTENSION finsec;

-- Every component reports its state.  This test cluster runs no sealer
-- (sealing stays under the tests' control), so audit_sealer is not ok.
SELECT component, ok FROM finsec.status() ORDER BY component;
SELECT finsec.preloaded(), finsec.library_version() = extversion AS versions_match
  FROM pg_extension WHERE extname = 'finsec';

-- Schema finsec belongs to the extension's owner and cannot be relocated.
SELECT extname, extnamespace::regnamespace, extrelocatable FROM pg_extension WHERE extname = 'finsec';
ALTER EXTENSION finsec SET SCHEMA public;

-- The five roles exist as plain NOLOGIN group roles, members of nothing and
-- with no members.
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolreplication,
       rolbypassrls, rolinherit
  FROM pg_roles WHERE rolname LIKE 'finsec\_%' ORDER BY rolname;
SELECT count(*) AS memberships
  FROM pg_auth_members m JOIN pg_roles r ON r.oid IN (m.roleid, m.member)
 WHERE r.rolname LIKE 'finsec\_%';

-- Reinstalling reuses the roles (as a second database would).
DROP EXTENSION finsec;
SELECT count(*) AS roles_kept FROM pg_roles WHERE rolname LIKE 'finsec\_%';
CREATE EXTENSION finsec;

-- A pre-existing role of the same name that can log in, or carries a
-- privileged attribute, is refused: whoever controls it would inherit
-- finsec's grants.  The failed install leaves nothing behind.
DROP EXTENSION finsec;
ALTER ROLE finsec_unmask LOGIN;
CREATE EXTENSION finsec;
SELECT (SELECT count(*) FROM pg_extension WHERE extname = 'finsec') AS extension,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'finsec'::regnamespace) AS functions;
ALTER ROLE finsec_unmask NOLOGIN BYPASSRLS;
CREATE EXTENSION finsec;
ALTER ROLE finsec_unmask NOBYPASSRLS;
CREATE EXTENSION finsec;

-- DROP EXTENSION leaves schema finsec behind (PostgreSQL does not drop a
-- schema the control file named); reinstalling reuses it.  A schema finsec
-- owned by a non-superuser is refused: its owner could replace finsec's
-- objects.
DROP EXTENSION finsec;
SELECT nspname, nspowner::regrole FROM pg_namespace WHERE nspname = 'finsec';
DROP SCHEMA finsec;
CREATE ROLE regress_squatter;
CREATE SCHEMA finsec AUTHORIZATION regress_squatter;
CREATE EXTENSION finsec;
DROP SCHEMA finsec;
DROP ROLE regress_squatter;
CREATE EXTENSION finsec;

-- finsec cannot be installed twice, nor into another schema.
CREATE EXTENSION finsec;
CREATE EXTENSION IF NOT EXISTS finsec;
DROP EXTENSION finsec;
CREATE EXTENSION finsec SCHEMA public;
CREATE EXTENSION finsec;
