# VipLimitDryRun On (issue 6): /dry/ is "limited" to 1 request a minute
# but only logs and notes what it would have refused: every request gets
# through to the upstream, the note vip.limit says dry_run, the error log
# has the info line VIP04012, and the RateLimit fields tell the truth.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 6, need_vip_limit();

Apache::TestRequest::module('vip_limit');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $off = error_log_size();
my $first = GET('/dry/1');
is($first->header('X-Test-Limit') // '', 'ok', 'first: within the limit, note ok');
my ($res, $hits) = with_hits { GET('/dry/2') };
is($res->code, 200, 'second (would be refused): 200 in dry-run');
is($hits, 1, 'and it reached the upstream');
is($res->header('X-Test-Limit') // '', 'dry_run', 'note vip.limit=dry_run');
like($res->header('RateLimit') // '', qr/"dry\.rate";r=0/, 'RateLimit says r=0');
like(error_log_since($off, 0.3), qr/VIP04012: dry run: limit dry\.rate would have refused the request \(key 127\.0\.0\.1\)/,
     'error log: VIP04012 names the limit and the key');
