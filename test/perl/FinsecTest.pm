# FinsecTest: helpers shared by finsec's TAP tests.
#
#   finsec_node($name, preload => 1, sealer => 'db1,db2', init => {...})
#                                      a started PostgreSQL::Test::Cluster,
#                                      with finsec preloaded unless preload => 0,
#                                      and audit sealers for the named databases
#   add_master_key($node, $hex, $file) a keyring master key file, configured
#   prepend_hba($node, @lines)         put lines at the top of pg_hba.conf
#   start_faketime($node, '-200d')     start the node with its clock moved by
#                                      libfaketime (backends keep the fake
#                                      time; background workers do not)
#   protect_test_setup($node, $db, @keys)
#                                      roles adm1, adm2 (finsec_admin) and
#                                      unmasker (finsec_unmask), and each key
#                                      [label, purpose, algorithm] generated
#                                      by adm1 and approved by adm2; returns
#                                      the approvals' results
#   protect_two_person($node, $db, $sql) $sql (a request) as adm1, approved
#                                      by adm2; the approval's result
#   catalog_listing($node, $db)        a sorted, OID-free description of
#                                      every object of the finsec extension
#                                      (definitions, ACLs, comments, dump
#                                      registration), for comparing installs
package FinsecTest;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;

our @EXPORT = qw(finsec_node catalog_listing prepend_hba add_master_key start_faketime
  protect_test_setup protect_two_person);

# The master key of test clusters (public; for throwaway clusters only).
our $test_master_key = '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f';

sub finsec_node
{
	my ($name, %opts) = @_;
	my $preload = exists $opts{preload} ? $opts{preload} : 1;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf('postgresql.conf',
		"shared_preload_libraries = 'finsec'") if $preload;
	# The keyring's master key: a fixed test key unless master_key => undef
	# (no key) or another 64-hex-digit key is given.
	my $mk = exists $opts{master_key} ? $opts{master_key} : $test_master_key;
	add_master_key($node, $mk) if $preload && defined $mk;
	$node->append_conf('postgresql.conf',
		"finsec.audit_seal_databases = '$opts{sealer}'\nfinsec.audit_seal_interval = '200ms'")
	  if $opts{sealer};
	$node->start unless $opts{no_start};
	return $node;
}

# A change request filed by adm1, approved by adm2 (two-person control).
sub protect_two_person
{
	my ($node, $db, $request_sql) = @_;
	my $req = $node->safe_psql($db, "SET SESSION AUTHORIZATION adm1; SELECT $request_sql");
	return $node->safe_psql($db, "SET SESSION AUTHORIZATION adm2; SELECT finsec.approve($req)");
}

# The extension, the roles of the protected-data tests, and their keys.
sub protect_test_setup
{
	my ($node, $db, @keys) = @_;
	$node->safe_psql($db, q{
		SET client_min_messages = warning;
		CREATE EXTENSION IF NOT EXISTS finsec;
		DO $$ BEGIN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'adm1') THEN
				CREATE ROLE adm1 LOGIN IN ROLE finsec_admin;
				CREATE ROLE adm2 LOGIN IN ROLE finsec_admin;
				CREATE ROLE unmasker LOGIN IN ROLE finsec_unmask;
			END IF;
		END $$;
	});
	return map { protect_two_person($node, $db, "finsec.key_generate('$_->[0]', '$_->[1]', '$_->[2]')") } @keys;
}

# Write a master key file for the node's keyring and point
# finsec.master_key_file at it (the fixed test key by default).
sub add_master_key
{
	my ($node, $key, $name) = @_;
	$key //= $test_master_key;
	$name //= 'finsec_master.key';
	my $file = $node->basedir . "/$name";
	open my $fh, '>', $file or die "could not write $file: $!";
	print $fh "$key\n";
	close $fh;
	chmod 0600, $file;
	$node->append_conf('postgresql.conf', "finsec.master_key_file = '$file'");
	return $file;
}

# Start the node with its clock moved by libfaketime, e.g. '-200d', for
# tests of retention that need real time to pass.  Backends keep the fake
# clock; background workers the postmaster starts later do not.
sub start_faketime
{
	my ($node, $offset) = @_;
	my $lib = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
	Test::More::BAIL_OUT("libfaketime is required: apt-get install faketime") unless -e $lib;
	local $ENV{LD_PRELOAD} = $lib;
	local $ENV{FAKETIME} = $offset;
	local $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = '1';
	$node->start;
	return;
}

# Put lines at the top of pg_hba.conf (first match wins), e.g. password
# authentication for test roles ahead of the framework's trust lines.
sub prepend_hba
{
	my ($node, @lines) = @_;
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $old = slurp_file($hba);
	open my $fh, '>', $hba or die "could not write $hba: $!";
	print $fh map({ "$_\n" } @lines), $old;
	close $fh;
	return;
}

# Everything that makes two installs of finsec the same: each member object
# by identity, and for each kind the properties a dump or an application can
# observe.  Column order is compared by position among live columns, since
# an upgrade's dropped columns leave gaps in attnum.
my $listing_sql = <<'SQL';
WITH ext AS (
	SELECT oid, extversion, extconfig, extcondition FROM pg_extension WHERE extname = 'finsec'
), members AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
	SELECT objid AS oid FROM members WHERE classid = 'pg_class'::regclass
)
SELECT line FROM (
	SELECT 'version ' || extversion AS line FROM ext
	UNION ALL
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
	       || coalesce(' comment=' || obj_description(objid, c.relname), '')
	  FROM members m JOIN pg_class c ON c.oid = m.classid
	UNION ALL
	SELECT 'dumped ' || cfg::regclass || ' where ' || coalesce(cond, '')
	  FROM ext, unnest(extconfig, extcondition) AS u(cfg, cond)
	UNION ALL
	SELECT 'schema finsec owner-is-super=' || r.rolsuper || ' acl=' || coalesce(n.nspacl::text, 'default')
	  FROM pg_namespace n JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = 'finsec'
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure
	       || ' kind=' || p.prokind::text || ' secdef=' || p.prosecdef || ' leakproof=' || p.proleakproof
	       || ' acl=' || coalesce(p.proacl::text, 'default') || E'\n'
	       || CASE WHEN p.prokind::text = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END
	  FROM pg_proc p JOIN members m ON m.classid = 'pg_proc'::regclass AND m.objid = p.oid
	UNION ALL
	SELECT 'relation ' || c.oid::regclass || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
	       || ' rls=' || c.relrowsecurity || '/' || c.relforcerowsecurity
	       || ' options=' || coalesce(c.reloptions::text, '') || ' acl=' || coalesce(c.relacl::text, 'default')
	  FROM pg_class c JOIN rels USING (oid)
	UNION ALL
	SELECT 'column ' || a.attrelid::regclass || ' #'
	       || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) || ' ' || a.attname
	       || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
	       || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), '')
	       || ' identity=' || a.attidentity::text || ' generated=' || a.attgenerated::text
	       || ' collation=' || coalesce(a.attcollation::regcollation::text, '')
	       || ' acl=' || coalesce(a.attacl::text, '') || coalesce(' comment=' || col_description(a.attrelid, a.attnum), '')
	  FROM pg_attribute a JOIN rels ON rels.oid = a.attrelid
	  LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
	 WHERE a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	       || ' deferrable=' || condeferrable || '/' || condeferred
	  FROM pg_constraint WHERE conrelid IN (SELECT oid FROM rels)
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid IN (SELECT oid FROM rels)
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
	  FROM pg_trigger t WHERE t.tgrelid IN (SELECT oid FROM rels) AND NOT t.tgisinternal
	UNION ALL
	SELECT 'policy ' || polrelid::regclass || ' ' || polname || ' cmd=' || polcmd::text || ' permissive=' || polpermissive
	       || ' roles=' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END, ',' ORDER BY 1)
	                         FROM unnest(polroles) r)
	       || ' using=' || coalesce(pg_get_expr(polqual, polrelid), '')
	       || ' check=' || coalesce(pg_get_expr(polwithcheck, polrelid), '')
	  FROM pg_policy WHERE polrelid IN (SELECT oid FROM rels)
	UNION ALL
	SELECT 'sequence ' || seqrelid::regclass || ' ' || format_type(seqtypid, NULL) || ' ' || seqstart
	       || ' ' || seqincrement || ' ' || seqmax || ' ' || seqmin || ' ' || seqcache || ' ' || seqcycle
	  FROM pg_sequence WHERE seqrelid IN (SELECT oid FROM rels)
	UNION ALL
	SELECT 'type ' || t.oid::regtype || ' type=' || t.typtype::text || ' len=' || t.typlen || ' byval=' || t.typbyval
	       || ' align=' || t.typalign::text || ' storage=' || t.typstorage::text || ' category=' || t.typcategory::text
	       || ' in=' || t.typinput::regproc || ' out=' || t.typoutput::regproc
	       || ' recv=' || t.typreceive::regproc || ' send=' || t.typsend::regproc
	       || ' base=' || coalesce(nullif(t.typbasetype, 0)::regtype::text, '') || ' notnull=' || t.typnotnull
	       || ' acl=' || coalesce(t.typacl::text, 'default')
	       || coalesce(' labels=' || (SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
	                                    FROM pg_enum WHERE enumtypid = t.oid), '')
	  FROM pg_type t JOIN members m ON m.classid = 'pg_type'::regclass AND m.objid = t.oid
	UNION ALL
	SELECT 'domain-check ' || contypid::regtype || ' ' || conname || ' ' || pg_get_constraintdef(oid)
	  FROM pg_constraint WHERE contypid IN (SELECT objid FROM members WHERE classid = 'pg_type'::regclass)
	UNION ALL
	SELECT 'event-trigger ' || e.evtname || ' on ' || e.evtevent || ' exec ' || e.evtfoid::regproc
	       || ' enabled=' || e.evtenabled::text || ' tags=' || coalesce(e.evttags::text, '')
	  FROM pg_event_trigger e JOIN members m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
	UNION ALL
	SELECT 'initprivs ' || pg_describe_object(i.classoid, i.objoid, i.objsubid) || ' ' || i.initprivs::text
	  FROM pg_init_privs i JOIN members m ON m.classid = i.classoid AND m.objid = i.objoid
) s
ORDER BY line
SQL

sub catalog_listing
{
	my ($node, $db) = @_;
	return $node->safe_psql($db, $listing_sql);
}

1;
