# finsec sensitivity labels across pg_dump / pg_restore and sessions
# (docs/protected-data.md#labels): custom and plain dumps carry the labels
# and the clearances, a restore (custom with pg_restore, plain with psql)
# brings them back with enforcement on at once, the dump itself is an
# audited read, and an open session sees a label or clearance change at
# its next statement without reconnecting.
use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('labels', init => { allows_streaming => 1 });
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
	CREATE EXTENSION finsec;
	CREATE ROLE lb_adm1 LOGIN IN ROLE finsec_admin;
	CREATE ROLE lb_adm2 LOGIN IN ROLE finsec_admin;
	CREATE ROLE lb_clerk LOGIN;
	CREATE ROLE lb_app LOGIN;
	CREATE TABLE cust (id int PRIMARY KEY, name text, phone text, note text);
	INSERT INTO cust VALUES (1, '张三', '13800138000', 'a'), (2, '李四', '13900139000', 'b');
	SECURITY LABEL FOR finsec ON COLUMN cust.name IS 'sensitive';
	SECURITY LABEL FOR finsec ON COLUMN cust.phone IS 'identifier';
	SECURITY LABEL FOR finsec ON COLUMN cust.id IS 'public';
	CREATE TABLE ev (id int, detail text, day date) PARTITION BY RANGE (day);
	CREATE TABLE ev_2026 PARTITION OF ev FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
	INSERT INTO ev VALUES (1, 'x', '2026-03-01');
	SECURITY LABEL FOR finsec ON TABLE ev IS 'quasi_identifier';
	CREATE VIEW cust_v AS SELECT id, note FROM cust;
	SECURITY LABEL FOR finsec ON VIEW cust_v IS 'internal';
	GRANT SELECT ON cust, ev, ev_2026, cust_v TO lb_clerk, lb_app;
	SET SESSION AUTHORIZATION lb_adm1;
	SELECT finsec.label_grant('sensitive', 'lb_app', false, 'the application');
	SET SESSION AUTHORIZATION lb_adm2;
	SELECT finsec.approve(max(request_id)) FROM finsec.change_request WHERE kind = 'protect.clearance_grant';
});

my $labels_q = q{
	SELECT c.relname || coalesce('.' || a.attname, '') || '=' || s.label
	  FROM pg_seclabel s JOIN pg_class c ON c.oid = s.objoid
	  LEFT JOIN pg_attribute a ON a.attrelid = s.objoid AND a.attnum = s.objsubid AND s.objsubid > 0
	 WHERE s.provider = 'finsec' AND s.classoid = 'pg_class'::regclass
	 ORDER BY 1};
my $clear_q = q{SELECT label || ':' || grantee || ':' || audited FROM finsec.label_clearance ORDER BY 1};
my $labels = $node->safe_psql('source', $labels_q);
is($labels, "cust.id=public\ncust.name=sensitive\ncust.phone=identifier\ncust_v=internal\nev=quasi_identifier",
	'source: the labels');
is($node->safe_psql('source', $clear_q), 'sensitive:lb_app:false', 'source: the clearance');

# Reading through a role: 'ok', or the SQLSTATE and message of the refusal.
sub read_as
{
	my ($db, $role, $sql) = @_;
	my ($rc, $out, $err) = $node->psql($db, $sql, extra_params => [ '-U', $role ]);
	return 'ok' if $rc == 0;
	$err =~ s/\n.*//s;
	return $err;
}

sub enforced
{
	my ($db, $what) = @_;
	like(read_as($db, 'lb_clerk', 'SELECT name FROM cust'), qr/permission denied to read column name of public\.cust/,
		"$what: an uncleared role is refused the sensitive column");
	like(read_as($db, 'lb_clerk', 'SELECT id FROM ev_2026'), qr/permission denied to read column id of public\.ev_2026/,
		"$what: and a partition of the labelled table");
	is(read_as($db, 'lb_clerk', 'SELECT id, note FROM cust'), 'ok', "$what: unlabelled columns stay readable");
	is(read_as($db, 'lb_app', 'SELECT name, phone FROM cust'), 'ok', "$what: the cleared application reads");
	like(read_as($db, 'lb_clerk', q{SECURITY LABEL FOR finsec ON COLUMN cust.name IS NULL}), qr/must be owner/,
		"$what: a non-owner cannot touch a label");
	my ($rc, $out, $err) = $node->psql($db, q{SECURITY LABEL FOR finsec ON COLUMN cust.name IS 'public'});
	like($err, qr/S9P40|cannot be lowered directly/, "$what: lowering stays refused, to a superuser too");
}
enforced('source', 'source');

# ---- dumps ----
$node->safe_psql('source', 'SELECT finsec.flush_audit_events()');
my $before = $node->safe_psql('source', q{SELECT coalesce(max(finsec_seq), 0) FROM finsec.audit});
my $custom = $node->basedir . '/labels.dump';
my $plain = $node->basedir . '/labels.sql';
command_ok([ 'pg_dump', '-Fc', '-f', $custom, '-d', $node->connstr('source') ], 'pg_dump -Fc');
command_ok([ 'pg_dump', '-Fp', '-f', $plain, '-d', $node->connstr('source') ], 'pg_dump -Fp');
my $text = slurp_file($plain);
like($text, qr/SECURITY LABEL FOR finsec ON COLUMN public\.cust\.name IS 'sensitive';/, 'plain dump: the column label');
like($text, qr/SECURITY LABEL FOR finsec ON TABLE public\.ev IS 'quasi_identifier';/, 'plain dump: the table label');
like($text, qr/COPY finsec\.label_clearance .*\nsensitive\tlb_app\tf\t/, 'plain dump: the clearance');
# pg_dump reads in a read-only transaction: its reads reach the ledger at the flush
$node->safe_psql('source', 'SELECT finsec.flush_audit_events()');
my $su = $node->safe_psql('postgres', 'SELECT current_user');
is($node->safe_psql('source', qq{
	SELECT string_agg(object || ':' || db_user || ':' || n, ',' ORDER BY object) FROM (
		SELECT object, db_user, count(*) AS n FROM finsec.audit
		 WHERE finsec_seq > $before AND event_type = 'label.read' GROUP BY 1, 2) x}),
	"public.cust:$su:2,public.ev_2026:$su:2",
	'each dump read each labelled table (and the partition) as one audited read: the superuser is audited, not exempt');

sub restored
{
	my ($db, $what) = @_;
	is($node->safe_psql($db, $labels_q), $labels, "$what: every label restored");
	is($node->safe_psql($db, $clear_q), 'sensitive:lb_app:false', "$what: the clearance restored");
	enforced($db, $what);
}

$node->safe_psql('postgres', 'CREATE DATABASE target_custom');
{
	local $ENV{PGOPTIONS} = '-c finsec.restore=on';
	command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target_custom'), $custom ],
		'pg_restore of the custom dump without any error');
}
restored('target_custom', 'custom');

$node->safe_psql('postgres', 'CREATE DATABASE target_plain');
{
	local $ENV{PGOPTIONS} = '-c finsec.restore=on';
	command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('target_plain'), '-f', $plain ],
		'psql restores the plain dump without any error');
}
restored('target_plain', 'plain');

# ---- without finsec preloaded there is no provider: the restore fails
# rather than storing labels nothing would enforce ----
my $bare = finsec_node('labels_bare', preload => 0);
$bare->safe_psql('postgres', 'CREATE DATABASE target');
{
	local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
	my ($ok, $out, $err) = (0, '', '');
	my @cmd = ('pg_restore', '--exit-on-error', '-d', $bare->connstr('target'), $custom);
	$ok = IPC::Run::run(\@cmd, '>', \$out, '2>', \$err);
	ok(!$ok, 'not preloaded: pg_restore fails');
	like($err, qr/security label provider "finsec" is not loaded/, 'not preloaded: at the first finsec label');
}
$bare->stop;

# ---- a second, open session sees changes at its next statement ----
my $s = $node->background_psql('source', extra_params => [ '-U', 'lb_clerk' ], on_error_stop => 0);
sub bg
{
	my ($sql) = @_;
	$s->{stderr} = '';
	my $out = $s->query($sql);
	return $s->{stderr} =~ /permission denied to read/ ? 'refused' : ($s->{stderr} eq '' ? "ok:$out" : "other: $s->{stderr}");
}
is(bg('SELECT note FROM cust WHERE id = 1'), 'ok:a', 'open session: note is readable');
is(bg('SELECT name FROM cust WHERE id = 1'), 'refused', 'open session: name is not (cached as labelled)');
$node->safe_psql('source', q{SECURITY LABEL FOR finsec ON COLUMN cust.note IS 'sensitive'});
is(bg('SELECT note FROM cust WHERE id = 1'), 'refused', 'open session: a new label applies at the next statement');
$node->safe_psql('source', q{
	SET SESSION AUTHORIZATION lb_adm1;
	SELECT finsec.label_grant('sensitive', 'lb_clerk', true, 'cleared');
	SET SESSION AUTHORIZATION lb_adm2;
	SELECT finsec.approve(max(request_id)) FROM finsec.change_request WHERE kind = 'protect.clearance_grant';
});
is(bg('SELECT name FROM cust WHERE id = 1'), 'ok:张三', 'open session: a clearance granted elsewhere applies at once');
$node->safe_psql('source', q{
	SET SESSION AUTHORIZATION lb_adm1;
	SELECT finsec.label_revoke('sensitive', 'lb_clerk', 'done');
});
is(bg('SELECT name FROM cust WHERE id = 1'), 'refused', 'open session: a revocation applies at once');
# a label change approved in another session
$node->safe_psql('source', q{
	SET SESSION AUTHORIZATION lb_adm1;
	SELECT finsec.label_change('cust', 'name', 'internal', 'not personal after all');
	SET SESSION AUTHORIZATION lb_adm2;
	SELECT finsec.approve(max(request_id)) FROM finsec.change_request WHERE kind = 'protect.label_change';
});
is(bg('SELECT name FROM cust WHERE id = 1'), 'ok:张三', 'open session: an approved lowering applies at once');
# inside an open transaction of the session, a change becomes visible at the next statement too
bg('BEGIN');
$node->safe_psql('source', q{SECURITY LABEL FOR finsec ON COLUMN cust.name IS 'identifier'});
is(bg('SELECT name FROM cust WHERE id = 1'), 'refused', 'open transaction: a raise applies at the next statement');
bg('ROLLBACK');
$s->quit;

# ---- a standby: the ledger cannot be written there ----
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('labels_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
sub read_standby
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = $standby->psql('source', $sql, extra_params => [ '-U', $role ]);
	return $rc == 0 ? "ok:$out" : ($err =~ /(S9P42|permission denied to read column \w+)/ ? $1 : $err);
}
is(read_standby('lb_app', 'SELECT name FROM cust WHERE id = 2'), 'ok:李四',
	'standby: a clearance with audited = false reads');
is(read_standby('lb_clerk', 'SELECT phone FROM cust WHERE id = 2'), 'permission denied to read column phone',
	'standby: an uncleared role is refused');
my ($rc, $out, $err) = $standby->psql('source', 'SELECT phone FROM cust WHERE id = 2', extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/S9P42.*refused on a standby/, 'standby: an audited read (the superuser) is refused: it cannot be recorded');
$standby->stop;

# Constraint errors (attack17 V5): the DETAIL of a check, not-null or unique
# violation on a table with a restricted plain column names no value, for
# the client and in the server log; an unlabelled table keeps PostgreSQL's.
$node->safe_psql('source', q{
	CREATE TABLE lt (id int PRIMARY KEY, ssn text UNIQUE, note text NOT NULL DEFAULT 'n', x int CHECK (x > 0));
	INSERT INTO lt VALUES (1, 'LABELLED-SSN-9', 'a', 1);
	SECURITY LABEL FOR finsec ON COLUMN lt.ssn IS 'sensitive';
	GRANT SELECT, INSERT, UPDATE ON lt TO lb_clerk;
	CREATE TABLE free (id int CHECK (id > 5), v text);
	GRANT SELECT, INSERT ON free TO lb_clerk;
});
my $log_off = -s $node->logfile;
sub clerk_error
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('source', $sql,
		extra_params => [ '-U', 'lb_clerk', '-v', 'VERBOSITY=verbose' ]);
	return $err;
}
my $e = clerk_error(q{UPDATE lt SET x = 0 WHERE id = 1});
like($e, qr/23514.*\n.*DETAIL:  Failing row contains values of labelled columns \(hidden by finsec\)\./,
	'check violation: the client gets the hidden detail');
unlike($e, qr/LABELLED-SSN-9/, 'check violation: no labelled value for the client');
$e = clerk_error(q{UPDATE lt SET note = NULL WHERE id = 1});
like($e, qr/23502.*\n.*DETAIL:  Failing row contains values of labelled columns/, 'not-null violation: hidden detail');
$e = clerk_error(q{INSERT INTO lt (id, ssn) VALUES (2, 'LABELLED-SSN-9')});
like($e, qr/23505.*\n.*DETAIL:  Key values of labelled columns \(hidden by finsec\)\./,
	'unique violation: the key is hidden');
$e = clerk_error(qq{COPY lt (id, ssn) FROM STDIN;\n1\tcopy-guess\n\\.\n});
like($e, qr/23505.*\n.*DETAIL:  Key values of labelled columns/, 'COPY FROM: the key is hidden');
$e = clerk_error(q{INSERT INTO free VALUES (1, 'plain-value')});
like($e, qr/DETAIL:  Failing row contains \(1, plain-value\)\./, 'unlabelled table: PostgreSQL detail kept');
my $log = substr(slurp_file($node->logfile), $log_off);
unlike($log, qr/LABELLED-SSN-9\)|\(1, LABELLED|copy-guess\)/, 'server log: no labelled value in a detail');
like($log, qr/DETAIL:  Failing row contains values of labelled columns \(hidden by finsec\)\./,
	'server log: the hidden failing-row detail');
like($log, qr/DETAIL:  Key values of labelled columns \(hidden by finsec\)\./, 'server log: the hidden key detail');

$node->stop;
done_testing();
