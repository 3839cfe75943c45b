# Every decision is visible in the access log: the vip.* notes through a
# LogFormat (t/conf/extra.conf.in, "vipnotes", t/logs/vip_notes.log),
# reason codes for failures, and no credential in the logged headers.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 37, need_vip_auth();

my $K1 = apikey('acme-k1');
my $RO = apikey('acme-ro');
my $IN = apikey('initech-k1');

sub logged {
    my ($path, @h) = @_;
    my $id = req_id();
    my $res = GET $path, 'X-Req-Id' => $id, @h;
    my $n = notes_for($id);
    return ($res, $n || {});
}

# ---- API key success --------------------------------------------------------
my ($res, $n) = logged('/auth/any/log', 'X-Api-Key' => $K1);
is($n->{status}, 200, 'apikey: logged with status 200');
is($n->{tenant}, 'acme', 'apikey: %{vip.tenant}n');
is($n->{subject}, 'acme-k1', 'apikey: %{vip.subject}n is the key id');
is(scopes_set($n->{scopes}), 'catalog:read orders:read orders:write', 'apikey: %{vip.scopes}n');
is($n->{plan}, 'gold', 'apikey: %{vip.plan}n');
is($n->{auth_method}, 'apikey', 'apikey: %{vip.auth_method}n');
is($n->{key_id}, 'acme-k1', 'apikey: %{vip.key_id}n');
is($n->{auth_result}, 'ok', 'apikey: %{vip.auth_result}n = ok');
is($n->{api_key}, '-', 'apikey: the key is gone from the logged X-Api-Key');

($res, $n) = logged('/auth/any/log', Authorization => "ApiKey $RO");
is($n->{authorization}, '-', 'apikey via Authorization: gone from the logged Authorization');
is($n->{key_id}, 'acme-ro', 'apikey via Authorization: key id acme-ro');

# ---- JWT success --------------------------------------------------------------
my $tok = jwt({ alg => 'PS256' }, claims(sub => 'log-user', scope => 'orders:read'), 'rsa1');
($res, $n) = logged('/auth/jwt/log', Authorization => "Bearer $tok");
is($n->{status}, 200, 'jwt: logged with status 200');
is($n->{tenant}, 'acme', 'jwt: vip.tenant');
is($n->{subject}, 'log-user', 'jwt: vip.subject is sub');
is($n->{scopes}, 'orders:read', 'jwt: vip.scopes');
is($n->{auth_method}, 'jwt', 'jwt: vip.auth_method');
is($n->{key_id}, 'rsa1', 'jwt: vip.key_id is the kid');
like($n->{auth_result}, qr/^(?:ok|cached)$/, 'jwt: vip.auth_result ok (or cached)');
is($n->{authorization}, '-', 'jwt: the token is gone from the logged Authorization');

my $gtok = jwt({ alg => 'ES256' }, globex_claims(), 'globex1');
($res, $n) = logged('/auth/jwt/log', Authorization => "Bearer $gtok");
is(join('/', $n->{tenant}, $n->{plan}, $n->{key_id}), 'globex/free/globex1',
   'globex issuer: tenant, plan and kid logged');

# ---- failures: reason codes --------------------------------------------------
my @FAIL = (
    ['expired token', [Authorization => 'Bearer ' . jwt({ alg => 'RS256' }, claims(exp => time - 3600), 'rsa1')], 'expired'],
    ['bad signature', [Authorization => 'Bearer ' . jwt({ alg => 'RS256' }, claims(), 'rsa1', sig => 'x' x 256)], 'bad_signature'],
    ['alg none (with a signature)', [Authorization => 'Bearer ' . jwt({ alg => 'none', kid => 'rsa1' }, claims(), 'rsa1', alg => 'RS256')], 'alg_not_allowed'],
    ['unknown kid', [Authorization => 'Bearer ' . jwt({ alg => 'RS256', kid => 'nope' }, claims(), 'rsa1')], 'unknown_kid'],
    ['wrong audience', [Authorization => 'Bearer ' . jwt({ alg => 'RS256' }, claims(aud => 'x'), 'rsa1')], 'wrong_audience'],
    ['malformed token', [Authorization => 'Bearer a.b'], 'malformed'],
    ['duplicate member', [Authorization => 'Bearer ' . jwt('{"alg":"RS256","alg":"RS256","kid":"rsa1"}', claims(), 'rsa1')], 'duplicate_member'],
);
for my $f (@FAIL) {
    my ($name, $h, $code) = @$f;
    ($res, $n) = logged('/auth/jwt/log', @$h);
    is("$n->{status} $n->{auth_result}", "401 $code", "$name: 401, vip.auth_result = $code");
}

($res, $n) = logged('/auth/any/log', 'X-Api-Key' => 'acme-k1.wrong-secret');
is($n->{status}, 401, 'bad API key: logged 401');
ok($n->{auth_result} =~ /^[a-z0-9_]+$/ && $n->{auth_result} !~ /^(?:ok|cached|inherited)$/,
   'bad API key: vip.auth_result is a reason code') or diag "got '$n->{auth_result}'";
is($n->{tenant}, '-', 'bad API key: no vip.tenant');

($res, $n) = logged('/auth/any/log');
ok($n->{status} == 401 && $n->{auth_result} =~ /^[a-z0-9_]+$/ && $n->{auth_result} ne 'ok',
   'no credential: 401 with a reason code') or diag explain $n;

($res, $n) = logged('/auth/any/log', 'X-Api-Key' => $IN);
is($n->{status}, 403, 'suspended tenant: logged 403');
isnt($n->{auth_result}, 'ok', 'suspended tenant: vip.auth_result is not ok');

($res, $n) = logged('/auth/scope/orders-write/log', 'X-Api-Key' => $RO);
is($n->{status}, 403, 'insufficient scope: logged 403');
is($n->{tenant}, 'acme', 'insufficient scope: the verified tenant is still logged');

# ---- anonymous ----------------------------------------------------------------
($res, $n) = logged('/public/log', 'X-Api-Key' => $K1);
is($n->{status}, 200, 'anonymous location: logged');
is(join('', map { $n->{$_} } qw(tenant subject scopes plan auth_method key_id auth_result)),
   '-------', 'anonymous location: no vip.* note');
