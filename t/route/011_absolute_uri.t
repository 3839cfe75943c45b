# THREATS R3 (open proxy) and R4 (no SSRF through Host): requests that
# name another host, in the request line or in Host, are never proxied to
# it.  The "foreign host" is a loopback listener this test opens and that
# no route knows: it must not see a single connection.  A routed path
# still goes to its route's upstream, with a path that is the request's
# path and never one built from the host.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use IO::Select ();
use IO::Socket::INET ();
use Vip::Test;

my $foreign = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16,
                                    Proto => 'tcp', ReuseAddr => 1) or die "listen: $!";
my $F = '127.0.0.1:' . $foreign->sockport;
my $sel = IO::Select->new($foreign);

# Did the foreign listener get a connection since the last call?
sub foreign_hits {
    my $n = 0;
    while ($sel->can_read(0.05)) {
        my $c = $foreign->accept or last;
        close $c;
        $n++;
    }
    return $n;
}

# [name, request line, extra headers, accepted statuses, upstream target
#  expected on the orders service (echo 1) or undef for "no upstream"]
my @CASES = (
    ['absolute-form, foreign host, unrouted path', "GET http://$F/x HTTP/1.1", '', [404], undef],
    ['absolute-form, foreign host, routed path',   "GET http://$F/api/orders/1 HTTP/1.1", '', [200], '/api/orders/1'],
    ['absolute-form, a name',                      "GET http://evil.example/api/orders/1 HTTP/1.1", '', [200], '/api/orders/1'],
    ['absolute-form, https',                       "GET https://$F/api/orders/1 HTTP/1.1", '', [200], '/api/orders/1'],
    ['absolute-form, user info',                   "GET http://$F\@evil.example/api/orders/1 HTTP/1.1", '', [400], undef],
    ['CVE-2011-3368: GET @host/',                  "GET \@$F/ HTTP/1.1", '', [400], undef],
    ['CVE-2011-3368: GET @host/routed',            "GET \@$F/api/orders/1 HTTP/1.1", '', [400], undef],
    ['network-path reference //host/path',         "GET //$F/api/orders/1 HTTP/1.1", '', [404], undef],
    ['CVE-2021-40438: unix: in the query',         "GET /api/orders/1?unix:/tmp/x|http://$F/ HTTP/1.1", '', [200], "/api/orders/1?unix:/tmp/x|http://$F/"],
    ['CVE-2021-40438: unix: in the path',          "GET /api/orders/unix:x|http://$F/ HTTP/1.1", '', [200], undef],
    ['R4: Host names the foreign host',            "GET /api/orders/1 HTTP/1.1", "Host: $F\r\n", [200], '/api/orders/1'],
    ['R4: X-Forwarded-Host names the foreign host', "GET /api/orders/1 HTTP/1.1", "X-Forwarded-Host: $F\r\nForwarded: host=$F\r\n", [200], '/api/orders/1'],
    ['R4: Host with a path',                       "GET /api/orders/1 HTTP/1.1", "Host: $F/admin\r\n", [400], undef],
);

plan tests => 3 * @CASES + 6, need_vip_route();

my $port = vip_var('vip_route_port');
foreign_hits();

for my $c (@CASES) {
    my ($name, $line, $hdr, $ok, $target) = @$c;
    echo_reset($_) for 1 .. 3;
    my $host = $hdr =~ /^Host:/m ? '' : "Host: localhost\r\n";
    my $res = raw_http("$line\r\n$host${hdr}Connection: close\r\n\r\n", port => $port);
    my $code = $res ? $res->code : 0;
    ok((grep { $_ == $code } @$ok), "$name: status @$ok") or diag "got $code";
    is(foreign_hits(), 0, "$name: the foreign host sees no connection");
    my @seen = map { echo_seen($_) } 1 .. 3;
    if (defined $target) {
        is_deeply([ map { $_->[1] } echo_seen(1) ], [$target],
                  "$name: only the route's upstream, with the request's own path");
    }
    elsif ($code == 200) {
        my @bad = grep { $_->[1] =~ /\Q$F\E|evil/ && $_->[1] !~ /^\/api\/orders\/unix/ } @seen;
        ok(!@bad, "$name: no upstream path built from the host") or diag explain \@bad;
    }
    else {
        is_deeply(\@seen, [], "$name: no upstream sees anything");
    }
}

# CONNECT: the route table must not take the authority-form for a path.
{
    echo_reset($_) for 1 .. 3;
    my $res = raw_http("CONNECT $F HTTP/1.1\r\nHost: $F\r\nConnection: close\r\n\r\n", port => $port);
    my $code = $res ? $res->code : 0;
    is(foreign_hits(), 0, 'CONNECT: the foreign host sees no connection');
    my @connects = grep { $_->[0] eq 'CONNECT' } map { echo_seen($_) } 1 .. 3;
    TODO: {
        ok((grep { $_ == $code } 400, 404, 405), 'CONNECT host:port: 400, 404 or 405') or diag "got $code";
        is_deeply(\@connects, [], 'CONNECT: no upstream receives a CONNECT');
    }
}

# OPTIONS * is about the server, not a path
{
    echo_reset($_) for 1 .. 3;
    my $res = raw_http("OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", port => $port);
    my $code = $res ? $res->code : 0;
    ok($code == 200 || $code == 400, "OPTIONS *: answered by the server ($code)");
    is(foreign_hits() + scalar(map { echo_seen($_) } 1 .. 3), 0, 'OPTIONS *: no upstream, no foreign connection');
}

is(foreign_hits(), 0, 'the foreign listener never saw a connection');
