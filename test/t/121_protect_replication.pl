# Protected personal data through replication (docs/protected-data.md).
#
# Physical: a streaming standby shows the same masks, finds rows by
# fingerprint through the same indexes, and refuses reveal() exactly as it
# refuses reveal() of a bank card (the ledger row every reveal needs cannot
# be written during recovery: 25006, read-only transaction; no clear value
# without its record).
#
# Logical: a publication of the protected tables to a subscriber that has
# finsec, the same keyring (copied) and the same policies (created by name:
# the same ids), in text and binary mode: the initial copy and later
# inserts, updates (also one that leaves the 100 kB TOASTed note unchanged)
# and deletes arrive, reveal identically and are found by equality; and
# neither the decoded stream (test_decoding) nor pgoutput's messages hold a
# clear value.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use FinsecProtectTest;

my @rows = protect_rows();
my $nrows = scalar @rows;
my @orders = map { [ $_, $rows[ ($_ - 1) % 5 ]{name} ] } 1 .. 10;

my $primary = finsec_node('primary', init => { allows_streaming => 'logical' }, no_start => 1);
$primary->append_conf('postgresql.conf', "finsec.reveal_budget = 0\nmax_wal_senders = 10\nmax_replication_slots = 10");
$primary->start;
protect_roles($primary);
$primary->safe_psql('postgres', 'CREATE DATABASE bank');
protect_setup($primary, 'bank');
$primary->safe_psql('bank', protect_ddl());
# A bank card beside them: the reference for what reveal() does on a standby.
like(two_person($primary, 'bank', q{finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm')}),
	qr/"state": "active"/, 'card.enc approved');
like(two_person($primary, 'bank', q{finsec.key_generate('card.fp', 'fingerprint', 'hmac-sha256')}),
	qr/"state": "active"/, 'card.fp approved');
$primary->safe_psql('bank', q{
	CREATE TABLE cards (id int PRIMARY KEY, card finsec.bank_card);
	INSERT INTO cards VALUES (1, '6222021234567890128'), (2, NULL);
	GRANT SELECT ON cards TO unmasker;
});
# A logical slot decoding to text, before any row is written.
$primary->safe_psql('bank', q{SELECT pg_create_logical_replication_slot('peek', 'test_decoding')});
$primary->safe_psql('bank', insert_sql(\@rows));
$primary->safe_psql('bank', join '',
	map { "INSERT INTO orders VALUES ($_->[0], '$_->[1]', $_->[0] * 10);\n" } @orders);
my $expected = expected_reveal(\@rows);
is($primary->safe_psql('bank', reveal_sql('crm.customer', 'primary')), $expected, 'primary: every value reveals');

# ---- physical standby ------------------------------------------------------------------------

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;
# A row written after the base backup reaches the standby by streaming.
my $late = { id => 40, name => '司马光远', phone => '13912345670', mobile => mobile_number() };
add_leak($late->{name}, '马光远', $late->{phone}, substr($late->{phone}, 0, 7), substr($late->{phone}, 3),
	$late->{mobile}, substr($late->{mobile}, 0, 7), substr($late->{mobile}, 3));
$primary->safe_psql('bank', "INSERT INTO crm.customer (id, name, phone, mobile) VALUES (40, '$late->{name}', '$late->{phone}', '$late->{mobile}')");
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('bank', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

my $masks = q{SELECT id, name, finsec.mask(name), finsec.mask(phone), finsec.mask(address), finsec.mask(note),
	finsec.mask(rid), finsec.mask(mobile), finsec.protected_info(name)::text, finsec.protected_info(mobile)::text
	FROM crm.customer ORDER BY id};
my $on_primary = $primary->safe_psql('bank', $masks);
is($standby->safe_psql('bank', $masks), $on_primary,
	'standby: the same sealed values, masks and protected_info() as the primary');
is($standby->safe_psql('bank', 'SET ROLE clerk; SELECT name, mobile FROM crm.customer ORDER BY id'),
	$primary->safe_psql('bank', 'SET ROLE clerk; SELECT name, mobile FROM crm.customer ORDER BY id'),
	'standby: an application role reads the same masked, sealed values');
no_clear_values($on_primary, 'what an application role reads');
for my $r (@rows[ 0, 1, 8 ], $late)
{
	is($standby->safe_psql('bank', "SET enable_seqscan = off; SELECT id FROM crm.customer WHERE name = '$r->{name}'::finsec.protected_text(cust_name)"),
		$r->{id}, "standby: row $r->{id} found by name");
	is($standby->safe_psql('bank', "SET enable_seqscan = off; SELECT id FROM crm.customer WHERE mobile = '$r->{mobile}'::finsec.protected_mobile(cust_phone)"),
		$r->{id}, "standby: row $r->{id} found by mobile");
}
like($standby->safe_psql('bank', "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM crm.customer WHERE name = '$late->{name}'::finsec.protected_text(cust_name)"),
	qr/Index (Only )?Scan using customer_name_key/, 'standby: through the fingerprint unique index');
is($standby->safe_psql('bank', 'SELECT count(*) FROM orders o JOIN crm.customer c ON c.name = o.customer_name'),
	scalar @orders, 'standby: joins on the fingerprint');
{
	my $audit_before = $primary->safe_psql('bank', q{SELECT count(*) FROM finsec.audit WHERE event_type LIKE '%.reveal'});
	my ($rc, $out, $err) = $standby->psql('bank',
		"\\set VERBOSITY verbose\nSET ROLE unmasker; SELECT finsec.reveal(card, 'standby') FROM cards WHERE id = 1");
	like($err, qr/ERROR:  25006: cannot execute INSERT in a read-only transaction/,
		'standby: reveal(bank_card) is refused (its ledger row cannot be written)');
	is($out, '', '(no number)');
	($rc, $out, $err) = $standby->psql('bank',
		"\\set VERBOSITY verbose\nSET ROLE unmasker; SELECT finsec.reveal(name, 'standby') FROM crm.customer WHERE id = 1");
	like($err, qr/ERROR:  25006: /, 'standby: reveal(protected_text) is refused the same way (25006)');
	is($out, '', '(no value)');
	no_clear_values($err, 'the refusal');
	($rc, $out, $err) = $standby->psql('bank',
		"\\set VERBOSITY verbose\nSET ROLE unmasker; SELECT finsec.reveal(rid, 'standby') FROM crm.customer WHERE id = 2");
	like($err, qr/ERROR:  25006:/, 'standby: as is reveal(protected_resident_id)');
	($rc, $out, $err) = $standby->psql('bank', 'SET ROLE unmasker; SELECT finsec.reveal(card) IS NULL FROM cards WHERE id = 2');
	is("$out|$err", 't|', 'standby: a NULL bank card reveals as NULL');
	($rc, $out, $err) = $standby->psql('bank', 'SET ROLE unmasker; SELECT finsec.reveal(phone) IS NULL FROM crm.customer WHERE id = 6');
	is("$out|$err", 't|', 'standby: a NULL protected value reveals as NULL, like a card');
	($rc, $out, $err) = $standby->psql('bank', 'SET ROLE nosy; SELECT finsec.reveal(name) FROM crm.customer WHERE id = 1');
	like($err, qr/permission denied/, 'standby: a role outside finsec_unmask is refused first');
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
	is($standby->safe_psql('bank', q{SELECT count(*) FROM finsec.audit WHERE event_type LIKE '%.reveal'}), $audit_before,
		'standby: no reveal was recorded (none took place)');
	my ($r2, $o2, $e2) = $standby->psql('bank', "INSERT INTO crm.customer (id, name) VALUES (41, '新名字')");
	like($e2, qr/read-only transaction/, 'standby: writing is refused as for any table');
}

# ---- logical replication ----------------------------------------------------------------------

my $sub = finsec_node('subscriber', no_start => 1);
$sub->append_conf('postgresql.conf', 'finsec.reveal_budget = 0');
$sub->start;
protect_roles($sub);
my $keyfile = $primary->basedir . '/key.copy';
my $verfile = $primary->basedir . '/key_version.copy';
$primary->safe_psql('bank', "COPY finsec.key TO '$keyfile'; COPY finsec.key_version TO '$verfile'");
$primary->safe_psql('bank', 'CREATE PUBLICATION prot FOR TABLE crm.customer, orders');
my $policies_q = q{SELECT policy_name, policy_id, enc_key, fp_key, fp_scope, mask, period_unit, label
	  FROM finsec.protect_policy ORDER BY policy_name};
for my $r ([ 'bank', 'sub_text', 'false' ], [ 'bank_bin', 'sub_bin', 'true' ])
{
	my ($db, $name, $binary) = @$r;
	$sub->safe_psql('postgres', "CREATE DATABASE $db");
	$sub->safe_psql($db, qq{
		CREATE EXTENSION finsec;
		COPY finsec.key FROM '$keyfile';
		COPY finsec.key_version FROM '$verfile';
		SELECT setval('finsec.key_id_seq', (SELECT max(key_id) FROM finsec.key));
		SET SESSION AUTHORIZATION adm1;
		SELECT finsec.protect_policy_create('cust_name', mask => 'name', label => 'identifier');
		SELECT finsec.protect_policy_create('cust_phone', mask => 'phone');
		SELECT finsec.protect_policy_create('cust_address', fp_key => NULL, mask => 'address');
	});
	is($sub->safe_psql($db, $policies_q), $primary->safe_psql('bank', $policies_q),
		"subscriber $db: policies created by name have the publisher's ids");
	$sub->safe_psql($db, protect_ddl());
	$sub->safe_psql($db, "CREATE SUBSCRIPTION $name CONNECTION '" . $primary->connstr . " dbname=bank"
		  . "' PUBLICATION prot WITH (binary = $binary)");
	$sub->wait_for_subscription_sync($primary, $name, $db);
}
# A subscription that does not catch up is a failure of its own, not the
# end of the test (60 s rather than the default timeout).
sub caught_up
{
	my ($name, $when) = @_;
	local $PostgreSQL::Test::Utils::timeout_default = 60;
	my $ok = eval { $primary->wait_for_catchup($name); 1 };
	ok($ok, "subscription $name caught up $when")
	  or diag(join "\n", grep { /ERROR/ } split /\n/, substr(slurp_file($primary->logfile), -4000));
	return;
}
my $reveal_all = sub { my ($n, $db, $why) = @_; return $n->safe_psql($db, reveal_sql('crm.customer', $why)); };
my $pub_state = $reveal_all->($primary, 'bank', 'publisher');
for my $db ('bank', 'bank_bin')
{
	is($reveal_all->($sub, $db, 'replica'), $pub_state, "subscriber $db: the initial copy reveals identically");
}

# Changes after the initial copy, decoded by the peek slot too.
my @new = map { { id => 50 + $_, name => "新甲${_}号客户", mobile => mobile_number(),
	rid => resident_id() } } 1 .. 3;
add_leak($_->{name}, substr($_->{name}, 3), $_->{mobile}, substr($_->{mobile}, 0, 7), substr($_->{mobile}, 3),
	$_->{rid}, substr($_->{rid}, 0, 14), substr($_->{rid}, 6)) for @new;
my $newphone = '0755-8' . join('', map { int(rand(10)) } 1 .. 7);
add_leak($newphone, substr($newphone, 5));
$primary->safe_psql('bank', join('', map { "INSERT INTO crm.customer (id, name, rid, mobile) VALUES ($_->{id}, '$_->{name}', '$_->{rid}', '$_->{mobile}');\n" } @new)
	  . "INSERT INTO orders VALUES (60, '$new[0]{name}', 1);\n"
	  . "UPDATE crm.customer SET phone = '$newphone' WHERE id = 8;\n"    # the 100 kB note stays TOASTed
	  . "UPDATE crm.customer SET name = '$new[2]{name}二' WHERE id = $new[2]{id};\n"
	  . "DELETE FROM orders WHERE id = 1;\n"
	  . "DELETE FROM crm.customer WHERE id = 40;\n");
add_leak("$new[2]{name}二", substr("$new[2]{name}二", 3));
caught_up($_, 'after the changes') for ('sub_text', 'sub_bin');
$pub_state = $reveal_all->($primary, 'bank', 'publisher');
like($pub_state, qr/^8\|[^|]*\|\Q$newphone\E\|[^|]*\|[0-9a-f]{32}:50000\|/m, 'publisher: row 8 has its new phone and its note');
like($pub_state, qr/^53\|\Q$new[2]{name}\E二\|/m, 'publisher: row 53 renamed');
unlike($pub_state, qr/^40\|/m, 'publisher: row 40 deleted');
for my $db ('bank', 'bank_bin')
{
	is($reveal_all->($sub, $db, 'replica'), $pub_state, "subscriber $db: inserts, updates and deletes reveal identically");
	is($sub->safe_psql($db, $masks), $primary->safe_psql('bank', $masks), "subscriber $db: the same sealed values and masks");
	for my $r ($new[0], $rows[7])
	{
		is($sub->safe_psql($db, "SET enable_seqscan = off; SELECT id FROM crm.customer WHERE name = '$r->{name}'::finsec.protected_text(cust_name)"),
			$r->{id}, "subscriber $db: row $r->{id} found by name");
	}
	is($sub->safe_psql($db, "SELECT id FROM crm.customer WHERE phone = '$newphone'::finsec.protected_text(cust_phone)"), 8,
		"subscriber $db: the updated phone is found by equality");
	is($sub->safe_psql($db, "SELECT id FROM crm.customer WHERE rid = '$new[1]{rid}'::finsec.protected_resident_id(\"default\")"), $new[1]{id},
		"subscriber $db: a replicated resident ID is found by equality");
	is($sub->safe_psql($db, 'SELECT count(*) FROM orders o JOIN crm.customer c ON c.name = o.customer_name'),
		scalar(@orders), "subscriber $db: orders join their customers");
	my ($rc, $out, $err) = $sub->psql($db, "INSERT INTO crm.customer (id, name) VALUES (77, '$new[1]{name}')");
	like($err, qr/duplicate key value violates unique constraint "customer_name_key"/,
		"subscriber $db: the unique index holds replicated values");
	ok($sub->safe_psql($db, q{SELECT count(*) FROM finsec.audit WHERE event_type = 'protect.reveal' AND description = 'replica'}) > 0,
		"subscriber $db: reveals on the subscriber are in its ledger");
}

# What left the publisher: the decoded stream and pgoutput's messages.
{
	my $decoded = $primary->safe_psql('bank', q{SELECT string_agg(data, E'\n') FROM pg_logical_slot_peek_changes('peek', NULL, NULL)});
	# (The output function may not reach the keyring while decoding: then
	# the prefix is "[protected]" rather than the mask.)
	like($decoded, qr/table crm\.customer: INSERT: id\[integer\]:51 name\[finsec\.protected_text[^\]]*\]:'(新\*+|\[protected\])~fp1\./,
		'test_decoding shows the sealed form of a new name');
	no_clear_values($decoded, 'the decoded stream (test_decoding)');
	$primary->safe_psql('bank', q{SELECT pg_create_logical_replication_slot('peek_pgoutput', 'pgoutput')});
	$primary->safe_psql('bank', "INSERT INTO crm.customer (id, name, mobile) VALUES (70, '$late->{name}', '$late->{mobile}')");
	for my $binary ('false', 'true')
	{
		my $msgs = $primary->safe_psql('bank', qq{SELECT encode(string_agg(data, ''), 'hex') FROM
			pg_logical_slot_peek_binary_changes('peek_pgoutput', NULL, NULL, 'proto_version', '1',
				'publication_names', 'prot', 'binary', '$binary')});
		my $raw = pack('H*', $msgs);
		ok(length($raw) > 200 && index($raw, 'crm') >= 0, "pgoutput (binary = $binary): the messages of the insert");
		no_clear_values($raw, "pgoutput (binary = $binary)");
	}
	caught_up($_, 'after the last insert') for ('sub_text', 'sub_bin');
	is($sub->safe_psql('bank_bin', "SELECT id FROM crm.customer WHERE name = '$late->{name}'::finsec.protected_text(cust_name)"), 70,
		'a row written again under a name deleted before replicates');
}
$sub->safe_psql('bank', 'DROP SUBSCRIPTION sub_text');
$sub->safe_psql('bank_bin', 'DROP SUBSCRIPTION sub_bin');
$primary->safe_psql('bank', q{SELECT pg_drop_replication_slot('peek'); SELECT pg_drop_replication_slot('peek_pgoutput')});

$standby->stop;
$sub->stop;
$primary->stop;
done_testing();
