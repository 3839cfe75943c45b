# ESI failures and limits (THREATS E2, E3, E4, E6): a failed include with
# onerror="continue" is omitted, alt is tried first, without continue the
# page is a 502 problem (nothing was sent yet) and the raw page entry is
# not affected; upstream reset and timeout fail a fragment; self-include
# and A->B->A loops stop, nesting stops at the depth cap; refused srcs
# (memcached SSRF, //host, schemes, control characters, entities) are
# never fetched; the byte and time budgets leave the remaining includes
# empty.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use File::Spec::Functions qw(catfile);
use JSON ();
use Time::HiRes ();
use Vip::Test;

plan tests => 32, need_vip_cache();

Apache::TestRequest::module('vip_cache_esi');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key esi tenant method uri);
sub notes { log_fields_for('vip_esi_notes.log', \@NOTE, $_[0], 5, 1) }
sub frags { my $b = shift; [ $b =~ /<b>frag (\d+)<\/b>/g ] }
sub strip { my $b = shift; $b =~ s/\s+$//; $b }

# -- onerror="continue", alt, and the 502 without it (E6)
my $id = req_id();
my $r = GET("/ef/failcont.html?u=$U", 'X-Req-Id' => $id);
is($r->code, 200, 'failed include with onerror=continue: 200');
is(strip($r->content), 'XY<b>frag 3</b>Z', 'the failed include is omitted');
like(notes($id)->{esi}, qr/^includes=2 hits=[01] misses=[12] errors=1$/, 'note counts the error');
$r = GET("/ef/failstrict.html?u=$U");
problem_ok($r, 502, 'failed include without onerror: 502 problem');
like($r->content, qr/fragment-failed/, 'problem type fragment-failed');
$r = GET("/ef/failstrict.html?u=$U");
is($r->code, 502, 'again (the raw page is a hit): 502, never a cached broken page');
$r = GET("/ef/alt.html?u=$U");
is($r->code, 200, 'alt: 200');
is(strip($r->content), 'X<b>frag 2</b>YZ', 'alt replaces a failed src; a failed alt with continue is omitted');

# -- upstream reset mid-body and timeout
my $t0 = Time::HiRes::time();
$r = GET("/ef/broken.html?u=$U");
my $dt = Time::HiRes::time() - $t0;
is($r->code, 200, 'reset and timed-out fragments with continue: 200');
is(strip($r->content), 'XYZ', 'reset and timed-out fragments omitted');
ok($dt < 5, "bounded by the fragment's proxy timeout (${\ sprintf '%.1f', $dt} s)");
$r = GET("/ef/brokenstrict.html?u=$U");
is($r->code, 502, 'reset fragment without continue: 502');

# -- loops and depth (E3)
# the page's own URI (no query) is the first of the chain
$r = GET("/ef/self.html");
is($r->code, 200, 'self-include: 200');
is(strip($r->content), 'AB', 'self-include stops (continue: empty)');
$r = GET("/ef/selfstrict.html");
is($r->code, 502, 'self-include without continue: 502');
$r = GET("/ef/loopa.html");
is(strip($r->content), 'a[b[]]', 'A->B->A stops at the second A');
$r = GET("/ef/nest.html?u=$U");
is(strip($r->content), 'N0[N1[N2[N3[<b>frag 1</b>]]]]', 'nested includes (4 levels) under the default cap 5');
$r = GET("/ed/nest.html?u=$U");
is($r->code, 200, 'depth cap 2: 200');
is(strip($r->content), 'N0[N1[N2[]]]', 'depth cap 2: the third level is empty');

# -- refused srcs are never fetched (E2)
my $mc = vip_var('memcached_port');
my $ep = echo_port();
my @bad = ("http://127.0.0.1:$mc/", "//127.0.0.1:$ep/x/ssrf1", "http://127.0.0.1:$ep/x/ssrf2",
           "javascript:alert(1)", "file:///etc/passwd", "data:text/html,ssrf3", "unix:/tmp/x",
           "/x/ssrf4%0d%0aX-A:%20b", "/x/ssrf5 x", "&#47;x/ssrf6", "/x/ssrf7\n",
           "%2F%2F127.0.0.1:$ep/x/ssrf8", "/x/../x/ssrf9", "HTTP://127.0.0.1:$ep/x/ssrf10");
my $page = join('', map { qq{[<esi:include src="$_" onerror="continue"/>]} } @bad)
           . qq{<esi:include src="/e/frag/1.html"/>\n};
my $gen = catfile(t_dir(), 'htdocs', 'static', 'esi', "gen-refused-$$.html");
open my $fh, '>', $gen or die "$gen: $!";
print $fh $page;
close $fh;
echo_reset();
my $rid = req_id();
$r = GET("/ef/gen-refused-$$.html?u=$U", 'X-Req-Id' => $rid);
unlink $gen;
is($r->code, 200, 'refused srcs with continue: 200');
is(strip($r->content), ('[]' x @bad) . '<b>frag 1</b>', 'refused srcs render empty, the good one is included');
my @seen = map { $_->[1] } echo_seen();
ok(!grep({ /ssrf/ } @seen), 'no refused src reached the upstream') or diag(join ' ', @seen);
ok(@seen >= 1 && @seen <= 2, 'the upstream saw the page (and the good fragment unless cached)');
like(notes($rid)->{esi}, qr/^includes=${\ (@bad + 1)} hits=[01] misses=[01] errors=${\ scalar @bad}$/, 'each refusal is an error');

# -- budgets (E4)
$r = GET("/el/page10.html?u=$U");
is($r->code, 200, 'byte budget: 200');
is_deeply(frags($r->content), [1 .. 7], 'byte budget 100: the first 7 fragments, the rest empty');
$t0 = Time::HiRes::time();
$id = req_id();
$r = GET("/et/timeout.html?u=$U", 'X-Req-Id' => $id);
$dt = Time::HiRes::time() - $t0;
is($r->code, 200, 'time budget: 200');
my $got = () = $r->content =~ /"method"/g;
ok($got >= 1 && $got <= 3, "time budget 300 ms of 5 x 200 ms fragments: $got included");
ok($dt < 1.2, "time budget: the page took ${\ sprintf '%.2f', $dt} s");

# -- memcached killed during ESI pages: no error responses
Apache::TestRequest::module('vip_cache_esi1');
expect_log(qr/VIP03001/);
GET("/ef/page10.html?k=$U");
mc_stop(1);
my ($errors, $whole) = (0, 0);
for (1 .. 5) {
    my $res = GET("/ef/page10.html?k=$U");
    $errors++ if $res->code != 200;
    $whole++ if join(',', @{ frags($res->content) }) eq join(',', 1 .. 10);
}
mc_start(1);
is($errors, 0, 'memcached down: no error responses');
is($whole, 5, 'memcached down: pages assembled from the upstream');
sleep 3;
$r = GET("/ef/page10.html?k=$U");
is_deeply(frags($r->content), [1 .. 10], 'memcached back: assembled');
