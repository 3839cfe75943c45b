# Admin mistakes in the ESI directives of mod_vip_cache fail `httpd -t`
# with a message naming the file, the directive and the allowed range
# (the hard maxima: depth 10, 1000 includes, 64M, 300000 ms); a good
# ESI configuration is "Syntax OK".
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);
use File::Temp ();
use Vip::Test;

my $t_dir   = t_dir();
my $so      = catfile($t_dir, '..', 'mod_vip_cache', 'mod_vip_cache.so');
my $tmp = File::Temp::tempdir('vip-cache-conftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $SERVERS = "VipCacheServers 127.0.0.1:11211\n";

my @CASES = (
    ['ESI mode', "<Location /x>\nVipCacheESI maybe\n</Location>", [qr/VipCacheESI/, qr/On, Off or Force/]],
    ['depth 0', "<Location /x>\nVipCacheESIMaxDepth 0\n</Location>", [qr/VipCacheESIMaxDepth/, qr/from 1 to 10/]],
    ['depth over the hard max', "<Location /x>\nVipCacheESIMaxDepth 11\n</Location>", [qr/VipCacheESIMaxDepth/, qr/'11'/]],
    ['includes over the hard max', "<Location /x>\nVipCacheESIMaxIncludes 1001\n</Location>", [qr/VipCacheESIMaxIncludes/, qr/from 1 to 1000/]],
    ['includes not a number', "<Location /x>\nVipCacheESIMaxIncludes many\n</Location>", [qr/VipCacheESIMaxIncludes/, qr/'many'/]],
    ['timeout 0', "<Location /x>\nVipCacheESITimeout 0\n</Location>", [qr/VipCacheESITimeout/, qr/300000/]],
    ['timeout over the hard max', "<Location /x>\nVipCacheESITimeout 300001\n</Location>", [qr/VipCacheESITimeout/, qr/'300001'/]],
    ['bytes over the hard max', "<Location /x>\nVipCacheESIMaxBytes 65M\n</Location>", [qr/VipCacheESIMaxBytes/, qr/64M/]],
    ['bytes unit', "<Location /x>\nVipCacheESIMaxBytes 1G\n</Location>", [qr/VipCacheESIMaxBytes/, qr/'1G'/]],
    ['page size 0', "<Location /x>\nVipCacheESIMaxPageSize 0\n</Location>", [qr/VipCacheESIMaxPageSize/, qr/'0'/]],
    ['two arguments', "VipCacheESI On On", [qr/VipCacheESI/, qr/one argument/]],
);

plan tests => 2 * @CASES + 2, need_vip_cache();

my $n = 0;
sub write_conf {
    my ($body, $with_servers) = @_;
    my $load = conftest_load('authz_core');
    my $servers = $with_servers ? $SERVERS : '';
    return conftest_write($tmp, ++$n, "$load\nLoadModule vip_cache_module \"$so\"\n$servers$body\n");
}

for my $c (@CASES) {
    my ($name, $body, $res) = @$c;
    my $conf = write_conf($body, 1);
    my ($rc, $out) = conftest_run($conf);
    isnt($rc, 0, "$name: httpd -t fails") or diag $out;
    my @miss = grep { $out !~ $_ } (qr/\Q$conf\E/, @$res);
    ok(!@miss, "$name: the message names the directive and why")
        or diag "output:\n$out\nmissing: @miss";
}

my ($rc, $out) = conftest_run(write_conf(<<'EOF', 1));
VipCacheESI On
<Location /x>
    VipCacheESI Force
    VipCacheESIMaxDepth 10
    VipCacheESIMaxIncludes 1000
    VipCacheESITimeout 300000
    VipCacheESIMaxBytes 64M
    VipCacheESIMaxPageSize 512K
</Location>
<Location /x/off>
    VipCacheESI Off
</Location>
EOF
is($rc, 0, 'a good ESI config passes httpd -t') or diag $out;
like($out, qr/Syntax OK/, 'Syntax OK');
