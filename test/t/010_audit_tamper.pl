# Tampering by a superuser who gets past the triggers (by editing
# pg_trigger, which no hook can stop) is detected by finsec.audit_verify(),
# at the right position: a modified, deleted, inserted or reordered row, a
# cut tail, a damaged block, and a consistently truncated chain (found only
# with the auditor's earlier digest).
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('tamper');
my $n = 0;

# A database with table pay protected and sealed in three blocks of ten
# rows (ids and finsec_seq 1..30); returns its name.
sub fresh_db
{
	my $db = 'tamper_' . $n++;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
		CREATE EXTENSION finsec;
		CREATE TABLE pay (id int PRIMARY KEY, amount numeric NOT NULL, payee text);
		SELECT finsec.protect_table('pay');
	});
	for my $b (0 .. 2)
	{
		my ($lo, $hi) = ($b * 10 + 1, $b * 10 + 10);
		$node->safe_psql($db,
			"INSERT INTO pay SELECT g, g * 10, 'payee ' || g FROM generate_series($lo, $hi) g");
		$node->safe_psql($db, "SELECT finsec.audit_seal()");
	}
	is($node->safe_psql($db, 'SELECT bool_and(ok) FROM finsec.audit_verify()'), 't',
		"$db verifies before tampering");
	return $db;
}

# Run $sql as a superuser with finsec's triggers on the tables switched off
# behind finsec's back (each step in a new session, since editing pg_trigger
# does not invalidate other sessions' caches).
sub tamper
{
	my ($db, $sql) = @_;
	$node->safe_psql($db, q{
		UPDATE pg_trigger SET tgenabled = 'D'
		 WHERE tgname LIKE 'finsec_ledger_%'});
	$node->safe_psql($db, $sql);
	$node->safe_psql($db, q{
		UPDATE pg_trigger SET tgenabled = 'A'
		 WHERE tgname LIKE 'finsec_ledger_%'});
}

sub verify
{
	my ($db, $rel, $since) = @_;
	my $arg = defined $since ? ", '$since'::jsonb" : '';
	return $node->safe_psql($db,
		"SELECT ok || ' ' || coalesce(first_failure, '') FROM finsec.audit_verify('$rel'$arg)");
}

my $db;

$db = fresh_db();
tamper($db, 'UPDATE pay SET amount = 1 WHERE id = 15');
is(verify($db, 'pay'),
	'false block 2, row seq 15: row content differs from its sealed hash (modified or reordered)',
	'a modified row is found, at its position');

$db = fresh_db();
tamper($db, 'DELETE FROM pay WHERE id = 15');
is(verify($db, 'pay'),
	'false block 2, row seq 15: sealed row is missing at its position (deleted or reordered)',
	'a deleted row is found, at its position');

$db = fresh_db();
tamper($db, q{INSERT INTO pay (id, amount, payee, finsec_txid, finsec_seq)
	SELECT 100, 5, 'forged', finsec_txid, 1000 FROM pay WHERE id = 15});
is(verify($db, 'pay'),
	'false block 2, row seq 1000: row was not sealed in this block (inserted after sealing)',
	'a row inserted in the middle of the chain is found, in its block');

$db = fresh_db();
tamper($db, q{UPDATE pay SET finsec_seq = CASE finsec_seq WHEN 13 THEN 14 ELSE 13 END
	WHERE finsec_seq IN (13, 14)});
is(verify($db, 'pay'),
	'false block 2, row seq 13: row content differs from its sealed hash (modified or reordered)',
	'reordered rows are found, at the first moved position');

$db = fresh_db();
tamper($db, 'DELETE FROM pay WHERE id > 25');
is(verify($db, 'pay'),
	'false block 3, row seq 26: sealed row is missing (deleted)',
	'a truncated tail is found, at its first missing row');

$db = fresh_db();
tamper($db, q{UPDATE finsec.ledger_block SET row_count = 9
	WHERE relid = 'pay'::regclass AND block_no = 2});
is(verify($db, 'pay'), 'false block 2: sealed row list damaged', 'a damaged block record is found');

$db = fresh_db();
tamper($db, q{UPDATE finsec.ledger_block SET prev_hash = block_hash
	WHERE relid = 'pay'::regclass AND block_no = 3});
is(verify($db, 'pay'), 'false block 3: does not link to block 2 (chain broken)',
	'a broken link between blocks is found');

$db = fresh_db();
tamper($db, q{UPDATE finsec.audit SET description = 'nothing happened'
	WHERE event_type = 'ledger.protect'});
like(verify($db, 'finsec.audit'),
	qr/^false block 1, row seq 1: row content differs from its sealed hash/,
	'tampering with the audit ledger itself is found');

# A superuser who cuts the tail of rows and blocks and rewrites the chain
# head leaves a consistent ledger: only the auditor's earlier digest, kept
# outside the database, shows that it was truncated.
$db = fresh_db();
my $digest = $node->safe_psql($db, 'SELECT finsec.audit_digest()');
tamper($db, q{
	DELETE FROM pay WHERE id > 20;
	DELETE FROM finsec.ledger_block WHERE relid = 'pay'::regclass AND block_no = 3;
	UPDATE finsec.ledger_chain c SET blocks = 2, sealed_rows = 20,
		head_hash = b.block_hash, end_txid = b.end_txid
	  FROM finsec.ledger_block b
	 WHERE c.relid = 'pay'::regclass AND b.relid = c.relid AND b.block_no = 2});
is(verify($db, 'pay'), 'true ', 'a consistently truncated chain passes a plain verification');
is(verify($db, 'pay', $digest), 'false block 3, named by the digest, is missing (chain truncated)',
	'but verification against the earlier digest finds the truncation');

# An untouched database verifies against its own digest, checking only
# what came after it.
$db = fresh_db();
$digest = $node->safe_psql($db, 'SELECT finsec.audit_digest()');
$node->safe_psql($db, "INSERT INTO pay VALUES (31, 1, 'late')");
$node->safe_psql($db, 'SELECT finsec.audit_seal()');
is($node->safe_psql($db,
		"SELECT ok || ' ' || rows_checked || ' ' || blocks_checked FROM finsec.audit_verify('pay', '$digest'::jsonb)"),
	'true 1 1', 'verification resumes from the digest: one new block, one new row');

$node->stop;
done_testing();
