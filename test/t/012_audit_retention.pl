# Retention and capacity (U3, W3).
#
# Retention is tested with time itself, not a backdoor: the cluster first
# runs 200 days in the past under libfaketime, writes and seals evidence,
# then runs in the present.  Only whole periods older than
# finsec.audit_retention can be purged, only by the auditor; the purge
# leaves a tombstone and the chain still verifies across it.
#
# Capacity: crossing finsec.audit_capacity_warning warns and records an
# event; at finsec.audit_capacity_limit auditable operations fail rather
# than go unaudited.
use strict;
use warnings;

use POSIX ();
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('retention', no_start => 1);

# --- 200 days ago ---------------------------------------------------------
start_faketime($node, '-200d');
my $real_today = POSIX::strftime('%Y-%m-%d', gmtime);
is($node->safe_psql('postgres', "SELECT current_date < '$real_today'::date - 150"), 't',
	'the server believes it is 200 days ago');
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE auditor LOGIN IN ROLE finsec_auditor;
	CREATE ROLE admin LOGIN IN ROLE finsec_admin;
	CREATE TABLE credit_raw (id int PRIMARY KEY, subject text NOT NULL, record text NOT NULL);
	SELECT finsec.protect_table('credit_raw');
	INSERT INTO credit_raw SELECT g, 'subject ' || g, 'old record' FROM generate_series(1, 50) g;
	SELECT finsec.audit_event('credit.query', description => 'old query ' || g) FROM generate_series(1, 10) g;
});
$node->safe_psql('postgres', 'SELECT finsec.audit_seal()');
my $old_date = $node->safe_psql('postgres', 'SELECT current_date');
$node->stop;

# --- today ----------------------------------------------------------------
$node->start;
my $today = $node->safe_psql('postgres', 'SELECT current_date');
isnt($old_date, $today, "the evidence was written on $old_date, and today is $today");
$node->safe_psql('postgres', q{
	INSERT INTO credit_raw SELECT g, 'subject ' || g, 'new record' FROM generate_series(51, 60) g;
	SELECT finsec.audit_event('credit.query', description => 'new query');
});
$node->safe_psql('postgres', 'SELECT finsec.audit_seal()');

# Nobody removes rows inside retention, whatever the boundary or the role.
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT * FROM finsec.audit_purge('credit_raw', current_date - 10)", extra_params => [ '-U', 'auditor' ]);
like($err, qr/cannot purge audit rows younger than finsec.audit_retention/,
	'a boundary inside retention is refused');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT * FROM finsec.audit_purge('credit_raw', current_date - 190)", extra_params => [ '-U', 'admin' ]);
like($err, qr/permission denied for function audit_purge/, 'the administrator cannot purge');

# The auditor purges the old period: whole blocks, with a tombstone.
is($node->safe_psql('postgres', "SELECT * FROM finsec.audit_purge('credit_raw', current_date - 190)",
		extra_params => [ '-U', 'auditor' ]),
	'1|50', 'the auditor purges the block sealed 200 days ago (50 rows)');
is($node->safe_psql('postgres', "SELECT count(*), min(id) FROM credit_raw"), '10|51',
	'the rows inside retention are untouched');
is($node->safe_psql('postgres',
		"SELECT block_no, row_hashes IS NULL, purged_by FROM finsec.ledger_block WHERE relid = 'credit_raw'::regclass AND purged_at IS NOT NULL"),
	'1|t|auditor', 'the purged block stays as a tombstone, naming the approving auditor');
is($node->safe_psql('postgres', "SELECT * FROM finsec.audit_purge('finsec.audit', current_date - 190)",
		extra_params => [ '-U', 'auditor' ]),
	'1|11', 'the ledger\'s own old period is purged the same way');
$node->safe_psql('postgres', 'SELECT finsec.audit_seal()');
is($node->safe_psql('postgres',
		"SELECT string_agg(relation || ' ' || ok || ' ' || blocks_checked || ' ' || rows_checked, '; ' ORDER BY relation::text) FROM finsec.audit_verify()",
		extra_params => [ '-U', 'auditor' ]),
	'credit_raw true 2 10; finsec.audit true 3 3',
	'both chains verify across their tombstones');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM finsec.audit WHERE event_type = 'audit.purge' AND db_user = 'auditor' AND success"),
	'2', 'each purge is itself an audit event');

# A row smuggled back into a purged period is found.
$node->safe_psql('postgres', "UPDATE pg_trigger SET tgenabled = 'D' WHERE tgname LIKE 'finsec_ledger_%'");
$node->safe_psql('postgres', q{
	INSERT INTO credit_raw (id, subject, record, finsec_txid, finsec_seq)
	SELECT 1, 'subject 1', 'resurrected', start_txid, 1
	  FROM finsec.ledger_block WHERE relid = 'credit_raw'::regclass AND block_no = 1});
$node->safe_psql('postgres', "UPDATE pg_trigger SET tgenabled = 'A' WHERE tgname LIKE 'finsec_ledger_%'");
is($node->safe_psql('postgres', "SELECT first_failure FROM finsec.audit_verify('credit_raw')"),
	'block 1, row seq 1: row present in a purged period (inserted after the purge)',
	'a row reinserted into a purged period is found');

# --- capacity -------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE cap');
$node->safe_psql('cap', q{
	CREATE EXTENSION finsec;
	CREATE TABLE payments (id int, amount numeric);
	SELECT finsec.protect_table('payments');
});
$node->append_conf('postgresql.conf', "finsec.audit_capacity_warning = '1MB'\nfinsec.audit_capacity_limit = '3MB'");
$node->reload;
$node->poll_query_until('cap', "SELECT current_setting('finsec.audit_capacity_limit') = '3MB'");

($ret, $out, $err) = $node->psql('cap', q{
	SELECT count(finsec.audit_event('bulk.event', description => repeat('x', 200)))
	  FROM generate_series(1, 4000)});
is($ret, 0, 'writing past the warning threshold succeeds');
like($err, qr/WARNING:  the finsec audit ledger is nearing its capacity/, 'but warns the writer');
is($node->safe_psql('cap', "SELECT count(*) >= 1 FROM finsec.audit WHERE event_type = 'audit.capacity'"),
	't', 'and records an audit.capacity event');
is($node->safe_psql('cap', "SELECT ok FROM finsec.status() WHERE component = 'audit_capacity'"), 'f',
	'finsec.status() reports the capacity problem');

my $before = $node->safe_psql('cap', 'SELECT count(*) FROM finsec.audit');
($ret, $out, $err) = $node->psql('cap', q{
	BEGIN;
	CREATE TABLE business_op (i int);
	SELECT count(finsec.audit_event('bulk.event', description => repeat('y', 200)))
	  FROM generate_series(1, 20000);
	COMMIT;});
like($err, qr/ERROR:  the finsec audit ledger is full/, 'at the hard limit, auditing fails');
like($err, qr/S9U02|audit_capacity_limit/, 'naming the limit');
is($node->safe_psql('cap', 'SELECT count(*) FROM finsec.audit'), $before,
	'and the whole operation rolled back: nothing happened unaudited');
is($node->safe_psql('cap', "SELECT to_regclass('business_op') IS NULL"), 't',
	'including the business change it was part of');

# With the ledger full, the sealer cannot write authentication events, but
# it still seals protected tables: the events wait, the log has them.
$node->append_conf('postgresql.conf', q{
finsec.audit_seal_databases = 'cap'
finsec.audit_seal_interval = '200ms'
finsec.auth_failure_delay = 0
});
prepend_hba($node, 'local all mallory scram-sha-256');
$node->restart;
$node->safe_psql('cap', q{SET client_min_messages = warning; CREATE ROLE mallory LOGIN PASSWORD 'Gx7#mQ2v!Lp9'});
$node->connect_fails($node->connstr('cap') . ' user=mallory password=wrong', 'a failed login while the ledger is full');
$node->safe_psql('cap', 'INSERT INTO payments VALUES (1, 10)');
ok($node->poll_query_until('cap', "SELECT ok AND rows_pending = 0 AND rows_checked = 1 FROM finsec._audit_verify_rows('payments')"),
	'the protected table is still sealed');
# The recorded verification cannot write its audit.verify row: it still
# returns its result, and warns that it is not on record.
($ret, $out, $err) = $node->psql('cap', "SELECT ok FROM finsec.audit_verify('payments')");
is($out, 't', 'with the ledger full, audit_verify() still returns its result');
like($err, qr/WARNING:  this verification was not recorded in the audit ledger: the finsec audit ledger is full/,
	'and warns that the verification is not on record');
ok($node->wait_for_log(qr/authentication events not written to the audit ledger: the finsec audit ledger is full/),
	'and the unwritten authentication events are reported');

$node->stop;
done_testing();
