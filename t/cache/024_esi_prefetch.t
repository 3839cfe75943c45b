# The fragment hint (mod_vip_cache/cache_esi_hint.h): a cached ESI page
# fetches the keys its fragments were looked up with last time in its own
# multi-get, so a cached page of 10 cached fragments costs ONE memcached
# round trip.  An early value is used only for a key the fragment's own
# subrequest lookup produced, so the hint never changes what is served:
#   - a purge (a generation increment) between two pages is seen at once;
#   - a shared page whose fragment is per tenant: each tenant its own,
#     whichever tenant's keys the hint holds;
#   - a fragment location that refuses the caller (no credentials) is
#     refused although the hint fetched another caller's entry for it.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use JSON ();
use Time::HiRes ();
use Vip::Test;

plan tests => 16, need_vip_cache(), need_vip_auth();

Apache::TestRequest::module('vip_cache_esi');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "p$$" . time;
sub status_json { my $r = GET('/cache-status'); eval { JSON->new->decode($r->content) } || {} }
sub trips { status_json()->{memcached_round_trips} }
sub flush_all { mc_flush(); local $Vip::Test::MC = 2; mc_flush() }
sub frags { my $b = shift; [ $b =~ /<b>frag (\d+)<\/b>/g ] }
sub tenants { my $b = shift; [ $b =~ /"X-Vip-Tenant", "([^"]*)"/gi ] }

flush_all();
Time::HiRes::sleep(0.5);
my $page = "/e/page10.html?_esi=1&u=$U";
my $first = GET($page);
Time::HiRes::sleep(0.3);            # the page is stored after the response
GET($page);                           # the hint learns the fragment keys

my $t0 = trips();
my ($r, $h) = with_hits { GET($page) };
my $t1 = trips();
is($h, 0, 'cached page of 10 cached fragments: upstream untouched');
is($t1 - $t0, 1, 'one memcached round trip for the page and its 10 fragments');
is_deeply(frags($r->content), [1 .. 10], 'the 10 fragments, in order');
is($r->content, $first->content, 'the same page as assembled on the miss');

# A purge of the scope (one increment of its generation) between two pages:
# the generations fetched early are the current ones.
mc_cmd('incr vip:1:gen:public 1');
{ local $Vip::Test::MC = 2; mc_cmd('incr vip:1:gen:public 1'); }
my ($rp, $hp) = with_hits { GET($page) };
is($hp, 11, 'after the purge: page and 10 fragments from the upstream again');
is_deeply(frags($rp->content), [1 .. 10], 'after the purge: assembled');
Time::HiRes::sleep(0.3);
GET($page);
$t0 = trips();
($r, $h) = with_hits { GET($page) };
is($h, 0, 'after the purge, once stored again: no upstream');
is(trips() - $t0, 1, 'and one round trip again');

# A page shared across tenants, its fragment per tenant (E9): the hint holds
# whichever tenant's fragment key came last; each tenant gets its own.
my $ACME  = apikey('acme-k1');
my $HOOLI = apikey('hooli-k1');
my $shared = "/ts/twho.html?u=$U";
auth_get($shared, key => $ACME);
Time::HiRes::sleep(0.3);
auth_get($shared, key => $ACME);
my $hs = auth_get($shared, key => $HOOLI);
is_deeply(tenants($hs->content), ['hooli'], "shared page, hint from acme: hooli's fragment");
Time::HiRes::sleep(0.3);
my $as = auth_get($shared, key => $ACME);
is_deeply(tenants($as->content), ['acme'], "shared page, hint from hooli: acme's fragment");
my $hs2 = auth_get($shared, key => $HOOLI);
is_deeply(tenants($hs2->content), ['hooli'], 'hooli again: only hooli');

# A public page whose fragment location requires credentials: acme's page
# teaches the hint acme's fragment key; a caller without credentials gets
# the page's lookup with that entry fetched early, and still no fragment.
my $pub = "/ef/twho.html?u=$U";
my $a1 = auth_get($pub, key => $ACME);
is($a1->code, 200, 'public page with an authenticated fragment, for acme: 200');
is_deeply(tenants($a1->content), ['acme'], "for acme: acme's fragment");
Time::HiRes::sleep(0.3);
auth_get($pub, key => $ACME);
my $anon = GET($pub);
is($anon->code, 502, 'the same page without credentials: the fragment is refused (502)');
unlike($anon->content, qr/acme/i, "no trace of acme's fragment");
my $a2 = auth_get($pub, key => $ACME);
is_deeply(tenants($a2->content), ['acme'], 'acme afterwards: its fragment again');
