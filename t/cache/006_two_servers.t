# Two memcached servers (VipCacheServers with both instances): ketama
# spreads the keys over both, and every entry is found again.  One of
# them killed: no errors, no request waits, the pooled handles remember
# the refusal (retry=1) and eject the server (after 2 failures, for
# dead_retry=2 s) instead of connecting to it on every call, and caching
# goes on with the other one.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes ();
use Vip::Test;

plan tests => 4 + 5, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }

my (%on, @keys);
for my $i (1 .. 40) {
    my $id = req_id();
    GET("/c/$U/spread$i", 'X-Req-Id' => $id);
    push @keys, notes($id)->{key};
}
for my $k (@keys) {
    my $in1 = defined mc_get($k);
    my $in2 = do { local $Vip::Test::MC = 2; defined mc_get($k) };
    $on{ $in1 && $in2 ? 'both' : $in1 ? 1 : $in2 ? 2 : 'none' }++;
}
ok(($on{1} // 0) >= 5, "instance 1 holds entries ($on{1})");
ok(($on{2} // 0) >= 5, "instance 2 holds entries ($on{2})");
ok(!$on{none} && !$on{both}, 'every entry on exactly one server')
    or diag(join ', ', map { "$_: $on{$_}" } sort keys %on);
my $hits = 0;
for my $i (1 .. 40) {
    my (undef, $h) = with_hits { GET("/c/$U/spread$i") };
    $hits++ if $h == 0;
}
is($hits, 40, 'all 40 found again');

# ---- instance 2 killed -----------------------------------------------------
# requests for $secs s over 5 pages: (requests, errors, worst s, pages hit)
sub drive {
    my ($secs) = @_;
    my ($n, $errors, $worst, $t0, %hit) = (0, 0, 0, Time::HiRes::time());
    while (Time::HiRes::time() - $t0 < $secs) {
        my $i = 1 + $n++ % 5;
        my $t = Time::HiRes::time();
        my ($r, $h) = with_hits { GET("/c/$U/half$i") };
        my $dt = Time::HiRes::time() - $t;
        $worst = $dt if $dt > $worst;
        $errors++ if $r->code != 200;
        $hit{$i}++ if $h == 0 && ($r->header('Cache-Status') // '') =~ /^vip; hit/;
    }
    return ($n, $errors, $worst, scalar(keys %hit));
}
mc_stop(2);
my ($n, $errors, $worst) = drive(3);
is($errors, 0, "one of two servers killed: no errors in $n requests");
cmp_ok($worst, '<', 0.5, "one of two servers killed: no request waits (worst ${worst}s)");
# By now every pooled handle in use has met the refusals (retry=1) and
# ejected the server (2 failures): a call still failing is one handle's
# single retry per dead_retry (2 s), not one per request.
my $un0 = cache_counter('memcached_unreachable');
my ($n2, $errors2, $worst2, $pages) = drive(2);
my $un = cache_counter('memcached_unreachable') - $un0;
cmp_ok($pages, '>=', 4, "caching goes on with the other server: $pages of 5 pages hit");
cmp_ok($un, '<', $n2 / 10, "after the ejection: $un calls reached no server in $n2 requests");
mc_start(2);
# every handle puts instance 2 back after dead_retry (2 s) on its next call
Time::HiRes::sleep(3.2);
my $back = 0;
for my $i (1 .. 20) {
    my $r = GET("/c/$U/back$i");
    $back++ if $r->code == 200;
}
is($back, 20, 'instance 2 restarted: answered');
