# nodes=auto (issue 6): each node counts itself in memcached once per
# heartbeat period (heartbeat=1 s here), from a mod_watchdog thread of
# one of its children, whether or not it takes traffic; a node's share
# while memcached is down is limit / the most nodes counted in the current
# and the two previous periods.  Nodes B and C (two Vip::Second servers,
# nodes=auto, memcached instance 1) run for 3.5 s, only B taking
# requests; then memcached is killed and node B, on a fresh key of a
# 40/hour quota, admits its share of 20 (with one node counted it would
# admit 40).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes qw(time sleep);
use Vip::Test;
use Vip::Second;

plan tests => 5, need_vip_limit();

my ($mc, $echo) = map { vip_var($_) } qw(memcached_port echo_port);
my $U = "a$$" . int(time);
my $conf = Vip::Second::limit_cluster_body(<<"EOF", nodes => 'nodes=auto heartbeat=1');
    <Location "/ah/">
        VipLimit cl quota=1000000/hour name=ah
        ProxyPass "http://127.0.0.1:$echo/ah/"
    </Location>
    <Location "/aq/">
        VipLimit cl quota=40/hour name=aq
        ProxyPass "http://127.0.0.1:$echo/aq/"
    </Location>
EOF
my $b = Vip::Second->start(name => 'limit036b', body => $conf);
my $c = Vip::Second->start(name => 'limit036c', body => $conf);

# only node B takes traffic; C counts itself all the same
my ($n, $bad) = (0, 0);
my $t0 = time;
while (time - $t0 < 3.5) {
    $n++;
    my $res = $b->get('/ah/x', 'X-Key' => "$U-warm");
    $bad++ if $res->code != 200;
    sleep 0.02;
}
is($bad, 0, "$n requests, all on node B: all admitted");
# each node's watchdog thread logs it on its own schedule: poll a while
my $two = qr/VIP04036.*nodes=auto: 2 node\(s\)/;
my $t2 = time;
sleep 0.2 until ($b->log_since_start =~ $two && $c->log_since_start =~ $two) || time - $t2 > 10;
like($b->log_since_start, $two, 'node B counted 2 nodes (VIP04036)');
like($c->log_since_start, $two, 'node C, which took no request, counted 2 nodes too');

# memcached gone: node B decides on its share, 40 / 2
mc_stop(1, 'KILL');
my ($ok, %notes) = (0);
for my $i (1 .. 30) {
    my $res = $b->get('/aq/x', 'X-Key' => "$U-q");
    $ok++ if $res->code == 200;
    $notes{ $res->header('X-Test-Limit') // '' }++;
}
mc_start(1);
is($ok, 20, "memcached down: node B admitted its share of the 40/hour quota, 40 / 2 nodes ($ok of 30)");
like($b->log_since_start, qr/VIP04015.*limit \/ 2 nodes/, 'the degraded warning names the 2 nodes');
$b->stop;
$c->stop;
