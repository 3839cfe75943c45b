# Errors of routed requests (THREATS 3, "upstream garbage"): an upstream
# that answers no valid HTTP, or closes without answering, gives the
# client a 502 problem (Cache-Control: no-store, X-Request-Id), quickly,
# and the member keeps serving the next request.  An upstream's own error
# responses pass through as the upstream wrote them: only errors vip
# generates are problem documents.
#
# The echo controls: ?_garbage=status (an invalid status line),
# ?_garbage=noise (binary bytes), ?_garbage=headers (a 200 KB header
# line), ?_drop=1 (close without answering), ?_status=NNN, ?_hdr=N:v.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use JSON ();
use Time::HiRes qw(time);
use Vip::Test;

my @BAD = (
    ['binary noise',                  '_garbage=noise'],
    ['a 200 KB header line',          '_garbage=headers'],
    ['closed without an answer',      '_drop=1'],
);

plan tests => 7 * @BAD + 2 + 9 + 4 + 9, need_vip_route();

Apache::TestRequest::module('vip_route');
# A fresh client connection for each request: see "kept-alive" below.
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);

for my $b (@BAD) {
    my ($name, $q) = @$b;
    my $id = req_id();
    my $t0 = time;
    my $res = GET "/api/orders/1?$q", 'X-Req-Id' => $id, 'X-Request-Id' => "err-$id";
    my $dt = time - $t0;
    problem_ok($res, 502, "$name: 502 problem");
    like($res->content, qr/"type"\s*:\s*"urn:vip:problem:bad-gateway"/, "$name: type urn:vip:problem:bad-gateway");
    is($res->header('X-Request-Id'), "err-$id", "$name: the client's X-Request-Id comes back");
    unlike($res->content, qr/garbage|\x00\x01\x02|aaaaaaaaaa/, "$name: none of the upstream's bytes reach the client");
    cmp_ok($dt, '<', 1, sprintf("$name: answered at once (%.3f s)", $dt));
    my $n = route_notes_for($id) || {};
    is("$n->{status}/$n->{route}", '502/p-C', "$name: logged as 502 of route p-C");
    is(GET('/api/orders/2')->code, 200, "$name: the next request is answered by the same service");
}

# On a client connection that already carried a request, httpd answers
# an upstream that closed without a response by closing the client
# connection, without a response either, so that the client retries (as
# it would after a keep-alive race).  What the client must never get is
# part of an answer.
{
    Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
    GET '/api/orders/warm-up';
    my $res = GET '/api/orders/1?_drop=1';
    if ($res->code == 502) {
        problem_ok($res, 502, 'closed without an answer, kept-alive client connection: 502 problem');
    }
    else {
        is($res->header('Client-Warning') // '', 'Internal response',
           'closed without an answer, kept-alive client connection: closed without a byte (the client may retry)');
    }
    is(GET('/api/orders/2')->code, 200, 'kept-alive client: the retry is answered');
    Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);
}

# An invalid status line: mod_proxy_http takes a line that does not look
# like "HTTP/x.y nnn" for an HTTP/0.9 response and would relay everything
# the upstream sent as the body of a 200; mod_vip_route answers 502, on a
# fresh and on a kept-alive client connection, for GET and HEAD.
expect_log(qr/VIP02022/);
{
    my $id = req_id();
    my $res = GET '/api/orders/1?_garbage=status', 'X-Req-Id' => $id;
    problem_ok($res, 502, 'invalid status line: 502 problem');
    unlike($res->content, qr/2x0|Garbage|garbage/, 'invalid status line: the upstream\'s bytes do not reach the client');
    my $n = route_notes_for($id) || {};
    is($n->{status}, 502, 'invalid status line: logged as 502, not 200');
    is(GET('/api/orders/2')->code, 200, 'invalid status line: the next request is answered');
    ok(!defined $res->header('X-Vip-Anything'), 'invalid status line: no reserved header reaches the client');
    $res = Apache::TestRequest::HEAD('/api/orders/1?_garbage=status');
    is($res->code, 502, 'invalid status line, HEAD: 502');
    Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
    GET '/api/orders/warm-up';
    $res = GET '/api/orders/1?_garbage=status';
    is($res->code, 502, 'invalid status line, kept-alive client connection: 502');
    unlike($res->content, qr/Garbage/, 'invalid status line, kept-alive: no upstream byte');
    $res = GET '/api/orders/3';
    is($res->code, 200, 'invalid status line, kept-alive: the next request is answered');
    Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);
}

# ---- the upstream's own errors pass through ---------------------------------------------
{
    my $res = GET '/api/orders/1?_status=500';
    is($res->code, 500, 'upstream 500: relayed as 500');
    is((echo_json($res) || {})->{query}, '_status=500', 'upstream 500: the upstream\'s own body');
    $res = GET '/api/orders/1?_status=503&_hdr=Retry-After:30';
    is($res->code, 503, 'upstream 503: relayed as 503');
    is($res->header('Retry-After'), '30', 'upstream 503: the upstream\'s own Retry-After');
}

# ---- errors vip generates ----------------------------------------------------------------------
{
    my $res = GET '/api/orders/a%7fb';
    problem_ok($res, 400, 'bad path: 400 problem');
    like($res->content, qr/"type"\s*:\s*"urn:vip:problem:bad-path"/, 'bad path: type urn:vip:problem:bad-path');
    like($res->header('X-Request-Id') // '', qr/^[0-9a-f]{24}$/, 'bad path: X-Request-Id');
    $res = GET '/scoped/none';
    problem_ok($res, 404, 'no route: 404 problem');
    like($res->header('X-Request-Id') // '', qr/^[0-9a-f]{24}$/, 'no route: X-Request-Id');
    $res = GET '/api/dead/x';
    problem_ok($res, 503, 'service unavailable: 503 problem');
    like($res->header('X-Request-Id') // '', qr/^[0-9a-f]{24}$/, 'service unavailable: X-Request-Id');
    my $doc = eval { JSON->new->decode($res->content) } || {};
    is($doc->{status}, 503, 'service unavailable: "status": 503 in the document');
    ok(!exists $doc->{instance}, 'service unavailable: nothing from an upstream in the document');
}
