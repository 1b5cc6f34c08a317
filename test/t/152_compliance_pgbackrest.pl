# pgBackRest and the backup register (docs/compliance.md#pgbackrest).
#
# A local pgBackRest repository in the test's directory (no network):
# archive-push as the archive_command, stanza-create, a real full and a
# real incremental backup, each recorded from `pgbackrest info
# --output=json` by scripts/pgbackrest-record-backup (the hook the docs
# describe); a real restore of the incremental backup into a new data
# directory, started as a cluster and checked for the last row written
# before the backup, recorded with record_restore_test.  The backup checks
# pass; the same cluster started under libfaketime four months later
# fails backup_schedule and restore_tested (a register that ages, not a
# clock override in finsec).
use strict;
use warnings;

use File::Path ();
use FindBin;
use IPC::Run ();
use JSON::PP;
use Time::HiRes ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

plan skip_all => 'pgbackrest is not installed' unless -x '/usr/bin/pgbackrest';

my $hook = "$FindBin::Bin/../../scripts/pgbackrest-record-backup";
my $node = finsec_node('pri', init => { allows_streaming => 1 }, no_start => 1);
my $base = $node->basedir;
my $conf = "$base/pgbackrest.conf";
mkdir "$base/$_" for qw(repo log lock spool);
open my $fh, '>', $conf or die "cannot write $conf: $!";
print $fh <<"EOC";
[global]
repo1-path=$base/repo
repo1-retention-full=2
log-path=$base/log
lock-path=$base/lock
spool-path=$base/spool
log-level-console=warn
log-level-file=detail
start-fast=y
compress-type=none
process-max=1

[main]
pg1-path=${\ $node->data_dir }
pg1-port=${\ $node->port }
pg1-socket-path=${\ $node->host }
EOC
close $fh;
$node->append_conf('postgresql.conf',
	"archive_mode = on\narchive_command = 'pgbackrest --config=$conf --stanza=main archive-push %p'");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE auditor LOGIN IN ROLE finsec_auditor;
	CREATE ROLE backup LOGIN;
	GRANT USAGE ON SCHEMA finsec TO backup;
	GRANT EXECUTE ON FUNCTION finsec.record_backup(text, text, timestamptz, timestamptz, boolean, text, bigint, text, timestamptz, jsonb) TO backup;
	CREATE ROLE oper LOGIN IN ROLE finsec_operator;
	CREATE TABLE pay (id int PRIMARY KEY, note text);
	INSERT INTO pay SELECT g, 'before the full backup' FROM generate_series(1, 1000) g;
});

sub pgbackrest
{
	my @cmd = ('pgbackrest', "--config=$conf", '--stanza=main', @_);
	my ($out, $err);
	my $ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	ok($ok, "pgbackrest @_") or diag("$out\n$err");
	return $out;
}
sub check
{
	my ($name) = @_;
	return $node->safe_psql('postgres',
		"SET ROLE auditor; SELECT status || '|' || evidence::text FROM finsec._check_$name('{}')");
}
# The hook, as a backup tool's cron job runs it: as the dedicated backup role.
sub run_hook
{
	local $ENV{PGBACKREST_CONFIG} = $conf;
	local $ENV{PGHOST} = $node->host;
	local $ENV{PGPORT} = $node->port;
	local $ENV{PGDATABASE} = 'postgres';
	local $ENV{PGUSER} = 'backup';
	my ($out, $err);
	my $ok = IPC::Run::run([ 'sh', $hook, 'main', @_ ], '>', \$out, '2>', \$err);
	chomp $out;
	return ($ok, $out, $err);
}
sub record_hook
{
	my ($label) = @_;
	my ($ok, $out, $err) = run_hook($label // ());
	ok($ok, 'the hook records ' . ($label // 'the newest backup')) or diag("$out\n$err");
	return $out;
}

pgbackrest('stanza-create');
pgbackrest('check');
is(check('backup_schedule') =~ s/\|.*//sr, 'fail', 'before any backup: backup_schedule fails');

# --- a full and an incremental backup -----------------------------------------
pgbackrest('backup', '--type=full');
$node->safe_psql('postgres', q{INSERT INTO pay SELECT g, 'before the incremental backup' FROM generate_series(1001, 1500) g});
pgbackrest('backup', '--type=incr');
$node->safe_psql('postgres', q{INSERT INTO pay VALUES (1501, 'last row before the restore'); SELECT pg_switch_wal()});
$node->poll_query_until('postgres',
	q{SELECT last_archived_wal IS NOT NULL AND last_archived_time > now() - interval '1 minute' FROM pg_stat_archiver})
  or die 'archive-push did not archive';

my $info = decode_json(pgbackrest('info', '--output=json'));
my @backups = @{ $info->[0]{backup} };
is(scalar(@backups), 2, 'pgbackrest info: two backups');
is(join(',', map { $_->{type} } @backups), 'full,incr', '(a full and an incremental one)');
my ($full, $incr) = map { $_->{label} } @backups;

# Recorded by the hook: the full one by label, the newest (incremental) by default.
ok(record_hook($full) > 0, 'the full backup recorded');
ok(record_hook() > 0, 'the newest backup recorded');
is($node->safe_psql('postgres',
		q{SELECT string_agg(kind || ':' || label || ':' || tool || ':' || recorded_by || ':' || (size_bytes > 0) || ':' || location, ',' ORDER BY id)
		    FROM finsec.backup_register}),
	"full:$full:pgbackrest:backup:true:pgbackrest:main/$full,incremental:$incr:pgbackrest:backup:true:pgbackrest:main/$incr",
	'the register has both, with kind, label, size and the repository location, recorded by the backup role');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM finsec.backup_register b
		   WHERE finished_at >= started_at AND finished_at <= now() AND started_at > now() - interval '10 minutes'
			 AND detail ? 'lsn' AND detail ? 'wal'}),
	'2', 'the times are the backups\' own (pgbackrest info), with LSNs and WAL range as detail');
is($node->safe_psql('postgres', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'continuity.backup'}),
	'2', 'both recordings are in the audit ledger');
# The hook refuses a label the repository does not have.
{
	my ($ok, $out, $err) = run_hook('no-such-label');
	ok(!$ok && $err =~ /no backup no-such-label/, 'the hook fails on an unknown label') or diag("$out\n$err");
}

# --- a real restore into a new data directory, started as a cluster ------------
my $restored = PostgreSQL::Test::Cluster->new('restored');
File::Path::make_path($restored->data_dir, { mode => 0700 });
my $started = Time::HiRes::time();
pgbackrest('restore', "--pg1-path=${\ $restored->data_dir }", "--set=$incr", '--type=default');
$restored->append_conf('postgresql.conf',
	"port = ${\ $restored->port }\nunix_socket_directories = '${\ $restored->host }'\narchive_mode = off");
$restored->start;
$restored->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()') or die 'the restored cluster did not finish recovery';
my $finished = Time::HiRes::time();
my $rows = $restored->safe_psql('postgres', q{SELECT count(*) || ':' || max(id) FROM pay});
is($rows, '1501:1501', 'the restored cluster has every row, up to the last one archived after the incremental backup');
my $rto = sprintf('%.3f', $finished - $started);
$node->safe_psql('postgres', qq{SET SESSION AUTHORIZATION oper;
	SELECT finsec.record_restore_test(to_timestamp($started), to_timestamp($finished), true, '$incr',
		target => 'restored', rpo_seconds => 0,
		detail => jsonb_build_object('rows', '$rows', 'tool', 'pgbackrest restore --set=$incr'))});
# The restore ended recovery on a new timeline, which the drill check shows.
is($restored->safe_psql('postgres', q{SELECT evidence ->> 'timeline_id' FROM finsec._check_switchover_drilled('{}')}),
	'2', 'the restored cluster is on timeline 2 (observed in the switchover_drilled evidence)');
$restored->stop;

# --- the checks pass ---------------------------------------------------------
my $r = check('backup_schedule');
like($r, qr/^pass\|/, 'a full and an incremental backup today: backup_schedule passes') or diag($r);
$r = check('restore_tested');
like($r, qr/^pass\|/, 'a restore test today: restore_tested passes') or diag($r);
like($r, qr/"backup_label": "\Q$incr\E"/, '(naming the backup restored)');
is(check('wal_archiving') =~ s/\|.*//sr, 'pass', 'archive-push as archive_command: wal_archiving passes');
is($node->safe_psql('postgres', q{SET ROLE auditor; SELECT max(level) FILTER (WHERE meets) FROM finsec.dr_level()}),
	'2', 'dr_level on a single node with pgBackRest and no archive_timeout: level 2');

# The register survives pg_dump and pg_restore (configuration tables).
$node->command_ok([ 'pg_dump', '-Fc', '-f', "$base/register.dump", 'postgres' ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE copy');
$node->command_ok([ 'pg_restore', '-d', 'copy', "$base/register.dump" ], 'pg_restore');
my $rows_sql = q{SELECT (SELECT string_agg(kind || ':' || label || ':' || success, ',' ORDER BY id) FROM finsec.backup_register)
				  || '|' || (SELECT string_agg(backup_label || ':' || rto_seconds, ',' ORDER BY id) FROM finsec.restore_test)};
is($node->safe_psql('copy', $rows_sql), $node->safe_psql('postgres', $rows_sql),
	'the restored database has the same register');

# --- four months later (libfaketime) -------------------------------------------
$node->stop;
start_faketime($node, '+120d');
is($node->safe_psql('postgres', q{SELECT (SELECT max(finished_at) FROM finsec.backup_register) < now() - interval '100 days'}),
	't', 'the server believes it is four months later');
$r = check('backup_schedule');
like($r, qr/^fail\|/, 'four months later: backup_schedule fails') or diag($r);
like($r, qr/no successful full backup in the last 7 days/, '(no full backup within 7 days)');
$r = check('restore_tested');
like($r, qr/^fail\|/, 'four months later: restore_tested fails (older than 92 days)') or diag($r);
is($node->safe_psql('postgres', q{SET ROLE auditor; SELECT coalesce(max(level) FILTER (WHERE meets), 0) FROM finsec.dr_level()}),
	'0', 'four months later: dr_level 0');
$node->stop;

done_testing();
