--
-- 138_credit_outbound: the outbound-link check (C7; docs/credit.md
-- "Outbound links"): finsec.outbound_links() lists the foreign servers,
-- user mappings, subscriptions, publications, replication slots,
-- COPY ... PROGRAM roles, program foreign tables and dblink of this
-- server, each judged against finsec.outbound_allow, whose changes are
-- two-person (kind credit.outbound_allow).  Connection strings are read
-- with libpq's own parser; nothing connects, no name is resolved, no
-- password or whole connection string comes out.
--
-- Runs in a database of its own (its servers and extensions stay there).
--
SET client_min_messages = warning;
CREATE DATABASE regress_outbound;
\c regress_outbound
SET client_min_messages = warning;
CREATE EXTENSION finsec;
CREATE ROLE regress_ob_a LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ob_b LOGIN IN ROLE finsec_admin;
CREATE ROLE regress_ob_audit LOGIN IN ROLE finsec_auditor;
CREATE ROLE regress_ob_app LOGIN IN ROLE finsec_app;
CREATE ROLE regress_ob_user LOGIN;
CREATE ROLE regress_ob_prog LOGIN IN ROLE pg_execute_server_program;

-- A refusal as its SQLSTATE and message (the statement's own error).
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.try(text) TO PUBLIC;

-- ---------------------------------------------------------------------
-- Patterns: host names, suffixes of two labels or more, ranges no wider
-- than /8 (IPv4) or /16 (IPv6); normalised (lower case, no trailing dot,
-- a one-address range as its address).
-- ---------------------------------------------------------------------
SELECT p AS pattern, (finsec._outbound_pattern(p)).*
  FROM unnest(ARRAY['db1.example.cn', 'DB2.Example.CN.', '.example.cn', '.SH.example.cn',
					'10.20.0.0/16', '10.30.1.7', '10.30.1.7/32', '2001:db8::/32', '2001:DB8::5',
					'xn--fiqs8s.cn', 'localhost']) p;
SELECT left(p, 24) AS pattern, pg_temp.try(format('SELECT finsec._outbound_pattern(%L)', p)) AS outcome
  FROM unnest(ARRAY['', '   ', '*', '*.example.cn', 'db1.example.cn/24', 'a..b', '-a.example.cn',
					'db_1.example.cn', 'host name.cn', 'db1.example.cn:5432', 'user@db1.example.cn',
					'.cn', '.', '..cn', '0.0.0.0/0', '10.0.0.0/7', '::/0', '2000::/15', '2001::/15',
					'10.20.0.1/16', '10.300.0.0/16', repeat('a', 64) || '.cn',
					repeat('abcdefghi.', 26) || 'cn']) p;
SELECT pg_temp.try('SELECT finsec._outbound_pattern(NULL)') AS null_pattern;

-- ---------------------------------------------------------------------
-- The allow-list: two-person.  regress_ob_a requests, regress_ob_b
-- approves; the requester cannot approve; nobody writes the table.
-- ---------------------------------------------------------------------
SET SESSION AUTHORIZATION regress_ob_a;
SELECT finsec.outbound_allow_add('DB1.example.cn', 'cn', 'the bureau''s reporting database') AS r1 \gset
SELECT finsec.outbound_allow_add('.sh.example.cn', 'CN', 'Shanghai data centre', 'SH-DC2') AS r2 \gset
SELECT finsec.outbound_allow_add('10.20.0.0/16', 'CN', 'head office network') AS r3 \gset
SELECT finsec.outbound_allow_add('2001:db8::/32', 'CN', 'head office IPv6') AS r4 \gset
SELECT kind, target, payload, state FROM finsec.change_request
 WHERE request_id IN (:r1, :r2, :r3, :r4) ORDER BY request_id;
-- Nothing allowed before approval; the requester cannot approve.
SELECT count(*) AS allowed_before FROM finsec.outbound_allow;
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :r1)) AS self_approval;
-- Bad requests are refused when filed.
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('*', 'CN', 'everything')$$) AS wildcard;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('.cn', 'CN', 'the whole TLD')$$) AS tld;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('0.0.0.0/0', 'CN', 'everything')$$) AS all_v4;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('db9.example.cn', 'China', 'x')$$) AS bad_region;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('db9.example.cn', NULL, 'x')$$) AS null_region;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('db9.example.cn', 'CN', '  ')$$) AS no_reason;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('db9.example.cn', 'CN', 'x', repeat('n', 201))$$) AS long_note;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_remove('db9.example.cn', 'not there')$$) AS remove_missing;
-- request_change() directly: the same checks (prepare), and the target
-- must be the normalised pattern.
SELECT pg_temp.try($$SELECT finsec.request_change('credit.outbound_allow', 'db9.example.cn', '{"op": "drop"}', 'x')$$) AS bad_op;
SELECT pg_temp.try($$SELECT finsec.request_change('credit.outbound_allow', 'DB9.example.cn', '{"op": "add", "region": "CN"}', 'x')$$) AS not_normalised;
SELECT pg_temp.try($$SELECT finsec.request_change('credit.outbound_allow', '.cn', '{"op": "add", "region": "CN"}', 'x')$$) AS direct_tld;
-- A second request for the same pattern while the first is pending.
SELECT finsec.outbound_allow_add('db1.example.cn', 'HK', 'a second opinion') AS r5 \gset
-- The table itself: read-only to admins.
SELECT pg_temp.try($$INSERT INTO finsec.outbound_allow VALUES ('evil.example.com', 'host', 'CN', NULL, 'x', 'y', 0)$$) AS direct_insert;
SELECT pg_temp.try($$DELETE FROM finsec.outbound_allow$$) AS direct_delete;
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION regress_ob_b;
SELECT finsec.approve(:r1) AS applied_1;
SELECT finsec.approve(:r2) ->> 'pattern' AS applied_2, finsec.approve(:r3) ->> 'pattern' AS applied_3,
	   finsec.approve(:r4) ->> 'pattern' AS applied_4;
-- The second request for db1.example.cn: it is in the list now.
SELECT pg_temp.try(format('SELECT finsec.approve(%s)', :r5)) AS duplicate_apply;
SELECT finsec.reject(:r5, 'already allowed');
-- Adding it again is refused at request time.
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('db1.example.cn', 'CN', 'again')$$) AS duplicate_request;
RESET SESSION AUTHORIZATION;
SELECT pattern, pattern_kind, region, note, requested_by, approved_by, request_id = ANY(ARRAY[:r1, :r2, :r3, :r4]) AS by_request
  FROM finsec.outbound_allow ORDER BY pattern;
SELECT event_type, object, action, db_user, subject, detail ->> 'requested_by' AS requested_by, detail ->> 'region' AS region
  FROM finsec.audit WHERE event_type = 'credit.outbound_allow' ORDER BY finsec_seq;
-- Other roles: an application, an auditor, a plain role may neither file
-- nor approve; the auditor reads the list.
SET SESSION AUTHORIZATION regress_ob_app;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('evil.example.com', 'CN', 'x')$$) AS app_add;
SELECT pg_temp.try($$SELECT * FROM finsec.outbound_allow$$) AS app_read;
SELECT pg_temp.try($$SELECT * FROM finsec.outbound_links()$$) AS app_links;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ob_audit;
SELECT pg_temp.try($$SELECT finsec.outbound_allow_add('evil.example.com', 'CN', 'x')$$) AS auditor_add;
SELECT count(*) AS auditor_reads FROM finsec.outbound_allow;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ob_user;
SELECT pg_temp.try($$SELECT * FROM finsec.outbound_links()$$) AS user_links;
SELECT pg_temp.try($$SELECT * FROM finsec._outbound_conninfo_targets('host=x')$$) AS user_parse;
RESET SESSION AUTHORIZATION;

-- ---------------------------------------------------------------------
-- Judging one target: hostaddr is where a connection goes (host then
-- only names it); sockets and loopback are local; names are never
-- resolved, ranges match addresses only.
-- ---------------------------------------------------------------------
SELECT h AS host, a AS hostaddr, (finsec._outbound_judge(h, a)).*
  FROM (VALUES ('db1.example.cn', NULL), ('DB1.EXAMPLE.CN.', NULL), ('x.sh.example.cn', NULL),
			   ('sh.example.cn', NULL), ('evilsh.example.cn', NULL), ('db1.example.cn.evil.com', NULL),
			   ('db.example.com', NULL), ('10.20.3.4', NULL), ('10.21.0.1', NULL), ('2001:db8::5', NULL),
			   ('2001:db9::5', NULL), ('db1.example.cn', '203.0.113.9'), ('db.example.com', '10.20.0.9'),
			   ('/var/run/postgresql', NULL), ('@abstract', NULL), ('localhost', NULL), ('127.0.0.2', NULL),
			   ('::1', NULL), ('10.20.0.0', NULL), (NULL, NULL)) v(h, a);
SELECT (finsec._outbound_judge(NULL, NULL, 'reporting')).*;

-- Connection strings, read by libpq's PQconninfoParse: keyword/value and
-- URIs, several hosts each with its port; strings libpq would refuse are
-- not valid (and nothing of them is echoed).
SELECT c AS conninfo, t.*
  FROM unnest(ARRAY[
		'host=db1.example.cn port=5433 dbname=credit user=rep password=s3cret',
		'host=db1.example.cn,db.example.com port=5432,6432',
		'host=a.example.cn,b.example.cn port=5444',
		'host=db1.example.cn hostaddr=203.0.113.9',
		'hostaddr=10.20.0.7,10.20.0.8',
		'postgresql://rep:s3cret@[2001:db8::5]:5434,db1.example.cn/credit',
		'postgres://db.example.com/credit?sslmode=require',
		'host=''db1.example.cn'' port = ''5432''',
		'service=reporting',
		'dbname=credit',
		'',
		'host=a.example.cn,b.example.cn hostaddr=10.20.0.7',
		'host=a.example.cn,b.example.cn port=1,2,3',
		'host=db1.example.cn password=''unterminated',
		'hots=db1.example.cn password=s3cret',
		'postgresql://[2001:db8::5/credit']) WITH ORDINALITY c(c, ord),
	   LATERAL finsec._outbound_conninfo_targets(c) t
 ORDER BY c.ord, t.pos;

-- Hosts a shell command names (archive_command, restore_command).
SELECT c AS command, array(SELECT finsec._outbound_command_hosts(c)) AS hosts
  FROM unnest(ARRAY['cp %p /archive/%f',
					'rsync -a %p backup@db1.example.cn:/wal/%f',
					'scp %p wal.example.com:/srv/wal/%f',
					'aws s3 cp %p s3://bucket.example.com/wal/%f',
					'curl -T %p https://upload.example.com:8443/wal/%f',
					'ssh root@10.9.8.7 "cat > /wal/%f" < %p',
					'test ! -f /mnt/server/archivedir/%f && cp %p /mnt/server/archivedir/%f']) c;

-- ---------------------------------------------------------------------
-- The links of this server.
-- ---------------------------------------------------------------------
CREATE EXTENSION postgres_fdw;
CREATE SERVER ob_cn FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db1.example.cn', port '5432', dbname 'credit');
CREATE SERVER ob_sh FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'replica.sh.example.cn');
CREATE SERVER ob_abroad FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db.example.com', port '5432');
CREATE SERVER ob_ip FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '10.20.3.4');
CREATE SERVER ob_multi FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db1.example.cn,db.example.com', port '5432,6432');
-- An allowed name with an address abroad: the address is where it goes.
CREATE SERVER ob_hostaddr FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'db1.example.cn', hostaddr '203.0.113.9');
-- A host option smuggling a hostaddr: one (odd) host name, no hostaddr.
CREATE SERVER ob_smuggle FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'x'' hostaddr=''10.20.0.1');
CREATE SERVER ob_socket FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '/var/run/postgresql');
CREATE SERVER ob_nohost FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'credit');
CREATE SERVER ob_service FOREIGN DATA WRAPPER postgres_fdw OPTIONS (service 'reporting');
-- postgres_fdw under another name is still a libpq wrapper.
CREATE FOREIGN DATA WRAPPER innocent HANDLER postgres_fdw_handler VALIDATOR postgres_fdw_validator;
CREATE SERVER ob_disguised FOREIGN DATA WRAPPER innocent OPTIONS (host 'db.example.com');
-- A wrapper finsec does not know: a host-like option, or nothing.
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER ob_other FOREIGN DATA WRAPPER other_fdw OPTIONS (hostname 'files.example.com', port '21');
CREATE SERVER ob_opaque FOREIGN DATA WRAPPER other_fdw OPTIONS (endpoint 'anything');
GRANT USAGE ON FOREIGN DATA WRAPPER other_fdw TO PUBLIC;
GRANT USAGE ON FOREIGN DATA WRAPPER postgres_fdw TO regress_ob_app;
-- User mappings: PUBLIC, a role (with a password), a group role.
CREATE USER MAPPING FOR PUBLIC SERVER ob_cn OPTIONS (user 'reader');
CREATE USER MAPPING FOR regress_ob_app SERVER ob_abroad OPTIONS (user 'exporter', password 'hunter2');
CREATE ROLE regress_ob_group;
GRANT regress_ob_group TO regress_ob_user;
CREATE USER MAPPING FOR regress_ob_group SERVER ob_multi OPTIONS (user 'x');
-- A subscription (never connected) abroad, and one by URI, with passwords.
CREATE SUBSCRIPTION ob_sub_abroad
	CONNECTION 'host=db.example.com port=5433 dbname=credit user=rep password=s3cret'
	PUBLICATION pub WITH (connect = false);
CREATE SUBSCRIPTION ob_sub_uri
	CONNECTION 'postgresql://rep:s3cret@[2001:db8::5]:5434,db1.example.cn/credit'
	PUBLICATION pub WITH (connect = false);
-- A publication, a replication slot nobody uses.
CREATE TABLE ob_plain (id int PRIMARY KEY);
SET client_min_messages = error;
CREATE PUBLICATION ob_pub FOR TABLE ob_plain;
SET client_min_messages = warning;
SELECT slot_name FROM pg_create_physical_replication_slot('ob_slot');
-- A foreign table that reads a program's output.
CREATE EXTENSION file_fdw;
CREATE SERVER ob_files FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE ob_prog (line text) SERVER ob_files OPTIONS (program 'curl -s https://db.example.com/');
-- dblink: every role may call dblink_connect by default.
CREATE EXTENSION dblink;

-- The auditor's view (kinds whose rows depend on the cluster's own
-- superusers and settings are checked apart below).
SET SESSION AUTHORIZATION regress_ob_audit;
SELECT kind, object, host, port, region, verdict, detail FROM finsec.outbound_links()
 WHERE kind NOT IN ('copy_program', 'setting', 'language');
-- COPY ... PROGRAM: the role given pg_execute_server_program, and superusers.
SELECT kind, object, verdict, detail FROM finsec.outbound_links()
 WHERE kind = 'copy_program' AND object LIKE 'regress_ob%';
SELECT count(*) > 0 AS superusers_listed FROM finsec.outbound_links() l
 WHERE l.kind = 'copy_program' AND l.detail LIKE 'superuser%';
-- No password, no whole connection string, no command text, no option
-- that is not a host or a port comes out.
SELECT count(*) AS leaks FROM finsec.outbound_links() l
 WHERE l::text ~ '(s3cret|hunter2|reader|exporter|dbname|password=|curl)';
RESET SESSION AUTHORIZATION;
-- Each call is a ledger row of the caller with the verdict counts.
SELECT db_user, object, detail -> 'verdicts' -> 'not_allowed' IS NOT NULL AS counted
  FROM finsec.audit WHERE event_type = 'credit.outbound_links' ORDER BY finsec_seq DESC LIMIT 1;
SELECT count(*) AS link_events FROM finsec.audit WHERE event_type = 'credit.outbound_links';

-- dblink restricted to one role: unknown, naming it.
DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
			  WHERE p.proname IN ('dblink_connect', 'dblink', 'dblink_exec', 'dblink_send_query') LOOP
		EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
	END LOOP;
	GRANT EXECUTE ON FUNCTION dblink_connect(text, text) TO regress_ob_user;
END
$$;
SET SESSION AUTHORIZATION regress_ob_a;
SELECT kind, object, verdict, detail FROM finsec.outbound_links() WHERE kind = 'extension';

-- Removing an entry is two-person too; afterwards its links are not allowed.
SELECT finsec.outbound_allow_remove('DB1.example.cn.', 'the bureau moved') AS r6 \gset
SELECT payload FROM finsec.change_request WHERE request_id = :r6;
SELECT verdict FROM finsec.outbound_links() WHERE kind = 'foreign_server' AND object LIKE 'ob_cn %';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION regress_ob_b;
SELECT finsec.approve(:r6) AS removed;
SELECT object, host, verdict, detail FROM finsec.outbound_links()
 WHERE kind IN ('foreign_server', 'user_mapping') AND object LIKE 'ob_cn %';
RESET SESSION AUTHORIZATION;
SELECT pattern FROM finsec.outbound_allow ORDER BY pattern;
SELECT event_type, object, action FROM finsec.audit
 WHERE event_type = 'credit.outbound_allow' ORDER BY finsec_seq DESC LIMIT 1;

-- A superuser sees the same (and may call the helpers); the ledger
-- still verifies.
SELECT count(*) > 0 AS superuser_lists FROM finsec.outbound_links();
SELECT count(*) AS verify_failures FROM finsec.audit_verify() WHERE NOT ok;

-- Clean up (a subscription without its slot can be dropped offline).
ALTER SUBSCRIPTION ob_sub_abroad SET (slot_name = NONE);
ALTER SUBSCRIPTION ob_sub_uri SET (slot_name = NONE);
DROP SUBSCRIPTION ob_sub_abroad;
DROP SUBSCRIPTION ob_sub_uri;
SELECT pg_drop_replication_slot('ob_slot');
\c contrib_regression
SET client_min_messages = warning;
DROP DATABASE regress_outbound;
DROP ROLE regress_ob_a, regress_ob_b, regress_ob_audit, regress_ob_app, regress_ob_user, regress_ob_prog,
	regress_ob_group;
