--
-- 004_schema: the current schema of finsec, in one place.
--
-- The upgrade scripts are history (status_keyring is redefined in the
-- cards script, status_limit_refusals in the risk script, keyring's foreign
-- key is dropped in the cards script); this output is the present: every
-- member object of the extension (pg_depend, deptype 'e') with its current
-- definition, so that every schema change shows in review as a diff of
-- expected/004_schema.out.  Regenerate it from a real install when the
-- schema changes on purpose, and read the diff.
--
-- Owner-independent: ACLs name the extension's owner "owner" and list
-- privileges per grantee (aclexplode), so the file does not depend on the
-- superuser that runs the tests.  Everything is ordered by C collation.
--
SET client_min_messages = warning;
\a
\t on

CREATE FUNCTION pg_temp.acl(a aclitem[], kind "char", owner oid) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(string_agg(g || '=' || p, ' ' ORDER BY g COLLATE "C"), '(none)')
	  FROM (SELECT CASE WHEN x.grantee = 0 THEN 'public'
	                    WHEN x.grantee = owner THEN 'owner'
	                    ELSE x.grantee::regrole::text END AS g,
	               string_agg(x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END,
	                          ',' ORDER BY x.privilege_type COLLATE "C") AS p
	          FROM aclexplode(coalesce(a, acldefault(kind, owner))) x
	         GROUP BY 1) s
$$;

CREATE TEMP VIEW member AS
SELECT d.classid, d.objid, d.objsubid
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'finsec' AND d.deptype = 'e';

-- ---------------------------------------------------------------------
-- Versions.  Rule (docs/development.md, "Versions"): MAJOR.MINOR with a
-- single-digit minor (the next after 0.9 is 1.0), so that lexical order of
-- the script names is version order.  Every available version matches the
-- rule, lexical and numeric order agree, each version updates directly to
-- the next, and default_version is the newest.
-- ---------------------------------------------------------------------
SELECT 'installed version ' || extversion FROM pg_extension WHERE extname = 'finsec';
SELECT 'version not MAJOR.MINOR with a single-digit minor: ' || version
  FROM pg_available_extension_versions
 WHERE name = 'finsec' AND version !~ '^[0-9]+\.[0-9]$';
WITH v AS (
	SELECT version,
	       row_number() OVER (ORDER BY version COLLATE "C") AS lexical,
	       row_number() OVER (ORDER BY string_to_array(version, '.')::int[]) AS numeric
	  FROM pg_available_extension_versions WHERE name = 'finsec'
)
SELECT 'versions ' || string_agg(version, ' ' ORDER BY lexical)
       || CASE WHEN bool_and(lexical = numeric) THEN ': lexical order is version order'
               ELSE ': LEXICAL ORDER IS NOT VERSION ORDER' END
  FROM v;
WITH v AS (
	SELECT version, lead(version) OVER (ORDER BY string_to_array(version, '.')::int[]) AS next
	  FROM pg_available_extension_versions WHERE name = 'finsec'
)
SELECT 'no script finsec--' || v.version || '--' || v.next || '.sql'
  FROM v
 WHERE v.next IS NOT NULL
   AND NOT EXISTS (SELECT FROM pg_extension_update_paths('finsec') p
                    WHERE p.source = v.version AND p.target = v.next
                      AND p.path = v.version || '--' || v.next);
SELECT 'default_version ' || default_version
       || CASE WHEN string_to_array(default_version, '.')::int[] =
                    (SELECT max(string_to_array(version, '.')::int[])
                       FROM pg_available_extension_versions WHERE name = 'finsec')
               THEN ' is the newest' ELSE ' IS NOT THE NEWEST' END
  FROM pg_available_extensions WHERE name = 'finsec';

-- ---------------------------------------------------------------------
-- Members per catalog and kind.  A member of a catalog that no section
-- below describes is listed here as "undescribed", so nothing is missed.
-- ---------------------------------------------------------------------
SELECT 'members ' || classid::regclass::text || coalesce(' ' || kind, '') || ': ' || count(*)
  FROM (SELECT m.classid,
               CASE m.classid
                    WHEN 'pg_class'::regclass THEN (SELECT 'relkind=' || relkind::text FROM pg_class WHERE oid = m.objid)
                    WHEN 'pg_proc'::regclass THEN (SELECT 'prokind=' || prokind::text FROM pg_proc WHERE oid = m.objid)
                    WHEN 'pg_type'::regclass THEN (SELECT 'typtype=' || typtype::text FROM pg_type WHERE oid = m.objid)
               END AS kind
          FROM member m) s
 GROUP BY classid, kind
 ORDER BY classid::regclass::text COLLATE "C", kind COLLATE "C";
SELECT 'members in all: ' || count(*) FROM member;
SELECT line FROM (
SELECT 'undescribed ' || pg_describe_object(classid, objid, objsubid) AS line
  FROM member
 WHERE classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass,
                       'pg_operator'::regclass, 'pg_cast'::regclass, 'pg_opclass'::regclass,
                       'pg_opfamily'::regclass, 'pg_event_trigger'::regclass,
                       'pg_namespace'::regclass)
    OR (classid = 'pg_class'::regclass
        AND (SELECT relkind FROM pg_class WHERE oid = objid) NOT IN ('r', 'p', 'v', 'S'))
) u
 ORDER BY line COLLATE "C";

-- ---------------------------------------------------------------------
-- Schema and roles: the schema's ACL, the finsec roles' attributes and
-- memberships.  Grants of objects to the roles are in each object's acl.
-- ---------------------------------------------------------------------
SELECT 'schema ' || n.nspname || ' owner-is-superuser=' || r.rolsuper
       || ' acl: ' || pg_temp.acl(n.nspacl, 'n', n.nspowner)
       || coalesce(E'\n  comment: ' || obj_description(n.oid, 'pg_namespace'), '')
  FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner
 WHERE n.nspname = 'finsec'
    OR n.oid IN (SELECT objid FROM member WHERE classid = 'pg_namespace'::regclass)
 ORDER BY n.nspname COLLATE "C";
SELECT 'role ' || rolname || ' login=' || rolcanlogin || ' super=' || rolsuper
       || ' createrole=' || rolcreaterole || ' createdb=' || rolcreatedb
       || ' replication=' || rolreplication || ' bypassrls=' || rolbypassrls
       || ' inherit=' || rolinherit
       || ' member-of=' || coalesce((SELECT string_agg(m.roleid::regrole::text, ',' ORDER BY m.roleid::regrole::text COLLATE "C")
                                       FROM pg_auth_members m WHERE m.member = r.oid), '(none)')
       || ' members=' || coalesce((SELECT string_agg(m.member::regrole::text, ',' ORDER BY m.member::regrole::text COLLATE "C")
                                     FROM pg_auth_members m WHERE m.roleid = r.oid), '(none)')
  FROM pg_roles r
 WHERE rolname LIKE 'finsec\_%'
 ORDER BY rolname COLLATE "C";

-- Default privileges in schema finsec or of the finsec roles, and settings
-- attached to the roles (none expected: a row here is a grant that no
-- object's ACL shows yet).
SELECT line FROM (
SELECT 'default privileges for ' || d.defaclrole::regrole::text
       || coalesce(' in schema ' || nullif(d.defaclnamespace, 0)::regnamespace::text, '')
       || ' on ' || d.defaclobjtype::text || ': ' || d.defaclacl::text AS line
  FROM pg_default_acl d
 WHERE d.defaclnamespace = 'finsec'::regnamespace
    OR d.defaclrole::regrole::text LIKE 'finsec\_%'
) a
 ORDER BY line COLLATE "C";
SELECT 'role setting ' || r.rolname || ': ' || array_to_string(s.setconfig, ', ')
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
 WHERE r.rolname LIKE 'finsec\_%'
 ORDER BY r.rolname COLLATE "C";

-- ---------------------------------------------------------------------
-- Types: base types with their support functions, enums with their labels,
-- composites with their attributes, domains with their constraints.
-- ---------------------------------------------------------------------
SELECT 'type ' || t.oid::regtype::text || ' typtype=' || t.typtype::text
       || ' len=' || t.typlen || ' byval=' || t.typbyval || ' align=' || t.typalign::text
       || ' storage=' || t.typstorage::text || ' category=' || t.typcategory::text
       || ' preferred=' || t.typispreferred || ' collatable=' || (t.typcollation <> 0)
       || ' acl: ' || pg_temp.acl(t.typacl, 'T', t.typowner)
       || CASE WHEN t.typtype = 'b' THEN
              E'\n  input=' || t.typinput::regproc::text || ' output=' || t.typoutput::regproc::text
              || ' receive=' || t.typreceive::regproc::text || ' send=' || t.typsend::regproc::text
              || ' typmod_in=' || t.typmodin::regproc::text || ' typmod_out=' || t.typmodout::regproc::text
              || ' analyze=' || t.typanalyze::regproc::text
              || ' subscript=' || t.typsubscript::regproc::text
          ELSE '' END
       || CASE WHEN t.typtype = 'e' THEN
              E'\n  labels: ' || (SELECT string_agg(quote_literal(enumlabel), ', ' ORDER BY enumsortorder)
                                  FROM pg_enum WHERE enumtypid = t.oid)
          ELSE '' END
       || CASE WHEN t.typtype = 'c' THEN
              (SELECT string_agg(E'\n  attribute ' || quote_ident(a.attname) || ' '
                                 || format_type(a.atttypid, a.atttypmod), '' ORDER BY a.attnum)
                 FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
          ELSE '' END
       || CASE WHEN t.typtype = 'd' THEN
              E'\n  base ' || format_type(t.typbasetype, t.typtypmod)
              || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
              || coalesce(' default ' || t.typdefault, '')
              || coalesce((SELECT string_agg(E'\n  constraint ' || quote_ident(c.conname) || ' '
                                             || pg_get_constraintdef(c.oid), '' ORDER BY c.conname COLLATE "C")
                             FROM pg_constraint c WHERE c.contypid = t.oid), '')
          ELSE '' END
       || coalesce(E'\n  comment: ' || obj_description(t.oid, 'pg_type'), '')
  FROM pg_type t JOIN member m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
 ORDER BY t.oid::regtype::text COLLATE "C";

-- ---------------------------------------------------------------------
-- Tables: columns (types, defaults, not null, collation, column ACLs),
-- constraints, indexes, triggers, row-level security and its policies,
-- reloptions, ACL, and whether pg_dump dumps their rows.
-- ---------------------------------------------------------------------
SELECT 'table ' || c.oid::regclass::text || ' relkind=' || c.relkind::text
       || ' persistence=' || c.relpersistence::text
       || ' rls=' || c.relrowsecurity || ' force-rls=' || c.relforcerowsecurity
       || ' options=' || coalesce(c.reloptions::text, '(none)')
       || ' dumped=' || coalesce((SELECT 'where ' || quote_literal(coalesce(u.cond, ''))
                                    FROM pg_extension e, unnest(e.extconfig, e.extcondition) u(cfg, cond)
                                   WHERE e.extname = 'finsec' AND u.cfg = c.oid), 'no')
       || E'\n  acl: ' || pg_temp.acl(c.relacl, 'r', c.relowner)
       || coalesce(E'\n  comment: ' || obj_description(c.oid, 'pg_class'), '')
       || coalesce((SELECT string_agg(E'\n  column ' || quote_ident(a.attname) || ' '
                                      || format_type(a.atttypid, a.atttypmod)
                                      || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                      || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
                                      || CASE a.attidentity WHEN 'a' THEN ' identity always'
                                                            WHEN 'd' THEN ' identity by default' ELSE '' END
                                      || CASE WHEN a.attgenerated = 's' THEN ' generated stored' ELSE '' END
                                      || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
                                              THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
                                      || CASE WHEN a.attacl IS NOT NULL THEN ' acl: ' || pg_temp.acl(a.attacl, 'c', c.relowner) ELSE '' END
                                      || coalesce(' -- ' || col_description(a.attrelid, a.attnum), ''),
                                      '' ORDER BY a.attnum)
                      FROM pg_attribute a
                      JOIN pg_type t ON t.oid = a.atttypid
                      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
       || coalesce((SELECT string_agg(E'\n  constraint ' || quote_ident(k.conname) || ' '
                                      || pg_get_constraintdef(k.oid), '' ORDER BY k.conname COLLATE "C")
                      FROM pg_constraint k WHERE k.conrelid = c.oid), '')
       || coalesce((SELECT string_agg(E'\n  index ' || pg_get_indexdef(i.indexrelid), ''
                                      ORDER BY i.indexrelid::regclass::text COLLATE "C")
                      FROM pg_index i WHERE i.indrelid = c.oid), '')
       || coalesce((SELECT string_agg(E'\n  trigger ' || pg_get_triggerdef(g.oid)
                                      || CASE WHEN g.tgenabled <> 'O' THEN ' -- enabled=' || g.tgenabled::text ELSE '' END,
                                      '' ORDER BY g.tgname COLLATE "C")
                      FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal), '')
       || coalesce((SELECT string_agg(E'\n  policy ' || quote_ident(p.polname)
                                      || CASE WHEN p.polpermissive THEN '' ELSE ' restrictive' END
                                      || ' for ' || CASE p.polcmd WHEN 'r' THEN 'select' WHEN 'a' THEN 'insert'
                                                                  WHEN 'w' THEN 'update' WHEN 'd' THEN 'delete'
                                                                  ELSE 'all' END
                                      || ' to ' || (SELECT string_agg(g, ',' ORDER BY g COLLATE "C")
                                                      FROM (SELECT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END AS g
                                                              FROM unnest(p.polroles) r) pr)
                                      || coalesce(' using (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')
                                      || coalesce(' with check (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', ''),
                                      '' ORDER BY p.polname COLLATE "C")
                      FROM pg_policy p WHERE p.polrelid = c.oid), '')
  FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
 WHERE c.relkind IN ('r', 'p')
 ORDER BY c.oid::regclass::text COLLATE "C";

-- ---------------------------------------------------------------------
-- Views: their query, options and ACL.
-- ---------------------------------------------------------------------
SELECT 'view ' || c.oid::regclass::text
       || ' options=' || coalesce(c.reloptions::text, '(none)')
       || E'\n  acl: ' || pg_temp.acl(c.relacl, 'r', c.relowner)
       || coalesce(E'\n  comment: ' || obj_description(c.oid, 'pg_class'), '')
       || E'\n' || pg_get_viewdef(c.oid, true)
  FROM pg_class c JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
 WHERE c.relkind = 'v'
 ORDER BY c.oid::regclass::text COLLATE "C";

-- ---------------------------------------------------------------------
-- Sequences: parameters, owning column, ACL.
-- ---------------------------------------------------------------------
SELECT 'sequence ' || c.oid::regclass::text || ' as ' || format_type(s.seqtypid, NULL)
       || ' start ' || s.seqstart || ' increment ' || s.seqincrement
       || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache
       || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END
       || coalesce(' owned by ' || (SELECT d.refobjid::regclass::text || '.' || quote_ident(a.attname)
                                      FROM pg_depend d
                                      JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                                     WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                                     LIMIT 1), '')
       || E'\n  acl: ' || pg_temp.acl(c.relacl, 's', c.relowner)
  FROM pg_class c
  JOIN member m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
  JOIN pg_sequence s ON s.seqrelid = c.oid
 ORDER BY c.oid::regclass::text COLLATE "C";

-- ---------------------------------------------------------------------
-- Functions and procedures: pg_get_functiondef, ACL and comment;
-- aggregates (which pg_get_functiondef does not describe) by their
-- pg_aggregate row.  Ordered by signature.
-- ---------------------------------------------------------------------
SELECT 'function ' || p.pronamespace::regnamespace::text || '.' || quote_ident(p.proname)
       || '(' || pg_get_function_identity_arguments(p.oid) || ')'
       || CASE p.prokind WHEN 'p' THEN ' procedure' WHEN 'a' THEN ' aggregate' WHEN 'w' THEN ' window' ELSE '' END
       || E'\n  acl: ' || pg_temp.acl(p.proacl, 'f', p.proowner)
       || coalesce(E'\n  comment: ' || obj_description(p.oid, 'pg_proc'), '')
       || E'\n'
       || CASE WHEN p.prokind = 'a' THEN
              (SELECT 'aggregate returns ' || format_type(p.prorettype, NULL)
                      || ' kind=' || g.aggkind::text || ' parallel=' || p.proparallel::text
                      || E'\n  sfunc=' || g.aggtransfn::regproc::text || ' stype=' || format_type(g.aggtranstype, NULL)
                      || coalesce(' initcond=' || quote_literal(g.agginitval), '')
                      || ' finalfunc=' || g.aggfinalfn::regproc::text
                      || ' finalfunc_extra=' || g.aggfinalextra || ' finalfunc_modify=' || g.aggfinalmodify::text
                      || E'\n  combinefunc=' || g.aggcombinefn::regproc::text
                      || ' serialfunc=' || g.aggserialfn::regproc::text
                      || ' deserialfunc=' || g.aggdeserialfn::regproc::text
                      || ' msfunc=' || g.aggmtransfn::regproc::text
                      || ' sortop=' || g.aggsortop::regoperator::text
                 FROM pg_aggregate g WHERE g.aggfnoid = p.oid)
          ELSE pg_get_functiondef(p.oid) END
  FROM pg_proc p JOIN member m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
 ORDER BY p.proname COLLATE "C", pg_get_function_identity_arguments(p.oid) COLLATE "C";

-- ---------------------------------------------------------------------
-- Operators, operator families and classes, casts, event triggers.
-- ---------------------------------------------------------------------
SELECT 'operator ' || o.oid::regoperator::text || ' returns ' || format_type(o.oprresult, NULL)
       || ' function=' || o.oprcode::regproc::text
       || ' commutator=' || o.oprcom::regoperator::text || ' negator=' || o.oprnegate::regoperator::text
       || ' restrict=' || o.oprrest::regproc::text || ' join=' || o.oprjoin::regproc::text
       || ' hashes=' || o.oprcanhash || ' merges=' || o.oprcanmerge
  FROM pg_operator o JOIN member m ON m.classid = 'pg_operator'::regclass AND m.objid = o.oid
 ORDER BY o.oid::regoperator::text COLLATE "C";

SELECT 'operator family ' || f.opfname || ' using ' || a.amname
       || coalesce((SELECT string_agg(E'\n  operator ' || o.amopstrategy || ' ' || o.amopopr::regoperator::text
                                      || CASE WHEN o.amoppurpose = 'o'
                                              THEN ' for order by ' || o.amopsortfamily::regclass::text ELSE '' END,
                                      '' ORDER BY o.amoplefttype::regtype::text COLLATE "C",
                                                  o.amoprighttype::regtype::text COLLATE "C", o.amopstrategy)
                      FROM pg_amop o WHERE o.amopfamily = f.oid), '')
       || coalesce((SELECT string_agg(E'\n  function ' || p.amprocnum
                                      || ' (' || p.amproclefttype::regtype::text || ', '
                                      || p.amprocrighttype::regtype::text || ') '
                                      || p.amproc::regprocedure::text,
                                      '' ORDER BY p.amproclefttype::regtype::text COLLATE "C",
                                                  p.amprocrighttype::regtype::text COLLATE "C", p.amprocnum)
                      FROM pg_amproc p WHERE p.amprocfamily = f.oid), '')
  FROM pg_opfamily f
  JOIN pg_am a ON a.oid = f.opfmethod
  JOIN member m ON m.classid = 'pg_opfamily'::regclass AND m.objid = f.oid
 ORDER BY f.opfname COLLATE "C", a.amname COLLATE "C";

SELECT 'operator class ' || c.opcname || ' for type ' || c.opcintype::regtype::text
       || ' using ' || a.amname || ' family ' || f.opfname
       || CASE WHEN c.opcdefault THEN ' default' ELSE '' END
       || CASE WHEN c.opckeytype <> 0 THEN ' storage ' || c.opckeytype::regtype::text ELSE '' END
  FROM pg_opclass c
  JOIN pg_am a ON a.oid = c.opcmethod
  JOIN pg_opfamily f ON f.oid = c.opcfamily
  JOIN member m ON m.classid = 'pg_opclass'::regclass AND m.objid = c.oid
 ORDER BY c.opcname COLLATE "C", a.amname COLLATE "C";

SELECT line FROM (
SELECT 'cast (' || format_type(c.castsource, NULL) || ' as ' || format_type(c.casttarget, NULL) || ')'
       || CASE c.castmethod WHEN 'f' THEN ' with function ' || c.castfunc::regprocedure::text
                            WHEN 'i' THEN ' with inout' ELSE ' without function' END
       || CASE c.castcontext WHEN 'i' THEN ' as implicit' WHEN 'a' THEN ' as assignment' ELSE '' END AS line
  FROM pg_cast c JOIN member m ON m.classid = 'pg_cast'::regclass AND m.objid = c.oid
) c
 ORDER BY line COLLATE "C";

SELECT 'event trigger ' || e.evtname || ' on ' || e.evtevent
       || coalesce(' when tag in (' || (SELECT string_agg(quote_literal(t), ', ' ORDER BY t COLLATE "C")
                                         FROM unnest(e.evttags) t) || ')', '')
       || ' execute ' || e.evtfoid::regprocedure::text
       || CASE WHEN e.evtenabled <> 'O' THEN ' enabled=' || e.evtenabled::text ELSE '' END
  FROM pg_event_trigger e JOIN member m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
 ORDER BY e.evtname COLLATE "C";

\t off
\a
RESET client_min_messages;
