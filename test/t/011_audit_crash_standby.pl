# The chain survives crashes and replication: concurrent writers are cut
# off by an immediate shutdown and by kill -9 of a backend in the middle of
# writing; after recovery everything verifies, nothing committed is lost
# from the chain, and a streaming standby verifies the same chain with the
# same result and the same digest.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('primary', sealer => 'bank', init => { allows_streaming => 1 }, no_start => 1);
# The test framework turns crash restarts off; this test needs them.
$primary->append_conf('postgresql.conf', 'restart_after_crash = on');
$primary->start;
$primary->safe_psql('postgres', 'CREATE DATABASE bank');
$primary->safe_psql('bank', q{
	CREATE EXTENSION finsec;
	CREATE TABLE transfers (id bigserial PRIMARY KEY, src text NOT NULL, dst text NOT NULL,
	                        amount numeric(18,2) NOT NULL);
	SELECT finsec.protect_table('transfers');
	GRANT USAGE ON SCHEMA public TO finsec_app;
	GRANT INSERT ON transfers TO finsec_app;
	GRANT USAGE ON SEQUENCE transfers_id_seq TO finsec_app;
});

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# Writers: pgbench clients inserting transfers and audit events, some in
# transactions that roll back.
my $script = $primary->basedir . '/write.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
BEGIN;
INSERT INTO transfers (src, dst, amount) VALUES ('a', 'b', random() * 100);
SELECT finsec.audit_event('transfer.create', object => 'transfers', action => 'insert');
END;
BEGIN;
INSERT INTO transfers (src, dst, amount) VALUES ('x', 'y', 1);
ROLLBACK;
});

sub start_writers
{
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'pgbench', '-n', '-c', '4', '-j', '2', '-T', $seconds, '-f', $script,
		  '-h', $primary->host, '-p', $primary->port, 'bank' ],
		'>', \$out, '2>', \$err);
	return $h;
}

# 1. Immediate shutdown (a crash for the cluster) in the middle of writes.
my $h = start_writers(30);
$primary->poll_query_until('bank', 'SELECT count(*) > 200 FROM transfers')
  or die 'writers did not start';
$primary->stop('immediate');
$h->finish;
$primary->start;
$primary->safe_psql('bank', 'SELECT finsec.audit_seal()');
is($primary->safe_psql('bank',
		"SELECT string_agg(ok || ' ' || rows_pending || ' ' || coalesce(first_failure, ''), ';') FROM finsec.audit_verify()"),
	'true 0 ;true 0 ', 'after a crash mid-write, every chain verifies with nothing pending');
is($primary->safe_psql('bank',
		"SELECT (SELECT count(*) FROM transfers) = (SELECT sealed_rows FROM finsec.ledger_chain WHERE relid = 'transfers'::regclass)"),
	't', 'every committed row survived and is in the chain');

# 2. kill -9 of a backend in the middle of a large insert: the postmaster
# reinitialises every session, and the half-written transaction is gone.
my ($in, $out, $err) = ('', '', '');
my $victim = IPC::Run::start(
	[ 'psql', '-X', '-h', $primary->host, '-p', $primary->port, '-d', 'bank', '-c',
	  q{INSERT INTO transfers (src, dst, amount) SELECT 'k', 'l', g FROM generate_series(1, 5000000) g} ],
	'<', \$in, '>', \$out, '2>', \$err);
$h = start_writers(30);
$primary->poll_query_until('bank',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE 'INSERT INTO transfers (src, dst, amount) SELECT%'")
  or die 'the large insert did not start';
sleep 1;
my $pid = $primary->safe_psql('bank',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE 'INSERT INTO transfers (src, dst, amount) SELECT%'");
kill 'KILL', $pid;
$victim->finish;
$h->finish;
$primary->poll_query_until('bank', 'SELECT true') or die 'primary did not recover';
ok($primary->log_contains(qr/terminated by signal 9: Killed/), 'the backend was killed with signal 9');
$primary->safe_psql('bank', 'SELECT finsec.audit_seal()');
is($primary->safe_psql('bank',
		"SELECT string_agg(ok || ' ' || rows_pending || ' ' || coalesce(first_failure, ''), ';') FROM finsec.audit_verify()"),
	'true 0 ;true 0 ', 'after kill -9 of a writer, every chain verifies');
is($primary->safe_psql('bank', "SELECT count(*) FROM transfers WHERE src = 'k'"), '0',
	'the killed transaction left no rows');

# 3. The background sealer keeps up on its own.
$primary->safe_psql('bank', "INSERT INTO transfers (src, dst, amount) VALUES ('s', 't', 5)");
ok($primary->poll_query_until('bank',
		"SELECT rows_pending = 0 FROM finsec.audit_verify('transfers')"),
	'the sealer worker seals new rows without being asked');

# 4. The standby holds and verifies the same chain.  Each audit_verify()
# above left an audit.verify row (finsec 1.3): wait until the sealer sealed
# them, and compare with the verification that records nothing
# (_audit_verify_rows), so that the primary's chain stays put.
ok($primary->poll_query_until('bank',
		"SELECT bool_and(rows_pending = 0) FROM finsec._audit_verify_rows()"),
	'the sealer sealed the records of the verifications too');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
my $q = "SELECT string_agg(relation || ' ' || ok || ' ' || rows_checked || ' ' || blocks_checked, ';' ORDER BY relation::text) FROM finsec._audit_verify_rows()";
my $on_primary = $primary->safe_psql('bank', $q);
is($standby->safe_psql('bank', $q), $on_primary, "the standby verifies the same chain ($on_primary)");
my $heads = q{SELECT d->'system_identifier', jsonb_path_query_array(d, '$.chains[*].head_hash') FROM finsec.audit_digest() d};
is($standby->safe_psql('bank', $heads), $primary->safe_psql('bank', $heads),
	'and its digest names the same system and chain heads');
my ($ret, $o, $e) = $standby->psql('bank', 'SELECT finsec.audit_seal()');
like($e, qr/cannot seal the ledger during recovery/, 'a standby refuses to seal');

$standby->stop;
$primary->stop;
done_testing();
