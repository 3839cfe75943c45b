# Routes with tenant and plan conditions (virtual host vip_route_auth):
# the table is matched in fixups, after mod_vip_auth has authenticated the
# request, on the verified identity only (never on headers a client
# sends), and anonymous requests never meet a tenant or plan condition.
#
#   /t/ (AuthType Vip): t-acme      tenant=acme     -> two   (echo 2)
#                       t-silver    plan=silver     -> three (echo 3)
#                       t-post      POST            -> catalog (echo 3)
#                       t-orders                    -> orders (echo 1)
#   /open/ (no auth):   o-tenant    tenant=acme     -> two
#                       o-plan      plan=gold,free,silver -> three
#                       o-orders                    -> orders
# Tenants (Vip::Keys): acme gold, globex free, hooli silver, initech
# silver but suspended.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Vip::Test;

plan tests => 30, need_vip_route(), need_vip_auth();

Apache::TestRequest::module('vip_route_auth');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my %KEY = map { $_ => apikey("$_-k1") } qw(acme globex hooli initech);

sub check {
    my ($res, $route, $inst, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    is(route_of($res) . '/' . (echo_which($res) // 'none'), "$route/$inst", "$name: route $route, echo $inst")
        or diag $res->status_line;
}

# ---- authenticated ---------------------------------------------------------------------------
my $id = req_id();
my $res = GET '/t/orders/1', 'X-Api-Key' => $KEY{acme}, 'X-Req-Id' => $id;
check($res, 't-acme', 2, 'acme (API key)');
is_deeply([ echo_values($res, 'X-Vip-Tenant') ], ['acme'], 'acme: the routed upstream gets the verified identity');
my $n = route_notes_for($id) || {};
is("$n->{route}|$n->{service}|$n->{tenant}|$n->{route_result}", 't-acme|two|acme|routed',
   'acme: notes vip.route, vip.service, vip.tenant, vip.route_result');

my $tok = jwt({ alg => 'ES256' }, claims(sub => 'route-user'), 'ec256');
check(GET('/t/orders/1', Authorization => "Bearer $tok"), 't-acme', 2, 'acme (JWT)');
check(GET('/t/orders/1', 'X-Api-Key' => $KEY{hooli}), 't-silver', 3, 'hooli (plan silver)');
check(GET('/t/orders/1', 'X-Api-Key' => $KEY{globex}), 't-orders', 1, 'globex (plan free)');
my $gtok = jwt({ alg => 'ES256', kid => 'globex1' }, globex_claims(), 'globex1');
check(GET('/t/orders/1', Authorization => "Bearer $gtok"), 't-orders', 1, 'globex (its own issuer\'s JWT)');

# a method condition beside the identity ones: same count, configuration order
check(POST('/t/orders/1', 'X-Api-Key' => $KEY{globex}, content => 'x'), 't-post', 3, 'globex POST: the method route');
check(POST('/t/orders/1', 'X-Api-Key' => $KEY{acme}, content => 'x'), 't-acme', 2,
      'acme POST: tenant and method routes count 1 each, t-acme is declared first');

# identity claims in headers change nothing
check(GET('/t/orders/1', 'X-Api-Key' => $KEY{globex}, 'X-Vip-Tenant' => 'acme', 'X-Vip-Plan' => 'silver',
          ':x_vip_tenant' => 'acme', 'X-Tenant-Id' => 'acme'),
      't-orders', 1, 'globex with X-Vip-Tenant: acme and X-Vip-Plan: silver');

# ---- refused by authentication: no route, no upstream ------------------------------------------
for my $c ([ 'no credentials', [] ],
           [ 'a wrong key', [ 'X-Api-Key' => 'acme-k1.' . ('A' x 43) ] ],
           [ 'a suspended tenant', [ 'X-Api-Key' => $KEY{initech} ] ],
           [ 'an expired token', [ Authorization => 'Bearer ' . jwt({ alg => 'ES256' }, claims(exp => time - 3600), 'ec256') ] ]) {
    my ($name, $h) = @$c;
    echo_reset($_) for 1 .. 3;
    $id = req_id();
    $res = GET '/t/orders/1', @$h, 'X-Req-Id' => $id;
    ok($res->code == 401 || $res->code == 403, "$name: 401/403") or diag $res->status_line;
    is(echo_hits(1) + echo_hits(2) + echo_hits(3), 0, "$name: no upstream sees the request");
    is(route_of($res), '', "$name: no route");
}

# the route table does not leak through authentication: an unknown path
# below /t/ is a 401 first, and a 404 problem only once authenticated
$res = GET '/t/unknown/1';
is($res->code, 401, 'no credentials, unknown path in the scope: 401, not 404');
$res = GET '/t/unknown/1', 'X-Api-Key' => $KEY{acme};
problem_ok($res, 404, 'authenticated, unknown path in the scope: 404 problem');

# ---- anonymous: tenant and plan conditions never hold -----------------------------------------
check(GET('/open/orders/1'), 'o-orders', 1, 'anonymous');
check(GET('/open/orders/1', 'X-Vip-Tenant' => 'acme', 'X-Vip-Plan' => 'gold'), 'o-orders', 1,
      'anonymous claiming X-Vip-Tenant: acme, X-Vip-Plan: gold');
check(GET('/open/orders/1', 'X-Api-Key' => $KEY{acme}), 'o-orders', 1,
      'an API key where nothing authenticates (no AuthType)');
$res = GET '/open/orders/1', 'X-Vip-Tenant' => 'acme';
is_deeply([ echo_values($res, qr/^x[-_]vip[-_]/i) ], [], 'anonymous: no X-Vip-* header reaches the upstream');

# ---- the same table, other conditions: scope and templates still apply ---------------------------
$res = GET '/open/nothing';
problem_ok($res, 404, 'anonymous, unknown path in the /open/ scope: 404 problem');
$res = GET '/open/orders/%252e%252e/x';
problem_ok($res, 400, 'a refused path, routed in fixups: 400 problem');
