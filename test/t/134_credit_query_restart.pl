# The abnormal-querying counts of finsec.credit_query survive a server
# restart (docs/credit.md, "Abnormal querying"): they live in shared
# memory, and an entry missing after the restart is seeded once from the
# ledger, rolled-back calls included (the next call flushed their
# records to the ledger).  Limit 2:
# one rolled-back and one committed subject before the restart, the third
# subject after it suspends the user.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use FinsecCreditTest;

my $db = 'credit';
my $node = finsec_node('main');
$node->safe_psql('postgres', "CREATE DATABASE $db");
credit_setup($node, $db);
$node->safe_psql($db, q{
	INSERT INTO finsec.credit_institution (code, name, kind, status) VALUES ('B1000001', 'Bank One', 'provider_user', 'active');
	SELECT finsec.credit_user_set('app', 'B1000001', '{query}');
	ALTER ROLE app SET finsec.credit_query_max_subjects = 2;
});
my $q = sub {
	my ($subject) = @_;
	return "SET SESSION AUTHORIZATION app; SELECT count(*) FROM finsec.credit_query('loan', '$subject', 'loan_approval')";
};
# ALTER ROLE ... SET applies at login: SET SESSION AUTHORIZATION does not
# read it, so the limit is set in the session too (a superuser's SET).
my $limit = 'SET finsec.credit_query_max_subjects = 2; ';

$node->safe_psql($db, $limit . "BEGIN; " . $q->('S-0001') . "; ROLLBACK;");
$node->safe_psql($db, $limit . $q->('S-0002'));
is($node->safe_psql($db, q{SELECT query_status FROM finsec.credit_user WHERE role_name = 'app'}),
	'active', 'two subjects (one rolled back): still active');

$node->restart;

my ($ret, $out, $err) = (0, '', '');
$ret = $node->psql($db, $limit . $q->('S-0003'), stdout => \$out, stderr => \$err);
is($ret, 0, 'after the restart: the third subject returns');
is($out, '0', 'after the restart: no record returned');
like($err, qr/suspended for abnormal querying/, 'after the restart: WARNING, suspended (S9D29)');
like($node->safe_psql($db, q{SELECT query_status || ' ' || status_reason FROM finsec.credit_user WHERE role_name = 'app'}),
	qr/^suspended abnormal querying: distinct subjects 3 /, 'the count includes the rolled-back subject');
is($node->safe_psql($db, q{SELECT count(*) FROM finsec.audit
	WHERE event_type = 'credit.query' AND db_user = 'app' AND detail ->> 'rolled_back' = 'true'}),
	'1', 'the rolled-back call is in the ledger (flushed by the next call)');
$ret = $node->psql($db, $limit . $q->('S-0001'), stdout => \$out, stderr => \$err);
isnt($ret, 0, 'then: refused');
like($err, qr/is suspended/, 'then: S9D23');

done_testing();
