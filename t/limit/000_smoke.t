# mod_vip_limit loads, its zones are in shared memory and an allowed
# request reaches the upstream with the limit announced (a quick check
# that the rest of t/limit can run at all).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 4, need_vip_limit();

Apache::TestRequest::module('vip_limit');
# /app/ with an X-App value of its own: no other test's counter
my $res = GET('/app/smoke', 'X-App' => 'smoke', 'X-Req-Id' => req_id());
is($res->code, 200, 'a limited location admits the first request');
is((echo_json($res) || {})->{path}, '/app/smoke', 'the upstream answered');
like($res->header('RateLimit-Policy') // '', qr/"app\.rate";q=2;w=60/, 'RateLimit-Policy announced');
is($res->header('X-Test-Limit') // '', 'ok', 'note vip.limit=ok');
