# Protected personal data survives what a DBA does to a database
# (docs/protected-data.md): pg_dump in custom, plain and directory format,
# restored (directory format in parallel, -j 2) into another database of the
# cluster and into a second cluster started with the same master key; COPY
# TO and FROM in text, CSV and binary.  After each, every value revealed by a
# member of finsec_unmask is the original, masks and policies (typmods) are
# as in the source, the fingerprint unique index, equality lookups, joins
# and a foreign key work, and no file holds a clear value (nor what a mask
# hides), not even inside a sealed payload.  A restore into a cluster with
# another master key fails loudly on the rows it cannot authenticate and
# stores no garbage: the rows restored before the keyring stay sealed and
# become readable with the right master key.
use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use FinsecProtectTest;

my @rows = protect_rows();
my $nrows = scalar @rows;
my $expected = expected_reveal(\@rows);
my @orders = map { [ $_, $rows[ ($_ - 1) % 5 ]{name} ] } 1 .. 10;
my $norders = scalar @orders;
# Values revealed by one reveal_sql over the whole table.
my $nvalues = 0;
for my $r (@rows) { $nvalues += grep { defined $r->{$_} } qw(name phone address note rid mobile); }

sub node
{
	my ($name, %o) = @_;
	my $n = finsec_node($name, %o, no_start => 1);
	# The checks reveal every value many times.
	$n->append_conf('postgresql.conf', 'finsec.reveal_budget = 0');
	$n->start;
	protect_roles($n);
	return $n;
}

my $node = node('dump');
$node->safe_psql('postgres', 'CREATE DATABASE bank');
protect_setup($node, 'bank');
$node->safe_psql('bank', protect_ddl());
$node->safe_psql('bank', insert_sql(\@rows));
# Orders name their customer in the clear: the literal (policy "default")
# is re-sealed under the column's policy, and the foreign key finds it.
$node->safe_psql('bank', join '',
	map { "INSERT INTO orders VALUES ($_->[0], '$_->[1]', $_->[0] * 10);\n" } @orders);

# What the restored copies must show as the source does.
my $masks_q = sub {
	my ($t) = @_;
	return qq{SELECT id, finsec.mask(name), finsec.mask(phone), finsec.mask(address), finsec.mask(note),
	       finsec.mask(rid), finsec.mask(mobile),
	       finsec.protected_info(name)::text, finsec.protected_info(phone)::text,
	       finsec.protected_info(address)::text, finsec.protected_info(note)::text,
	       finsec.protected_info(rid)::text, finsec.protected_info(mobile)::text
	  FROM $t ORDER BY id};
};
my $typmods_q = q{SELECT attrelid::regclass, attname, format_type(atttypid, atttypmod) FROM pg_attribute
	 WHERE attrelid IN ('crm.customer'::regclass, 'public.orders'::regclass) AND attnum > 0 ORDER BY 1, attnum};
my $policies_q = q{SELECT policy_name, policy_id, enc_key, fp_key, fp_scope, mask, period_unit, label
	  FROM finsec.protect_policy ORDER BY policy_name};
my $src_masks = $node->safe_psql('bank', $masks_q->('crm.customer'));
my $src_typmods = $node->safe_psql('bank', $typmods_q);
my $src_policies = $node->safe_psql('bank', $policies_q);
my %policy_id = map { split /\|/ } split /\n/,
  $node->safe_psql('bank', 'SELECT policy_name, policy_id FROM finsec.protect_policy');

# ---- the source, as stored ------------------------------------------------------------

is($node->safe_psql('bank', reveal_sql('crm.customer', 'source')), $expected, 'source: every value reveals as written');
like($src_typmods, qr/^crm\.customer\|name\|finsec\.protected_text\(cust_name\)$/m, 'the typmod prints the policy name');
like($src_typmods, qr/^crm\.customer\|note\|finsec\.protected_text\("default"\)$/m, 'the default policy, quoted');
like($src_typmods, qr/^crm\.customer\|mobile\|finsec\.protected_mobile\(cust_phone\)$/m, 'protected_mobile with a policy');
ok($policy_id{cust_name} > 0 && $policy_id{cust_phone} > 0 && $policy_id{cust_address} > 0
	  && $policy_id{default} eq '0', 'the policies have ids, "default" is 0');
{
	my %info = map { my @f = split /\|/; ($f[0] => \@f) } split /\n/, $src_masks;
	like($info{1}[1], qr/^欧\*\*\*$/, 'name mask: the first character and one * per further character');
	is($info{2}[1], 'Z' . ('*' x 12), 'name mask of a Latin name');
	like($info{1}[8], qr/cust_phone/, 'the phone column is under cust_phone')
	  or diag($info{1}[8]);
	like($info{6}[8], qr/^$/, 'NULL phone: NULL info');
	is($info{7}[4], '****', 'an empty note is a value, masked as ****');
	is($info{8}[4], '****', 'the 100 kB note masked as ****');
}
is($node->safe_psql('bank', "SELECT count(*) FROM orders o JOIN crm.customer c ON c.name = o.customer_name"),
	$norders, 'orders join their customer on the fingerprint');
is($node->safe_psql('bank', "SELECT count(*) FROM orders WHERE (finsec.protected_info(customer_name)).policy = 'cust_name'"),
	$norders, 'a clear literal stored into a column is sealed under the column policy');

# Everything a path must preserve, checked in one database.
my $check_no = 0;
sub check_db
{
	my ($n, $db, $what, %o) = @_;
	my $t = $o{table} // 'crm.customer';
	my $orders = $o{orders} // 'public.orders';
	my $reason = 'check' . ++$check_no;
	is($n->safe_psql($db, reveal_sql($t, $reason)), $expected, "$what: every value reveals as it was written");
	is($n->safe_psql($db, $masks_q->($t)), $src_masks, "$what: masks and protected_info() as in the source");
	is($n->safe_psql($db, qq{SELECT count(*) FROM finsec.audit WHERE event_type = 'protect.reveal' AND description = '$reason'}),
		$nvalues, "$what: one protect.reveal row in the ledger per value revealed");
	unless ($o{table})
	{
		is($n->safe_psql($db, $typmods_q), $src_typmods, "$what: column typmods (policies) restored");
		is($n->safe_psql($db, $policies_q), $src_policies, "$what: policies restored with the same ids");
		like($n->safe_psql($db, "SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id FROM $t WHERE name = '$rows[0]{name}'::finsec.protected_text(cust_name)"),
			qr/Index (Only )?Scan using customer_name_key/, "$what: a name lookup uses the unique index");
	}
	my @found;
	for my $r (@rows[ 0, 1, 4, 7, 13 ])
	{
		push @found, $n->safe_psql($db, "SET enable_seqscan = off; SELECT id FROM $t WHERE name = '$r->{name}'::finsec.protected_text(cust_name)");
	}
	is("@found", "$rows[0]{id} $rows[1]{id} $rows[4]{id} $rows[7]{id} $rows[13]{id}",
		"$what: equality lookups by clear name find each row");
	is($n->safe_psql($db, "SELECT string_agg(id::text, ',') FROM $t WHERE phone = '$rows[2]{phone}'::finsec.protected_text(cust_phone)"),
		$rows[2]{id}, "$what: lookup by phone");
	is($n->safe_psql($db, "SET enable_seqscan = off; SELECT string_agg(id::text, ',') FROM $t WHERE mobile = '$rows[9]{mobile}'::finsec.protected_mobile(cust_phone)"),
		$rows[9]{id}, "$what: lookup by protected mobile (index)");
	my ($xr) = grep { $_->{rid_in} } @rows;
	is($n->safe_psql($db, "SELECT string_agg(id::text, ',') FROM $t WHERE rid = '$xr->{rid_in}'::finsec.protected_resident_id(\"default\")"),
		$xr->{id}, "$what: lookup by resident ID written with a small x");
	is($n->safe_psql($db, "SELECT count(*) FROM $orders o JOIN $t c ON c.name = o.customer_name"),
		$norders, "$what: orders join their customers on the name");
	is($n->safe_psql($db, "SET enable_sort = off; SELECT count(*) FROM (SELECT name FROM $t GROUP BY name) s"),
		$nrows, "$what: GROUP BY the name (hash)");
	my ($rc, $out, $err) = $n->psql($db, "SELECT id FROM $t WHERE address = '$rows[0]{address}'::finsec.protected_text(cust_address)");
	like($err, qr/keeps no fingerprint/, "$what: the address policy keeps no fingerprint: equality refused");
	($rc, $out, $err) = $n->psql($db, "INSERT INTO $t (id, name) VALUES (999, '$rows[3]{name}')");
	like($err, qr/duplicate key value violates unique constraint/, "$what: the unique index refuses a known name");
	unlike($err, qr/\Q$rows[3]{name}\E/, "$what: and does not quote it");
	return;
}

check_db($node, 'bank', 'source');
{
	my ($rc, $out, $err) = $node->psql('bank', 'SET ROLE nosy; SELECT finsec.reveal(name) FROM crm.customer');
	like($err, qr/permission denied/, 'a role outside finsec_unmask cannot reveal');
	($rc, $out, $err) = $node->psql('bank', 'SET ROLE clerk; SELECT finsec.reveal(name) FROM crm.customer');
	like($err, qr/permission denied/, 'nor can an application role');
}

# ---- dumps ----------------------------------------------------------------------------------

# Uncompressed (-Z 0), so that looking for values in the files means something.
my $dump = $node->basedir . '/bank.dump';
my $plain = $node->basedir . '/bank.sql';
my $dir = $node->basedir . '/bank.dir';
command_ok([ 'pg_dump', '-Fc', '-Z', '0', '-f', $dump, '-d', $node->connstr('bank') ], 'pg_dump -Fc');
command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('bank') ], 'pg_dump plain');
command_ok([ 'pg_dump', '-Fd', '-Z', '0', '-j', '2', '-f', $dir, '-d', $node->connstr('bank') ], 'pg_dump -Fd -j 2');
my $plain_text = slurp_file($plain);
my $npayloads = no_clear_values($plain_text, 'plain dump');
ok($npayloads >= $nvalues + $norders, "the plain dump holds the $nvalues + $norders sealed values");
no_clear_values(slurp_file($dump), 'custom dump');
{
	my $all = '';
	find(sub { $all .= slurp_file($_) if -f $_ }, $dir);
	no_clear_values($all, 'directory dump (every file)');
}
like($plain_text, qr/name finsec\.protected_text\(cust_name\) NOT NULL/, 'the plain dump names the policy in the column type');
like($plain_text, qr/^1\t欧\*\*\*~fp1\.[A-Za-z0-9_-]+\t/m, 'the plain dump holds masked, sealed values');
{
	# Every sealed payload: format 1, under one of the policies, and the
	# name column's under cust_name.
	my %ids = reverse %policy_id;
	my @p = FinsecProtectTest::sealed_payloads($plain_text);
	my @bad = grep { length($_) < 76 || ord(substr($_, 0, 1)) != 1 || !exists $ids{ unpack('N', substr($_, 4, 4)) } } @p;
	is(scalar @bad, 0, 'every sealed payload has format 1 and the id of a policy');
	my ($copy) = $plain_text =~ /^COPY crm\.customer .*?\n(.*?)\n\\\.$/ms;
	my @names = map { (split /\t/)[1] } split /\n/, $copy;
	is(scalar(grep { unpack('N', substr((FinsecProtectTest::sealed_payloads($_))[0], 4, 4)) == $policy_id{cust_name} } @names),
		$nrows, 'the name column is sealed under cust_name');
}
{
	my $list = `pg_restore -l $dump`;
	ok(index($list, 'TABLE DATA crm customer') < index($list, 'TABLE DATA finsec key ')
		  && index($list, 'TABLE DATA crm customer') < index($list, 'TABLE DATA finsec protect_policy'),
		'the dump restores crm.customer before the keyring and the policies');
	ok(index($list, 'TABLE DATA public orders') > index($list, 'TABLE DATA finsec key_version'),
		'and public.orders after them');
}

# ---- restores into the same cluster -----------------------------------------------------------

# Success means exit status 0 and not a line on stderr.
sub restore_ok
{
	my ($n, $db, $what, @cmd) = @_;
	$n->safe_psql('postgres', "CREATE DATABASE $db");
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ @cmd, '-d', $n->connstr($db) ], '>', \$stdout, '2>', \$stderr);
	ok($ok && $stderr eq '', "$what into $db: no error") or diag($stderr);
	return;
}
restore_ok($node, 'bank_c', 'pg_restore (custom)', 'pg_restore', $dump);
check_db($node, 'bank_c', 'restored from the custom dump');
restore_ok($node, 'bank_p', 'the plain dump', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain);
check_db($node, 'bank_p', 'restored from the plain dump');
# A sealed value altered in a dump restores ahead of the keyring (accepted
# unauthenticated, as cards are) but is caught at first use: it prints as
# [invalid], protected_info() says so, reveal() refuses it; nothing else
# changes.
{
	my $bad = $node->basedir . '/bank_altered.sql';
	my $t = $plain_text;
	$t =~ s/^(1\t[^\t]*\t[^\t~]*~fp1\.[A-Za-z0-9_-]{100})([A-Za-z0-9_-])/$1 . ($2 eq 'A' ? 'B' : 'A')/me
	  or die 'no phone of row 1 in the plain dump';
	open my $fh, '>', $bad or die;
	print $fh $t;
	close $fh;
	restore_ok($node, 'bank_x', 'a plain dump with one altered phone', 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $bad);
	like($node->safe_psql('bank_x', 'SELECT phone FROM crm.customer WHERE id = 1'), qr/^\[invalid\]~fp1\./,
		'the altered value prints as [invalid]');
	is($node->safe_psql('bank_x', "SELECT string_agg(id::text, ',') FROM crm.customer WHERE (finsec.protected_info(phone)).state <> 'ok'"),
		'1', 'protected_info() finds it, and only it');
	my ($rc, $out, $err) = $node->psql('bank_x', 'SET ROLE unmasker; SELECT finsec.reveal(phone) FROM crm.customer WHERE id = 1');
	like($err, qr/integrity/, 'reveal() refuses it');
	is($out, '', '(no garbage)');
	is($node->safe_psql('bank_x', q{SET ROLE unmasker; SELECT count(finsec.reveal(phone)) FROM crm.customer WHERE id > 1}),
		scalar(grep { defined $_->{phone} } @rows) - 1, 'the other phones reveal');
}
restore_ok($node, 'bank_d', 'pg_restore -j 2 (directory)', 'pg_restore', '-j', '2', $dir);
check_db($node, 'bank_d', 'restored from the directory dump in parallel');

# ---- a second cluster with the same master key ------------------------------------------------

my $mirror = node('mirror');
restore_ok($mirror, 'bank', 'pg_restore (custom) in a cluster with the same master key', 'pg_restore', $dump);
check_db($mirror, 'bank', 'mirror, custom');
restore_ok($mirror, 'bank_d', 'pg_restore -j 2 in a cluster with the same master key', 'pg_restore', '-j', '2', $dir);
check_db($mirror, 'bank_d', 'mirror, directory -j 2');
$mirror->stop;

# ---- a cluster with another master key ---------------------------------------------------------

my $foreign = node('foreign', master_key => 'ff' x 32);
$foreign->safe_psql('postgres', 'CREATE DATABASE bank');
{
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'pg_restore', '-d', $foreign->connstr('bank'), $dump ], '>', \$stdout, '2>', \$stderr);
	ok(!$ok, 'pg_restore into a cluster with another master key fails (exit status)');
	like($stderr, qr/COPY failed for table "orders": ERROR:  .*master key/,
		'on the rows restored after the keyring, naming the master key');
	like($stderr, qr/errors ignored on restore: 1$/m, 'and only there') or diag($stderr);
	no_clear_values($stderr, 'pg_restore messages');
}
{
	is($foreign->safe_psql('bank', 'SELECT count(*) FROM crm.customer'), $nrows,
		'rows restored before the keyring are kept, sealed');
	is($foreign->safe_psql('bank', 'SELECT count(*) FROM orders'), '0', 'the refused table is empty');
	my $out = $foreign->safe_psql('bank', 'SELECT name FROM crm.customer');
	is(scalar(grep { !/^\[protected\]~fp1\./ } split /\n/, $out), 0,
		'they print as [protected] (output never fails), not as a mask or garbage');
	my ($rc, $o, $err) = $foreign->psql('bank', 'SET ROLE unmasker; SELECT finsec.reveal(name) FROM crm.customer');
	like($err, qr/master key/, 'revealing them fails loudly');
	($rc, $o, $err) = $foreign->psql('bank', "INSERT INTO crm.customer (id, name) VALUES (500, '新客户')");
	like($err, qr/master key/, 'as does storing a new value');
	$foreign->stop;
	add_master_key($foreign);
	$foreign->start;
	command_ok([ 'pg_restore', '--data-only', '-t', 'orders', '-d', $foreign->connstr('bank'), $dump ],
		'with the right master key, the refused table restores');
	check_db($foreign, 'bank', 'foreign, after the right master key');
	$foreign->stop;
}

# ---- COPY: text, CSV and binary, out as an application role, back in ---------------------------

for my $fmt ('text', 'csv', 'binary')
{
	my $f = $node->basedir . "/customer.$fmt";
	my $g = $node->basedir . "/orders.$fmt";
	for ([ 'crm.customer', $f ], [ 'orders', $g ])
	{
		$node->safe_psql('bank', "\\copy $_->[0] TO '$_->[1]' (FORMAT $fmt)",
			connstr => $node->connstr('bank') . ' user=clerk');
	}
	no_clear_values(slurp_file($f), "COPY TO ($fmt) by an application role") unless $fmt eq 'binary';
	if ($fmt eq 'binary')
	{
		my $bin = slurp_file($f);
		my @found = grep { index($bin, $_->{name}) >= 0 || (defined $_->{rid} && index($bin, $_->{rid}) >= 0) } @rows;
		ok(!@found && length $bin > 100_000, 'COPY TO (binary): no clear name or resident ID in it');
	}
	$node->safe_psql('bank', qq{
		CREATE TABLE crm.customer_$fmt (LIKE crm.customer INCLUDING ALL);
		CREATE TABLE orders_$fmt (LIKE orders INCLUDING ALL);
		ALTER TABLE orders_$fmt ADD FOREIGN KEY (customer_name) REFERENCES crm.customer_$fmt (name);
		COPY crm.customer_$fmt FROM '$f' (FORMAT $fmt);
		COPY orders_$fmt FROM '$g' (FORMAT $fmt);
		GRANT SELECT ON crm.customer_$fmt, orders_$fmt TO unmasker;
	});
	check_db($node, 'bank', "COPY FROM ($fmt)", table => "crm.customer_$fmt", orders => "orders_$fmt");
}
is($node->safe_psql('bank', q{
	SELECT count(*) FROM crm.customer c
	  JOIN crm.customer_text t USING (id) JOIN crm.customer_csv v USING (id) JOIN crm.customer_binary b USING (id)
	 WHERE c.name = t.name AND t.name = v.name AND v.name = b.name
	   AND c.phone IS NOT DISTINCT FROM b.phone AND c.mobile IS NOT DISTINCT FROM b.mobile
	   AND c.rid IS NOT DISTINCT FROM b.rid}),
	$nrows, 'copied values equal the originals');

# Sealed values altered, truncated or moved to a column of another policy
# are refused, without quoting them.
{
	my $text = slurp_file($node->basedir . '/customer.text');
	my ($line) = grep { /^1\t/ } split /\n/, $text;
	my @f = split /\t/, $line;
	my $try = sub {
		my ($what, $content, $re) = @_;
		my $bad = $node->basedir . '/customer_bad.text';
		open my $fh, '>', $bad or die;
		print $fh $content, "\n";
		close $fh;
		my ($rc, $out, $err) = $node->psql('bank',
			"\\set VERBOSITY verbose\nCREATE TEMP TABLE x (LIKE crm.customer); COPY x FROM '$bad'");
		like($err, $re, $what);
		# (The CONTEXT line is PostgreSQL's COPY context, quoting to the
		# client what it sent: a sealed form.)
		my ($payload) = $content =~ /~fp1\.([A-Za-z0-9_-]{20})/;
		(my $msg = $err) =~ s/^CONTEXT:.*\n?//mg;
		unlike($msg, qr/\Q$payload\E/, "$what: the message does not quote the value");
		return;
	};
	my $alter = sub {
		my ($field, $at) = @_;
		$field =~ s/(~fp1\.[A-Za-z0-9_-]{$at})([A-Za-z0-9_-])/$1 . ($2 eq 'A' ? 'B' : 'A')/e or die "too short";
		return $field;
	};
	my @g = @f;
	$g[1] = $alter->($f[1], 70);
	$try->('a sealed name with an altered fingerprint is refused', join("\t", @g), qr/ERROR:  (22P02|S9K05):/);
	$g[1] = $alter->($f[1], 100);
	$try->('a sealed name with an altered ciphertext is refused', join("\t", @g), qr/ERROR:  (22P02|S9K05):/);
	$g[1] = substr($f[1], 0, length($f[1]) - 8);
	$try->('a truncated sealed name is refused', join("\t", @g), qr/ERROR:  (22P02|S9K05):/);
	@g = @f;
	$g[2] = $f[1];
	$try->('a sealed name stored into the phone column (another policy) is refused', join("\t", @g),
		qr/ERROR:  S9P03: .*cust_name.*cust_phone/);
	# The masked prefix is not trusted: a forged one is refused or ignored.
	@g = @f;
	$g[1] =~ s/^[^~]*~/假名字~/;
	{
		my $forged = $node->basedir . '/customer_forged.text';
		open my $fh, '>', $forged or die;
		print $fh join("\t", @g), "\n";
		close $fh;
		my ($rc, $out, $err) = $node->psql('bank',
			"CREATE TEMP TABLE x (LIKE crm.customer); COPY x FROM '$forged'; SELECT finsec.mask(name) || '|' || name FROM x");
		ok($rc != 0 || $out =~ /^欧\*\*\*\|欧\*\*\*~fp1\./,
			'a sealed name with a forged masked prefix is refused, or shows its true mask')
		  or diag("rc=$rc out=$out err=$err");
	}
	@g = @f;
	@g[ 4, 5 ] = @f[ 5, 4 ];    # a resident ID into the free-text note and back
	$try->('a sealed resident ID in a protected_text column is refused', join("\t", @g), qr/ERROR:  (22P02|S9K05|S9P\d\d):/);
}

# A clear value refused on input is not written to the server log: neither
# by the statement (errhidestmt: with log_statement off, as by default) nor
# by the CONTEXT of COPY, which quotes the first 100 characters of the
# field being read (a mistyped resident ID or mobile number, the beginning
# of an over-long clear text).
{
	my $typo = $rows[0]{rid};
	substr($typo, 15, 1) = (substr($typo, 15, 1) + 1) % 10;    # check character no longer matches
	my $badmob = '12' . substr($rows[1]{mobile}, 2);    # no mobile network starts 12
	my $big = 'ABCDEFGHIJ' . ('客户姓名地址电话' x 50_000);    # 1.2 MB, over the 1 MB limit
	my $probe = sub {
		my ($what, $sql, $needle, $re) = @_;
		my $offset = -s $node->logfile;
		my ($rc, $out, $err) = $node->psql('bank', $sql);
		like($err, $re, "$what: refused");
		my $log = substr(slurp_file($node->logfile), $offset);
		unlike($log, qr/\Q$needle\E/, "$what: the value is not in the server log") or diag($log =~ /^(.*\Q$needle\E.*)$/m);
		return;
	};
	my $csv = $node->basedir . '/customer_typo.csv';
	for my $c ([ 'COPY FROM: a mistyped resident ID', "900,名字,,,,$typo,", $typo, qr/invalid resident ID number/ ],
		[ 'COPY FROM: a mistyped mobile number', "901,名字,,,,,$badmob", $badmob, qr/invalid .*mobile/ ],
		[ 'COPY FROM: a clear text over 1 MB', "902,$big,,,,,", substr($big, 0, 40), qr/at most 1048576 bytes/ ])
	{
		open my $fh, '>', $csv or die;
		print $fh $c->[1], "\n";
		close $fh;
		$probe->($c->[0], "COPY crm.customer (id, name, phone, address, note, rid, mobile) FROM '$csv' (FORMAT csv)",
			$c->[2], $c->[3]);
	}
	$probe->('INSERT: a mistyped resident ID', "SET log_statement = 'none'; INSERT INTO crm.customer (id, name, rid) VALUES (903, '名字', '$typo')",
		$typo, qr/invalid resident ID number/);
	$probe->('INSERT: a clear text over 1 MB', "SET log_statement = 'none'; INSERT INTO crm.customer (id, name) VALUES (904, '$big')",
		substr($big, 0, 40), qr/at most 1048576 bytes/);
}

# COPY FROM clear values seals them directly under each column's policy.
{
	my $csv = $node->basedir . '/customer_clear.csv';
	open my $fh, '>', $csv or die;
	for my $r (@rows)
	{
		print $fh join(',', $r->{id}, map { defined $_ ? '"' . s/"/""/gr . '"' : '' }
			  @$r{qw(name phone address note)}, $r->{rid_in} // $r->{rid}, $r->{mobile}), "\n";
	}
	close $fh;
	$node->safe_psql('bank', qq{
		CREATE TABLE crm.customer_clear (LIKE crm.customer INCLUDING ALL);
		COPY crm.customer_clear FROM '$csv' (FORMAT csv);
		GRANT SELECT ON crm.customer_clear TO unmasker;
		CREATE TABLE orders_clear (LIKE orders INCLUDING ALL);
		INSERT INTO orders_clear SELECT * FROM orders;
	});
	is($node->safe_psql('bank', q{
		SELECT string_agg(DISTINCT (finsec.protected_info(name)).policy || '/' || coalesce((finsec.protected_info(phone)).policy, '-')
		       || '/' || coalesce((finsec.protected_info(address)).policy, '-') || '/' || coalesce((finsec.protected_info(note)).policy, '-')
		       || '/' || coalesce((finsec.protected_info(mobile)).policy, '-'), ',')
		  FROM crm.customer_clear WHERE phone IS NOT NULL}),
		'cust_name/cust_phone/cust_address/default/cust_phone', 'COPY FROM clear text seals under each column policy');
	check_db($node, 'bank', 'COPY FROM clear CSV', table => 'crm.customer_clear', orders => 'orders_clear');
	is($node->safe_psql('bank', 'SELECT count(*) FROM crm.customer c JOIN crm.customer_clear k USING (id) WHERE c.name = k.name AND c.mobile IS NOT DISTINCT FROM k.mobile'),
		$nrows, 'values sealed again from clear text equal the originals');
}

$node->stop;
done_testing();
