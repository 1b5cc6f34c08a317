# Upgrade discipline: every version is reachable from the base 0.1 through
# migrations/finsec--A--B.sql scripts, and a database that was installed at
# an older version, used, and then updated has the same objects as a fresh
# install of the new version (catalog listings compared object for object).
# The listing is shown to notice changes.
use strict;
use warnings;

use File::Basename;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $base = '0.1';
my $srcdir = dirname(__FILE__) . '/../..';

# Every version: those with a full script and those an update script reaches.
my @scripts = map { s{.*/}{}r } glob("$srcdir/migrations/finsec--*.sql");
my %versions = map { $_ => 1 } map { /^finsec--(?:[0-9.]+--)?([0-9.]+)\.sql$/ ? $1 : () } @scripts;
my @versions = sort keys %versions;
my ($default) = slurp_file("$srcdir/finsec.control") =~ /^default_version\s*=\s*'([^']+)'/m;
ok(defined $default, "finsec.control names a default version ($default)");
ok((grep { $_ eq "finsec--$base.sql" } @scripts), "the base install script finsec--$base.sql exists");
ok($versions{$default}, "a migration script produces the default version $default");

my $node = finsec_node('upgrade');

# Each version is reachable from the base, installs fresh, and equals the
# base installed, used, then updated to it.
for my $v (grep { $_ ne $base } @versions)
{
	is($node->safe_psql('postgres',
			"SELECT path IS NOT NULL FROM pg_extension_update_paths('finsec') "
			  . "WHERE source = '$base' AND target = '$v'"),
		't', "an update path leads from $base to $v");

	(my $tag = $v) =~ tr/./_/;
	$node->safe_psql('postgres', "CREATE DATABASE fresh_$tag");
	$node->safe_psql('postgres', "CREATE DATABASE upgraded_$tag");
	$node->safe_psql("fresh_$tag", "CREATE EXTENSION finsec VERSION '$v'");
	$node->safe_psql("upgraded_$tag", "CREATE EXTENSION finsec VERSION '$base'");
	$node->safe_psql("upgraded_$tag", "SELECT * FROM finsec.status()");
	$node->safe_psql("upgraded_$tag", "ALTER EXTENSION finsec UPDATE TO '$v'");
	is(catalog_listing($node, "upgraded_$tag"), catalog_listing($node, "fresh_$tag"),
		"upgrading $base to $v gives the same objects as installing $v");
	is($node->safe_psql("upgraded_$tag", "SELECT extversion FROM pg_extension WHERE extname = 'finsec'"),
		$v, "the updated database reports version $v");
}

# The comparison is only as good as the listing: each kind of drift an
# upgrade script could introduce must show up in it.
# The drift is made without the preload: while finsec is preloaded its
# utility hook refuses changes to its own objects outside its scripts
# (docs/audit.md, "Refused within SQL").
$node->append_conf('postgresql.conf', "shared_preload_libraries = ''");
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE reference');
$node->safe_psql('reference', 'CREATE EXTENSION finsec');
my $reference = catalog_listing($node, 'reference');
my %drift = (
	'a changed function body' => q{
		CREATE OR REPLACE FUNCTION finsec.status(OUT component text, OUT ok boolean, OUT detail text)
		RETURNS SETOF record LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
		AS $$ SELECT 'library', true, 'x' $$;},
	'a changed grant' => 'GRANT EXECUTE ON FUNCTION finsec.status() TO finsec_app;',
	'an extra member object' =>
	  'CREATE FUNCTION finsec.extra() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; '
	  . 'ALTER EXTENSION finsec ADD FUNCTION finsec.extra();',
	'a changed comment' => q{COMMENT ON FUNCTION finsec.preloaded() IS 'changed';},
	'a member table with a column' =>
	  'CREATE TABLE finsec.t (a int); ALTER EXTENSION finsec ADD TABLE finsec.t;',
);
my $i = 0;
for my $what (sort keys %drift)
{
	my $db = 'drift_' . $i++;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION finsec');
	$node->safe_psql($db, $drift{$what});
	isnt(catalog_listing($node, $db), $reference, "the listing detects $what");
}

$node->stop;
done_testing();
