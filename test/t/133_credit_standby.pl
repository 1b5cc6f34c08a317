# Credit data on a hot standby and through a promotion (docs/credit.md).
#
# The standby has the registration (catalog and backend cache) and the
# same refusal of direct reads as the primary.  Everything that must leave
# a record is refused there, since the record cannot be written during
# recovery: finsec.deidentify_now, and credit_query (its query-log row);
# the de-identification worker task does not run on a standby.
# finsec.outbound_links() works on both and sees the replication: the
# primary its walsender to the standby, the standby its WAL receiver and
# primary_conninfo (local sockets: allowed).  At promotion the promoted
# server's worker takes over: it publishes the period that is due there
# (the standby alone is configured with a "today" that makes it due), its
# keys are destroyed, the expired records print as [shredded] and the
# ledger verifies.
#
# Parts not in this tree yet (the batch, the query log) are skipped,
# saying so.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use FinsecCreditTest;

my $db = 'credit';
my $primary = finsec_node('primary', init => { allows_streaming => 1 }, no_start => 1);
$primary->append_conf('postgresql.conf', "finsec.reveal_budget = 0\nfinsec.deid_interval = '300ms'");
$primary->start;
$primary->safe_psql('postgres', "CREATE DATABASE $db");
my @records = credit_setup($primary, $db);
my $has_batch = has_finsec_fn($primary, $db, 'deidentify_now');
my $has_query = has_finsec_fn($primary, $db, 'credit_query');
# A querying institution and user (the registry's fixture, written directly).
$primary->safe_psql($db, q{
	INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES ('B1000001', 'Bank One', 'provider_user', 'active');
	SELECT finsec.credit_user_set('app', 'B1000001', '{query}');
}) if $has_query;
# The worker of the credit database (the databases with a sealer get one).
$primary->append_conf('postgresql.conf', "finsec.audit_seal_databases = '$db'\nfinsec.audit_seal_interval = '200ms'");
$primary->restart;
my $ahead = $has_batch ? days_until_a_due($primary, $db) : 0;

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# Only the standby's "today" makes period A due.
$standby->append_conf('postgresql.conf', "finsec.deid_test_days_ahead = $ahead") if $has_batch;
$standby->start;
$primary->safe_psql($db, q{SET SESSION AUTHORIZATION owner;
	INSERT INTO loan VALUES (31, 'S-0031', '卫五', '1990-06-06', '120106', 'default', 3100, current_date)});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));

is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
is($standby->safe_psql($db, 'SELECT count(*) FROM finsec.credit_table'), '1', 'standby: the registration');
is($standby->safe_psql($db, q{SELECT finsec._credit_cached('loan')}),
	$primary->safe_psql($db, q{SELECT finsec._credit_cached('loan')}), 'standby: the backend cache as on the primary');
is($standby->safe_psql($db, q{SELECT to_regclass('public.loan') IS NOT NULL}), 't',
	'standby: the table is there');

# Direct reads: an application role is refused on both (naming
# credit_query on the primary); a superuser's direct read, allowed and
# recorded on the primary, is refused on the standby, which cannot record it.
sub direct_read
{
	my ($n, $role) = @_;
	my ($rc, $out, $err) = $n->psql($db, ($role ? "SET ROLE $role; " : '') . 'SELECT count(*) FROM loan');
	return $rc == 0 ? "read $out"
	  : ($err =~ /refused on a standby/ ? 'refused on a standby'
		: ($err =~ /credit_query/ ? 'refused naming credit_query' : "refused: $err"));
}
is(direct_read($primary, 'app'), 'refused naming credit_query', 'primary: an application role cannot read the table');
is(direct_read($primary), 'read 13', 'primary: a superuser reads the 13 records (audited)');
like(direct_read($standby, 'app'), qr/^refused/, 'standby: an application role cannot read the table');
is(direct_read($standby), 'refused on a standby', 'standby: nor a superuser (the read could not be recorded)');

# Outbound links: the replication seen from both sides.
{
	my $p = $primary->safe_psql($db,
		q{SET ROLE auditor; SELECT kind || '|' || verdict || '|' || coalesce(region, '') FROM finsec.outbound_links()
		   WHERE kind IN ('replication_connection', 'replication_slot', 'wal_receiver') ORDER BY 1});
	is($p, 'replication_connection|allowed|local', 'primary: its walsender to the standby, over a local socket: allowed');
	my $s = $standby->safe_psql($db,
		q{SET ROLE auditor; SELECT kind || '|' || object || '|' || verdict FROM finsec.outbound_links()
		   WHERE kind IN ('wal_receiver', 'setting', 'replication_connection') AND object IN ('primary', 'primary_conninfo')
		   ORDER BY 1});
	is($s, "setting|primary_conninfo|allowed\nwal_receiver|primary|allowed",
		'standby: its WAL receiver and primary_conninfo, local: allowed');
	is($standby->safe_psql($db, q{SELECT count(*) FROM finsec.audit WHERE event_type = 'credit.outbound_links'}),
		$primary->safe_psql($db, q{SELECT count(*) FROM finsec.audit WHERE event_type = 'credit.outbound_links'}),
		'standby: the call is not recorded (no ledger write in recovery), the primary\'s is');
}

SKIP:
{
	skip 'finsec.deidentify_now is not in this tree yet', 4 unless $has_batch;
	my ($rc, $out, $err) = $standby->psql($db, q{SET SESSION AUTHORIZATION adm1; SELECT finsec.deidentify_now('loan')});
	isnt($rc, 0, 'standby: deidentify_now is refused');
	like($err, qr/read-only|recovery/, '(read-only: it would write the archive and destroy keys)') or diag($err);
	sleep 2;
	is($standby->safe_psql($db,
			q{SELECT coalesce(sum(runs), 0) FROM finsec.worker_tasks() WHERE task = 'credit.deid'}), '0',
		'standby: the de-identification task has not run');
	is($standby->safe_psql($db, 'SELECT count(*) FROM finsec.deid_batch'), '0', 'standby: no batch');
}

SKIP:
{
	skip 'finsec.credit_query is not in this tree yet', 2 unless $has_query;
	my $q = q{SET SESSION AUTHORIZATION app; SELECT count(*) FROM finsec.credit_query('loan', 'S-0011', 'loan_approval')};
	is($primary->safe_psql($db, $q), '1', 'primary: credit_query finds the record of S-0011');
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	my ($rc, $out, $err) = $standby->psql($db, $q);
	isnt($rc, 0, 'standby: credit_query is refused (its query-log row cannot be written)')
	  or diag($out);
}
my $log = slurp_file($standby->logfile);
unlike($log, qr/PANIC|TRAP/, 'standby: no PANIC');

# ---- promotion --------------------------------------------------------------------------------

$primary->stop;
$standby->promote;
is($standby->safe_psql($db, 'SELECT pg_is_in_recovery()'), 'f', 'promoted');
SKIP:
{
	skip 'finsec.deidentify_now is not in this tree yet', 6 unless $has_batch;
	ok($standby->poll_query_until($db, q{SELECT count(*) = 1 FROM finsec.deid_batch WHERE state = 'published'}),
		'promoted: the worker publishes the due period by itself');
	is($standby->safe_psql($db, q{SELECT published FROM finsec.deid_batch}), '7', 'the 7 records of period A');
	is($standby->safe_psql($db, 'SELECT count(*) FROM finsec_archive.loan'), '7', '7 archive rows');
	is($standby->safe_psql($db, q{SELECT count(*) FROM loan WHERE name::text LIKE '[shredded]%'}), '7',
		'the expired records print as [shredded]');
	is($standby->safe_psql($db, q{SELECT count(*) FROM finsec.protect_shredded}), '1', 'one shredded period');
	sleep 1;
	is($standby->safe_psql($db, q{SELECT count(*) FROM finsec.deid_batch}), '1', 'and only one batch');
}
is($standby->safe_psql($db, 'SELECT count(*) FROM finsec.audit_verify() WHERE NOT ok'), '0',
	'promoted: audit_verify passes');
is($standby->safe_psql($db,
		q{SET ROLE auditor; SELECT count(*) FROM finsec.outbound_links() WHERE kind = 'wal_receiver'}), '0',
	'promoted: no WAL receiver any more');
$standby->safe_psql($db, q{SET SESSION AUTHORIZATION owner;
	INSERT INTO loan VALUES (32, 'S-0032', '蒋六', '1990-07-07', '120107', 'overdue', 3200, current_date)});
is($standby->safe_psql($db, 'SELECT count(*) FROM loan'), '14', 'promoted: new records accepted');

$standby->stop;
done_testing();
