# Cluster store faults (issue 6, THREATS section 3): memcached killed
# mid-test and restarted empty, with two httpd nodes sharing it.
#  - killed: no error responses; each node enforces its share (limit /
#    nodes = 20 of a quota of 40) on its own table; admitted requests
#    carry vip.limit "degraded"; one VIP04015 warning;
#  - restarted: cluster mode resumes on its own (note "ok" again) within
#    retry + dead_retry + 1 s, and the two nodes count together again;
#  - restarted empty: the counters are gone, yet at most one window's
#    allowance more is admitted (here none: the nodes remember a used-up
#    window locally).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes qw(time sleep);
use Vip::Test;
use Vip::Second;

plan tests => 13, need_vip_limit();

Apache::TestRequest::module('vip_limit_cluster');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my ($mc, $echo) = map { vip_var($_) } qw(memcached_port echo_port);
my $U = "d$$" . int(time);

my $two = Vip::Second->start(name => 'limit031', body => Vip::Second::limit_cluster_body(<<"EOF"));
    <Location "/cq/">
        VipLimit cl quota=40/hour name=cq
        ProxyPass "http://127.0.0.1:$echo/cq/"
    </Location>
EOF

my $into = time % 3600;
sleep(3601 - $into) if $into > 3580;

sub on_a { GET('/cq/x', 'X-Key' => $_[0]) }
sub on_b { $two->get('/cq/x', 'X-Key' => $_[0]) }
sub note_of { $_[0]->header('X-Test-Limit') // '' }

# n requests to one node (code ref); (admitted, %codes, %notes of 200s)
sub many {
    my ($node, $key, $n) = @_;
    my ($ok, %codes, %notes) = (0);
    for (1 .. $n) {
        my $res = $node->($key);
        $codes{ $res->code }++;
        if ($res->code == 200) { $ok++; $notes{ note_of($res) }++ }
    }
    return ($ok, \%codes, \%notes);
}

# ---- memcached killed ----------------------------------------------------------
expect_log(qr/VIP04015/);
my $off = error_log_size();
mc_stop(1, 'KILL');
my ($oka, $ca, $na) = many(\&on_a, "$U-k", 30);
my ($okb, $cb) = many(\&on_b, "$U-k", 30);
is($oka, 20, "memcached down: node A enforces its share, 20 of 40 ($oka)");
is($okb, 20, "memcached down: node B enforces its share, 20 of 40 ($okb)");
ok(!grep({ $_ != 200 && $_ != 429 } keys %$ca, keys %$cb), 'no error responses, only 200 and 429')
    or diag explain [$ca, $cb];
is(join(',', keys %$na), 'degraded', 'admitted requests are noted "degraded"');
my $log = error_log_since($off, 0.2);
like($log, qr/VIP04015.*zone cl: memcached cannot be used.*limit \/ 2 nodes/, 'one VIP04015 warning says so');
my @warns = $log =~ /VIP04015/g;
ok(@warns == 1, 'the warning is rate-limited: ' . scalar(@warns) . ' line for 30 degraded decisions') or diag $log;

# ---- memcached back -----------------------------------------------------------
mc_start(1);
my $t0 = time;
my $back = 0;
while (time - $t0 < 8) {
    if (note_of(on_a("$U-probe-" . int((time - $t0) * 10))) eq 'ok') { $back = 1; last }
    sleep 0.2;
}
my $took = time - $t0;
ok($back && $took <= 1 + 2 + 1.5, sprintf('cluster mode resumes on its own after %.1f s', $took));
my ($ok2) = (0);
for my $i (1 .. 80) { $ok2++ if ($i % 2 ? on_a("$U-r") : on_b("$U-r"))->code == 200 }
ok($ok2 <= 40 && $ok2 >= 22, "the nodes count together again: $ok2 of 40 (bound [22, 40])");
like(error_log_since($off, 0), qr/VIP04016.*cluster mode resumed/, 'VIP04016 notes the return');

# ---- memcached restarted empty -------------------------------------------------
my ($ok3) = (0);
for my $i (1 .. 80) { $ok3++ if ($i % 2 ? on_a("$U-e") : on_b("$U-e"))->code == 200 }
ok($ok3 <= 40, "before the restart: $ok3 of 40");
mc_stop(1, 'KILL');
mc_start(1);
my $s = mc_stats();
is($s->{curr_items}, 0, 'memcached restarted empty');
my ($ok4, %c4) = (0);
for my $i (1 .. 80) {
    my $res = $i % 2 ? on_a("$U-e") : on_b("$U-e");
    $c4{ $res->code }++;
    $ok4++ if $res->code == 200;
}
ok($ok4 <= 40, "after the restart: $ok4 more, at most one window's allowance (40)");
ok(!grep({ $_ != 200 && $_ != 429 } keys %c4), 'no error responses across the restart');

$two->stop;
