# Failover (THREATS 3, "upstream refuses"): service pair has two members,
# echo 2 and echo 3, resting retry=2 s after a failure.
#   - both up: both answer;
#   - echo 3 stopped mid-test: no client error beyond the first failing
#     request (ideally none), the rest answered by echo 2 at once; over
#     fresh client connections, i.e. across the server's child processes,
#     so the member's state is shared;
#   - with retries=0 (route fo0, a balancer of its own) the one request
#     that meets the dead member fails: retries= is what fails over;
#   - echo 3 restarted: used again once its rest is over, not before;
#   - every member down: 503 problem with Retry-After: 2, in < 1.5 s;
#   - a service down from the start (dead: DEAD_PORT, retry=7) answers
#     503 with Retry-After: 7 in < 1.5 s, every time; a service with one
#     dead member (mixed) answers 200 every time.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Time::HiRes qw(time sleep);
use Vip::Test;

plan tests => 31, need_vip_route();

# whatever happens, leave the instances running for the tests after us
END { eval { echo_start(2); echo_start(3) } }

Apache::TestRequest::module('vip_route');
# a new client connection for every request: the requests spread over
# the children of httpd
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);

sub timed {
    my @req = @_;
    my $id = req_id();
    my $t0 = time;
    my $res = GET @req, 'X-Req-Id' => $id;
    return ($res, time - $t0, $id);
}

# ---- both up -------------------------------------------------------------------------
my %by;
my $err = 0;
for my $i (1 .. 20) {
    my ($res) = timed("/api/fo/$i");
    $res->code == 200 ? $by{ echo_which($res) // 0 }++ : $err++;
}
is($err, 0, 'both members up: 20 requests, all 200');
ok(($by{2} // 0) >= 5 && ($by{3} // 0) >= 5, 'both members up: both answer')
    or diag explain \%by;

# ---- one member stopped --------------------------------------------------------------
echo_stop(3);
my $t_down = time;
my (@codes, @slow, %pids);
%by = ();
for my $i (1 .. 30) {
    my ($res, $dt, $id) = timed("/api/fo/$i");
    push @codes, $res->code;
    push @slow, sprintf('%.0f ms', 1000 * $dt) if $dt > 1.5;
    $by{ echo_which($res) // 0 }++ if $res->code == 200;
    my $n = route_notes_for($id, 1);
    $pids{ $n->{pid} }++ if $n && $n->{pid};
}
my @failed = grep { $_ != 200 } @codes;
cmp_ok(scalar @failed, '<=', 1, 'echo 3 stopped: no client error beyond the first failing request')
    or diag "statuses: @codes";
is(scalar @failed, 0, 'echo 3 stopped: no client error at all (the balancer retries the other member)')
    or diag "statuses: @codes";
is_deeply(\%by, { 2 => 30 - @failed }, 'echo 3 stopped: every answer from echo 2');
is_deeply(\@slow, [], 'echo 3 stopped: every request answered in < 1.5 s (no timeout paid, which would take seconds; loose for a busy 2-core CI box)');
diag sprintf 'the 30 requests were served by %d child process(es)', scalar keys %pids;

# a POST with a body fails over just the same (nothing was sent to the
# refused member)
my $res = POST '/api/fo/post', content => '{"qty":1}', 'Content-Type' => 'application/json';
is($res->code, 200, 'echo 3 stopped: POST with a body answered');
is((echo_json($res) || {})->{body}, '{"qty":1}', 'echo 3 stopped: the body arrived whole at echo 2');

# ---- retries=0: the request meeting the dead member fails ------------------------------------
@codes = ();
%by = ();
my $retry_after = '';
for my $i (1 .. 10) {
    my ($r) = timed("/api/fo0/$i");
    push @codes, $r->code;
    $by{ echo_which($r) // 0 }++ if $r->code == 200;
    $retry_after = $r->header('Retry-After') // '' if $r->code == 503;
}
is(scalar(grep { $_ == 503 } @codes), 1, 'retries=0: exactly one request fails (503), the one that met echo 3')
    or diag "statuses: @codes";
is($retry_after, '2', 'retries=0: its Retry-After is the service\'s retry (2)');
is_deeply(\%by, { 2 => 9 }, 'retries=0: the 9 others answered by echo 2');

# ---- the member comes back ------------------------------------------------------------
# the pair's echo 3 failed at $t_down (+ a few ms); it rests 2 s from then
echo_start(3);
my $t_up = time;
my ($t_back, $n) = (undef, 0);
while (time - $t_up < 6) {
    my ($r) = timed('/api/fo/back-' . ++$n);
    if ($r->code == 200 && (echo_which($r) // 0) == 3) { $t_back = time; last }
    sleep 0.05;
}
ok(defined $t_back, 'echo 3 restarted: used again');
$t_back //= $t_up + 99;
cmp_ok($t_back - $t_up, '<=', 2 + 1.5, 'echo 3 restarted: back within its retry period (2 s) + 1.5 s')
    or diag sprintf 'back %.2f s after the restart', $t_back - $t_up;
cmp_ok($t_back - $t_down, '>=', 2 - 0.1, 'echo 3 restarted: not used before its retry period was over')
    or diag sprintf 'back %.2f s after it failed', $t_back - $t_down;
%by = ();
for my $i (1 .. 20) {
    my ($r) = timed("/api/fo/again-$i");
    $by{ $r->code == 200 ? (echo_which($r) // 0) : 'error' }++;
}
ok(($by{2} // 0) >= 5 && ($by{3} // 0) >= 5 && !$by{error}, 'after the recovery: both members answer again')
    or diag explain \%by;

# ---- every member down ------------------------------------------------------------
echo_stop(2);
echo_stop(3);
@codes = ();
@slow = ();
my ($ra, $rid, $type) = (1, 1, 1);
for my $i (1 .. 10) {
    my ($r, $dt) = timed("/api/fo/down-$i");
    push @codes, $r->code;
    push @slow, sprintf('%.1f ms', 1000 * $dt) if $dt >= 1.5;
    $ra   &&= ($r->header('Retry-After') // '') eq '2';
    $rid  &&= ($r->header('X-Request-Id') // '') =~ /^[0-9a-f]{24}$/;
    $type &&= $r->content =~ /"type"\s*:\s*"urn:vip:problem:service-unavailable"/;
    $res = $r;
}
is_deeply(\@codes, [ (503) x 10 ], 'all members down: 10 requests, 10 x 503');
is_deeply(\@slow, [], 'all members down: each 503 in < 1.5 s (no timeout paid)');
ok($ra, 'all members down: Retry-After: 2 (the service\'s retry), every time');
ok($type, 'all members down: type urn:vip:problem:service-unavailable, every time');
ok($rid, 'all members down: X-Request-Id on every 503');
problem_ok($res, 503, 'all members down: a problem document');
echo_start(2);
echo_start(3);

# ---- down from the start ---------------------------------------------------------------
@codes = ();
@slow = ();
$ra = 1;
for my $i (1 .. 10) {
    my ($r, $dt) = timed("/api/dead/$i");
    push @codes, $r->code;
    push @slow, sprintf('%.1f ms', 1000 * $dt) if $dt >= 1.5;
    $ra &&= ($r->header('Retry-After') // '') eq '7';
    $res = $r;
}
is_deeply(\@codes, [ (503) x 10 ], 'service with its only member down: 10 x 503');
is_deeply(\@slow, [], 'service with its only member down: each in < 1.5 s (no timeout paid)');
ok($ra, 'service with its only member down: Retry-After: 7, every time');
problem_ok($res, 503, 'service with its only member down: a problem document');
$res = Apache::TestRequest::HEAD('/api/dead/head');
is($res->code, 503, 'HEAD to a service down: 503');
is($res->content, '', 'HEAD to a service down: no body');

@codes = ();
%by = ();
for my $i (1 .. 20) {
    my ($r) = timed("/api/mixed/$i");
    push @codes, $r->code;
    $by{ echo_which($r) // 0 }++;
}
is_deeply(\@codes, [ (200) x 20 ], 'a service with one member down from the start: 20 x 200');
is_deeply(\%by, { 1 => 20 }, 'a service with one member down from the start: all from the live member');

# ---- the services are back for the tests after this one --------------------------------------
sleep 2.2;    # the pair's members rest 2 s after their last failure
%by = ();
for my $i (1 .. 10) {
    my ($r) = timed("/api/fo/end-$i");
    $by{ $r->code == 200 ? (echo_which($r) // 0) : 'error' }++;
}
ok(($by{2} // 0) >= 1 && ($by{3} // 0) >= 1 && !$by{error}, 'at the end: both members of the pair answer')
    or diag explain \%by;
is(GET('/api/order/x')->code, 200, 'at the end: echo 3 answers for its other services');
