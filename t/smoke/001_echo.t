# The harness itself: httpd proxies /public/ to the echo upstream, the echo
# upstream answers as documented (t/backends/echo.py), memcached is there.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST HEAD);
use Time::HiRes ();
use Vip::Test;
use IO::Socket::INET ();

sub raw_echo {
    my $req = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => vip_var('echo_port'),
                                  Proto => 'tcp', Timeout => 5) or die $!;
    print $s $req;
    local $/;
    my $raw = <$s> // '';
    my ($body) = $raw =~ /\r\n\r\n(.*)$/s;
    return eval { JSON->new->decode($body // '') } || {};
}

plan tests => 33;

Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

# --- echo through httpd ----------------------------------------------------
echo_reset();
is(echo_hits(), 0, 'echo_reset sets the hit count to 0');

my $res = GET '/public/orders/42?a=1&b=two', 'X-Dup' => 'one', 'X-Dup' => 'two';
is($res->code, 200, 'GET /public/... through mod_proxy answers 200');
my $doc = echo_json($res);
ok($doc, 'echo answers JSON') or diag $res->as_string;
$doc ||= {};
is($doc->{method}, 'GET', 'echo sees the method');
is($doc->{path}, '/orders/42', 'echo sees the path below /public/');
is($doc->{query}, 'a=1&b=two', 'echo sees the query string');
is_deeply([ echo_values($res, 'X-Dup') ], ['one, two'],
          'httpd merges duplicate request headers before proxying');
ok(scalar(echo_values($res, 'X-Forwarded-For')), 'mod_proxy added X-Forwarded-For');
is($doc->{hits}, 1, 'echo counts the request');
is(echo_hits(), 1, '/_hits reads the count without counting itself');

$res = POST '/public/submit', content => '{"qty":3}', 'Content-Type' => 'application/json';
$doc = echo_json($res) || {};
is($doc->{method}, 'POST', 'POST arrives as POST');
is($doc->{body}, '{"qty":3}', 'the request body arrives');
my @case = grep { $_->[0] eq 'Content-Type' } @{ echo_headers($res) };
is(scalar(@case), 1, 'header names keep their case');

# --- static fixtures -------------------------------------------------------
$res = GET '/public/static/product.json';
is($res->code, 200, 'static product.json');
like($res->header('Cache-Control') // '', qr/^public, max-age=600$/,
     'static files carry Cache-Control: public, max-age=600');
my $json = eval { JSON->new->decode($res->content) };
is($json && $json->{product}{id}, 'p-1001', 'product.json is the fixture');
cmp_ok(length $res->content, '>=', 2000, 'product.json is about 2 KB');

$res = GET '/public/static/sale.html';
is($res->code, 200, 'static sale.html');
like($res->header('Content-Type') // '', qr{^text/html}, 'sale.html is text/html');
cmp_ok(length $res->content, '>=', 19000, 'sale.html is about 20 KB');
is($res->header('Content-Length'), length $res->content,
   'Content-Length matches the body');

$res = GET '/public/static/missing.json';
is($res->code, 404, 'missing static file: 404');

# --- controls --------------------------------------------------------------
$res = GET '/public/x?_status=418';
is($res->code, 418, '_status=418 answers 418');
$res = GET '/public/x?_status=503';
is($res->code, 503, '_status=503 answers 503');

my $t0 = Time::HiRes::time();
$res = GET '/public/x?_sleep=300';
my $dt = Time::HiRes::time() - $t0;
is($res->code, 200, '_sleep=300 answers 200');
cmp_ok($dt, '>=', 0.3, '_sleep=300 takes at least 300 ms');

# On a keep-alive client connection mod_proxy_http answers a backend that
# closed without a response by closing the client connection too (so the
# client may retry); a fresh connection gets the 502.
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);
my $before = echo_hits();
$res = GET '/public/x?_drop=1';
is($res->code, 502, '_drop=1: mod_proxy answers 502');
cmp_ok(echo_hits() - $before, '>=', 1, '_drop=1 reached the echo upstream');

$res = GET '/public/after-drop';
is($res->code, 200, 'the next request after a drop succeeds');

# --- the echo upstream directly: every header line as received ---------
my $direct = raw_echo("GET /direct?q=1 HTTP/1.1\r\nHost: x\r\nX-Dup: one\r\n" .
                      "x-dup: two\r\nX_Under: u\r\nConnection: close\r\n\r\n");
is_deeply([ map { "$_->[0]=$_->[1]" } grep { lc $_->[0] eq 'x-dup' || $_->[0] eq 'X_Under' }
            @{ $direct->{headers} || [] } ],
          ['X-Dup=one', 'x-dup=two', 'X_Under=u'],
          'echo keeps duplicate lines, original case and underscore names');

# --- memcached -------------------------------------------------------------
my $key = "vip:test:smoke:$$";
ok(mc_set($key, 'hello world', 60), 'memcached set');
is(mc_get($key), 'hello world', 'memcached get returns the value');
ok(mc_flush() && !defined mc_get($key), 'memcached flush_all empties it');
