# The per-process verified-token cache (VipAuthTokenCache): the second use
# of a token on the same connection (same child process) is a cache hit,
# logged as vip.auth_result "cached"; a hit never skips the per-location
# policy (leeway, exp required, max size, methods, Require) nor expiry, and
# only the exact token string hits.  A vhost with VipAuthTokenCache 0 never
# caches.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes ();
use Vip::Test;

plan tests => 33, need_vip_auth();

# keep-alive: every request to one port goes over one connection, so to
# the same child process and its cache
Apache::TestRequest::user_agent(keep_alive => 4, reset => 1);

my $seq = 0;
sub fresh { my %c = @_; claims(sub => "cache-$$-" . ++$seq, %c) }
sub try {
    my ($path, $tok) = @_;
    my $id = req_id();
    my $res = GET $path, Authorization => "Bearer $tok", 'X-Req-Id' => $id;
    my $n = notes_for($id) || {};
    return ($res, $n->{auth_result} // '');
}

my ($res, $r);
my $now = time;

# ---- hit --------------------------------------------------------------------
my $t1 = jwt({ alg => 'ES256' }, fresh(scope => 'orders:read'), 'ec256');
($res, $r) = try('/auth/any/c', $t1);
is($res->code, 200, 'first use: 200');
is($r, 'ok', 'first use: vip.auth_result ok');
($res, $r) = try('/auth/any/c', $t1);
is($res->code, 200, 'second use: 200');
is($r, 'cached', 'second use: vip.auth_result cached');
is_deeply(identity_of($res)->{tenant}, ['acme'], 'cache hit: the identity is forwarded');
is(scalar(echo_values($res, 'X-Vip-Subject')), 1, 'cache hit: one X-Vip-Subject');
is_deeply([ echo_values($res, 'X-Test-Auth-Result') ], ['cached'], 'cache hit: note visible in fixups');

# only the exact token string hits
my ($h, $p, $s) = split /\./, $t1;
my $sig = b64url_decode($s);
substr($sig, -1, 1) = chr(ord(substr($sig, -1, 1)) ^ 0x01);
my ($res2, $hits) = with_hits { GET '/auth/any/c', Authorization => "Bearer $h.$p." . b64url($sig) };
is($res2->code, 401, 'same header and payload, other signature: 401 (no cache hit)');
is($hits, 0, 'tampered signature: upstream untouched');

# a hit still passes the location's Require
($res, $r) = try('/auth/scope/orders-write/c', $t1);
is($res->code, 403, 'cached token without orders:write on orders-write: 403');
($res, $r) = try('/auth/apikey/c', $t1);
is($res->code, 401, 'cached token on an API-key-only location: 401');

# ---- per-location policy on a hit ------------------------------------------------
my $t2 = jwt({ alg => 'ES256' }, fresh(exp => $now - 100), 'ec256');
($res, $r) = try('/auth/leeway300/c', $t2);
is("@{[$res->code]} $r", '200 ok', 'exp 100 s ago under leeway 300: 200 ok');
($res, $r) = try('/auth/leeway300/c', $t2);
is("@{[$res->code]} $r", '200 cached', 'again: 200 cached');
($res, $r) = try('/auth/jwt/c', $t2);
is($res->code, 401, 'the cached token where leeway is 30: 401');
is($r, 'expired', 'leeway 30: vip.auth_result expired');

my $t3 = jwt({ alg => 'ES256' }, fresh(exp => undef), 'ec256');
($res, $r) = try('/auth/noexp/c', $t3);
is("@{[$res->code]} $r", '200 ok', 'no exp under VipAuthRequireExp Off: 200 ok');
($res, $r) = try('/auth/noexp/c', $t3);
is($r, 'cached', 'no exp: cached');
($res, $r) = try('/auth/jwt/c', $t3);
is($res->code, 401, 'the cached token without exp where exp is required: 401');
is($r, 'missing_exp', 'exp required: vip.auth_result missing_exp');

my $t4 = jwt({ alg => 'ES256' }, fresh(pad => 'p' x 300), 'ec256');
cmp_ok(length $t4, '>', 600, 'a token over 600 bytes');
($res, $r) = try('/auth/jwt/c', $t4);
($res, $r) = try('/auth/jwt/c', $t4);
is("@{[$res->code]} $r", '200 cached', 'the big token cached under the default max size');
($res, $r) = try('/auth/small/c', $t4);
is($res->code, 401, 'the cached big token where VipAuthTokenMaxSize is 600: 401');
is($r, 'too_large', 'max size: vip.auth_result too_large');

# ---- expiry of a cached token -------------------------------------------------
# 4 s: the two requests below (each a notes-log scan) must both come
# before exp, also on a loaded machine
my $exp = time + 4;
my $t5 = jwt({ alg => 'ES256' }, fresh(exp => $exp), 'ec256');
($res, $r) = try('/auth/leeway0/c', $t5);
is("@{[$res->code]} $r", '200 ok', 'short-lived token (exp in 4 s), leeway 0: 200 ok');
($res, $r) = try('/auth/leeway0/c', $t5);
is("@{[$res->code]} $r", '200 cached', 'short-lived token: 200 cached');
Time::HiRes::sleep(0.2) while time <= $exp + 1;
my $id = req_id();
($res, $hits) = with_hits { GET '/auth/leeway0/c', Authorization => "Bearer $t5", 'X-Req-Id' => $id };
problem_ok($res, 401, 'after exp: the cached token is rejected (401 problem)');
ok(has_challenge($res, 'Bearer', error => 'invalid_token'), 'after exp: invalid_token challenge');
is($hits, 0, 'after exp: upstream untouched');
is((notes_for($id) || {})->{auth_result}, 'expired', 'after exp: vip.auth_result expired');

# ---- a vhost without cache ------------------------------------------------------
Apache::TestRequest::module('vip_nocache');
my $t6 = jwt({ alg => 'ES256' }, fresh(), 'ec256');
($res, $r) = try('/auth/any/c', $t6);
is("@{[$res->code]} $r", '200 ok', 'VipAuthTokenCache 0 vhost: first use ok');
($res, $r) = try('/auth/any/c', $t6);
is("@{[$res->code]} $r", '200 ok', 'VipAuthTokenCache 0 vhost: second use verified again (ok)');
($res, $r) = try('/auth/any/c', $t1);
is($r, 'ok', 'VipAuthTokenCache 0 vhost: a token cached elsewhere is verified (ok)');
Apache::TestRequest::module('default');

# ---- the cache holds identities, not credentials ---------------------------------
# The keep-alive connection to the main port may have closed while the
# vhost was used; a new one can land on another child, whose cache never
# saw $t1.  The entry is still in the child that verified it: try a few
# fresh connections.
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);
for (1 .. 12) {
    ($res, $r) = try('/auth/any/c', $t1);
    last if $r eq 'cached';
}
is("@{[$res->code]} $r", '200 cached', 'back on the main server: still cached');
