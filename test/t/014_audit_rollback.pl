# Audit records that survive the caller's rollback (docs/audit.md#rollback,
# issue 14 class 3).
#
# A reveal whose transaction (or savepoint) rolls back keeps its record:
# the audit sealer writes it to the ledger by itself, once; a committed
# reveal has its one row and the sealer never writes it again.  A full
# buffer refuses the reveal (no record, no reveal).  PREPARE TRANSACTION of
# a transaction that revealed is refused.  A clean restart keeps the
# records still waiting.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('trail', sealer => 'db', no_start => 1);
$node->append_conf('postgresql.conf', "finsec.audit_event_buffer = 16\nmax_prepared_transactions = 2");
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE trail_a LOGIN IN ROLE pg_read_all_data;
	CREATE DATABASE db;
	CREATE DATABASE nosealer;
});
for my $db ('db', 'nosealer')
{
	$node->safe_psql($db, q{
		SET client_min_messages = warning;
		CREATE EXTENSION finsec;
		DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trail_adm1') THEN
				CREATE ROLE trail_adm1 LOGIN IN ROLE finsec_admin;
				CREATE ROLE trail_adm2 LOGIN IN ROLE finsec_admin;
				CREATE ROLE trail_unmask LOGIN IN ROLE finsec_app, finsec_unmask;
			END IF;
		END $$;
		SET SESSION AUTHORIZATION trail_adm1;
		SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm') AS r1 \gset
		SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sm3') AS r2 \gset
		SET SESSION AUTHORIZATION trail_adm2;
		SELECT finsec.approve(:r1), finsec.approve(:r2);
	});
	$node->safe_psql($db, q{
		CREATE TABLE cards (c finsec.bank_card);
		INSERT INTO cards VALUES ('6216261000000000018');
		GRANT SELECT ON cards TO trail_unmask;
	});
}

sub reveal_sql
{
	my ($context) = @_;
	return "SET SESSION AUTHORIZATION trail_unmask; "
	  . "SELECT finsec.reveal(c, 'test', '$context') FROM cards";
}

sub rows
{
	my ($db, $context) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) || '/' || count(*) FILTER (WHERE (detail ->> 'rolled_back')::boolean) "
		  . "FROM finsec.audit WHERE event_type = 'card.reveal' AND object = '$context'");
}

# --- the sealer writes rolled-back records by itself -------------------------
my ($ret, $out, $err) = $node->psql('db', 'BEGIN; ' . reveal_sql('rb1') . '; ROLLBACK;');
is($out, '6216261000000000018', 'the reveal of a transaction that rolls back shows the digits');
ok($node->poll_query_until('db',
		"SELECT count(*) = 1 FROM finsec.audit WHERE event_type = 'card.reveal' AND object = 'rb1'"),
	'the sealer wrote the rolled-back reveal to the ledger, with no one flushing');
($ret, $out, $err) = $node->psql('db',
	'BEGIN; SAVEPOINT s; ' . reveal_sql('sp1') . '; ROLLBACK TO SAVEPOINT s; COMMIT;');
ok($node->poll_query_until('db',
		"SELECT count(*) = 1 FROM finsec.audit WHERE event_type = 'card.reveal' AND object = 'sp1'"),
	'and the reveal of a savepoint rolled back');
$node->safe_psql('db', 'BEGIN; ' . reveal_sql('c1') . '; COMMIT;');
# Several sealer rounds (200 ms each) go by.
$node->safe_psql('db', 'SELECT pg_sleep(1)');
is(rows('db', 'rb1'), '1/1', 'the rolled-back reveal has exactly one row, marked rolled back');
is(rows('db', 'sp1'), '1/1', 'the savepoint reveal too');
is(rows('db', 'c1'), '1/0', 'the committed reveal has exactly one row, not marked');
is($node->safe_psql('db',
		"SELECT db_user || ' ' || session_user_name FROM finsec.audit WHERE event_type = 'card.reveal' AND object = 'rb1'"),
	'trail_unmask trail_unmask', 'the written record names the revealing role and the session');
is($node->safe_psql('db', 'SELECT waiting_here FROM finsec.audit_event_buffer()'), '0',
	'nothing of this database waits');

# --- PREPARE TRANSACTION of a revealing transaction is refused --------------
($ret, $out, $err) = $node->psql('db', 'BEGIN; ' . reveal_sql('prep') . "; PREPARE TRANSACTION 'p1';");
like($err, qr/cannot prepare a transaction that has audit events of rolled-back transactions that must survive its rollback/,
	'PREPARE TRANSACTION after a reveal is refused');
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing was prepared');
ok($node->poll_query_until('db',
		"SELECT count(*) = 1 FROM finsec.audit WHERE event_type = 'card.reveal' AND object = 'prep'"),
	'the refused transaction\'s reveal has its row');

# --- PREPARE TRANSACTION of a transaction that used a key is refused --------
# (0.8.0 prepared it: ROLLBACK PREPARED then took its key.use row away.)
$node->safe_psql('db', q{
	SET SESSION AUTHORIZATION trail_adm1;
	SELECT finsec.key_generate('prep.mac', 'mac', 'hmac-sha256') AS r \gset
	SET SESSION AUTHORIZATION trail_adm2;
	SELECT finsec.approve(:r);
});
($ret, $out, $err) = $node->psql('db',
	"BEGIN; SELECT length(finsec.mac('prep.mac', 'hmac-sha256', '\\x01')); PREPARE TRANSACTION 'p2';");
like($err, qr/cannot prepare a transaction that has used keys/,
	'PREPARE TRANSACTION after a key use is refused');
$node->psql('db', "ROLLBACK PREPARED 'p2'");
is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0', 'nothing was prepared');
ok($node->poll_query_until('db',
		"SELECT count(*) = 1 FROM finsec.audit WHERE event_type = 'key.use' AND object = 'prep.mac' "
		  . "AND (detail ->> 'rolled_back')::boolean"),
	'the refused transaction\'s key use has its row');

# --- committed key uses: summed in the buffer, written by the sealer ---------
# 40 transactions of one session, one MAC each: no row at commit; the
# sealer writes their uses as a few key.use rows (one per round), 40 in all.
$node->safe_psql('db', join('', map { "SELECT length(finsec.mac('prep.mac', 'hmac-sha256', '\\x02'));\n" } 1 .. 40));
ok($node->poll_query_until('db',
		"SELECT sum((detail ->> 'count')::int) = 40 FROM finsec.audit WHERE event_type = 'key.use' "
		  . "AND object = 'prep.mac' AND action = 'mac' AND NOT coalesce((detail ->> 'rolled_back')::boolean, false)"),
	'the sealer wrote the 40 committed uses');
my ($nrows, $ntx) = split /\|/, $node->safe_psql('db',
	"SELECT count(*), sum((detail ->> 'transactions')::int) FROM finsec.audit WHERE event_type = 'key.use' "
	  . "AND object = 'prep.mac' AND action = 'mac' AND NOT coalesce((detail ->> 'rolled_back')::boolean, false)");
is($ntx, '40', 'the rows count the 40 transactions');
ok($nrows >= 1 && $nrows <= 10, "in $nrows rows, not one per transaction");

# --- a clean restart keeps what waits ----------------------------------------
# (The committed transactions' key uses of the setup wait for a flush too:
# written first, so that only the rolled-back transaction's records count.)
$node->safe_psql('nosealer', 'SELECT finsec.flush_audit_events()');
$node->psql('nosealer', 'BEGIN; ' . reveal_sql('restart') . '; ROLLBACK;');
is($node->safe_psql('nosealer', 'SELECT waiting_here FROM finsec.audit_event_buffer()'), '2',
	'without a sealer, the reveal and its key use wait');
$node->restart;
is($node->safe_psql('nosealer', 'SELECT finsec.flush_audit_events()'), '2',
	'after a clean restart the flush writes them');
is(rows('nosealer', 'restart'), '1/1', 'the reveal has its one row');

# --- a full buffer refuses the reveal ------------------------------------------
my $shown = 0;
my $refused = '';
for my $i (1 .. 20)
{
	($ret, $out, $err) = $node->psql('nosealer',
		'\set VERBOSITY verbose' . "\nBEGIN;\n" . reveal_sql("full$i") . ";\nROLLBACK;");
	if ($out =~ /^\d{19}$/) { $shown++; next; }
	$refused = $err;
	last;
}
like($refused, qr/S9U20.*card\.reveal refused: the finsec audit event buffer is full/s,
	'once the buffer is full, the reveal is refused with S9U20');
unlike($refused, qr/6216261000000000018/, 'and shows no digits');
ok($shown >= 8 && $shown < 16, "$shown reveals were kept before the buffer was full");
($ret, $out, $err) = $node->psql('nosealer', 'BEGIN; ' . reveal_sql('full-commit') . '; COMMIT;');
is($out, '', 'a reveal that would commit is refused too (fail closed)');
my $flushed = $node->safe_psql('nosealer', 'SELECT finsec.flush_audit_events()');
ok($flushed >= $shown, "the flush wrote the waiting records ($flushed)");
is($node->safe_psql('nosealer',
		"SELECT count(*) FROM finsec.audit WHERE event_type = 'card.reveal' AND object LIKE 'full%'"),
	$shown, 'every reveal that showed digits has its row, and no refused one has');
is($node->safe_psql('nosealer', 'SELECT length(finsec.reveal(c)) FROM cards'), '19',
	'with room again, reveals work');

# --- one session's open transaction holds at most its share ------------------
# (finsec.audit_event_buffer_per_session, by default an eighth of the 16
# slots: 2.)  0.8.0 let one transaction take every slot, refusing every
# reveal and code verification of every other session until it ended.
($ret, $out, $err) = $node->psql('nosealer',
	"\\set VERBOSITY verbose\nBEGIN;\n" . reveal_sql('share1') . ";\n" . reveal_sql('share2') . ";\n"
	  . reveal_sql('share3') . ";\nROLLBACK;");
is($out, "6216261000000000018\n6216261000000000018", 'two reveals in one transaction');
like($err, qr/S9U20.*card\.reveal refused: this session holds 2 slots of the finsec audit event buffer, its share/s,
	'the third is refused with S9U20, naming the share');
is($node->safe_psql('nosealer', 'SELECT length(finsec.reveal(c)) FROM cards'), '19',
	'other sessions still reveal');
($ret, $out, $err) = $node->psql('nosealer',
	"SET finsec.audit_event_buffer_per_session = 3;\nBEGIN;\n" . reveal_sql('share4') . ";\n" . reveal_sql('share5') . ";\n"
	  . reveal_sql('share6') . ";\nROLLBACK;");
is($out, "6216261000000000018\n6216261000000000018\n6216261000000000018",
	'a superuser may set a larger share');

done_testing();
