# TRACE is off (THREATS 2.2 K5): a TRACE echo would hand the client the
# request as the server saw it, identity headers and credentials included.
# Every TRACE - authenticated or anonymous, proxied or local, with
# Max-Forwards: 0 (mod_proxy answers those itself), with a body, in a
# virtual host - is refused with 405, reflects nothing of the request and
# never reaches the upstream.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Vip::Test;

plan tests => 12, need_vip_auth();

my $K1  = apikey('acme-k1');
my $JWT = jwt({ alg => 'ES256' }, claims(), 'ec256');
my $MARK  = "trace-mark-$$";
my $EVIL  = "evil-tenant-$$";
my $COOKIE = "sess-$$-secret";
my $nocache_port = Apache::Test::config()->{vhosts}{vip_nocache}{port}
    or die 'no port for the vip_nocache virtual host';

# What must never come back: the credentials, the spoofed identity, the
# marker header and cookie, any X-Vip- header name or the forwarded tenant.
my @SECRETS = ($K1, (split /\./, $K1, 2)[1], $JWT, $MARK, $EVIL, $COOKIE);

sub trace {
    my ($path, %o) = @_;
    my $proto = $o{proto} || 'HTTP/1.1';
    my $req = "TRACE $path $proto\r\nHost: localhost\r\n";
    $req .= "X-Api-Key: $K1\r\n" if $o{key};
    $req .= "Authorization: Bearer $JWT\r\n" if $o{jwt};
    $req .= "Max-Forwards: $o{maxfwd}\r\n" if defined $o{maxfwd};
    $req .= "X-Vip-Tenant: $EVIL\r\nX-Tenant-Id: $EVIL\r\nX-Trace-Mark: $MARK\r\n" .
            "Cookie: s=$COOKIE\r\n";
    if (defined $o{body}) {
        $req .= "Content-Type: message/http\r\nContent-Length: " . length($o{body}) .
                "\r\n";
    }
    $req .= "Connection: close\r\n\r\n";
    $req .= $o{body} if defined $o{body};
    my ($res, $hits) = with_hits { raw_http($req, port => $o{port}) };
    return ($res, $hits);
}

sub refused_ok {
    my ($name, $want, $res, $hits) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $wname = ref $want ? join(' or ', @$want) : $want;
    subtest "TRACE $name: $wname, nothing reflected, upstream untouched" => sub {
        Test::More::plan(tests => 5);
        my $code = $res ? $res->code : 0;
        ok((grep { $code == $_ } ref $want ? @$want : $want), "status $wname")
            or diag "got " . ($res ? $res->status_line : 'no answer');
        unlike($res ? $res->header('Content-Type') // '' : '', qr{^message/http}i,
               'the response is not a message/http echo');
        my $all = $res ? $res->headers->as_string . "\n" . ($res->content // '') : '';
        my @leaked = grep { index($all, $_) >= 0 } @SECRETS;
        is_deeply(\@leaked, [], 'no credential, spoofed header or marker comes back');
        unlike($all, qr/x-vip-|\bacme\b/i, 'no identity header name or forwarded tenant comes back');
        is($hits, 0, 'the upstream is not called');
    };
}

refused_ok('on an authenticated location with a valid API key', 405,
           trace('/auth/any/trace', key => 1));
refused_ok('on a JWT location with a valid bearer token', 405,
           trace('/auth/jwt/trace', jwt => 1));
refused_ok('with a valid API key and Max-Forwards: 0', 405,
           trace('/auth/any/trace', key => 1, maxfwd => 0));
refused_ok('with a valid API key and a body', 405,
           trace('/auth/any/trace', key => 1, body => "GET /x HTTP/1.1\r\nHost: y\r\n\r\n"));
refused_ok('as HTTP/1.0 with a valid API key', 405,
           trace('/auth/any/trace', key => 1, proto => 'HTTP/1.0'));
refused_ok('on the no-cache virtual host with a valid API key', 405,
           trace('/auth/any/trace', key => 1, port => $nocache_port));
# vip answers before the handler: 401 for a missing credential is a refusal too
refused_ok('on an authenticated location without a credential', [401, 405],
           trace('/auth/any/trace'));
refused_ok('on the anonymous proxied location', 405, trace('/public/trace'));
refused_ok('on the anonymous location with Max-Forwards: 0', 405,
           trace('/public/trace', maxfwd => 0));
refused_ok('on the anonymous location with an API key', 405,
           trace('/public/trace', key => 1));
refused_ok('on a local (not proxied) document', 405, trace('/index.html', key => 1));
refused_ok('on an authenticated local document (SSI)', 405,
           trace('/auth/ssi/page.shtml', key => 1));
