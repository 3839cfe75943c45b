# What is stored and what is not (THREATS C5, C6, C8, C11-C14): only the
# statuses 200 203 204 300 301 404 410 (404 for at most 60 s); never a
# response with Set-Cookie unless VipCacheStoreCookies, nor one marked
# private / no-store / no-cache or Surrogate-Control: no-store, nor
# Vary: *; Vary keys the entry by the named request headers; partial
# content, bodies over VipCacheMaxSize and upstreams that break mid-body
# are never stored (and the client still gets what the upstream sent).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

my @NO = (
    # [name, query, detail]
    ['Set-Cookie',                 '_hdr=Set-Cookie:sid%3Dsecret',          'set-cookie'],
    ['Cache-Control: private',     '_hdr=Cache-Control:private',            'private'],
    ['Cache-Control: no-store',    '_hdr=Cache-Control:no-store',           'no-store'],
    ['Cache-Control: no-cache',    '_hdr=Cache-Control:no-cache',           'no-cache'],
    ['qualified private',          '_hdr=Cache-Control:private%3D%22X-A%22', 'private'],
    ['Surrogate-Control: no-store', '_hdr=Surrogate-Control:no-store',      'surrogate-no-store'],
    ['Vary: *',                    '_hdr=Vary:*',                            'vary-star'],
    ['max-age=0',                  '_hdr=Cache-Control:max-age%3D0',         'ttl-zero'],
    ['Expires in the past',        '_hdr=Expires:Thu,%2001%20Jan%201970%2000:00:00%20GMT', 'ttl-zero'],
    ['malformed Cache-Control',    '_hdr=Cache-Control:max-age%3Dsoon',      'bad-cache-control'],
    ['status 500',                 '_status=500',                            'status'],
    ['status 502',                 '_status=502',                            'status'],
    ['status 302',                 '_status=302&_hdr=Location:/x',           'status'],
    ['status 400',                 '_status=400',                            'status'],
    ['status 403',                 '_status=403',                            'status'],
    ['status 206',                 '_status=206&_hdr=Content-Range:bytes%200-1/400', 'status'],
);
my @YES = (200, 203, 204, 300, 301, 404, 410);

plan tests => 3 * @NO + 2 * @YES + 2 + 8 + 4 + 5 + 3, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1, max_redirect => 0);

my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }
sub cs { $_[0]->header('Cache-Status') // '' }

my $n = 0;
for my $c (@NO) {
    my ($name, $q, $detail) = @$c;
    $n++;
    my $path = "/c/$U/no$n?$q";
    my ($r1) = with_hits { GET($path) };
    is(cs($r1), "vip; fwd=uri-miss; detail=$detail", "$name: Cache-Status says why");
    my ($r2, $h2) = with_hits { GET($path) };
    is($h2, 1, "$name: not stored (the next request goes upstream)");
    is($r2->code, $r1->code, "$name: the client gets the upstream's status");
}

for my $s (@YES) {
    my $id = req_id();
    my $path = "/c/$U/yes$s?_status=$s";
    GET($path, 'X-Req-Id' => $id);
    my ($r, $h) = with_hits { GET($path) };
    ok($h == 0 && $r->code == $s, "status $s: stored and answered from the cache");
    is(notes($id)->{ttl}, $s == 404 ? 60 : 300, "status $s: TTL " . ($s == 404 ? '60 (404)' : '300'));
}

# Set-Cookie stored where the admin allows it, cookie included
my ($k1) = with_hits { GET("/c/cookies/$U?_hdr=Set-Cookie:a%3D1") };
my ($k2, $kh) = with_hits { GET("/c/cookies/$U?_hdr=Set-Cookie:a%3D1") };
ok($kh == 0 && ($k2->header('Set-Cookie') // '') eq 'a=1',
   'VipCacheStoreCookies On: stored with its cookie');
like(cs($k2), qr/^vip; hit/, 'VipCacheStoreCookies On: hit');

# Vary: one entry per value of the named request header
my $v = "/c/$U/vary?_hdr=Vary:Accept-Language";
my ($v1, $vh1) = with_hits { GET($v, 'Accept-Language' => 'fr') };
is($vh1, 1, 'Vary: first fr goes upstream');
my ($v2, $vh2) = with_hits { GET($v, 'Accept-Language' => 'de') };
is($vh2, 1, 'Vary: de is another entry');
like(cs($v2), qr/fwd=vary-miss; stored/, 'Vary: de is a vary-miss');
my ($v3, $vh3) = with_hits { GET($v, 'Accept-Language' => 'fr') };
is($vh3, 0, 'Vary: fr again is a hit');
is_deeply([echo_values($v3, 'Accept-Language')], ['fr'], "Vary: fr gets fr's page");
my ($v4, $vh4) = with_hits { GET($v, 'Accept-Language' => 'de') };
is_deeply([$vh4, echo_values($v4, 'Accept-Language')], [0, 'de'], "Vary: de gets de's page");
my ($v5, $vh5) = with_hits { GET($v) };
is($vh5, 1, 'Vary: no Accept-Language at all is a third entry');
my ($v6, $vh6) = with_hits { GET($v, 'Accept-Language' => '') };
is($vh6, 1, 'Vary: an empty Accept-Language differs from none');

# Range: on a miss echo ignores Range and answers 200 with the whole
# body; httpd's byterange filter cuts it to 206 when the body arrived in
# one piece, else the client gets the 200.  Either way the stored page is
# the full one, and a range of it comes from the cache.
my $rp = "/c/$U/range?_bytes=100";
my ($g1, $gh1) = with_hits { GET($rp, Range => 'bytes=0-9') };
ok($g1->code == 206 || $g1->code == 200, 'Range on a miss: 206 or the whole 200');
is(length($g1->content), $g1->code == 206 ? 10 : 100, 'Range on a miss: a body that matches the status');
my ($g2, $gh2) = with_hits { GET($rp) };
ok($gh2 == 0 && length($g2->content) == 100, 'the full body was stored, not the range');
my ($g3, $gh3) = with_hits { GET($rp, Range => 'bytes=90-99') };
ok($gh3 == 0 && $g3->code == 206 && length($g3->content) == 10, 'Range on a hit: 206 from the cache');

# bodies over VipCacheMaxSize (10K here): streamed whole, not stored
my ($b1) = with_hits { GET("/c/small/$U?_bytes=20000") };
is(length($b1->content), 20000, 'big body: the client gets it whole');
like(cs($b1), qr/detail=too-big/, 'big body: Cache-Status too-big (Content-Length known)');
my (undef, $bh) = with_hits { GET("/c/small/$U?_bytes=20000") };
is($bh, 1, 'big body: not stored');
my ($b2) = with_hits { GET("/c/small/$U?_bytes=9000") };
my (undef, $bh2) = with_hits { GET("/c/small/$U?_bytes=9000") };
is($bh2, 0, 'a body under the limit is stored');
# the default limit: a 1.5 MB body
my (undef) = with_hits { GET("/c/$U/huge?_bytes=1500000") };
my ($b3, $bh3) = with_hits { GET("/c/$U/huge?_bytes=1500000") };
ok($bh3 == 1 && length($b3->content) == 1500000, 'default VipCacheMaxSize: 1.5 MB not stored, served whole');

# an upstream that breaks mid-body: the client sees the break, nothing stored
my $sid = req_id();
my $s1 = GET("/c/$U/short?_short=1", 'X-Req-Id' => $sid);
ok(length($s1->content) < ($s1->header('Content-Length') // 0),
   'broken upstream: the client gets less than announced (the break shows)');
is(notes($sid)->{cache}, 'uncacheable', 'broken upstream: note uncacheable');
my (undef, $sh) = with_hits { GET("/c/$U/short?_short=1") };
is($sh, 1, 'broken upstream: nothing stored');
expect_log(qr/AH01102|AH01110|error reading response|backend/);
