# Authorization: Require vip-scope / vip-tenant / vip-plan, alone and in
# RequireAll / RequireAny, with API keys and tokens.  Denials are 403
# problems (insufficient scope carries the RFC 6750 challenge) and never
# reach the upstream; missing credentials stay 401.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

my %KEY = map { $_ => apikey($_) } qw(acme-k1 acme-ro globex-k1 hooli-k1 initech-k1);

# [path, credential, expected status, name]
# acme-k1: gold, orders:read orders:write catalog:read
# acme-ro: gold, orders:read     globex-k1: free, catalog:read
# hooli-k1: silver, catalog:read orders:read
my @CASES = (
    ['/auth/scope/orders-read',  'acme-ro',   200, 'vip-scope orders:read with orders:read'],
    ['/auth/scope/orders-write', 'acme-k1',   200, 'vip-scope orders:write with orders:write'],
    ['/auth/scope/orders-write', 'acme-ro',   403, 'vip-scope orders:write with orders:read only'],
    ['/auth/scope/orders-write', 'globex-k1', 403, 'vip-scope orders:write with catalog:read only'],
    ['/auth/scope/any-of',       'globex-k1', 200, 'vip-scope orders:write catalog:read: any one is enough'],
    ['/auth/scope/any-of',       'acme-ro',   403, 'vip-scope orders:write catalog:read with neither'],
    ['/auth/scope/all',          'acme-k1',   200, 'RequireAll of two scopes with both'],
    ['/auth/scope/all',          'acme-ro',   403, 'RequireAll of two scopes with one'],
    ['/auth/tenant/acme',        'acme-k1',   200, 'vip-tenant acme as acme'],
    ['/auth/tenant/acme',        'globex-k1', 403, 'vip-tenant acme as globex'],
    ['/auth/tenant/acme-or-hooli', 'hooli-k1', 200, 'vip-tenant acme hooli as hooli'],
    ['/auth/tenant/acme-or-hooli', 'globex-k1', 403, 'vip-tenant acme hooli as globex'],
    ['/auth/plan/gold',          'acme-ro',   200, 'vip-plan gold on gold'],
    ['/auth/plan/gold',          'hooli-k1',  403, 'vip-plan gold on silver'],
    ['/auth/plan/paid',          'hooli-k1',  200, 'vip-plan silver gold on silver'],
    ['/auth/plan/paid',          'globex-k1', 403, 'vip-plan silver gold on free'],
    ['/auth/combo/any',          'globex-k1', 200, 'RequireAny tenant globex | plan gold: globex'],
    ['/auth/combo/any',          'acme-ro',   200, 'RequireAny tenant globex | plan gold: gold plan'],
    ['/auth/combo/any',          'hooli-k1',  403, 'RequireAny tenant globex | plan gold: neither'],
    ['/auth/combo/all',          'acme-k1',   200, 'RequireAll tenant acme & orders:write: both'],
    ['/auth/combo/all',          'acme-ro',   403, 'RequireAll tenant acme & orders:write: scope missing'],
    ['/auth/combo/all',          'globex-k1', 403, 'RequireAll tenant acme & orders:write: other tenant'],
);

plan tests => 2 * @CASES + 18, need_vip_auth();

my ($res, $hits);
for my $c (@CASES) {
    my ($path, $key, $status, $name) = @$c;
    ($res, $hits) = with_hits { GET "$path/item", 'X-Api-Key' => $KEY{$key} };
    if ($status == 200) {
        is($res->code, 200, "$name ($key): 200");
        is($hits, 1, "$name: upstream called");
    }
    else {
        problem_ok($res, 403, "$name ($key): 403 problem");
        is($hits, 0, "$name: upstream untouched");
    }
}

# ---- the insufficient_scope challenge (RFC 6750 3.1) ------------------------
$res = GET '/auth/scope/orders-write/item', 'X-Api-Key' => $KEY{'acme-ro'};
ok(has_challenge($res, 'Bearer', realm => 'vip', error => 'insufficient_scope',
                 scope => 'orders:write'),
   'missing scope: Bearer realm="vip", error="insufficient_scope", scope="orders:write"')
    or diag join ' | ', www_authenticate($res);

my $tok = jwt({ alg => 'ES256' }, claims(scope => 'orders:read'), 'ec256');
($res, $hits) = with_hits { GET '/auth/scope/orders-write/item', Authorization => "Bearer $tok" };
problem_ok($res, 403, 'token without orders:write: 403 problem');
ok(has_challenge($res, 'Bearer', error => 'insufficient_scope', scope => 'orders:write'),
   'token without orders:write: insufficient_scope challenge naming orders:write');
is($hits, 0, 'token without orders:write: upstream untouched');

$res = GET '/auth/scope/any-of/item', Authorization => "Bearer " .
    jwt({ alg => 'ES256' }, claims(scope => 'orders:read'), 'ec256');
ok(has_challenge($res, 'Bearer', error => 'insufficient_scope')
   && (grep { /scope="[^"]*orders:write[^"]*"/ && /scope="[^"]*catalog:read[^"]*"/ }
       www_authenticate($res)),
   'any-of location: the challenge lists the required scopes')
    or diag join ' | ', www_authenticate($res);

$res = GET '/auth/scope/all/item', 'X-Api-Key' => $KEY{'acme-ro'};
ok((grep { /scope="[^"]*orders:write/ } www_authenticate($res)),
   'RequireAll: the challenge names the scope that is missing')
    or diag join ' | ', www_authenticate($res);

$tok = jwt({ alg => 'ES256' }, claims(scope => 'orders:read orders:write'), 'ec256');
$res = GET '/auth/scope/orders-write/item', Authorization => "Bearer $tok";
is($res->code, 200, 'token with orders:write on orders-write: 200');

# a token scope the tenant does not hold does not authorize
$tok = jwt({ alg => 'ES256' }, claims(tid => 'globex', scope => 'orders:write'), 'ec256');
($res, $hits) = with_hits { GET '/auth/scope/orders-write/item', Authorization => "Bearer $tok" };
is($res->code, 403, 'token claiming a scope its tenant lacks: 403');
is($hits, 0, 'scope outside the tenant: upstream untouched');

# ---- tenant and plan denials carry no scope challenge ----------------------
$res = GET '/auth/tenant/acme/item', 'X-Api-Key' => $KEY{'globex-k1'};
ok(!has_challenge($res, 'Bearer', error => 'insufficient_scope'),
   'vip-tenant denial: no insufficient_scope challenge');
$res = GET '/auth/plan/gold/item', 'X-Api-Key' => $KEY{'hooli-k1'};
ok(!has_challenge($res, 'Bearer', error => 'insufficient_scope'),
   'vip-plan denial: no insufficient_scope challenge');
my $secret = (split /\./, $KEY{'hooli-k1'}, 2)[1];
unlike($res->content, qr/\Q$secret\E/, 'the 403 body does not echo the key')
    or diag $res->content;

# ---- authentication still comes first ----------------------------------------
($res, $hits) = with_hits { GET '/auth/scope/orders-read/item' };
problem_ok($res, 401, 'scope location without credential: 401, not 403');
ok(has_challenge($res, 'ApiKey', realm => 'vip'), 'scope location without credential: challenges');
is($hits, 0, 'scope location without credential: upstream untouched');

($res, $hits) = with_hits { GET '/auth/scope/orders-read/item', 'X-Api-Key' => $KEY{'initech-k1'} };
problem_ok($res, 403, 'suspended tenant on a scope location: 403');
is($hits, 0, 'suspended tenant: upstream untouched');

# ---- identity forwarded on an authorized request -----------------------------
$res = GET '/auth/combo/all/item', 'X-Api-Key' => $KEY{'acme-k1'};
is_deeply(identity_of($res)->{tenant}, ['acme'], 'authorized request: X-Vip-Tenant forwarded');
