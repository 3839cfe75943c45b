# Admin mistakes in mod_vip_cache's directives fail `httpd -t` (THREATS
# 2.8) with a message naming the file, line, directive and the fix; an
# unreachable memcached is not a config error; a good config is
# "Syntax OK".  Merging (inner Locations inherit and override,
# VipCacheIgnoreParams accumulates) is exercised by t/cache/001 and 002
# (/c/ignore/, /c/clamp/, /c/off/, /c/small/ below /c/).
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

# [name, config, [regexes], with servers?]
my @CASES = (
    ['no server', 'VipCacheServers', [qr/VipCacheServers/, qr/at least one/], 0],
    ['server without a port', 'VipCacheServers 127.0.0.1', [qr/VipCacheServers/, qr/'127\.0\.0\.1' is not host:port/], 0],
    ['port 0', 'VipCacheServers 127.0.0.1:0', [qr/VipCacheServers/, qr/is not host:port/], 0],
    ['port too big', 'VipCacheServers a:70000', [qr/VipCacheServers/, qr/'a:70000'/], 0],
    ['port not a number', 'VipCacheServers a:b', [qr/VipCacheServers/, qr/'a:b'/], 0],
    ['list with commas', 'VipCacheServers a:1,b:2', [qr/VipCacheServers/, qr/is not host:port/], 0],
    ['bad option', 'VipCacheServers a:1 colour=blue', [qr/VipCacheServers/, qr/bad option 'colour=blue'/], 0],
    ['timeout 0', 'VipCacheServers a:1 timeout=0', [qr/VipCacheServers/, qr/timeout=0/], 0],
    ['negative retry', 'VipCacheServers a:1 retry=-1', [qr/VipCacheServers/, qr/retry=-1/], 0],
    ['given twice', "VipCacheServers a:1\nVipCacheServers b:1", [qr/VipCacheServers/, qr/twice/], 0],
    ['servers in a Location', "<Location /x>\nVipCacheServers a:1\n</Location>", [qr/VipCacheServers/, qr/not allowed/], 0],
    ['VipCache On without servers', "<Location /x>\nVipCache On\n</Location>", [qr/VipCache On/, qr/VipCacheServers/], 0],
    ['VipCache bad flag', "<Location /x>\nVipCache maybe\n</Location>", [qr/VipCache/, qr/On or Off/i], 1],
    ['negative TTL', "<Location /x>\nVipCacheDefaultTTL -5\n</Location>", [qr/VipCacheDefaultTTL/, qr/'-5' is not a number of seconds/], 1],
    ['TTL not a number', "<Location /x>\nVipCacheMaxTTL 5m\n</Location>", [qr/VipCacheMaxTTL/, qr/'5m'/], 1],
    ['TTL over a year', "<Location /x>\nVipCacheMinTTL 99999999\n</Location>", [qr/VipCacheMinTTL/, qr/99999999/], 1],
    ['negative 404 TTL', "<Location /x>\nVipCacheNotFoundTTL -1\n</Location>", [qr/VipCacheNotFoundTTL/], 1],
    ['min above max', "<Location /x>\nVipCacheMaxTTL 10\nVipCacheMinTTL 20\n</Location>", [qr/VipCacheMinTTL/, qr/above/], 1],
    ['bad ignored parameter', "<Location /x>\nVipCacheIgnoreParams a=b\n</Location>", [qr/VipCacheIgnoreParams/, qr/'a=b'/], 1],
    ['ignored parameter: lone *', "<Location /x>\nVipCacheIgnoreParams *\n</Location>", [qr/VipCacheIgnoreParams/], 1],
    ['max size 0', "<Location /x>\nVipCacheMaxSize 0\n</Location>", [qr/VipCacheMaxSize/, qr/'0'/], 1],
    ['max size too big', "<Location /x>\nVipCacheMaxSize 200M\n</Location>", [qr/VipCacheMaxSize/, qr/128M/], 1],
    ['max size unit', "<Location /x>\nVipCacheMaxSize 1G\n</Location>", [qr/VipCacheMaxSize/, qr/'1G'/], 1],
    ['collapse wait negative', "<Location /x>\nVipCacheCollapseWait -1\n</Location>", [qr/VipCacheCollapseWait/, qr/'-1'/], 1],
    ['collapse wait too long', "<Location /x>\nVipCacheCollapseWait 60000\n</Location>", [qr/VipCacheCollapseWait/, qr/10000/], 1],
    ['collapse bad flag', "<Location /x>\nVipCacheCollapse sometimes\n</Location>", [qr/VipCacheCollapse/], 1],
);

plan tests => 2 * @CASES + 4, need_vip_cache();

my $n = 0;
sub write_conf {
    my ($body, $with_servers) = @_;
    my $load = conftest_load('authz_core');
    my $servers = $with_servers ? $SERVERS : '';
    return conftest_write($tmp, ++$n, "$load\nLoadModule vip_cache_module \"$so\"\n$servers$body\n");
}

for my $c (@CASES) {
    my ($name, $body, $res, $with) = @$c;
    my $conf = write_conf($body, $with);
    my ($rc, $out) = conftest_run($conf);
    isnt($rc, 0, "$name: httpd -t fails") or diag $out;
    my @want = $name =~ /without servers/ ? @$res : (qr/\Q$conf\E/, @$res);
    my @miss = grep { $out !~ $_ } @want;
    ok(!@miss, "$name: the message names the directive and why")
        or diag "output:\n$out\nmissing: @miss";
}

# good configs: memcached unreachable (nothing listens on port 1) is fine
my ($rc, $out) = conftest_run(write_conf(<<'EOF', 0));
VipCacheServers 127.0.0.1:1 127.0.0.1:2 connect_timeout=20 timeout=50 retry=1 dead_retry=5
<Location /x>
    VipCache On
    VipCacheDefaultTTL 60
    VipCacheMinTTL 0
    VipCacheMaxTTL 3600
    VipCacheNotFoundTTL 10
    VipCacheShared Off
    VipCacheStoreCookies Off
    VipCacheIgnoreParams utm_* fbclid gclid
    VipCacheMaxSize 512K
    VipCacheCollapse On
    VipCacheCollapseWait 250
</Location>
<Location /x/y>
    VipCacheMinTTL 100
</Location>
EOF
is($rc, 0, 'a good config (memcached unreachable) passes httpd -t') or diag $out;
like($out, qr/Syntax OK/, 'Syntax OK');
($rc, $out) = conftest_run(write_conf(<<'EOF', 0));
<VirtualHost 127.0.0.1:1>
    VipCacheServers 127.0.0.1:1
    <Location /v>
        VipCache On
    </Location>
</VirtualHost>
EOF
is($rc, 0, 'VipCache On in a virtual host with its own VipCacheServers') or diag $out;
($rc, $out) = conftest_run(write_conf(<<'EOF', 1));
<VirtualHost 127.0.0.1:1>
    <Location /v>
        VipCache On
    </Location>
</VirtualHost>
EOF
is($rc, 0, "VipCache On in a virtual host that inherits the main server's VipCacheServers") or diag $out;
