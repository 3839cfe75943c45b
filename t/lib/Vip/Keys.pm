package Vip::Keys;

# Test key material and the tenant registry of the vip test suite.
#
# ensure($t_dir) creates, when absent, the private keys in t/keys/ (RSA 2048
# "rsa1", EC P-256 "ec256", EC P-384 "ec384", Ed25519 "ed1", a 64-byte HMAC
# secret "hs1", the ES256 key "globex1" of globex's own issuer) and the API
# keys minted for each tenant (t/keys/apikeys.json), then (re)writes the
# public JWKS files and t/conf/tenants.json from them.  t/keys/ is private to
# the user running the suite; httpd only reads t/conf/*.json.

use strict;
use warnings;

use Crypt::PK::RSA ();
use Crypt::PK::ECC ();
use Crypt::PK::Ed25519 ();
use Crypt::PRNG ();
use Digest::SHA ();
use File::Path ();
use File::Spec::Functions qw(catfile);
use JSON ();
use MIME::Base64 ();

our $PLATFORM_ISS = 'https://auth.vip.test';
our $GLOBEX_ISS   = 'https://idp.globex.test';
our $AUDIENCE     = 'vip-api';

# name => [kind, generator argument, alg family for JWKS]
our %KEYS = (
    rsa1    => ['RSA', 2048],
    ec256   => ['EC',  'secp256r1'],
    ec384   => ['EC',  'secp384r1'],
    ed1     => ['OKP', 'Ed25519'],
    hs1     => ['oct', 64],
    globex1 => ['EC',  'secp256r1'],
);

# Which JWKS file publishes which key.
our %JWKS = (
    'platform.jwks.json' => [qw(rsa1 ec256 ec384 ed1 hs1)],
    'globex.jwks.json'   => [qw(globex1)],
);

# The tenants of the registry.  Keys: id => {tenant, scopes?}.
our @TENANTS = (
    { id => 'acme', plan => 'gold', status => 'active',
      scopes => [qw(orders:read orders:write catalog:read)],
      keys => [ { id => 'acme-k1' },
                { id => 'acme-ro', scopes => ['orders:read'] } ] },
    { id => 'globex', plan => 'free', status => 'active',
      scopes => ['catalog:read'],
      jwt => { issuer => $GLOBEX_ISS, audience => $AUDIENCE,
               jwks_file => 'globex.jwks.json' },
      keys => [ { id => 'globex-k1' } ] },
    { id => 'initech', plan => 'silver', status => 'suspended',
      scopes => ['catalog:read'],
      keys => [ { id => 'initech-k1' } ] },
    { id => 'hooli', plan => 'silver', status => 'active',
      scopes => [qw(catalog:read orders:read)],
      keys => [ { id => 'hooli-k1' } ] },
);

sub b64url {
    my $s = MIME::Base64::encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub b64url_decode {
    my $s = shift;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return MIME::Base64::decode_base64($s);
}

sub keys_dir { catfile($_[0], 'keys') }

sub key_file {
    my ($t_dir, $name) = @_;
    my $kind = $KEYS{$name}[0] or die "unknown key $name";
    return catfile(keys_dir($t_dir), $kind eq 'oct' ? "$name.b64" : "$name.pem");
}

sub _write {
    my ($file, $data, $mode) = @_;
    my $tmp = "$file.tmp.$$";
    open my $fh, '>', $tmp or die "cannot write $tmp: $!";
    binmode $fh;
    print $fh $data;
    close $fh or die "cannot write $tmp: $!";
    chmod $mode, $tmp if defined $mode;
    rename $tmp, $file or die "cannot rename $tmp to $file: $!";
}

sub _read {
    my $file = shift;
    open my $fh, '<', $file or die "cannot read $file: $!";
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

# Load a key: a CryptX object, or the raw secret for "oct" keys.
sub load_key {
    my ($t_dir, $name) = @_;
    my $kind = $KEYS{$name}[0] or die "unknown key $name";
    my $file = key_file($t_dir, $name);
    if ($kind eq 'oct') {
        return b64url_decode(_read($file) =~ s/\s+//gr);
    }
    my $pem = _read($file);
    return Crypt::PK::RSA->new(\$pem)     if $kind eq 'RSA';
    return Crypt::PK::ECC->new(\$pem)     if $kind eq 'EC';
    return Crypt::PK::Ed25519->new(\$pem) if $kind eq 'OKP';
    die "bad kind $kind";
}

sub _generate {
    my ($t_dir, $name) = @_;
    my ($kind, $arg) = @{ $KEYS{$name} };
    my $file = key_file($t_dir, $name);
    if ($kind eq 'oct') {
        _write($file, b64url(Crypt::PRNG::random_bytes($arg)) . "\n", 0600);
        return;
    }
    my $pk = $kind eq 'RSA' ? Crypt::PK::RSA->new
           : $kind eq 'EC'  ? Crypt::PK::ECC->new
           :                  Crypt::PK::Ed25519->new;
    if ($kind eq 'RSA') { $pk->generate_key($arg / 8, 65537) }
    elsif ($kind eq 'EC') { $pk->generate_key($arg) }
    else { $pk->generate_key }
    _write($file, $pk->export_key_pem('private'), 0600);
}

# The public JWK of a key (kid = key name).  No "alg": a key allows every
# algorithm of its family, so rsa1 serves RS* and PS*, hs1 HS256/384/512.
sub public_jwk {
    my ($t_dir, $name) = @_;
    my $kind = $KEYS{$name}[0];
    my $jwk;
    if ($kind eq 'oct') {
        $jwk = { kty => 'oct', k => b64url(load_key($t_dir, $name)) };
    }
    else {
        $jwk = load_key($t_dir, $name)->export_key_jwk('public', 1);
    }
    $jwk->{kid} = $name;
    $jwk->{use} = 'sig';
    return $jwk;
}

sub apikeys_file { catfile(keys_dir($_[0]), 'apikeys.json') }

sub mint_api_key {
    my $id = shift;
    return $id . '.' . b64url(Crypt::PRNG::random_bytes(32));
}

sub load_apikeys {
    my $t_dir = shift;
    return JSON->new->decode(_read(apikeys_file($t_dir)));
}

sub sha256_hex { Digest::SHA::sha256_hex($_[0]) }

# Create what is missing; rewrite the derived public files.
sub ensure {
    my $t_dir = shift;
    my $kdir = keys_dir($t_dir);
    my $conf = catfile($t_dir, 'conf');
    File::Path::make_path($kdir, { mode => 0700 }) unless -d $kdir;
    chmod 0700, $kdir;
    File::Path::make_path($conf) unless -d $conf;

    for my $name (sort keys %KEYS) {
        _generate($t_dir, $name) unless -s key_file($t_dir, $name);
    }

    my $api = -s apikeys_file($t_dir) ? load_apikeys($t_dir) : {};
    my $changed = 0;
    for my $t (@TENANTS) {
        for my $k (@{ $t->{keys} }) {
            next if $api->{ $k->{id} };
            $api->{ $k->{id} } = { tenant => $t->{id}, key => mint_api_key($k->{id}),
                                   ($k->{scopes} ? (scopes => $k->{scopes}) : ()) };
            $changed++;
        }
    }
    my $json = JSON->new->canonical->pretty;
    _write(apikeys_file($t_dir), $json->encode($api), 0600) if $changed;

    for my $file (sort keys %JWKS) {
        my $set = { keys => [ map { public_jwk($t_dir, $_) } @{ $JWKS{$file} } ] };
        _write(catfile($conf, $file), $json->encode($set), 0644);
    }

    _write(catfile($conf, 'tenants.json'), $json->encode(registry($api)), 0644);
    return $api;
}

# The registry document for the given minted keys.
sub registry {
    my $api = shift;
    my @tenants;
    for my $t (@TENANTS) {
        my %doc = (id => $t->{id}, plan => $t->{plan}, status => $t->{status},
                   scopes => $t->{scopes});
        $doc{jwt} = $t->{jwt} if $t->{jwt};
        $doc{api_keys} = [ map {
            +{ id => $_->{id}, sha256 => sha256_hex($api->{ $_->{id} }{key}),
               ($_->{scopes} ? (scopes => $_->{scopes}) : ()) }
        } @{ $t->{keys} } ];
        push @tenants, \%doc;
    }
    return {
        plans   => [qw(free silver gold)],
        issuers => [ { issuer => $PLATFORM_ISS, audience => $AUDIENCE,
                       jwks_file => 'platform.jwks.json', tenant_claim => 'tid' } ],
        tenants => \@tenants,
    };
}

1;
