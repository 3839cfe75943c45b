# Every JWS algorithm mod_vip_auth supports, with the platform issuer's keys
# and with a tenant's own issuer (globex), and how tenant, scopes and the
# Bearer scheme are read from a valid token.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

my @ALGS = (
    [RS256 => 'rsa1'], [RS384 => 'rsa1'], [RS512 => 'rsa1'],
    [PS256 => 'rsa1'], [PS384 => 'rsa1'], [PS512 => 'rsa1'],
    [ES256 => 'ec256'], [ES384 => 'ec384'], [EdDSA => 'ed1'],
    [HS256 => 'hs1'], [HS384 => 'hs1'], [HS512 => 'hs1'],
);

plan tests => 3 * @ALGS + 42, need_vip_auth();

my ($res, $hits, $id);

# ---- every algorithm ----------------------------------------------------------
for my $a (@ALGS) {
    my ($alg, $key) = @$a;
    my $t = jwt({ alg => $alg, typ => 'JWT' }, claims(sub => "u-$alg"), $key);
    ($res, $hits) = with_hits { GET '/auth/jwt/orders', Authorization => "Bearer $t" };
    is($res->code, 200, "$alg token (kid $key): 200")
        or diag $res->content;
    $id = identity_of($res);
    is_deeply([ @{ $id->{tenant} }, @{ $id->{subject} } ], ['acme', "u-$alg"],
              "$alg: upstream gets tenant acme and the token's sub");
    is($hits, 1, "$alg: upstream called once");
}

# ---- no kid: the only key of the platform issuer that allows the alg --------
for my $a ([RS256 => 'rsa1'], [ES384 => 'ec384'], [HS256 => 'hs1']) {
    my ($alg, $key) = @$a;
    my $t = jwt({ alg => $alg, kid => undef }, claims(), $key);
    $res = GET '/auth/jwt/orders', Authorization => "Bearer $t";
    is($res->code, 200, "$alg without kid: verified with the only $alg key");
}

# ---- identity from the token ------------------------------------------------
my $t = jwt({ alg => 'ES256' }, claims(scope => 'orders:read admin:root catalog:read'), 'ec256');
$res = GET '/auth/jwt/orders', Authorization => "Bearer $t";
$id = identity_of($res);
is(scalar @{ $id->{scopes} }, 1, 'one X-Vip-Scopes header');
is(scopes_set($id->{scopes}[0]), 'catalog:read orders:read',
   'token scopes are intersected with the tenant scopes');
is_deeply($id->{plan}, ['gold'], 'the plan comes from the registry');

$t = jwt({ alg => 'ES256' }, claims(scope => undef, scp => 'orders:write'), 'ec256');
$res = GET '/auth/jwt/orders', Authorization => "Bearer $t";
is($res->code, 200, 'scp instead of scope: 200');
is(scopes_set((identity_of($res)->{scopes} || [])->[0]), 'orders:write',
   'scp (space separated) is read when scope is absent');

$t = jwt({ alg => 'ES256' }, claims(scope => undef), 'ec256');
$res = GET '/auth/jwt/orders', Authorization => "Bearer $t";
is($res->code, 200, 'token without scope: 200 (valid-user)');
is(scopes_set(join ' ', echo_values($res, 'X-Vip-Scopes')), '',
   'token without scope: no scopes granted');

$t = jwt({ alg => 'ES256' }, claims(scope => 'admin:root'), 'ec256');
$res = GET '/auth/jwt/orders', Authorization => "Bearer $t";
is(scopes_set(join ' ', echo_values($res, 'X-Vip-Scopes')), '',
   'scopes the tenant does not have are dropped');

$t = jwt({ alg => 'ES256' }, claims(tid => 'globex', sub => 'p-9'), 'ec256');
$res = GET '/auth/jwt/catalog', Authorization => "Bearer $t";
$id = identity_of($res);
is($res->code, 200, 'platform token for tenant globex: 200');
is_deeply([ @{ $id->{tenant} }, @{ $id->{plan} } ], ['globex', 'free'],
          'platform token: tenant from tid, plan of that tenant');

$t = jwt({ alg => 'ES256' }, claims(aud => ['other-api', $AUDIENCE]), 'ec256');
$res = GET '/auth/jwt/orders', Authorization => "Bearer $t";
is($res->code, 200, 'aud array containing vip-api: 200');

# ---- tenant problems ----------------------------------------------------------
for my $c (['no tid claim', claims(tid => undef)],
           ['unknown tenant in tid', claims(tid => 'umbrella')]) {
    my ($name, $cl) = @$c;
    ($res, $hits) = with_hits {
        GET '/auth/jwt/orders', Authorization => 'Bearer ' . jwt({ alg => 'ES256' }, $cl, 'ec256') };
    problem_ok($res, 401, "platform token, $name: 401");
    is($hits, 0, "$name: upstream untouched");
}

($res, $hits) = with_hits {
    GET '/auth/jwt/orders', Authorization => 'Bearer ' .
        jwt({ alg => 'ES256' }, claims(tid => 'initech'), 'ec256') };
problem_ok($res, 403, 'valid token of a suspended tenant: 403');
is($hits, 0, 'suspended tenant token: upstream untouched');

# ---- a tenant's own issuer (globex) -----------------------------------------
$t = jwt({ alg => 'ES256' }, globex_claims(), 'globex1');
($res, $hits) = with_hits { GET '/auth/jwt/catalog', Authorization => "Bearer $t" };
is($res->code, 200, 'globex issuer token: 200') or diag $res->content;
$id = identity_of($res);
is_deeply($id->{tenant},  ['globex'],   'globex issuer token: tenant globex');
is_deeply($id->{subject}, ['g-user-7'], 'globex issuer token: subject from sub');
is_deeply($id->{plan},    ['free'],     'globex issuer token: plan free');
is(scopes_set(($id->{scopes} || [])->[0]), 'catalog:read', 'globex issuer token: scopes');
is($hits, 1, 'globex issuer token: upstream called once');

$t = jwt({ alg => 'ES256' }, globex_claims(tid => 'globex'), 'globex1');
$res = GET '/auth/jwt/catalog', Authorization => "Bearer $t";
is($res->code, 200, 'globex issuer token naming its own tenant in tid: 200');

my @bad = (
    [ 'globex issuer token naming tenant acme in tid',
      jwt({ alg => 'ES256' }, globex_claims(tid => 'acme'), 'globex1') ],
    [ 'globex issuer token signed with a platform key',
      jwt({ alg => 'ES256' }, globex_claims(), 'ec256') ],
    [ 'platform issuer token signed with the globex key',
      jwt({ alg => 'ES256' }, claims(), 'globex1') ],
    [ 'globex issuer token with the platform audience missing',
      jwt({ alg => 'ES256' }, globex_claims(aud => 'globex-internal'), 'globex1') ],
);
for my $b (@bad) {
    my ($name, $tok) = @$b;
    ($res, $hits) = with_hits { GET '/auth/jwt/catalog', Authorization => "Bearer $tok" };
    problem_ok($res, 401, "$name: 401");
    ok(has_challenge($res, 'Bearer', realm => 'vip', error => 'invalid_token'),
       "$name: Bearer error=\"invalid_token\"");
    is($hits, 0, "$name: upstream untouched");
}

# ---- the Bearer scheme --------------------------------------------------------
$t = jwt({ alg => 'ES256' }, claims(), 'ec256');
for my $scheme (qw(bearer BEARER bEaReR)) {
    $res = GET '/auth/jwt/orders', Authorization => "$scheme $t";
    is($res->code, 200, "scheme '$scheme' is accepted (case-insensitive)");
}
