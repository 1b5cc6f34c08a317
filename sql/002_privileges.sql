--
-- 002_privileges: deny by default.  Nothing in schema finsec is usable by
-- PUBLIC; each finsec role gets exactly its duty (docs/security-model.md).
--

-- No object in schema finsec grants anything to PUBLIC.  A NULL ACL means the
-- built-in default, which for functions and types includes PUBLIC, so it
-- counts as a grant here.  Every later capability is held to this.
CREATE TEMP VIEW public_grants AS
WITH objs AS (
	SELECT 'schema' AS kind, nspname::text AS name,
	       coalesce(nspacl, acldefault('n', nspowner)) AS acl
	  FROM pg_namespace WHERE nspname = 'finsec'
	UNION ALL
	SELECT 'function', p.oid::regprocedure::text,
	       coalesce(proacl, acldefault('f', proowner))
	  FROM pg_proc p WHERE pronamespace = 'finsec'::regnamespace
	UNION ALL
	SELECT 'relation', c.oid::regclass::text,
	       coalesce(relacl, acldefault(CASE WHEN relkind = 'S' THEN 's'::"char" ELSE 'r'::"char" END, relowner))
	  FROM pg_class c WHERE relnamespace = 'finsec'::regnamespace
	UNION ALL
	SELECT 'type', t.oid::regtype::text,
	       coalesce(typacl, acldefault('T', typowner))
	  FROM pg_type t WHERE typnamespace = 'finsec'::regnamespace
	   AND NOT (t.typtype = 'c' OR t.typelem <> 0 AND t.typlen = -1 AND t.typcategory = 'A')
)
SELECT kind, name, a.privilege_type
  FROM objs, aclexplode(acl) a
 WHERE a.grantee = 0;
SELECT * FROM public_grants ORDER BY 1, 2, 3;

-- The check above sees what it must: a grant to PUBLIC shows up.  (No new
-- object can be created in schema finsec outside its scripts, so the probe
-- grants on two of finsec's own objects, and revokes again.)
GRANT EXECUTE ON FUNCTION finsec.is_valid_bank_card(text) TO PUBLIC;
GRANT SELECT ON finsec.audit TO PUBLIC;
SELECT * FROM public_grants ORDER BY 1, 2, 3;
REVOKE EXECUTE ON FUNCTION finsec.is_valid_bank_card(text) FROM PUBLIC;
REVOKE SELECT ON finsec.audit FROM PUBLIC;
SELECT count(*) AS public_grants_left FROM public_grants;

-- Who may call what: the privilege matrix, as docs/security-model.md states it.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('finsec_admin', p.oid, 'EXECUTE')    AS admin,
       has_function_privilege('finsec_auditor', p.oid, 'EXECUTE')  AS auditor,
       has_function_privilege('finsec_operator', p.oid, 'EXECUTE') AS operator,
       has_function_privilege('finsec_app', p.oid, 'EXECUTE')      AS app,
       has_function_privilege('finsec_unmask', p.oid, 'EXECUTE')   AS unmask
  FROM pg_proc p WHERE pronamespace = 'finsec'::regnamespace
 ORDER BY p.oid::regprocedure::text;
SELECT r.rolname, has_schema_privilege(r.oid, 'finsec', 'USAGE') AS usage,
       has_schema_privilege(r.oid, 'finsec', 'CREATE') AS "create"
  FROM pg_roles r WHERE r.rolname LIKE 'finsec\_%' ORDER BY 1;

-- A role outside finsec's roles can neither see nor call anything.
CREATE ROLE regress_outsider LOGIN;
SET ROLE regress_outsider;
SELECT finsec.preloaded();
SELECT * FROM finsec.status();
SELECT finsec.library_version();
-- ...nor create objects in the schema to shadow finsec's.
CREATE TABLE finsec.shadow (i int);
RESET ROLE;
-- finsec stays out of the way of everyone else's DDL (its event triggers
-- run for every statement).
CREATE SCHEMA regress_outsider_s AUTHORIZATION regress_outsider;
SET ROLE regress_outsider;
CREATE TABLE regress_outsider_s.t (i int);
ALTER TABLE regress_outsider_s.t ADD COLUMN j int;
CREATE INDEX ON regress_outsider_s.t (j);
DROP TABLE regress_outsider_s.t;
RESET ROLE;
DROP SCHEMA regress_outsider_s;

-- Membership grants the role's duty, and only that: the application role
-- may ask whether finsec is preloaded but not read its status.
CREATE ROLE regress_app LOGIN IN ROLE finsec_app;
SET ROLE regress_app;
SELECT finsec.preloaded();
SELECT * FROM finsec.status();
RESET ROLE;
CREATE ROLE regress_auditor LOGIN IN ROLE finsec_auditor;
SET ROLE regress_auditor;
SELECT component, ok FROM finsec.status() ORDER BY component;
RESET ROLE;

DROP ROLE regress_outsider, regress_app, regress_auditor;
