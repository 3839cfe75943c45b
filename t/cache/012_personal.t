# Pages that may be personal are never handed to another caller:
#  - VipCacheScope subject keys an authenticated page by tenant AND caller
#    (THREATS C7 "per-user"): two keys of one tenant get their own pages,
#    and a tenant purge still reaches both;
#  - on a public location a request with a Cookie, an API key or
#    Authorization is stored only when the response says public (RFC 9111
#    3.5), and may still be answered from a public entry;
#  - a year of max-age is stored for memcached's longest relative expiry
#    (30 days) instead of expiring at once.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Vip::Test;

plan tests => 14, need_vip_cache(), need_vip_route(), need_vip_auth();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "p$$" . time;
sub cs { $_[0]->header('Cache-Status') // '' }
sub subject_of { (echo_values($_[0], 'X-Vip-Subject'))[0] // '' }
sub soon {         # the entry is written after the response went out
    my ($code) = @_;
    my $res;
    for (1 .. 20) {
        $res = $code->();
        return $res if cs($res) =~ /^vip; hit/;
        select undef, undef, undef, 0.05;
    }
    return $res;
}

# ---- per subject -------------------------------------------------------------------
my ($K1, $RO) = (apikey('acme-k1'), apikey('acme-ro'));
my $sp = "/tsub/$U/me";
my $a = auth_get($sp, key => $K1);
is(subject_of($a), 'acme-k1', 'acme-k1 gets its own page');
my $ah = soon(sub { auth_get($sp, key => $K1) });
like(cs($ah), qr/^vip; hit/, 'acme-k1 again: a hit');
my $b = auth_get($sp, key => $RO);
unlike(cs($b), qr/^vip; hit/, 'acme-ro (same tenant): not a hit on acme-k1\'s page');
is(subject_of($b), 'acme-ro', 'acme-ro gets a page made for acme-ro');
my $bh = soon(sub { auth_get($sp, key => $RO) });
is(subject_of($bh), 'acme-ro', 'acme-ro again: its own cached page');
is(POST('/purge?tenant=acme')->code, 200, 'a tenant purge');
unlike(cs(auth_get($sp, key => $K1)), qr/^vip; hit/, 'after it: acme-k1 misses');
unlike(cs(auth_get($sp, key => $RO)), qr/^vip; hit/, 'after it: acme-ro misses');

# ---- credentials and cookies on a public location ------------------------------------
my $ck = GET("/c/$U/cookie", Cookie => 'session=alice');
like(cs($ck), qr/detail=authorization/, 'a request with a Cookie: its page is not stored for others');
my $ak = GET("/c/$U/apikey", 'X-Api-Key' => 'whatever.key');
like(cs($ak), qr/detail=authorization/, 'a request with an X-Api-Key on a public location: not stored');
my $pub = GET("/c/$U/pub?_hdr=Cache-Control:public,%20max-age%3D60", Cookie => 'session=alice');
like(cs($pub), qr/stored/, 'a Cookie request whose response says public: stored');
my $pub2 = soon(sub { GET("/c/$U/pub?_hdr=Cache-Control:public,%20max-age%3D60") });
like(cs($pub2), qr/^vip; hit/, '... and served to a request without cookies');

# ---- far-future freshness --------------------------------------------------------------
my $yr = "/c/$U/year?_hdr=Cache-Control:max-age%3D31536000";
like(cs(GET($yr)), qr/stored/, 'max-age of a year: stored');
like(cs(soon(sub { GET($yr) })), qr/^vip; hit; ttl=2592000|^vip; hit; ttl=259199\d/, 'then a hit, fresh for 30 days (not expired at once)');
