# ESI assembly (issue 5 "Fragments", THREATS E1, E7, E8): a page of 10
# includes is assembled on a miss and on a hit; the page cache holds the
# raw markup and the page is assembled per request; a page of 10 cached
# fragments costs one memcached round trip in all; tags split
# across bucket boundaries; 50 includes, and 70 against the cap of 64;
# ESI off or no Surrogate-Control: the markup is delivered as text; HEAD
# fetches no fragment, POST fetches them with GET and no body; a gzip
# upstream is asked for identity, a forced gzip body is passed unprocessed.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET HEAD POST);
use IO::Uncompress::Gunzip ();
use JSON ();
use Time::HiRes ();
use Vip::Test;

plan tests => 43, need_vip_cache();

Apache::TestRequest::module('vip_cache_esi');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key esi tenant method uri);
sub notes { log_fields_for('vip_esi_notes.log', \@NOTE, $_[0], 5, 1) }
sub status_json { my $r = GET('/cache-status'); eval { JSON->new->decode($r->content) } || {} }
sub flush_all { mc_flush(); local $Vip::Test::MC = 2; mc_flush() }
sub frags { my $b = shift; [ $b =~ /<b>frag (\d+)<\/b>/g ] }
sub get_any { my $k = shift; my $v = mc_get($k); return $v if defined $v; local $Vip::Test::MC = 2; mc_get($k) }

flush_all();

# -- 10 fragments: miss, then hit
my $id1 = req_id();
my ($r1, $h1) = with_hits { GET("/e/page10.html?_esi=1&u=$U", 'X-Req-Id' => $id1) };
is($r1->code, 200, 'miss: 200');
is_deeply(frags($r1->content), [1 .. 10], 'miss: the 10 fragments, in order');
unlike($r1->content, qr/esi:/, 'miss: no ESI markup left');
is($h1, 11, 'miss: the page and 10 fragments from the upstream');
is($r1->header('Surrogate-Control'), undef, 'Surrogate-Control removed before the client (E1)');
is($r1->header('Cache-Status'), 'vip; fwd=uri-miss; stored', "the page's own Cache-Status");
my $n1 = notes($id1);
is($n1->{esi}, 'includes=10 hits=0 misses=10 errors=0', 'note vip.esi on the miss');
# the page cache stores after the response went out
Time::HiRes::sleep(0.3);

my $id2 = req_id();
my ($r2, $h2) = with_hits { GET("/e/page10.html?_esi=1&u=$U", 'X-Req-Id' => $id2) };
is($r2->code, 200, 'hit: 200');
is($h2, 0, 'hit: upstream untouched (page and fragments from memcached)');
is($r2->content, $r1->content, 'hit: the same assembled page');
like($r2->header('Cache-Status') // '', qr/^vip; hit/, "hit: the page's Cache-Status says hit");
is(notes($id2)->{esi}, 'includes=10 hits=10 misses=0 errors=0', 'note vip.esi on the hit');
my $entry = get_any(notes($id2)->{key}) // '';
like($entry, qr{<esi:include src="/e/frag/1\.html"/>}, 'the page entry holds the raw markup');
unlike($entry, qr{<b>frag 1</b>}, 'the page entry holds no assembled fragment');
like($entry, qr/ESI\/1\.0/, 'the page entry keeps the Surrogate-Control opt-in');

# -- round trips: the page lookup fetches the fragments' keys too (the
# hint learnt them on the hit above; t/cache/024 tests its edges)
my $rt0 = status_json()->{memcached_round_trips};
GET("/e/page10.html?_esi=1&u=$U");
my $rt1 = status_json()->{memcached_round_trips};
is($rt1 - $rt0, 1, 'a cached page of 10 cached fragments: 1 round trip (page + fragments)');
my $idp = req_id();
my ($rp, $hp) = with_hits { GET("/ep/page10.html?u=$U", 'X-Req-Id' => $idp) };
my $rt2 = status_json()->{memcached_round_trips};
is($rt2 - $rt1, 1, 'an uncached page of 10 cached fragments: 1 round trip');
is($hp, 1, 'uncached page: only the page from the upstream');
is_deeply(frags($rp->content), [1 .. 10], 'uncached page: assembled');
my $st = status_json();
ok($st->{esi_pages} >= 4 && $st->{esi_hits} >= 20 && $st->{esi_misses} >= 10, 'ESI counters in vip-cache-status')
    or diag(JSON->new->canonical->encode($st));

# -- no opt-in, ESI off: text
my $rr = GET("/e/review.html?u=$U");
like($rr->content, qr{<esi:include src="/e/frag/8\.html"/>}, 'no Surrogate-Control: markup delivered as text (E1)');
my $ro = GET("/eoff/page10.html?_esi=1&u=$U");
like($ro->content, qr{<esi:include src="/e/frag/1\.html"/>}, 'ESI off: markup delivered as text');
is_deeply(frags($ro->content), [], 'ESI off: no fragment');
my $rj = GET("/e/frag/1.html?_esi=1&_hdr=Content-Type:application/json");
is($rj->code, 200, 'opted-in non-HTML response: passed on');

# -- tags split across bucket boundaries (the body dripped 3 bytes a write)
my $whole = GET("/ef/split.html?u=$U");
my ($drip, $dh) = with_hits { GET("/ef/split.html?u=$U&_chunk=3&_pause=1") };
is($drip->code, 200, 'dripped page: 200');
is($drip->content, $whole->content, 'dripped page: the same assembly as in one piece');
is_deeply(frags($whole->content), [4, 1, 2, 5], 'split page: comment-wrapped, plain, multi-line and &amp; includes; remove dropped');
unlike($whole->content, qr/<esi:|<!--esi|esi:remove/, 'split page: no ESI markup left');
like($whole->content, qr/&lt;esi:include src="\/e\/frag\/7\.html"\/&gt; is text/, 'escaped markup stays text');
my ($drip2) = GET("/ef/split.html?u=$U&_chunk=3&_pause=1");
is($drip2->content, $whole->content, 'dripped page again (a page cache hit): the same');

# -- 50 includes, and 70 against the cap of 64
my $r50 = GET("/ef/page50.html?u=$U");
is_deeply(frags($r50->content), [1 .. 50], '50 includes assembled');
my $id70 = req_id();
my $r70 = GET("/ef/page70.html?u=$U", 'X-Req-Id' => $id70);
is($r70->code, 200, '70 includes: 200');
is_deeply(frags($r70->content), [1 .. 64], '70 includes: the first 64, the rest empty (E4)');
like(notes($id70)->{esi} // '', qr/^includes=70 /, '70 includes: counted in the note');

# -- HEAD and POST parents (E7)
echo_reset();
my $rh = HEAD("/ef/page10.html?u=$U-head");
is($rh->code, 200, 'HEAD: 200');
is(echo_hits(), 1, 'HEAD: no fragment fetched');
flush_all();
my $pid = req_id();
my $rpo = POST("/ef/post.html?_post=1&u=$U", 'X-Req-Id' => $pid, content => 'secret=1',
               'Content-Type' => 'application/x-www-form-urlencoded');
is($rpo->code, 200, 'POST parent: 200');
my ($json) = $rpo->content =~ /P\[(\{.*\})\s*\]/s;
my $doc = eval { JSON->new->decode($json // '') } || {};
is($doc->{method}, 'GET', 'POST parent: the fragment is fetched with GET');
is($doc->{body}, '', 'POST parent: without the body');
ok(!grep({ $_->[0] =~ /^(content-length|transfer-encoding|expect|content-type)$/i } @{ $doc->{headers} || [] }),
   'POST parent: no body headers on the fragment request (S3)');

# -- Content-Encoding (E8)
my $rg = GET("/e/page10.html?_esi=1&_gzip=1&u=$U", 'Accept-Encoding' => 'gzip');
is_deeply(frags($rg->content), [1 .. 10], 'gzip upstream: asked for identity, assembled');
my $rf = GET("/e/page10.html?_esi=1&_gzip=force&u=$U", 'Accept-Encoding' => 'gzip');
is($rf->header('Content-Encoding'), 'gzip', 'forced gzip: passed on encoded');
my $raw = $rf->decoded_content(charset => 'none') // '';
like($raw, qr{<esi:include src="/e/frag/1\.html"/>}, 'forced gzip: unprocessed, never a mixed stream');
