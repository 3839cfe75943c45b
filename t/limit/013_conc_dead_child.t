# Concurrency slots of a child process that dies mid-request come back.
# A slot is normally given back by a request-pool cleanup, which a child
# killed with SIGKILL (or crashed, or OOM-killed) never runs; the zone's
# table outlives every child.  Each slot taken is recorded under the
# child's pid (limit_holders.c) and httpd's parent, told by the MPM that
# the child exited (child_status), gives back what it still held
# (limit_reap.c, VIP04030).
#
# /conc-dead/ admits 2 requests in flight per client IP.  Part 1 kills
# the child serving a slow request and waits (bounded) for the full limit.
# Part 2 shows that a normal release still happens exactly once: a request
# that ends normally in a child that then exits (after a graceful restart)
# is not given back a second time by the parent, which would show as a
# request of the new generation no longer counted.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use File::Spec::Functions qw(catfile);
use POSIX ();
use Time::HiRes qw(time sleep);
use Vip::Test;

plan tests => 16, need_vip_limit();

Apache::TestRequest::module('vip_limit');
$SIG{PIPE} = 'IGNORE';

expect_log(qr/VIP04030: child pid \d+ \(generation \d+, slot -?\d+\) ended with \d+ concurrency slot\(s\) still held: given back/);

sub ua { Apache::TestRequest::user_agent(reset => 1, keep_alive => 0, timeout => 40) }

sub parent_pid {
    open my $fh, '<', catfile(t_dir(), 'logs', 'httpd.pid') or die $!;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

# GET $path in a child process; returns [pid, read end] for finish().
sub start {
    my ($path) = @_;
    pipe(my $rd, my $wr) or die $!;
    my $pid = fork // die $!;
    if (!$pid) {
        close $rd;
        ua();
        my $res = GET($path);
        print $wr $res->code, ' ', ($res->header('Client-Warning') // 'server');
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    return [$pid, $rd];
}

sub finish {
    my ($h) = @_;
    my ($pid, $rd) = @$h;
    local $/;
    my $out = <$rd> // '';
    waitpid $pid, 0;
    return $out;
}

# The pid of the httpd child serving $path now, from mod_status's table
# (ExtendedStatus is on with mod_status loaded); polled for up to 5 s.
sub serving_pid {
    my ($path) = @_;
    my $end = time + 5;
    while (time < $end) {
        ua();
        my $html = GET('/server-status')->content;
        for my $row (split /<tr>/, $html) {
            next unless index($row, $path) >= 0;
            return $1 if $row =~ m{^<td><b>[^<]*</b></td><td>(\d+)</td>};
        }
        sleep 0.1;
    }
    return 0;
}

# The "concdead.conc" remaining count a probe request sees (it holds a
# slot itself while it is decided).
sub probe_left {
    ua();
    my $res = GET('/conc-dead/probe');
    my ($r) = ($res->header('RateLimit') // '') =~ /"concdead\.conc";r=(\d+)/;
    return $res->code . ' r=' . ($r // 'none');
}

# ---- part 1: kill -9 the child serving a slow request --------------------------
my $victim_path = "/conc-dead/victim-$$";
my $victim = start("$victim_path?_sleep=30000");
my $pid = serving_pid($victim_path);
ok($pid > 0 && $pid != parent_pid(), "the victim request is served by child pid $pid");
is(probe_left(), '200 r=0', 'while it is in flight: the probe gets the last slot (r=0)');

my $off = error_log_size();
kill 'KILL', $pid or die "cannot kill $pid: $!";
like(finish($victim), qr/^500 Internal response/, 'the victim\'s client lost its connection (the child died)');

my ($left, $waited, $end) = ('', 0, time + 10);
while (time < $end) {
    $left = probe_left();
    last if $left eq '200 r=1';
    sleep 0.2;
}
is($left, '200 r=1', 'within 10 s: the dead child\'s slot is back (the probe alone: r=1)');
my $log = error_log_since($off, 0.2);
like($log, qr/VIP04030: child pid $pid \(generation \d+, slot -?\d+\) ended with 1 concurrency slot\(s\) still held: given back/,
     'VIP04030: the parent gave back the one slot the child held');
my @two = (start('/conc-dead/a?_sleep=400'), start('/conc-dead/b?_sleep=400'));
is(join(',', map { (split ' ', finish($_))[0] } @two), '200,200', 'the full limit of 2 at once again');
is(probe_left(), '200 r=1', 'after those ended normally: r=1 (nothing given back twice)');

# ---- part 2: a normal release in a child that then exits is not repeated --------
my $a_path = "/conc-dead/before-restart-$$";
my $first = start("$a_path?_sleep=3000");
my $a_pid = serving_pid($a_path);
ok($a_pid > 0, "a slow request in child $a_pid");

$off = error_log_size();
kill 'USR1', parent_pid() or die "cannot signal httpd: $!";
$log = '';
$end = time + 15;
while (time < $end) {
    $log = error_log_since($off, 0.2);
    last if $log =~ /resuming normal operations/;
}
like($log, qr/resuming normal operations/, 'graceful restart done while it is in flight');

my $b_path = "/conc-dead/after-restart-$$";
my $second = start("$b_path?_sleep=9000");
my $b_pid = serving_pid($b_path);
ok($b_pid > 0 && $b_pid != $a_pid, "a slow request of the new generation in child $b_pid");
like(finish($first), qr/^200 /, 'the first request ends normally in the old child (its slot given back there)');

# the old child exits once its last connection is done; the parent reaps it
$end = time + 10;
sleep 0.2 while time < $end && kill(0, $a_pid);
ok(!kill(0, $a_pid), "the old child $a_pid exited and was reaped");
is(probe_left(), '200 r=0', 'the new request is still counted: the parent gave nothing back for the old child');
unlike(error_log_since($off, 0), qr/VIP04030: child pid $a_pid /, 'no VIP04030 for the old child');
like(finish($second), qr/^200 /, 'the second request ends normally');
is(probe_left(), '200 r=1', 'and then its slot is back too: r=1');
