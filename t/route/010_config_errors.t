# Admin mistakes in routes and services fail `httpd -t` (THREATS 2.8,
# issue 4): each broken config is written to a temporary directory and
# checked with `httpd -t -f`; the run must exit non-zero, point at the
# file and line, name the directive and say what is wrong.  A good config
# says "Syntax OK".
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);
use File::Temp ();
use Vip::Test;

my $t_dir   = t_dir();
my $httpd   = Apache::Test::vars('httpd');
my $so      = catfile($t_dir, '..', 'mod_vip_route', 'mod_vip_route.so');
my $tmp = File::Temp::tempdir('vip-route-conftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);


my $SERVICES = "VipRouteService orders http://127.0.0.1:9101 http://127.0.0.1:9102\n"
             . "VipRouteService v2 http://127.0.0.1:9103\n";

# [name, config after the services, [regexes the output must match],
#  modules to leave out]
my @CASES = (
    # -- routes
    ['unknown service', 'VipRoute r1 /api/* nosuch',
        [qr/VipRoute/, qr/r1/, qr/unknown service 'nosuch'/]],
    ['service declared after the route', "VipRoute r1 /api/* later\nVipRouteService later http://127.0.0.1:9104",
        [qr/VipRoute/, qr/unknown service 'later'/]],
    ['duplicate route (same shape, same conditions)', "VipRoute r1 /api/{id} orders\nVipRoute r2 /api/{x} v2",
        [qr/VipRoute/, qr/r2/, qr/r1/, qr/same path shape and the same conditions/]],
    ['duplicate route, conditions in another order',
        "VipRoute r1 GET,POST /api/* orders header=X-A:1 header=X-B:2\nVipRoute r2 POST,GET /api/* v2 header=x-b:2 header=X-A:1",
        [qr/VipRoute/, qr/r2/, qr/r1/, qr/could never match/]],
    ['bad template: empty segment', 'VipRoute r1 /api//orders orders',
        [qr/VipRoute/, qr/'\/api\/\/orders'/, qr/segment 2 is empty/]],
    ['bad template: trailing /', 'VipRoute r1 /api/ orders',
        [qr/VipRoute/, qr/'\/api\/'/, qr/empty/]],
    ['bad template: parameter inside a segment', 'VipRoute r1 /api/v{id} orders',
        [qr/VipRoute/, qr/a parameter is a whole segment/]],
    ['bad template: * not last', 'VipRoute r1 /api/*/x orders',
        [qr/VipRoute/, qr/'\*'.*not the last segment/]],
    ['bad template: dot-segment', 'VipRoute r1 /api/../admin orders',
        [qr/VipRoute/, qr/dot-segment/]],
    ['bad template: parameter twice', 'VipRoute r1 /a/{id}/b/{id} orders',
        [qr/VipRoute/, qr/\{id\} appears twice/]],
    ['bad template: parameter name', 'VipRoute r1 /a/{1x} orders',
        [qr/VipRoute/, qr/bad parameter name '1x'/]],
    ['bad template: not absolute', 'VipRoute r1 api/orders orders',
        [qr/VipRoute/, qr/must start with '\/'/]],
    ['bad template: control character', "VipRoute r1 /api/a\x01b orders",
        [qr/VipRoute/, qr/control character/]],
    ['bad weight: 0', 'VipRoute r1 /api/* orders split=v2:0',
        [qr/VipRoute/, qr/split=v2:0/, qr/1-100/]],
    ['bad weight: 101', 'VipRoute r1 /api/* orders split=v2:101',
        [qr/VipRoute/, qr/split=v2:101/]],
    ['bad weight: not a number', 'VipRoute r1 /api/* orders split=v2:ten',
        [qr/VipRoute/, qr/split=v2:ten/]],
    ['splits over 100%', 'VipRoute r1 /api/* orders split=v2:60 split=orders:50',
        [qr/VipRoute/, qr/110%/, qr/at most 100/]],
    ['split to an unknown service', 'VipRoute r1 /api/* orders split=v3:10',
        [qr/VipRoute/, qr/unknown service 'v3'/]],
    ['split_header malformed', 'VipRoute r1 /api/* orders split_header=X-Api-Version:v2',
        [qr/VipRoute/, qr/split_header=X-Api-Version:v2/, qr/Name:value:service/]],
    ['split_header to an unknown service', 'VipRoute r1 /api/* orders split_header=X-Api-Version:2:v3',
        [qr/VipRoute/, qr/unknown service 'v3'/]],
    ['pin malformed', 'VipRoute r1 /api/* orders pin=acme',
        [qr/VipRoute/, qr/pin=acme/, qr/tenant:service/]],
    ['pin to an unknown service', 'VipRoute r1 /api/* orders pin=acme:v3',
        [qr/VipRoute/, qr/pin=acme:v3/]],
    ['strip not a prefix', 'VipRoute r1 /api/orders/* orders strip=/api/other',
        [qr/VipRoute/, qr/strip=\/api\/other/, qr/not a prefix/]],
    ['rewrite and strip', 'VipRoute r1 /api/* orders rewrite=/x strip=/api',
        [qr/VipRoute/, qr/rewrite= or strip=/]],
    ['rewrite with an unknown parameter', 'VipRoute r1 /api/{id} orders rewrite=/v2/{nope}',
        [qr/VipRoute/, qr/\{nope\} is not a parameter/]],
    ['rewrite {*} without a prefix', 'VipRoute r1 /api/{id} orders rewrite=/v2/{*}',
        [qr/VipRoute/, qr/\{\*\}/, qr/does not end with/]],
    ['rewrite with a dot-segment', 'VipRoute r1 /api/* orders rewrite=/v2/../admin/{*}',
        [qr/VipRoute/, qr/dot-segment/]],
    ['rewrite with unbalanced braces', 'VipRoute r1 /api/{id} orders rewrite=/v2/{id',
        [qr/VipRoute/, qr/'\{' without '\}'/]],
    ['bad option', 'VipRoute r1 /api/* orders colour=blue',
        [qr/VipRoute/, qr/bad option 'colour=blue'/]],
    ['not an option', 'VipRoute r1 /api/* orders fast',
        [qr/VipRoute/, qr/'fast' is not an option=value/]],
    ['header condition without a value', 'VipRoute r1 /api/* orders header=X-Api-Version',
        [qr/VipRoute/, qr/header=X-Api-Version/, qr/Name:value/]],
    ['timeout 0', 'VipRoute r1 /api/* orders timeout=0',
        [qr/VipRoute/, qr/timeout=0/]],
    ['timeout beyond the maximum', 'VipRoute r1 /api/* orders timeout=3601',
        [qr/VipRoute/, qr/timeout=3601/]],
    ['connect_timeout 0', 'VipRoute r1 /api/* orders connect_timeout=0',
        [qr/VipRoute/, qr/connect_timeout=0/]],
    ['retries beyond the hard maximum', 'VipRoute r1 /api/* orders retries=6',
        [qr/VipRoute/, qr/retries=6/]],
    ['retry_on: a status outside 500-599', 'VipRoute r1 /api/* orders retry_on=404',
        [qr/VipRoute/, qr/r1/, qr/retry_on=404/, qr/neither a status 500-599 nor 'timeout'/]],
    ['retry_on: an unknown word', 'VipRoute r1 /api/* orders retry_on=502,slow',
        [qr/VipRoute/, qr/retry_on=502,slow/, qr/'slow'/]],
    ['retry_on: a status twice', 'VipRoute r1 /api/* orders retry_on=503,503',
        [qr/VipRoute/, qr/503 twice/]],
    ['retry_on: empty item', 'VipRoute r1 /api/* orders retry_on=502,,503',
        [qr/VipRoute/, qr/empty item/]],
    ['retry_on with retries=0', 'VipRoute r1 /api/* orders retry_on=503 retries=0',
        [qr/VipRoute/, qr/retry_on= with retries=0 never retries/]],
    ['retry_budget 0%', 'VipRoute r1 /api/* orders retry_on=503 retry_budget=0%',
        [qr/VipRoute/, qr/retry_budget=0%/, qr/1-100/]],
    ['retry_budget over 100%', 'VipRoute r1 /api/* orders retry_on=503 retry_budget=150',
        [qr/VipRoute/, qr/retry_budget=150/]],
    ['retry_budget without retry_on', 'VipRoute r1 /api/* orders retry_budget=20%',
        [qr/VipRoute/, qr/need retry_on=/]],
    ['retry_idempotency_key not on/off', 'VipRoute r1 /api/* orders retry_on=503 retry_idempotency_key=yes',
        [qr/VipRoute/, qr/retry_idempotency_key=yes/, qr/on or off/]],
    ['retry_idempotency_key without retry_on', 'VipRoute r1 /api/* orders retry_idempotency_key=on',
        [qr/VipRoute/, qr/need retry_on=/]],
    ['tenant list with a bad id', 'VipRoute r1 /api/* orders tenant=acme,ev!l',
        [qr/VipRoute/, qr/tenant=acme,ev!l/]],
    ['bad route name', 'VipRoute r/1 /api/* orders',
        [qr/VipRoute/, qr/'r\/1' is not a route name/]],
    ['route in a <Location>', "<Location /api>\nVipRoute r1 /api/* orders\n</Location>",
        [qr/VipRoute/, qr/not allowed/]],
    ['scope not a path', 'VipRouteScope api/',
        [qr/VipRouteScope/, qr/'api\/'/, qr/starting with \//]],
    # -- services
    ['bad member URL: scheme', 'VipRouteService s ftp://127.0.0.1/',
        [qr/VipRouteService/, qr/'ftp:\/\/127\.0\.0\.1\/' is not a member URL/]],
    ['bad member URL: no scheme', 'VipRouteService s 127.0.0.1:9105',
        [qr/VipRouteService/, qr/is not a member URL/]],
    ['bad member URL: user info', 'VipRouteService s http://admin@127.0.0.1:9105/',
        [qr/VipRouteService/, qr/is not a member URL/]],
    ['bad member URL: query', 'VipRouteService s http://127.0.0.1:9105/?a=b',
        [qr/VipRouteService/, qr/is not a member URL/]],
    ['bad member URL: no host', 'VipRouteService s http:///x',
        [qr/VipRouteService/, qr/is not a member URL/]],
    ['service without members', 'VipRouteService s',
        [qr/VipRouteService/, qr/at least one member/]],
    ['service declared twice', 'VipRouteService orders http://127.0.0.1:9105',
        [qr/VipRouteService/, qr/'orders' is already declared/]],
    ['bad service option', 'VipRouteService s http://127.0.0.1:9105 retry=-1',
        [qr/VipRouteService/, qr/bad option 'retry=-1'/]],
    ['bad service name', 'VipRouteService s:1 http://127.0.0.1:9105',
        [qr/VipRouteService/, qr/'s:1' is not a service name/]],
    ['missing mod_proxy_balancer', 'VipRouteService s http://127.0.0.1:9105',
        [qr/VipRouteService/, qr/mod_proxy_balancer/, qr/loaded first/], ['proxy_balancer']],
    ['missing mod_lbmethod_byrequests', 'VipRouteService s http://127.0.0.1:9105',
        [qr/VipRouteService/, qr/lbmethod/], ['lbmethod_byrequests']],
);

# Formerly let through (fixed module bugs): [name, config, should httpd -t fail?, why]
my @TODO_CASES = (
    ['two routes with one name', "VipRoute r1 /api/a/* orders\nVipRoute r1 /api/b/* v2", 1,
     'route names must be unique (notes, logs and balancer names)'],
    ['a service named like a route balancer',
     "VipRouteService orders.r1 http://127.0.0.1:9105\nVipRoute r1 /api/* orders timeout=5", 0,
     'per-route balancers are named balancer://vip~<route>~<service>: no collision, a valid config'],
    ['strip= of a template with a parameter', 'VipRoute r1 /api/{v}/* orders strip=/api/{v}', 0,
     'strip counts whole template segments, parameters included: a valid config'],
    ['rewrite target that makes a dot-segment', 'VipRoute r1 /api/* orders rewrite=/v2/..{*}', 1,
     '"/v2/..{*}" gives "/v2/.." when the rest is empty'],
);

plan tests => 2 * @CASES + @TODO_CASES + 6, need_vip_route();

my $n = 0;
my @OUTPUTS;

sub write_conf {
    my ($body, $without) = @_;
    my %skip = map { $_ => 1 } @{ $without || [] };
    my $load = conftest_load(grep { !$skip{$_} }
        qw(authz_core proxy proxy_http slotmem_shm proxy_balancer lbmethod_byrequests));
    return conftest_write($tmp, ++$n, <<"EOF");
$load
LoadModule vip_route_module "$so"
$SERVICES
$body
EOF
}

sub configtest {
    my ($rc, $out) = conftest_run(shift);
    push @OUTPUTS, $out;
    return ($rc, $out);
}

for my $c (@CASES) {
    my ($name, $body, $res, $without) = @$c;
    my $conf = write_conf($body, $without);
    my ($rc, $out) = configtest($conf);
    isnt($rc, 0, "$name: httpd -t fails") or diag $out;
    my @miss = grep { $out !~ $_ } (qr/line \d+ of \Q$conf\E/, @$res);
    ok(!@miss, "$name: the message names file, line, directive and why")
        or diag "output:\n$out\nmissing: @miss";
}

for my $c (@TODO_CASES) {
    my ($name, $body, $fails, $why) = @$c;
    my ($rc) = configtest(write_conf($body));
    if ($fails) {
        isnt($rc, 0, "$name: httpd -t fails ($why)");
    }
    else {
        is($rc, 0, "$name: httpd -t accepts it ($why)");
    }
}

# ---- good configs ----------------------------------------------------------------------------
my ($rc, $out) = configtest(write_conf(<<'EOF'));
VipRouteService pair http://127.0.0.1:9105 https://127.0.0.1:9106/base retry=2 max=50
VipRouteScope /api/ /v1/
VipRoute a /api/* orders
VipRoute b GET,HEAD /api/orders/{id} orders host=api.example.com header=X-Api-Version:2 header=X-B:1
VipRoute c /api/orders/{id}/items/* pair rewrite=/items/{id}/{*} timeout=5 connect_timeout=300 retries=1
VipRoute d /api/strip/* orders strip=/api/strip split=v2:5 split=pair:10 split_header=X-Api-Version:3:pair
VipRoute e /api/t/* orders tenant=acme,globex plan=gold pin=acme:v2 pin=globex:pair
VipRoute f /api/{a}/{b}/{c} v2 rewrite=/x/{c}.{b}/{a}
VipRoute h /api/h/* pair retry_on=502,503,504,timeout retry_budget=20% retry_idempotency_key=on timeout=2 retries=1
VipRoute i /api/i/* pair retry_on=timeout split=orders:10
VipRoute root / orders
<VirtualHost 127.0.0.1:1>
    ServerName vhost.example
    VipRouteService local http://127.0.0.1:9107
    VipRoute g /v1/* local split=orders:50
</VirtualHost>
EOF
is($rc, 0, 'a good config: httpd -t exits 0') or diag $out;
like($out, qr/Syntax OK/, 'a good config: Syntax OK');
unlike($out, qr/\bwarn\b|AH01150/, 'a good config: no warning') or diag $out;

# the test server's own configuration
($rc, $out) = do {
    my $o = `"$httpd" -t -d "$t_dir" -f "$t_dir/conf/httpd.conf" 2>&1`;
    ($? >> 8, $o);
};
like($out, qr/Syntax OK/, 'the test server config t/conf/httpd.conf: Syntax OK') or diag $out;

# mod_vip_route alone (no mod_vip_auth): it loads and works by itself
($rc, $out) = configtest(write_conf('VipRoute a /api/* orders'));
like($out, qr/Syntax OK/, 'mod_vip_route loaded without the other vip modules: Syntax OK') or diag $out;

my @raw = grep { /%(?:z|ll|l|h)?[dusx]\b|%p\b|\(null\)/ } @OUTPUTS;
ok(!@raw, 'no unformatted printf conversion or (null) in any message')
    or diag join "\n", @raw;
