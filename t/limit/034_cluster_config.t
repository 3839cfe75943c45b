# VipLimitCluster and store= mistakes fail `httpd -t` (THREATS 2.8),
# naming the directive and the fix; memcached unreachable at start is not
# a config error; a good cluster config says "Syntax OK".
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);
use File::Temp ();
use Vip::Test;

my $t_dir   = t_dir();
my $so      = catfile($t_dir, '..', 'mod_vip_limit', 'mod_vip_limit.so');
my $tmp = File::Temp::tempdir('vip-limit-cluster-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $dead = vip_var('dead_port');

my @CASES = (
    ['no nodes=', 'VipLimitCluster 127.0.0.1:11211', [qr/VipLimitCluster/, qr/nodes=N/]],
    ['no server', 'VipLimitCluster nodes=2', [qr/VipLimitCluster/, qr/at least one memcached server/]],
    ['bad server', 'VipLimitCluster localhost nodes=2', [qr/VipLimitCluster/, qr/'localhost' is not host:port/]],
    ['bad port', 'VipLimitCluster 127.0.0.1:99999 nodes=2', [qr/VipLimitCluster/, qr/port 1-65535/]],
    ['nodes=0', 'VipLimitCluster 127.0.0.1:11211 nodes=0', [qr/VipLimitCluster/, qr/bad option 'nodes=0'/, qr/nodes=1-1024/]],
    ['nodes=auto and nodes=N', 'VipLimitCluster 127.0.0.1:11211 nodes=auto nodes=2', [qr/VipLimitCluster/, qr/nodes=2 and nodes=auto: say one/]],
    ['heartbeat= without nodes=auto', 'VipLimitCluster 127.0.0.1:11211 nodes=2 heartbeat=5', [qr/VipLimitCluster/, qr/heartbeat= only applies with nodes=auto/]],
    ['heartbeat=0', 'VipLimitCluster 127.0.0.1:11211 nodes=auto heartbeat=0', [qr/VipLimitCluster/, qr/bad option 'heartbeat=0'/, qr/heartbeat=s 1-3600/]],
    ['batch=0', 'VipLimitCluster 127.0.0.1:11211 nodes=2 batch=0', [qr/VipLimitCluster/, qr/bad option 'batch=0'/, qr/batch=1-1000/]],
    ['lease=0', 'VipLimitCluster 127.0.0.1:11211 nodes=2 lease=0', [qr/VipLimitCluster/, qr/bad option 'lease=0'/]],
    ['unknown option', 'VipLimitCluster 127.0.0.1:11211 nodes=2 colour=blue', [qr/VipLimitCluster/, qr/bad option 'colour=blue'/]],
    ['timeout above retry', 'VipLimitCluster 127.0.0.1:11211 nodes=2 timeout=3000 retry=1',
        [qr/VipLimitCluster/, qr/timeout=3000 ms is longer than retry=1 s/]],
    ['given twice', "VipLimitCluster 127.0.0.1:11211 nodes=2\nVipLimitCluster 127.0.0.1:11212 nodes=2",
        [qr/VipLimitCluster/, qr/given twice/]],
    ['in a virtual host', "<VirtualHost 127.0.0.1:1>\nVipLimitCluster 127.0.0.1:11211 nodes=2\n</VirtualHost>",
        [qr/VipLimitCluster/, qr/VirtualHost/]],
    ['bad store=', 'VipLimitZone z key=ip store=redis', [qr/VipLimitZone/, qr/'store=redis'/, qr/store=local\|cluster/]],
);
# store=cluster without VipLimitCluster: check_config (no file/line)
my @GLOBAL = (
    ['store=cluster without VipLimitCluster', "VipLimitZone z key=ip store=cluster\nVipLimit z rate=1/s",
        [qr/VIP04017/, qr/VipLimitZone z: store=cluster needs VipLimitCluster/]],
);

plan tests => 2 * (@CASES + @GLOBAL) + 5, need_vip_limit();

my $n = 0;
sub write_conf {
    my ($body) = @_;
    my $load = conftest_load('authz_core');
    return conftest_write($tmp, ++$n, "$load\nLoadModule vip_limit_module \"$so\"\n$body\n");
}

for my $c (@CASES, @GLOBAL) {
    my ($name, $body, $res) = @$c;
    my $conf = write_conf($body);
    my ($rc, $out) = conftest_run($conf);
    isnt($rc, 0, "$name: httpd -t fails") or diag $out;
    my @want = @$res;
    unshift @want, qr/line \d+ of \Q$conf\E/ unless grep { $_ == $c } @GLOBAL;
    my @miss = grep { $out !~ $_ } @want;
    ok(!@miss, "$name: the message names the directive and why") or diag "output:\n$out\nmissing: @miss";
}

# memcached nowhere to be found is a runtime fault, not a config error
my ($rc, $out) = conftest_run(write_conf(<<"EOF"));
VipLimitCluster 127.0.0.1:$dead nodes=3 batch=20 lease=5 connect_timeout=20 timeout=50 retry=2 dead_retry=5
VipLimitZone z key=tenant store=cluster
VipLimitZone l key=ip store=local
VipLimit l rate=10/s
<Location /api/>
    VipLimit z rate=100/s quota=10000/day concurrency=20
</Location>
EOF
is($rc, 0, 'a good cluster config (memcached down): httpd -t exits 0') or diag $out;
like($out, qr/Syntax OK/, 'a good cluster config: Syntax OK');
($rc, $out) = conftest_run(write_conf("VipLimitCluster 127.0.0.1:$dead nodes=2"));
is($rc, 0, 'VipLimitCluster without cluster zones is fine') or diag $out;
($rc, $out) = conftest_run(write_conf("VipLimitCluster 127.0.0.1:$dead nodes=auto heartbeat=5\nVipLimitZone z key=ip store=cluster"));
is($rc, 0, 'nodes=auto heartbeat=5 is fine') or diag $out;
my @raw = grep { /%(?:z|ll|l|h)?[dusx]\b|\(null\)/ } $out;
ok(!@raw, 'no unformatted printf conversion');
