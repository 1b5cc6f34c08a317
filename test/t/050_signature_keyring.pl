# Signing with keyring signing keys (M4: proof of origin and of receipt,
# docs/signatures.md).  Needs a master key, so it runs in its own cluster:
# two administrators generate and approve an ec-p256 and an SM2 signing key;
# the application signs data and receipts; a counterparty that registered
# finsec.public_key() verifies them with finsec.verify_signature() and
# finsec.verify_receipt(); the keyring counts each use in the ledger; and
# no error or log line carries key material.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;

my $node = finsec_node('signature', no_start => 1);
my $mk = $node->data_dir . '/../master.key';
open my $fh, '>', $mk or die "could not write $mk: $!";
print $fh ('5a' x 32) . "\n";
close $fh;
chmod 0600, $mk;
$node->append_conf('postgresql.conf', "finsec.master_key_file = '$mk'");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE adm1 LOGIN IN ROLE finsec_admin;
	CREATE ROLE adm2 LOGIN IN ROLE finsec_admin;
	CREATE ROLE app LOGIN IN ROLE finsec_app;
});
sub as { my ($user, $sql) = @_; return $node->safe_psql('postgres', $sql, connstr => $node->connstr('postgres') . " user=$user"); }

# Two-person control: one administrator requests, another approves.
for my $k ([ 'rcpt-ec', 'ec-p256' ], [ 'rcpt-sm2', 'sm2' ], [ 'rcpt-rsa', 'rsa-2048' ])
{
	my $req = as('adm1', "SELECT finsec.key_generate('$k->[0]', 'signing', '$k->[1]')");
	like(as('adm2', "SELECT finsec.approve($req)"), qr/"state": "active"/, "$k->[1] signing key approved");
}

# The counterparty registers our public keys (here, in the same database).
for my $label ('rcpt-ec', 'rcpt-sm2', 'rcpt-rsa')
{
	my $pem = as('app', "SELECT finsec.public_key('$label')");
	like($pem, qr/^-----BEGIN PUBLIC KEY-----\n/, "public key of $label is PEM");
	as('adm1', "SELECT finsec.register_signer('peer-$label', \$pem\$$pem\n\$pem\$)");
}

# Proof of origin: finsec.sign() verifies with the registered public key.
for my $label ('rcpt-ec', 'rcpt-sm2', 'rcpt-rsa')
{
	is(as('app', qq{
		SELECT finsec.verify_signature('peer-$label', 'order 42', finsec.sign('$label', 'order 42')),
			   finsec.verify_signature('peer-$label', 'order 43', finsec.sign('$label', 'order 42'))}),
		't|f', "$label: signature verifies, and not for other data");
}
is(as('app', q{SELECT finsec.verify_signature('peer-rcpt-rsa', 'x', finsec.sign('rcpt-rsa', 'x', 'rsa-pss-sha256'), 'rsa-pss-sha256')}),
	't', 'RSA-PSS signing');
is(as('app', q{SELECT finsec.verify_signature('peer-rcpt-sm2', 'x', finsec.sign('rcpt-sm2', 'x', NULL, 'ALICE123@YAHOO.COM'), NULL, 'ALICE123@YAHOO.COM'),
				   finsec.verify_signature('peer-rcpt-sm2', 'x', finsec.sign('rcpt-sm2', 'x', NULL, 'ALICE123@YAHOO.COM'))}),
	't|f', 'SM2 signing with an agreed user id, which the verifier must use too');

# Proof of receipt.
for my $label ('rcpt-ec', 'rcpt-sm2', 'rcpt-rsa')
{
	my $r = as('app', "SELECT finsec.sign_receipt('$label', 'payment order 7', 'order 7')");
	like($r, qr/"signed": "finsec-receipt\/1\\nsigner: $label\\nkey-version: 1\\n/, "$label receipt names key and version");
	is(as('app', qq{
		SELECT finsec.verify_receipt('peer-$label', \$r\$$r\$r\$, 'payment order 7'),
			   finsec.verify_receipt('peer-$label', \$r\$$r\$r\$, 'payment order 8'),
			   (\$r\$$r\$r\$::jsonb->>'received_at')::timestamptz BETWEEN now() - interval '1 minute' AND clock_timestamp()}),
		't|f|t', "$label receipt verifies for the message received, not another, and is timed now");
}

# Errors: a MAC key is not a signing key; unknown labels; bad references.
my ($rc, $out, $err) = $node->psql('postgres', q{SELECT finsec.sign('nope', 'x')},
	connstr => $node->connstr('postgres') . ' user=app');
like($err, qr/nope/, 'unknown signing key refused');
($rc, $out, $err) = $node->psql('postgres', qq{SELECT finsec.sign_receipt('rcpt-ec', 'x', E'a\\nb')},
	connstr => $node->connstr('postgres') . ' user=app');
like($err, qr/must not contain control characters or line breaks/, 'a reference cannot forge receipt lines');

# Each use of a signing key is counted in the ledger by the keyring (the flush
# writes the committed transactions' counts).
$node->safe_psql('postgres', 'SELECT finsec.flush_audit_events()');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM finsec.audit WHERE event_type = 'key.use' AND object LIKE 'rcpt-%'}),
	'>', 0, 'signing-key uses are in the audit ledger');

# The self-test exercises the same primitives.
is(as('adm1', q{SELECT bool_and(ok) FROM finsec.signature_self_test()}), 't', 'self-test passes');

# No key material in the server log: the DER PKCS#8 header of an EC key.
unlike(slurp_file($node->logfile), qr/MIGHAgEA|308187020100/, 'no private key in the server log');

$node->stop;
done_testing();
