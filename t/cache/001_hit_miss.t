# The page cache's basic contract (issue 5): a miss goes to the upstream
# and is stored, the next request is a hit answered from memcached
# (upstream untouched, same body, Cache-Status and Age, notes for
# LogFormat); HEAD reads GET's entry but never creates one (THREATS C12);
# the query is canonicalised - split on '&' only, sorted stably, ignored
# parameters removed - and the upstream receives exactly that string
# (THREATS C3); entries expire; VipCache Off and other methods bypass;
# the status handler counts.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET HEAD POST);
use JSON ();
use Vip::Test;

plan tests => 41, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "u$$" . time;    # paths unique to this run
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }
sub status_of { $_[0]->header('Cache-Status') // '' }
sub hits_in { my $d = echo_json($_[0]); $d ? $d->{hits} : -1 }

# -- miss, then hit
my $id1 = req_id();
my ($r1, $h1) = with_hits { GET("/c/$U/page", 'X-Req-Id' => $id1) };
is($r1->code, 200, 'miss: 200');
is($h1, 1, 'miss: the upstream answered');
is(status_of($r1), 'vip; fwd=uri-miss; stored', 'miss: Cache-Status uri-miss, stored');
my $n1 = notes($id1);
is($n1->{cache}, 'stored', 'miss: note vip.cache=stored');
like($n1->{key}, qr/^vip:1:[0-9a-f]{64}$/, 'note vip.cache_key is vip:1:<sha-256>');
is($n1->{ttl}, 300, 'note vip.cache_ttl: the default TTL');

my $id2 = req_id();
my ($r2, $h2) = with_hits { GET("/c/$U/page", 'X-Req-Id' => $id2) };
is($r2->code, 200, 'hit: 200');
is($h2, 0, 'hit: upstream untouched');
is($r2->content, $r1->content, 'hit: the stored body');
like(status_of($r2), qr/^vip; hit; ttl=(29\d|300)$/, 'hit: Cache-Status hit with ttl');
like($r2->header('Age') // '', qr/^\d+$/, 'hit: Age header');
is($r2->header('Content-Type'), 'application/json', 'hit: Content-Type kept');
is($r2->header('Content-Length'), length($r1->content), 'hit: Content-Length');
my $n2 = notes($id2);
is($n2->{cache}, 'hit', 'hit: note vip.cache=hit');
is($n2->{key}, $n1->{key}, 'hit: same key');

# -- HEAD
my ($rh, $hh) = with_hits { HEAD("/c/$U/page") };
is($rh->code, 200, 'HEAD after GET: 200');
is($hh, 0, "HEAD after GET: GET's entry answers");
like(status_of($rh), qr/^vip; hit/, 'HEAD after GET: hit');
is($rh->content, '', 'HEAD: no body');
my ($rh2, $hh2) = with_hits { HEAD("/c/$U/head-first") };
is($hh2, 1, 'HEAD first: upstream asked');
my ($rg, $hg) = with_hits { GET("/c/$U/head-first") };
is($hg, 1, 'HEAD never creates an entry: the GET after it is a miss');
like(status_of($rg), qr/fwd=uri-miss; stored/, 'the GET stores');

# -- query canonicalisation
my ($q1, $qh1) = with_hits { GET("/c/$U/q?b=2&a=1&a=0") };
is(echo_json($q1)->{query}, 'a=1&a=0&b=2', 'upstream gets the sorted query, duplicates in order');
my ($q2, $qh2) = with_hits { GET("/c/$U/q?a=1&b=2&a=0") };
is($qh2, 0, 'another order of distinct names: the same entry');
my ($q3, $qh3) = with_hits { GET("/c/$U/q?a=0&a=1&b=2") };
is($qh3, 1, 'duplicates in another order: another entry');
my ($q4, $qh4) = with_hits { GET("/c/$U/q?a=1;b=2") };
is($qh4, 1, "';' is not a separator: another entry");
is(echo_json($q4)->{query}, 'a=1;b=2', "';' reaches the upstream as it came");
my ($i1, $ih1) = with_hits { GET("/c/ignore/$U?q=1&utm_source=mail&fbclid=x") };
is(echo_json($i1)->{query}, 'q=1', 'ignored parameters never reach the upstream');
my ($i2, $ih2) = with_hits { GET("/c/ignore/$U?utm_medium=x&q=1") };
is($ih2, 0, 'ignored parameters are not in the key');
my ($i3, $ih3) = with_hits { GET("/c/ignore/$U?q=1&fbclidx=1") };
is($ih3, 1, 'an exact ignored name is not a prefix');

# -- expiry (VipCacheDefaultTTL 2) and clamping (VipCacheMaxTTL 3)
my ($e1) = with_hits { GET("/c/short/$U") };
like(status_of($e1), qr/stored/, 'short TTL: stored');
my (undef, $eh) = with_hits { GET("/c/short/$U") };
is($eh, 0, 'short TTL: hit while fresh');
sleep 3;
my ($e3, $eh3) = with_hits { GET("/c/short/$U") };
is($eh3, 1, 'short TTL: expired after 3 s');
my $cid = req_id();
GET("/c/clamp/$U?_hdr=Cache-Control:max-age%3D600", 'X-Req-Id' => $cid);
is(notes($cid)->{ttl}, 3, 'VipCacheMaxTTL caps max-age=600 at 3');

# -- bypass: VipCache Off, other methods, not a cached location
my ($o1) = GET("/c/off/$U");
is($o1->header('Cache-Status'), undef, 'VipCache Off: no Cache-Status');
my (undef, $oh) = with_hits { GET("/c/off/$U") };
is($oh, 1, 'VipCache Off: always the upstream');
my $pid = req_id();
my ($p1, $ph) = with_hits { POST("/c/$U/page", 'X-Req-Id' => $pid, content => 'x') };
is($ph, 1, 'POST: upstream');
is(status_of($p1), 'vip; fwd=bypass; detail=method', 'POST: Cache-Status bypass detail=method');
is(notes($pid)->{cache}, 'bypass', 'POST: note bypass');

# -- counters
my $st = GET('/cache-status');
my $c = eval { JSON->new->decode($st->content) } || {};
ok($c->{hits} >= 4 && $c->{misses} >= 5 && $c->{stores} >= 5, 'status handler counts hits, misses, stores')
    or diag($st->content);
is($st->header('Content-Type'), 'application/json', 'status handler: JSON');
