# Retries on another member (THREATS R5, issue 4): service rpair has two
# members, echo 2 and echo 3, that never rest (retry=0).  The echo's
# ?_at=PORT makes only that instance obey ?_status= / ?_sleep=, so one
# member fails and the other answers; the echoes' own counts of what they
# received prove which member saw which request.
#   route retry         retry_on=502,503,504,timeout retry_budget=100% timeout=1
#   route retry-key     retry_on=503, retry_idempotency_key=on
#   route retry-budget  retry_on=503 retry_budget=20%
#   route no-retry      the same service, no retry_on
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST PUT);
use Time::HiRes qw(time);
use Vip::Test;

plan tests => 27, need_vip_route();

Apache::TestRequest::module('vip_route');
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1, timeout => 30);

expect_log(qr/VIP0202[345]/);

my $p2 = echo_port(2);
my @RETRY_FIELDS = qw(reqid status route retries denied method);
sub retry_notes { log_fields_for('vip_route_retries.log', \@RETRY_FIELDS, $_[0], 1) }
sub reset_both { echo_reset(2); echo_reset(3) }
sub seen { my $n = shift; scalar grep { $_->[1] =~ /\Q$_[0]\E/ } echo_seen($n) }

# ---- GET: a member answering 503 -> the other member answers ------------------------
reset_both();
my (@codes, %by, $retried);
for my $i (1 .. 10) {
    my $id = req_id();
    my $res = GET "/api/retry/g$i?_at=$p2&_status=503", 'X-Req-Id' => $id;
    push @codes, $res->code;
    $by{ echo_which($res) // 0 }++;
    my $n = retry_notes($id) || {};
    $retried++ if ($n->{retries} // '') eq '1';
}
is_deeply(\@codes, [ (200) x 10 ], 'GET, echo 2 answers 503: all 10 requests answered 200');
is_deeply(\%by, { 3 => 10 }, 'GET: every answer came from echo 3');
my ($s2, $s3) = (seen(2, '/api/retry/g'), seen(3, '/api/retry/g'));
is($s3, 10, 'GET: echo 3 saw each of the 10 requests once');
ok($s2 >= 1, "GET: echo 2 saw some of them first ($s2) and answered 503");
is($retried // 0, $s2, 'GET: exactly the requests echo 2 saw were retried (vip.route.retries=1)');

# ---- POST is not retried -------------------------------------------------------------
reset_both();
my ($n503, $n200, $denied) = (0, 0, 0);
for my $i (1 .. 10) {
    my $id = req_id();
    my $res = POST "/api/retry/p$i?_at=$p2&_status=503", content => 'x', 'X-Req-Id' => $id;
    $res->code == 503 ? $n503++ : $res->code == 200 ? $n200++ : 0;
    my $n = retry_notes($id) || {};
    $denied++ if ($n->{denied} // '') eq 'method';
}
($s2, $s3) = (seen(2, '/api/retry/p'), seen(3, '/api/retry/p'));
is($s2 + $s3, 10, 'POST: 10 requests, 10 upstream hits (no retry)');
is($n503, $s2, 'POST: each request echo 2 saw got 503');
is($n200, $s3, 'POST: each request echo 3 saw got 200');
is($denied, $n503, 'POST: logged retry_denied=method for each 503');
my $res;
for (1 .. 10) { $res = POST "/api/retry/px?_at=$p2&_status=503", content => 'x'; last if $res->code == 503 }
problem_ok($res, 503, 'POST, member answered 503: a 503 problem');
like($res->content, qr/The service answered 503/, 'POST: the problem says the service answered 503');

# ---- PUT with a body is retried, and the body arrives whole --------------------------
reset_both();
my $body_ok = 1;
@codes = ();
for my $i (1 .. 6) {
    my $r = PUT "/api/retry/u$i?_at=$p2&_status=503", content => "payload-$i", 'Content-Type' => 'text/plain';
    push @codes, $r->code;
    $body_ok &&= ((echo_json($r) || {})->{body} // '') eq "payload-$i";
}
is_deeply(\@codes, [ (200) x 6 ], 'PUT, echo 2 answers 503: all retried onto echo 3 (200)');
ok($body_ok, 'PUT: the retried request carried the whole body again');
ok(seen(2, '/api/retry/u') >= 1, 'PUT: echo 2 saw some of them first');

# ---- POST with an Idempotency-Key, on a route that allows it ----------------------------
reset_both();
@codes = ();
for my $i (1 .. 6) {
    push @codes, POST("/api/retry-key/k$i?_at=$p2&_status=503", content => "k$i",
                      'Idempotency-Key' => "key-$i")->code;
}
is_deeply(\@codes, [ (200) x 6 ], 'POST with Idempotency-Key, retry_idempotency_key=on: retried (all 200)');
ok(seen(2, '/api/retry-key/k') >= 1, 'POST with Idempotency-Key: echo 2 saw some first');
reset_both();
my $n = 0;
for my $i (1 .. 6) { $n++ if POST("/api/retry-key/n$i?_at=$p2&_status=503", content => 'n')->code == 503 }
is($n, seen(2, '/api/retry-key/n'), 'POST without the key on that route: not retried');

# ---- timeouts: retried for GET, not for POST ------------------------------------------
reset_both();
my ($slow_ok, $worst) = (1, 0);
for my $i (1 .. 4) {
    my $t0 = time;
    my $r = GET "/api/retry/t$i?_at=$p2&_sleep=3000";
    my $dt = time - $t0;
    $worst = $dt if $dt > $worst;
    $slow_ok &&= $r->code == 200 && (echo_which($r) // 0) == 3;
}
ok($slow_ok, 'GET, echo 2 too slow (3 s, timeout=1): answered 200 by echo 3');
ok(seen(2, '/api/retry/t') >= 1, 'GET timeout: echo 2 saw some first');
cmp_ok($worst, '<', 1.6, sprintf('GET timeout: retried at the deadline, slowest %.2f s', $worst));
reset_both();
my ($t504, $tdt) = (0, 0);
for my $i (1 .. 6) {
    my $t0 = time;
    my $r = POST "/api/retry/tp$i?_at=$p2&_sleep=3000", content => 'x';
    if ($r->code == 504) { $t504++; $tdt = time - $t0 }
}
is($t504, seen(2, '/api/retry/tp'), 'POST timeout: a 504 for each request echo 2 saw, no retry');
is(seen(2, '/api/retry/tp') + seen(3, '/api/retry/tp'), 6, 'POST timeout: 6 requests, 6 upstream hits');
ok(!$t504 || ($tdt >= 0.95 && $tdt <= 1.6), sprintf('POST timeout: 504 at the deadline (%.3f s)', $tdt));

# ---- the budget caps retries ------------------------------------------------------------
# both members answer 503: every request could be retried once; 20% of
# 50 requests is 10 retries, so the members see about 60 requests, not 100
reset_both();
my $budget_denied = 0;
for my $i (1 .. 50) {
    my $id = req_id();
    GET "/api/retry-budget/b$i?_status=503", 'X-Req-Id' => $id;
    my $nn = retry_notes($id) || {};
    $budget_denied++ if ($nn->{denied} // '') eq 'budget';
}
my $hits = seen(2, '/api/retry-budget/b') + seen(3, '/api/retry-budget/b');
ok($hits >= 55 && $hits <= 61, "budget 20%: 50 requests against failing members made $hits upstream hits (50 + at most 10 retries, +1 for a race)");
cmp_ok($budget_denied, '>=', 35, "budget 20%: the rest were refused a retry for the budget ($budget_denied)");

# ---- without retry_on: the member's 503 is relayed as it is --------------------------------
reset_both();
my $r = GET "/api/no-retry/x?_status=503&_hdr=Retry-After:30";
is($r->code, 503, 'route without retry_on: the member\'s 503 is relayed');
is((echo_json($r) || {})->{query} ? 1 : 0, 1, 'route without retry_on: with the member\'s own body');
