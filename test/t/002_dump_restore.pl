# pg_dump / pg_restore of a database using finsec restores the extension
# and its configuration intact: grants changed after install, and every
# configuration table registered with pg_extension_config_dump.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('dump');
$node->safe_psql('postgres', 'CREATE DATABASE source');
$node->safe_psql('source', q{
	CREATE EXTENSION finsec;
	CREATE ROLE clerk LOGIN IN ROLE finsec_app;
	-- a DBA's change to finsec's own grants, which pg_dump must carry
	GRANT EXECUTE ON FUNCTION finsec.library_version() TO finsec_app;
	REVOKE EXECUTE ON FUNCTION finsec.status() FROM finsec_operator;
	-- audit evidence: ledger rows, a protected table, sealed blocks, and
	-- rows not sealed yet
	SELECT finsec.audit_event('test.event', description => 'before dump ' || g)
	  FROM generate_series(1, 5) g;
	CREATE TABLE payments (id int PRIMARY KEY, amount numeric NOT NULL);
	INSERT INTO payments SELECT g, g * 1.5 FROM generate_series(1, 20) g;
	SELECT finsec.protect_table('payments', 'sm3');
	-- finsec.money values in several currencies, indexed (text form in the
	-- dump, restored through the type's input function)
	CREATE TABLE settlements (id int PRIMARY KEY, amt finsec.money NOT NULL);
	CREATE INDEX settlements_amt ON settlements (amt);
	INSERT INTO settlements
	SELECT g, finsec.money_from_minor(g * 12345 - 100000, (ARRAY['CNY', 'JPY', 'KWD', 'CLF'])[g % 4 + 1])
	  FROM generate_series(1, 40) g;
});
# Identifier columns (docs/identifiers.md): values restore through the
# types' input functions, keys and indexes included.
$node->safe_psql('source', q{
	CREATE TABLE kyc (id finsec.cn_resident_id PRIMARY KEY, phone finsec.cn_mobile UNIQUE,
					  org finsec.uscc);
	CREATE INDEX kyc_org ON kyc USING hash (org);
	INSERT INTO kyc VALUES ('11010519491231002x', '+86 138 1234 5678', '91350100m000100y43'),
						   ('440524188001010014', '19912345678', '91110000600037341L');
});
$node->safe_psql('source', 'SELECT finsec.audit_seal()');
$node->safe_psql('source', q{
	INSERT INTO payments VALUES (21, 99);
	SELECT finsec.audit_event('test.event', description => 'unsealed at dump time');
});

my $dump = $node->basedir . '/source.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump of a database using finsec');

$node->safe_psql('postgres', 'CREATE DATABASE target');
command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump ],
	'pg_restore into a new database, without any error');

is(catalog_listing($node, 'target'), catalog_listing($node, 'source'),
	'the restored extension is object for object the same, grants included');
is($node->safe_psql('target', q{
	SELECT has_function_privilege('finsec_app', 'finsec.library_version()', 'EXECUTE')
	       AND NOT has_function_privilege('finsec_operator', 'finsec.status()', 'EXECUTE')}),
	't', 'changed grants survive the restore');
is($node->safe_psql('target',
		"SELECT bool_and(ok) FROM finsec.status() WHERE component <> 'audit_sealer'"),
	't', 'finsec works in the restored database');

# The evidence survives: same rows, same stamps, same chains, verifying.
for my $q ('SELECT count(*), max(finsec_seq), sum(hashtext(t::text)) FROM finsec.audit t',
	'SELECT count(*), sum(hashtext(t::text)) FROM payments t',
	'SELECT relid::text, chain_id, algorithm, blocks, encode(head_hash, \'hex\') FROM finsec.ledger_chain ORDER BY 1',
	'SELECT count(*), sum(hashtext(b::text)) FROM finsec.ledger_block b',
	'SELECT count(*), string_agg(amt::text, \',\' ORDER BY amt) FROM settlements')
{
	is($node->safe_psql('target', $q), $node->safe_psql('source', $q), "restored identically: $q");
}
is($node->safe_psql('target',
		'SELECT string_agg(relation::text || \' \' || ok || \' \' || rows_checked || \' \' || rows_pending, \', \' ORDER BY relation::text) FROM finsec.audit_verify()'),
	'finsec.audit true 6 1, payments true 20 1',
	'the restored chains verify, with the unsealed rows pending');
# Writing and sealing continue after the restore, in the same cluster.
$node->safe_psql('target', q{
	INSERT INTO payments VALUES (22, 1);
	SELECT finsec.audit_event('test.event', description => 'after restore');
});
is($node->safe_psql('target', 'SELECT sum(rows_sealed) FROM finsec.audit_seal()'), '4',
	'new and previously unsealed rows seal after the restore');
is($node->safe_psql('target', 'SELECT bool_and(ok) AND sum(rows_pending) = 0 FROM finsec.audit_verify()'),
	't', 'and everything verifies');
is($node->safe_psql('target',
		"SELECT finsec_seq > (SELECT max(finsec_seq) FROM finsec.audit WHERE description = 'unsealed at dump time') FROM finsec.audit WHERE description = 'after restore'"),
	't', 'the ledger sequence continues after the restored rows');

is($node->safe_psql('target', 'SELECT string_agg(id::text || \' \' || phone::text || \' \' || org::text, \', \' ORDER BY id) FROM kyc'),
	'11010519491231002X 13812345678 91350100M000100Y43, 440524188001010014 19912345678 91110000600037341L',
	'identifier values restore normalized');
is($node->safe_psql('target', q{
	SET search_path = public, finsec;
	SET enable_seqscan = off;
	SELECT finsec.mask(id) FROM kyc WHERE id = '11010519491231002X' AND phone = '13812345678'
	   AND org = '91350100M000100Y43'}),
	'110105********002X', 'and their indexes answer');

# A plain-format dump replays through psql without a single error.
my $plain = $node->basedir . '/source.sql';
command_ok([ 'pg_dump', '-f', $plain, '-d', $node->connstr('source') ], 'plain pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE target_plain');
command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d', $node->connstr('target_plain') ],
	'the plain dump restores with ON_ERROR_STOP');
is(catalog_listing($node, 'target_plain'), catalog_listing($node, 'source'),
	'and gives the same objects');

$node->stop;
done_testing();
