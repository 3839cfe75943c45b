# Calendar quotas (issue 6): /quota/ allows 4 requests per calendar hour
# per client IP.  Four are admitted with the remaining count going 3, 2,
# 1, 0; the fifth is a 429 whose Retry-After and RateLimit t are the
# seconds to the end of the hour (UTC), and the upstream never sees it.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Time::HiRes qw(sleep);
use Vip::Test;

plan tests => 7, need_vip_limit();

Apache::TestRequest::module('vip_limit');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

# not across an hour boundary: wait when it is less than 15 s away
my $left = 3600 - time % 3600;
sleep($left + 1) if $left < 15;

my @rem = map { my $r = GET("/quota/$_"); $r->code == 200 ? $r->header('X-Test-Limit-Remaining') : $r->code } 1 .. 4;
is("@rem", '3 2 1 0', 'quota=4/hour: four admitted, remaining 3 2 1 0');
my ($res, $hits) = with_hits { GET('/quota/5') };
problem_ok($res, 429, 'the fifth in the hour: 429 problem');
like($res->content, qr/urn:vip:problem:quota-exceeded/, 'type urn:vip:problem:quota-exceeded');
is($hits, 0, 'the upstream is untouched');
my $end = 3600 - time % 3600;
my $ra = $res->header('Retry-After') // -1;
ok(abs($ra - $end) <= 2, "Retry-After $ra is the end of the hour ($end s away)");
my ($t) = ($res->header('RateLimit') // '') =~ /"quota\.quota";r=0;t=(\d+)/;
ok(defined $t && abs($t - $end) <= 2, 'RateLimit: r=0 and t = the end of the hour');
like($res->header('RateLimit-Policy') // '', qr/"quota\.quota";q=4;w=3600/, 'RateLimit-Policy: q=4;w=3600');
