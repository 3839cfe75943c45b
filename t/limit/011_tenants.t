# Limits after authentication (issue 6): in vip_limit_auth the plans set
# hourly quotas per tenant (gold acme 6, silver hooli 4, free globex 2,
# from the registry's plans via vip.plan); /subject/ adds 2 a minute per
# subject; route lr-acme (a route with a tenant condition, so mod_vip_route
# picks it in fixups) adds 2 an hour per tenant+route - mod_vip_limit's
# fixup runs after mod_vip_route's and sees it.  A counter is charged only
# when every earlier limit of the request admitted it.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes qw(sleep);
use Vip::Test;

plan tests => 13, need_vip_limit(), need_vip_auth(), need_vip_route();

Apache::TestRequest::module('vip_limit_auth');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $left = 3600 - time % 3600;
sleep($left + 1) if $left < 20;

my %K = map { $_ => apikey("$_-k1") } qw(acme hooli globex);
sub codes { my ($path, $t, $n) = @_; join ',', map { GET($path, 'X-Api-Key' => $K{$t})->code } 1 .. $n }

# route limit (acme: 2 of its 6 plan units)
my $res = GET('/lr/a', 'X-Api-Key' => $K{acme});
is($res->header('X-Test-Limit-Key') // '', 'acme/lr-acme', 'route lr-acme: keyed by tenant+route');
is(codes('/lr/b', 'acme', 2), '200,429', 'route lr-acme: quota 2 an hour');
is(GET('/lr/c', 'X-Api-Key' => $K{acme})->header('X-Test-Limit-Name') // '', 'lr-acme.troute.quota',
   'refused by lr-acme.troute.quota');
is(codes('/lr/d', 'hooli', 3), '200,200,200', 'hooli takes route lr-any: no route limit');

# subject limit (acme: 2 more plan units)
is(codes('/subject/x', 'acme', 3), '200,200,429', 'subject acme-k1: 2 a minute');
$res = GET('/subject/y', 'X-Api-Key' => $K{acme});
is($res->header('X-Test-Limit-Name') // '', 'subj.rate', 'refused by subj.rate (before the plan is charged)');

# plans
is(codes('/plan/x', 'acme', 3), '200,200,429', 'gold acme: 6 an hour in all (2 + 2 + 2)');
$res = GET('/plan/y', 'X-Api-Key' => $K{acme});
is($res->header('X-Test-Limit-Name') // '', 'gold.plan.quota', 'refused by gold.plan.quota');
is($res->header('X-Test-Limit-Key') // '', 'acme', 'keyed by the tenant');
is(codes('/plan/x', 'hooli', 2), '200,429', 'silver hooli: 4 an hour (3 on lr-any + 1)');
is(codes('/plan/x', 'globex', 3), '200,200,429', 'free globex: 2 an hour');
like(GET('/plan/z', 'X-Api-Key' => $K{globex})->header('RateLimit-Policy') // '', qr/^"free\.plan\.quota";q=2;w=3600$/,
     'RateLimit-Policy names the plan policy');

# anonymous requests have no tenant: tenant limits do not apply
is(join(',', map { GET('/anon/x')->code } 1 .. 3), '200,200,200', 'anonymous: no tenant, no tenant limit');
