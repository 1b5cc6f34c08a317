# Crypto-shredding by key period (docs/protected-data.md#periods; D4,
# 003 6.4.2.5.1): after the keys of an ended month are destroyed (two
# people, protect.shred), none of that month's clear values is found in
# the table's files, its index files, the whole data directory of the
# primary, a fresh pg_dump, or the data directory (WAL included) of a
# physical standby; the month's values read as shredded on both, and the
# other month's values still reveal on the primary and still open (mask,
# protected_info) on the standby, where reveal() is refused for want of
# its ledger row.  A control table of clear text shows that the search
# does find clear values in relation files and WAL.
use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $primary = finsec_node('primary', init => { allows_streaming => 1 }, no_start => 1);
$primary->append_conf('postgresql.conf', "finsec.reveal_budget = 0\nwal_level = replica");
$primary->start;

$primary->safe_psql('postgres', q{
	CREATE DATABASE bank;
	CREATE DATABASE ctl;
});
my @approved = protect_test_setup($primary, 'bank', ['protect.enc', 'encryption', 'aes-256-gcm'],
	['protect.fp', 'fingerprint', 'hmac-sha256'], ['crm.enc', 'encryption', 'aes-256-gcm'],
	['crm.fp', 'fingerprint', 'hmac-sha256']);
is(scalar(grep { /"state": "active"/ } @approved), 4, 'the four keys approved (two people)');
sub two_person { my ($sql) = @_; return protect_two_person($primary, 'bank', $sql); }
$primary->safe_psql('bank', q{
	SET SESSION AUTHORIZATION adm1;
	SELECT finsec.protect_policy_create('crm_name', enc_key => 'crm.enc', fp_key => 'crm.fp',
										mask => 'name', period_unit => 'month');
});
like(two_person(q{finsec.protect_period_keys('crm_name', '2025-01-01', '2025-02-28', 'two months')}),
	qr/crm\.enc\.202501.*crm\.enc\.202502/s, 'the keys of January and February 2025 approved');

$primary->safe_psql('bank', q{
	CREATE TABLE txn (id int PRIMARY KEY, booked date NOT NULL, name finsec.protected_text(crm_name));
	-- A btree index holds whole sealed values (up to ~2.7 kB); the hash
	-- index takes the wide one too.
	CREATE INDEX txn_name ON txn (name) WHERE id < 1000;
	CREATE INDEX txn_name_hash ON txn USING hash (name);
	SELECT finsec.protect_period('txn', 'name', 'booked');
	GRANT SELECT ON txn TO unmasker;
});

# Distinct markers (random, so that a leak cannot hide behind a common
# string), ASCII so that any byte-level copy of them is found.
srand(20261202);
sub marker { my ($tag) = @_; return $tag . join('', map { ('A' .. 'Z')[int(rand(26))] } 1 .. 16); }
my @jan = map { marker('JAN') } 1 .. 40;
my @feb = map { marker('FEB') } 1 .. 40;
my @ctl = map { marker('CTL') } 1 .. 5;
my $n = 0;
$primary->safe_psql('bank', join '',
	map { $n++; "INSERT INTO txn VALUES ($n, '2025-01-" . sprintf('%02d', 1 + $n % 28) . "', '$_');\n" } @jan);
$primary->safe_psql('bank', join '',
	map { $n++; "INSERT INTO txn VALUES ($n, '2025-02-" . sprintf('%02d', 1 + $n % 28) . "', '$_');\n" } @feb);
# A wide value goes to TOAST: its chunks must go too.
my $wide = marker('JANWIDE') x 200;
$primary->safe_psql('bank', "INSERT INTO txn VALUES (1000, '2025-01-31', '$wide')");
push @jan, substr($wide, 0, 23);
$primary->safe_psql('ctl', "CREATE TABLE clear (v text); INSERT INTO clear VALUES "
	  . join(', ', map { "('$_')" } @ctl));
$primary->safe_psql('postgres', 'CHECKPOINT');

is($primary->safe_psql('bank', q{
	SET ROLE unmasker;
	SELECT count(*) FROM txn WHERE finsec.reveal(name, 'before shred') ~ '^(JAN|FEB)'}),
	'81', 'before the shred every value reveals');

my $standby = PostgreSQL::Test::Cluster->new('standby');
$primary->backup('base');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# ---- the shred ---------------------------------------------------------------------
like(two_person(q{finsec.protect_shred('crm_name', '2025-01-15', 'retention ended')}),
	qr/crm\.enc\.202501/, 'January 2025 shredded (two people)');
# The table is not touched; make the state of everything durable and replayed.
$primary->safe_psql('postgres', 'CHECKPOINT');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
$standby->safe_psql('postgres', 'CHECKPOINT');

# ---- what a reader of the files finds ----------------------------------------------
sub found_in
{
	my ($content, $list) = @_;
	return grep { index($content, $_) >= 0 } @$list;
}

sub files_under
{
	my (@roots) = @_;
	my @files;
	find({ wanted => sub { push @files, $File::Find::name if -f $_ }, no_chdir => 1 }, @roots);
	return @files;
}

sub search_files
{
	my ($files, $list) = @_;
	my %hits;
	for my $f (@$files)
	{
		my $c = eval { slurp_file($f) };
		next unless defined $c;
		$hits{$_} = $f for found_in($c, $list);
	}
	return \%hits;
}

my $pdata = $primary->data_dir;
my @relfiles;
for my $rel ('txn', 'txn_name', 'txn_name_hash', 'txn_pkey',
	"(SELECT reltoastrelid FROM pg_class WHERE oid = 'txn'::regclass)",
	"(SELECT indexrelid FROM pg_index WHERE indrelid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'txn'::regclass))")
{
	my $arg = $rel =~ /^\(/ ? $rel : "'$rel'::regclass";
	my $path = $primary->safe_psql('bank', "SELECT pg_relation_filepath($arg)");
	push @relfiles, grep { -f $_ } glob("$pdata/$path*");
}
ok(@relfiles >= 5, 'the table, its TOAST table and its indexes have files (' . scalar(@relfiles) . ')');
my $hits = search_files(\@relfiles, \@jan);
is(scalar(keys %$hits), 0, 'no shredded value in the files of the table, its TOAST table and indexes')
  or diag(join ', ', map { "$_ in $hits->{$_}" } keys %$hits);
is(scalar(keys %{ search_files(\@relfiles, \@feb) }), 0,
	'nor any value of the other month (they are sealed, not clear)');

# The control: the same search finds clear text in a relation's file and in WAL.
my $ctlpath = $primary->safe_psql('ctl', "SELECT pg_relation_filepath('clear')");
is(scalar(keys %{ search_files([glob("$pdata/$ctlpath*")], \@ctl) }), 5,
	'control: the search finds each clear value in its table file');
my @pfiles = files_under($pdata);
my $ctlhits = search_files(\@pfiles, \@ctl);
is(scalar(keys %$ctlhits), 5, 'control: and finds each of them in the data directory');

$hits = search_files(\@pfiles, \@jan);
is(scalar(keys %$hits), 0, 'no shredded value anywhere in the primary\'s data directory, WAL included')
  or diag(join ', ', map { "$_ in $hits->{$_}" } keys %$hits);

my $dump = $primary->backup_dir . '/bank.sql';
$primary->command_ok([ 'pg_dump', '-d', $primary->connstr('bank'), '-f', $dump ], 'a fresh pg_dump');
my $dumped = slurp_file($dump);
like($dumped, qr/~fp1\./, 'the dump holds the sealed values');
is(scalar(found_in($dumped, \@jan)), 0, 'no shredded value in the dump');
like($dumped, qr/\[shredded\]~fp1\./, 'the dump holds the shredded values as [shredded]');
is($primary->safe_psql('bank', q{
	SELECT count(*) FROM finsec.key_version kv JOIN finsec.key k USING (key_id)
	 WHERE k.label LIKE 'crm.%.202501' AND (kv.wrapped IS NOT NULL OR kv.state <> 'destroyed')}),
	'0', 'no version of January\'s keys keeps material');

my @sfiles = files_under($standby->data_dir);
ok(scalar(grep { m{/pg_wal/} } @sfiles) > 0, 'the standby\'s data directory has WAL');
$hits = search_files(\@sfiles, \@jan);
is(scalar(keys %$hits), 0, 'no shredded value anywhere in the standby\'s data directory, WAL included')
  or diag(join ', ', map { "$_ in $hits->{$_}" } keys %$hits);
is(scalar(keys %{ search_files(\@sfiles, \@ctl) }), 5, 'control: the standby has the clear control values');

# ---- what a reader of the database gets ----------------------------------------------
my $states = q{SELECT s || ':' || count(*) FROM (SELECT (finsec.protected_info(name)).period || ':'
					  || (finsec.protected_info(name)).state AS s FROM txn) x GROUP BY s ORDER BY s};
my $expected_states = "202501:shredded:41\n202502:ok:40";
is($primary->safe_psql('bank', $states), $expected_states, 'primary: January shredded, February intact');
is($standby->safe_psql('bank', $states), $expected_states, 'standby: the same');
is($primary->safe_psql('bank', q{
	SET ROLE unmasker;
	SELECT count(*) FILTER (WHERE r IS NULL) || '/' || count(*) FILTER (WHERE r ~ '^FEB')
	  FROM (SELECT finsec.reveal(name, 'after shred') AS r FROM txn) s}),
	'41/40', 'primary: shredded values reveal as NULL, the others reveal');
my $feb_on_primary = $primary->safe_psql('bank',
	q{SET ROLE unmasker; SELECT string_agg(finsec.reveal(name), ',' ORDER BY id) FROM txn WHERE booked >= '2025-02-01'});
is($feb_on_primary, join(',', @feb), 'primary: each February value is the original');
is($standby->safe_psql('bank',
		q{SELECT count(*) FILTER (WHERE finsec.mask(name) IS NULL) || '/' || count(*) FILTER (WHERE finsec.mask(name) ~ '^F\*+$') FROM txn}),
	'41/40', 'standby: shredded values mask to NULL, the others open');
my ($rc, $out, $err) = $standby->psql('bank', q{SET ROLE unmasker; SELECT finsec.reveal(name) FROM txn WHERE id = 50});
like($err, qr/read-only|recovery/, 'standby: reveal() is refused (its ledger row cannot be written)');
is($primary->safe_psql('bank', 'SELECT count(*) > 0 FROM finsec.audit_seal(); SELECT bool_and(ok) FROM finsec.audit_verify()'),
	"t\nt", 'the ledger, sealed, still verifies');

# ---- a restore of the fresh dump keeps it all -----------------------------------------
my $custom = $primary->backup_dir . '/bank.dump';
$primary->command_ok([ 'pg_dump', '-Fc', '-d', $primary->connstr('bank'), '-f', $custom ], 'a custom-format dump');
$primary->safe_psql('postgres', 'CREATE DATABASE restored');
$primary->command_ok([ 'pg_restore', '--exit-on-error', '-d', $primary->connstr('restored'), $custom ],
	'restored into another database (the period trigger restored with its registration)');
is($primary->safe_psql('restored', q{SELECT tgname || ':' || tgenabled::text FROM pg_trigger WHERE tgrelid = 'txn'::regclass}),
	'finsec_protect_period:A', 'restored: the period trigger, enabled always');
is($primary->safe_psql('restored', $states), $expected_states, 'restored: January shredded, February intact');
is($primary->safe_psql('restored',
		q{SET ROLE unmasker; SELECT string_agg(finsec.reveal(name), ',' ORDER BY id) FROM txn WHERE booked >= '2025-02-01'}),
	join(',', @feb), 'restored: each February value reveals the original');
($rc, $out, $err) = $primary->psql('restored', "INSERT INTO txn VALUES (2000, '2025-01-10', 'late')");
like($err, qr/period 202501 of protect policy "crm_name" was shredded/, 'restored: the shredded month takes no new value');

$standby->stop;
$primary->stop;
done_testing();
