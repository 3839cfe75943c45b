# Graceful restart under load (THREATS section 3, "graceful restart under
# load"), and a registry change taken up by a graceful restart.
#
#  1. Four forked clients send authenticated requests (API key and JWT in
#     turn; keep-alive and fresh connections mixed) for LOAD seconds while
#     the test httpd gets SIGUSR1 five times, a second apart.  Every request
#     must get 200 from the echo upstream with its own path and tenant acme.
#     As any HTTP client does (RFC 9112 9.3.1), a GET sent on a reused
#     keep-alive connection that the server closed before answering a byte
#     (old-generation children close their idle connections) is retried once
#     on a fresh connection; that is counted and shown (-v), not a failure.
#     Anything else - no answer on a fresh connection, a partial answer, a
#     non-200, a wrong body - is a failure.
#  2. Afterwards (one more quiet graceful restart) every child of the old
#     generations has exited, and the number of children, the parent's open
#     fds and its shared mappings (scoreboard) equal the baseline: nothing
#     grows with each restart.  The error log shows no crash and no vip
#     warning.
#  3. VipAuthRegistry is read at (re)start: a registry of the vip_graceful
#     virtual host (conf/auth.conf.in; it exists only while its file
#     state/graceful-tenants.json does) with acme active gives 200; the same
#     file with acme suspended plus a graceful restart gives 403.  A broken
#     registry is caught by `httpd -t` on the test server's own command line
#     - a graceful restart with it would make the parent exit, so the server
#     is not restarted with it and keeps serving.  The file is removed again
#     at the end (and in END if the test dies).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use File::Spec::Functions qw(catfile);
use File::Temp ();
use JSON ();
use POSIX ();
use Time::HiRes ();
use Vip::Keys ();
use Vip::LogScan ();
use Vip::Test;

plan tests => 29, need_vip_auth();

$SIG{PIPE} = 'IGNORE';

my $LOAD     = 6;    # seconds of load
my $CLIENTS  = 4;
my $RESTARTS = 5;

my $t_dir   = t_dir();
my $port    = Apache::Test::vars('port');
my $gport   = Apache::Test::config()->{vhosts}{vip_graceful}{port}
    or die 'no port for the vip_graceful virtual host (conf/auth.conf.in)';
my $REG     = catfile($t_dir, 'state', 'graceful-tenants.json');
my $P       = parent_pid();
my $log0    = error_log_size();
my $PARENT_PID = $$;    # the forked load clients must not run END

my $K1  = apikey('acme-k1');
my $HO  = apikey('hooli-k1');
my $JWT = jwt({ alg => 'ES256' }, claims(exp => time + 3600), 'ec256');

# ---- processes --------------------------------------------------------------

sub parent_pid {
    my $f = catfile(t_dir(), 'logs', 'httpd.pid');
    open my $fh, '<', $f or die "cannot read $f: $!";
    my $pid = <$fh> // '';
    chomp $pid;
    die "no pid in $f" unless $pid =~ /^\d+$/;
    return $pid;
}

# pids whose parent is $ppid
sub children {
    my $ppid = shift;
    opendir my $d, '/proc' or die "/proc: $!";
    my @kids;
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // next;
        # pid (comm) state ppid ...: comm may hold spaces and parentheses
        my ($rest) = $stat =~ /\)\s+(.*)$/s or next;
        my (undef, $pp) = split ' ', $rest;
        push @kids, $pid if $pp == $ppid;
    }
    return sort { $a <=> $b } @kids;
}

sub fds {
    my $pid = shift;
    opendir my $d, "/proc/$pid/fd" or return ();
    return map { readlink("/proc/$pid/fd/$_") // '?' } grep { /^\d+$/ } readdir $d;
}

sub shared_maps {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/maps" or return -1;
    return scalar grep { (split ' ')[1] =~ /s$/ } <$fh>;
}

# ---- restarts -----------------------------------------------------------------

sub resumed_count {
    my $off = shift;
    my $log = error_log_since($off);
    my @n = $log =~ /resuming normal operations/g;
    return scalar @n;
}

# SIGUSR1, then wait until the parent logged that the new generation runs.
sub graceful {
    my $off = error_log_size();
    kill USR1 => $P or die "cannot signal httpd $P: $!";
    my $end = Time::HiRes::time() + 15;
    while (Time::HiRes::time() < $end) {
        return 1 if resumed_count($off) >= 1;
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# Wait until the set of children stays the same for a second (the old
# generation has gone and the new one is up); returns it.
sub settle {
    my ($last, $stable) = ('', 0);
    my $end = Time::HiRes::time() + 20;
    while (Time::HiRes::time() < $end) {
        my $now = join ',', children($P);
        if ($now eq $last && length $now) { return split /,/, $now if ++$stable >= 5 }
        else { ($last, $stable) = ($now, 0) }
        Time::HiRes::sleep(0.2);
    }
    return split /,/, $last;
}

sub snapshot {
    my @kids = settle();
    return { children => \@kids, nkids => scalar @kids, fds => [ sort(fds($P)) ],
             nfds => scalar(fds($P)), shm => shared_maps($P) };
}

# ---- the load clients -------------------------------------------------------

sub check {
    my ($r, $path, $subject) = @_;
    my $res = $r->{responses}[0];
    return sprintf('no answer (eof %d, error %s, timeout %d, %d bytes)',
                   $r->{eof}, $r->{error} // '-', $r->{timeout}, length $r->{raw})
        unless $res;
    return 'status ' . $res->code unless $res->code == 200;
    my $doc = echo_json($res) or return 'not the echo JSON';
    return "path $doc->{path}" unless $doc->{path} eq $path;
    my $id = identity_of($doc);
    my $t = join ',', @{ $id->{tenant} };
    return "X-Vip-Tenant '$t'" unless $t eq 'acme';
    my $s = join ',', @{ $id->{subject} };
    return "X-Vip-Subject '$s'" unless $s eq $subject;
    return;
}

sub client {
    my ($c, $deadline, $out) = @_;
    my %st = (ok => 0, failed => 0, retried => 0, reused => 0, fresh => 0,
              failures => [], done => []);
    my ($sock, $i) = (undef, 0);
    while (Time::HiRes::time() < $deadline) {
        $i++;
        my $close = ($c + $i) % 3 == 0;    # every third request alone on its connection
        my $jwt = $i % 2;
        my $path = "/auth/any/graceful/c$c/r$i";
        my $req = "GET $path HTTP/1.1\r\nHost: localhost\r\n" .
                  ($jwt ? "Authorization: Bearer $JWT\r\n" : "X-Api-Key: $K1\r\n") .
                  ($close ? "Connection: close\r\n" : '') . "\r\n";
        my ($r, $err);
        for my $attempt (1, 2) {
            my $reused = $sock ? 1 : 0;
            if (!$sock) {
                $sock = eval { raw_connect(port => $port) };
                if (!$sock) { $err = "connect: $@"; last }
            }
            $st{ $reused ? 'reused' : 'fresh' }++;
            my $w = syswrite($sock, $req);
            $r = defined $w && $w == length $req
                ? read_responses($sock, want => 1, timeout => 15)
                : { responses => [], raw => '', eof => 0, timeout => 0,
                    error => 'write: ' . ($! || 'short') };
            if ($reused && $attempt == 1 && !@{ $r->{responses} } && $r->{raw} eq ''
                && !$r->{timeout}) {
                # the server closed the idle keep-alive connection under us
                close $sock;
                undef $sock;
                $st{retried}++;
                next;
            }
            last;
        }
        my $res = $r && $r->{responses}[0];
        if ($sock && (!$res || $close || $r->{eof} || $r->{error}
                      || grep { /\bclose\b/i } $res->header('Connection'))) {
            close $sock;
            undef $sock;
        }
        $err //= check($r, $path, $jwt ? 'user-1' : 'acme-k1');
        if ($err) {
            $st{failed}++;
            push @{ $st{failures} }, "client $c request $i ($path): $err"
                if @{ $st{failures} } < 10;
        }
        else {
            $st{ok}++;
            push @{ $st{done} }, Time::HiRes::time();
        }
    }
    open my $fh, '>', $out or die "$out: $!";
    print $fh JSON->new->encode(\%st);
    close $fh;
}

# ---- 1. restarts under load ----------------------------------------------------

my $base = do { graceful() or die 'httpd did not come back from a graceful restart'; snapshot() };
note sprintf 'baseline: %d children, parent %d fds, %d shared mappings',
    $base->{nkids}, $base->{nfds}, $base->{shm};

my $tmp = File::Temp::tempdir('vip-graceful-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $load_off = error_log_size();
my $deadline = Time::HiRes::time() + $LOAD;
my @pids;
for my $c (1 .. $CLIENTS) {
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        eval { client($c, $deadline, catfile($tmp, "client-$c.json")) };
        print STDERR "client $c: $@" if $@;
        POSIX::_exit($@ ? 1 : 0);
    }
    push @pids, $pid;
}

my (@sig_at, @fd_after, %seen_kids);
my $resumed_all = 1;
Time::HiRes::sleep(0.5);
for my $k (1 .. $RESTARTS) {
    $seen_kids{$_} = 1 for children($P);
    push @sig_at, Time::HiRes::time();
    $resumed_all &&= graceful();
    Time::HiRes::sleep(0.3);
    push @fd_after, scalar fds($P);
    $seen_kids{$_} = 1 for children($P);
    my $next = $sig_at[-1] + 1.0;
    my $wait = $next - Time::HiRes::time();
    Time::HiRes::sleep($wait) if $k < $RESTARTS && $wait > 0;
}
my @client_rc;
for my $pid (@pids) { waitpid($pid, 0); push @client_rc, $? }
$seen_kids{$_} = 1 for children($P);

my %tot = (ok => 0, failed => 0, retried => 0, reused => 0, fresh => 0);
my (@failures, @done);
for my $c (1 .. $CLIENTS) {
    my $f = catfile($tmp, "client-$c.json");
    my $st = -s $f ? JSON->new->decode(do { local $/; open my $fh, '<', $f or die; <$fh> })
                   : { failed => 1, failures => ["client $c wrote no result"] };
    $tot{$_} += $st->{$_} // 0 for keys %tot;
    push @failures, @{ $st->{failures} || [] };
    push @done, @{ $st->{done} || [] };
}
my $load_log = error_log_since($load_off);
my @sigusr1 = $load_log =~ /SIGUSR1 received/g;

is_deeply(\@client_rc, [ (0) x $CLIENTS ], "the $CLIENTS load clients ran to the end");
is(parent_pid(), $P, 'the parent httpd is the same process after the restarts');
ok(kill(0, $P), 'the parent httpd is alive');
ok($resumed_all && @sigusr1 == $RESTARTS,
   "$RESTARTS graceful restarts under load, each logged as done ('resuming normal operations')")
    or diag scalar(@sigusr1) . ' SIGUSR1 lines';
cmp_ok($tot{ok} + $tot{failed}, '>=', 200, 'the clients made at least 200 requests');
my @phase;
for my $k (0 .. $#sig_at) {
    my ($from, $to) = ($sig_at[$k], $k < $#sig_at ? $sig_at[$k + 1] : 9e9);
    push @phase, scalar grep { $_ >= $from && $_ < $to } @done;
}
ok(!grep({ $_ == 0 } @phase), 'requests were answered after every restart, before the next')
    or diag "answered per interval: @phase";
is($tot{failed}, 0, 'no failed request: every answer 200 from the echo with its path and tenant acme')
    or diag join "\n", @failures;
ok($tot{reused} > 0 && $tot{fresh} > 0, 'keep-alive and fresh connections were both used');
note sprintf "graceful under load: %d requests ok, %d failed, %d keep-alive retries " .
             "(%d on reused, %d on fresh connections); per interval: %s",
    @tot{qw(ok failed retried reused fresh)}, "@phase";
is_deeply(\@fd_after, [ ($base->{nfds}) x $RESTARTS ],
          "the parent's open fds after each restart under load equal the baseline ($base->{nfds})")
    or diag "after each restart: @fd_after";

# ---- 2. nothing left behind ----------------------------------------------------
my $after = do { graceful() or diag 'no resume after the quiet restart'; snapshot() };
my @left = grep { $seen_kids{$_} } @{ $after->{children} };
is_deeply(\@left, [], 'every child of the earlier generations has exited')
    or diag "still there: @left";
is($after->{nkids}, $base->{nkids}, "number of children back to the baseline ($base->{nkids})");
is($after->{nfds}, $base->{nfds}, "the parent's open fds equal the baseline ($base->{nfds})")
    or diag "before: @{ $base->{fds} }\nafter: @{ $after->{fds} }";
is($after->{shm}, $base->{shm}, "the parent's shared mappings equal the baseline ($base->{shm})");

# ---- 3. the registry is read again by a graceful restart ----------------------
# 013 owns this file: remove it whatever happens, or the vhost would outlive us
my $reg_written = 0;
END {
    if ($reg_written && $$ == $PARENT_PID && -e $REG) {
        unlink $REG;
        kill USR1 => $P if $P && kill(0, $P);
    }
}

sub write_registry {
    my ($edit, $raw) = @_;
    # a deep copy: registry() shares its jwt settings with Vip::Keys
    my $doc = JSON->new->decode(JSON->new->encode(Vip::Keys::registry(apikeys())));
    for my $i (@{ $doc->{issuers} }) {
        $i->{jwks_file} = catfile($t_dir, 'conf', $i->{jwks_file});
    }
    for my $t (@{ $doc->{tenants} }) {
        $t->{jwt}{jwks_file} = catfile($t_dir, 'conf', $t->{jwt}{jwks_file}) if $t->{jwt};
    }
    $edit->($doc) if $edit;
    my $text = defined $raw ? $raw : JSON->new->canonical->pretty->encode($doc);
    my $tmpf = "$REG.tmp.$$";
    open my $fh, '>', $tmpf or die "$tmpf: $!";
    print $fh $text;
    close $fh or die "$tmpf: $!";
    chmod 0644, $tmpf;
    rename $tmpf, $REG or die "rename $tmpf: $!";
    $reg_written = 1;
}

sub acme_status {
    my $status = shift;
    return sub { $_->{status} = $status for grep { $_->{id} eq 'acme' } @{ $_[0]{tenants} } };
}

# GET on a fresh connection to $p; (HTTP::Response or undef)
sub get_on {
    my ($p, $path, @h) = @_;
    my $s = eval { raw_connect(port => $p, timeout => 5) } or return;
    print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n" .
             join('', map { "$_\r\n" } @h) . "Connection: close\r\n\r\n";
    my $r = read_responses($s, timeout => 10);
    close $s;
    return $r->{responses}[0];
}

# The status on the vip_graceful vhost until it is $want (a restart just
# done may still leave an old-generation child answering for a moment).
sub until_status {
    my ($want, @h) = @_;
    my $end = Time::HiRes::time() + 10;
    my $res;
    while (1) {
        $res = get_on($gport, '/auth/graceful/reg', @h);
        last if ($res && $res->code == $want) || Time::HiRes::time() > $end;
        Time::HiRes::sleep(0.2);
    }
    return $res;
}

write_registry(acme_status('active'));
graceful();
my $res = until_status(200, "X-Api-Key: $K1");
ok($res && $res->code == 200 && join(',', identity_of($res)->{tenant}->@*) eq 'acme',
   'registry with acme active, after a graceful restart: acme-k1 gets 200 as acme on the vhost')
    or diag $res ? $res->status_line : 'no answer';
$res = get_on($gport, '/auth/graceful/reg', "Authorization: Bearer $JWT");
is($res && $res->code, 200, 'registry with acme active: a JWT of acme gets 200 on the vhost');

write_registry(acme_status('suspended'));
graceful();
$res = until_status(403, "X-Api-Key: $K1");
problem_ok($res || HTTP::Response->new(0), 403,
           'registry rewritten with acme suspended, after a graceful restart: acme-k1 gets 403');
my @again = map { my $r = get_on($gport, '/auth/graceful/reg', "X-Api-Key: $K1"); $r ? $r->code : 0 } 1 .. 5;
is_deeply(\@again, [ (403) x 5 ], 'acme suspended: the next 5 requests all get 403 (no old generation answers)');
$res = get_on($gport, '/auth/graceful/reg', "Authorization: Bearer $JWT");
is($res && $res->code, 403, 'acme suspended: a JWT of acme gets 403 on the vhost');
$res = get_on($gport, '/auth/graceful/reg', "X-Api-Key: $HO");
is($res && $res->code, 200, 'acme suspended: hooli, still active there, gets 200');
$res = get_on($port, '/auth/any/reg', "X-Api-Key: $K1");
is($res && $res->code, 200, "the main server's registry is unchanged: acme-k1 still 200 there");

# a broken registry: httpd -t on the test server's own command line says so
my @argv = do {
    open my $fh, '<', "/proc/$P/cmdline" or die "cmdline of $P: $!";
    local $/;
    split /\0/, scalar <$fh>;
};
my @cmd;
while (@argv) {
    my $a = shift @argv;
    if ($a eq '-k') { shift @argv; next }    # -k start
    push @cmd, $a;
}
# The broken file lives only for the length of `httpd -t`: were a run killed
# then, the next start of the suite would fail on it.
my ($out, $rc);
{
    my $restore = sub { write_registry(acme_status('suspended')) };
    local $SIG{INT}  = sub { $restore->(); die "interrupted\n" };
    local $SIG{TERM} = $SIG{INT};
    write_registry(undef, qq({"plans": ["gold"], "tenants": [ {"id": "acme", ));
    my $q = join ' ', map { "'$_'" } @cmd, '-t';
    $out = `$q 2>&1`;
    $rc = $? >> 8;
    $restore->();    # the last good file back before anything restarts
}
isnt($rc, 0, 'httpd -t with a broken vhost registry exits non-zero') or diag $out;
like($out, qr/line \d+ of \S*auth\.conf.*\n.*VipAuthRegistry \S*graceful-tenants\.json: /,
     'httpd -t names the config line, VipAuthRegistry and the broken file') or diag $out;
unlike($out, qr/Syntax OK/, 'httpd -t does not say Syntax OK');
$res = get_on($gport, '/auth/graceful/reg', "X-Api-Key: $K1");
is($res && $res->code, 403, 'the running server was not restarted: still the last good registry (403)');

# ---- clean up: the vhost goes away again ---------------------------------------
unlink $REG;
$reg_written = 0;
graceful();
my $gone = 0;
for (1 .. 50) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $gport,
                                  Proto => 'tcp', Timeout => 2);
    if (!$s) { $gone = 1; last }
    close $s;
    Time::HiRes::sleep(0.2);
}
ok($gone, 'registry file removed, graceful restart: the vip_graceful vhost no longer listens');
$res = get_on($port, '/auth/any/after', "X-Api-Key: $K1");
is($res && $res->code, 200, 'the main server answers 200 after all restarts');
my $end = snapshot();
is($end->{nfds}, $base->{nfds}, "after the registry restarts the parent's open fds equal the baseline")
    or diag "before: @{ $base->{fds} }\nafter: @{ $end->{fds} }";

# ---- the error log of this test ------------------------------------------------
my @lines = split /\n/, error_log_since($log0, 0.3);
my @fatal = grep { my $l = $_; grep { $l =~ $_ } @Vip::LogScan::FATAL } @lines;
my @vip = grep { /\[vip_[a-z]+:(?:warn|error|crit|alert|emerg)\]/ || /$Vip::LogScan::VIP_WARN/ } @lines;
is_deeply(\@fatal, [], 'error log: no crash or sanitizer report during the restarts')
    or diag join "\n", @fatal[0 .. ($#fatal > 9 ? 9 : $#fatal)];
is_deeply(\@vip, [], 'error log: no vip warning or error during the restarts')
    or diag join "\n", @vip[0 .. ($#vip > 9 ? 9 : $#vip)];
my @other = grep { /\[[a-z_]+:(?:warn|error|crit|alert|emerg)\]/ && !/\[vip_/ } @lines;
diag "other warnings during the restarts (not vip's):\n" . join "\n", @other[0 .. ($#other > 9 ? 9 : $#other)]
    if @other;
