package Vip::Test;

# Helpers shared by the vip test files:
#   tokens      b64url, jwt(), claims(), sign_raw(), key_obj()
#   API keys    apikey($id) - the keys t/TEST.PL minted (t/keys/apikeys.json)
#   responses   problem_ok(), www_authenticate(), echo_json(), echo_headers(),
#               echo_values()
#   upstream    echo_hits(), echo_reset(), echo_conns(), echo_seen(),
#               echo_port(), echo_stop(), echo_start() (instances 1-3)
#   memcached   mc_get(), mc_set(), mc_delete(), mc_flush(), mc_cmd(),
#               mc_stats(), mc_stop(), mc_start() (two instances: $Vip::Test::MC)
#   logs        expect_log(), notes_for(), route_notes_for(),
#               error_log_since(), error_log_size()
#   raw HTTP    raw_http() for requests LWP cannot express
#
# Test files: use Apache::Test qw(-withtestmore); use Vip::Test;

use strict;
use warnings;

use Apache::Test ();
use Apache::TestRequest ();
use Crypt::Mac::HMAC ();
use Exporter 'import';
use File::Spec::Functions qw(catfile);
use HTTP::Response ();
use LWP::UserAgent ();
use IO::Socket::INET ();
use JSON ();
use Test::More ();
use Time::HiRes ();

use Vip::Keys ();
use Vip::LogScan ();
use Vip::Services ();

our @EXPORT = qw(
    b64url b64url_decode jwt claims globex_claims sign_raw key_obj key_secret
    apikey apikeys
    problem_ok www_authenticate has_challenge
    echo_json echo_headers echo_values echo_hits echo_reset with_hits
    echo_port echo_conns echo_seen echo_stop echo_start echo_which route_of
    identity_of scopes_set auth_get
    mc_get mc_set mc_delete mc_flush mc_cmd mc_stats mc_stop mc_start
    concurrent_gets
    expect_log notes_for route_notes_for log_fields_for error_log_size error_log_since
    conftest_write conftest_run conftest_load cache_counter
    raw_http req_id t_dir vip_var need_vip_auth need_vip_route
    need_vip_cache need_vip_limit
    $PLATFORM_ISS $GLOBEX_ISS $AUDIENCE
);

our $PLATFORM_ISS = $Vip::Keys::PLATFORM_ISS;
our $GLOBEX_ISS   = $Vip::Keys::GLOBEX_ISS;
our $AUDIENCE     = $Vip::Keys::AUDIENCE;

my $JSON = JSON->new->canonical->allow_nonref;

# local $_: the first call thaws Apache::Test's config, which runs
# while(<FH>) loops on $_ (fatal when $_ aliases a constant, as in map qw())
sub t_dir   { local $_; Apache::Test::vars('t_dir') }
sub vip_var { my $n = lc shift; local $_; Apache::Test::vars($n) }

# A condition for Apache::Test's plan: plan tests => N, need_vip_auth();
# skips the file when mod_vip_auth.so is not built (t/TEST.PL fails the run
# instead when VIP_REQUIRE_MODULES or CI is set).  The same for the others.
sub need_vip_module {
    my $m = shift;
    my $so = catfile(t_dir(), '..', "mod_vip_$m", "mod_vip_$m.so");
    return Apache::Test::need({ "mod_vip_$m.so is not built" => (-e $so ? 1 : 0) });
}
sub need_vip_auth  { need_vip_module('auth') }
sub need_vip_route { need_vip_module('route') }
sub need_vip_cache { need_vip_module('cache') }
sub need_vip_limit { need_vip_module('limit') }

# ---- tokens -------------------------------------------------------------

sub b64url        { Vip::Keys::b64url(@_) }
sub b64url_decode { Vip::Keys::b64url_decode(@_) }

my %KEYCACHE;
sub key_obj {
    my $name = shift;
    return $name if ref $name;
    return $KEYCACHE{$name} //= Vip::Keys::load_key(t_dir(), $name);
}
sub key_secret { key_obj(shift) }    # hs1: the raw HMAC secret

# Standard platform-issuer claims for tenant acme; override with key =>
# value, delete with key => undef.
sub claims {
    my %over = @_;
    my $now = time;
    my %c = (iss => $PLATFORM_ISS, aud => $AUDIENCE, tid => 'acme',
             sub => 'user-1', scope => 'orders:read catalog:read',
             iat => $now, exp => $now + 300);
    while (my ($k, $v) = each %over) {
        if (defined $v) { $c{$k} = $v } else { delete $c{$k} }
    }
    return \%c;
}

# Claims of globex's own issuer (no tenant claim).
sub globex_claims {
    return claims(iss => $GLOBEX_ISS, tid => undef, sub => 'g-user-7',
                  scope => 'catalog:read', @_);
}

my %HASH = (256 => 'SHA256', 384 => 'SHA384', 512 => 'SHA512');

# Raw signature bytes of $msg for JWA $alg with key $key (a key name or a
# CryptX object; for HS* also a raw secret through opt secret => ...).
# %opt: der => 1 gives an ECDSA signature in DER instead of JOSE r||s.
sub sign_raw {
    my ($alg, $key, $msg, %opt) = @_;
    if ($alg =~ /^HS(256|384|512)$/) {
        my $secret = exists $opt{secret} ? $opt{secret} : key_secret($key);
        return Crypt::Mac::HMAC::hmac($HASH{$1}, $secret, $msg);
    }
    my $pk = key_obj($key);
    if ($alg =~ /^RS(256|384|512)$/) {
        return $pk->sign_message($msg, $HASH{$1}, 'v1.5');
    }
    if ($alg =~ /^PS(256|384|512)$/) {
        return $pk->sign_message($msg, $HASH{$1}, 'pss', $1 / 8);
    }
    if ($alg =~ /^ES(256|384|512)$/) {
        return $opt{der} ? $pk->sign_message($msg, $HASH{$1})
                         : $pk->sign_message_rfc7518($msg, $HASH{$1});
    }
    if ($alg eq 'EdDSA') {
        return $pk->sign_message($msg);
    }
    die "sign_raw: cannot sign with alg '$alg'";
}

# jwt($header, $claims, $key, %opt): a compact JWS.
#  $header, $claims: hashref (encoded canonically) or a raw JSON string
#  (for duplicate members and other hand-made documents).  A hashref
#  header gets kid => $key unless it has a kid entry; kid => undef means
#  "no kid".  $key: key name (rsa1 ec256 ec384 ed1 hs1 globex1) or CryptX
#  object; undef gives an empty signature.
#  %opt: alg => signing alg (default: the header's alg)
#        sig => raw signature bytes, sig_b64 => literal third segment
#        header_b64 / payload_b64 => literal segments
#        der => 1 (ECDSA DER), secret => raw HMAC key
sub jwt {
    my ($header, $claims, $key, %opt) = @_;
    my ($hjson, $alg);
    if (ref $header) {
        my %h = %$header;
        if (!exists $h{kid}) { $h{kid} = $key if defined $key && !ref $key }
        elsif (!defined $h{kid}) { delete $h{kid} }
        $hjson = $JSON->encode(\%h);
        $alg = $h{alg};
    }
    else {
        $hjson = $header;
        my $h = eval { JSON->new->decode($header) };
        $alg = ref $h eq 'HASH' ? $h->{alg} : undef;
    }
    $alg = $opt{alg} if $opt{alg};
    my $cjson = ref $claims ? $JSON->encode($claims) : $claims;
    my $h64 = $opt{header_b64}  // b64url($hjson);
    my $p64 = $opt{payload_b64} // b64url($cjson);
    my $input = "$h64.$p64";
    my $sig = exists $opt{sig} ? $opt{sig}
            : (defined $key && defined $alg && !ref $alg
               && $alg =~ /^(?:[HRPE]S(?:256|384|512)|EdDSA)$/)
              ? sign_raw($alg, $key, $input, %opt)
              : '';
    my $s64 = $opt{sig_b64} // b64url($sig);
    return "$input.$s64";
}

# ---- API keys -----------------------------------------------------------

my $APIKEYS;
sub apikeys { $APIKEYS //= Vip::Keys::load_apikeys(t_dir()) }
sub apikey {
    my $id = shift;
    my $k = apikeys()->{$id} or die "no API key '$id' minted";
    return $k->{key};
}

# ---- responses ----------------------------------------------------------

# All WWW-Authenticate field values (each header line separately).
sub www_authenticate {
    my $res = shift;
    return $res->headers->header('WWW-Authenticate');
}

# Does a WWW-Authenticate value start with $scheme and carry the given
# auth-params (name => value, values compared exactly)?
sub has_challenge {
    my ($res, $scheme, %param) = @_;
    my @vals = www_authenticate($res);
    # a single header line may hold several challenges
    my @ch = map { split /,\s*(?=[A-Za-z][A-Za-z0-9!#\$%&'*+.^_`|~-]*\s+[A-Za-z0-9_-]+=|[A-Za-z][A-Za-z0-9-]*\s*$)/ } @vals;
    CH: for my $c (@ch) {
        next unless $c =~ /^\s*\Q$scheme\E(?:\s+|$)(.*)$/i;
        my $rest = $1;
        my %p;
        while ($rest =~ /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g) {
            $p{lc $1} = defined $2 ? $2 =~ s/\\(.)/$1/gr : $3;
        }
        for my $k (keys %param) {
            next CH unless defined $p{lc $k} && $p{lc $k} eq $param{$k};
        }
        return 1;
    }
    return 0;
}

# RFC 9457 body, status, Cache-Control: no-store; one test (a subtest).
sub problem_ok {
    my ($res, $status, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::subtest($name => sub {
        Test::More::plan(tests => 7);
        Test::More::is($res->code, $status, "status $status");
        Test::More::like($res->header('Content-Type') // '',
                         qr{^application/problem\+json\s*(?:;|$)}i,
                         'Content-Type application/problem+json');
        Test::More::like(join(',', $res->header('Cache-Control')), qr/\bno-store\b/,
                         'Cache-Control: no-store');
        my $doc = eval { JSON->new->decode($res->content) };
        Test::More::ok(ref $doc eq 'HASH', 'body is a JSON object')
            or Test::More::diag("body: " . substr($res->content // '', 0, 300));
        $doc = {} unless ref $doc eq 'HASH';
        Test::More::like($doc->{type} // '', qr/^urn:vip:problem:[a-z0-9._-]+$/,
                         'type is urn:vip:problem:...');
        Test::More::ok(defined $doc->{title} && !ref $doc->{title}
                       && length $doc->{title}, 'title is a string');
        Test::More::ok(defined $doc->{status} && !ref $doc->{status}
                       && $doc->{status} =~ /^\d+$/ && $doc->{status} == $status,
                       'status member equals the HTTP status');
    });
}

# ---- echo upstream ------------------------------------------------------

sub echo_json {
    my $res = shift;
    my $doc = eval { JSON->new->decode($res->content) };
    return ref $doc eq 'HASH' ? $doc : undef;
}

# [[name, value], ...] as the echo upstream received them.
sub echo_headers {
    my $res = shift;
    my $doc = ref $res eq 'HASH' ? $res : echo_json($res);
    return $doc ? $doc->{headers} : [];
}

# Values of the headers whose name equals $name case-insensitively (or
# matches $name when it is a qr//).
sub echo_values {
    my ($res, $name) = @_;
    my $h = echo_headers($res);
    return map { $_->[1] } grep {
        ref $name ? $_->[0] =~ $name : lc $_->[0] eq lc $name
    } @$h;
}

# The port of echo instance $n (1, 2 or 3; default 1).
sub echo_port {
    my $n = shift // 1;
    die "no echo instance $n" unless $n =~ /^[123]$/;
    return vip_var($n == 1 ? 'echo_port' : "echo${n}_port");
}

sub _echo_direct {
    my ($method, $path, $n) = @_;
    my $port = echo_port($n);
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "cannot reach echo on port $port: $!";
    print $s "$method $path HTTP/1.1\r\nHost: 127.0.0.1\r\n" .
             "Content-Length: 0\r\nConnection: close\r\n\r\n";
    local $/;
    my $raw = <$s>;
    close $s;
    my ($body) = $raw =~ /\r\n\r\n(.*)$/s;
    return JSON->new->decode($body);
}

# echo_hits($n), echo_reset($n): instance $n, default 1.  echo_reset also
# empties the instance's list of seen requests.
sub echo_hits  { _echo_direct(GET  => '/_hits', $_[0])->{hits} }
sub echo_reset { _echo_direct(POST => '/_reset', $_[0]); return 0 }

# Which echo instance (1, 2, 3) answered $res (an echo JSON response, or
# its decoded document); undef when none did.
sub echo_which {
    my $res = shift;
    my $doc = ref $res eq 'HASH' ? $res : echo_json($res);
    return undef unless $doc && $doc->{instance};
    for my $n (1 .. 3) {
        return $n if $doc->{instance} == echo_port($n);
    }
    return undef;
}

# The route that answered, as t/conf/route.conf.in shows it to the client
# (X-Test-Route, from the vip.route note); '' when none.
sub route_of { my $res = shift; return $res->header('X-Test-Route') // '' }

# TCP connections instance $n has accepted so far (this query's own
# connection included: it is counted when accepted).
sub echo_conns { _echo_direct(GET => '/_conns', $_[0])->{conns} }

# The request-targets instance $n received since its last reset, exactly
# as they came: [[method, target], ...], oldest first.
sub echo_seen  { @{ _echo_direct(GET => '/_seen', $_[0])->{seen} } }

# Failover tests: stop echo instance $n ($sig TERM by default, or KILL)
# until its port refuses connections, and start it again on the same port.
# The state file follows, so the end of the run stops the new process.
my %ECHO_KEY = (1 => 'echo', 2 => 'echo2', 3 => 'echo3');

sub _state_echo {
    my $n = shift // 1;
    my $key = $ECHO_KEY{$n} or die "no echo instance $n";
    my $state = Vip::Services::load_state(t_dir())
        or die "no services state: is the suite running?";
    return ($state, $key, $state->{$key});
}

sub echo_stop {
    my ($n, $sig) = @_;
    my ($state, $key, $svc) = _state_echo($n);
    if ($svc->{pid}) {
        if (($sig // 'TERM') eq 'KILL') {
            kill 'KILL', $svc->{pid};
        }
        Vip::Services::stop($svc);
    }
    my $end = Time::HiRes::time() + 5;
    while (Time::HiRes::time() < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $svc->{port},
                                      Proto => 'tcp', Timeout => 1);
        last unless $s;
        close $s;
        Time::HiRes::sleep(0.05);
    }
    $state->{$key} = { %$svc, pid => 0 };
    Vip::Services::save_state(t_dir(), $state);
    return 1;
}

sub echo_start {
    my $n = shift;
    my ($state, $key, $svc) = _state_echo($n);
    return 1 if $svc->{pid} && kill(0, $svc->{pid});
    my $new = Vip::Services::start_echo(t_dir(), port => $svc->{port},
                                        log => $svc->{log} || "$key.log");
    $state->{$key} = $new;
    Vip::Services::save_state(t_dir(), $state);
    return 1;
}

# my ($res, $hits) = with_hits { GET ... };  $hits: requests the echo
# upstream received meanwhile ("upstream untouched" is $hits == 0).
sub with_hits (&) {
    my $code = shift;
    my $before = echo_hits();
    my $res = $code->();
    return ($res, echo_hits() - $before);
}

# The identity headers the echo upstream received: name => [values].
sub identity_of {
    my $res = shift;
    my %id;
    for my $f (qw(Tenant Subject Scopes Plan)) {
        $id{lc $f} = [ echo_values($res, "X-Vip-$f") ];
    }
    return \%id;
}

# "b a c" -> "a b c" (scopes compared as sets)
sub scopes_set { join ' ', sort grep { length } split /\s+/, (shift // '') }

# GET with a credential: auth_get($path, jwt => $token | key => $apikey |
# bearer => $raw_authorization_value, headers...).
sub auth_get {
    my ($path, %a) = @_;
    my @h;
    push @h, Authorization => "Bearer $a{jwt}" if defined $a{jwt};
    push @h, 'X-Api-Key' => $a{key} if defined $a{key};
    delete @a{qw(jwt key)};
    return Apache::TestRequest::GET($path, @h, %a);
}

# ---- concurrency ----------------------------------------------------------

# concurrent_gets($module, $path, $n, \&line): $n GETs of $path on the
# vhost $module at once (one process each, 10 s timeout); returns what
# line($response) says of each, by default "<code> <Cache-Status>".
sub concurrent_gets {
    my ($module, $path, $n, $line) = @_;
    $line //= sub { join ' ', $_[0]->code, $_[0]->header('Cache-Status') // '' };
    my $url = Apache::TestRequest::module2url($module, { path => $path });
    my @kids;
    for my $i (1 .. $n) {
        pipe(my $rd, my $wr) or die $!;
        my $pid = fork // die $!;
        if (!$pid) {
            close $rd;
            my $res = LWP::UserAgent->new(timeout => 10)->get($url);
            print $wr $line->($res), "\n";
            close $wr;
            CORE::exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    my @out;
    for my $k (@kids) {
        my $fh = $k->[1];
        my $l = <$fh> // '';
        chomp $l;
        push @out, $l;
        waitpid($k->[0], 0);
    }
    return @out;
}

# ---- memcached (text protocol) ------------------------------------------

# Kill tests: stop memcached instance $n (1 or 2; SIGKILL with $sig 'KILL',
# SIGSTOP with 'STOP' for a blackhole, else SIGTERM) and start it again,
# empty, on the same port (or SIGCONT a stopped one).
my %MC_KEY = (1 => 'memcached', 2 => 'memcached2');

sub mc_stop {
    my ($n, $sig) = @_;
    my $key = $MC_KEY{$n // 1} or die "no memcached instance $n";
    my $state = Vip::Services::load_state(t_dir()) or die "no services state";
    my $svc = $state->{$key};
    if (($sig // '') eq 'STOP') {
        kill 'STOP', $svc->{pid};
        $state->{$key} = { %$svc, stopped => 1 };
        Vip::Services::save_state(t_dir(), $state);
        return 1;
    }
    kill 'KILL', $svc->{pid} if ($sig // 'TERM') eq 'KILL' && $svc->{pid};
    Vip::Services::stop($svc) if $svc->{pid};
    $state->{$key} = { %$svc, pid => 0 };
    Vip::Services::save_state(t_dir(), $state);
    return 1;
}

sub mc_start {
    my $n = shift // 1;
    my $key = $MC_KEY{$n} or die "no memcached instance $n";
    my $state = Vip::Services::load_state(t_dir()) or die "no services state";
    my $svc = $state->{$key};
    if ($svc->{stopped}) {
        kill 'CONT', $svc->{pid};
        delete $svc->{stopped};
    }
    elsif (!($svc->{pid} && kill(0, $svc->{pid}))) {
        $svc = Vip::Services::start_memcached(t_dir(), port => $svc->{port},
                                              log => "$key.log");
    }
    $state->{$key} = $svc;
    Vip::Services::save_state(t_dir(), $state);
    return 1;
}

# mc_* talk to instance 1; local $Vip::Test::MC = 2 for the second.
our $MC = 1;

sub _mc {
    my $port = vip_var($MC == 2 ? 'memcached2_port' : 'memcached_port');
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                 Proto => 'tcp', Timeout => 5)
        || die "cannot reach memcached on port $port: $!";
}

sub _mc_line {
    my $s = shift;
    my $l = <$s>;
    die "memcached closed the connection" unless defined $l;
    $l =~ s/\r\n$//;
    return $l;
}

# One command line, returns the reply lines up to END/STORED/... .
sub mc_cmd {
    my $cmd = shift;
    my $s = _mc();
    print $s "$cmd\r\n";
    my @out;
    while (defined(my $l = _mc_line($s))) {
        push @out, $l;
        last if $l =~ /^(?:END|STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|OK|ERROR|CLIENT_ERROR.*|SERVER_ERROR.*|VERSION .*|TOUCHED|\d+)$/;
    }
    close $s;
    return @out;
}

sub mc_set {
    my ($key, $val, $ttl, $flags) = @_;
    my $s = _mc();
    printf $s "set %s %d %d %d\r\n%s\r\n", $key, $flags // 0, $ttl // 0,
        length($val), $val;
    my $r = _mc_line($s);
    close $s;
    return $r eq 'STORED';
}

sub mc_get {
    my $key = shift;
    my $s = _mc();
    print $s "get $key\r\n";
    my $l = _mc_line($s);
    my $val;
    if ($l =~ /^VALUE \S+ \d+ (\d+)/) {
        read($s, $val, $1);
        _mc_line($s);    # rest of the data line
        _mc_line($s);    # END
    }
    close $s;
    return $val;
}

sub mc_delete { (mc_cmd("delete $_[0]"))[0] eq 'DELETED' }
sub mc_flush  { (mc_cmd('flush_all'))[0] eq 'OK' }
# memcached's own counters: name => value ("get_hits", "cmd_get", ...).
sub mc_stats  { my %s = map { /^STAT (\S+) (.*)$/ ? ($1, $2) : () } mc_cmd('stats'); \%s }

# ---- logs ---------------------------------------------------------------

# Declare an error_log line (warn or worse, with a VIP id) that this test
# provokes on purpose, so the end-of-run scan does not fail on it.
sub expect_log {
    my ($re) = @_;
    my $src = ref $re ? "$re" : quotemeta $re;
    open my $fh, '>>', Vip::LogScan::expected_file(t_dir()) or die $!;
    print $fh "$src\n";
    close $fh;
}

sub error_log_file { catfile(t_dir(), 'logs', 'error_log') }
sub error_log_size { (-s error_log_file()) || 0 }

# The error_log text written since byte offset $off (waits $wait seconds
# first so that lines of finished requests have landed).
sub error_log_since {
    my ($off, $wait) = @_;
    Time::HiRes::sleep($wait) if $wait;
    open my $fh, '<', error_log_file() or return '';
    seek $fh, $off, 0;
    local $/;
    return scalar(<$fh>) // '';
}

my $REQ_SEQ = 0;
# A unique request id for the X-Req-Id header (the vipnotes log key).
sub req_id { sprintf 'r%d-%d-%d', $$, time, ++$REQ_SEQ }

# The fields of a "|"-separated notes log of the test server (t/logs/$log)
# for the request whose first field is $id; waits up to $timeout seconds
# (default 5) for the line, as mod_log_config writes after the response.
# With $dash_empty, LogFormat's "-" for an unset note reads as "".
sub log_fields_for {
    my ($log, $fields, $id, $timeout, $dash_empty) = @_;
    my $file = catfile(t_dir(), 'logs', $log);
    my $end = Time::HiRes::time() + ($timeout // 5);
    while (1) {
        if (open my $fh, '<', $file) {
            while (my $l = <$fh>) {
                chomp $l;
                next unless index($l, "$id|") == 0;
                my %h;
                @h{@$fields} = split /\|/, $l, -1;
                if ($dash_empty) {
                    for (values %h) { $_ = '' if defined && $_ eq '-' }
                }
                return \%h;
            }
        }
        return undef if Time::HiRes::time() > $end;
        Time::HiRes::sleep(0.05);
    }
}

# The vipnotes log (LogFormat in conf/auth.conf.in) for X-Req-Id $id.
my @NOTE_FIELDS = qw(reqid status tenant subject scopes plan auth_method
                     key_id auth_result authorization api_key path);
sub notes_for { log_fields_for('vip_notes.log', \@NOTE_FIELDS, @_[0, 1], 0) }

# t/logs/vip_route_notes.log (LogFormat vip_route_notes in
# conf/route.conf.in) for the request with X-Req-Id $id.
my @ROUTE_NOTE_FIELDS = qw(reqid status route service route_result request_id
                           tenant method uri pid);
sub route_notes_for {
    log_fields_for('vip_route_notes.log', \@ROUTE_NOTE_FIELDS, @_[0, 1], 1);
}

# A counter of the current module's `SetHandler vip-cache-status` at
# /cache-status (-1 when it has none by that name).
sub cache_counter {
    my ($name) = @_;
    return Apache::TestRequest::GET('/cache-status')->content =~ /"\Q$name\E":(\d+)/ ? $1 : -1;
}

# ---- httpd -t of standalone configs ---------------------------------------

# LoadModule lines for a standalone `httpd -t` config: the event MPM unless
# an MPM is loaded, then each of @modules (e.g. 'authz_core') unless the
# httpd has it built in.
sub conftest_load {
    my @modules = @_;
    my $libexec = vip_var('libexecdir');
    my $load = qq{<IfModule !mpm_event_module>\n<IfModule !mpm_prefork_module>\n}
             . qq{<IfModule !mpm_worker_module>\n}
             . qq{LoadModule mpm_event_module "$libexec/mod_mpm_event.so"\n}
             . qq{</IfModule>\n</IfModule>\n</IfModule>\n};
    $load .= qq{<IfModule !${_}_module>\nLoadModule ${_}_module "$libexec/mod_$_.so"\n</IfModule>\n}
        for @modules;
    return $load;
}

# Write config number $i into $dir: the server lines every `httpd -t` test
# needs, then $body; returns the file's path.
sub conftest_write {
    my ($dir, $i, $body) = @_;
    my $conf = catfile($dir, "httpd-$i.conf");
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOF";
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:1
PidFile "$dir/httpd-$i.pid"
ErrorLog "$dir/error_log"
$body
EOF
    close $fh;
    return $conf;
}

# Run the test's httpd with -t on $conf: (exit status, output).  Debian's
# apache2 adds a line about its absent default httpd.conf; it is dropped.
sub conftest_run {
    my ($conf) = @_;
    my $httpd = Apache::Test::vars('httpd');
    my $out = `"$httpd" -t -f "$conf" 2>&1`;
    my $rc = $? >> 8;
    $out = join "\n", grep { !/Could not open configuration file .*httpd\.conf/ } split /\n/, $out;
    return ($rc, $out);
}

# ---- raw HTTP -------------------------------------------------------------

# Send $bytes as they are to the test server; returns an HTTP::Response
# (undef when the server closed without answering).  $bytes should ask for
# Connection: close.
sub raw_http {
    my ($bytes, %opt) = @_;
    my $host = Apache::Test::vars('servername') || 'localhost';
    my $port = $opt{port} || Apache::Test::vars('port');
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or die "cannot connect to $host:$port: $!";
    $s->autoflush(1);
    print $s $bytes;
    local $/;
    my $raw = <$s> // '';
    close $s;
    return undef unless length $raw;
    my $res = HTTP::Response->parse($raw);
    return $res;
}

# ---- raw HTTP/1.1 exchanges (t/auth/011, 013) ---------------------------
# For what raw_http() cannot show: pipelined requests on one connection,
# interim (1xx) responses, and whether the server closed the connection.
#
#   my $s = raw_connect();                    # or raw_connect(port => ...)
#   print $s $bytes;
#   my $r = read_responses($s, want => 2);
#   $r->{responses}  HTTP::Response objects in order, 1xx included
#   $r->{eof}        the server closed the connection (after them)
#   $r->{error}      a read error instead (e.g. "Connection reset by peer")
#   $r->{timeout}    stopped waiting: nothing came for $opt{timeout} s
#   $r->{rest}       bytes after the last complete response
#   $r->{raw}        everything read
# Without want, reads until the server closes (or the timeout, default 10 s);
# upto => N stops after N responses, interim ones included.

use IO::Select ();

push @EXPORT, qw(raw_connect read_responses);

sub raw_connect {
    my %opt = @_;
    my $port = $opt{port} || Apache::Test::vars('port');
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $opt{timeout} || 10)
        or die "cannot connect to 127.0.0.1:$port: $!";
    $s->autoflush(1);
    binmode $s;
    return $s;
}

# One response at the start of $$buf: (HTTP::Response, bytes used), or ()
# when it is not complete yet, or (undef, -1) when it is not HTTP.
sub _parse_response {
    my ($buf, $eof) = @_;
    my $hend = index($$buf, "\r\n\r\n");
    return if $hend < 0;
    my $head = substr($$buf, 0, $hend);
    return (undef, -1) unless $head =~ m{^HTTP/\d\.\d (\d{3})};
    my $code = $1;
    my $res = HTTP::Response->parse($head);
    my $pos = $hend + 4;
    my $body = '';
    my $te = lc join ',', $res->header('Transfer-Encoding');
    if ($code =~ /^1/ || $code == 204 || $code == 304) {
        # no content
    }
    elsif ($te =~ /\bchunked\b/) {
        while (1) {
            my $le = index($$buf, "\r\n", $pos);
            return if $le < 0;
            my ($size) = substr($$buf, $pos, $le - $pos) =~ /^([0-9a-fA-F]+)/;
            return (undef, -1) unless defined $size;
            $size = hex $size;
            $pos = $le + 2;
            if ($size == 0) {
                while (1) {    # trailer fields up to the empty line
                    my $tl = index($$buf, "\r\n", $pos);
                    return if $tl < 0;
                    my $empty = $tl == $pos;
                    $pos = $tl + 2;
                    last if $empty;
                }
                last;
            }
            return if length($$buf) < $pos + $size + 2;
            $body .= substr($$buf, $pos, $size);
            $pos += $size + 2;
        }
    }
    elsif (defined(my $cl = $res->header('Content-Length'))) {
        return (undef, -1) unless $cl =~ /^\d+$/;
        return if length($$buf) < $pos + $cl;
        $body = substr($$buf, $pos, $cl);
        $pos += $cl;
    }
    else {
        return unless $eof;    # delimited by the close
        $body = substr($$buf, $pos);
        $pos = length $$buf;
    }
    $res->content($body);
    return ($res, $pos);
}

sub read_responses {
    my ($s, %opt) = @_;
    my $timeout = $opt{timeout} // 10;
    my %r = (responses => [], eof => 0, error => undef, timeout => 0,
             rest => '', raw => '');
    my $buf = '';
    my $final = 0;
    my $sel = IO::Select->new($s);
    while (1) {
        while (length $buf) {
            my ($res, $used) = _parse_response(\$buf, $r{eof} || $r{error});
            last unless $used;
            if ($used < 0) { $r{error} //= 'not an HTTP response'; last }
            push @{ $r{responses} }, $res;
            substr($buf, 0, $used) = '';
            $final++ if $res->code !~ /^1/;
        }
        last if $r{eof} || $r{error};
        last if $opt{want} && $final >= $opt{want};
        last if $opt{upto} && @{ $r{responses} } >= $opt{upto};
        if (!$sel->can_read($timeout)) { $r{timeout} = 1; last }
        my $n = sysread($s, my $chunk, 65536);
        if (!defined $n) { $r{error} = "$!"; next }
        if ($n == 0) { $r{eof} = 1; next }
        $buf .= $chunk;
        $r{raw} .= $chunk;
    }
    $r{rest} = $buf;
    return \%r;
}

1;
