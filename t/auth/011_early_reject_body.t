# Early rejection of a request with a body (THREATS 2.5 S1).  vip answers
# 401/403 before anything reads the request body; httpd must then discard
# the body or close the connection, never parse it as the next request.
#
# Each case writes, in ONE write on ONE keep-alive connection, a rejected
# POST whose body is itself the text of a request ("GET /auth/any/<marker>
# HTTP/1.1" with a valid API key: were it parsed, it would reach the echo
# upstream), followed by a legitimate GET.  Expected: the rejection; then
# either the GET answered as itself (200 from the echo, right path) or a
# clean close; the smuggled path appears neither in the echo upstream's log
# nor in httpd's access log.  Expect: 100-continue cases check that a
# rejected request gets its final answer without a 100 and without the body
# being read.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);
use Time::HiRes ();
use Vip::Test;

plan tests => 24, need_vip_auth();

$SIG{PIPE} = 'IGNORE';    # writing after the server closed is part of the test

my $K1 = apikey('acme-k1');
my $RO = apikey('acme-ro');
my $IN = apikey('initech-k1');
my (undef, $K1_SECRET) = split /\./, $K1, 2;
my $BAD = "nosuch-k1.$K1_SECRET";
my $badjwt = jwt({ alg => 'RS256' }, claims(exp => time - 3600, iat => time - 7200), 'rsa1');

my $M = sprintf 's1m%d%d', $$, time;    # marker of this run's paths
my $n = 0;

sub smuggled_path { "/auth/any/$M-smuggled-$_[0]" }
sub next_path     { "/auth/any/$M-next-$_[0]" }

# The body: a complete request that would pass vip and reach the echo.
sub smuggled_request {
    my $i = shift;
    return "GET " . smuggled_path($i) . " HTTP/1.1\r\nHost: localhost\r\n" .
           "X-Api-Key: $K1\r\n\r\n";
}

sub next_request {
    my $i = shift;
    return "GET " . next_path($i) . " HTTP/1.1\r\nHost: localhost\r\n" .
           "X-Api-Key: $K1\r\nConnection: close\r\n\r\n";
}

sub chunked {
    my ($body, @cuts) = @_;    # cut points: chunk sizes
    my $out = '';
    my $pos = 0;
    for my $len (@cuts, length($body)) {
        last if $pos >= length $body;
        my $part = substr($body, $pos, $len);
        $out .= sprintf("%x;x=%d\r\n%s\r\n", length $part, $pos, $part);
        $pos += length $part;
    }
    return $out . "0\r\n\r\n";
}

sub post_head {
    my ($path, $cred, @extra) = @_;
    return "POST $path HTTP/1.1\r\nHost: localhost\r\n" .
           join('', map { "$_\r\n" } grep { length } $cred, @extra,
                'Content-Type: text/plain') . "\r\n";
}

sub slurp_file {
    my $f = catfile(t_dir(), 'logs', shift);
    open my $fh, '<', $f or return '';
    local $/;
    return scalar <$fh> // '';
}

# What the echo upstream and httpd's access log saw of request $i's
# smuggled path (lines are written after each response).
sub seen_smuggled {
    my $i = shift;
    Time::HiRes::sleep(0.3);
    my $p = smuggled_path($i);
    my @where;
    push @where, 'echo log'   if index(slurp_file('echo.log'), $p) >= 0;
    push @where, 'access log' if index(slurp_file('access_log'), $p) >= 0;
    return @where;
}

# ---- the pipelined cases ----------------------------------------------------
# [name, request head (given the body framing header), framing, status,
#  problem type]
my @CASES = (
    [ 'Content-Length body, unknown API key',
      sub { post_head('/auth/any/orders', "X-Api-Key: $BAD", @_) }, 'cl', 401, 'invalid-api-key' ],
    [ 'chunked body, unknown API key',
      sub { post_head('/auth/any/orders', "X-Api-Key: $BAD", @_) }, 'chunked', 401, 'invalid-api-key' ],
    [ 'chunked body cut mid request-line and mid CRLF, unknown API key',
      sub { post_head('/auth/any/orders', "X-Api-Key: $BAD", @_) }, 'chunked-cut', 401, 'invalid-api-key' ],
    [ 'Content-Length body, no credential',
      sub { post_head('/auth/any/orders', '', @_) }, 'cl', 401, undef ],
    [ 'Content-Length body, expired bearer token',
      sub { post_head('/auth/any/orders', "Authorization: Bearer $badjwt", @_) }, 'cl', 401, undef ],
    [ 'Content-Length body, key of a suspended tenant',
      sub { post_head('/auth/any/orders', "X-Api-Key: $IN", @_) }, 'cl', 403, 'tenant-suspended' ],
    [ 'chunked body, key without the required scope (Require vip-scope)',
      sub { post_head('/auth/scope/orders-write/x', "X-Api-Key: $RO", @_) }, 'chunked', 403, 'insufficient-scope' ],
    [ '256 KiB Content-Length body ending in a request, unknown API key',
      sub { post_head('/auth/any/orders', "X-Api-Key: $BAD", @_) }, 'cl-big', 401, 'invalid-api-key' ],
);

for my $c (@CASES) {
    my ($name, $head, $framing, $status, $type) = @$c;
    my $i = ++$n;
    my $body = smuggled_request($i);
    $body = ('x' x (256 * 1024)) . "\r\n\r\n" . $body if $framing eq 'cl-big';
    my $bytes = $framing =~ /^cl/
        ? $head->('Content-Length: ' . length $body) . $body
        : $head->('Transfer-Encoding: chunked') .
          chunked($body, $framing eq 'chunked-cut' ? (7, 33, 2) : ());
    $bytes .= next_request($i);

    my $hits0 = echo_hits();
    my $s = raw_connect();
    print $s $bytes;
    my $r = read_responses($s);
    close $s;
    my @res = @{ $r->{responses} };
    my @seen = seen_smuggled($i);
    my $hits = echo_hits() - $hits0;

    subtest "S1 $name: $status, then the GET or a close; the body is never a request" => sub {
        Test::More::plan(tests => 6);
        ok(@res >= 1, 'the rejected POST is answered')
            or diag "read: " . substr($r->{raw}, 0, 300);
        problem_ok($res[0] || HTTP::Response->new(0), $status, "first response: $status problem+json");
        my $doc = @res ? (eval { JSON->new->decode($res[0]->content) } || {}) : {};
        if ($type) { is($doc->{type}, "urn:vip:problem:$type", "problem type $type") }
        else       { like($doc->{type} // '', qr/^urn:vip:problem:/, 'a vip problem type') }
        my $next = $res[1];
        my $answered = $next && $next->code == 200
            && (echo_json($next) || {})->{path} eq next_path($i)
            && join(',', identity_of($next)->{tenant}->@*) eq 'acme';
        ok((@res == 1 && $r->{eof}) || (@res == 2 && $answered && $r->{eof}),
           'the next request is answered as itself (200 from the echo, its path, ' .
           'tenant acme) or the connection is closed after the rejection')
            or diag sprintf "%d responses (%s), eof %d, error %s, timeout %d, rest %s",
                scalar @res, join(' ', map { $_->code } @res), $r->{eof},
                $r->{error} // '-', $r->{timeout}, substr($r->{rest}, 0, 100);
        is_deeply(\@seen, [], 'the smuggled path reaches neither the echo upstream nor the access log');
        is($hits, @res == 2 ? 1 : 0, 'the upstream saw only the legitimate GET');
    };
    note "$name: " . (@res == 2 ? 'the GET was answered on the same connection'
                                : 'the connection was closed after the rejection');
}

# ---- control: the same body with a valid key is a body ------------------------
{
    my $i = ++$n;
    my $body = smuggled_request($i);
    my $s = raw_connect();
    print $s post_head("/auth/any/$M-control", "X-Api-Key: $K1",
                       'Content-Length: ' . length $body) . $body . next_request($i);
    my $r = read_responses($s);
    close $s;
    my @res = @{ $r->{responses} };
    my $doc = @res ? echo_json($res[0]) || {} : {};
    is_deeply([ map { $_->code } @res ], [200, 200],
              'control: POST with a valid key and the GET behind it: 200, 200');
    is($doc->{body}, $body, 'control: the request-like body reaches the upstream as a body');
    is(($res[1] ? echo_json($res[1]) || {} : {})->{path}, next_path($i),
       'control: the second answer is the GET');
    is_deeply([ seen_smuggled($i) ], [], 'control: the body is never parsed as a request');
}

# ---- Expect: 100-continue ------------------------------------------------------
# Headers only, bad key: the final 401 comes without a 100 and without
# waiting for the body.  The client then sends the body anyway (RFC 9110
# 10.1.1 allows it): it must not be read as a request.
{
    my $i = ++$n;
    my $body = smuggled_request($i);
    my $hits0 = echo_hits();
    my $s = raw_connect();
    print $s post_head('/auth/any/orders', "X-Api-Key: $BAD", 'Expect: 100-continue',
                       'Content-Length: ' . length $body);
    my $t0 = Time::HiRes::time();
    my $r = read_responses($s, want => 1, timeout => 5);
    my $took = Time::HiRes::time() - $t0;
    my @res = @{ $r->{responses} };
    is_deeply([ map { $_->code } @res ], [401],
              'Expect: 100-continue with a bad key: a 401 and no 100 Continue before it')
        or diag "read: " . substr($r->{raw}, 0, 300);
    problem_ok($res[0] || HTTP::Response->new(0), 401, 'Expect: 100-continue with a bad key: 401 problem+json');
    cmp_ok($took, '<', 3, 'the 401 is sent without waiting for the body');
    my $close = $r->{eof} || grep { /\bclose\b/i } ($res[0] ? $res[0]->header('Connection') : ());
    ok($close, 'Expect: 100-continue with a bad key: the connection is closed (body unread)');

    syswrite($s, $body . next_request($i));    # may fail: the server closed
    my $r2 = read_responses($s, timeout => 5);
    close $s;
    my @more = @{ $r2->{responses} };
    ok(!@more || (@more == 1 && $more[0]->code == 200
                  && (echo_json($more[0]) || {})->{path} eq next_path($i)),
       'body sent after the 401: no answer, or only the GET answered as itself')
        or diag join ' ', map { $_->code } @more;
    is_deeply([ seen_smuggled($i) ], [], 'body sent after the 401: never parsed as a request');
    is(echo_hits() - $hits0, scalar @more, 'body sent after the 401: the upstream saw no smuggled request');
}

# Body sent at once behind an Expect: 100-continue header, pipelined GET.
{
    my $i = ++$n;
    my $body = smuggled_request($i);
    my $hits0 = echo_hits();
    my $s = raw_connect();
    print $s post_head('/auth/any/orders', "X-Api-Key: $BAD", 'Expect: 100-continue',
                       'Content-Length: ' . length $body) . $body . next_request($i);
    my $r = read_responses($s);
    close $s;
    my @res = @{ $r->{responses} };
    my $ok_next = @res == 1 || (@res == 2 && $res[1]->code == 200
                  && (echo_json($res[1]) || {})->{path} eq next_path($i));
    ok(@res && $res[0]->code == 401 && $ok_next && $r->{eof},
       'Expect: 100-continue, body sent at once, bad key: 401, then the GET or a close')
        or diag join(' ', map { $_->code } @res) . " eof $r->{eof}";
    is_deeply([ seen_smuggled($i) ], [], 'Expect: 100-continue, body at once: body never parsed as a request');
    is(echo_hits() - $hits0, @res - 1, 'Expect: 100-continue, body at once: the upstream saw only the GET');
}

# Control: with a valid key the client does get its 100 and the body goes up.
{
    my $i = ++$n;
    my $body = smuggled_request($i);
    my $s = raw_connect();
    print $s post_head("/auth/any/$M-expect-ok", "X-Api-Key: $K1", 'Expect: 100-continue',
                       'Connection: close', 'Content-Length: ' . length $body);
    my $r = read_responses($s, upto => 1, timeout => 5);
    my @interim = map { $_->code } @{ $r->{responses} };
    syswrite($s, $body);
    my $r2 = read_responses($s);
    close $s;
    my @res = (@{ $r->{responses} }, @{ $r2->{responses} });
    is_deeply(\@interim, [100], 'control: Expect: 100-continue with a valid key gets 100 Continue')
        or diag "got: @interim";
    is(($res[-1] ? echo_json($res[-1]) || {} : {})->{body}, $body,
       'control: after the 100 the body reaches the upstream as a body');
}
