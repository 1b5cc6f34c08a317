# FinsecCreditTest: a registered credit table for the credit TAP tests
# (132_credit_dump, 133_credit_standby) and the benchmark's checks.
#
#   credit_setup($node, $db)   roles (adm1, adm2, unmasker, owner, regadm,
#                              app, auditor, handler), keys (credit.enc,
#                              credit.fp, credit.pseudonym, protect.*), the monthly
#                              period policy credit_p with keys for the
#                              last three months, table loan registered
#                              (k 3, l 2) and its 12 records; returns the
#                              records ([id, subject, name, birth date,
#                              region, status, amount, period, day]).
#                              Period A (two months ago): 7 records that
#                              reach k = 3, l = 2 at (year, prefix:2) with
#                              nothing suppressed; B: 3; C (this month): 2.
#   credit_roles($node)        the roles only (a cluster a dump is restored into)
#   has_finsec_fn($node, $db, $name)  does finsec.$name exist (a part landed)?
#   days_until_a_due($node, $db)      finsec.deid_test_days_ahead that makes
#                              period A due and not B
package FinsecCreditTest;

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use FinsecTest;

our @EXPORT = qw(credit_setup credit_roles has_finsec_fn days_until_a_due);

my $roles_sql = q{
	SET client_min_messages = warning;
	CREATE EXTENSION IF NOT EXISTS finsec;
	DO $$ BEGIN
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'owner') THEN
			IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'adm1') THEN
				CREATE ROLE adm1 LOGIN IN ROLE finsec_admin;
				CREATE ROLE adm2 LOGIN IN ROLE finsec_admin;
				CREATE ROLE unmasker LOGIN IN ROLE finsec_unmask;
			END IF;
			CREATE ROLE owner LOGIN IN ROLE finsec_app;
			CREATE ROLE regadm LOGIN IN ROLE finsec_admin, owner;
			CREATE ROLE app LOGIN IN ROLE finsec_app;
			CREATE ROLE auditor LOGIN IN ROLE finsec_auditor;
			CREATE ROLE handler LOGIN IN ROLE finsec_app;
		END IF;
	END $$;
};

sub credit_roles
{
	my ($node, $db) = @_;
	$node->safe_psql($db // 'postgres', $roles_sql);
	return;
}

sub has_finsec_fn
{
	my ($n, $d, $name) = @_;
	return $n->safe_psql($d,
		"SELECT count(*) FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace WHERE s.nspname = 'finsec' AND p.proname = '$name'"
	) > 0;
}

sub days_until_a_due
{
	my ($n, $d) = @_;
	return $n->safe_psql($d,
		q{SELECT ((date_trunc('month', current_date) - interval '1 month')::date - 1 + interval '5 years')::date + 1 - finsec._deid_today()});
}

our @records = (
	[ 1, 'S-0001', '张三', '1980-03-01', '110101', 'overdue', 1000, 'A', 1 ],
	[ 2, 'S-0002', '李四', '1980-07-09', '110102', 'default', 2000, 'A', 2 ],
	[ 3, 'S-0003', '王五', '1980-11-11', '110105', 'overdue', 3000, 'A', 3 ],
	[ 7, 'S-0007', '钱七', '1980-12-12', '110108', 'default', 7000, 'A', 4 ],
	[ 4, 'S-0001', '张三', '1985-01-02', '310101', 'overdue', 4000, 'A', 5 ],
	[ 5, 'S-0005', '孙八', '1985-05-05', '310104', 'default', 5000, 'A', 6 ],
	[ 6, 'S-0006', '周九', '1985-09-09', '310115', 'written_off', 6000, 'A', 7 ],
	[ 11, 'S-0011', '吴十', '1990-01-01', '120101', 'overdue', 1100, 'B', 1 ],
	[ 12, 'S-0012', '郑一', '1990-02-02', '120102', 'default', 1200, 'B', 2 ],
	[ 13, 'S-0013', '冯二', '1990-03-03', '120103', 'overdue', 1300, 'B', 3 ],
	[ 21, 'S-0021', '陈三', '1990-04-04', '120104', 'default', 2100, 'C', 0 ],
	[ 22, 'S-0022', '褚四', '1990-05-05', '120105', 'written_off', 2200, 'C', 0 ]);

sub credit_setup
{
	my ($node, $db) = @_;
	protect_test_setup($node, $db,
		[ 'credit.enc', 'encryption', 'aes-256-gcm' ],
		[ 'credit.fp', 'fingerprint', 'hmac-sha256' ],
		[ 'protect.enc', 'encryption', 'aes-256-gcm' ],
		[ 'protect.fp', 'fingerprint', 'hmac-sha256' ],
		[ 'credit.pseudonym', 'pseudonym', 'hmac-sha256' ]);
	$node->safe_psql($db, $roles_sql . q{
		GRANT CREATE ON SCHEMA public TO owner;
		SET SESSION AUTHORIZATION adm1;
		SELECT finsec.protect_policy_create('credit_p', enc_key => 'credit.enc', fp_key => 'credit.fp',
											mask => 'name', period_unit => 'month', fp_scope => 'period');
	});
	like(protect_two_person($node, $db,
			q{finsec.protect_period_keys('credit_p', (date_trunc('month', current_date) - interval '2 months')::date, current_date, 'tap')}),
		qr/credit_p/, "$db: period keys of three months");
	$node->safe_psql($db, q{
		SET SESSION AUTHORIZATION owner;
		CREATE TABLE loan (
			id			bigint PRIMARY KEY,
			subject		finsec.protected_text(credit_p) NOT NULL,
			name		finsec.protected_text(credit_p),
			birth_date	finsec.protected_text(credit_p),
			region		finsec.protected_text(credit_p),
			status		finsec.protected_text(credit_p),
			amount		numeric,
			closed_on	date NOT NULL);
		-- The application may read it, were it not for the guard.
		GRANT SELECT ON loan TO app;
		RESET SESSION AUTHORIZATION;
		SET SESSION AUTHORIZATION regadm;
		SELECT finsec.register_credit_table('loan', key => 'id', subject => 'subject', behaviour_end => 'closed_on',
			policy => 'credit_p', identifiers => '{name}',
			quasi_identifiers => '{"birth_date": ["year", "decade"], "region": ["prefix:2"]}',
			sensitive => '{status}', k => 3, l => 2);
	});
	my %month = split /\|/, $node->safe_psql($db,
		q{SELECT 'A|' || (date_trunc('month', current_date) - interval '2 months')::date
			|| '|B|' || (date_trunc('month', current_date) - interval '1 month')::date
			|| '|C|' || date_trunc('month', current_date)::date});
	$node->safe_psql($db, "SET SESSION AUTHORIZATION owner;\nINSERT INTO loan VALUES\n" . join(",\n",
		map { "($_->[0], '$_->[1]', '$_->[2]', '$_->[3]', '$_->[4]', '$_->[5]', $_->[6], '$month{$_->[7]}'::date + $_->[8])" }
		  @records) . ';');
	is($node->safe_psql($db, 'SELECT count(*) FROM finsec.credit_table'), '1', "$db: loan registered");
	return @records;
}

1;
