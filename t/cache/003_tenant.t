# Tenants and authentication (issue 5, THREATS C7, C9): the lookup runs
# after authentication and authorization, so a client without valid
# credentials gets 401 even when the page is cached; on authenticated
# locations each tenant has its own entries (echo reflects X-Vip-Tenant
# into the body: a tenant's body never reaches another); sharing across
# tenants happens only where the admin wrote VipCacheShared On.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use LWP::UserAgent ();
use Vip::Test;

plan tests => 22, need_vip_cache(), need_vip_route(), need_vip_auth();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }
sub tenant_in { [ echo_values($_[0], 'X-Vip-Tenant') ] }
my $ACME  = apikey('acme-k1');
my $HOOLI = apikey('hooli-k1');

# acme stores, acme hits
my ($a1, $ah1) = with_hits { auth_get("/tc/$U/page", key => $ACME) };
is($a1->code, 200, 'acme: 200');
is_deeply(tenant_in($a1), ['acme'], "acme: the upstream saw acme");
my ($a2, $ah2) = with_hits { auth_get("/tc/$U/page", key => $ACME) };
is($ah2, 0, 'acme again: hit');
is_deeply(tenant_in($a2), ['acme'], "acme's hit carries acme's body");

# hooli: same URL, its own entry
my $hid = req_id();
my ($h1, $hh1) = with_hits { auth_get("/tc/$U/page", key => $HOOLI, 'X-Req-Id' => $hid) };
is($hh1, 1, "hooli: acme's entry is not hooli's (upstream asked)");
is_deeply(tenant_in($h1), ['hooli'], 'hooli: its own body');
my $n = notes($hid);
is($n->{tenant}, 'hooli', 'hooli: note vip.tenant');
my ($h2, $hh2) = with_hits { auth_get("/tc/$U/page", key => $HOOLI) };
ok($hh2 == 0 && tenant_in($h2)->[0] eq 'hooli', 'hooli again: hit with hooli\'s body');
my ($a3) = auth_get("/tc/$U/page", key => $ACME);
is_deeply(tenant_in($a3), ['acme'], 'acme after hooli: still acme\'s body');

# interleaved, many times: never a mismatch (C9)
my $bad = 0;
for my $i (1 .. 20) {
    my ($k, $t) = $i % 2 ? ($ACME, 'acme') : ($HOOLI, 'hooli');
    my $r = auth_get("/tc/$U/mix" . ($i % 3), key => $k);
    $bad++ unless $r->code == 200 && (tenant_in($r)->[0] // '') eq $t;
}
is($bad, 0, '20 interleaved requests of two tenants: no body of the other tenant');

# concurrently: 4 clients (2 per tenant) x 100 requests over 5 URLs, on
# keep-alive connections, all at once: never the other tenant's body (C9)
{
    my @kids;
    for my $w (0 .. 3) {
        my ($k, $t) = $w % 2 ? ($HOOLI, 'hooli') : ($ACME, 'acme');
        pipe(my $rd, my $wr) or die $!;
        my $pid = fork // die $!;
        if (!$pid) {
            close $rd;
            my $ua = LWP::UserAgent->new(keep_alive => 1, timeout => 10);
            my ($n, $wrong) = (0, 0);
            for my $i (1 .. 100) {
                my $url = Apache::TestRequest::module2url('vip_cache',
                              { path => "/tc/$U/conc" . ($i % 5) });
                my $r = $ua->get($url, 'X-Api-Key' => $k);
                $n++;
                $wrong++ unless $r->code == 200 && (tenant_in($r)->[0] // '') eq $t;
            }
            print $wr "$n $wrong\n";
            close $wr;
            exit 0;
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    my ($n, $wrong) = (0, 0);
    for my $kid (@kids) {
        my $fh = $kid->[1];
        my ($a, $b) = split ' ', (<$fh> // '0 1');
        $n += $a; $wrong += $b;
        waitpid($kid->[0], 0);
    }
    ok($n == 400 && $wrong == 0, "400 concurrent requests of two tenants: $wrong answers with the wrong or no tenant body");
}

# no hit before authentication
my ($u1, $uh1) = with_hits { GET("/tc/$U/page") };
is($u1->code, 401, 'no credentials: 401 although the page is cached');
is($uh1, 0, 'no credentials: upstream untouched');
unlike($u1->content, qr/acme|hooli/, 'no credentials: no cached body');
is($u1->header('Cache-Status'), undef, 'no credentials: no Cache-Status (the cache was never asked)');
my ($w1) = with_hits { auth_get("/tc/$U/page", key => 'vip_k_' . ('x' x 40)) };
is($w1->code, 401, 'a wrong key: 401');
unlike($w1->content, qr/acme/, 'a wrong key: no cached body');
my ($s1) = auth_get("/tc/$U/page", key => apikey('initech-k1'));
ok($s1->code == 401 || $s1->code == 403, 'a suspended tenant: refused although the page is cached');

# VipCacheShared On: one entry for every tenant
my ($x1, $xh1) = with_hits { auth_get("/tcs/$U/page", key => $ACME) };
is($xh1, 1, 'shared: acme stores');
my ($x2, $xh2) = with_hits { auth_get("/tcs/$U/page", key => $HOOLI) };
is($xh2, 0, "shared: hooli gets acme's stored page (admin opted in)");
is($x2->content, $x1->content, 'shared: the same body');
my ($x3) = GET("/tcs/$U/page");
is($x3->code, 401, 'shared: still 401 without credentials');
