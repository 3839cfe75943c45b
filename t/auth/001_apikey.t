# API keys (THREATS 2.2 K2, S1; J19/J20 for keys): the exact key of an
# active tenant passes with that tenant's identity; anything else is a 401
# (403 for a suspended tenant) that never reaches the upstream.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Vip::Test;
use IO::Socket::INET ();

plan tests => 76, need_vip_auth();

my $K1 = apikey('acme-k1');
my $RO = apikey('acme-ro');
my $GX = apikey('globex-k1');
my $HO = apikey('hooli-k1');
my $IN = apikey('initech-k1');
my ($K1_ID, $K1_SECRET) = split /\./, $K1, 2;
my $log_start = error_log_size();

# ---- valid keys ------------------------------------------------------------
my ($res, $hits) = with_hits { GET '/auth/any/orders?x=1', 'X-Api-Key' => $K1 };
is($res->code, 200, 'acme-k1 in X-Api-Key: 200');
is($hits, 1, 'acme-k1: the upstream is called once');
my $id = identity_of($res);
is_deeply($id->{tenant},  ['acme'],    'upstream gets X-Vip-Tenant: acme, once');
is_deeply($id->{subject}, ['acme-k1'], 'upstream gets X-Vip-Subject: the key id');
is_deeply($id->{plan},    ['gold'],    'upstream gets X-Vip-Plan: gold');
is(scalar @{ $id->{scopes} }, 1, 'upstream gets one X-Vip-Scopes');
is(scopes_set($id->{scopes}[0]), 'catalog:read orders:read orders:write',
   'a key without scopes gets the tenant scopes');
is_deeply([ echo_values($res, 'X-Api-Key') ], [], 'the key is not forwarded upstream');
is((echo_json($res) || {})->{query}, 'x=1', 'the query string is forwarded untouched');

$res = GET '/auth/any/orders', Authorization => "ApiKey $K1";
is($res->code, 200, 'Authorization: ApiKey <key>: 200');
is_deeply(identity_of($res)->{tenant}, ['acme'], 'Authorization: ApiKey: tenant acme');
is_deeply([ echo_values($res, 'Authorization') ], [], 'Authorization is not forwarded upstream');

$res = GET '/auth/any/orders', Authorization => "apikey $K1";
is($res->code, 200, 'the ApiKey scheme name is case-insensitive (RFC 9110 11.1)');

$res = GET '/auth/any/orders', 'X-Api-Key' => $RO;
is($res->code, 200, 'acme-ro: 200');
is(scopes_set((identity_of($res)->{scopes} || [])->[0]), 'orders:read',
   'a key with its own scopes gets exactly those');
is_deeply(identity_of($res)->{subject}, ['acme-ro'], 'acme-ro: subject is the key id');

$res = GET '/auth/any/catalog', 'X-Api-Key' => $GX;
$id = identity_of($res);
is($res->code, 200, 'globex-k1: 200');
is_deeply([ @{ $id->{tenant} }, @{ $id->{plan} } ], ['globex', 'free'],
          'globex-k1: tenant globex, plan free');

$res = GET '/auth/any/catalog', 'X-Api-Key' => $HO;
is_deeply(identity_of($res)->{plan}, ['silver'], 'hooli-k1: plan silver');

# ---- no credential ---------------------------------------------------------
($res, $hits) = with_hits { GET '/auth/any/orders' };
problem_ok($res, 401, 'no credential: 401 problem');
ok(has_challenge($res, 'Bearer', realm => 'vip'), 'no credential: Bearer realm="vip" challenge');
ok(has_challenge($res, 'ApiKey', realm => 'vip'), 'no credential: ApiKey realm="vip" challenge');
is($hits, 0, 'no credential: upstream untouched');

# ---- wrong keys: 401, ApiKey challenge, upstream untouched -------------------
my $flip = sub {
    my ($s, $pos) = @_;
    my $c = substr($s, $pos, 1);
    substr($s, $pos, 1) = $c eq 'A' ? 'B' : 'A';
    return $s;
};
my @bad = (
    [ 'unknown key id',              "nosuch-k1.$K1_SECRET" ],
    [ 'key id of another tenant',    "globex-k1.$K1_SECRET" ],
    [ 'last secret char changed',    "$K1_ID." . $flip->($K1_SECRET, -1) ],
    [ 'first secret char changed',   "$K1_ID." . $flip->($K1_SECRET, 0) ],
    [ 'secret one char short',       "$K1_ID." . substr($K1_SECRET, 0, -1) ],
    [ 'secret one char long',        "$K1.A" ],
    [ 'key id alone',                $K1_ID ],
    [ 'key id and dot',              "$K1_ID." ],
    [ 'secret alone',                $K1_SECRET ],
    [ 'whole key upper case',        uc $K1 ],
    [ 'whole key lower case',        lc $K1 ],
    [ 'key id upper case',           uc($K1_ID) . ".$K1_SECRET" ],
    [ 'key with a junk word after',  "$K1 x" ],
    [ 'key with a comma suffix',     "$K1," ],
);
for my $b (@bad) {
    my ($name, $key) = @$b;
    ($res, $hits) = with_hits { GET '/auth/any/orders', 'X-Api-Key' => $key };
    subtest "bad key ($name): 401 with the ApiKey challenge, upstream untouched" => sub {
        Test::More::plan(tests => 3);
        problem_ok($res, 401, 'problem');
        ok(has_challenge($res, 'ApiKey', realm => 'vip'), 'ApiKey challenge');
        is($hits, 0, 'upstream untouched');
    };
}

($res, $hits) = with_hits { GET '/auth/any/orders', 'X-Api-Key' => '' };
problem_ok($res, 401, 'empty X-Api-Key: 401');
is($hits, 0, 'empty X-Api-Key: upstream untouched');

($res, $hits) = with_hits { GET '/auth/any/orders', Authorization => 'ApiKey' };
problem_ok($res, 401, 'Authorization: ApiKey without a key: 401');
is($hits, 0, 'ApiKey without a key: upstream untouched');

# control bytes cannot hide a suffix: httpd (400) or we (401) refuse
$res = raw_http("GET /auth/any/orders HTTP/1.1\r\nHost: localhost\r\n" .
                "X-Api-Key: $K1\x0b\r\nConnection: close\r\n\r\n");
ok($res && ($res->code == 400 || $res->code == 401),
   'key followed by a control byte: 400 or 401') or diag($res ? $res->status_line : 'no answer');

# ---- two credentials at once ------------------------------------------------
my $jwt = jwt({ alg => 'RS256' }, claims(), 'rsa1');
($res, $hits) = with_hits {
    GET '/auth/any/orders', 'X-Api-Key' => $K1, Authorization => "Bearer $jwt" };
problem_ok($res, 401, 'API key and bearer token together: 401');
is($hits, 0, 'key + token: upstream untouched');

($res, $hits) = with_hits {
    GET '/auth/any/orders', 'X-Api-Key' => $K1, Authorization => "ApiKey $GX" };
problem_ok($res, 401, 'two different keys (header + Authorization): 401');
is($hits, 0, 'two keys: upstream untouched');

($res, $hits) = with_hits {
    GET '/auth/any/orders', 'X-Api-Key' => $K1, 'X-Api-Key' => $GX };
problem_ok($res, 401, 'two X-Api-Key lines: 401');
is($hits, 0, 'two X-Api-Key lines: upstream untouched');

($res, $hits) = with_hits {
    GET '/auth/any/orders', 'X-Api-Key' => $K1, 'X-Api-Key' => $K1 };
is($res->code, 401, 'the same key twice (merged to "k, k" by httpd): 401');

# ---- suspended tenant --------------------------------------------------------
($res, $hits) = with_hits { GET '/auth/any/orders', 'X-Api-Key' => $IN };
problem_ok($res, 403, 'key of a suspended tenant: 403');
is($hits, 0, 'suspended tenant: upstream untouched');

# ---- per-location methods ---------------------------------------------------
($res, $hits) = with_hits { GET '/auth/jwt/orders', 'X-Api-Key' => $K1 };
problem_ok($res, 401, 'API key where only JWT is enabled: 401');
ok(has_challenge($res, 'Bearer', realm => 'vip'), 'jwt-only location: Bearer challenge');
ok(!has_challenge($res, 'ApiKey'), 'jwt-only location: no ApiKey challenge');
is($hits, 0, 'API key on jwt-only location: upstream untouched');

($res, $hits) = with_hits { GET '/auth/apikey/orders' };
problem_ok($res, 401, 'apikey-only location without credential: 401');
ok(has_challenge($res, 'ApiKey', realm => 'vip'), 'apikey-only location: ApiKey challenge');
ok(!has_challenge($res, 'Bearer'), 'apikey-only location: no Bearer challenge');

($res, $hits) = with_hits { GET '/auth/apikey/orders', Authorization => "Bearer $jwt" };
is($res->code, 401, 'bearer token where only API keys are enabled: 401');
is($hits, 0, 'bearer on apikey-only location: upstream untouched');

$res = GET '/auth/apikey/orders', 'X-Api-Key' => $K1;
is($res->code, 200, 'API key on apikey-only location: 200');

# ---- VipAuthApiKeyHeader ---------------------------------------------------
$res = GET '/auth/custom-header/x', 'X-Partner-Key' => $K1;
is($res->code, 200, 'VipAuthApiKeyHeader X-Partner-Key: key accepted there');
is_deeply(identity_of($res)->{tenant}, ['acme'], 'custom header: tenant acme');
is_deeply([ echo_values($res, 'X-Partner-Key') ], [], 'custom key header not forwarded');

($res, $hits) = with_hits { GET '/auth/custom-header/x', 'X-Api-Key' => $K1 };
is($res->code, 401, 'custom header location ignores X-Api-Key: 401');
is($hits, 0, 'X-Api-Key on custom header location: upstream untouched');

$res = GET '/auth/custom-header/x', Authorization => "ApiKey $K1";
is($res->code, 200, 'custom header location still takes Authorization: ApiKey');

# ---- AuthName -----------------------------------------------------------
$res = GET '/auth/realm/x';
ok(has_challenge($res, 'ApiKey', realm => 'partners')
   && has_challenge($res, 'Bearer', realm => 'partners'),
   'AuthName "partners" is the realm of both challenges');

# ---- early rejection with a body (S1) ----------------------------------------
($res, $hits) = with_hits {
    POST '/auth/any/orders', 'X-Api-Key' => "nosuch.$K1_SECRET",
         content => '{"order":1}', 'Content-Type' => 'application/json' };
problem_ok($res, 401, 'POST with a bad key: 401');
is($hits, 0, 'POST with a bad key: upstream untouched');

my $smuggled = "GET /public/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n";
my $raw = "POST /auth/any/orders HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: nosuch.x\r\n" .
          "Content-Type: text/plain\r\nContent-Length: " . length($smuggled) . "\r\n\r\n" .
          $smuggled .
          "GET /public/s1-next HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
my $before = echo_hits();
my $out = raw_pipeline($raw);
my @status = $out =~ m{^HTTP/1\.1 (\d{3})}mg;
is($status[0], 401, 'pipelined POST with a bad key: first answer 401');
unlike($out, qr{"path": "/smuggled"}, 'the rejected body is never parsed as a request');
ok(@status == 1 || ($status[1] == 200 && $out =~ m{"path": "/s1-next"}),
   'the next pipelined request is answered as itself (or the connection closed)')
    or diag "statuses: @status";
cmp_ok(echo_hits() - $before, '<=', 1, 'at most the legitimate GET reached the upstream');

# ---- nothing leaked -----------------------------------------------------------
my $log = error_log_since($log_start, 0.3);
my @secrets = map { (split /\./, $_, 2)[1] } ($K1, $RO, $GX, $HO, $IN);
ok(!(grep { index($log, $_) >= 0 } @secrets, substr($K1_SECRET, 0, 20)),
   'no API key secret appears in the error log');
unlike($log, qr/\Q$jwt\E/, 'no bearer token appears in the error log');

sub raw_pipeline {
    my $bytes = shift;
    my $s = IO::Socket::INET->new(PeerAddr => Apache::Test::vars('servername'),
                                  PeerPort => Apache::Test::vars('port'),
                                  Proto => 'tcp', Timeout => 10) or die $!;
    print $s $bytes;
    local $/;
    my $r = <$s> // '';
    close $s;
    return $r;
}
