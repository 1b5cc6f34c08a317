# FinsecDeidTest: helpers of the de-identification TAP tests (130, 131).
#
#   deid_setup($node, $db, months => 4)
#       the extension, roles adm1/adm2 (finsec_admin), credowner (owner of
#       the table), credadm (finsec_admin and member of credowner); keys,
#       period policy credit_p (month) and its period keys from
#       (months - 1) months ago through this month; table rec registered
#       (subject, identifier name, QIs birth_date [year, years:5, decade]
#       and region [prefix:4, prefix:2], sensitive status, public amount,
#       behaviour end closed_on), k 5, l 2
#   deid_first_day($node, $db, $months_ago)  first day of that month (date text)
#   deid_rows_sql($from_id, $n, $date_sql)   an INSERT of n records closing
#                                           on $date_sql (a SQL date expression)
#   deid_days_ahead($node, $db, $months_ago) the finsec.deid_test_days_ahead
#                                           that makes the month $months_ago and
#                                           older due, and not the next one
package FinsecDeidTest;

use strict;
use warnings;
use Exporter 'import';
use FinsecTest;

our @EXPORT = qw(deid_setup deid_first_day deid_rows_sql deid_days_ahead);

sub deid_setup
{
	my ($node, $db, %opts) = @_;
	my $months = $opts{months} // 4;
	protect_test_setup($node, $db, ['credit.enc', 'encryption', 'aes-256-gcm'],
		['credit.fp', 'fingerprint', 'hmac-sha256'], ['protect.enc', 'encryption', 'aes-256-gcm'],
		['protect.fp', 'fingerprint', 'hmac-sha256']);
	$node->safe_psql($db, q{
		SET client_min_messages = warning;
		CREATE ROLE credowner LOGIN IN ROLE finsec_app;
		CREATE ROLE credadm LOGIN IN ROLE finsec_admin, credowner;
		GRANT CREATE ON SCHEMA public TO credowner;
		SET SESSION AUTHORIZATION adm1;
		SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
											mask => 'name', period_unit => 'month', fp_scope => 'period');
	});
	my $from = deid_first_day($node, $db, $months - 1);
	protect_two_person($node, $db,
		"finsec.protect_period_keys('credit_p', '$from', current_date, 'test months')");
	$node->safe_psql($db, q{
		SET SESSION AUTHORIZATION credowner;
		CREATE TABLE rec (
			id			bigint PRIMARY KEY,
			subject		finsec.protected_text(credit_p) NOT NULL,
			name		finsec.protected_text(credit_p),
			birth_date	finsec.protected_text(credit_p),
			region		finsec.protected_text(credit_p),
			status		finsec.protected_text(credit_p),
			amount		numeric,
			closed_on	date NOT NULL);
		SET SESSION AUTHORIZATION credadm;
		SELECT finsec.register_credit_table('rec', key => 'id', subject => 'subject', behaviour_end => 'closed_on',
			policy => 'credit_p', identifiers => '{name}',
			quasi_identifiers => '{"birth_date": ["year", "years:5", "decade"], "region": ["prefix:4", "prefix:2"]}',
			sensitive => '{status}', public => '{amount}', k => 5, l => 2);
	});
	return;
}

sub deid_first_day
{
	my ($node, $db, $ago) = @_;
	return $node->safe_psql($db,
		"SELECT (date_trunc('month', current_date) - interval '$ago months')::date");
}

# Records whose QIs fall in few classes (20 birth years x 3 regions) with
# three statuses, subjects reused every 997 records.
sub deid_rows_sql
{
	my ($from, $n, $date) = @_;
	my $to = $from + $n - 1;
	return qq{
		INSERT INTO rec
		SELECT g, ('S-' || (g % 997))::finsec.protected_text(credit_p),
			   ('NAME' || g)::finsec.protected_text(credit_p),
			   ((1960 + g % 20) || '-0' || (1 + g % 9) || '-1' || (g % 10))::finsec.protected_text(credit_p),
			   ((11 + g % 3) || '01' || lpad((g % 50)::text, 2, '0'))::finsec.protected_text(credit_p),
			   ((ARRAY['overdue', 'default', 'written_off'])[1 + g % 3])::finsec.protected_text(credit_p),
			   g * 10, $date
		  FROM generate_series($from, $to) g;
	};
}

sub deid_days_ahead
{
	my ($node, $db, $ago) = @_;
	my $next = $ago - 1;
	return $node->safe_psql($db, qq{
		SELECT ((date_trunc('month', current_date) - interval '$next months')::date - 1 + interval '5 years')::date + 1
			   - (now() AT TIME ZONE 'Asia/Shanghai')::date
	});
}

1;
