# memcached faults never become client errors (issue 5, THREATS section 3):
#  - a corrupt, truncated or foreign entry under the key is a miss (and
#    is replaced), never a crash;
#  - memcached killed: requests are answered by the upstream (Cache-Status
#    bypass), quickly; after a restart caching resumes within the retry
#    window;
#  - memcached blackholed (SIGSTOP): the extra latency is bounded by the
#    poll timeout, and the breaker stops later requests from paying it;
#    with 6 clients at once, each breaker period lets ONE request probe
#    (half-open) while the others keep bypassing.
# The kill and blackhole tests use vip_cache1 (memcached instance 1 only).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes ();
use Vip::Test;

plan tests => 9 + 12 + 7 + 3, need_vip_cache(), need_vip_route();

Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }
sub cs { $_[0]->header('Cache-Status') // '' }
sub set_both { my ($k, $v) = @_; mc_set($k, $v); local $Vip::Test::MC = 2; mc_set($k, $v) }
sub get_any { my $k = shift; my $v = mc_get($k); return $v if defined $v; local $Vip::Test::MC = 2; mc_get($k) }

# ---- corrupt entries -----------------------------------------------------
Apache::TestRequest::module('vip_cache');
my $id = req_id();
GET("/c/$U/corrupt", 'X-Req-Id' => $id);
my $key = notes($id)->{key};
my $good = get_any($key);
ok(defined $good && substr($good, 0, 4) eq 'VIPC', 'the stored entry is in memcached under the noted key');
my @BAD = (
    ['garbage',          "not an entry at all"],
    ['truncated entry',  substr($good, 0, length($good) - 7)],
    ['flipped body byte', do { my $c = $good; substr($c, -3, 1) ^= "\x01"; $c }],
    ['foreign version',  do { my $c = $good; substr($c, 4, 1) = "\x09"; $c }],
);
for my $b (@BAD) {
    set_both($key, $b->[1]);
    my ($r, $h) = with_hits { GET("/c/$U/corrupt") };
    ok($r->code == 200 && $h == 1 && cs($r) =~ /fwd=miss; stored/, "$b->[0]: a miss, answered by the upstream, stored again");
}
my ($r, $h) = with_hits { GET("/c/$U/corrupt") };
is($h, 0, 'after the corrupt entries: a hit again');
# a huge garbage value
set_both($key, 'x' x 500000);
($r, $h) = with_hits { GET("/c/$U/corrupt") };
ok($r->code == 200 && $h == 1, 'half a megabyte of garbage: a miss');
my $st = GET('/cache-status');
like($st->content, qr/"corrupt":[1-9]/, 'the status handler counts corrupt entries');
ok(server_alive(), 'httpd is alive');

sub server_alive { GET('/cache-status')->code == 200 }

# ---- memcached killed and restarted --------------------------------------
Apache::TestRequest::module('vip_cache1');
expect_log(qr/VIP03001/);
GET("/c/$U/kill");
(undef, $h) = with_hits { GET("/c/$U/kill") };
is($h, 0, 'before the kill: a hit');
mc_stop(1);
my ($rt0, $un0, $tb0) = (cache_counter('memcached_round_trips'), cache_counter('memcached_unreachable'), Time::HiRes::time());
my ($worst, $errors, $bypass, $upstream) = (0, 0, 0, 0);
for my $i (1 .. 10) {
    my $t0 = Time::HiRes::time();
    my ($res, $hits) = with_hits { GET("/c/$U/kill") };
    my $dt = Time::HiRes::time() - $t0;
    $worst = $dt if $dt > $worst;
    $errors++ if $res->code != 200;
    $bypass++ if cs($res) =~ /fwd=bypass; detail=store-unavailable/;
    $upstream += $hits;
}
is($errors, 0, 'memcached down: no error responses');
is($bypass, 10, 'memcached down: Cache-Status says bypass, store-unavailable');
is($upstream, 10, 'memcached down: the upstream answers');
cmp_ok($worst, '<', 1.0, "memcached down: each request within 1 s (worst ${worst}s)");
# Its only server refused: the breaker bypasses memcached for retry=1 s
# in every child, so the 10 requests do not each connect again (they
# did: libmemcached ejected the only server, and each call tried it).
my ($rt, $un) = (cache_counter('memcached_round_trips') - $rt0, cache_counter('memcached_unreachable') - $un0);
my $periods = 1 + int(Time::HiRes::time() - $tb0);
cmp_ok($un, '>=', 1, "memcached down: the refusal is counted ($un)");
cmp_ok($rt, '<=', 2 * $periods, "memcached down: $rt connection attempts for 10 requests in $periods breaker period(s) (a call and its one retry per period)");
my $kid = req_id();
GET("/c/$U/kill", 'X-Req-Id' => $kid);
is(notes($kid)->{cache}, 'error', 'memcached down: note vip.cache=error');
mc_start(1);
# resume: retry=1 dead_retry=2 -> within a few seconds
my ($stored, $hit, $t0) = (0, 0, Time::HiRes::time());
while (Time::HiRes::time() - $t0 < 8 && !$hit) {
    my $res = GET("/c/$U/kill");
    $stored ||= cs($res) =~ /stored/;
    $hit ||= $stored && cs($res) =~ /^vip; hit/;
    Time::HiRes::sleep(0.2) unless $hit;
}
my $dt = Time::HiRes::time() - $t0;
ok($stored, 'after the restart: stored again');
ok($hit, 'after the restart: hits again');
cmp_ok($dt, '<', 6, sprintf('caching resumed %.1f s after the restart', $dt));
ok(server_alive(), 'httpd is alive');

# ---- memcached blackholed -------------------------------------------------
GET("/c/$U/hole");
mc_stop(1, 'STOP');
my @lat;
$errors = 0;
for my $i (1 .. 10) {
    my $t = Time::HiRes::time();
    my $res = GET("/c/$U/hole?i=$i");
    push @lat, Time::HiRes::time() - $t;
    $errors++ if $res->code != 200;
}
# 6 clients for 3 s, still blackholed: the breaker (retry=1) lets one
# probe through per period, not every client whose request comes next.
my $url = Apache::TestRequest::module2url('vip_cache1', { path => "/c/$U/hole" });
my @kids;
for my $c (1 .. 6) {
    pipe(my $rd, my $wr) or die $!;
    my $pid = fork // die $!;
    if (!$pid) {
        close $rd;
        my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 10);
        my ($n, $slow, $bad, $t0) = (0, 0, 0, Time::HiRes::time());
        while (Time::HiRes::time() - $t0 < 3) {
            my $t = Time::HiRes::time();
            my $res = $ua->get("$url?c=$c&n=" . $n++);
            # a probe pays the 150 ms poll; 140 ms leaves out most of a
            # loaded machine's stalls
            $slow++ if Time::HiRes::time() - $t > 0.14;
            $bad++ if $res->code != 200;
        }
        print $wr "$n $slow $bad\n";
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    push @kids, [$pid, $rd];
}
my ($cn, $cslow, $cbad) = (0, 0, 0);
for my $k (@kids) {
    my ($pid, $rd) = @$k;
    my ($n, $slow, $bad) = split ' ', scalar(<$rd>) // '0 0 1';
    waitpid $pid, 0;
    ($cn, $cslow, $cbad) = ($cn + $n, $cslow + $slow, $cbad + $bad);
}
mc_start(1);
my @sorted = sort { $a <=> $b } @lat;
my $total = 0;
$total += $_ for @lat;
is($errors, 0, 'blackholed: no error responses');
cmp_ok($sorted[-1], '<', 1.0, sprintf('blackholed: worst request %.3f s (poll timeout 150 ms)', $sorted[-1]));
cmp_ok($total, '<', 2.5, sprintf('blackholed: 10 requests in %.2f s (the breaker spares the rest)', $total));
cmp_ok($sorted[4], '<', 0.1, sprintf('blackholed: median %.3f s', $sorted[4]));
diag("6 clients blackholed for 3 s: $cn requests, $cslow over 140 ms");
is($cbad, 0, '6 clients blackholed: no error responses');
cmp_ok($cn, '>', 60, "6 clients blackholed: $cn requests answered in 3 s");
# without the breaker every request would wait: hundreds
cmp_ok($cslow, '<=', 7, "6 clients blackholed: $cslow requests waited (one probe per 1 s breaker period, 2 spare)");
like(GET('/cache-status')->content, qr/"memcached_timeouts":[1-9]/, 'the timeouts are counted');
# after SIGCONT, caching resumes
($stored, $t0) = (0, Time::HiRes::time());
while (Time::HiRes::time() - $t0 < 8 && !$stored) {
    $stored = cs(GET("/c/$U/hole2")) =~ /^vip; hit/;
    Time::HiRes::sleep(0.2) unless $stored;
}
ok($stored, 'after the blackhole: hits again');
ok(server_alive(), 'httpd is alive');
# Handles that ejected instance 1 take it back after dead_retry (2 s):
# leave the ring whole for the tests that follow.
sleep 3;
