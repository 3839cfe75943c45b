# Concurrency limits (issue 6): /conc/ admits 2 requests in flight per
# client IP, across all children and threads.  A slot is released on every
# path the request can end on, because a request-pool cleanup releases it:
# success, an upstream 5xx, an upstream timeout (ProxyPass timeout=1) and a
# client that goes away mid-request.  After each, the full limit of 2 is
# available again.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use POSIX ();
use Time::HiRes qw(time sleep);
use Vip::Test;

plan tests => 12, need_vip_limit();

Apache::TestRequest::module('vip_limit');
$SIG{PIPE} = 'IGNORE';

# GET each path in its own process, all at once; their status codes.
sub parallel {
    my @paths = @_;
    my @kids;
    for my $path (@paths) {
        pipe(my $rd, my $wr) or die $!;
        my $pid = fork // die $!;
        if (!$pid) {
            close $rd;
            Apache::TestRequest::user_agent(reset => 1, keep_alive => 0, timeout => 20);
            print $wr GET($path)->code;
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [$pid, $rd];
    }
    return map { my ($pid, $rd) = @$_; local $/; my $c = <$rd>; waitpid $pid, 0; $c } @kids;
}

# Until the echo has seen $n requests whose target matches $re (it
# records them on arrival, before any _sleep): a fixed sleep could be too
# short on a loaded machine.
sub wait_seen {
    my ($re, $n) = @_;
    my $end = time + 5;
    while (time < $end) {
        return 1 if grep({ $_->[1] =~ $re } echo_seen()) >= $n;
        sleep 0.02;
    }
    return 0;
}

# Two slow requests in flight, and a third meanwhile.
sub third_while_two {
    my ($sleep_ms) = @_;
    my @kids;
    echo_reset();
    for my $n (1, 2) {
        my $pid = fork // die $!;
        if (!$pid) {
            Apache::TestRequest::user_agent(reset => 1, keep_alive => 0, timeout => 20);
            my $c = GET("/conc/slow-$n?_sleep=$sleep_ms")->code;
            print STDERR "# slow-$n: $c\n" if $c != 200;
            POSIX::_exit($c == 200 ? 0 : 1);
        }
        push @kids, $pid;
    }
    wait_seen(qr{^/conc/slow-}, 2);
    Apache::TestRequest::user_agent(reset => 1, keep_alive => 0);
    my $third = GET('/conc/third');
    my $ok = 0;
    for (@kids) { waitpid $_, 0; $ok++ if $? == 0 }
    return ($third, $ok);
}

# ---- the limit itself ------------------------------------------------------------
# 700 ms: well inside the location's 1 s proxy timeout
my ($third, $ok) = third_while_two(700);
is($ok, 2, 'two slow requests in flight: both answered 200');
problem_ok($third, 429, 'a third while two are in flight: 429 problem');
like($third->content, qr/too-many-concurrent-requests/, '429 type: too-many-concurrent-requests');
like($third->header('RateLimit') // '', qr/"conc\.conc";r=0/, 'RateLimit: "conc.conc";r=0');
like($third->header('RateLimit-Policy') // '', qr/"conc\.conc";q=2;qu="concurrent-requests"/,
     'RateLimit-Policy: q=2 concurrent-requests');
is(join(',', parallel('/conc/a', '/conc/b')), '200,200', 'afterwards: the full limit of 2 again');

# ---- released after an upstream 5xx ------------------------------------------------
my @codes = map { GET("/conc/err-$_?_status=503")->code } 1 .. 5;
is(join(',', @codes), '503,503,503,503,503', 'five upstream 503s in a row: none refused (slots released)');
is(join(',', parallel('/conc/c?_sleep=300', '/conc/d?_sleep=300')), '200,200',
   'after the 5xx: two in flight at once again');

# ---- released after an upstream timeout ----------------------------------------------
@codes = map { GET("/conc/timeout-$_?_sleep=2500")->code } 1 .. 3;
ok(!grep({ $_ == 429 || $_ == 200 } @codes), "three upstream timeouts (@codes): answered by mod_proxy, never 429");
is(join(',', parallel('/conc/e?_sleep=300', '/conc/f?_sleep=300')), '200,200',
   'after the timeouts: two in flight at once again');

# ---- released after the client goes away ---------------------------------------------
my @socks = map {
    my $s = raw_connect(port => Apache::Test::config()->{vhosts}{vip_limit}{port});
    print $s "GET /conc/abort-$_?_sleep=800 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    $s;
} 1, 2;
wait_seen(qr{^/conc/abort-}, 2);
close $_ for @socks;
my $during = GET('/conc/during-abort');
is($during->code, 429, 'clients gone, their requests still at the upstream: 429');
# the upstream answers at 0.8 s, the write to the gone client fails, the
# requests end and give their slots back: soon after, not never
my ($again, $end) = ('', time + 5);
sleep 0.7;
while (($again = join(',', parallel('/conc/g', '/conc/h'))) ne '200,200' && time < $end) {
    sleep 0.1;
}
is($again, '200,200', 'after the aborted requests ended: two at once again');

