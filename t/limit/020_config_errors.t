# Admin mistakes in limits fail `httpd -t` (THREATS 2.8, issue 6): each
# broken config is written to a temporary directory and checked with
# `httpd -t -f`; the run must exit non-zero, point at the file and line,
# name the directive and say what is wrong.  Good configs say "Syntax OK".
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
my $tmp = File::Temp::tempdir('vip-limit-conftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);


my $ZONES = "VipLimitZone ip key=ip\nVipLimitZone t key=tenant entries=128\n";

# [name, config after the zones, [regexes the output must match]]
my @CASES = (
    ['rate 0', 'VipLimit ip rate=0/s', [qr/VipLimit/, qr/rate=0\/s/, qr/count must be 1-/]],
    ['rate without a unit', 'VipLimit ip rate=10', [qr/VipLimit/, qr/'rate=10'/, qr/COUNT\/UNIT/]],
    ['unknown rate unit', 'VipLimit ip rate=10/fortnight', [qr/VipLimit/, qr/unknown unit 'fortnight'/]],
    ['unknown quota unit', 'VipLimit ip quota=10/s', [qr/VipLimit/, qr/unknown unit 's'/, qr/calendar minute, hour or day/]],
    ['rate period over a day', 'VipLimit ip rate=10/2d', [qr/VipLimit/, qr/longer than a day/]],
    ['burst 0', 'VipLimit ip rate=10/s burst=0', [qr/VipLimit/, qr/burst=0/, qr/burst must be 1-/]],
    ['burst -1', 'VipLimit ip rate=10/s burst=-1', [qr/VipLimit/, qr/burst must be/]],
    ['burst without a rate', 'VipLimit ip burst=5 quota=5/hour', [qr/VipLimit/, qr/burst= belongs to a rate=/]],
    ['burst overflowing the tolerance', 'VipLimit ip rate=1/day burst=1000000', [qr/VipLimit/, qr/burst=1000000 is too large for that rate \(at most 53375\)/]],
    ['concurrency 0', 'VipLimit ip concurrency=0', [qr/VipLimit/, qr/concurrency must be 1-/]],
    ['nothing to limit', 'VipLimit ip', [qr/VipLimit/, qr/nothing to limit/]],
    ['unknown option', 'VipLimit ip rate=1/s colour=blue', [qr/VipLimit/, qr/'colour=blue' is not one of/]],
    ['option twice', 'VipLimit ip rate=1/s rate=2/s', [qr/VipLimit/, qr/given twice/]],
    ['unknown zone', 'VipLimit nosuch rate=1/s', [qr/VipLimit/, qr/unknown zone 'nosuch'/, qr/VipLimitZone before/]],
    ['zone declared after use', "VipLimit later rate=1/s\nVipLimitZone later key=ip", [qr/unknown zone 'later'/]],
    ['same limit twice in one place', "VipLimit ip rate=1/s\nVipLimit ip quota=5/hour",
        [qr/VipLimit/, qr/limit named 'ip' is already set here/, qr/name=/]],
    ['bad limit name', 'VipLimit ip rate=1/s name=a/b', [qr/VipLimit/, qr/a name is 1-48 characters/]],
    ['zone: unknown key', 'VipLimitZone z key=cookie', [qr/VipLimitZone/, qr/unknown key 'cookie'/]],
    ['zone: no key', 'VipLimitZone z entries=100', [qr/VipLimitZone/, qr/key=ip/]],
    ['zone: expression that does not parse', 'VipLimitZone z "key=expr:%{req:X-App"',
        [qr/VipLimitZone/, qr/cannot parse the key expression/]],
    ['zone: empty expression', 'VipLimitZone z key=expr:', [qr/VipLimitZone/, qr/cannot parse the key expression/]],
    ['zone: entries below the minimum', 'VipLimitZone z key=ip entries=10', [qr/VipLimitZone/, qr/entries must be 64-/]],
    ['zone: size below the computed minimum', 'VipLimitZone z key=ip size=1000',
        [qr/VipLimitZone/, qr/'size=1000' is below the minimum of 2176 bytes/]],
    ['zone: size and entries', 'VipLimitZone z key=ip size=64k entries=100', [qr/VipLimitZone/, qr/bad or repeated option 'entries=100'/]],
    ['zone: bad size', 'VipLimitZone z key=ip size=lots', [qr/VipLimitZone/, qr/a size is bytes/]],
    ['zone: bad full=', 'VipLimitZone z key=ip full=maybe', [qr/VipLimitZone/, qr/full=maybe/]],
    ['zone: declared twice', 'VipLimitZone ip key=ip', [qr/VipLimitZone/, qr/'ip' is already declared/]],
    ['zone: bad name', 'VipLimitZone z/1 key=ip', [qr/VipLimitZone/, qr/not a zone name/]],
    ['zone: in a virtual host', "<VirtualHost 127.0.0.1:1>\nVipLimitZone z key=ip\n</VirtualHost>",
        [qr/VipLimitZone/, qr/outside <VirtualHost>/]],
    ['zone: in a location', "<Location /x>\nVipLimitZone z key=ip\n</Location>", [qr/VipLimitZone/, qr/not allowed/]],
    ['plan: bad plan id', 'VipLimitPlan go!d t rate=1/s', [qr/VipLimitPlan/, qr/not a plan name/]],
    ['plan: unknown zone', 'VipLimitPlan gold nosuch rate=1/s', [qr/VipLimitPlan gold/, qr/unknown zone 'nosuch'/]],
    ['plan: bad limit', 'VipLimitPlan gold t quota=0/hour', [qr/VipLimitPlan gold t/, qr/count must be/]],
    ['plan: off', 'VipLimitPlan gold t off', [qr/VipLimitPlan gold/, qr/'off' is for VipLimit/]],
    ['plan: in a location', "<Location /x>\nVipLimitPlan gold t rate=1/s\n</Location>", [qr/VipLimitPlan/, qr/not allowed/]],
    ['route: bad route id', 'VipLimitRoute "a b" t rate=1/s', [qr/VipLimitRoute/, qr/not a route name/]],
    ['route: twice', "VipLimitRoute r1 t rate=1/s\nVipLimitRoute r1 t quota=1/day", [qr/VipLimitRoute/, qr/already set here/]],
    ['headers: bad value', 'VipLimitHeaders both', [qr/VipLimitHeaders/, qr/'both' is not ietf, ietf\+legacy or off/]],
    ['dry run: bad value', 'VipLimitDryRun maybe', [qr/VipLimitDryRun/, qr/On or Off/i]],
);

plan tests => 2 * @CASES + 5, need_vip_limit();

my $n = 0;
my @OUTPUTS;

sub write_conf {
    my ($body) = @_;
    my $load = conftest_load('authz_core');
    return conftest_write($tmp, ++$n, <<"EOF");
$load
LoadModule vip_limit_module "$so"
$ZONES
$body
EOF
}

sub configtest {
    my ($rc, $out) = conftest_run(shift);
    push @OUTPUTS, $out;
    return ($rc, $out);
}

for my $c (@CASES) {
    my ($name, $body, $res) = @$c;
    my $conf = write_conf($body);
    my ($rc, $out) = configtest($conf);
    isnt($rc, 0, "$name: httpd -t fails") or diag $out;
    my @miss = grep { $out !~ $_ } (qr/line \d+ of \Q$conf\E/, @$res);
    ok(!@miss, "$name: the message names file, line, directive and why")
        or diag "output:\n$out\nmissing: @miss";
}

my ($rc, $out) = configtest(write_conf(<<'EOF'));
VipLimitZone six key=ip6/64 size=1M full=deny
VipLimitZone app "key=expr:%{req:X-App}-%{REMOTE_ADDR}"
VipLimitZone sub key=subject
VipLimitZone rt key=route
VipLimitZone trt key=tenant+route entries=64
VipLimit ip rate=100/s burst=200
VipLimit six rate=100/10s quota=100000/day concurrency=50
VipLimitPlan gold t rate=100/s quota=100000/day concurrency=20
VipLimitPlan free t rate=5/s burst=1 quota=1000/day name=free-tier
VipLimitRoute orders trt quota=1000/hour
VipLimitHeaders ietf+legacy
<Location /api/>
    VipLimit t concurrency=10
    VipLimit sub rate=5/min name=per-user
    VipLimit ip off
    VipLimitDryRun On
    VipLimitHeaders off
</Location>
<VirtualHost 127.0.0.1:1>
    VipLimit app rate=1/s
    VipLimitPlan gold t rate=10/s
</VirtualHost>
EOF
is($rc, 0, 'a good config: httpd -t exits 0') or diag $out;
like($out, qr/Syntax OK/, 'a good config: Syntax OK');

# the test server's own configuration
$out = `"@{[Apache::Test::vars('httpd')]}" -t -d "$t_dir" -f "$t_dir/conf/httpd.conf" 2>&1`;
like($out, qr/Syntax OK/, 'the test server config t/conf/httpd.conf: Syntax OK') or diag $out;

($rc, $out) = configtest(write_conf('VipLimit ip rate=1/s'));
like($out, qr/Syntax OK/, 'mod_vip_limit loaded without the other vip modules: Syntax OK')
    or diag $out;

my @raw = grep { /%(?:z|ll|l|h)?[dusx]\b|%p\b|\(null\)/ } @OUTPUTS;
ok(!@raw, 'no unformatted printf conversion or (null) in any message') or diag join "\n", @raw;
