# Counters survive a graceful restart (issue 6): each zone's table is
# shared memory allocated from httpd's process pool, which outlives every
# configuration generation, and the next generation re-attaches it by zone
# name (limit_shm.c).  /graceful/ allows 3 requests an hour: two before
# SIGUSR1, one after, then 429 - a restart is no way around a quota.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use File::Spec::Functions qw(catfile);
use Time::HiRes qw(sleep time);
use Vip::Test;

plan tests => 6, need_vip_limit();

Apache::TestRequest::module('vip_limit');
Apache::TestRequest::user_agent(keep_alive => 0, reset => 1);

my $left = 3600 - time % 3600;
sleep($left + 1) if $left < 20;

sub parent_pid {
    open my $fh, '<', catfile(t_dir(), 'logs', 'httpd.pid') or die $!;
    my $pid = <$fh>;
    chomp $pid;
    return $pid;
}

is(join(',', map { GET("/graceful/$_")->header('X-Test-Limit-Remaining') // 'none' } 1, 2), '2,1',
   'before the restart: two of three used');
my $off = error_log_size();
kill 'USR1', parent_pid() or die "cannot signal httpd: $!";
my $log = '';
my $end = time + 15;
while (time < $end) {
    $log = error_log_since($off, 0.2);
    last if $log =~ /resuming normal operations/;
}
like($log, qr/resuming normal operations/, 'graceful restart done');
like($log, qr/VIP04002: zone graceful: 1024 entries, state kept from the previous generation/,
     'VIP04002: the zone kept its shared memory');
my $res = GET('/graceful/3');
is($res->code, 200, 'after the restart: the third request admitted');
is($res->header('X-Test-Limit-Remaining') // '', '0', 'and the count went on (0 left), not restarted');
is(GET('/graceful/4')->code, 429, 'the fourth: 429');
