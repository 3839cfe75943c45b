# Cluster concurrency limits with leases (issue 6): concurrency=4 over
# two nodes (lease=2 s epochs).
#  - 5 slow requests on each node at once: 4 admitted in all;
#  - slots are released when requests end: the same node admits 4 again
#    at once, from its own registration (no memcached round trip);
#  - a node that dies holding 4 slots leaks them for at most two lease
#    periods: the other node is refused at first, then admitted again.
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
my ($mc, $echo) = map { vip_var($_) } qw(memcached_port echo_port);
my $U = "c$$" . int(time);
$SIG{PIPE} = 'IGNORE';

my $body = Vip::Second::limit_cluster_body(<<"EOF");
    <Location "/cc/">
        VipLimit cl concurrency=4 name=cc
        ProxyPass "http://127.0.0.1:$echo/cc/" timeout=20
    </Location>
EOF
my $two = Vip::Second->start(name => 'limit033', body => $body);

# Each [node, path] in its own process, all at once; their codes.
sub parallel {
    my ($key, @reqs) = @_;
    my @kids;
    for my $r (@reqs) {
        pipe(my $rd, my $wr) or die $!;
        my $pid = fork // die $!;
        if (!$pid) {
            close $rd;
            my $code;
            if ($r->[0] eq 'A') {
                Apache::TestRequest::user_agent(reset => 1, keep_alive => 0, timeout => 20);
                $code = GET($r->[1], 'X-Key' => $key)->code;
            }
            else {
                $code = $two->get($r->[1], 'X-Key' => $key)->code;
                $two->{started} = 0;    # the child must not stop node B
            }
            print $wr $code;
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    return map { my ($pid, $rd) = @$_; local $/; my $c = <$rd>; waitpid $pid, 0; $c // 0 } @kids;
}

my @codes = parallel("$U-1", map({ ['A', "/cc/a$_?_sleep=1200"] } 1 .. 5),
                             map({ ['B', "/cc/b$_?_sleep=1200"] } 1 .. 5));
my $ok = grep { $_ == 200 } @codes;
my $bad = grep { $_ != 200 && $_ != 429 } @codes;
is($ok, 4, "10 slow requests over two nodes at once, concurrency 4: $ok admitted");
is($bad, 0, 'the others are 429, nothing else');

# released: node A alone, 4 at once (its registration or a new lease)
sleep 5;    # let both nodes' registrations lapse (2 lease periods)
@codes = parallel("$U-2", map { ['A', "/cc/r$_?_sleep=600"] } 1 .. 4);
my $s0 = mc_stats();
@codes = parallel("$U-2", map { ['A', "/cc/s$_?_sleep=600"] } 1 .. 4);
my $s1 = mc_stats();
is(scalar(grep { $_ == 200 } @codes), 4, 'slots are released when requests end: node A admits 4 again');
my $calls = 0;
$calls += $s1->{$_} - $s0->{$_} for qw(incr_hits incr_misses decr_hits decr_misses);
ok($calls <= 2, "... from its own registration ($calls memcached calls for 4 decisions)");

# a node dies holding all 4 slots
sleep 5;
my $pid = fork // die $!;
if (!$pid) {
    my @c = map { my $p = fork; if (!$p) { $two->{started} = 0; $two->get("/cc/d$_?_sleep=15000", 'X-Key' => "$U-3"); POSIX::_exit(0) } $p } 1 .. 4;
    waitpid $_, 0 for @c;
    $two->{started} = 0;
    POSIX::_exit(0);
}
sleep 1;
my $first = GET('/cc/x', 'X-Key' => "$U-3")->code;
my $t0 = time;
$two->crash;    # node B dies with its 4 requests in flight
my $code = 0;
while (time - $t0 < 8) {
    $code = GET('/cc/x', 'X-Key' => "$U-3")->code;
    last if $code == 200;
    sleep 0.25;
}
my $took = time - $t0;
is($first, 429, 'node A is refused while node B holds the 4 slots');
ok($code == 200 && $took <= 2 * 2 + 1.5,
   sprintf('a dead node\'s slots expire: node A admitted again %.1f s after it died (<= 2 lease periods)', $took));
kill 'KILL', $pid;
waitpid $pid, 0;
