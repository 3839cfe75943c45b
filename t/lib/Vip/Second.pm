package Vip::Second;

# A second httpd for tests of cluster behaviour: the same httpd binary and
# modules as the test server, its own small configuration, its own free
# port, the same memcached and upstreams (the test writes the vip part of
# the config).  Stopped by stop() or, whatever happens, when the object
# goes away.
#
#   my $two = Vip::Second->start(body => $conf_text, name => 'cache',
#                                env => { NAME => 'value' });   # env optional
#   my $res = $two->get('/c/page', Header => 'value');   # HTTP::Response
#   $two->port; $two->error_log; $two->log_since_start; $two->stop;
#   $two->crash;       # SIGKILL to the whole server, as a crash
#
# The config text is inserted after the LoadModule lines of mod_proxy,
# mod_proxy_http, mod_proxy_balancer and friends, mod_authz_core/host and
# the vip modules built in this tree; the variable @PORT@ in it is the
# second server's port.  Its logs are in t/logs/second-<name>/.

use strict;
use warnings;

use File::Path ();
use File::Spec::Functions qw(catfile catdir);
use IO::Socket::INET ();
use LWP::UserAgent ();
use Time::HiRes ();

use Apache::Test ();
use Vip::Services ();

my @STOCK = qw(authn_core authz_core authz_host authz_user proxy proxy_http slotmem_shm
               proxy_balancer lbmethod_byrequests headers);
my @VIP = (
    [ vip_auth_module  => 'mod_vip_auth/mod_vip_auth.so' ],
    [ vip_route_module => 'mod_vip_route/mod_vip_route.so' ],
    [ vip_cache_module => 'mod_vip_cache/mod_vip_cache.so' ],
    [ vip_limit_module => 'mod_vip_limit/mod_vip_limit.so' ],
);

sub _var { my $n = shift; local $_; Apache::Test::vars($n) }

sub start {
    my ($class, %opt) = @_;
    my $t_dir   = _var('t_dir');
    my $httpd   = _var('httpd');
    my $libexec = _var('libexecdir') || '/usr/lib/apache2/modules';
    my $name    = $opt{name} || 'second';
    my $dir     = catdir($t_dir, 'logs', "second-$name");
    my $port    = Vip::Services::free_port();
    File::Path::make_path($dir);
    my $self = bless { dir => $dir, port => $port, httpd => $httpd }, $class;
    # the log is appended to across runs: where this run's lines begin
    $self->{log0} = -s catfile($dir, 'error_log') // 0;
    $self->{conf} = catfile($dir, 'httpd.conf');
    $self->{pid_file} = catfile($dir, 'httpd.pid');

    my $load = qq{LoadModule mpm_event_module "$libexec/mod_mpm_event.so"\n};
    $load .= qq{LoadModule ${_}_module "$libexec/mod_$_.so"\n} for @STOCK;
    for my $m (@VIP) {
        my $so = catfile($t_dir, '..', $m->[1]);
        $load .= qq{LoadModule $m->[0] "$so"\n} if -e $so;
    }
    my $user = '';
    if ($> == 0) {
        my $u = _var('user') || 'nobody';
        my $g = _var('group') || 'nogroup';
        $user = "User $u\nGroup $g\n";
        my ($uid, $gid) = (getpwnam($u))[2, 3];
        chown $uid, $gid, $dir if defined $uid;
    }
    (my $body = $opt{body} // '') =~ s/\@PORT\@/$port/g;
    open my $fh, '>', $self->{conf} or die "$self->{conf}: $!";
    print $fh <<"EOF";
ServerRoot "$dir"
ServerName localhost:$port
Listen 127.0.0.1:$port
PidFile "$self->{pid_file}"
ErrorLog "$dir/error_log"
LogLevel info
DefaultRuntimeDir "$dir"
$user$load
StartServers 1
ServerLimit 1
ThreadsPerChild 8
MaxRequestWorkers 8
ProxyRequests Off
$body
EOF
    close $fh;
    # env => { NAME => value }: set for this httpd alone, on its command line
    my $env = join '', map { my $v = $opt{env}{$_}; $v =~ s/'/'\\''/g; "$_='$v' " }
                       sort keys %{ $opt{env} || {} };
    my $out = `$env"$httpd" -f "$self->{conf}" -k start 2>&1`;
    die "the second httpd did not start:\n$out" if $? != 0;
    $self->{started} = 1;
    my $end = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $end) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return $self }
        Time::HiRes::sleep(0.05);
    }
    $self->stop;
    die "the second httpd does not listen on port $port; see $dir/error_log";
}

# The config of a second cluster node for the t/limit/03x tests: the
# VipLimitCluster and zone lines of node A (t/conf/limit_cluster.conf.in;
# nodes => 'nodes=auto heartbeat=1' to change how nodes are counted) and
# a virtual host on @PORT@ with the given <Location> blocks.
sub limit_cluster_body {
    my ($locations, %opt) = @_;
    my $mc = _var('memcached_port');
    my $nodes = $opt{nodes} // 'nodes=2';
    return <<"EOF";
VipLimitCluster 127.0.0.1:$mc $nodes batch=10 lease=2 connect_timeout=50 timeout=150 retry=1 dead_retry=2
VipLimitZone cl "key=expr:%{req:X-Key}" entries=1024 store=cluster
<VirtualHost 127.0.0.1:\@PORT\@>
    Header always set X-Test-Limit "expr=%{note:vip.limit}" "expr=-n %{note:vip.limit}"
$locations</VirtualHost>
EOF
}

sub port      { $_[0]{port} }
sub error_log { catfile($_[0]{dir}, 'error_log') }

# What this server wrote to its error_log since it was started.
sub log_since_start {
    my $self = shift;
    open my $fh, '<', $self->error_log or return '';
    seek $fh, $self->{log0}, 0;
    local $/;
    return scalar <$fh>;
}

# GET (or another method with method => ...) on the second server.
sub get {
    my ($self, $path, @headers) = @_;
    my %h = @headers;
    my $method = delete $h{method} || 'GET';
    $self->{ua} ||= LWP::UserAgent->new(keep_alive => 1, timeout => 10);
    my $req = HTTP::Request->new($method => "http://127.0.0.1:$self->{port}$path");
    $req->header($_ => $h{$_}) for keys %h;
    return $self->{ua}->request($req);
}

sub stop {
    my $self = shift;
    return unless $self->{started};
    $self->{started} = 0;
    system(qq{"$self->{httpd}" -f "$self->{conf}" -k stop >/dev/null 2>&1});
    my $end = Time::HiRes::time() + 10;
    while (-e $self->{pid_file} && Time::HiRes::time() < $end) {
        Time::HiRes::sleep(0.05);
    }
}

# Kill the second httpd and its children at once, as a crash would
# (SIGKILL to its process group: httpd -k start made the parent a group
# leader).  Nothing is cleaned up by httpd.
sub crash {
    my $self = shift;
    return unless $self->{started};
    $self->{started} = 0;
    open my $fh, '<', $self->{pid_file} or return;
    my $pid = <$fh> // '';
    close $fh;
    chomp $pid;
    kill 'KILL', -$pid if $pid =~ /^\d+$/;
    unlink $self->{pid_file};
}

sub DESTROY { $_[0]->stop }

1;
