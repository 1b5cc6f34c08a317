# Durability and continuity checks on real clusters
# (docs/compliance.md): fsync and data checksums on;
# WAL archiving to a local directory passes, a failing archive_command
# fails it, and it passes again once archiving recovers; a streaming
# standby makes standby_present pass (the standby itself says it is one);
# a synchronous standby (synchronous_standby_names = 'FIRST 1 (s1)') with
# a declared failover tool and a recorded drill makes finsec.dr_level()
# infer level 5, level 6 once the drill is within 2 minutes, and back to
# 5 with synchronous_commit = remote_write; with the standby gone the
# level falls and standby_present fails.  Every check runs as an
# auditor (no superuser, no pg_read_all_stats).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('primary',
	init => { allows_streaming => 1, has_archiving => 1, extra => ['--data-checksums'] },
	no_start => 1);
$primary->append_conf('postgresql.conf', "fsync = on\narchive_timeout = '60s'");
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE auditor LOGIN IN ROLE finsec_auditor;
	CREATE ROLE oper LOGIN IN ROLE finsec_operator;
	CREATE TABLE t (i int);
});

# check($node, name, args): "status|evidence" of a check, as the auditor.
sub check
{
	my ($node, $name, $args) = @_;
	$args //= '{}';
	return $node->safe_psql('postgres',
		"SET ROLE auditor; SELECT status || '|' || evidence::text FROM finsec._check_$name('$args')");
}
sub status_of { my $r = check(@_); $r =~ s/\|.*//s; return $r; }
sub level
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		'SET ROLE auditor; SELECT coalesce(max(level) FILTER (WHERE meets), 0) FROM finsec.dr_level()');
}
sub missing
{
	my ($node, $lv) = @_;
	return $node->safe_psql('postgres', "SET ROLE auditor; SELECT missing FROM finsec.dr_level() WHERE level = $lv");
}
sub switch_wal
{
	my ($node) = @_;
	$node->safe_psql('postgres', 'INSERT INTO t VALUES (1); SELECT pg_switch_wal()');
}

# --- durability settings --------------------------------------------------
is(status_of($primary, 'fsync'), 'pass', 'fsync on: pass (the regression cluster, fsync off, fails: sql/154)');
is(status_of($primary, 'data_checksums'), 'pass', 'initdb --data-checksums: pass');
is(status_of($primary, 'full_page_writes'), 'pass', 'full_page_writes on: pass');

# --- WAL archiving to a local directory -------------------------------------
switch_wal($primary);
$primary->poll_query_until('postgres', 'SELECT archived_count > 0 FROM pg_stat_archiver')
  or die 'nothing archived';
my $r = check($primary, 'wal_archiving');
like($r, qr/^pass\|/, 'archiving with cp to a local directory: pass') or diag($r);
like($r, qr/"archive_program": "cp"/, '(the evidence names the program, not the command line)');
unlike($r, qr/\Q${\ $primary->archive_dir }\E/, '(nor the archive path of the command)');

# A failing archive_command: fail, naming the failure.
$primary->safe_psql('postgres', q{ALTER SYSTEM SET archive_command = 'false'; SELECT pg_reload_conf()});
sleep 1;
my $failed_before = $primary->safe_psql('postgres', 'SELECT failed_count FROM pg_stat_archiver');
switch_wal($primary);
$primary->poll_query_until('postgres', "SELECT failed_count > $failed_before FROM pg_stat_archiver")
  or die 'archiving did not fail';
$r = check($primary, 'wal_archiving');
like($r, qr/^fail\|/, 'a failing archive_command: fail') or diag($r);
like($r, qr/the last archiving attempt failed/, '(the evidence says the last attempt failed)');

# It recovers: pass again.
$primary->safe_psql('postgres', q{ALTER SYSTEM RESET archive_command; SELECT pg_reload_conf()});
$primary->poll_query_until('postgres',
	'SELECT last_archived_time > last_failed_time FROM pg_stat_archiver')
  or die 'archiving did not recover';
is(status_of($primary, 'wal_archiving'), 'pass', 'archiving recovered: pass again');

# No standby yet.
is(status_of($primary, 'standby_present'), 'fail', 'no standby: standby_present fails');

# --- a streaming standby ----------------------------------------------------
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('s1');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$primary->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_replication WHERE state = 'streaming'})
  or die 'no streaming standby';
$r = check($primary, 'standby_present');
like($r, qr/^pass\|/, 'a streaming standby: standby_present passes (seen by the auditor)') or diag($r);
like($r, qr/"streaming_standbys": 1/, '(one standby, observed)');
$r = check($standby, 'standby_present');
like($r, qr/^warn\|.*this server is itself a standby/, 'on the standby: warn, saying it is a standby') or diag($r);
is(status_of($standby, 'wal_archiving'), 'out_of_scope', 'on the standby: archiving is the primary\'s');
$r = check($primary, 'realtime_offsite_backup');
like($r, qr/^warn\|.*not observable/, 'archiving and a standby on this host: warn (off-site not observable)') or diag($r);
# The auditor does not hold pg_read_all_stats: it reads pg_stat_replication's
# state only through finsec._continuity_facts().
is($primary->safe_psql('postgres', q{SET ROLE auditor; SELECT count(state) FROM pg_stat_replication}), '0',
	'(the auditor itself sees no state in pg_stat_replication)');

# --- the register, then dr_level ---------------------------------------------
$primary->safe_psql('postgres', q{SET SESSION AUTHORIZATION oper;
	SELECT finsec.record_backup('full', 'base', now() - interval '2 hours', now() - interval '1 hour', tool => 'pg_basebackup');
	SELECT finsec.record_restore_test(now() - interval '50 minutes', now() - interval '40 minutes', true, 'base');
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(level($primary), '4', 'asynchronous standby, archiving, a backup and a restore test: level 4');
like(missing($primary, 5), qr/synchronous replication/, 'level 5 misses synchronous replication');

# A synchronous standby: the recovery point is 0, but no failover tool or drill yet.
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (s1)'; SELECT pg_reload_conf()});
$primary->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_replication WHERE sync_state = 'sync'})
  or die 'the standby did not become synchronous';
is(level($primary), '4', 'synchronous standby, no failover tool, no drill: still level 4');
my $m5 = missing($primary, 5);
unlike($m5, qr/synchronous replication/, 'level 5 no longer misses synchronous replication');
like($m5, qr/failover tooling declared/, 'level 5 misses the declared failover tool');
like($m5, qr/switchover drill/, 'level 5 misses a drill');

# The failover tool declared and a drill of 5 minutes: level 5.
$primary->safe_psql('postgres', q{ALTER SYSTEM SET finsec.dr_failover_tool = 'patroni'; SELECT pg_reload_conf()});
$primary->safe_psql('postgres', q{SET SESSION AUTHORIZATION oper;
	SELECT finsec.record_switchover_drill('primary', 's1', now() - interval '1 day', now() - interval '1 day' + interval '300 seconds', true)});
is(level($primary), '5', 'FIRST 1 (s1) synchronous, patroni declared, a 300 s drill: level 5');
like(missing($primary, 6), qr/at most 120 seconds \(now: 300 seconds\)/, 'level 6 misses a drill within 2 minutes');
$primary->safe_psql('postgres', q{ALTER SYSTEM SET finsec.dr_target_level = 5; SELECT pg_reload_conf()});
$r = check($primary, 'dr_level');
like($r, qr/^pass\|.*"inferred_level": 5/, 'target 5: the dr_level check passes') or diag($r);
like($r, qr/"failover_tool": "patroni"/, '(the evidence shows the declared tool)');

# A drill within 2 minutes: level 6; remote_write is only "≈ 0": back to 5.
$primary->safe_psql('postgres', q{SET SESSION AUTHORIZATION oper;
	SELECT finsec.record_switchover_drill('s1', 'primary', now() - interval '1 hour', now() - interval '1 hour' + interval '45 seconds', true)});
is(level($primary), '6', 'a 45 s drill with synchronous_commit on: level 6');
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_commit = remote_write; SELECT pg_reload_conf()});
sleep 1;
is(level($primary), '5', 'synchronous_commit = remote_write: level 5 (RPO ≈ 0, not 0)');
# A role that commits without waiting breaks the synchronous recovery point.
$primary->safe_psql('postgres', q{ALTER SYSTEM RESET synchronous_commit; SELECT pg_reload_conf();
	CREATE ROLE batch LOGIN; ALTER ROLE batch SET synchronous_commit = local});
sleep 1;
is(level($primary), '4', 'a role with synchronous_commit = local: level 4');
is(status_of($primary, 'synchronous_commit'), 'fail', '(and the synchronous_commit check fails)');
$primary->safe_psql('postgres', q{ALTER ROLE batch RESET synchronous_commit});
is(level($primary), '6', 'the role reset: level 6 again');

# ANY 1 (s1): quorum counts as well.
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (s1)'; SELECT pg_reload_conf()});
$primary->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_replication WHERE sync_state = 'quorum'})
  or die 'the standby did not become a quorum standby';
is(level($primary), '6', 'ANY 1 (s1), the standby in quorum: level 6');
# Two required, one connected: not synchronous.
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'FIRST 2 (s1, s2)'; SELECT pg_reload_conf()});
sleep 1;
is(level($primary), '4', 'FIRST 2 (s1, s2) with only s1 connected: level 4');
like(missing($primary, 5), qr/now: 1 synchronous of 2 required/, '(one synchronous of two required)');
$primary->safe_psql('postgres', q{ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (s1)'; SELECT pg_reload_conf()});
$primary->poll_query_until('postgres', q{SELECT count(*) = 1 FROM pg_stat_replication WHERE sync_state = 'sync'})
  or die 'the standby did not become synchronous again';

# --- the standby gone ---------------------------------------------------------
$standby->stop;
$primary->poll_query_until('postgres', q{SELECT count(*) = 0 FROM pg_stat_replication})
  or die 'the walsender did not go';
is(status_of($primary, 'standby_present'), 'fail', 'standby stopped: standby_present fails');
my $lv = level($primary);
ok($lv <= 4, "standby stopped: level $lv, at most 4");
$r = check($primary, 'dr_level');
like($r, qr/^fail\|/, 'target 5 with the standby gone: the dr_level check fails') or diag($r);
like($r, qr/a streaming standby to fail over to/, '(missing: a standby to fail over to)');

my $log = slurp_file($primary->logfile);
unlike($log, qr/PANIC|TRAP/, 'primary: no PANIC');
done_testing();
