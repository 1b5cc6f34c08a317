# pg_dump / pg_restore of a database with a monitored payments table
# (docs/monitor.md): the stamp trigger is recreated, the registration,
# events, batches and alerts are restored, and payments after the restore
# are processed exactly once -- into a new database of the same cluster,
# into a new cluster (whose transaction ids are behind the dumped
# position: the core rebases), and into a new cluster whose epoch was
# advanced with pg_resetwal -e first (the documented procedure).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $src = finsec_node('mdump');
$src->safe_psql('postgres', 'CREATE DATABASE source');
$src->safe_psql('source', q{
	CREATE EXTENSION finsec;
	CREATE TABLE pay (id bigserial PRIMARY KEY, cust text NOT NULL, amount numeric NOT NULL,
					  at timestamptz NOT NULL DEFAULT now());
	SELECT finsec.enable_monitoring('pay', customer => 'cust', posted_at => 'at');
	INSERT INTO finsec.monitor_rule (rule_name, version, kind, entity, params, severity, state, created_by, approved_by, activated_at)
	VALUES ('dump.big', 1, 'threshold', 'customer', '{"min_amount_cny": 1000, "direction": "any"}', 'high', 'active',
			'tap_a', 'tap_b', now());
});

# Burn transaction ids, so that the source's stamps are ahead of a new cluster's.
sub burn
{
	my ($node, $db, $n) = @_;
	$node->safe_psql($db, join('', map { "SELECT pg_current_xact_id();\n" } 1 .. $n));
}
# A prepared transaction's payment: neither lost nor duplicated after COMMIT PREPARED.
$src->append_conf('postgresql.conf', 'max_prepared_transactions = 2');
$src->restart;
$src->safe_psql('source', q{BEGIN; INSERT INTO pay (cust, amount) VALUES ('prep', 7); PREPARE TRANSACTION 'mdump_p1'});
$src->safe_psql('source', q{INSERT INTO pay (cust, amount) VALUES ('beside', 8)});
is($src->safe_psql('source', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '1',
	'a prepared payment is not processed before COMMIT PREPARED');
$src->safe_psql('source', q{COMMIT PREPARED 'mdump_p1'});
is($src->safe_psql('source', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '1',
	'it is processed after COMMIT PREPARED');
is($src->safe_psql('source', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '0',
	'and only once');
$src->safe_psql('source', q{BEGIN; INSERT INTO pay (cust, amount) VALUES ('prep_rb', 9); PREPARE TRANSACTION 'mdump_p2'});
$src->safe_psql('source', q{ROLLBACK PREPARED 'mdump_p2'});
is($src->safe_psql('source', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '0',
	'a rolled-back prepared payment is never processed');
burn($src, 'source', 3000);
$src->safe_psql('source', q{INSERT INTO pay (cust, amount) VALUES ('a', 5000), ('b', 10), ('c', 2000)});
$src->safe_psql('source', 'SELECT count(*) FROM finsec.monitor_now()');
# committed after the last batch: the restored monitor still owes it
$src->safe_psql('source', q{INSERT INTO pay (cust, amount) VALUES ('late', 3000)});

my %q = (
	'registration' => 'SELECT relid::text, customer_column, amount_column, posted_at_column, stamp_column FROM finsec.monitor_table',
	'events' => 'SELECT event_id, customer, amount, stamp FROM finsec.monitor_event ORDER BY event_id',
	'batches' => 'SELECT batch_id, payments, first_event, last_event FROM finsec.monitor_batch ORDER BY batch_id',
	'alerts' => 'SELECT rule_name, entity, hits, events FROM finsec.alert ORDER BY alert_id',
	'the rule' => q{SELECT rule_name, version, state FROM finsec.monitor_rule WHERE rule_name = 'dump.big'},
	'the trigger' => q{SELECT tgname, tgenabled, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'pay'::regclass AND NOT tgisinternal});

my $dump = $src->basedir . '/monitor.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $src->connstr('source') ], 'pg_dump');

# Every committed payment exactly once: events per payment id.
sub exactly_once
{
	my ($node, $db, $what) = @_;
	is($node->safe_psql($db, q{
		SELECT count(*) FILTER (WHERE n <> 1) || ' ' || count(*) FROM (
			SELECT p.id, (SELECT count(*) FROM finsec.monitor_event e WHERE e.customer = p.cust AND e.amount = p.amount
						   AND e.at = p.at) AS n FROM pay p) x}),
		'0 ' . $node->safe_psql($db, 'SELECT count(*) FROM pay'), "$what: every payment processed exactly once");
}

sub restore_into
{
	my ($node, $what) = @_;
	$node->safe_psql('postgres', 'CREATE DATABASE target');
	local $ENV{PGOPTIONS} = '-c finsec.restore=on';
	command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump ],
		"$what: pg_restore without any error");
	for my $k (sort keys %q)
	{
		my $s = $src->safe_psql('source', $q{$k});
		isnt($s, '', "source has $k");
		is($node->safe_psql('target', $q{$k}), $s, "$what: $k restored");
	}
}

# ---- 1. a new database of the same cluster ----
restore_into($src, 'same cluster');
is($src->safe_psql('target', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '1',
	'same cluster: the payment committed after the last batch is processed once');
$src->safe_psql('target', q{INSERT INTO pay (cust, amount) VALUES ('after', 4000)});
is($src->safe_psql('target', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '1',
	'same cluster: a new payment is processed once');
is($src->safe_psql('target', q{SELECT string_agg(entity, ',' ORDER BY entity) FROM finsec.alert WHERE rule_name = 'dump.big'}),
	'a,after,c,late', 'same cluster: alerts of the restored rule on restored and new payments');
my ($rc, $out, $err) = $src->psql('target', 'DROP TRIGGER finsec_monitor_stamp ON pay');
like($err, qr/S9M70|its payments are monitored/, 'same cluster: the restored trigger is protected');
# a second table registered after the restore gets a table_id of its own
$src->safe_psql('target', q{CREATE TABLE pay2 (cust text, amount numeric, at timestamptz DEFAULT now())});
($rc, $out, $err) = $src->psql('target', q{SELECT finsec.enable_monitoring('pay2', customer => 'cust', posted_at => 'at')});
is($err, '', 'same cluster: another table can be registered after the restore');
exactly_once($src, 'target', 'same cluster');

# ---- 2. a new cluster, transaction ids behind the dump ----
my $new = finsec_node('mdump_new');
restore_into($new, 'new cluster');
($rc, $out, $err) = $new->psql('target', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL');
like($err, qr/monitoring position of public\.pay is ahead of this cluster and was rebased.*\n.*told from this cluster's.*\n.*pg_resetwal -e/,
	'new cluster: the core rebases with a WARNING that says how restored payments are told apart, and the procedure');
is($new->safe_psql('target', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'monitor.rebase'}), '1',
	'new cluster: the rebase is audited');
$new->safe_psql('target', q{INSERT INTO pay (cust, amount) VALUES ('after', 4000)});
is($new->safe_psql('target', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '1',
	'new cluster: a new payment is processed once');
# when this cluster's transaction ids pass the restored stamps, the restored payments must not come back
burn($new, 'target', 3200);
$new->safe_psql('target', q{INSERT INTO pay (cust, amount) VALUES ('after2', 5)});
$new->safe_psql('target', 'SELECT count(*) FROM finsec.monitor_now()');
# the restored rows' stamps are ahead of the rebased position: up to the
# highest of them, only rows whose stamp is their own inserting transaction
# are new; the payment the old position still owed was processed at the rebase
exactly_once($new, 'target', 'new cluster');
$new->stop;

# ---- 3. a new cluster whose epoch was advanced before the restore ----
my $ep = finsec_node('mdump_epoch', no_start => 1);
command_ok([ 'pg_resetwal', '-e', '1', $ep->data_dir ], 'pg_resetwal -e 1 on the new cluster');
$ep->start;
restore_into($ep, 'new epoch');
($rc, $out, $err) = $ep->psql('target', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL');
is($out, '1', 'new epoch: the payment committed after the last batch is processed once');
unlike($err, qr/ahead of this cluster/, 'new epoch: no rebase');
$ep->safe_psql('target', q{INSERT INTO pay (cust, amount) VALUES ('after', 4000)});
burn($ep, 'target', 3200);
$ep->safe_psql('target', q{INSERT INTO pay (cust, amount) VALUES ('after2', 5)});
is($ep->safe_psql('target', 'SELECT sum(payments) FROM finsec.monitor_now() WHERE relid IS NOT NULL'), '2',
	'new epoch: the new payments are processed once');
exactly_once($ep, 'target', 'new epoch');
$ep->stop;

$src->stop;
done_testing();
