# The card probe budget across sessions (docs/cards.md, "Guessing a card
# number"; issue 14, class 4).
#
# The budget is counted per session user in shared memory: two sessions of
# the same role, open at the same time, share it, and SET ROLE in one of
# them changes nothing.  A refusal that rolls back is written to the audit
# ledger by the audit sealer with no one flushing.  The budget leaks back
# over time.  A bulk load of many distinct cards by an application role is
# not refused (numbers over the budget in some patterns pass with an
# alert), and does not push a guesser's count out of the table.
use strict;
use warnings;

use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FinsecTest;

my $node = finsec_node('probes', sealer => 'postgres', no_start => 1);
# The smallest table, so that the bulk load below overfills it many times.
$node->append_conf('postgresql.conf', "finsec.card_probe_slots = 1024\nlog_statement = none");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE adm1 LOGIN IN ROLE finsec_admin;
	CREATE ROLE adm2 LOGIN IN ROLE finsec_admin;
	CREATE ROLE app1 LOGIN IN ROLE finsec_app;
	CREATE ROLE app2 LOGIN IN ROLE finsec_app;
	CREATE ROLE app3 LOGIN IN ROLE finsec_app;
	GRANT app2 TO app1;
	SET SESSION AUTHORIZATION adm1;
	SELECT finsec.key_generate('card.enc', 'encryption', 'aes-256-gcm');
	SELECT finsec.key_generate('card.fp', 'fingerprint', 'hmac-sha256');
	SET SESSION AUTHORIZATION adm2;
	SELECT count(finsec.approve(request_id)) FROM finsec.change_request WHERE state = 'pending';
	RESET SESSION AUTHORIZATION;
	CREATE TABLE cards (id bigint, card finsec.bank_card);
	GRANT SELECT, INSERT ON cards TO app1, app2, app3;
});

sub luhn
{
	my ($body) = @_;
	my $sum = 0;
	my @d = reverse split //, $body;
	for my $i (0 .. $#d)
	{
		my $x = $d[$i];
		if ($i % 2 == 0) { $x *= 2; $x -= 9 if $x > 9; }
		$sum += $x;
	}
	return $body . ((10 - $sum % 10) % 10);
}

# Candidates of one visible pattern: 621700 ****** 1233, Luhn-valid.
my @cands;
for (my $i = 0; @cands < 250; $i++)
{
	my $c = luhn(sprintf('621700%06d123', $i));
	push @cands, $c if substr($c, -1) eq '3';
}

sub construct
{
	my ($session, $card) = @_;
	$session->{stderr} = '';
	my $out = $session->query("SELECT '$card'::finsec.bank_card IS NOT NULL");
	return $out =~ /^t$/m ? 'ok' : ($session->{stderr} =~ /too many bank card numbers/ ? 'refused' : "other: $session->{stderr}");
}

# --- two sessions of one role share the budget ------------------------------
my $a = $node->background_psql('postgres', extra_params => [ '-U', 'app1' ], on_error_stop => 0);
my $b = $node->background_psql('postgres', extra_params => [ '-U', 'app1' ], on_error_stop => 0);
my @results;
for my $i (0 .. 19)
{
	push @results, construct($i % 2 ? $b : $a, $cands[$i]);
}
is(join(',', grep { $_ ne 'ok' } @results), '', '20 numbers of one pattern, alternating between two open sessions of app1, are accepted');
is(construct($a, $cands[20]), 'refused', 'the 21st, in the first session, is refused');
is(construct($b, $cands[21]), 'refused', 'and in the second');
$b->query('SET ROLE app2');
is(construct($b, $cands[22]), 'refused', 'SET ROLE changes nothing: the budget is the session user\'s');
$b->query('RESET ROLE');
is(construct($b, $cands[19]), 'ok', 'a number just counted is free (looking the same card up again)');
$a->quit;
$b->quit;
is($node->psql('postgres', "SELECT '$cands[23]'::finsec.bank_card", extra_params => [ '-U', 'app1' ]), 3,
	'a new session of app1 is refused too');
is($node->safe_psql('postgres', "SELECT '$cands[23]'::finsec.bank_card IS NOT NULL", extra_params => [ '-U', 'app2' ]), 't',
	'app2, another session user, has its own budget');

# --- the refusal reaches the ledger, though its transaction rolled back ------
my $seen = $node->safe_psql('postgres', "SELECT count(*) FROM finsec.audit WHERE event_type = 'card.probe_refused'");
my ($rc, $out, $err) = $node->psql('postgres',
	"BEGIN; INSERT INTO cards VALUES (1, '$cands[24]'); ROLLBACK;", extra_params => [ '-U', 'app1' ]);
like($err, qr/too many bank card numbers of one visible pattern constructed/, 'an INSERT of one more is refused');
ok($node->poll_query_until('postgres',
		"SELECT count(*) >= 1 FROM finsec.audit WHERE event_type = 'card.probe_refused' AND db_user = 'app1'"),
	'the audit sealer wrote card.probe_refused for app1, with no one flushing');
is($node->safe_psql('postgres',
		"SELECT detail ->> 'visible', detail ->> 'digits', detail ->> 'session_user', detail ->> 'budget', success
		   FROM finsec.audit WHERE event_type = 'card.probe_refused' ORDER BY finsec_seq LIMIT 1"),
	'621700******1233|16|app1|20|f', 'the event names the pattern as a mask shows it, the role and the budget');
is($node->safe_psql('postgres', "SELECT count(*) FROM finsec.audit WHERE detail::text ~ '621700[0-9]{6}1233'"), '0',
	'no candidate number is in the ledger');
my $log = slurp_file($node->logfile);
like($log, qr/too many bank card numbers/, 'the refusals are in the server log');
is(scalar(() = $log =~ /621700\d{6}1233/g), 0, 'without their statements, which hold the number');

# --- the budget leaks back: finsec.card_probe_budget numbers a minute --------
$node->safe_psql('postgres', 'ALTER ROLE app3 SET finsec.card_probe_budget = 120');
my $c = $node->background_psql('postgres', extra_params => [ '-U', 'app3' ], on_error_stop => 0);
my $n = 0;
$n++ while $n < 200 && construct($c, $cands[$n]) eq 'ok';
ok($n >= 120 && $n <= 122, "app3, given 120 a minute by a superuser, constructs 120 at once ($n)");
sleep 2;
is(construct($c, $cands[$n]), 'ok', 'two seconds later one more is accepted (2 a second leak back)');
$c->quit;

# --- a bulk load does not reset a guesser, and is not refused ----------------
# The file first, so that little time passes between the guesses.
my $file = $node->basedir . '/cards.txt';
open my $fh, '>', $file or die $!;
srand(20261201);
my @bins = qw(622202 621483);
my %seen;
my $rows = 0;
while ($rows < 200000)
{
	my $len = 16;
	my $s = $bins[ int(rand(scalar @bins)) ];
	$s .= int(rand(10)) while length($s) < $len - 1;
	$s = luhn($s);
	next if $seen{$s}++;
	print $fh "$rows\t$s\n";
	$rows++;
}
close $fh;
chmod 0644, $file;
# app2 guesses 15 numbers of a pattern, app2 loads 200,000 distinct cards of
# two BINs (20,000 patterns, about 10 numbers in each, up to some 25, through
# a table of 1,024 cells), then guesses on.
my $g = $node->background_psql('postgres', extra_params => [ '-U', 'app2' ], on_error_stop => 0);
my @g2;
for (my $i = 0; @g2 < 150; $i++)
{
	my $x = luhn(sprintf('621701%06d123', $i));
	push @g2, $x if substr($x, -1) eq '3';
}
my @r2 = map { construct($g, $g2[$_]) } 0 .. 14;
is(join(',', grep { $_ ne 'ok' } @r2), '', 'app2 guesses 15 numbers of one pattern');

$node->safe_psql('postgres', 'GRANT pg_read_server_files TO app2, app3');
my $t0 = time;
is($node->safe_psql('postgres', "COPY cards FROM '$file'", extra_params => [ '-U', 'app2' ]), '',
	'app2 COPYs 200,000 distinct cards with the default budget: nothing refused');
my $t_app = time - $t0;
is($node->safe_psql('postgres', 'SELECT count(*) FROM cards'), '200000', 'all of them loaded');
my $evicted = $node->safe_psql('postgres', 'SELECT evicted_busy FROM finsec.card_probe_stats()');
my $more = 0;
$more++ while $more < 120 && construct($g, $g2[15 + $more]) eq 'ok';
# After 200,000 numbers in the last minute, a pattern may take 20 + 3 * 200,000 / 10,000 = 80.
ok($more >= 50 && $more <= 66, "the guesser, in the bulk loader's session user, is refused at about the 80th number of the pattern (after $more more)");
$node->safe_psql('postgres', 'SELECT finsec.flush_card_probes()');
is($node->safe_psql('postgres', q{
	SELECT string_agg(event_type || ' ' || (detail ->> 'visible'), ', ' ORDER BY finsec_seq)
	  FROM finsec.audit WHERE db_user = 'app2' AND detail ->> 'visible' LIKE '621701%'}),
	'card.probe_alert 621701******1233, card.probe_refused 621701******1233',
	'the numbers over the budget were audited as an alert, then the refusal');
$g->quit;
$node->safe_psql('postgres', 'TRUNCATE cards');
$t0 = time;
$node->safe_psql('postgres', "COPY cards FROM '$file'");
my $t_su = time - $t0;
note(sprintf('COPY of 200,000 cards: %.2f s as app2 (counted), %.2f s as a superuser (not counted); %s busy cells pushed out',
		$t_app, $t_su, $evicted));

# --- with room for every pattern, a dense load goes over the budget -------
# 20,000 patterns in 65,536 cells: none forgotten, about 10 numbers in each,
# dozens over 20.  They pass with an alert: the session user's 200,000
# numbers raise each pattern's threshold.
$node->append_conf('postgresql.conf', 'finsec.card_probe_slots = 65536');
$node->restart;
$node->safe_psql('postgres', 'TRUNCATE cards');
is($node->safe_psql('postgres', "COPY cards FROM '$file'", extra_params => [ '-U', 'app2' ]), '',
	'with every pattern counted, app2 COPYs the 200,000 cards of two BINs: nothing refused');
note('max per pattern: ' . $node->safe_psql('postgres', q{SELECT max(c) FROM (SELECT count(*) c FROM cards GROUP BY split_part(card::text, '~', 1)) s}));
note('after restart: ' . $node->safe_psql('postgres', 'SHOW finsec.card_probe_slots') . ' slots, stats ' . $node->safe_psql('postgres', 'SELECT * FROM finsec.card_probe_stats()'));
ok($node->safe_psql('postgres', 'SELECT alerted FROM finsec.card_probe_stats()') > 0,
	'some patterns went over the budget and passed with an alert');
$node->safe_psql('postgres', 'SELECT finsec.flush_card_probes()');
ok($node->safe_psql('postgres', "SELECT count(*) FROM finsec.audit WHERE event_type = 'card.probe_alert' AND db_user = 'app2' AND detail ->> 'visible' NOT LIKE '621701%'") > 0,
	'and are audited as card.probe_alert');
is($node->safe_psql('postgres', 'SELECT refused FROM finsec.card_probe_stats()'), '0', 'none refused');

done_testing();
