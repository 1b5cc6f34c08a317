# Attacks on protected data that need the server log or several sessions
# (issue 17, helper attack17; sql/125_protect_attack.sql has the rest).
#
# Tests marked "VULN" succeed as attacks today and fail here until fixed.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('attack17', init => { allows_streaming => 1 });
# What a production server logs by default: no statements, except those of
# errors (log_min_error_statement = error); the test harness logs all.
$node->append_conf('postgresql.conf', "log_statement = none");
$node->restart;
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE a17_adm1 LOGIN IN ROLE finsec_admin;
	CREATE ROLE a17_adm2 LOGIN IN ROLE finsec_admin;
	CREATE ROLE a17_app LOGIN IN ROLE finsec_app;
	CREATE ROLE a17_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
	CREATE ROLE a17_clerk LOGIN;
	GRANT CREATE ON SCHEMA public TO a17_app;
	SET SESSION AUTHORIZATION a17_adm1;
	SELECT finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm');
	SELECT finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256');
	SELECT finsec.protect_policy_create('a_name', mask => 'name');
	SELECT finsec.protect_policy_create('a_phone', mask => 'phone');
	SET SESSION AUTHORIZATION a17_adm2;
	SELECT finsec.approve(request_id) FROM finsec.change_request WHERE kind = 'key.generate' ORDER BY 1;
	RESET SESSION AUTHORIZATION;
	SET SESSION AUTHORIZATION a17_app;
	CREATE TABLE cust (id int PRIMARY KEY, name finsec.protected_text(a_name) UNIQUE,
					   mob finsec.protected_mobile(a_phone) UNIQUE, ssn text, x int CHECK (x > 0));
	INSERT INTO cust VALUES (1, 'ZhangSanFeng', '13912345678', 'LABELLED-SSN-1', 1);
	SECURITY LABEL FOR finsec ON COLUMN cust.ssn IS 'sensitive';
	GRANT SELECT, INSERT, UPDATE ON cust TO a17_unmask, a17_clerk;
	GRANT SELECT ON cust TO finsec_unmask;
});

# Run sql as role; 'ok' or the SQLSTATE.
sub as_role
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY sqlstate\n$sql",
		extra_params => [ '-U', $role ]);
	return 'ok' if $rc == 0;
	$err =~ /ERROR:\s+(\S+)/;
	return $1 // $err;
}

# Log written since offset, and the offset after it.
sub log_since
{
	my ($off) = @_;
	my $log = slurp_file($node->logfile);
	return (substr($log, $off), length($log));
}

my ($log, $off) = log_since(0);

# Input errors of finsec's types hide the statement: an invalid mobile
# number, a 1 MB+1 text, a forged sealed form.
is(as_role('a17_app', q{INSERT INTO cust (id, mob) VALUES (2, '1391234567X')}), '22P02', 'invalid mobile refused');
is(as_role('a17_app', q{INSERT INTO cust (id, name) VALUES (3, ('SECRET-TAIL' || repeat('q', 1048577))::finsec.protected_text(a_name))}),
	'22001', 'huge text refused');
($log, $off) = log_since($off);
unlike($log, qr/1391234567X/, 'input error: the invalid number is not in the server log');
unlike($log, qr/SECRET-TAIL/, 'input error: the huge value is not in the server log');

# A unique violation on a protected column: neither the statement with
# its clear literals nor the clear value is logged.  (The DETAIL logs the
# mask and the sealed form: documented in docs/protected-data.md.)
is(as_role('a17_app', q{INSERT INTO cust (id, name, mob) VALUES (4, 'ZhangSanFeng', '13800000001')}), '23505',
	'duplicate name refused');
is(as_role('a17_app', q{INSERT INTO cust (id, mob) VALUES (5, '13912345678')}), '23505', 'duplicate mobile refused');
($log, $off) = log_since($off);
unlike($log, qr/ZhangSanFeng/, 'unique violation: the clear name is not in the server log');
unlike($log, qr/13912345678/, 'unique violation: the clear mobile number is not in the server log');

# VULN V5 (high), in the log too: the failing-row detail of a check
# violation carries the labelled column in clear, for a role refused to
# read it, and the server log keeps it.
is(as_role('a17_clerk', q{SELECT ssn FROM cust}), '42501', 'clerk cannot read the labelled column');
is(as_role('a17_clerk', q{UPDATE cust SET x = 0}), '23514', 'check violation');
($log, $off) = log_since($off);
unlike($log, qr/LABELLED-SSN-1/, 'VULN V5: the labelled value is not in the failing-row detail in the server log');

# The reveal budget is one bucket per session user, across sessions and
# SET ROLE, and cannot be lowered by the user.
$node->safe_psql('postgres', q{ALTER ROLE a17_unmask SET finsec.reveal_budget = 2});
is(as_role('a17_unmask', q{SELECT finsec.reveal(name) FROM cust}), 'ok', 'first session: one reveal');
is(as_role('a17_unmask', q{SELECT finsec.reveal(name) FROM cust}), 'ok', 'second session: one reveal');
is(as_role('a17_unmask', q{SET ROLE finsec_unmask; SELECT finsec.reveal(name) FROM cust}), 'S9P20',
	'third session, another role: past the budget');
is(as_role('a17_unmask', q{SET finsec.reveal_budget = 0}), '42501', 'the user cannot lift the budget');
is(as_role('a17_unmask', q{BEGIN READ ONLY; SELECT finsec.reveal(name) FROM cust; COMMIT}), 'S9P20',
	'a read-only transaction does not escape the budget');

# A read-only transaction cannot reveal without its audit row.
$node->safe_psql('postgres', q{ALTER ROLE a17_unmask RESET finsec.reveal_budget});
$node->safe_psql('postgres', q{SELECT finsec.flush_audit_events()});
my $before = $node->safe_psql('postgres', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'protect.reveal'});
my $ro = as_role('a17_unmask', q{BEGIN READ ONLY; SELECT finsec.reveal(name, 'read only') FROM cust; COMMIT});
$node->safe_psql('postgres', q{SELECT finsec.flush_audit_events()});
my $after = $node->safe_psql('postgres', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'protect.reveal'});
ok($ro ne 'ok' || $after == $before + 1, "read-only reveal ($ro) leaves its audit row");

# On a physical standby (no ledger can be written there): no reveal, and
# the probe budget still refuses 10,000 guesses of a mobile number.
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('attack17_standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
sub standby_as
{
	my ($role, $sql) = @_;
	my ($rc, $out, $err) = $standby->psql('postgres', "\\set VERBOSITY sqlstate\n$sql",
		extra_params => [ '-U', $role ]);
	return 'ok' if $rc == 0;
	$err =~ /ERROR:\s+(\S+)/;
	return $1 // $err;
}
isnt(standby_as('a17_unmask', q{SELECT finsec.reveal(name) FROM cust}), 'ok', 'standby: no reveal');
is(standby_as('a17_app', q{SELECT count(*) FROM cust c JOIN (SELECT ('139' || lpad(g::text, 4, '0') || '5678')::finsec.protected_mobile v
	FROM generate_series(0, 9999) g) s ON c.mob = s.v}), 'S9P05', 'standby: the probe budget holds');
is(standby_as('a17_clerk', q{SELECT ssn FROM cust}), '42501', 'standby: an uncleared read is refused');
$standby->stop;

# Nothing crashed.
is($node->safe_psql('postgres', 'SELECT 1'), '1', 'server alive');
unlike(slurp_file($node->logfile), qr/terminated by signal|server process .* was terminated/, 'no backend crashed');

$node->stop;
done_testing();
