# Admin mistakes fail `httpd -t` (THREATS 2.8, J18): each broken config is
# written to a temporary directory and checked with `httpd -t -f`; the run
# must exit non-zero and say which directive or file is wrong and why.  A
# good config says "Syntax OK".
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Crypt::PK::ECC ();
use Crypt::PK::RSA ();
use File::Copy ();
use File::Spec::Functions qw(catfile);
use File::Temp ();
use JSON ();
use Vip::Test;

my $J = JSON->new->canonical->pretty;
my $t_dir   = t_dir();
my $httpd   = Apache::Test::vars('httpd');
my $libexec = vip_var('libexecdir');
my $so      = catfile($t_dir, '..', 'mod_vip_auth', 'mod_vip_auth.so');

my $tmp = File::Temp::tempdir('vip-conftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub slurp { open my $fh, '<', $_[0] or die "$_[0]: $!"; local $/; scalar <$fh> }
sub spew  { open my $fh, '>', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh }

my $good_reg = JSON->new->decode(slurp(catfile($t_dir, 'conf', 'tenants.json')));
File::Copy::copy(catfile($t_dir, 'conf', $_), catfile($tmp, $_)) or die $!
    for qw(platform.jwks.json globex.jwks.json);

# a registry document: the good one changed by $edit
sub registry {
    my $edit = shift;
    my $r = JSON->new->decode(JSON->new->encode($good_reg));    # deep copy
    $edit->($r) if $edit;
    return $r;
}

# JWKS documents with one broken key (J18)
my $weak = Crypt::PK::RSA->new;
$weak->generate_key(128, 65537);                  # 1024 bits
my $weak_jwk = $weak->export_key_jwk('public', 1);
$weak_jwk->{kid} = 'weak';
my $ec = Crypt::PK::ECC->new;
$ec->generate_key('secp256r1');
my $off_curve = $ec->export_key_jwk('public', 1);
$off_curve->{kid} = 'offcurve';
{   # flip the last byte of y: the point leaves the curve
    my $y = b64url_decode($off_curve->{y});
    substr($y, -1, 1) = chr(ord(substr($y, -1, 1)) ^ 0x01);
    $off_curve->{y} = b64url($y);
}
my $good_ec = $ec->export_key_jwk('public', 1);
$good_ec->{kid} = 'dup';
my $ec2 = Crypt::PK::ECC->new;
$ec2->generate_key('secp256r1');
my $other_ec = $ec2->export_key_jwk('public', 1);
$other_ec->{kid} = 'dup';

my %JWKS = (
    'weak.jwks.json'     => { keys => [ $weak_jwk ] },
    'offcurve.jwks.json' => { keys => [ $off_curve ] },
    'shortoct.jwks.json' => { keys => [ { kty => 'oct', kid => 'short', k => b64url('s' x 16) } ] },
    'enc.jwks.json'      => { keys => [ { %$good_ec, kid => 'enc', use => 'enc' } ] },
    'dupkid.jwks.json'   => { keys => [ $good_ec, $other_ec ] },
    'empty.jwks.json'    => { keys => [] },
);
spew(catfile($tmp, $_), $J->encode($JWKS{$_})) for keys %JWKS;
spew(catfile($tmp, 'broken.jwks.json'), '{"keys": [');

sub with_jwks {
    my $file = shift;
    return registry(sub { $_[0]{issuers}[0]{jwks_file} = $file });
}

my $n = 0;
# [name, registry (hashref, raw string, or undef for "no such file"),
#  extra server config, per-directory config, [regexes the output must match]]
my @CASES = (
    ['registry file missing', undef, '', '',
        [qr/VipAuthRegistry|nosuch\.json/, qr/nosuch\.json/, qr/No such file|not found|cannot|can't|unable|does not exist|missing/i]],
    ['registry is not JSON', '{"plans": ["free", ', '', '',
        [qr/reg-\d+\.json|VipAuthRegistry/, qr/JSON|pars|syntax|invalid/i]],
    ['registry JSON is an array', '[]', '', '',
        [qr/reg-\d+\.json|VipAuthRegistry/, qr/object|tenants|plans|invalid|expected/i]],
    ['duplicate tenant id', registry(sub { push @{ $_[0]{tenants} }, { %{ $_[0]{tenants}[0] }, api_keys => [] } }), '', '',
        [qr/duplicate/i, qr/acme/]],
    ['duplicate key hash', registry(sub { $_[0]{tenants}[1]{api_keys}[0]{sha256} = $_[0]{tenants}[0]{api_keys}[0]{sha256} }), '', '',
        [qr/duplicate|already/i, qr/key|hash|sha256/i]],
    ['duplicate key id', registry(sub { $_[0]{tenants}[1]{api_keys}[0]{id} = 'acme-k1' }), '', '',
        [qr/duplicate|already/i, qr/acme-k1|key/i]],
    ['key hash of the wrong length', registry(sub { $_[0]{tenants}[0]{api_keys}[0]{sha256} = 'abc123' }), '', '',
        [qr/sha256|hash/i, qr/64|length|hex|invalid/i]],
    ['key hash not hex', registry(sub { $_[0]{tenants}[0]{api_keys}[0]{sha256} = 'z' x 64 }), '', '',
        [qr/sha256|hash/i, qr/hex|invalid/i]],
    ['tenant without plan', registry(sub { delete $_[0]{tenants}[0]{plan} }), '', '',
        [qr/plan/i, qr/acme|missing|required|no plan/i]],
    ['tenant with an unknown plan', registry(sub { $_[0]{tenants}[0]{plan} = 'platinum' }), '', '',
        [qr/plan/i, qr/platinum/]],
    ['tenant without id', registry(sub { delete $_[0]{tenants}[0]{id} }), '', '',
        [qr/\bid\b|tenant/i, qr/missing|required|invalid/i]],
    ['issuer JWKS file missing', with_jwks('nosuch.jwks.json'), '', '',
        [qr/nosuch\.jwks\.json/, qr/No such file|not found|cannot|can't|unable|does not exist|missing/i]],
    ['JWKS is not JSON', with_jwks('broken.jwks.json'), '', '',
        [qr/broken\.jwks\.json/, qr/JSON|pars|invalid/i]],
    ['JWKS with an RSA 1024 key', with_jwks('weak.jwks.json'), '', '',
        [qr/weak/, qr/1024|2048|too (?:small|short)|modulus|bits/i]],
    ['JWKS with an EC point off the curve', with_jwks('offcurve.jwks.json'), '', '',
        [qr/offcurve/, qr/curve|point|invalid/i]],
    ['JWKS with a 16-byte oct key', with_jwks('shortoct.jwks.json'), '', '',
        [qr/short/, qr/32|short|small|bytes|length/i]],
    ['JWKS with use "enc"', with_jwks('enc.jwks.json'), '', '',
        [qr/enc/, qr/use|enc|sig/i]],
    ['JWKS with a duplicate kid', with_jwks('dupkid.jwks.json'), '', '',
        [qr/dup/, qr/duplicate/i]],
    ['JWKS without keys', with_jwks('empty.jwks.json'), '', '',
        [qr/empty\.jwks\.json/, qr/no (?:usable )?keys?|not 0|at least|1\.\.\d+ keys/i]],
    ['VipAuthLeeway 301', registry(), '', 'VipAuthLeeway 301',
        [qr/VipAuthLeeway/, qr/300|301|range|max/i]],
    ['VipAuthLeeway -1', registry(), '', 'VipAuthLeeway -1',
        [qr/VipAuthLeeway/, qr/-1|range|negative|invalid/i]],
    ['VipAuthLeeway abc', registry(), '', 'VipAuthLeeway abc',
        [qr/VipAuthLeeway/, qr/abc|number|integer|invalid/i]],
    ['VipAuthTokenMaxSize 99999', registry(), '', 'VipAuthTokenMaxSize 99999',
        [qr/VipAuthTokenMaxSize/, qr/8192|99999|range|max/i]],
    ['VipAuthTokenMaxSize 0', registry(), '', 'VipAuthTokenMaxSize 0',
        [qr/VipAuthTokenMaxSize/, qr/\b0\b|range|min|positive|invalid/i]],
    ['VipAuthMethods foo', registry(), '', 'VipAuthMethods foo',
        [qr/VipAuthMethods/, qr/foo/]],
    ['VipAuthTokenCache -5', registry(), 'VipAuthTokenCache -5', '',
        [qr/VipAuthTokenCache/, qr/-5|negative|range|invalid/i]],
);

plan tests => 2 * @CASES + 5, need_vip_auth();
my @OUTPUTS;

sub write_conf {
    my ($reg_file, $server, $dir) = @_;
    my $mpm = -e "$libexec/mod_mpm_prefork.so"
        ? qq{<IfModule !mpm_prefork_module>\n<IfModule !mpm_event_module>\n<IfModule !mpm_worker_module>\n} .
          qq{LoadModule mpm_prefork_module "$libexec/mod_mpm_prefork.so"\n</IfModule>\n</IfModule>\n</IfModule>\n}
        : '';
    return conftest_write($tmp, ++$n, <<"EOF");
$mpm<IfModule !authn_core_module>
LoadModule authn_core_module "$libexec/mod_authn_core.so"
</IfModule>
<IfModule !authz_core_module>
LoadModule authz_core_module "$libexec/mod_authz_core.so"
</IfModule>
<IfModule !authz_user_module>
LoadModule authz_user_module "$libexec/mod_authz_user.so"
</IfModule>
LoadModule vip_auth_module "$so"
VipAuthRegistry "$reg_file"
$server
<Location "/api">
    AuthType Vip
    Require valid-user
    $dir
</Location>
EOF
}

sub configtest {
    my ($rc, $out) = conftest_run(shift);
    push @OUTPUTS, $out;
    return ($rc, $out);
}

for my $c (@CASES) {
    my ($name, $reg, $server, $dir, $res) = @$c;
    my $reg_file;
    if (!defined $reg) {
        $reg_file = catfile($tmp, 'nosuch.json');
    }
    else {
        $reg_file = catfile($tmp, "reg-" . ($n + 1) . ".json");
        spew($reg_file, ref $reg ? $J->encode($reg) : $reg);
    }
    my ($rc, $out) = configtest(write_conf($reg_file, $server, $dir));
    isnt($rc, 0, "$name: httpd -t fails") or diag $out;
    my @miss = grep { $out !~ $_ } @$res;
    ok(!@miss, "$name: the message names what and why")
        or diag "output:\n$out\nmissing: @miss";
}

# ---- good configs --------------------------------------------------------------
my $good = catfile($tmp, 'good.json');
spew($good, $J->encode(registry()));
my ($rc, $out) = configtest(write_conf($good, 'VipAuthTokenCache 0', join "\n    ",
    'VipAuthMethods apikey jwt', 'VipAuthLeeway 300', 'VipAuthTokenMaxSize 8192',
    'VipAuthRequireExp Off', 'VipAuthHideCredential Off', 'VipAuthForwardIdentity Off',
    'VipAuthApiKeyHeader X-Partner-Key'));
is($rc, 0, 'a good config: httpd -t exits 0') or diag $out;
like($out, qr/Syntax OK/, 'a good config: Syntax OK');

# the registry of this very test server
($rc, $out) = configtest(write_conf(catfile($t_dir, 'conf', 'tenants.json'), '', ''));
like($out, qr/Syntax OK/, 't/conf/tenants.json itself: Syntax OK') or diag $out;

# the suite's own generated httpd.conf
($rc, $out) = do {
    my $o = `"$httpd" -t -d "$t_dir" -f "$t_dir/conf/httpd.conf" 2>&1`;
    ($? >> 8, $o);
};
like($out, qr/Syntax OK/, 'the test server config t/conf/httpd.conf: Syntax OK') or diag $out;

# messages are formatted (apr_psprintf knows no %zu: APR_SIZE_T_FMT)
my @raw = grep { /%(?:z|ll|l|h)?[dusx]\b|%p\b/ } @OUTPUTS;
ok(!@raw, 'no unformatted printf conversion (%zu, %s, ...) in any message')
    or diag join '', @raw;
