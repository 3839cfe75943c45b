# THREATS R1, traversal across prefixes: routing is decided on the
# normalised path, so a request below /api/orders/ reaches either the
# admin route (/api/admin/*, its own service: echo 2) or nothing (400 from
# the path normaliser, 404 from httpd), never the orders upstream (echo 1)
# with a path that a lax upstream normaliser resolves to the admin area.
#
# Each request goes out byte for byte (raw_http), then the test reads what
# each echo instance received (echo_seen) and resolves every target the
# way the laxest upstream would: percent-decoding until nothing changes,
# '\' as '/', overlong UTF-8 dots and slashes, ";params" cut, NULs dropped,
# then dot-segments.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Vip::Test;

# [request-target, expected outcome]
#   admin      200 from the admin route, echo 2 sees /api/admin...
#   400:reason the normaliser's 400 bad-path, vip.route_result = reason
#   404        httpd's own 404 (encoded slash or NUL, or outside the scopes)
#   orders:T   the orders upstream with target T (harmless spellings)
my @CASES = (
    ['/api/orders/../admin',              'admin'],
    ['/api/orders/%2e%2e/admin',          'admin'],
    ['/api/orders/%2E%2E/admin',          'admin'],
    ['/api/orders/.%2e/admin',            'admin'],
    ['/api/orders/%2e./admin',            'admin'],
    ['/api/orders/x/../../admin',         'admin'],
    ['/api/orders/%2e%2e/admin?x=1',      'admin'],
    ['/api/orders/./../admin',            'admin'],
    ['/api/orders/%252e%252e/admin',      '400:dot_segment'],
    ['/api/orders/%252E%252E/admin',      '400:dot_segment'],
    ['/api/orders/.%252e/admin',          '400:dot_segment'],
    ['/api/orders/%252e%252e%252fadmin',  '400:dot_segment'],
    ['/api/orders/..%252fadmin',          '400:dot_segment'],
    ['/api/orders/..%255cadmin',          '400:dot_segment'],
    ['/api/orders/..%2fadmin',            '404'],
    ['/api/orders/..%2Fadmin',            '404'],
    ['/api/orders/%2e%2e%2fadmin',        '404'],
    ['/api/orders/..;/admin',             '400:dot_segment'],
    ['/api/orders/..;x=1/admin',          '400:dot_segment'],
    ['/api/orders/.;/admin',              '400:dot_segment'],
    ['/api/orders/..%3b/admin',           '400:dot_segment'],
    ['/api/orders/%2e%2e;/admin',         '400:dot_segment'],
    ['/api/orders/..\\admin',             '400:backslash'],
    ['/api/orders/..%5cadmin',            '400:backslash'],
    ['/api/orders/..%5Cadmin',            '400:backslash'],
    ['/api/orders/%c0%ae%c0%ae/admin',    '400:bad_utf8'],
    ['/api/orders/%C0%AE./admin',         '400:bad_utf8'],
    ['/api/orders/..%c0%afadmin',         '400:bad_utf8'],
    ['/api/orders/%e0%80%ae%e0%80%ae/admin', '400:bad_utf8'],
    ['/api/orders/%00',                   '404'],
    ['/api/orders/..%00/admin',           '404'],
    ['/api/orders/%00/../admin',          'orders:/api/orders/admin'],
    ['/api/orders/a%0d%0aX-Injected:%201', '400:control_char'],
    ['/api/orders/a%09b',                 '400:control_char'],
    ['/api/orders/a%7fb',                 '400:control_char'],
    ['/api/orders/../../admin',           '404'],
    ['/api/orders/%2e%2e/%2e%2e/admin',   '404'],
    ['/api/orders/...',                   'orders:/api/orders/...'],
    ['/api/orders/..admin',               'orders:/api/orders/..admin'],
    ['/api/orders/.hidden',               'orders:/api/orders/.hidden'],
);

plan tests => 3 * @CASES + 5, need_vip_route();

my $port = vip_var('vip_route_port');
my $log_start = error_log_size();

# How the laxest upstream would resolve a request-target.
sub lax_resolve {
    my $t = shift;
    $t =~ s/\?.*//s;
    for (1 .. 4) {
        my $before = $t;
        $t =~ s/%([0-9a-fA-F]{2})/chr hex $1/ge;
        last if $t eq $before;
    }
    $t =~ s/\xc0\xae|\xe0\x80\xae/./g;
    $t =~ s/\xc0\xaf|\xe0\x80\xaf/\//g;
    $t =~ tr{\\}{/};
    $t =~ s/\0//g;
    my @out;
    my @seg = split m{/}, $t, -1;
    shift @seg;
    for my $s (@seg) {
        (my $base = $s) =~ s/;.*//s;
        if    ($base eq '..') { pop @out }
        elsif ($base eq '.')  { }
        else                  { push @out, $s }
    }
    return '/' . join '/', @out;
}

my @orders_seen;
for my $c (@CASES) {
    my ($target, $want) = @$c;
    echo_reset($_) for 1 .. 3;
    my $id = req_id();
    my $res = raw_http("GET $target HTTP/1.1\r\nHost: localhost\r\nX-Req-Id: $id\r\n" .
                       "Connection: close\r\n\r\n", port => $port);
    my @seen = map { [ echo_seen($_) ] } 1 .. 3;
    push @orders_seen, map { $_->[1] } @{ $seen[0] };
    my $code = $res ? $res->code : 0;
    my $route = $res ? route_of($res) : '';
    my $what = "GET $target";

    if ($want eq 'admin') {
        ok($code == 200 && $route eq 'admin', "$what: the admin route answers")
            or diag "status $code, route '$route'";
        my @t = map { $_->[1] } @{ $seen[1] };
        ok(@t == 1 && $t[0] =~ m{^/api/admin(?:\?|$)}, "$what: the admin service sees /api/admin")
            or diag explain \@t;
    }
    elsif ($want =~ /^400:(\w+)$/) {
        my $reason = $1;
        my $body = $res ? $res->content : '';
        ok($code == 400 && ($res->header('Content-Type') // '') =~ m{^application/problem\+json}
           && $body =~ /"type"\s*:\s*"urn:vip:problem:bad-path"/,
           "$what: 400 bad-path problem") or diag $res ? $res->as_string : 'no response';
        is((route_notes_for($id) || {})->{route_result}, $reason, "$what: vip.route_result $reason");
    }
    elsif ($want eq '404') {
        is($code, 404, "$what: 404");
        is($route, '', "$what: no route");
    }
    elsif ($want =~ /^orders:(.*)$/) {
        my $t = $1;
        is($code, 200, "$what: an ordinary name, routed");
        my @t = map { $_->[1] } @{ $seen[0] };
        is_deeply(\@t, [$t], "$what: the orders service sees $t");
    }
    my @others = grep { lax_resolve($_->[1]) =~ m{^/(?:api/)?admin(?:/|$)} } @{ $seen[0] }, @{ $seen[2] };
    ok(!@others, "$what: no other service sees a path resolving to the admin area")
        or diag explain \@others;
}

# The whole run, once more: everything the orders upstream received.
my @bad = grep { lax_resolve($_) !~ m{^/api/orders(?:/|$)} } @orders_seen;
ok(!@bad, 'the orders upstream only ever saw paths that resolve below /api/orders')
    or diag explain \@bad;
ok(scalar(@orders_seen) >= 4, 'the orders upstream saw the harmless spellings (the check is not vacuous)');
like(error_log_since($log_start, 0.3), qr/VIP02010: path refused before routing: dot_segment/,
     'a refused path is logged with its reason code (VIP02010, info)');
is(lax_resolve('/api/orders/%252e%252e;x/admin'), '/api/admin', 'the lax resolver: double encoding and ;params');
is(lax_resolve('/api/orders/%c0%ae%c0%ae%5cadmin?q=/x'), '/api/admin', 'the lax resolver: overlong dots and backslash');
