# Issue 14, class 1 for audit_purge(): the purge's DELETE fires whatever the
# table's owner put on the table; that code must run as the owner, never as
# finsec's owner, and finsec's permit to delete covers that table, DELETE,
# and the purged period's rows only.  On 0.7 the DELETE ran as the superuser
# with immutability switched off for every table: the owner's trigger made
# its role a superuser, deleted rows inside retention and a ledger row.
#
# Retention needs time to pass: the cluster first runs 200 days in the past
# under libfaketime (as in 012_audit_retention).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('purge_owner', no_start => 1);

# --- 200 days ago ---------------------------------------------------------
start_faketime($node, '-200d');
$node->safe_psql('postgres', q{
	SET client_min_messages = warning;
	CREATE EXTENSION finsec;
	CREATE ROLE app LOGIN IN ROLE finsec_app;
	CREATE ROLE admin LOGIN IN ROLE finsec_admin;
	GRANT app TO admin;
	CREATE ROLE auditor LOGIN IN ROLE finsec_auditor;
	CREATE SCHEMA app AUTHORIZATION app;
	GRANT USAGE ON SCHEMA app TO admin, auditor;
	SET ROLE app;
	CREATE TABLE app.posted (id int PRIMARY KEY, amount numeric NOT NULL);
	CREATE TABLE app.seen (who name, what text, outcome text);
	GRANT INSERT ON app.seen TO PUBLIC;
	INSERT INTO app.posted SELECT g, g FROM generate_series(1, 20) g;
	SET ROLE admin;
	SELECT finsec.protect_table('app.posted');
	RESET ROLE;
	SELECT finsec.audit_event('old.event');
});
$node->safe_psql('postgres', 'SELECT finsec.audit_seal()');
$node->stop;

# --- today ----------------------------------------------------------------
$node->start;
$node->safe_psql('postgres', q{
	SET ROLE app;
	INSERT INTO app.posted SELECT g, g FROM generate_series(21, 25) g;
	-- the owner's trap: a DELETE trigger, row and statement level
	CREATE FUNCTION app.trap() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF pg_trigger_depth() > 1 THEN
			RETURN OLD;
		END IF;
		BEGIN
			EXECUTE 'ALTER ROLE app SUPERUSER';
			INSERT INTO app.seen VALUES (current_user, 'superuser', 'done');
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO app.seen VALUES (current_user, 'superuser', 'refused');
		END;
		BEGIN
			DELETE FROM app.posted WHERE id > 20;
			INSERT INTO app.seen VALUES (current_user, 'delete young rows', 'done');
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO app.seen VALUES (current_user, 'delete young rows', 'refused');
		END;
		BEGIN
			DELETE FROM finsec.audit WHERE event_type = 'old.event';
			INSERT INTO app.seen VALUES (current_user, 'delete ledger row', 'done');
		EXCEPTION WHEN OTHERS THEN
			INSERT INTO app.seen VALUES (current_user, 'delete ledger row', 'refused');
		END;
		RETURN CASE WHEN TG_LEVEL = 'ROW' THEN OLD END;
	END $$;
	CREATE TRIGGER a_trap_row BEFORE DELETE ON app.posted FOR EACH ROW EXECUTE FUNCTION app.trap();
	CREATE TRIGGER a_trap_stmt BEFORE DELETE ON app.posted FOR EACH STATEMENT EXECUTE FUNCTION app.trap();
});
$node->safe_psql('postgres', 'SELECT finsec.audit_seal()');
my $old_events = $node->safe_psql('postgres', "SELECT count(*) FROM finsec.audit WHERE event_type = 'old.event'");
is($old_events, '1', 'the old ledger event is there before the purge');

is($node->safe_psql('postgres', "SELECT * FROM finsec.audit_purge('app.posted', current_date - 190)",
		extra_params => [ '-U', 'auditor' ]),
	'1|20', 'the auditor purges the old period (20 rows), the owner\'s triggers firing');

is($node->safe_psql('postgres', "SELECT string_agg(DISTINCT who, ',') FROM app.seen"), 'app',
	'the owner\'s trigger ran as the owner, not as finsec\'s owner');
is($node->safe_psql('postgres', "SELECT string_agg(DISTINCT what || ': ' || outcome, '; ' ORDER BY what || ': ' || outcome) FROM app.seen"),
	'delete ledger row: refused; delete young rows: refused; superuser: refused',
	'and everything it tried was refused');
is($node->safe_psql('postgres', "SELECT rolsuper FROM pg_roles WHERE rolname = 'app'"), 'f',
	'the owner did not become a superuser');
is($node->safe_psql('postgres', 'SELECT count(*), min(id) FROM app.posted'), '5|21',
	'the rows inside retention are untouched: the permit covered the purged period only');
is($node->safe_psql('postgres', "SELECT count(*) FROM finsec.audit WHERE event_type = 'old.event'"), '1',
	'the ledger row is untouched: the permit covered app.posted only');
$node->safe_psql('postgres', 'SELECT finsec.audit_seal()');
is($node->safe_psql('postgres',
		"SELECT string_agg(relation || ' ' || ok, '; ' ORDER BY relation::text) FROM finsec.audit_verify()",
		extra_params => [ '-U', 'auditor' ]),
	'app.posted true; finsec.audit true', 'every chain verifies after the purge');

# A purge leaves no permit behind: right after it, in the same session, a
# superuser deletes nothing.
my ($ret, $out, $err) = $node->psql('postgres', q{
	SELECT * FROM finsec.audit_purge('app.posted', current_date - 190);
	DELETE FROM app.posted WHERE id = 21;});
like($err, qr/rows of protected table "posted" cannot be deleted/, 'no permit outlives its statement');
is($node->safe_psql('postgres', 'SELECT count(*) FROM app.posted'), '5', 'still 5 rows');

$node->stop;
done_testing();
