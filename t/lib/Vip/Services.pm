package Vip::Services;

# The services the vip test suite runs beside httpd: a memcached and three
# instances of the echo upstream (t/backends/echo.py), each on a free
# 127.0.0.1 port, plus a port where nothing listens (dead_port()).
#
# start_memcached() and start_echo() launch them and return their ports and
# pids; stop() ends them (TERM, then KILL after a grace period).  A test may
# stop an echo instance and start it again on the same port (failover
# tests, Vip::Test::echo_stop/echo_start): the state file then names the
# new pid, and whoever stops the services reads it back
# (state_services()).  For a start-run-stop session a
# watchdog process holds the read end of a pipe whose write end only the
# caller holds: if the caller dies in any way (even SIGKILL) the watchdog
# sees EOF and stops the services, so no run leaves orphans behind.  For a
# long-lived server (t/TEST -start-httpd) the pids go to a state file that
# t/TEST -stop-httpd or -clean read back.

use strict;
use warnings;

use Errno ();
use File::Spec::Functions qw(catfile);
use IO::Select ();
use IO::Socket::INET ();
use JSON ();
use POSIX ();
use Time::HiRes ();

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot find a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub which {
    my $prog = shift;
    for my $dir (split /:/, ($ENV{PATH} || '') . ':/usr/bin:/usr/sbin:/usr/local/bin') {
        next unless length $dir;
        my $f = catfile($dir, $prog);
        return $f if -x $f && !-d $f;
    }
    return;
}

sub _spawn {
    my ($argv, $stdout_pipe, $errlog) = @_;
    my ($r, $w);
    pipe($r, $w) or die "pipe: $!" if $stdout_pipe;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        # own process group: a ctrl-c in the terminal reaches the test
        # driver, which stops us in order
        POSIX::setpgid(0, 0);
        # the services are not under test: no sanitizer runtime preloaded
        # for httpd (make test --enable-sanitizers) leaks into them
        delete $ENV{LD_PRELOAD};
        open STDIN, '<', '/dev/null';
        # never the driver's stderr: a service outliving the driver
        # (-start-httpd) would hold the caller's pipe open
        open STDERR, '>>', $errlog or open STDERR, '>', '/dev/null';
        if ($stdout_pipe) {
            close $r;
            open STDOUT, '>&', $w or POSIX::_exit(127);
        }
        else {
            open STDOUT, '>', '/dev/null';
        }
        { no warnings 'exec'; exec { $argv->[0] } @$argv; }
        print STDERR "exec $argv->[0] failed: $!\n";
        POSIX::_exit(127);
    }
    if ($stdout_pipe) {
        close $w;
        return ($pid, $r);
    }
    return ($pid);
}

sub _alive { my $pid = shift; $pid && kill(0, $pid) }

sub _wait_port {
    my ($port, $pid, $timeout) = @_;
    my $end = Time::HiRes::time() + $timeout;
    while (Time::HiRes::time() < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1 }
        return 0 if waitpid($pid, POSIX::WNOHANG()) == $pid;
        Time::HiRes::sleep(0.05);
    }
    return 0;
}

# start_memcached($t_dir, %opt): on a free port, or on $opt{port} (a
# restart); $opt{log}: its log file under t/logs (default memcached.log).
sub start_memcached {
    my ($t_dir, %opt) = @_;
    my $bin = $ENV{VIP_MEMCACHED} || which('memcached')
        or die "memcached is not installed (apt-get install memcached): " .
               "the vip test suite needs a real memcached\n";
    my $log = catfile($t_dir, 'logs', $opt{log} || 'memcached.log');
    for my $try (1 .. ($opt{port} ? 50 : 5)) {
        my $port = $opt{port} || free_port();
        my @argv = ($bin, '-l', '127.0.0.1', '-p', $port, '-U', '0',
                    '-m', '64', '-c', '1024', '-t', '2');
        push @argv, '-u', 'nobody' if $> == 0;
        my ($pid) = _spawn(\@argv, 0, $log);
        return { name => 'memcached', pid => $pid, port => $port, argv => \@argv }
            if _wait_port($port, $pid, 10);
        kill 'KILL', $pid;
        waitpid($pid, 0);
        select undef, undef, undef, 0.1 if $opt{port};
    }
    die "memcached ($bin) did not start listening on 127.0.0.1\n";
}

# start_echo($t_dir, %opt): an echo instance on a free port, or on
# $opt{port} (a restart: that port only, retried while the old socket
# lingers).  $opt{log}: its log file under t/logs (default echo.log).
sub start_echo {
    my ($t_dir, %opt) = @_;
    my $py = $ENV{VIP_PYTHON} || which('python3')
        or die "python3 is required for the echo backend\n";
    my $script = catfile($t_dir, 'backends', 'echo.py');
    my $logname = $opt{log} || 'echo.log';
    my $log = catfile($t_dir, 'logs', $logname);
    my $tries = $opt{port} ? 20 : 5;
    for my $try (1 .. $tries) {
        my $port = $opt{port} || free_port();
        my @argv = ($py, $script, '--port', $port, '--root', $t_dir,
                    '--log', $log);
        my ($pid, $out) = _spawn(\@argv, 1, $log);
        my $sel = IO::Select->new($out);
        my $line = '';
        if ($sel->can_read(15)) {
            $line = <$out> // '';
        }
        close $out;
        if ($line =~ /^ECHO READY/ && _wait_port($port, $pid, 5)) {
            return { name => 'echo', pid => $pid, port => $port, argv => \@argv,
                     log => $logname };
        }
        kill 'KILL', $pid;
        waitpid($pid, 0);
        Time::HiRes::sleep(0.25) if $opt{port};
    }
    die "echo backend ($script) did not start; see t/logs/$logname\n";
}

# A 127.0.0.1 port where nothing listens: a socket bound to it but never
# listening, so that no other program takes the port while the returned
# handle lives, and a connect is refused at once.
sub dead_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp')
        or die "cannot bind a socket: $!";
    return ($s->sockport, $s);
}

# Is this pid still the process we started (not a reused pid)?
sub _ours {
    my $svc = shift;
    return 0 unless _alive($svc->{pid});
    open my $fh, '<', "/proc/$svc->{pid}/cmdline" or return 1;
    local $/;
    my $cmd = <$fh> // '';
    my $want = $svc->{name} eq 'echo' ? 'echo.py' : 'memcached';
    return index($cmd, $want) >= 0;
}

sub stop {
    my @svcs = grep { $_ && $_->{pid} } @_;
    my @live = grep { _ours($_) } @svcs;
    kill 'TERM', $_->{pid} for @live;
    my $end = Time::HiRes::time() + 5;
    for my $svc (@live) {
        while (Time::HiRes::time() < $end) {
            my $r = waitpid($svc->{pid}, POSIX::WNOHANG());
            last if $r == $svc->{pid} || ($r == -1 && !_alive($svc->{pid}));
            Time::HiRes::sleep(0.05);
        }
        if (_alive($svc->{pid}) && waitpid($svc->{pid}, POSIX::WNOHANG()) != $svc->{pid}) {
            kill 'KILL', $svc->{pid};
            waitpid($svc->{pid}, 0);
        }
    }
}

# Fork a watchdog that stops the services when this process goes away, and
# the test httpd too (the pid in $httpd_pidfile, if its command line names
# $httpd_conf): Apache::Test starts httpd as a daemon.  Returns the write end
# of the pipe, which the caller must keep open, and the watchdog's pid.
# The services are those given and those $state_file names at that time
# (a test may have restarted an echo instance under a new pid).
sub watchdog {
    my ($httpd_pidfile, $httpd_conf, $state_file, @svcs) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        close $w;
        POSIX::setsid();
        $SIG{INT} = $SIG{HUP} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        my $buf;
        while (1) {
            my $n = sysread($r, $buf, 1);
            next if !defined $n && $! == Errno::EINTR;
            last unless $n;
        }
        # parent gone: stop what it left running
        push @svcs, state_services(_load($state_file));
        if (open my $pf, '<', $httpd_pidfile) {
            my $pid = <$pf> // '';
            chomp $pid;
            if ($pid =~ /^\d+$/ && open my $cf, '<', "/proc/$pid/cmdline") {
                local $/;
                my $cmd = <$cf> // '';
                kill 'TERM', $pid if index($cmd, $httpd_conf) >= 0;
            }
        }
        for my $svc (@svcs) {
            kill 'TERM', $svc->{pid} if _ours($svc);
        }
        Time::HiRes::sleep(2);
        for my $svc (@svcs) {
            kill 'KILL', $svc->{pid} if _ours($svc);
        }
        POSIX::_exit(0);
    }
    close $r;
    return ($w, $pid);
}

sub state_file { catfile($_[0], 'logs', 'vip-services.json') }

sub save_state {
    my ($t_dir, $state) = @_;
    my $file = state_file($t_dir);
    open my $fh, '>', "$file.tmp" or die "cannot write $file: $!";
    print $fh JSON->new->canonical->pretty->encode($state);
    close $fh;
    rename "$file.tmp", $file or die "rename $file: $!";
}

sub load_state { _load(state_file(shift)) }

sub _load {
    my $file = shift;
    return unless defined $file && -s $file;
    open my $fh, '<', $file or return;
    local $/;
    my $state = eval { JSON->new->decode(scalar <$fh>) };
    return $state;
}

sub clear_state { unlink state_file($_[0]) }

# The services a state names: memcached and every echo instance.
sub state_services {
    my $state = shift or return ();
    return grep { ref $_ eq 'HASH' && $_->{pid} }
           map { $state->{$_} } qw(memcached memcached2 echo echo2 echo3);
}

1;
