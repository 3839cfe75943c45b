# Admitted counts under concurrent load match GCRA theory (issue 6):
# /rate/ allows 10 r/s with a burst of 5, keyed by client IP in shared
# memory.  Four forked clients, each on its own keep-alive connection
# (so several httpd children and threads decide on one key at once),
# send as fast as they can for 3 s.  Theory: burst + floor(D / T) requests
# in a window of D seconds from the first request, T = 100 ms; the count
# must be within +-1 of it, the upstream must have seen exactly the
# admitted ones, and every refusal is a 429 problem with Retry-After.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use IO::Handle ();
use JSON ();
use POSIX ();
use Time::HiRes qw(time sleep);
use Vip::Test;

plan tests => 8, need_vip_limit();

Apache::TestRequest::module('vip_limit');
my $CLIENTS  = 4;
my $DURATION = 3;

my $hits0 = echo_hits();
my $start = time + 0.5;                  # every client starts together
my @pipes;
for my $c (1 .. $CLIENTS) {
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        close $rd;
        Apache::TestRequest::user_agent(keep_alive => 1, reset => 1, timeout => 10);
        sleep($start - time) if $start > time;
        my (%codes, $first, $last, $retry_ok, $problems) = ();
        $retry_ok = $problems = 0;
        while (time < $start + $DURATION) {
            my $t = time;
            my $res = GET("/rate/load-$c");
            $first //= $t;
            $last = $t;
            $codes{ $res->code }++;
            if ($res->code == 429) {
                my $ra = $res->header('Retry-After') // '';
                $retry_ok++ if $ra eq '1';       # never more than T away
                $problems++ if ($res->header('Content-Type') // '') =~ m{^application/problem\+json}
                    && ($res->header('Cache-Control') // '') =~ /no-store/;
            }
        }
        print $wr JSON->new->encode({ codes => \%codes, first => $first, last => $last,
                                      retry_ok => $retry_ok, problems => $problems });
        close $wr;
        POSIX::_exit(0);
    }
    close $wr;
    push @pipes, [$pid, $rd];
}
my (%codes, $first, $last, $retry_ok, $problems);
$retry_ok = $problems = 0;
for my $p (@pipes) {
    my ($pid, $rd) = @$p;
    local $/;
    my $out = <$rd>;
    waitpid $pid, 0;
    my $r = JSON->new->decode($out);
    $codes{$_} += $r->{codes}{$_} for keys %{ $r->{codes} };
    $first = $r->{first} if !defined $first || $r->{first} < $first;
    $last  = $r->{last}  if !defined $last  || $r->{last} > $last;
    $retry_ok += $r->{retry_ok};
    $problems += $r->{problems};
}
my $admitted = $codes{200} // 0;
my $refused  = $codes{429} // 0;
my $window   = $last - $first;
my $theory   = 5 + POSIX::floor($window * 10);
diag sprintf 'admitted %d, refused %d, window %.3f s, theory %d', $admitted, $refused, $window, $theory;

is(join(',', grep { $_ != 200 && $_ != 429 } sort keys %codes), '', 'only 200 and 429 answers');
cmp_ok($refused, '>', 50, "the clients pushed well past the limit ($refused refusals)");
cmp_ok(abs($admitted - $theory), '<=', 1, "admitted $admitted within +-1 of burst + floor(D/T) = $theory");
cmp_ok($window, '>=', $DURATION - 0.3, sprintf('the load lasted the whole window (%.2f s)', $window));
is(echo_hits() - $hits0, $admitted, 'the upstream saw exactly the admitted requests');
is($retry_ok, $refused, 'every 429 says Retry-After: 1 (the next slot is at most 100 ms away)');
is($problems, $refused, 'every 429 is a problem+json with Cache-Control: no-store');

# the bucket refills at 10/s: after 0.6 s idle, 5 at once again
sleep 0.6;
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my $ok = grep { GET('/rate/after')->code == 200 } 1 .. 6;
is($ok, 5, 'after 0.6 s idle: a full burst of 5 (and not 6)');
