# Limits keyed by client IP run in post_read_request, before any
# authentication work (issue 6, THREATS L1, L3): the vip_limit_early
# virtual host limits every client IP to 4 requests an hour (a minute let a token come back on a slow machine) in front of
# AuthType Vip.  Bad API keys get 401 until the limit is reached, then 429
# without mod_vip_auth ever looking at the key (no vip.auth_result note).
# mod_remoteip there trusts only 10.255.255.1, so X-Forwarded-For values
# rotated by the client change nothing, and the upstream sees only what
# was admitted.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 10, need_vip_limit(), need_vip_auth();

Apache::TestRequest::module('vip_limit_early');
# new connections: a keep-alive connection to a child the MPM is retiring
# can be closed under a request, which LWP reports as its own 500
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);

my @fields = qw(reqid status limit name key remaining auth_result client);
sub notes { log_fields_for('vip_limit_notes.log', \@fields, $_[0], 5, 1) || {} }

my @ids = map { req_id() } 1 .. 3;
my @res = map { GET('/auth/x', 'X-Api-Key' => 'acme-k1.wrong-secret', 'X-Req-Id' => $ids[$_]) } 0 .. 2;
is(join(',', map { $_->code } @res), '401,401,401', 'bad key: 401 while under the limit');
is(notes($ids[0])->{auth_result}, 'wrong_key', 'those were judged by mod_vip_auth');

my $id = req_id();
my ($res, $hits) = with_hits {
    GET('/open/y', 'X-Forwarded-For' => '203.0.113.9', 'X-Req-Id' => $id)
};
is($res->code, 200, 'the fourth request of the hour (anonymous location, spoofed XFF): 200');
is(notes($id)->{key}, '127.0.0.1', 'keyed by the real client: X-Forwarded-For from an untrusted peer is ignored');

$id = req_id();
($res, $hits) = with_hits {
    GET('/auth/x', 'X-Api-Key' => 'acme-k1.wrong-secret', 'X-Req-Id' => $id)
};
problem_ok($res, 429, 'fifth, bad key: 429 before authentication');
is($hits, 0, 'upstream untouched');
my $n = notes($id);
is($n->{auth_result}, '', 'mod_vip_auth never ran for it (no vip.auth_result)');
is("$n->{limit}/$n->{name}", 'limited/early.rate', 'notes: limited by early.rate');

# rotating X-Forwarded-For does not buy fresh buckets (L1)
my @codes = map { GET('/open/z', 'X-Forwarded-For' => "198.51.100.$_")->code } 1 .. 5;
is("@codes", '429 429 429 429 429', 'five requests with five different X-Forwarded-For: all 429');
# and a valid key does not either: the limit is on the IP, before auth
is(GET('/auth/x', 'X-Api-Key' => apikey('acme-k1'))->code, 429, 'a valid key over the IP limit: 429');
