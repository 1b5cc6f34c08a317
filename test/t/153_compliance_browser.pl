# The printable compliance report in a real browser (docs/compliance.md).
#
# finsec.compliance_report_html() is rendered by headless Chromium (Debian's
# chromium package; a missing browser fails the test, it is not skipped):
# the parsed DOM has the title and no script or image element even though
# a hostile role and customer clause are on the page; the screenshot is a
# PNG of the window's size that is not blank (decoded here with core Perl:
# distinct colours, ink coverage, the chart's colours present), paired with
# a blank page that the same measure calls blank; the PDF (print to PDF)
# has its fonts embedded, the embedded fonts are Noto CJK (fonts-noto-cjk),
# and its text holds the Chinese title and the hostile strings as plain
# text; the network log records no request of the page (the browser's own
# background requests aside, which it attributes to no page), paired with
# a page that loads an image and a style sheet from the network, whose two
# requests the same reading of the log finds.  The page is made on a hot
# standby too, whose run has no ledger row.
use strict;
use warnings;
use utf8;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FinsecTest;
use Compress::Zlib ();
use Encode ();
use IPC::Run ();
use JSON::PP ();

my $node = finsec_node('html', init => { allows_streaming => 1 });
$node->safe_psql('postgres', q{
	CREATE EXTENSION finsec;
	CREATE ROLE "<script>alert(1)</script>" NOLOGIN IN ROLE finsec_auditor;
	CREATE FUNCTION public.tap_html_check(args jsonb, OUT status text, OUT evidence jsonb)
	LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
	AS $$ SELECT 'fail'::text, jsonb_build_object('note', '"><img src=x onerror=alert(1)>', '角色', '测试') $$;
	GRANT EXECUTE ON FUNCTION public.tap_html_check(jsonb) TO PUBLIC;
	INSERT INTO finsec.compliance_check_def (check_name, function, title_zh, title_en, builtin)
	VALUES ('tap_html.check', 'public.tap_html_check(jsonb)', '浏览器测试检查', 'browser test check', false);
	INSERT INTO finsec.clause (clause_id, standard, clause, title_zh, title_en, requirement_zh, requirement_en,
							   kind, control, remediation_zh, remediation_en, builtin)
	VALUES ('CUST:T1', 'CUST "><img src=x onerror=alert(1)>', 'T1', '浏览器测试', 'browser test',
			'客户内部控制：中文要求文本 "><img src=x onerror=alert(1)>', 'customer control', 'automated', 'customer',
			'整改：中文整改建议', 'fix it', false);
	INSERT INTO finsec.clause_check (clause_id, check_name, args, builtin) VALUES ('CUST:T1', 'tap_html.check', '{}', false);
});

my $dir = PostgreSQL::Test::Utils::tempdir();
my $html = $node->safe_psql('postgres', q{SET ROLE "<script>alert(1)</script>";
	SELECT finsec.compliance_report_html(now() - interval '30 days', now(), 'zh_CN')});
like($html, qr/^<!DOCTYPE html>/, 'the report is an HTML page');
write_file("$dir/report.html", $html);
write_file("$dir/blank.html", "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>blank</title></head><body></body></html>\n");
write_file("$dir/external.html", "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>external</title>"
	  . "<link rel=\"stylesheet\" href=\"https://probe-css.invalid/a.css\"></head>"
	  . "<body><p>external</p><img src=\"http://probe-img.invalid/x.png\"></body></html>\n");

# The browser: Debian's chromium, on PATH.
my ($chromium) = grep { -x $_ } map { ("$_/chromium", "$_/chromium-browser") } split /:/, $ENV{PATH};
ok(defined $chromium, 'chromium is installed') or BAIL_OUT('chromium is missing: the test command installs it (apt package chromium)');

# One headless run, time-boxed: its own HOME and profile, every name
# resolving to nothing, background services off.
my $run = 0;
sub chromium
{
	my (@args) = @_;
	$run++;
	my $home = "$dir/home$run";
	mkdir $home or die "mkdir $home: $!";
	my @cmd = ($chromium, '--headless=new', '--disable-gpu', '--no-first-run', '--no-default-browser-check',
		'--disable-extensions', '--disable-background-networking', '--disable-component-update',
		'--disable-sync', '--disable-default-apps', '--disable-breakpad', '--no-pings',
		'--host-resolver-rules=MAP * ~NOTFOUND', "--user-data-dir=$home/profile", @args);
	splice(@cmd, 1, 0, '--no-sandbox') if $> == 0;    # Chromium's sandbox refuses root only
	my ($out, $err) = ('', '');
	# Its own HOME and TMPDIR (the profile's lock socket goes there).
	local $ENV{HOME} = $home;
	local $ENV{TMPDIR} = $home;
	my $ok = eval {
		IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(180));
	};
	note("chromium @args: " . ($ok ? 'ok' : 'failed: ' . ($@ || "exit $?")));
	note("stderr: " . substr($err, -2000)) unless $ok;
	return ($ok, $out);
}

# --- The parsed page (DOM). ---
my ($ok, $dom) = chromium('--dump-dom', "file://$dir/report.html");
ok($ok, 'chromium parsed the page');
$dom = Encode::decode('UTF-8', $dom);
like($dom, qr{<title>finsec 合规自查报告 - postgres - }, 'the DOM has the Chinese title with the database');
unlike($dom, qr/<script/i, 'the DOM has no script element');
unlike($dom, qr/<img/i, 'the DOM has no image element');
like($dom, qr/&lt;script&gt;alert\(1\)&lt;\/script&gt;/, 'the hostile role is text in the DOM');
like($dom, qr/<svg class="chart"/, 'the DOM has the SVG charts');
# The English page.
write_file("$dir/report-en.html", $node->safe_psql('postgres',
	q{SELECT finsec.compliance_report_html(now() - interval '30 days', now(), 'en')}));
($ok, $dom) = chromium('--dump-dom', "file://$dir/report-en.html");
$dom = Encode::decode('UTF-8', $dom);
like($dom, qr{<html lang="en">.*<title>finsec compliance self-check report - postgres - }s,
	'the English page parses, with its language and title');

# --- Screenshot. ---
my %png;
for my $page ('report', 'blank')
{
	($ok) = chromium('--window-size=1280,2000', "--screenshot=$dir/$page.png", "file://$dir/$page.html");
	ok($ok && -f "$dir/$page.png", "$page: chromium wrote a screenshot");
	$png{$page} = png_stats("$dir/$page.png");
}
my $s = $png{report};
ok($s && $s->{width} == 1280 && $s->{height} == 2000, 'the screenshot is 1280x2000')
  or diag(explain($s));
cmp_ok(-s "$dir/report.png", '>', 20000, 'the screenshot is not trivially small');
cmp_ok($s->{colours}, '>', 100, "the screenshot has many distinct colours ($s->{colours})");
cmp_ok($s->{ink}, '>', 0.02, sprintf('the screenshot is not a blank page (%.1f%% ink)', 100 * $s->{ink}));
ok($s->{seen}{'139,26,26'}, 'the chart\'s colour of "fail" is on the screenshot (the failing customer check)');
ok($s->{seen}{'63,155,95'} || $s->{seen}{'121,166,220'}, 'the chart\'s colour of "pass" or "manual" is on the screenshot');
# The probe: a blank page is called blank by the same measure.
my $b = $png{blank};
ok($b && $b->{colours} <= 3 && $b->{ink} < 0.001, "probe: a blank page is blank ($b->{colours} colours)");

# --- PDF. ---
my $netlog = "$dir/report.netlog.json";
($ok) = chromium('--no-pdf-header-footer', "--print-to-pdf=$dir/report.pdf", "--log-net-log=$netlog",
	"file://$dir/report.html");
ok($ok && -s "$dir/report.pdf", 'chromium printed the page to PDF');
my ($fonts, $ferr) = ('', '');
IPC::Run::run([ 'pdffonts', "$dir/report.pdf" ], '>', \$fonts, '2>', \$ferr, IPC::Run::timeout(60))
  or fail("pdffonts: $ferr");
note(scalar(split /\n/, $fonts) . " lines of pdffonts output");
my @fontlines = grep { /\S/ && !/^name\s|^-{5}/ } split /\n/, $fonts;
# Columns: name, type, encoding, emb, sub, uni, object ID (two numbers).
my @embedded = grep { my @f = split ' ', $_; @f >= 6 && $f[-5] eq 'yes' } @fontlines;
cmp_ok(scalar(@fontlines), '>', 0, 'pdffonts lists the fonts of the PDF');
is(scalar(@embedded), scalar(@fontlines), 'pdffonts: every font of the PDF is embedded');
# Chromium (Skia) writes a CFF font such as Noto CJK as Type 3 glyph
# procedures, which pdffonts lists without a name; their font descriptors
# name the font.  Names listed by pdffonts are taken too, where given.
my $pdf = slurp_file("$dir/report.pdf");
my %names = map { $_ => 1 } ($pdf =~ m{/FontName\s*/(?:[A-Z]{6}\+)?([A-Za-z0-9-]+)}g),
  map { /^(?:[A-Z]{6}\+)?(\S+)/ ? ($1) : () } @fontlines;
note('fonts named: ' . join(', ', sort keys %names));
ok((grep { /^NotoSansCJK(sc|SC)-/ } keys %names), 'the PDF embeds Noto Sans CJK SC (fonts-noto-cjk)');
ok(!(grep { !/CJK|^\[none\]$/ } keys %names), 'every named font of the PDF is a Noto CJK font (the page\'s font stack)')
  or diag(join(', ', keys %names));
my ($text, $terr) = ('', '');
IPC::Run::run([ 'pdftotext', '-enc', 'UTF-8', "$dir/report.pdf", '-' ], '>', \$text, '2>', \$terr,
	IPC::Run::timeout(60))
  or fail("pdftotext: $terr");
$text = Encode::decode('UTF-8', $text);
(my $flat = $text) =~ s/\s+//g;
like($flat, qr/finsec合规自查报告/, 'the PDF text has the Chinese title');
like($flat, qr/一、检查结果汇总/, 'the PDF text has the Chinese summary heading');
like($flat, qr/客户内部控制：中文要求文本/, 'the PDF text has the customer clause\'s Chinese requirement');
like($flat, qr/<script>alert\(1\)<\/script>/, 'the hostile role name is printed as text');
like($flat, qr/"><imgsrc=xonerror=alert\(1\)>/, 'the hostile clause text is printed as text');
my $pages = () = $pdf =~ m{/Type\s*/Page(?!s)}g;
cmp_ok($pages, '>=', 4, "the PDF has a page per section at least ($pages pages)");

# --- No request from the page. ---
my @page_requests = page_requests($netlog);
is_deeply(\@page_requests, [], 'the network log has no request made by the page');
# The probe: a page that loads a style sheet and an image from the
# network shows both requests to the same reading of the log.
($ok) = chromium('--window-size=800,600', "--screenshot=$dir/external.png", "--log-net-log=$dir/external.netlog.json",
	"file://$dir/external.html");
ok($ok, 'chromium rendered the page with external resources');
my @ext = page_requests("$dir/external.netlog.json");
is_deeply([ sort @ext ], [ 'http://probe-img.invalid/x.png', 'https://probe-css.invalid/a.css' ],
	'probe: the network log shows the requests of a page that loads external resources');

# On a hot standby the page is made too (compliance_check() writes no
# ledger row there, and the footer says so).
$node->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('html_standby');
$standby->init_from_backup($node, 'base', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby, 'replay', $node->lsn('insert'));
my $sb = Encode::decode('UTF-8', $standby->safe_psql('postgres', q{SET ROLE "<script>alert(1)</script>";
	SELECT finsec.compliance_report_html(now() - interval '30 days', now(), 'en')}));
like($sb, qr{^<!DOCTYPE html>.*Ledger record of this run: <span class="ledger">\(this run is not in the audit ledger\)</span>}s,
	'standby: the page is made, and says the run is not in the ledger');
like($node->safe_psql('postgres', q{SET ROLE "<script>alert(1)</script>";
	SELECT finsec.compliance_report_html(now() - interval '30 days', now(), 'en')}),
	qr{Ledger record of this run: <span class="ledger">finsec\.audit finsec_seq = \d+, event_time = },
	'primary: the footer names the ledger row of the run');
$standby->stop;

$node->stop;
done_testing();

sub write_file
{
	my ($f, $content) = @_;
	open my $fh, '>:raw', $f or die "open $f: $!";
	print $fh $content;
	close $fh or die "close $f: $!";
}

# The URLs that the page requested (not file: or data:): requests whose
# network isolation key or initiator is the file:// page's.  The
# browser's own background requests have the initiator "not an origin"
# and a key of no page.
sub page_requests
{
	my ($f) = @_;
	return ("no network log $f") unless -s $f;
	my $raw = slurp_file($f);
	# An interrupted log lacks its closing; close it.
	$raw =~ s/,?\s*$//;
	$raw .= ']}' unless $raw =~ /\]\s*\}\s*$/;
	my $log = JSON::PP->new->relaxed->decode($raw);
	my $start = $log->{constants}{logEventTypes}{URL_REQUEST_START_JOB};
	die "no URL_REQUEST_START_JOB in $f" unless defined $start;
	my %urls;
	for my $e (@{ $log->{events} })
	{
		next unless $e->{type} == $start && $e->{params} && defined $e->{params}{url};
		my $p = $e->{params};
		my $of_page = ($p->{network_isolation_key} // '') =~ m{file://}
		  || ($p->{site_for_cookies} // '') =~ m{file://}
		  || (defined $p->{initiator} && $p->{initiator} ne 'not an origin');
		note("browser request (not the page's): $p->{url}") unless $of_page;
		$urls{ $p->{url} } = 1 if $of_page && $p->{url} !~ /^(file|data):/;
	}
	return sort keys %urls;
}

# Decode a PNG (8-bit RGB or RGBA, non-interlaced) with core Perl: size,
# distinct colours (every second pixel), the share of pixels that are not
# near white, and the set of colours seen.
sub png_stats
{
	my ($f) = @_;
	return undef unless -f $f;
	my $d = slurp_file($f);
	return undef unless substr($d, 0, 8) eq "\x89PNG\r\n\x1a\n";
	my ($pos, $w, $h, $depth, $ctype, $interlace, $idat) = (8, 0, 0, 0, 0, 0, '');
	while ($pos + 8 <= length $d)
	{
		my ($len, $type) = unpack('N a4', substr($d, $pos, 8));
		my $data = substr($d, $pos + 8, $len);
		($w, $h, $depth, $ctype, undef, undef, $interlace) = unpack('N N C C C C C', $data) if $type eq 'IHDR';
		$idat .= $data if $type eq 'IDAT';
		last if $type eq 'IEND';
		$pos += 12 + $len;
	}
	my $bpp = { 2 => 3, 6 => 4 }->{$ctype};
	return { width => $w, height => $h, colours => 0, ink => 0, seen => {}, error => "colour type $ctype" }
	  unless $depth == 8 && $bpp && !$interlace;
	my $raw = Compress::Zlib::uncompress($idat);
	return undef unless defined $raw;
	my $stride = $w * $bpp;
	my @prev = (0) x $stride;
	my (%seen, $ink, $n);
	for my $y (0 .. $h - 1)
	{
		my $off = $y * ($stride + 1);
		my $ft = ord(substr($raw, $off, 1));
		my @c = unpack('C*', substr($raw, $off + 1, $stride));
		if ($ft == 1)
		{
			$c[$_] = ($c[$_] + $c[ $_ - $bpp ]) & 255 for $bpp .. $stride - 1;
		}
		elsif ($ft == 2)
		{
			$c[$_] = ($c[$_] + $prev[$_]) & 255 for 0 .. $stride - 1;
		}
		elsif ($ft == 3)
		{
			for my $i (0 .. $stride - 1)
			{
				my $a = $i >= $bpp ? $c[ $i - $bpp ] : 0;
				$c[$i] = ($c[$i] + (($a + $prev[$i]) >> 1)) & 255;
			}
		}
		elsif ($ft == 4)
		{
			for my $i (0 .. $stride - 1)
			{
				my $a = $i >= $bpp ? $c[ $i - $bpp ] : 0;
				my $bb = $prev[$i];
				my $cc = $i >= $bpp ? $prev[ $i - $bpp ] : 0;
				my $p = $a + $bb - $cc;
				my ($pa, $pb, $pc) = (abs($p - $a), abs($p - $bb), abs($p - $cc));
				$c[$i] = ($c[$i] + ($pa <= $pb && $pa <= $pc ? $a : $pb <= $pc ? $bb : $cc)) & 255;
			}
		}
		for (my $x = 0; $x < $w; $x += 2)
		{
			my $i = $x * $bpp;
			$seen{"$c[$i],$c[$i+1],$c[$i+2]"}++;
			$ink++ if $c[$i] + $c[ $i + 1 ] + $c[ $i + 2 ] < 600;
			$n++;
		}
		@prev = @c;
	}
	return { width => $w, height => $h, colours => scalar(keys %seen), ink => $n ? $ink / $n : 0, seen => \%seen };
}
