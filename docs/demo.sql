-- finsec demo: what finsec does so far.  scripts/demo runs this file against
-- a throwaway cluster with finsec preloaded; errors shown here are expected.
\pset footer off

-- Installing finsec creates schema finsec and five group roles.
CREATE EXTENSION finsec;

-- Is everything in place?  One row per component.
SELECT * FROM finsec.status();

-- The separation-of-duties roles (requirement A6).
SELECT rolname, shobj_description(oid, 'pg_authid') AS duty
  FROM pg_roles WHERE rolname LIKE 'finsec\_%' ORDER BY rolname;

-- Every finsec setting, with who may change it and when.
SELECT name, setting, context, short_desc
  FROM pg_settings WHERE name LIKE 'finsec.%' ORDER BY name;

-- Deny by default: a role outside finsec's roles cannot even see the schema.
CREATE ROLE demo_clerk LOGIN;
SET ROLE demo_clerk;
SELECT * FROM finsec.status();
RESET ROLE;

-- Membership in a finsec role grants exactly that role's duty.
GRANT finsec_auditor TO demo_clerk;
SET ROLE demo_clerk;
SELECT component, ok FROM finsec.status();
RESET ROLE;
