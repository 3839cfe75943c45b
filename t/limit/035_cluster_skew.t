# Cluster store and clock skew (issue 6, THREATS L7): node B's wall clock
# runs 2 s ahead of node A's (the VIP_LIMIT_TEST_CLOCK_SKEW_MS test hook,
# in node B's environment only).  Windows come from the wall clock, so for
# 2 s before each boundary node B already counts in the next window.
# rate=2/s burst=20 gives windows of W = burst x T = 10 s, allowance 20.
# Requests alternate A and B on one key, far faster than the allowance,
# from just after a boundary to 1 s before the second boundary after it:
# node A names 2 windows, node B reaches a third.  Every window index has
# ONE counter in memcached, so the cluster admits at most 20 per index
# either node names: allowance x (1 + s / W) per W over the run, never
# more; and more than the 2 x 20 an unskewed pair would get, which shows
# the skewed node counted in its own window.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use POSIX ();
use Time::HiRes qw(time sleep);
use Vip::Test;
use Vip::Second;

plan tests => 6, need_vip_limit();

Apache::TestRequest::module('vip_limit_cluster');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my ($mc, $echo) = map { vip_var($_) } qw(memcached_port echo_port);
my $U = "s$$" . int(time);
my ($SKEW, $W, $ALLOW) = (2, 10, 20);

my $two = Vip::Second->start(name => 'limit035',
    env => { VIP_LIMIT_TEST_CLOCK_SKEW_MS => 1000 * $SKEW },
    body => Vip::Second::limit_cluster_body(<<"EOF"));
    <Location "/skew/">
        VipLimit cl rate=2/s burst=20 name=sk
        ProxyPass "http://127.0.0.1:$echo/skew/"
    </Location>
EOF

# a request first: the children (child_init, where the hook is read) are up
$two->get('/skew/x', 'X-Key' => "$U-up");
like($two->log_since_start, qr/VIP04035.*2000 ms off/, 'node B says its cluster windows run 2000 ms ahead');

# from 0.3 s after a boundary to 1 s before the second one after it
my $into = time - $W * POSIX::floor(time / $W);
sleep($W - $into + 0.3);
my $t0 = time;
my $end = $W * POSIX::floor($t0 / $W) + 2 * $W - 1;
my ($ok, $n, $ok_b, %codes) = (0, 0, 0);
while (time < $end) {
    my $b = $n++ % 2;
    my $res = $b ? $two->get('/skew/x', 'X-Key' => "$U-r") : GET('/skew/x', 'X-Key' => "$U-r");
    $codes{ $res->code }++;
    $ok++ if $res->code == 200;
    $ok_b++ if $b && $res->code == 200;
}
my $t1 = time;
my $first  = POSIX::floor($t0 / $W);
my $used   = POSIX::floor(($t1 + $SKEW) / $W) - $first + 1;    # indexes A or B named
my $noskew = POSIX::floor($t1 / $W) - $first + 1;
diag(sprintf('%d requests in %.1f s: %d admitted (%d by node B); window indexes named %d (%d without the skew)',
             $n, $t1 - $t0, $ok, $ok_b, $used, $noskew));
is(join(',', sort keys %codes), '200,429', 'only 200 and 429 answers');
cmp_ok($n, '>', 10 * $ALLOW, "the nodes were asked far more than the allowance ($n requests)");
is("$noskew $used", '2 3', 'node A named 2 windows, node B reached a third');
ok($ok <= $ALLOW * $used,
   "admitted $ok <= $ALLOW x $used: allowance x (1 + s/W) per W, never more");
ok($ok > $ALLOW * $noskew,
   "admitted $ok > $ALLOW x $noskew: the skewed node counted in its own (next) window");
$two->stop;
