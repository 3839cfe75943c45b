# Stale serving and request collapsing (issue 5, THREATS section 3
# "memcached restarted empty"):
#  - N concurrent misses of one page: one request (the one holding the
#    memcached `add` lock) goes to the upstream, the others wait for its
#    entry: the upstream sees the page once;
#  - stale-while-revalidate: while another request holds the lock, an
#    expired entry is served stale (upstream untouched);
#  - stale-if-error: the upstream down -> the expired page is served
#    (Cache-Status fwd=stale), not the 503; without stale-if-error the
#    error goes through;
#  - VipCacheCollapse Off: every miss goes upstream.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use LWP::UserAgent ();
use Time::HiRes ();
use Vip::Test;

plan tests => 19, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }
sub cs { $_[0]->header('Cache-Status') // '' }
sub seen_of { my $t = shift; scalar grep { $_->[1] eq $t } echo_seen() }
sub both { my ($cmd, @a) = @_; $cmd->(@a); local $Vip::Test::MC = 2; $cmd->(@a) }

# ---- collapsing -------------------------------------------------------------
echo_reset();
# under /c/wait5/: a waiter gives up after VipCacheCollapseWait and
# fetches itself, and on a loaded machine the default 1 s can pass before
# the 400 ms fetch is stored (CI saw the page fetched twice once)
my $cp = "/c/wait5/$U/hot?_sleep=400";
my @res = concurrent_gets('vip_cache', $cp, 8);
is(scalar(grep { /^200 / } @res), 8, '8 concurrent misses: all 200') or diag join "\n", @res;
is(seen_of($cp), 1, '8 concurrent misses: the upstream saw the page once');
ok((grep { /detail=collapsed/ } @res) >= 6, 'the others were answered from the collapsed fetch')
    or diag join "\n", @res;
my @off = concurrent_gets('vip_cache', "/c/nocollapse/$U?_sleep=1500", 4);
is(seen_of("/c/nocollapse/$U?_sleep=1500"), 4, 'VipCacheCollapse Off: 4 concurrent misses, 4 upstream requests');
# a response that cannot be stored: the fetcher lets go of the lock as
# soon as its headers say so, and the others stop waiting
my $ncp = "/c/wait5/$U?_sleep=400&_hdr=Cache-Control:no-store";
my $t0 = Time::HiRes::time();
my @nc = concurrent_gets('vip_cache', $ncp, 4);
my $dt = Time::HiRes::time() - $t0;
is(scalar(grep { /^200 / } @nc), 4, 'uncacheable page, 4 concurrent: all 200');
cmp_ok($dt, '<', 3, sprintf('uncacheable page: nobody waits the 5 s collapse wait (%.2f s)', $dt));

# ---- stale-while-revalidate ----------------------------------------------------
# max-age=2: freshness counts whole seconds from the request's second, so
# the refreshed page below stays fresh at least 1 s for the next request
# (with max-age=1 that could be a few ms, and a loaded CI missed it once)
my $swr = "/c/$U/swr?_hdr=Cache-Control:max-age%3D2,%20stale-while-revalidate%3D30";
my $id = req_id();
GET($swr, 'X-Req-Id' => $id);
my $key = notes($id)->{key};
my $lock = 'vip:1:lock:' . substr($key, 6);
sleep 3;
both(\&mc_set, $lock, '1', 10);     # another node is fetching
my $sid = req_id();
my ($s1, $sh1) = with_hits { GET($swr, 'X-Req-Id' => $sid) };
is($sh1, 0, 'expired, lock held elsewhere: upstream untouched');
like(cs($s1), qr/^vip; hit; ttl=-\d+; detail=stale-while-revalidate$/, 'Cache-Status: stale-while-revalidate');
is(notes($sid)->{cache}, 'stale', 'note vip.cache=stale');
both(\&mc_delete, $lock);
my ($s2, $sh2) = with_hits { GET($swr) };
ok($sh2 == 1 && cs($s2) =~ /fwd=stale; stored/, 'lock free: this request refreshes the page');
my (undef, $sh3) = with_hits { GET($swr) };
is($sh3, 0, 'then fresh hits again');
ok(!defined mc_get($lock) && !do { local $Vip::Test::MC = 2; defined mc_get($lock) },
   'the lock is gone after the refreshing request');

# ---- stale-if-error -----------------------------------------------------------------
my $sie = "/c/$U/sie?_hdr=Cache-Control:max-age%3D1,%20stale-if-error%3D60";
my $plain = "/c/$U/plain?_hdr=Cache-Control:max-age%3D1";
my ($good) = GET($sie);
GET($plain);
sleep 2;
echo_stop(1);
my $eid = req_id();
my $e1 = GET($sie, 'X-Req-Id' => $eid);
echo_start(1);
is($e1->code, 200, 'upstream down, within stale-if-error: 200');
is($e1->content, $good->content, 'the stale page');
like(cs($e1), qr/^vip; fwd=stale; fwd-status=50\d; detail=stale-if-error$/, 'Cache-Status: fwd=stale, the failed status');
is($e1->header('Content-Type'), 'application/json', "the page's Content-Type");
is(notes($eid)->{cache}, 'stale', 'note vip.cache=stale');
echo_stop(1);
my $e2 = GET($plain);
echo_start(1);
ok($e2->code >= 500, 'without stale-if-error the upstream failure goes through (' . $e2->code . ')');
like(GET('/cache-status')->content, qr/"stale":[1-9]/, 'stale serves are counted');
# The member rests its cool-down after the failures: wait until it takes
# requests again, so the files after this one find the upstream up.
for (1 .. 80) {
    last if GET("/c/$U/up-again-$_")->code == 200;
    select undef, undef, undef, 0.1;
}
expect_log(qr/VIP03011/);
