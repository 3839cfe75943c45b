# Per-directory settings merge: nested <Location>s under /auth/merged
# (t/conf/auth.conf.in) inherit what they do not set and replace what they
# set.  The parent sets: AuthName merged, VipAuthMethods apikey,
# VipAuthApiKeyHeader X-Merged-Key, VipAuthLeeway 300,
# VipAuthTokenMaxSize 1024, VipAuthHideCredential Off.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 38, need_vip_auth();

my $K1 = apikey('acme-k1');
my $RO = apikey('acme-ro');
my $now = time;
my $tok = jwt({ alg => 'ES256' }, claims(), 'ec256');
my $old = jwt({ alg => 'ES256' }, claims(exp => $now - 200), 'ec256');    # inside 300, outside 30
my $big = jwt({ alg => 'ES256' }, claims(pad => 'p' x 900), 'ec256');   # ~1.5 KB

my ($res, $hits);

# ---- the parent itself -------------------------------------------------------
$res = GET '/auth/merged/x', 'X-Merged-Key' => $K1;
is($res->code, 200, 'parent: key in X-Merged-Key accepted');
is_deeply([ echo_values($res, 'X-Merged-Key') ], [$K1], 'parent: HideCredential Off forwards the key');

# ---- /inherit: an empty child inherits everything ----------------------------
$res = GET '/auth/merged/inherit/x', 'X-Merged-Key' => $K1;
is($res->code, 200, 'inherit: VipAuthApiKeyHeader inherited');
is_deeply(identity_of($res)->{tenant}, ['acme'], 'inherit: identity forwarded');
is_deeply([ echo_values($res, 'X-Merged-Key') ], [$K1], 'inherit: VipAuthHideCredential Off inherited');
($res, $hits) = with_hits { GET '/auth/merged/inherit/x', 'X-Api-Key' => $K1 };
is($res->code, 401, 'inherit: X-Api-Key is not the key header here');
is($hits, 0, 'inherit: X-Api-Key rejected, upstream untouched');
$res = GET '/auth/merged/inherit/x', Authorization => "Bearer $tok";
is($res->code, 401, 'inherit: VipAuthMethods apikey inherited (token refused)');
$res = GET '/auth/merged/inherit/x';
ok(has_challenge($res, 'ApiKey', realm => 'merged'), 'inherit: AuthName merged inherited');
ok(!has_challenge($res, 'Bearer'), 'inherit: no Bearer challenge (apikey only)');

# ---- /jwt: methods replaced, the rest inherited --------------------------------
$res = GET '/auth/merged/jwt/x', Authorization => "Bearer $tok";
is($res->code, 200, 'jwt child: VipAuthMethods jwt replaces apikey');
is_deeply([ echo_values($res, 'Authorization') ], ["Bearer $tok"],
          'jwt child: HideCredential Off inherited (Authorization forwarded)');
$res = GET '/auth/merged/jwt/x', 'X-Merged-Key' => $K1;
is($res->code, 401, 'jwt child: API keys no longer accepted');
$res = GET '/auth/merged/jwt/x', Authorization => "Bearer $old";
is($res->code, 200, 'jwt child: VipAuthLeeway 300 inherited (exp 200 s ago accepted)');
($res, $hits) = with_hits { GET '/auth/merged/jwt/x', Authorization => "Bearer $big" };
is($res->code, 401, 'jwt child: VipAuthTokenMaxSize 1024 inherited (1.5 KB token refused)');
is($hits, 0, 'jwt child: oversized token, upstream untouched');
$res = GET '/auth/merged/jwt/x';
ok(has_challenge($res, 'Bearer', realm => 'merged'), 'jwt child: realm merged inherited');
ok(!has_challenge($res, 'ApiKey'), 'jwt child: no ApiKey challenge');

# a big token is fine where the default 4096 applies
$res = GET '/auth/jwt/x', Authorization => "Bearer $big";
is($res->code, 200, 'the same 1.5 KB token passes under the default VipAuthTokenMaxSize');

# ---- /jwt/strict: grandchild replaces the leeway only --------------------------
$res = GET '/auth/merged/jwt/strict/x', Authorization => "Bearer $tok";
is($res->code, 200, 'strict grandchild: valid token accepted (methods jwt from the child)');
$res = GET '/auth/merged/jwt/strict/x',
    Authorization => 'Bearer ' . jwt({ alg => 'ES256' }, claims(exp => $now - 5), 'ec256');
is($res->code, 401, 'strict grandchild: VipAuthLeeway 0 (exp 5 s ago refused)');
$res = GET '/auth/merged/jwt/strict/x', 'X-Merged-Key' => $K1;
is($res->code, 401, 'strict grandchild: still jwt only');
$res = GET '/auth/merged/jwt/strict/x', Authorization => "Bearer $big";
is($res->code, 401, 'strict grandchild: max size still 1024');

# ---- /both: methods back to both, key header still inherited -------------------
$res = GET '/auth/merged/both/x', 'X-Merged-Key' => $K1;
is($res->code, 200, 'both: API key in the inherited header');
$res = GET '/auth/merged/both/x', Authorization => "Bearer $tok";
is($res->code, 200, 'both: token');
$res = GET '/auth/merged/both/x', 'X-Api-Key' => $K1;
is($res->code, 401, 'both: X-Api-Key still not the key header');
$res = GET '/auth/merged/both/x';
ok(has_challenge($res, 'ApiKey', realm => 'merged') && has_challenge($res, 'Bearer', realm => 'merged'),
   'both: both challenges, realm merged');

# ---- /hide: HideCredential back on -------------------------------------------
$res = GET '/auth/merged/hide/x', 'X-Merged-Key' => $K1;
is($res->code, 200, 'hide: 200');
is_deeply([ echo_values($res, 'X-Merged-Key') ], [], 'hide: VipAuthHideCredential On replaces Off');

# ---- /noident ----------------------------------------------------------------
$res = GET '/auth/merged/noident/x', 'X-Merged-Key' => $K1;
is($res->code, 200, 'noident: 200');
is_deeply([ grep { lc($_->[0]) =~ /^x-vip-/ } @{ echo_headers($res) } ], [],
          'noident: VipAuthForwardIdentity Off, no identity headers');
is_deeply([ echo_values($res, 'X-Merged-Key') ], [$K1], 'noident: HideCredential Off still inherited');

# ---- /scoped: Require replaced, authentication inherited ------------------------
($res, $hits) = with_hits { GET '/auth/merged/scoped/x', 'X-Merged-Key' => $RO };
is($res->code, 403, 'scoped: Require vip-scope orders:write denies acme-ro');
is($hits, 0, 'scoped: denied, upstream untouched');
$res = GET '/auth/merged/scoped/x', 'X-Merged-Key' => $K1;
is($res->code, 200, 'scoped: acme-k1 has orders:write');
$res = GET '/auth/merged/scoped/x';
is($res->code, 401, 'scoped: still 401 without credential (AuthType inherited)');

# ---- /realm --------------------------------------------------------------------
$res = GET '/auth/merged/realm/x';
ok(has_challenge($res, 'ApiKey', realm => 'inner'), 'realm: AuthName inner replaces merged');

# ---- siblings are not affected ---------------------------------------------------
$res = GET '/auth/any/x', 'X-Api-Key' => $K1;
is_deeply([ echo_values($res, 'X-Api-Key') ], [], 'a sibling location keeps the defaults (key hidden)');
