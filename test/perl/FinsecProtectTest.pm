# FinsecProtectTest: the data, schema and checks shared by the TAP tests of
# protected personal data (docs/protected-data.md): test/t/120_protect_dump.pl
# and test/t/121_protect_replication.pl.
#
#   protect_setup($node, $db)      roles (once per cluster), the protect.enc and
#                                  protect.fp keys (two-person) and the test
#                                  policies in $db
#   protect_roles($node)           CREATE EXTENSION in postgres and the roles
#   protect_ddl()                  the schema of the test tables (crm.customer,
#                                  public.orders)
#   protect_rows()                 the rows (array of hashes, clear values, UTF-8
#                                  bytes), NULLs, an empty string and a 100 kB note
#   insert_sql(\@rows, $table)     INSERT statements for rows
#   reveal_sql($table, $reason)    a query revealing every column, one line a
#                                  row (id|name|phone|address|note md5:length|
#                                  resident ID|mobile, <null> for NULL)
#   expected_reveal(\@rows)        what reveal_sql must give for rows
#   no_clear_values($content, $what)
#                                  a test: no clear value (nor what a mask
#                                  hides) in the bytes, not even inside the
#                                  base64url of a sealed payload
#   add_leak(@strings)             more strings that must never appear
package FinsecProtectTest;

use strict;
use warnings;
use utf8;

use Encode qw(encode_utf8);
use Exporter 'import';
use MIME::Base64 qw(decode_base64);
use Digest::MD5 qw(md5_hex);
use Test::More;

our @EXPORT = qw(protect_setup protect_roles protect_ddl protect_rows insert_sql
  reveal_sql expected_reveal no_clear_values add_leak two_person sealed_payloads
  resident_id mobile_number);

# ---- values --------------------------------------------------------------------

srand(20261202);
sub digits { my ($n) = @_; return join '', map { int(rand(10)) } 1 .. $n; }

# An 18-character resident ID (GB 11643: region, birth date, sequence,
# ISO 7064 MOD 11-2 check character).
sub resident_id
{
	my @regions = qw(110105 310104 440305 510107 330106 320102);
	my $body = $regions[ int(rand(@regions)) ]
	  . sprintf('%04d%02d%02d', 1950 + int(rand(50)), 1 + int(rand(12)), 1 + int(rand(28)))
	  . digits(3);
	my @w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2);
	my $sum = 0;
	$sum += substr($body, $_, 1) * $w[$_] for 0 .. 16;
	return $body . substr('10X98765432', $sum % 11, 1);
}

sub mobile_number { return '1' . (3 + int(rand(7))) . digits(9); }

my @surnames = split //, '张王李赵刘陈杨黄周吴徐孙胡朱高林何郭马罗';
my @given = split //, '伟芳娜敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂';
my @roads = ('建国路', '中山北路', '人民大道', '解放西街', '滨江东路', '学院南路');
my @districts = ('北京市朝阳区', '上海市徐汇区', '广州市天河区', '成都市武侯区', '河北省保定市易县',
	'内蒙古自治区阿拉善盟阿拉善左旗', '杭州市');

# Strings that must never appear in a file or stream: each clear value and
# what its mask hides (UTF-8 bytes).
my @leaks;
# (Strings of characters are encoded; byte strings, as from a test file
# without "use utf8" or from psql, are taken as they are.)
sub add_leak
{
	push @leaks, map { utf8::is_utf8($_) ? encode_utf8($_) : $_ } grep { length $_ >= 2 } @_;
	return;
}

my @rows;
sub protect_rows
{
	return @rows if @rows;
	for my $i (1 .. 14)
	{
		my $name = $surnames[ $i % @surnames ] . $given[ ($i * 7) % @given ] . $given[ ($i * 3 + 1) % @given ];
		my $phone = mobile_number();
		my $dist = $districts[ $i % @districts ];
		my $street = $roads[ $i % @roads ] . (10 + int(rand(890))) . '号' . (1 + int(rand(30))) . '栋' . digits(3) . '室';
		my $note = "转账备注 $i: 合同号 " . digits(12) . ' 收款人 ' . $name;
		my $rid = resident_id();
		my $mob = mobile_number();
		push @rows, { id => $i, name => $name, phone => $phone, address => $dist . $street, note => $note,
			rid => $rid, mobile => $mob };
		add_leak($name, substr($name, 1), $phone, substr($phone, 0, 7), substr($phone, 3),
			$dist . $street, $street, $note, $rid, substr($rid, 0, 14), substr($rid, 6), $mob, substr($mob, 0, 7),
			substr($mob, 3));
	}
	# A compound surname, a Latin name, a landline and a short number, a
	# resident ID written with a small x, NULLs, an empty string, 100 kB.
	$rows[0]{name} = '欧阳明月';
	$rows[1]{name} = 'Zhang Weixian';
	$rows[2]{phone} = '010-6' . digits(7);
	$rows[3]{phone} = '9' . digits(4);
	add_leak($rows[0]{name}, '阳明月', $rows[1]{name}, 'hang Weixian', $rows[2]{phone}, substr($rows[2]{phone}, 4));
	my $x = 0;
	for my $r (@rows)
	{
		next if $r->{id} < 9;
		until ($r->{rid} =~ /X$/) { $r->{rid} = resident_id(); }
		add_leak($r->{rid}, substr($r->{rid}, 0, 14), substr($r->{rid}, 6));
		$r->{rid_in} = lc $r->{rid};
		last;
	}
	$rows[5]{$_} = undef for qw(phone address note rid mobile);
	$rows[6]{note} = '';
	my @chars = (@surnames, @given, 0 .. 9, 'a' .. 'z');
	my $big = join '', map { $chars[ int(rand(@chars)) ] } 1 .. 50000;    # about 105 kB of UTF-8
	$rows[7]{note} = $big;
	add_leak(map { substr($big, $_ * 997, 40) } 0 .. 39);
	# Everything as UTF-8 bytes from here on.
	for my $r (@rows)
	{
		defined $r->{$_} and $r->{$_} = encode_utf8($r->{$_}) for keys %$r;
	}
	return @rows;
}

# ---- schema ----------------------------------------------------------------------

sub protect_roles
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

# Two-person control: adm1 requests, adm2 approves.
sub two_person
{
	my ($n, $db, $request_sql) = @_;
	my $req = $n->safe_psql($db, "SET SESSION AUTHORIZATION adm1; SELECT $request_sql");
	return $n->safe_psql($db, "SET SESSION AUTHORIZATION adm2; SELECT finsec.approve($req)");
}

# The keys and the policies of the test database: names with a fingerprint
# (unique), phones with one, addresses without; the resident ID column and
# the notes under the built-in "default" policy.
sub protect_setup
{
	my ($n, $db) = @_;
	$n->safe_psql($db, 'CREATE EXTENSION IF NOT EXISTS finsec');
	like(two_person($n, $db, q{finsec.key_generate('protect.enc', 'encryption', 'aes-256-gcm')}),
		qr/"state": "active"/, "$db: protect.enc approved");
	like(two_person($n, $db, q{finsec.key_generate('protect.fp', 'fingerprint', 'hmac-sha256')}),
		qr/"state": "active"/, "$db: protect.fp approved");
	$n->safe_psql($db, q{
		SET SESSION AUTHORIZATION adm1;
		SELECT finsec.protect_policy_create('cust_name', mask => 'name', label => 'identifier');
		SELECT finsec.protect_policy_create('cust_phone', mask => 'phone');
		SELECT finsec.protect_policy_create('cust_address', fp_key => NULL, mask => 'address');
	});
	return;
}

# "crm" sorts before "finsec": pg_dump restores crm.customer's rows before
# the keyring and the policies; public.orders comes after them.
sub protect_ddl
{
	return q{
	CREATE SCHEMA crm;
	CREATE TABLE crm.customer (
		id int PRIMARY KEY,
		name finsec.protected_text(cust_name) NOT NULL,
		phone finsec.protected_text(cust_phone),
		address finsec.protected_text(cust_address),
		note finsec.protected_text("default"),
		rid finsec.protected_resident_id("default"),
		mobile finsec.protected_mobile(cust_phone));
	CREATE UNIQUE INDEX customer_name_key ON crm.customer (name);
	CREATE INDEX customer_mobile_idx ON crm.customer (mobile);
	CREATE TABLE public.orders (
		id int PRIMARY KEY,
		customer_name finsec.protected_text(cust_name) NOT NULL REFERENCES crm.customer (name),
		amount numeric NOT NULL);
	GRANT USAGE ON SCHEMA crm TO unmasker, clerk, nosy;
	GRANT SELECT ON crm.customer, public.orders TO unmasker, clerk, nosy;
	};
}

sub q_lit { my ($v) = @_; return 'NULL' unless defined $v; $v =~ s/'/''/g; return "'$v'"; }

sub insert_sql
{
	my ($rows, $table) = @_;
	$table //= 'crm.customer';
	return join '', map {
		"INSERT INTO $table VALUES ($_->{id}, " . join(', ',
			map { q_lit($_) } $_->{name}, $_->{phone}, $_->{address}, $_->{note}, $_->{rid_in} // $_->{rid},
			$_->{mobile}) . ");\n"
	} @$rows;
}

# One line a row; the note as its md5 and length (100 kB), each value
# revealed once (the CTE is materialized).
sub reveal_sql
{
	my ($table, $reason) = @_;
	return qq{SET ROLE unmasker;
	WITH r AS MATERIALIZED (
		SELECT id, finsec.reveal(name, '$reason') AS name, finsec.reveal(phone, '$reason') AS phone,
		       finsec.reveal(address, '$reason') AS address, finsec.reveal(note, '$reason') AS note,
		       finsec.reveal(rid, '$reason') AS rid, finsec.reveal(mobile, '$reason') AS mobile
		  FROM $table)
	SELECT id, coalesce(name, '<null>'), coalesce(phone, '<null>'), coalesce(address, '<null>'),
	       coalesce(md5(note) || ':' || length(note), '<null>'), coalesce(rid::text, '<null>'),
	       coalesce(mobile::text, '<null>')
	  FROM r ORDER BY id};
}

sub expected_reveal
{
	my ($rows) = @_;
	return join "\n", map {
		my $r = $_;
		my $note = defined $r->{note}
		  ? md5_hex($r->{note}) . ':' . length(Encode::decode_utf8($r->{note}))
		  : '<null>';
		join '|', $r->{id}, map({ $_ // '<null>' } $r->{name}, $r->{phone}, $r->{address}), $note,
		  map({ $_ // '<null>' } $r->{rid}, $r->{mobile})
	} @$rows;
}

# The sealed payloads (base64url after "~fp1.") in some text, decoded.
sub sealed_payloads
{
	my ($content) = @_;
	my @p;
	while ($content =~ /~fp1\.([A-Za-z0-9_-]+)/g)
	{
		my $b = $1;
		$b =~ tr{-_}{+/};
		$b .= '=' x ((4 - length($b) % 4) % 4);
		push @p, decode_base64($b);
	}
	return @p;
}

sub no_clear_values
{
	my ($content, $what) = @_;
	protect_rows();
	my @payloads = sealed_payloads($content);
	my @found = grep { index($content, $_) >= 0 } @leaks;
	my @in_payload = grep { my $l = $_; grep { index($_, $l) >= 0 } @payloads } @leaks;
	ok(length($content) > 0 && !@found && !@in_payload,
		"$what: no clear value in it, nor in its " . scalar(@payloads) . ' decoded sealed payloads')
	  or diag('found: ' . join(' ', @found, @in_payload));
	return scalar @payloads;
}

1;
