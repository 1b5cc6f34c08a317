# Protected bank card and account numbers survive what a DBA does to a
# database (docs/cards.md): pg_dump and pg_restore (custom, plain and
# parallel) into another database of the cluster, into a cluster that
# shares the keyring's master key (and, loudly, not into one that does not),
# COPY in text, CSV and binary, CREATE TABLE AS, logical replication (text
# and binary), and rotation of card.enc with re-encryption.  After each,
# every number revealed by a member of finsec_unmask is the original,
# equality, unique indexes, foreign keys and joins work, and no file a DBA
# or an application role produced holds a number in the clear.  Revealing
# needs finsec_unmask and leaves a row in the ledger for each number.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

# ---- test numbers -----------------------------------------------------------

sub luhn_complete
{
	my ($payload) = @_;
	my @d = reverse split //, $payload;
	my $sum = 0;
	for my $i (0 .. $#d)
	{
		my $x = $d[$i];
		if ($i % 2 == 0) { $x *= 2; $x -= 9 if $x > 9; }
		$sum += $x;
	}
	return $payload . ((10 - $sum % 10) % 10);
}

# Varied lengths and issuers, random middles (so that a leak cannot hide
# behind a common digit string), fixed across runs.
srand(20260514);
sub digits { my ($n) = @_; return join '', map { int(rand(10)) } 1 .. $n; }
my @cards = map { luhn_complete($_->[0] . digits($_->[1])) }
  ([ '622202', 9 ], [ '621700', 9 ], [ '436742', 9 ], [ '524047', 9 ],
	[ '621626', 12 ], [ '625807', 12 ], [ '4', 11 ], [ '3782', 10 ]);
my @accounts = map { '6222' . digits($_ - 4) } (12, 17, 19, 25, 16, 20, 22, 18);
# A legacy card whose check digit is wrong (accepted with card_lenient).
my $lenient = '6221558812340000';
push @cards, $lenient;
push @accounts, '6222' . digits(15);

# The rows of the source table: id, card, account (some written grouped).
my @rows;
for my $i (0 .. $#cards)
{
	my $c = $cards[$i];
	$c = join ' ', unpack('(A4)*', $c) if $i % 3 == 1;
	$c = join '-', unpack('(A4)*', $c) if $i % 3 == 2;
	push @rows, [ $i + 1, $c, $accounts[$i] ];
}
my $expected = join "\n", map { "$_->[0]|" . ($_->[1] =~ s/[ -]//gr) . "|$_->[2]" } @rows;
my $nrows = scalar @rows;

# What a leak would look like: each whole number, the number without its
# last four, the number without what a mask may show first, and the
# digits a mask hides (when long enough to be meaningful).
# A mask shows the first 6 digits of a card, and of an account at most 6
# with at least half its digits hidden (fs_clear_prefix_len).
my @leaks;
sub add_leaks
{
	my ($num, $account) = @_;
	my $n = length $num;
	my $p = 6;
	if ($account)
	{
		$p = $n - 4 - int(($n + 1) / 2);
		$p = $p < 0 ? 0 : $p > 6 ? 6 : $p;
	}
	push @leaks, $num, substr($num, 0, $n - 4), substr($num, $p);
	my $hidden = substr($num, $p, $n - 4 - $p);
	push @leaks, $hidden if length $hidden >= 6;
	return;
}
add_leaks($_, 0) for @cards;
add_leaks($_, 1) for @accounts;

sub no_clear_numbers
{
	my ($file, $what) = @_;
	my $content = slurp_file($file);
	my @found = grep { index($content, $_) >= 0 } @leaks;
	ok(length($content) > 0 && !@found, "$what: no number in the clear in the file")
	  or diag("found: @found");
	return $content;
}

# ---- clusters, keys and data ---------------------------------------------------

my $node = finsec_node('cards', init => { allows_streaming => 'logical' });

sub roles
{
	my ($n) = @_;
	$n->safe_psql('postgres', q{
		CREATE EXTENSION finsec;    -- creates the finsec_* roles
		CREATE ROLE adm1 LOGIN IN ROLE finsec_admin;
		CREATE ROLE adm2 LOGIN IN ROLE finsec_admin;
		CREATE ROLE unmasker LOGIN IN ROLE finsec_unmask;
		CREATE ROLE clerk LOGIN IN ROLE finsec_app;
		CREATE ROLE nosy LOGIN;
	});
	return;
}
roles($node);

# Two-person control: adm1 requests, adm2 approves.
sub two_person
{
	my ($n, $db, $request_sql) = @_;
	my $req = $n->safe_psql($db, "SET SESSION AUTHORIZATION adm1; SELECT $request_sql");
	return $n->safe_psql($db, "SET SESSION AUTHORIZATION adm2; SELECT finsec.approve($req)");
}

my $ddl = q{
	-- "acct" sorts before "finsec": pg_dump restores its rows before the keyring
	CREATE SCHEMA acct;
	CREATE TABLE acct.holders (
		id int PRIMARY KEY,
		card finsec.bank_card NOT NULL UNIQUE,
		account finsec.bank_account NOT NULL);
	CREATE TABLE public.payments (
		id int PRIMARY KEY,
		card finsec.bank_card NOT NULL REFERENCES acct.holders (card),
		amount numeric NOT NULL);
	GRANT USAGE ON SCHEMA acct TO unmasker, clerk, nosy;
	GRANT SELECT ON acct.holders, public.payments TO unmasker, clerk, nosy;
};

$node->safe_psql('postgres', 'CREATE DATABASE bank');
$node->safe_psql('bank', 'CREATE EXTENSION finsec');
like(two_person($node, 'bank', q{finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm')}),
	qr/"state": "active"/, 'card.enc approved');
like(two_person($node, 'bank', q{finsec.key_generate('card.fp', 'fingerprint', 'hmac-sha256')}),
	qr/"state": "active"/, 'card.fp approved');
$node->safe_psql('bank', $ddl);
$node->safe_psql('bank', "SET finsec.card_lenient = on;\n" . join '',
	map { "INSERT INTO acct.holders VALUES ($_->[0], '$_->[1]', '$_->[2]');\n" } @rows);
# Two payments per card, written from the clear digits again: they must
# match the holder's card by equality (the foreign key checks it).
$node->safe_psql('bank', "SET finsec.card_lenient = on;\n" . join '',
	map { my $c = $_->[1] =~ s/[ -]//gr; "INSERT INTO payments VALUES ($_->[0], '$c', $_->[0]), ($_->[0] + 100, '$c', 1);\n" } @rows);

# Everything a path must preserve, checked in one database.  The reveals
# are made as unmasker, with a reason and a row context, and counted in
# the ledger.
my %reveals;
sub check_numbers
{
	my ($n, $db, $what, %o) = @_;
	my $t = $o{table} // 'acct.holders';
	my $p = $o{payments} // 'payments';
	my $before = $n->safe_psql($db, "SELECT count(*) FROM finsec.audit WHERE event_type IN ('card.reveal', 'account.reveal') AND description = '$what'");
	is($n->safe_psql($db, qq{
		SET ROLE unmasker;
		SELECT id, finsec.reveal(card, '$what', 'card of ' || id), finsec.reveal(account, '$what', 'account of ' || id)
		  FROM $t ORDER BY id}), $expected, "$what: every number revealed as it was written");
	is($n->safe_psql($db, "SELECT count(*) FROM finsec.audit WHERE event_type IN ('card.reveal', 'account.reveal') AND description = '$what'") - $before,
		2 * $nrows, "$what: one ledger row per reveal");
	is($n->safe_psql($db, qq{
		SELECT count(*) FILTER (WHERE h.card = '$cards[0]'),
			   count(*) FILTER (WHERE h.account = '$accounts[2]'),
			   count(*) FILTER (WHERE h.card = p.card)
		  FROM $t h JOIN $p p ON p.card = h.card}), "2|2|" . 2 * $nrows,
		"$what: equality with new values and joins on the fingerprint");
	is($n->safe_psql($db, qq{SELECT string_agg(id::text, ',' ORDER BY id) FROM $t WHERE NOT (finsec.number_info(card)).luhn_valid}),
		$nrows, "$what: the lenient card is still marked");
	my ($rc, $out, $err) = $n->psql($db, "SET finsec.card_lenient = on; INSERT INTO $t VALUES (999, '$lenient', '$accounts[0]')");
	like($err, qr/duplicate key value violates unique constraint/, "$what: the unique index catches a duplicate number");
	is($n->safe_psql($db, "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM $t WHERE card = '$cards[4]'")
		  =~ /Index (Only )?Scan/ ? 1 : 0, 1, "$what: lookups by number use the unique index");
	is($n->safe_psql($db, "SET enable_seqscan = off; SELECT id FROM $t WHERE card = '$cards[4]'"), 5,
		"$what: and find the row");
	return;
}

check_numbers($node, 'bank', 'source');

# ---- revealing needs finsec_unmask --------------------------------------------------

{
	my ($rc, $out, $err) = $node->psql('bank', 'SELECT finsec.reveal(card) FROM acct.holders',
		connstr => $node->connstr('bank') . ' user=clerk');
	like($err, qr/permission denied for function reveal/, 'an application role cannot reveal');
	# EXECUTE granted by mistake is not enough: reveal checks finsec_unmask itself.
	$node->safe_psql('bank', 'GRANT USAGE ON SCHEMA finsec TO nosy; GRANT EXECUTE ON FUNCTION finsec.reveal(finsec.bank_card, text, text) TO nosy');
	($rc, $out, $err) = $node->psql('bank', q{SELECT finsec.reveal(card, 'curious') FROM acct.holders},
		connstr => $node->connstr('bank') . ' user=nosy');
	like($err, qr/permission denied to reveal a protected bank card number/,
		'nor can a role granted EXECUTE outside finsec_unmask');
	$node->safe_psql('bank', 'REVOKE USAGE ON SCHEMA finsec FROM nosy; REVOKE EXECUTE ON FUNCTION finsec.reveal(finsec.bank_card, text, text) FROM nosy');
	($rc, $out, $err) = $node->psql('bank', 'SELECT finsec.card_rekey(card)::text FROM acct.holders',
		connstr => $node->connstr('bank') . ' user=clerk');
	like($err, qr/permission denied for function card_rekey/, 'nor use card_rekey');
	my $text = $node->safe_psql('bank', 'SELECT card, account, finsec.mask(card), finsec.mask(account) FROM acct.holders ORDER BY id',
		connstr => $node->connstr('bank') . ' user=clerk');
	my $f = $node->basedir . '/clerk_select.txt';
	open my $fh, '>', $f or die;
	print $fh $text;
	close $fh;
	no_clear_numbers($f, 'what the application role reads');
	like($text, qr/^621626\*{9}\d{4}~fs1\.[A-Za-z0-9_-]+\|/m, 'it reads masked, sealed values');
	is($node->safe_psql('bank', q{
		SELECT count(*), count(DISTINCT db_user), bool_and(success),
			   count(*) FILTER (WHERE object = 'card of 1' AND detail->>'context' = 'card of 1'
									AND detail->>'masked' = '622202******' || right('} . $cards[0] . q{', 4)
									AND detail->>'kind' = 'card')
		  FROM finsec.audit WHERE event_type = 'card.reveal' AND description = 'source'}),
		"$nrows|1|t|1", 'the ledger names reason, context and the masked number of each reveal');
	is($node->safe_psql('bank', q{SELECT min(db_user) FROM finsec.audit WHERE event_type = 'card.reveal'}),
		'unmasker', 'under the revealing role');
	is($node->safe_psql('bank', q{SELECT count(*) FROM finsec.audit WHERE event_type LIKE '%.reveal' AND db_user IN ('clerk', 'nosy')}),
		'0', 'refused reveals leave no successful reveal row');
}

# ---- pg_dump / pg_restore in the same cluster ----------------------------------------

my $dump = $node->basedir . '/bank.dump';
my $plain = $node->basedir . '/bank.sql';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('bank') ], 'pg_dump -Fc');
command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('bank') ], 'pg_dump plain');
like(no_clear_numbers($plain, 'plain dump'), qr/^\d+\t621626\*{9}\d{4}~fs1\./m,
	'the plain dump holds masked, sealed values');
no_clear_numbers($dump, 'custom dump');
{
	my $list = `pg_restore -l $dump`;
	ok(index($list, 'TABLE DATA acct holders') < index($list, 'TABLE DATA finsec key '),
		'the dump restores acct.holders before the keyring');
}

# Default pg_restore carries on after an error and only warns at the end:
# success means exit status 0 and not a line on stderr.  Parallel
# pg_restore loads finsec.key and finsec.key_version in either order (the
# keyring has no foreign key between them since 0.5), twice to vary it.
for my $r ([ 'bank_c', [] ], [ 'bank_j1', [ '-j', '4' ] ], [ 'bank_j2', [ '-j', '4' ] ])
{
	my ($db, $opts) = @$r;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'pg_restore', @$opts, '-d', $node->connstr($db), $dump ],
		'>', \$stdout, '2>', \$stderr);
	ok($ok && $stderr eq '', "pg_restore @$opts into $db: no error") or diag($stderr);
	check_numbers($node, $db, "restored $db");
}
$node->safe_psql('postgres', 'CREATE DATABASE bank_p');
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d', $node->connstr('bank_p') ],
	'the plain dump replays with ON_ERROR_STOP');
check_numbers($node, 'bank_p', 'restored bank_p');
is($node->safe_psql('bank_p', 'SELECT count(*) FROM acct.holders h JOIN payments p USING (card)'),
	2 * $nrows, 'USING (card) joins on the restored numbers');

# ---- a cluster that shares the master key, and one that does not ----------------------

my $mirror = finsec_node('mirror');
roles($mirror);
$mirror->safe_psql('postgres', 'CREATE DATABASE bank');
{
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'pg_restore', '-d', $mirror->connstr('bank'), $dump ], '>', \$stdout, '2>', \$stderr);
	ok($ok && $stderr eq '', 'pg_restore into a cluster with the same master key: no error') or diag($stderr);
}
check_numbers($mirror, 'bank', 'restored in mirror');

my $foreign = finsec_node('foreign', master_key => 'ff' x 32);
roles($foreign);
$foreign->safe_psql('postgres', 'CREATE DATABASE bank');
{
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'pg_restore', '-d', $foreign->connstr('bank'), $dump ], '>', \$stdout, '2>', \$stderr);
	ok(!$ok, 'pg_restore into a cluster with another master key fails (exit status)');
	like($stderr, qr/COPY failed for table "payments": ERROR:  a key of the finsec keyring is wrapped under a master key this server does not have/,
		'naming the table and the cause: the keyring is wrapped under another master key');
	like($stderr, qr/HINT:  Start the server with the master key this keyring was created with/, 'with the remedy');
	like($stderr, qr/errors ignored on restore: 1$/m, 'and it is the only error');
	# With --exit-on-error (or --single-transaction) it stops there.
	$foreign->safe_psql('postgres', 'CREATE DATABASE bank2');
	$ok = IPC::Run::run([ 'pg_restore', '--exit-on-error', '-d', $foreign->connstr('bank2'), $dump ],
		'>', \$stdout, '2>', \$stderr);
	ok(!$ok && $stderr =~ /wrapped under a master key this server does not have/, 'pg_restore --exit-on-error stops at it')
	  or diag($stderr);
}
{
	# The rows restored ahead of the keyring were kept sealed, not lost:
	# unreadable here, loudly, they become readable with the right master key.
	is($foreign->safe_psql('bank', 'SELECT count(*) FROM acct.holders'), $nrows,
		'rows restored before the keyring are kept sealed');
	my ($rc, $out, $err) = $foreign->psql('bank', 'SET ROLE unmasker; SELECT finsec.reveal(card) FROM acct.holders');
	like($err, qr/wrapped under a master key this server does not have/,
		'revealing them under another master key fails loudly');
	($rc, $out, $err) = $foreign->psql('bank', qq{SELECT '$cards[0]'::finsec.bank_card});
	like($err, qr/wrapped under a master key this server does not have/, 'as does writing a new number');
	is($foreign->safe_psql('bank', 'SELECT count(*) FROM payments'), '0', 'the refused table is empty, with the error above');
	$foreign->stop;
	add_master_key($foreign);
	$foreign->start;
	command_ok([ 'pg_restore', '--data-only', '-t', 'payments', '-d', $foreign->connstr('bank'), $dump ],
		'with the right master key, the refused table restores');
	check_numbers($foreign, 'bank', 'foreign after the right master key');
}

# ---- COPY: text, CSV and binary, out as an application role, back in ---------------------

for my $fmt ('text', 'csv', 'binary')
{
	my $f = $node->basedir . "/holders.$fmt";
	my $g = $node->basedir . "/payments.$fmt";
	$node->safe_psql('bank', "\\copy acct.holders TO '$f' (FORMAT $fmt)",
		connstr => $node->connstr('bank') . ' user=clerk');
	$node->safe_psql('bank', "\\copy payments TO '$g' (FORMAT $fmt)",
		connstr => $node->connstr('bank') . ' user=clerk');
	no_clear_numbers($f, "COPY TO ($fmt) by an application role");
	no_clear_numbers($g, "COPY TO ($fmt) of the payments");
	$node->safe_psql('bank', qq{
		CREATE TABLE acct.holders_$fmt (LIKE acct.holders INCLUDING ALL);
		CREATE TABLE payments_$fmt (LIKE payments INCLUDING ALL);
		ALTER TABLE payments_$fmt ADD FOREIGN KEY (card) REFERENCES acct.holders_$fmt (card);
		COPY acct.holders_$fmt FROM '$f' (FORMAT $fmt);
		COPY payments_$fmt FROM '$g' (FORMAT $fmt);
		GRANT SELECT ON acct.holders_$fmt, payments_$fmt TO unmasker;
	});
	check_numbers($node, 'bank', "COPY FROM ($fmt)", table => "acct.holders_$fmt", payments => "payments_$fmt");
}
{
	# Values from COPY and from the source compare equal, row for row.
	is($node->safe_psql('bank', q{
		SELECT count(*) FROM acct.holders h
		  JOIN acct.holders_text t USING (id) JOIN acct.holders_binary b USING (id) JOIN acct.holders_csv c USING (id)
		 WHERE h.card = t.card AND t.card = b.card AND b.card = c.card
		   AND h.account = t.account AND t.account = b.account AND b.account = c.account}),
		$nrows, 'copied values equal the originals');
	# A sealed value altered in a COPY file is refused, in text and binary.
	my $f = $node->basedir . '/holders.text';
	my $content = slurp_file($f);
	$content =~ s/(~fs1\.[A-Za-z0-9_-]{60})([A-Za-z0-9])/$1 . ($2 eq 'A' ? 'B' : 'A')/e;
	my $bad = $node->basedir . '/holders_bad.text';
	open my $fh, '>', $bad or die;
	print $fh $content;
	close $fh;
	my ($rc, $out, $err) = $node->psql('bank', "CREATE TEMP TABLE x (LIKE acct.holders); COPY x FROM '$bad'");
	like($err, qr/failed its integrity check/, 'an altered sealed value in a COPY file is refused');
	my $bin = slurp_file($node->basedir . '/holders.binary');
	my $pos = rindex($bin, substr($cards[-1], 0, 6));    # the lenient card's clear prefix
	substr($bin, $pos + 60, 1) = chr(ord(substr($bin, $pos + 60, 1)) ^ 1);
	$bad = $node->basedir . '/holders_bad.binary';
	open $fh, '>:raw', $bad or die;
	print $fh $bin;
	close $fh;
	($rc, $out, $err) = $node->psql('bank', "CREATE TEMP TABLE x (LIKE acct.holders); COPY x FROM '$bad' (FORMAT binary)");
	like($err, qr/failed its integrity check/, 'and in a binary COPY file');
}

# ---- CREATE TABLE AS, and a round trip through text ------------------------------------

$node->safe_psql('bank', q{
	CREATE TABLE acct.holders_ctas AS SELECT * FROM acct.holders;
	CREATE UNIQUE INDEX ON acct.holders_ctas (card);
	CREATE TABLE payments_ctas AS SELECT * FROM payments;
	CREATE TABLE acct.holders_astext AS SELECT id, card::text AS card, account::text AS account FROM acct.holders;
	CREATE TABLE acct.holders_fromtext AS
		SELECT id, card::finsec.bank_card AS card, account::finsec.bank_account AS account FROM acct.holders_astext;
	CREATE UNIQUE INDEX ON acct.holders_fromtext (card);
	GRANT SELECT ON acct.holders_ctas, payments_ctas, acct.holders_fromtext TO unmasker;
});
check_numbers($node, 'bank', 'CREATE TABLE AS', table => 'acct.holders_ctas', payments => 'payments_ctas');
check_numbers($node, 'bank', 'CREATE TABLE AS through text', table => 'acct.holders_fromtext');

# ---- logical replication ------------------------------------------------------------------

my $sub = finsec_node('subscriber');
roles($sub);
my $keyfile = $node->basedir . '/key.copy';
my $verfile = $node->basedir . '/key_version.copy';
$node->safe_psql('bank', "COPY finsec.key TO '$keyfile'; COPY finsec.key_version TO '$verfile'");
$node->safe_psql('bank', 'CREATE PUBLICATION cards FOR TABLE acct.holders, payments');
for my $r ([ 'bank', 'sub_text', 'false' ], [ 'bank_bin', 'sub_bin', 'true' ])
{
	my ($db, $name, $binary) = @$r;
	$sub->safe_psql('postgres', "CREATE DATABASE $db");
	$sub->safe_psql($db, qq{
		CREATE EXTENSION finsec;
		COPY finsec.key FROM '$keyfile';
		COPY finsec.key_version FROM '$verfile';
		SELECT setval('finsec.key_id_seq', (SELECT max(key_id) FROM finsec.key));
	});
	$sub->safe_psql($db, $ddl);
	$sub->safe_psql($db, "CREATE SUBSCRIPTION $name CONNECTION '" . $node->connstr . " dbname=bank"
		  . "' PUBLICATION cards WITH (binary = $binary)");
	$sub->wait_for_subscription_sync($node, $name, $db);
}
check_numbers($sub, 'bank', 'replicated initial copy');
check_numbers($sub, 'bank_bin', 'replicated initial copy (binary)');

# Changes after the initial copy: new rows, a changed number, a deletion.
my $newcard = luhn_complete('621483' . digits(12));
my $newcard2 = luhn_complete('622848' . digits(9));
my $newacct = '6222' . digits(14);
add_leaks($newcard, 0);
add_leaks($newcard2, 0);
add_leaks($newacct, 1);
$node->safe_psql('bank', qq{
	INSERT INTO acct.holders VALUES (50, '$newcard', '$newacct');
	INSERT INTO payments VALUES (50, '$newcard', 5);
	DELETE FROM payments WHERE id IN (1, 101);
	UPDATE acct.holders SET card = '$newcard2' WHERE id = 1;
});
$node->wait_for_catchup($_) for ('sub_text', 'sub_bin');
my $q = q{SET ROLE unmasker;
	SELECT h.id, finsec.reveal(h.card, 'replica'), finsec.reveal(h.account, 'replica'), count(p.id)
	  FROM acct.holders h LEFT JOIN payments p ON p.card = h.card GROUP BY h.id ORDER BY h.id};
my $pub_state = $node->safe_psql('bank', $q);
like($pub_state, qr/^1\|$newcard2\|$accounts[0]\|0$/m, 'publisher: the number of row 1 changed');
like($pub_state, qr/^50\|$newcard\|$newacct\|1$/m, 'publisher: row 50 added');
is($sub->safe_psql('bank', $q), $pub_state, 'subscriber (text): the same numbers, the same joins');
is($sub->safe_psql('bank_bin', $q), $pub_state, 'subscriber (binary): the same numbers, the same joins');
for my $db ('bank', 'bank_bin')
{
	is($sub->safe_psql($db, "SELECT id FROM acct.holders WHERE card = '$newcard2'"), '1',
		"subscriber $db: a replicated number is found by equality");
	my ($rc, $out, $err) = $sub->psql($db, "INSERT INTO acct.holders VALUES (77, '$newcard', '$newacct')");
	like($err, qr/duplicate key value violates unique constraint "holders_card_key"/,
		"subscriber $db: the unique index holds replicated numbers");
}
# The subscriber's own ledger records its reveals.
ok($sub->safe_psql('bank', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'card.reveal' AND description = 'replica'}) > 0,
	'reveals on the subscriber are in its ledger');
$sub->safe_psql('bank', 'DROP SUBSCRIPTION sub_text');
$sub->safe_psql('bank_bin', 'DROP SUBSCRIPTION sub_bin');

# ---- rotation of card.enc, re-encryption, destruction of the old version -----------------

my $db = 'bank_c';
$node->safe_psql($db, 'CREATE TABLE acct.stale AS SELECT id, card FROM acct.holders WHERE id <= 2; GRANT SELECT ON acct.stale TO unmasker');
like(two_person($node, $db, q{finsec.key_rotate('card.enc', 'yearly')}), qr/"version": 2/, 'card.enc rotated to version 2');
is($node->safe_psql($db, q{SELECT string_agg(version || ':' || state, ',' ORDER BY version) FROM finsec.key_inventory WHERE label = 'card.enc'}),
	'1:retired,2:active', 'version 1 retired, version 2 active');
check_numbers($node, $db, 'after rotation (old values on version 1)');
is($node->safe_psql($db, q{SELECT count(*) FROM acct.holders WHERE (finsec.number_info(card)).enc_key_version = 1}),
	$nrows, 'existing values still name version 1');
$node->safe_psql($db, qq{INSERT INTO acct.holders VALUES (60, '$newcard', '$newacct')});
is($node->safe_psql($db, q{SELECT (finsec.number_info(card)).enc_key_version, (finsec.number_info(account)).enc_key_version FROM acct.holders WHERE id = 60}),
	'2|2', 'new values use version 2');
is($node->safe_psql($db, qq{SELECT count(*) FROM acct.holders WHERE card = '$cards[0]' OR card = '$newcard'}),
	'2', 'equality across encryption versions (the fingerprint key did not change)');
$node->safe_psql($db, 'DELETE FROM acct.holders WHERE id = 60');
# Re-encrypt everything (finsec_admin may call card_rekey; the tables
# belong to the superuser, so it runs the UPDATE).
$node->safe_psql($db, q{
	UPDATE acct.holders SET card = finsec.card_rekey(card), account = finsec.card_rekey(account);
	UPDATE payments SET card = finsec.card_rekey(card);
});
is($node->safe_psql($db, q{SELECT count(*) FILTER (WHERE (finsec.number_info(card)).enc_key_version = 2 AND (finsec.number_info(account)).enc_key_version = 2) FROM acct.holders}),
	$nrows, 'card_rekey moved every value to version 2');
check_numbers($node, $db, 'after card_rekey');
like(two_person($node, $db, q{finsec.key_destroy('card.enc', 1, 'all values re-encrypted')}), qr/"state": "destroyed"/,
	'version 1 destroyed');
check_numbers($node, $db, 'after version 1 was destroyed');
{
	my ($rc, $out, $err) = $node->psql($db, q{SET ROLE unmasker; SELECT finsec.reveal(card, 'stale') FROM acct.stale WHERE id = 1});
	like($err, qr/finsec key "card.enc" has no usable version 1/, 'a value left on the destroyed version fails reveal with a clear error');
	($rc, $out, $err) = $node->psql($db, 'SELECT finsec.card_rekey(card) FROM acct.stale');
	like($err, qr/no usable version 1/, 'and cannot be re-encrypted any more');
	is($node->safe_psql($db, 'SELECT count(*), min(finsec.mask(card)) IS NOT NULL FROM acct.stale'), '2|t',
		'it is still there, masked, and the server is fine');
	my $stale = $node->safe_psql($db, 'SELECT card FROM acct.stale WHERE id = 2');
	($rc, $out, $err) = $node->psql($db, "SELECT '$stale'::finsec.bank_card");
	like($err, qr/no usable version 1/, 'its sealed form is refused on input');
}

$node->stop;
$mirror->stop;
$foreign->stop;
$sub->stop;
done_testing();
