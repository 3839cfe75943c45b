# Runs last: the error_log of this run must show no crash, no sanitizer
# report and no VIP warning or error that a test did not declare with
# Vip::Test::expect_log().  t/TEST.PL repeats the scan after httpd's
# shutdown for what is logged at exit (leak reports, crashes in cleanup).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use Vip::LogScan ();

plan tests => 2;

Time::HiRes::sleep(0.5);    # lines of the last requests
my $t_dir = Apache::Test::vars('t_dir');
my ($fatal, $vip) = Vip::LogScan::scan($t_dir);

ok(!@$fatal, 'error_log: no crash or sanitizer report')
    or diag join "\n", map { "  $_" } @$fatal[0 .. ($#$fatal > 19 ? 19 : $#$fatal)];
ok(!@$vip, 'error_log: no undeclared VIP warning or error')
    or diag join "\n", map { "  $_" } @$vip[0 .. ($#$vip > 19 ? 19 : $#$vip)];
