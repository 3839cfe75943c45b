# ESI fragments and identity (THREATS E9, E7): a fragment is fetched with
# the page's identity and cached under a key scoped to that tenant; a
# fragment cached for acme is never part of hooli's page, also when the
# page itself is shared across tenants (VipCacheShared On); without
# credentials the page is refused before anything is assembled.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes ();
use Vip::Test;

plan tests => 12, need_vip_cache(), need_vip_auth();

Apache::TestRequest::module('vip_cache_esi');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "u$$" . time;
my $ACME  = apikey('acme-k1');
my $HOOLI = apikey('hooli-k1');
sub flush_all { mc_flush(); local $Vip::Test::MC = 2; mc_flush() }
sub tenants { my $b = shift; [ $b =~ /"X-Vip-Tenant", "([^"]*)"/gi ] }

flush_all();
Time::HiRes::sleep(0.5);
my ($a1, $ah1) = with_hits { auth_get("/te/twho.html?u=$U", key => $ACME) };
is($a1->code, 200, 'acme page: 200');
is_deeply(tenants($a1->content), ['acme'], "acme page: the fragment carries acme's identity");
# the page cache stores after the response went out
Time::HiRes::sleep(0.3);
my ($a2, $ah2) = with_hits { auth_get("/te/twho.html?u=$U", key => $ACME) };
is($ah2, 0, 'acme again: page and fragment from the cache');
is($a2->content, $a1->content, 'acme again: the same page');
my ($h1, $hh1) = with_hits { auth_get("/te/twho.html?u=$U", key => $HOOLI) };
is_deeply(tenants($h1->content), ['hooli'], "hooli page: hooli's fragment, not acme's");
is($hh1, 2, "hooli: its own page and fragment entries (upstream asked twice)");

# the page shared, the fragment per tenant
my ($s1) = auth_get("/ts/twho.html?u=$U", key => $ACME);
Time::HiRes::sleep(0.3);
is_deeply(tenants($s1->content), ['acme'], 'shared page for acme: acme fragment');
my ($s2, $sh2) = with_hits { auth_get("/ts/twho.html?u=$U", key => $HOOLI) };
Time::HiRes::sleep(0.3);
is_deeply(tenants($s2->content), ['hooli'], "shared page for hooli: hooli's fragment (E9)");
like($s2->header('Cache-Status') // '', qr/^vip; hit/, 'shared page for hooli: the page was a hit');
my ($s3, $sh3) = with_hits { auth_get("/ts/twho.html?u=$U", key => $HOOLI) };
is($sh3, 0, 'hooli again: everything from the cache');
is_deeply(tenants($s3->content), ['hooli'], 'hooli again: still only hooli');

my $anon = GET("/te/twho.html?u=$U");
is($anon->code, 401, 'no credentials: 401 before any assembly');
