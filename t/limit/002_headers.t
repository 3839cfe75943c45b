# What a client sees (issue 6, THREATS L8, S1): the IETF RateLimit-Policy
# and RateLimit fields (draft-ietf-httpapi-ratelimit-headers: a List of
# "name";q=..;w=.. items and "name";r=..;t=..) on allowed and on limited
# responses, the older RateLimit-Limit/-Remaining/-Reset trio behind
# VipLimitHeaders ietf+legacy, no fields with VipLimitHeaders off; a 429
# is an RFC 9457 problem with an exact Retry-After and Cache-Control:
# no-store, the upstream never sees it, and a refused POST's body is never
# read as the next request of the connection.
#   /legacy/  rate=3/min burst=3 quota=100/day concurrency=5, ietf+legacy
#   /quiet/   rate=1/min burst=1, headers off
#   /slow/    rate=2/min (burst defaults to the count: 2)
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use POSIX ();
use Time::HiRes ();
use Vip::Test;

plan tests => 27, need_vip_limit();

Apache::TestRequest::module('vip_limit');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

# seconds to the next midnight UTC (the day quota's window end)
my $to_midnight = 86400 - time % 86400;

# t and Retry-After count whole seconds from the first request: exact
# while these requests take less than a second, one less per second more
# (a loaded machine's stall)
my $t0 = Time::HiRes::time();
sub late { POSIX::ceil(Time::HiRes::time() - $t0) }
sub within { my ($v, $want) = @_; defined $v && $v <= $want && $v >= $want - late() }

# ---- allowed ---------------------------------------------------------------------
my $res = GET('/legacy/1');
is($res->code, 200, 'first request admitted');
is($res->header('RateLimit-Policy'),
   '"legacy.rate";q=3;w=60, "legacy.conc";q=5;qu="concurrent-requests", "legacy.quota";q=100;w=86400',
   'RateLimit-Policy: every policy of the location, as a structured List');
my ($rl) = $res->header('RateLimit');
like($rl, qr/^"legacy\.rate";r=2;t=20, "legacy\.conc";r=4, "legacy\.quota";r=99;t=(\d+)$/,
     'RateLimit: r and t per policy (rate: 2 left, whole again in one interval of 20 s)');
my ($t) = ($rl // '') =~ /"legacy\.quota";r=99;t=(\d+)/;
ok(defined $t && abs($t - $to_midnight) <= 2, "quota t is the time to midnight UTC ($t vs $to_midnight)");
is(join('/', map { $res->header("RateLimit-$_") // '' } qw(Limit Remaining Reset)), '3/2/20',
   'legacy trio: the tightest policy (the rate: 3, 2 left, 20 s)');
is($res->header('X-Test-Limit') // '', 'ok', 'note vip.limit=ok');
is($res->header('X-Test-Limit-Name') // '', 'legacy.rate', 'note vip.limit_name: the tightest policy');
is($res->header('X-Test-Limit-Key') // '', '127.0.0.1', 'note vip.limit_key: the client IP');
is($res->header('X-Test-Limit-Remaining') // '', '2', 'note vip.limit_remaining: 2');
ok(!defined $res->header('Retry-After'), 'no Retry-After on an allowed response');

GET('/legacy/2');
$res = GET('/legacy/3');
my ($t3) = ($res->header('RateLimit') // '') =~ /^"legacy\.rate";r=0;t=(\d+)/;
ok(within($t3, 60), 'third: none left, whole again in 60 s (t=' . ($t3 // '?') . ')');

# ---- limited -----------------------------------------------------------------------
my $hits;
($res, $hits) = with_hits { GET('/legacy/4') };
problem_ok($res, 429, 'fourth within the minute: 429 problem');
is($hits, 0, '429: the upstream is untouched');
like($res->content, qr/"type":"urn:vip:problem:rate-limited"/, '429 type urn:vip:problem:rate-limited');
my $ra = $res->header('Retry-After');
ok(within($ra, 20), 'Retry-After: 20 (the next interval, exactly) (' . ($ra // '?') . ')');
my ($t4) = ($res->header('RateLimit') // '') =~ /^"legacy\.rate";r=0;t=(\d+)/;
ok(within($t4, 60), 'the 429 carries RateLimit too (t=' . ($t4 // '?') . ')');
like($res->header('RateLimit-Policy') // '', qr/^"legacy\.rate";q=3;w=60$/,
     'and RateLimit-Policy (only the policy decided before the refusal)');
is($res->header('RateLimit-Remaining') // '', '0', 'legacy trio on the 429: 0 remaining');
is($res->header('X-Test-Limit') // '', 'limited', 'note vip.limit=limited');
unlike($res->content, qr/127\.0\.0\.1|vip_limit|limit_request/, 'the problem names no internals or client data');

# ---- defaults and headers off ----------------------------------------------------
is(join(',', map { GET("/slow/$_")->code } 1 .. 3), '200,200,429', 'rate=2/min: a burst of 2 by default');
$res = GET('/quiet/1');
is($res->code, 200, 'VipLimitHeaders off: admitted');
ok(!grep({ defined $res->header($_) } qw(RateLimit RateLimit-Policy RateLimit-Limit)),
   'VipLimitHeaders off: no RateLimit fields');
$res = GET('/quiet/2');
is($res->code, 429, 'VipLimitHeaders off: still limited');
ok(!defined $res->header('RateLimit') && defined $res->header('Retry-After'),
   'VipLimitHeaders off: a 429 with Retry-After but no RateLimit fields');

# ---- S1: a refused POST with a body, and a pipelined GET ---------------------------
my $s = raw_connect(port => Apache::Test::config()->{vhosts}{vip_limit}{port});
my $body = 'GET /quiet/smuggled HTTP/1.1' . "\r\nHost: x\r\n\r\n";
print $s "POST /quiet/3 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
       . "Content-Length: " . length($body) . "\r\n\r\n$body"
       . "GET /legacy/after-post HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
my $r = read_responses($s, want => 2);
my @codes = map { $_->code } @{ $r->{responses} };
is("@codes", '429 429', 'pipelined refused POST + GET: two answers, the body was never a request');
ok(!grep({ $_->header('RateLimit-Policy') && $_->header('RateLimit-Policy') =~ /quiet.*smuggled/ } @{ $r->{responses} })
   && @{ $r->{responses} } == 2, 'no third answer (the body was discarded, not parsed)');
