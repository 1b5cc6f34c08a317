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
# Risk rulesets in every state: version 1 deployed and retired, version 2
# deployed and active, version 3 a draft with rules (docs/risk-admin.md).
# 0.7 lost versions 1 and 2 and every rule of them at pg_restore.
$node->safe_psql('source', q{
	SET client_min_messages = warning;
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at, note) VALUES (1, 10, 20, 30, 'first');
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
		VALUES (1, 'big', 'threshold', '{"attribute":"amount","op":">=","value":1000}', 40, 'AMOUNT_HIGH', 'card_not_present');
	UPDATE finsec.risk_ruleset SET state = 'active' WHERE version = 1;
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at, note, training_rows)
		VALUES (2, 15, 25, 35.50, 'second', 1200);
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category, mode, description)
		VALUES (2, 'big', 'threshold', '{"attribute":"amount","op":">=","value":500}', 20, 'AMOUNT_HIGH', 'card_not_present', 'enforce', 'half as big'),
			   (2, 'huge', 'threshold', '{"attribute":"amount","op":">=","value":5000}', 20.5, 'AMOUNT_HUGE', 'money_laundering', 'enforce', NULL),
			   (2, 'night', 'time_of_day', '{"from":"01:00","to":"04:00"}', 5, 'NIGHT', 'card_not_present', 'shadow', NULL);
	UPDATE finsec.risk_ruleset SET state = 'retired' WHERE version = 1;
	UPDATE finsec.risk_ruleset SET state = 'active' WHERE version = 2;
	INSERT INTO finsec.risk_ruleset (version, challenge_at, review_at, block_at, note) VALUES (3, 1, 2, 3, 'draft');
	SELECT finsec.risk_list_add('black', 'device', 'dev-evil');
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
		VALUES (3, 'any', 'threshold', '{"attribute":"amount","op":">","value":0}', 5, 'ANY', 'card_not_present');
});
$node->safe_psql('source', 'SELECT finsec.audit_seal()');
$node->safe_psql('source', q{
	INSERT INTO payments VALUES (21, 99);
	SELECT finsec.audit_event('test.event', description => 'unsealed at dump time');
});

my $dump = $node->basedir . '/source.dump';
command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('source') ],
	'pg_dump of a database using finsec');

# Without finsec.restore the deployed versions are refused (a deployment
# is two-person; no role may insert one), with a hint naming the setting.
$node->safe_psql('postgres', 'CREATE DATABASE target_refused');
my ($out, $err) = run_command([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target_refused'), $dump ]);
like($err, qr/a new risk ruleset is a draft.*finsec\.restore = on/s,
	'without finsec.restore, pg_restore is refused deployed rulesets, with the hint');
# finsec.restore is a superuser's setting: finsec_admin cannot set it.
$node->safe_psql('source', 'CREATE ROLE dump_adm IN ROLE finsec_admin');
my $rc;
($rc, $out, $err) = $node->psql('source', 'SET ROLE dump_adm; SET finsec.restore = on');
like($err, qr/permission denied to set parameter "finsec.restore"/, 'finsec_admin cannot set finsec.restore');
# Nor does it help a session whose role is not a superuser.
($rc, $out, $err) = $node->psql('source', q{
	SET finsec.restore = on;
	GRANT INSERT ON finsec.risk_ruleset TO dump_adm;
	SET ROLE dump_adm;
	INSERT INTO finsec.risk_ruleset (version, state, content_hash, deployed_by, deployed_at)
		VALUES (9, 'active', finsec.risk_ruleset_hash(2), 'x', now())});
like($err, qr/a new risk ruleset is a draft/, 'a role that is not a superuser cannot insert a deployed version, even with finsec.restore on');
$node->safe_psql('source', 'REVOKE INSERT ON finsec.risk_ruleset FROM dump_adm; DROP ROLE dump_adm');

$node->safe_psql('postgres', 'CREATE DATABASE target');
{
	local $ENV{PGOPTIONS} = '-c finsec.restore=on';
	command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('target'), $dump ],
		'pg_restore (as a superuser, finsec.restore = on) into a new database, without any error');
}

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
	'finsec.audit true 7 1, payments true 20 1',
	'the restored chains verify, with the unsealed rows pending');
# Writing and sealing continue after the restore, in the same cluster.
$node->safe_psql('target', q{
	INSERT INTO payments VALUES (22, 1);
	SELECT finsec.audit_event('test.event', description => 'after restore');
});
# 4: the two pending, the two new; 5: and the audit.verify row of the
# verification above (finsec 1.3 records every audit_verify()).
is($node->safe_psql('target', 'SELECT sum(rows_sealed) FROM finsec.audit_seal()'), '5',
	'new and previously unsealed rows seal after the restore');
is($node->safe_psql('target', 'SELECT bool_and(ok) AND sum(rows_pending) = 0 FROM finsec.audit_verify()'),
	't', 'and everything verifies');
is($node->safe_psql('target',
		"SELECT finsec_seq > (SELECT max(finsec_seq) FROM finsec.audit WHERE description = 'unsealed at dump time') FROM finsec.audit WHERE description = 'after restore'"),
	't', 'the ledger sequence continues after the restored rows');

# Rulesets, rules and their states are restored exactly, and the recorded
# content hashes still match the content.
for my $q ('SELECT string_agg(t::text, E\'\\n\' ORDER BY version) FROM finsec.risk_ruleset t',
	'SELECT string_agg(t::text, E\'\\n\' ORDER BY rule_id) FROM finsec.risk_rule t',
	"SELECT string_agg(version || ' ' || state, ', ' ORDER BY version) FROM finsec.risk_ruleset")
{
	is($node->safe_psql('target', $q), $node->safe_psql('source', $q), "restored identically: $q");
}
is($node->safe_psql('target', "SELECT string_agg(version || ' ' || state, ', ' ORDER BY version) FROM finsec.risk_ruleset"),
	'1 retired, 2 active, 3 draft', 'every version in its state');
like(slurp_file($node->logfile), qr/finsec: risk ruleset 1 restored as retired.*finsec: risk ruleset 2 restored as active/s,
	'the server log records each deployed version the restore loaded');
is($node->safe_psql('target', q{
	SELECT bool_and(content_hash = finsec.risk_ruleset_hash(version)) AND count(*) = 2
	  FROM finsec.risk_ruleset WHERE state <> 'draft'}),
	't', 'the restored versions hash to their deployment records');
# The same payments get the same decisions in both databases.
my $decisions = q{
	SELECT string_agg(format('%s %s %s %s %s', a, d.decision, d.score, d.reasons, d.ruleset_version), E'\n' ORDER BY a)
	  FROM unnest(ARRAY[10, 499, 500, 4999, 5000, 20000]) a,
		   LATERAL finsec.risk_score(customer => 'c' || a, amount => a, at => '2026-06-01 12:00+08') d};
my $src_decisions = $node->safe_psql('source', $decisions);
is($node->safe_psql('target', $decisions), $src_decisions, 'payments score identically after the restore');
like($src_decisions, qr/^5000 block 40\.5 .*AMOUNT_HUGE.* 2$/m, 'under the restored active version 2');
# finsec.restore loads rules as dumped; a rule that does not belong to the
# deployed content is caught before it scores.
($rc, $out, $err) = $node->psql('target', q{
	BEGIN;
	SET LOCAL finsec.restore = on;
	INSERT INTO finsec.risk_rule (ruleset_version, name, kind, params, weight, reason_code, category)
		VALUES (2, 'allow_all', 'threshold', '{"attribute":"amount","op":">","value":0}', -1000, 'X', 'card_not_present');
	SELECT finsec.risk_score(customer => 'c1', amount => 20000);
	ROLLBACK});
like($err, qr/active risk ruleset 2 does not match its deployment record/,
	'a rule slipped into a deployed version during a restore stops scoring (fail closed)');

# Identifiers go on after the restored ones (identity sequences are kept).
is($node->safe_psql('target', q{
	SET client_min_messages = warning;
	SELECT finsec.risk_ruleset_copy(2) = 4 AS copied \gset
	SELECT finsec.risk_list_add('black', 'device', 'dev-new') AS entry \gset
	SELECT :'copied'::boolean, (SELECT min(rule_id) FROM finsec.risk_rule WHERE ruleset_version = 4)
		   > (SELECT max(rule_id) FROM finsec.risk_rule WHERE ruleset_version < 4),
		   :entry > (SELECT min(entry_id) FROM finsec.risk_list_entry)}),
	't|t|t', 'new drafts, rules and list entries get new identifiers after the restore');

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
{
	local $ENV{PGOPTIONS} = '-c finsec.restore=on';
	command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $plain, '-d', $node->connstr('target_plain') ],
		'the plain dump restores with ON_ERROR_STOP (finsec.restore = on)');
}
is($node->safe_psql('target_plain', 'SELECT string_agg(t::text, E\'\\n\' ORDER BY version) FROM finsec.risk_ruleset t'),
	$node->safe_psql('source', 'SELECT string_agg(t::text, E\'\\n\' ORDER BY version) FROM finsec.risk_ruleset t'),
	'and its rulesets');
is(catalog_listing($node, 'target_plain'), catalog_listing($node, 'source'),
	'and gives the same objects');

$node->stop;
done_testing();
