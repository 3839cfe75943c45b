# Timeouts against a slow upstream (THREATS 3, "upstream hangs"): route
# slow has timeout=1, route slow-none none (ProxyTimeout 10 applies).  The
# echo delays its answer with ?_sleep=ms, drips its response head one
# line at a time with ?_drip=ms, or its body with ?_dripbody=ms.
#
# timeout= is a deadline for the whole exchange with the member (connect,
# request, response head and body), not mod_proxy's per-read timeout:
#   - before the response head is complete: 504 problem at the deadline,
#     and the connection to the member is closed (the echo sees its
#     writes fail: /_drips "cut");
#   - once the head went to the client: the client connection is cut at
#     the deadline, never ended as if the body were complete.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use IO::Socket::INET;
use JSON ();
use Time::HiRes qw(time sleep);
use Vip::Test;

plan tests => 24, need_vip_route();

Apache::TestRequest::module('vip_route');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1, timeout => 30);

sub timed {
    my ($code, @args) = @_;
    my $t0 = time;
    my $res = $code->(@args);
    return ($res, time - $t0);
}

# ---- timeout=1 ---------------------------------------------------------------------
my $id = req_id();
my ($res, $dt) = timed(\&GET, '/api/slow/x?_sleep=3000', 'X-Req-Id' => $id);
problem_ok($res, 504, 'timeout=1, upstream answers after 3 s: 504 problem');
like($res->content, qr/"type"\s*:\s*"urn:vip:problem:gateway-timeout"/, '504: type urn:vip:problem:gateway-timeout');
ok(abs($dt - 1) <= 0.5, sprintf('504 after about 1 s (%.2f s, want 1 +- 0.5)', $dt));
like($res->header('X-Request-Id') // '', qr/^[0-9a-f]{24}$/, '504: X-Request-Id');
my $n = route_notes_for($id) || {};
is("$n->{status}/$n->{route}", '504/slow', '504: logged with status 504 and route slow');

($res, $dt) = timed(\&GET, '/api/slow/y');
is($res->code, 200, 'timeout=1: the next request is answered (a timeout does not eject the member)');
($res, $dt) = timed(\&GET, '/api/slow/x?_sleep=400');
is($res->code, 200, 'timeout=1, upstream answers after 0.4 s: 200');
($res, $dt) = timed(\&POST, '/api/slow/x?_sleep=2500', content => 'payload');
is($res->code, 504, 'timeout=1, POST, upstream answers after 2.5 s: 504');
ok(abs($dt - 1) <= 0.5, sprintf('POST: 504 after about 1 s (%.2f s)', $dt));

# ---- no timeout on the route -------------------------------------------------------
($res, $dt) = timed(\&GET, '/api/slow-none/x?_sleep=1500');
is($res->code, 200, 'no route timeout, upstream answers after 1.5 s: 200');
is(route_of($res), 'slow-none', 'no route timeout: route slow-none');
cmp_ok($dt, '>=', 1.5, sprintf('no route timeout: the client waited for the answer (%.2f s)', $dt));
is((echo_json($res) || {})->{query}, '_sleep=1500', 'no route timeout: the upstream\'s own answer');

# ---- connect_timeout= and retries= make a balancer of their own that works -----------
($res) = timed(\&GET, '/api/slow-conn/x');
is($res->code, 200, 'connect_timeout=500 retries=1: 200');
is(echo_which($res), 1, 'connect_timeout=500 retries=1: answered by the service (echo 1)');

# ---- a drip-feeding upstream -----------------------------------------------------
# THREATS 3: "per-route total deadline, 504 at deadline +- 100 ms".  A head
# arriving a line every 0.4 s (11 lines, 4 s) never trips a per-read
# timeout of 1 s; the deadline does.
sub drips {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => echo_port(1),
                                  Proto => 'tcp', Timeout => 5) or die $!;
    print $s "GET /_drips HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    local $/;
    my ($body) = (<$s> // '') =~ /\r\n\r\n(.*)$/s;
    return JSON->new->decode($body // '{}');
}
my $before = drips();
($res, $dt) = timed(\&GET, '/api/slow/drip?_drip=400');
problem_ok($res, 504, 'timeout=1, upstream drips its head for 4 s: 504 problem');
# at the deadline: not before it, and far from the 4 s the drip takes (the
# upper margin is for a loaded machine's scheduling, not the module's)
ok($dt >= 0.95 && $dt <= 1.6, sprintf('timeout=1, dripping upstream: 504 at the deadline (%.3f s)', $dt));
my $after;
for (1 .. 30) { $after = drips(); last if $after->{cut} > $before->{cut}; sleep 0.1 }
is($after->{cut} - $before->{cut}, 1, 'dripping upstream: its connection was closed at the deadline (the echo could not finish: worker freed, connection not reused)');
is($after->{done}, $before->{done}, 'dripping upstream: the echo never completed that response');

# The same over a POST (never retried, nothing else changes).
($res, $dt) = timed(\&POST, '/api/slow/drip?_drip=400', content => 'x');
is($res->code, 504, 'POST, dripping upstream: 504');
ok($dt >= 0.95 && $dt <= 1.6, sprintf('POST, dripping upstream: at the deadline (%.3f s)', $dt));

# ---- the body drips: the head has gone out, so the client connection is cut ---------
{
    my ($host, $p) = split /:/, Apache::TestRequest::hostport();
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                  Proto => 'tcp', Timeout => 10) or die $!;
    my $t0 = time;
    print $s "GET /api/slow/x?_dripbody=300 HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n";
    local $/;
    my $raw = <$s> // '';
    my $dtb = time - $t0;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($cl) = ($head // '') =~ /^Content-Length:\s*(\d+)/mi;
    like($head // '', qr{^HTTP/1\.1 200}, 'body drips: the head (200) went out before the deadline');
    ok(defined $cl && length($body // '') < $cl,
       sprintf('body drips: the client connection ends short of Content-Length (%d of %s bytes): never a clean end',
               length($body // ''), $cl // '?'));
    ok($dtb >= 0.8 && $dtb <= 1.6, sprintf('body drips: cut at the deadline (%.3f s)', $dtb));
}
