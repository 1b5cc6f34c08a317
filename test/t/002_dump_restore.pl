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
is($node->safe_psql('target', 'SELECT bool_and(ok) FROM finsec.status()'), 't',
	'finsec works in the restored database');

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
