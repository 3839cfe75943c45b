# Cluster store (issue 6, THREATS L6/L7): two httpd nodes sharing one
# memcached enforce ONE limit together.  Node A is this test server, node
# B a second httpd (Vip::Second) with the same zone and limits.
#  - a quota of 40 an hour over both nodes: the total admitted is within
#    the stated bound, [40 - nodes x (k - 1), 40] (k = 10);
#  - a rate of 30 an hour, burst 30: the same with k = 7;
#  - a hot key: memcached round trips per decision (memcached's own
#    incr/add counters) well below 1 (about 1/k);
#  - memcached holds counters under vip:1:l:<hex> keys only, never the
#    key value.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes qw(time sleep);
use Vip::Test;
use Vip::Second;

plan tests => 12, need_vip_limit();

Apache::TestRequest::module('vip_limit_cluster');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my ($mc, $echo) = map { vip_var($_) } qw(memcached_port echo_port);
my $U = "k$$" . int(time);

my $two = Vip::Second->start(name => 'limit030', body => Vip::Second::limit_cluster_body(<<"EOF"));
    <Location "/cq/">
        VipLimit cl quota=40/hour name=cq
        ProxyPass "http://127.0.0.1:$echo/cq/"
    </Location>
    <Location "/cr/">
        VipLimit cl rate=30/hour burst=30 name=cr
        ProxyPass "http://127.0.0.1:$echo/cr/"
    </Location>
    <Location "/hot/">
        VipLimit cl quota=1000000/hour name=hot
        ProxyPass "http://127.0.0.1:$echo/hot/"
    </Location>
EOF

# Wait out the last seconds of an hour: both windows here are hours.
my $into = time % 3600;
sleep(3601 - $into) if $into > 3590;

# n requests alternating A and B with X-Key $key; (admitted, codes seen).
sub alternate {
    my ($path, $key, $n) = @_;
    my ($ok, %codes) = (0);
    for my $i (1 .. $n) {
        my $res = $i % 2 ? GET($path, 'X-Key' => $key) : $two->get($path, 'X-Key' => $key);
        $codes{ $res->code }++;
        $ok++ if $res->code == 200;
    }
    return ($ok, \%codes);
}

# ---- a quota over both nodes ----------------------------------------------
my ($ok, $codes) = alternate('/cq/x', "$U-q", 80);
ok($ok <= 40, "quota 40/hour over two nodes: $ok admitted, never more than 40");
ok($ok >= 40 - 2 * 9, "at most nodes x (k-1) = 18 under-admitted ($ok)");
is(join(',', sort keys %$codes), '200,429', 'only 200 and 429 answers');
my $after = GET('/cq/x', 'X-Key' => "$U-q");
is($after->code, 429, 'node A refuses once the cluster allowance is used');

# ---- a rate (window = burst x T = one hour here) ---------------------------
($ok) = alternate('/cr/x', "$U-r", 60);
ok($ok <= 30 && $ok >= 30 - 2 * 6, "rate 30/hour burst 30 over two nodes: $ok admitted (bound [18, 30])");

# ---- each node alone cannot exceed the cluster's allowance ---------------
my ($oka) = (0);
for (1 .. 50) { $oka++ if GET('/cq/x', 'X-Key' => "$U-a")->code == 200 }
ok($oka <= 40 && $oka >= 31, "one node alone: $oka of 40 (k - 1 may stay unused)");
my $b = $two->get('/cq/x', 'X-Key' => "$U-a");
is($b->code, 429, 'node B sees the allowance node A used');

# ---- round trips per decision on a hot key --------------------------------
my $s0 = mc_stats();
my $n = 200;
my ($hot) = alternate('/hot/x', "$U-hot", $n);
my $s1 = mc_stats();
my $rt = 0;
$rt += $s1->{$_} - $s0->{$_} for qw(incr_hits incr_misses decr_hits decr_misses cmd_set);
is($hot, $n, "the hot key admits all $n");
ok($rt / $n <= 0.25, sprintf('memcached round trips per decision: %.3f (%d for %d)', $rt / $n, $rt, $n));
ok($rt >= 2, "the nodes did lease ($rt calls)");

# ---- keys in memcached --------------------------------------------------------
my $items = join "\n", mc_cmd('lru_crawler metadump all');
unlike($items, qr/\Q$U\E/, 'no key value in any memcached key');
like($items, qr/key=vip(?:%3A|:)1(?:%3A|:)l(?:%3A|:)[0-9a-f]{32}(?:%3A|:)q[0-9a-f]+ /, 'counters are vip:1:l:<hex>:<kind><window>');

$two->stop;
