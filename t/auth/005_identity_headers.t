# What the upstream receives (THREATS 2.2 K2-K5): exactly one verified
# identity header per field on authenticated requests, none on anonymous
# ones, whatever spoofed copies the client sent; credentials hidden unless
# VipAuthHideCredential Off; nothing when VipAuthForwardIdentity Off.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 47, need_vip_auth();

my $RO = apikey('acme-ro');
my $K1 = apikey('acme-k1');

# HTTP::Headers keeps a name spelled exactly when it starts with ':'
my @SPOOF = (
    'X-Vip-Tenant'       => 'evil',
    'X-Vip-Tenant'       => 'evil-dup',
    ':x-vip-tenant'      => 'evil-lower',
    ':X-VIP-TENANT'      => 'evil-upper',
    ':X_Vip_Tenant'      => 'evil-under',
    ':x_vip-subject'     => 'evil-mixed',
    'X-Vip-Subject'      => 'root',
    'X-Vip-Scopes'       => 'admin:all',
    'X-Vip-Plan'         => 'gold',
    'X-Vip-Request-Id'   => 'spoof',
    ':X_VIP_ANYTHING'    => 'x',
    'X-Tenant-Id'        => 'evil',
    ':x-tenant-id'       => 'evil-lower',
    ':X_Tenant_Id'       => 'evil-under',
    'X-Internal-Route'   => 'admin',
    ':x-internal-debug'  => '1',
    'X-Vipper'           => 'keep',
    'X-Tenant'           => 'keep',
);

my $norm = sub { (my $n = lc shift) =~ tr/_/-/; $n };
my $reserved = sub { $norm->($_[0]) =~ /^x-vip-/ };
my $stripped = sub { my $n = $norm->($_[0]); $n eq 'x-tenant-id' || $n =~ /^x-internal-/ };

# ---- authenticated -----------------------------------------------------------
my $res = GET '/auth/any/me', 'X-Api-Key' => $RO, @SPOOF;
is($res->code, 200, 'spoofed headers + valid key: 200');
my @h = @{ echo_headers($res) };
my @vip = grep { $reserved->($_->[0]) } @h;
is_deeply([ sort map { $norm->($_->[0]) } @vip ],
          [qw(x-vip-plan x-vip-scopes x-vip-subject x-vip-tenant)],
          'upstream sees exactly one header per identity field and no other X-Vip-*')
    or diag explain \@vip;
is_deeply([ echo_values($res, 'X-Vip-Tenant') ],  ['acme'],        'X-Vip-Tenant is the verified tenant');
is_deeply([ echo_values($res, 'X-Vip-Subject') ], ['acme-ro'],     'X-Vip-Subject is the verified subject');
is_deeply([ echo_values($res, 'X-Vip-Scopes') ],  ['orders:read'], 'X-Vip-Scopes are the granted scopes');
is_deeply([ echo_values($res, 'X-Vip-Plan') ],    ['gold'],        'X-Vip-Plan is the tenant plan');
ok(!(grep { $_->[0] =~ /_/ && $reserved->($_->[0]) } @h), 'no X_Vip_* underscore form arrives');
ok(!(grep { $norm->($_->[0]) eq 'x-tenant-id' } @h), 'VipAuthStripHeader X-Tenant-Id: stripped in every spelling');
ok(!(grep { $norm->($_->[0]) =~ /^x-internal-/ } @h), 'VipAuthStripHeader X-Internal-*: prefix stripped');
is_deeply([ echo_values($res, 'X-Vipper') ], ['keep'], 'X-Vipper (not reserved) arrives');
is_deeply([ echo_values($res, 'X-Tenant') ], ['keep'], 'X-Tenant (not listed) arrives');
ok(!(grep { $_->[1] =~ /^evil|^root$|^admin:all$/ } @vip), 'no spoofed value survives');

my $tok = jwt({ alg => 'ES256' }, claims(sub => 'svc.orders-1', scope => 'orders:read orders:write'), 'ec256');
$res = GET '/auth/any/me', Authorization => "Bearer $tok", @SPOOF;
is($res->code, 200, 'spoofed headers + valid token: 200');
is_deeply([ echo_values($res, 'X-Vip-Subject') ], ['svc.orders-1'], 'token: X-Vip-Subject is sub');
is_deeply([ echo_values($res, 'X-Vip-Tenant') ], ['acme'], 'token: one X-Vip-Tenant, the verified one');
is(scalar(grep { $reserved->($_->[0]) } @{ echo_headers($res) }), 4, 'token: four identity headers in all');

# ---- anonymous ---------------------------------------------------------------
$res = GET '/public/anon', @SPOOF;
is($res->code, 200, 'anonymous location with spoofed headers: 200');
@h = @{ echo_headers($res) };
is_deeply([ grep { $reserved->($_->[0]) } @h ], [], 'anonymous: no X-Vip-* header in any spelling arrives');
ok(!(grep { $stripped->($_->[0]) } @h), 'anonymous: VipAuthStripHeader names stripped');
is_deeply([ echo_values($res, 'X-Vipper') ], ['keep'], 'anonymous: unrelated headers arrive');

# ---- obs-fold and odd syntax (raw requests) --------------------------------------
for my $case (
    ['obs-folded X-Vip-Tenant', "X-Vip-Tenant: evil\r\n continued\r\n"],
    ['obs-folded x_vip_tenant', "x_vip_tenant: evil\r\n\tcontinued\r\n"],
    ['space before the colon',  "X-Vip-Tenant : evil\r\n"],
) {
    my ($name, $line) = @$case;
    for my $where (['/auth/any/fold', "X-Api-Key: $RO\r\n", ['acme']], ['/public/fold', '', []]) {
        my ($path, $cred, $want) = @$where;
        my $r = raw_http("GET $path HTTP/1.1\r\nHost: localhost\r\n$cred$line" .
                         "Connection: close\r\n\r\n");
        my $ok = $r && ($r->code == 400
                 || ($r->code == 200
                     && join(',', echo_values($r, qr/^x[-_]vip[-_]tenant$/i)) eq join(',', @$want)));
        ok($ok, "$name on $path: 400, or upstream sees only the verified tenant")
            or diag($r ? $r->as_string : 'no response');
    }
}

# ---- hop-by-hop abuse (K4) ---------------------------------------------------
for my $conn ('X-Vip-Tenant, X-Forwarded-For', 'x-vip-tenant', 'X-Vip-Subject, X-Vip-Scopes, X-Vip-Plan') {
    $res = GET '/auth/any/hop', 'X-Api-Key' => $RO, Connection => $conn;
    my $ok = $res->code == 400
          || ($res->code == 200
              && join(',', echo_values($res, 'X-Vip-Tenant')) eq 'acme'
              && join(',', echo_values($res, 'X-Vip-Subject')) eq 'acme-ro'
              && join(',', echo_values($res, 'X-Vip-Scopes')) eq 'orders:read'
              && join(',', echo_values($res, 'X-Vip-Plan')) eq 'gold');
    ok($ok, "Connection: $conn: identity headers still arrive (or 400)")
        or diag $res->as_string;
}

# ---- credentials -----------------------------------------------------------
$res = GET '/auth/any/cred', 'X-Api-Key' => $K1;
is_deeply([ echo_values($res, 'X-Api-Key') ], [], 'default: X-Api-Key removed before upstream');
$res = GET '/auth/any/cred', Authorization => "Bearer $tok";
is_deeply([ echo_values($res, 'Authorization') ], [], 'default: Authorization removed before upstream');
$res = GET '/auth/any/cred', Authorization => "ApiKey $K1";
is_deeply([ echo_values($res, 'Authorization') ], [], 'default: Authorization: ApiKey removed');

$res = GET '/auth/showcred/cred', 'X-Api-Key' => $K1;
is($res->code, 200, 'VipAuthHideCredential Off: 200');
is_deeply([ echo_values($res, 'X-Api-Key') ], [$K1], 'VipAuthHideCredential Off: the key reaches the upstream');
$res = GET '/auth/showcred/cred', Authorization => "Bearer $tok";
is_deeply([ echo_values($res, 'Authorization') ], ["Bearer $tok"],
          'VipAuthHideCredential Off: the Authorization header reaches the upstream');
is_deeply([ echo_values($res, 'X-Vip-Tenant') ], ['acme'],
          'VipAuthHideCredential Off: identity still forwarded');

# other headers are left alone
$res = GET '/auth/any/other', 'X-Api-Key' => $K1, 'X-Request-Id' => 'abc-1', Cookie => 'c=1';
is_deeply([ echo_values($res, 'X-Request-Id') ], ['abc-1'], 'unrelated headers pass');
is_deeply([ echo_values($res, 'Cookie') ], ['c=1'], 'Cookie passes');

# ---- VipAuthForwardIdentity Off ------------------------------------------------
$res = GET '/auth/noident/me', 'X-Api-Key' => $K1, @SPOOF;
is($res->code, 200, 'VipAuthForwardIdentity Off: 200');
is_deeply([ grep { $reserved->($_->[0]) } @{ echo_headers($res) } ], [],
          'VipAuthForwardIdentity Off: no identity header, spoofed ones still stripped');
is_deeply([ echo_values($res, 'X-Api-Key') ], [], 'VipAuthForwardIdentity Off: key still hidden');

# ---- failure never forwards --------------------------------------------------
my ($r2, $hits) = with_hits { GET '/auth/any/me', 'X-Api-Key' => 'acme-k1.wrong', @SPOOF };
is($r2->code, 401, 'spoofed headers + bad key: 401');
is($hits, 0, 'spoofed headers + bad key: upstream untouched');

# ---- TRACE (K5) --------------------------------------------------------------
for my $path ('/auth/any/trace', '/public/trace') {
    my $r = raw_http("TRACE $path HTTP/1.1\r\nHost: localhost\r\nX-Api-Key: $K1\r\n" .
                     "X-Vip-Tenant: evil\r\nConnection: close\r\n\r\n");
    is($r && $r->code, 405, "TRACE $path: 405");
    unlike($r ? $r->content : '', qr/\Q$K1\E|X-Vip-Tenant/i, "TRACE $path: nothing reflected");
}
