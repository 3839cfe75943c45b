# THREATS 2.1, J1-J17 (and the J19 scheme cases): forged, malformed and
# out-of-policy tokens.  Table driven: each row is one subtest asserting
# what the client gets (401 problem + Bearer error="invalid_token", or 400
# from httpd's own header limit) and that the echo upstream saw nothing.
# A few positive controls prove the token builder itself is right.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Crypt::PK::RSA ();
use IO::Select ();
use IO::Socket::INET ();
use JSON ();
use MIME::Base64 ();
use Vip::Test;

my $J = JSON->new->canonical->allow_nonref;
my $now = time;

# Claims as a JSON string: the standard claims minus the keys given, then
# the given members with raw JSON values, in order (duplicates allowed).
sub cj {
    my @raw = @_;
    my %skip = map { $_->[0] => 1 } @raw;
    my $c = claims();
    my @parts = map { $J->encode($_) . ':' . $J->encode($c->{$_}) }
                grep { !$skip{$_} } sort keys %$c;
    push @parts, map { "\"$_->[0]\":$_->[1]" } @raw;
    return '{' . join(',', @parts) . '}';
}

my $attacker = Crypt::PK::RSA->new;
$attacker->generate_key(256, 65537);
my $attacker_jwk = $attacker->export_key_jwk('public', 1);
$attacker_jwk->{kid} = 'attacker';
my $rsa1_pem = key_obj('rsa1')->export_key_pem('public');
my $rsa1_der = key_obj('rsa1')->export_key_der('public');
my $ec256_pem = key_obj('ec256')->export_key_pem('public');

# a loopback listener: nothing may connect to it (J5)
my $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                     Listen => 5, Proto => 'tcp', ReuseAddr => 1)
    or die "listener: $!";
my $lurl = 'http://127.0.0.1:' . $listener->sockport;

my $rs = sub { jwt({ alg => 'RS256', %{ $_[0] || {} } }, $_[1] || claims(), 'rsa1') };
my $valid = $rs->();
my ($vh, $vp, $vs) = split /\./, $valid;

# segments helpers for J11
my $sig_bytes = b64url_decode($vs);
my $noncanon = sub {
    # flip unused low bits of the last char of a segment whose length % 4
    # is 2 or 3: decodes to the same bytes in a lenient decoder
    my $seg = shift;
    my $alpha = join '', 'A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '_';
    my $last = substr($seg, -1);
    my $v = index($alpha, $last);
    my $mask = length($seg) % 4 == 2 ? 0x0F : 0x03;
    return undef unless length($seg) % 4 >= 2 && ($v & $mask) == 0;
    substr($seg, -1) = substr($alpha, $v | 1, 1);
    return $seg;
};
my $pad_to_mod1 = sub { my $s = shift; $s .= 'A' while length($s) % 4 != 1; $s };

# a payload whose base64url has '-' or '_' (to test '+' '/' substitutes)
my ($p_dash, $c_dash);
for my $i (1 .. 500) {
    $c_dash = claims(sub => "user-$i", note => '~~~???>>>' x ($i % 7));
    $p_dash = b64url($J->encode($c_dash));
    last if $p_dash =~ /[-_]/;
}
my $tok_dash = jwt({ alg => 'RS256' }, $c_dash, 'rsa1');

my @ROWS = (
    # ---- positive controls ------------------------------------------------
    [ 'control: valid RS256', $valid, 200 ],
    [ 'control: exp just inside the 30 s leeway', $rs->({}, claims(exp => $now - 20)), 200 ],
    [ 'control: nbf 10 s ahead (within leeway)', $rs->({}, claims(nbf => $now + 10)), 200 ],
    [ 'control: leeway 300 accepts exp 200 s ago', $rs->({}, claims(exp => $now - 200)), 200, '/auth/leeway300/x' ],
    [ 'control: VipAuthRequireExp Off accepts no exp', $rs->({}, claims(exp => undef)), 200, '/auth/noexp/x' ],
    [ 'control: ES256 under VipAuthTokenMaxSize 600', jwt({ alg => 'ES256' }, claims(), 'ec256'), 200, '/auth/small/x' ],

    # ---- J1 alg none and friends -----------------------------------------
    [ 'J1 alg none, empty signature', jwt({ alg => 'none' }, claims(), undef) ],
    [ 'J1 alg none with kid rsa1, RS256 signature', jwt({ alg => 'none', kid => 'rsa1' }, claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg None', jwt({ alg => 'None' }, claims(), undef) ],
    [ 'J1 alg nOnE', jwt({ alg => 'nOnE' }, claims(), undef) ],
    [ 'J1 alg NONE', jwt({ alg => 'NONE' }, claims(), undef) ],
    [ 'J1 alg ""', jwt({ alg => '', kid => 'rsa1' }, claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg missing', jwt({ typ => 'JWT', kid => 'rsa1' }, claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg as number', jwt('{"alg":256,"kid":"rsa1"}', claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg as array', jwt('{"alg":["RS256"],"kid":"rsa1"}', claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg null', jwt('{"alg":null,"kid":"rsa1"}', claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg rs256 (case)', jwt({ alg => 'rs256' }, claims(), 'rsa1', alg => 'RS256') ],
    [ 'J1 alg unknown (RS1)', jwt({ alg => 'RS1' }, claims(), 'rsa1', alg => 'RS256') ],

    # ---- J2 HMAC with the public key --------------------------------------
    [ 'J2 HS256, kid rsa1, secret = RSA public PEM', jwt({ alg => 'HS256', kid => 'rsa1' }, claims(), 'rsa1', secret => $rsa1_pem) ],
    [ 'J2 HS256, kid rsa1, secret = RSA public DER', jwt({ alg => 'HS256', kid => 'rsa1' }, claims(), 'rsa1', secret => $rsa1_der) ],
    [ 'J2 HS256, no kid, secret = RSA public PEM', jwt({ alg => 'HS256', kid => undef }, claims(), 'rsa1', secret => $rsa1_pem) ],
    [ 'J2 HS256, kid ec256, secret = EC public PEM', jwt({ alg => 'HS256', kid => 'ec256' }, claims(), 'ec256', secret => $ec256_pem) ],

    # ---- J3 alg / key type mismatch ---------------------------------------
    [ 'J3 RS256 with the kid of an EC key', jwt({ alg => 'RS256', kid => 'ec256' }, claims(), 'rsa1') ],
    [ 'J3 ES256 with the kid of the RSA key', jwt({ alg => 'ES256', kid => 'rsa1' }, claims(), 'ec256') ],
    [ 'J3 ES384 with the kid of the P-256 key', jwt({ alg => 'ES384', kid => 'ec256' }, claims(), 'ec384') ],
    [ 'J3 ES256 with the kid of the P-384 key', jwt({ alg => 'ES256', kid => 'ec384' }, claims(), 'ec256') ],
    [ 'J3 EdDSA with the kid of the RSA key', jwt({ alg => 'EdDSA', kid => 'rsa1' }, claims(), 'ed1') ],
    [ 'J3 RS256 with the kid of the HMAC key', jwt({ alg => 'RS256', kid => 'hs1' }, claims(), 'rsa1') ],
    [ 'J3 HS256 with the kid of the Ed25519 key', jwt({ alg => 'HS256', kid => 'ed1' }, claims(), 'hs1') ],

    # ---- J4 kid games (signed with the real rsa1 key) ---------------------
    [ 'J4 kid ../../../dev/null', $rs->({ kid => '../../../dev/null' }) ],
    [ 'J4 kid ../../etc/passwd', $rs->({ kid => '../../etc/passwd' }) ],
    [ "J4 kid ' OR 1=1", $rs->({ kid => "' OR 1=1 --" }) ],
    [ 'J4 kid of 5 KB', $rs->({ kid => 'k' x 5000 }), 401, '/auth/big/x' ],
    [ 'J4 kid of 10 KB (over LimitRequestFieldSize)', $rs->({ kid => 'k' x 10240 }), 400 ],
    [ 'J4 kid rsa1 + embedded NUL', jwt('{"alg":"RS256","kid":"rsa1\u0000x"}', claims(), 'rsa1') ],
    [ 'J4 kid as number', jwt('{"alg":"RS256","kid":1}', claims(), 'rsa1') ],
    [ 'J4 kid as object', jwt('{"alg":"RS256","kid":{"kid":"rsa1"}}', claims(), 'rsa1') ],
    [ 'J4 kid as array', jwt('{"alg":"RS256","kid":["rsa1"]}', claims(), 'rsa1') ],
    [ 'J4 unknown kid', $rs->({ kid => 'nope' }) ],
    [ 'J4 kid RSA1 (case)', $rs->({ kid => 'RSA1' }) ],

    # ---- J5 keys carried by the token -------------------------------------
    [ 'J5 jku to a loopback listener, attacker key', jwt({ alg => 'RS256', kid => 'attacker', jku => "$lurl/jwks.json" }, claims(), $attacker) ],
    [ 'J5 x5u to a loopback listener, attacker key', jwt({ alg => 'RS256', kid => 'attacker', x5u => "$lurl/cert.pem" }, claims(), $attacker) ],
    [ 'J5 embedded jwk (attacker) with kid rsa1', jwt({ alg => 'RS256', kid => 'rsa1', jwk => $attacker_jwk }, claims(), $attacker) ],
    [ 'J5 embedded jwk (attacker), no kid', jwt({ alg => 'RS256', kid => undef, jwk => $attacker_jwk }, claims(), $attacker) ],
    [ 'J5 x5c with the attacker key', jwt({ alg => 'RS256', kid => undef, x5c => [ MIME::Base64::encode_base64($attacker->export_key_der('public'), '') ] }, claims(), $attacker) ],
    [ 'J5 attacker key with the kid rsa1', jwt({ alg => 'RS256', kid => 'rsa1' }, claims(), $attacker) ],

    # ---- J6 crit ----------------------------------------------------------
    [ 'J6 crit ["exp"]', $rs->({ crit => ['exp'], exp => $now + 60 }) ],
    [ 'J6 crit ["x-unknown"]', $rs->({ crit => ['x-unknown'], 'x-unknown' => 1 }) ],
    [ 'J6 crit []', $rs->({ crit => [] }) ],
    [ 'J6 crit "b64"', $rs->({ crit => 'b64', b64 => JSON::false }) ],

    # ---- J7 time claims ---------------------------------------------------
    [ 'J7 exp 60 s ago (leeway 30)', $rs->({}, claims(exp => $now - 60)) ],
    [ 'J7 exp 2 s ago with leeway 0', $rs->({}, claims(exp => $now - 2)), 401, '/auth/leeway0/x' ],
    [ 'J7 exp 400 s ago with leeway 300', $rs->({}, claims(exp => $now - 400)), 401, '/auth/leeway300/x' ],
    [ 'J7 nbf 120 s ahead', $rs->({}, claims(nbf => $now + 120)) ],
    [ 'J7 iat one hour ahead', $rs->({}, claims(iat => $now + 3600)) ],
    [ 'J7 exp missing (VipAuthRequireExp On)', $rs->({}, claims(exp => undef)) ],

    # ---- J8 NumericDate types ---------------------------------------------
    (map { [ "J8 exp $_->[0]", $rs->({}, cj([exp => $_->[1]])) ] }
        ['as string', '"9999999999"'], ['as float', '4102444800.5'],
        ['1e400', '1e400'], ['-1', '-1'], ['20 digits', '99999999999999999999'],
        ['NaN (bare)', 'NaN'], ['Infinity (bare)', 'Infinity'], ['true', 'true'],
        ['null', 'null'], ['array', '[4102444800]'], ['object', '{"t":4102444800}'],
        ['exponent form 4.1e9', '4.1e9']),
    [ 'J8 nbf as string', $rs->({}, cj([nbf => '"0"'])) ],
    [ 'J8 iat as string', $rs->({}, cj([iat => "\"$now\""])) ],

    # ---- J9 audience and issuer -------------------------------------------
    [ 'J9 aud missing', $rs->({}, claims(aud => undef)) ],
    [ 'J9 aud wrong', $rs->({}, claims(aud => 'other-api')) ],
    [ 'J9 aud array without vip-api', $rs->({}, claims(aud => ['other-api'])) ],
    [ 'J9 aud empty array', $rs->({}, claims(aud => [])) ],
    [ 'J9 aud number', $rs->({}, claims(aud => 1)) ],
    [ 'J9 iss wrong', $rs->({}, claims(iss => 'https://evil.test')) ],
    [ 'J9 iss with trailing slash', $rs->({}, claims(iss => "$PLATFORM_ISS/")) ],
    [ 'J9 iss missing', $rs->({}, claims(iss => undef)) ],

    # ---- J10 size ---------------------------------------------------------
    [ 'J10 token over 4 KB (VipAuthTokenMaxSize default)', $rs->({}, claims(pad => 'x' x 3600)) ],
    [ 'J10 RS256 token of ~700 bytes over VipAuthTokenMaxSize 600', $rs->({}, claims(pad => 'x' x 100)), 401, '/auth/small/x' ],
    [ 'J10 token of 9 KB (over LimitRequestFieldSize)', $rs->({}, claims(pad => 'x' x 7000)), 400 ],

    # ---- J11 base64url ----------------------------------------------------
    [ 'J11 "=" padding on the header', "$vh=.$vp.$vs" ],
    [ 'J11 "=" padding on the signature', "$vh.$vp.$vs==" ],
    [ 'J11 "+" "/" instead of "-" "_" in the payload', do { my ($h, $p, $s) = split /\./, $tok_dash; $p =~ tr{-_}{+/}; "$h.$p.$s" } ],
    [ 'J11 "+" "/" instead of "-" "_" in the signature', do { (my $s = $vs) =~ tr{-_}{+/}; "$vh.$vp.$s" } ],
    [ 'J11 space inside the payload', "$vh." . substr($vp, 0, 10) . ' ' . substr($vp, 10) . ".$vs" ],
    [ 'J11 length % 4 == 1 signature', "$vh.$vp." . $pad_to_mod1->($vs) ],
    [ 'J11 non-canonical trailing bits (signature)', do { my $s = $noncanon->($vs); defined $s ? "$vh.$vp.$s" : "$vh.$vp.${vs}A" } ],
    [ 'J11 empty header segment', ".$vp.$vs" ],
    [ 'J11 empty payload segment', "$vh..$vs" ],
    [ 'J11 "!" inside the signature', "$vh.$vp." . substr($vs, 0, 5) . '!' . substr($vs, 6) ],
    [ 'J11 percent-encoded dot', "$vh%2E$vp.$vs" ],

    # ---- J12 segments ----------------------------------------------------
    [ 'J12 two segments', "$vh.$vp" ],
    [ 'J12 four segments', "$valid.$vs" ],
    [ 'J12 five segments (JWE)', b64url('{"alg":"RSA-OAEP","enc":"A256GCM","kid":"rsa1"}') . '.' . b64url('k' x 256) . '.' . b64url('iv' x 6) . '.' . b64url('ct') . '.' . b64url('t' x 16) ],
    [ 'J12 HS256 with an empty signature', jwt({ alg => 'HS256' }, claims(), 'hs1', sig => '') ],
    [ 'J12 RS256 with an empty signature', "$vh.$vp." ],

    # ---- J13 ECDSA signature encodings --------------------------------------
    [ 'J13 ES256 signature in DER', jwt({ alg => 'ES256' }, claims(), 'ec256', der => 1) ],
    [ 'J13 ES256 signature of 63 bytes', do { my $t = jwt({ alg => 'ES256' }, claims(), 'ec256'); my ($h, $p, $s) = split /\./, $t; "$h.$p." . b64url(substr(b64url_decode($s), 0, 63)) } ],
    [ 'J13 ES256 signature of 65 bytes', do { my $t = jwt({ alg => 'ES256' }, claims(), 'ec256'); my ($h, $p, $s) = split /\./, $t; "$h.$p." . b64url(b64url_decode($s) . "\0") } ],
    [ 'J13 ES256 r = s = 0 (psychic signature)', jwt({ alg => 'ES256' }, claims(), 'ec256', sig => "\0" x 64) ],
    [ 'J13 ES384 with a 64-byte signature', jwt({ alg => 'ES384' }, claims(), 'ec384', sig => substr(sign_raw('ES384', 'ec384', 'x'), 0, 64)) ],
    [ 'J13 EdDSA signature of 63 bytes', do { my $t = jwt({ alg => 'EdDSA' }, claims(), 'ed1'); my ($h, $p, $s) = split /\./, $t; "$h.$p." . b64url(substr(b64url_decode($s), 0, 63)) } ],
    [ 'J13 RS256 signature with one bit flipped', do { my $b = $sig_bytes; substr($b, 100, 1) = chr(ord(substr($b, 100, 1)) ^ 1); "$vh.$vp." . b64url($b) } ],
    [ 'J13 payload changed after signing (tid)', do { my $p = b64url($J->encode(claims(tid => 'globex'))); "$vh.$p.$vs" } ],

    # ---- J14 duplicate members --------------------------------------------
    [ 'J14 header {"alg":"none","alg":"RS256"}', jwt('{"alg":"none","alg":"RS256","kid":"rsa1"}', claims(), 'rsa1', alg => 'RS256') ],
    [ 'J14 header {"alg":"HS256","alg":"none"}', jwt('{"alg":"HS256","alg":"none","kid":"hs1"}', claims(), 'hs1', alg => 'HS256') ],
    [ 'J14 header with two kid', jwt('{"alg":"RS256","kid":"nope","kid":"rsa1"}', claims(), 'rsa1') ],
    [ 'J14 two sub claims', $rs->({}, cj([sub => '"evil"'], [sub => '"user-1"'])) ],
    [ 'J14 two tid claims', $rs->({}, cj([tid => '"globex"'], [tid => '"acme"'])) ],
    [ 'J14 two exp claims (expired first)', $rs->({}, cj([exp => $now - 3600], [exp => $now + 300])) ],
    [ 'J14 tid and t\\u0069d', $rs->({}, cj([tid => '"globex"'], ['t\\u0069d' => '"acme"'])) ],

    # ---- J15 claim types --------------------------------------------------
    [ 'J15 sub as number', $rs->({}, claims(sub => 42)) ],
    [ 'J15 sub as object', $rs->({}, claims(sub => { id => 'u' })) ],
    [ 'J15 sub as array', $rs->({}, claims(sub => ['user-1'])) ],
    [ 'J15 sub as bool', $rs->({}, claims(sub => JSON::true)) ],
    [ 'J15 sub empty', $rs->({}, claims(sub => '')) ],
    [ 'J15 tid as number', $rs->({}, claims(tid => 7)) ],
    [ 'J15 tid as array', $rs->({}, claims(tid => ['acme'])) ],
    [ 'J15 tid as object', $rs->({}, claims(tid => { id => 'acme' })) ],
    [ 'J15 scope as array', $rs->({}, claims(scope => ['orders:read'])) ],
    [ 'J15 scope as number', $rs->({}, claims(scope => 1)) ],

    # ---- J16 claim strings --------------------------------------------------
    [ 'J16 sub with CR LF and a header', $rs->({}, claims(sub => "u\r\nX-Vip-Tenant: globex")) ],
    [ 'J16 tid "acme\\u0000globex"', $rs->({}, cj([tid => '"acme\u0000globex"'])) ],
    [ 'J16 sub with NUL', $rs->({}, cj([sub => '"user\u0000admin"'])) ],
    [ 'J16 sub with invalid UTF-8', $rs->({}, cj([sub => "\"user\xff\xfe\""])) ],
    [ 'J16 sub with a space', $rs->({}, claims(sub => 'user 1')) ],
    [ 'J16 sub with a tab', $rs->({}, claims(sub => "user\t1")) ],
    [ 'J16 sub non-ASCII', $rs->({}, cj([sub => '"\u7528\u6237"'])) ],
    [ 'J16 tid ACME (case)', $rs->({}, claims(tid => 'ACME')) ],
    [ 'J16 tid with trailing space', $rs->({}, claims(tid => 'acme ')) ],
    [ 'J16 scope with CR LF', $rs->({}, claims(scope => "orders:read\r\nX-Evil: 1")) ],
    [ 'J16 1 MB sub (over LimitRequestFieldSize)', $rs->({}, claims(sub => 'u' x (1024 * 1024))), 400 ],

    # ---- J17 structure bombs --------------------------------------------------
    [ 'J17 100 nested arrays', $rs->({}, cj([x => ('[' x 100) . (']' x 100)])) ],
    [ 'J17 2000 nested arrays (under VipAuthTokenMaxSize 8192)', jwt({ alg => 'ES256' }, cj([x => ('[' x 2000) . (']' x 2000)]), 'ec256'), 401, '/auth/big/x' ],
    [ 'J17 10000 nested arrays', jwt({ alg => 'ES256' }, cj([x => ('[' x 10000) . (']' x 10000)]), 'ec256'), '400|401', '/auth/big/x' ],
    [ 'J17 100000 keys', jwt({ alg => 'ES256' }, cj(map { ["k$_" => 1] } 1 .. 100000), 'ec256'), '400|401', '/auth/big/x' ],

    # ---- J19 scheme and header shape ----------------------------------------
    [ 'J19 two Authorization lines', [ Authorization => "Bearer $valid", Authorization => "Bearer $valid" ] ],
    # no token at all: RFC 6750 3.1, no error code in the challenge
    [ 'J19 "Bearer" without token', [ Authorization => 'Bearer' ], 'nochallenge' ],
    [ 'J19 token followed by junk', [ Authorization => "Bearer $valid x" ] ],
    [ 'J19 token without scheme', [ Authorization => $valid ], 'nochallenge' ],
    [ 'J19 Basic credentials', [ Authorization => 'Basic dXNlcjpwYXNz' ], 'nochallenge' ],
);

plan tests => scalar(@ROWS) + 2, need_vip_auth();

for my $row (@ROWS) {
    my ($name, $tok, $expect, $path) = @$row;
    $expect //= 401;
    $path   //= '/auth/jwt/x';
    my @headers = ref $tok eq 'ARRAY' ? @$tok : (Authorization => "Bearer $tok");
    my ($res, $hits) = with_hits { GET $path, @headers };
    subtest $name => sub {
        if ($expect eq '200') {
            Test::More::plan(tests => 3);
            is($res->code, 200, '200') or diag $res->content;
            is_deeply(identity_of($res)->{tenant}, ['acme'], 'tenant acme');
            is($hits, 1, 'upstream called once');
        }
        elsif ($expect eq '400') {
            Test::More::plan(tests => 2);
            is($res->code, 400, '400 from httpd');
            is($hits, 0, 'upstream untouched');
        }
        elsif ($expect eq '400|401') {
            Test::More::plan(tests => 2);
            like($res->code, qr/^40[01]$/, '400 or 401');
            is($hits, 0, 'upstream untouched');
        }
        else {
            Test::More::plan(tests => 3);
            problem_ok($res, 401, '401 problem');
            if ($expect eq 'nochallenge') {
                ok(has_challenge($res, 'Bearer', realm => 'vip'), 'Bearer challenge');
            }
            else {
                ok(has_challenge($res, 'Bearer', realm => 'vip', error => 'invalid_token'),
                   'WWW-Authenticate: Bearer realm="vip", error="invalid_token"')
                    or diag join ' | ', www_authenticate($res);
            }
            is($hits, 0, 'upstream untouched');
        }
    };
}

# J5: the token's URLs were never fetched
my $sel = IO::Select->new($listener);
ok(!$sel->can_read(0.5), 'no connection to the jku/x5u listener');

# the server is still fine after all of it
my $res = GET '/auth/jwt/x', Authorization => "Bearer $valid";
is($res->code, 200, 'a valid token still works after the attack table');
