# Pooled keep-alive connections to the members (issue 4: "tests prove
# reuse by counting upstream connections"): 100 sequential requests
# through a route use far fewer upstream TCP connections than requests.
# The echo upstream numbers its accepted connections and says on which
# one each request came ("conn"); it also counts them (/_conns).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Vip::Test;

plan tests => 11, need_vip_route();

Apache::TestRequest::module('vip_route');

# 100 requests; returns (statuses ok, {conn id => requests}, connections
# the echo accepted meanwhile)
sub run {
    my ($n, $path, $method) = @_;
    my %conn;
    my $ok = 0;
    my $before = echo_conns(1);
    for my $i (1 .. $n) {
        my $res = ($method // 'GET') eq 'POST'
            ? POST("$path/$i", content => "body $i")
            : GET("$path/$i");
        my $doc = echo_json($res) || {};
        $ok++ if $res->code == 200 && echo_which($doc) == 1;
        $conn{ $doc->{conn} // 'none' }++;
    }
    # the two /_conns queries are connections of their own
    my $accepted = echo_conns(1) - $before - 1;
    return ($ok, \%conn, $accepted);
}

# ---- one client connection ------------------------------------------------------------
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my ($ok, $conn, $accepted) = run(100, '/api/orders/ka');
is($ok, 100, 'keep-alive client: 100 requests, all answered by echo 1');
cmp_ok(scalar keys %$conn, '<=', 3, 'keep-alive client: the upstream saw them on at most 3 connections')
    or diag explain $conn;
cmp_ok($accepted, '<=', 3, "keep-alive client: echo 1 accepted $accepted connection(s) for 100 requests");
my ($busiest) = sort { $b <=> $a } values %$conn;
cmp_ok($busiest, '>=', 34, "keep-alive client: one upstream connection carried $busiest requests");

# ---- a new client connection for each request ------------------------------------------
# The requests spread over httpd's children; each child keeps its own
# pool, so a few connections, never one per request.
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);
($ok, $conn, $accepted) = run(100, '/api/orders/nka');
is($ok, 100, 'a client connection per request: 100 requests, all answered');
cmp_ok(scalar keys %$conn, '<=', 20, sprintf('a client connection per request: %d upstream connections for 100 requests',
                                              scalar keys %$conn)) or diag explain $conn;
cmp_ok($accepted, '<=', 20, "a client connection per request: echo 1 accepted $accepted");

# ---- with a body; through a route's own balancer ------------------------------------------
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
($ok, $conn, $accepted) = run(100, '/api/orders/post', 'POST');
is($ok, 100, 'POST with a body: 100 requests, all answered');
cmp_ok(scalar keys %$conn, '<=', 3, sprintf('POST with a body: %d upstream connections', scalar keys %$conn));

# route slow has timeout=1: a balancer (and workers, and pools) of its own
($ok, $conn, $accepted) = run(100, '/api/slow/ka');
is($ok, 100, 'a route with its own balancer: 100 requests, all answered');
cmp_ok(scalar keys %$conn, '<=', 3, sprintf('a route with its own balancer: %d upstream connections',
                                             scalar keys %$conn));
