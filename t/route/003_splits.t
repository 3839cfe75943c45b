# Traffic splits between services, as the upstreams see them: weighted
# canaries within statistical tolerance over 1,000 requests, header splits
# (which beat weights), and tenant pins (which beat both).
#
# Routes (t/conf/route.conf.in): canary = orders (echo 1) with two:20
# (echo 2); canary3 = orders with two:30 and three:10 (echo 3); hsplit =
# orders, X-Api-Version: 2 -> two; hsplit-w = orders with three:50 and
# X-Api-Version: 2 -> two; in vhost vip_route_auth t-pin = orders with
# acme -> two, hooli -> three, and t-pin-split = orders with three:50 and
# acme -> two.
#
# Tolerances: for n requests and share p the standard deviation of the
# count is sqrt(n p (1-p)); each band below is at least 3.5 of them wide
# on each side, so a correct split fails it less than once in 2,000 runs.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 28, need_vip_route(), need_vip_auth();

my %SERVICE_OF = (1 => 'orders', 2 => 'two', 3 => 'three');

# n GETs; returns ({instance => count}, non-200 count, service/instance
# mismatches)
sub spread {
    my ($n, $path, @h) = @_;
    my (%count, $errors, $mismatch);
    $errors = $mismatch = 0;
    for my $i (1 .. $n) {
        my $res = GET "$path/$i", @h;
        if ($res->code != 200) { $errors++; next }
        my $inst = echo_which($res) // 0;
        $count{$inst}++;
        $mismatch++ if ($res->header('X-Test-Service') // '') ne ($SERVICE_OF{$inst} // '?');
    }
    return (\%count, $errors, $mismatch);
}

sub within {
    my ($count, $n, $pct, $tol, $name) = @_;
    my $share = 100 * ($count // 0) / $n;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    ok(abs($share - $pct) <= $tol, sprintf('%s: %.1f%% (want %d%% +- %d%%)', $name, $share, $pct, $tol));
}

Apache::TestRequest::module('vip_route');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

# ---- weighted: one canary ------------------------------------------------------
my ($c, $err, $mis) = spread(1000, '/api/canary');
is($err, 0, 'canary 20%: 1,000 requests, all 200');
within($c->{2}, 1000, 20, 5, 'canary 20%: share of echo 2 (service two)');
within($c->{1}, 1000, 80, 5, 'canary 20%: share of echo 1 (service orders)');
is(($c->{3} // 0) + ($c->{0} // 0), 0, 'canary 20%: no other upstream');
is($mis, 0, 'canary 20%: vip.service names the service that answered, every time');

# ---- weighted: two canaries --------------------------------------------------------
($c, $err, $mis) = spread(1000, '/api/canary3');
is($err, 0, 'canaries 30% + 10%: 1,000 requests, all 200');
within($c->{2}, 1000, 30, 5, 'canaries: share of echo 2 (two:30)');
within($c->{3}, 1000, 10, 4, 'canaries: share of echo 3 (three:10)');
within($c->{1}, 1000, 60, 5, 'canaries: share of echo 1 (the rest, orders)');
is($mis, 0, 'canaries: vip.service names the service that answered, every time');

# ---- by header --------------------------------------------------------------------
($c) = spread(50, '/api/hsplit', 'X-Api-Version' => '2');
is_deeply($c, { 2 => 50 }, 'header split: X-Api-Version: 2 -> all 50 to echo 2');
($c) = spread(50, '/api/hsplit');
is_deeply($c, { 1 => 50 }, 'header split: without the header -> all 50 to echo 1');
($c) = spread(50, '/api/hsplit', 'X-Api-Version' => '3');
is_deeply($c, { 1 => 50 }, 'header split: X-Api-Version: 3 -> all 50 to echo 1');
($c) = spread(50, '/api/hsplit-w', 'X-Api-Version' => '2');
is_deeply($c, { 2 => 50 }, 'header split beats the weighted split: all 50 to echo 2');
($c, $err) = spread(400, '/api/hsplit-w');
is($err, 0, 'weighted 50% without the header: 400 requests, all 200');
within($c->{3}, 400, 50, 9, 'weighted 50% without the header: share of echo 3');
is(($c->{2} // 0), 0, 'weighted 50% without the header: never the header split service');

# ---- tenant pins (authenticated, vhost vip_route_auth) ------------------------------
Apache::TestRequest::module('vip_route_auth');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my %KEY = map { $_ => apikey("$_-k1") } qw(acme hooli globex);

($c) = spread(30, '/t/pinned', 'X-Api-Key' => $KEY{acme});
is_deeply($c, { 2 => 30 }, 'pin acme:two: all 30 requests of acme to echo 2');
($c) = spread(30, '/t/pinned', 'X-Api-Key' => $KEY{hooli});
is_deeply($c, { 3 => 30 }, 'pin hooli:three: all 30 requests of hooli to echo 3');
($c) = spread(30, '/t/pinned', 'X-Api-Key' => $KEY{globex});
is_deeply($c, { 1 => 30 }, 'globex, not pinned: all 30 to the route\'s service (echo 1)');
my $tok = jwt({ alg => 'ES256' }, claims(sub => 'pin-user'), 'ec256');
($c) = spread(10, '/t/pinned', Authorization => "Bearer $tok");
is_deeply($c, { 2 => 10 }, 'pin by tenant, whatever the credential: acme\'s JWT -> echo 2');

($c) = spread(100, '/t/pinsplit', 'X-Api-Key' => $KEY{acme});
is_deeply($c, { 2 => 100 }, 'a pin beats the weighted split: all 100 of acme to echo 2');
($c, $err) = spread(400, '/t/pinsplit', 'X-Api-Key' => $KEY{globex});
is($err, 0, 'globex over the 50% split: 400 requests, all 200');
within($c->{3}, 400, 50, 9, 'globex over the 50% split: share of echo 3');
is(($c->{2} // 0), 0, 'globex never reaches acme\'s pinned service');

# the pin follows the verified tenant only
($c) = spread(10, '/t/pinned', 'X-Api-Key' => $KEY{globex}, 'X-Vip-Tenant' => 'acme',
              'X-Tenant-Id' => 'acme');
is_deeply($c, { 1 => 10 }, 'globex claiming to be acme in headers: not pinned (echo 1)');
my $res = GET '/t/pinned/x';
problem_ok($res, 401, 'no credentials on a pinned route: 401 problem');
is(route_of($res), '', 'no credentials: no route chosen');
