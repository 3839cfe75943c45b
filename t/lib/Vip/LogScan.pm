package Vip::LogScan;

# The error_log scan that ends every run of the vip test suite.
#
# A run fails when the part of t/logs/error_log written during the run
# shows a crash ("exit signal" of a child, httpd's "seg fault or similar
# nasty error"), a sanitizer report (AddressSanitizer, LeakSanitizer, UBSan
# "runtime error:"), or a warn-or-worse line carrying one of our VIPnnnnn
# message ids that no test declared expected (Vip::Test::expect_log writes
# the declarations to t/logs/vip-expected-log.txt).
#
# t/TEST.PL records where the run started in t/logs/vip-run.json; both the
# last test (t/zz_error_log.t) and t/TEST.PL after httpd's shutdown call
# scan() so that shutdown-time reports are caught too.

use strict;
use warnings;

use File::Spec::Functions qw(catfile);
use JSON ();

our @FATAL = (
    qr/exit signal/,
    qr/seg fault or similar nasty error/,
    qr/AddressSanitizer/,
    qr/LeakSanitizer/,
    qr/runtime error:/,
    qr/\bdouble free\b|\bfree\(\): invalid/,
);

our $VIP_WARN = qr/^\[[^\]]*\] \[[^\]:]*:(?:warn|error|crit|alert|emerg)\].*\bVIP0\d+/;

sub run_file      { catfile($_[0], 'logs', 'vip-run.json') }
sub expected_file { catfile($_[0], 'logs', 'vip-expected-log.txt') }

sub run_info {
    my $t_dir = shift;
    my $file = run_file($t_dir);
    return { offset => 0 } unless -s $file;
    open my $fh, '<', $file or return { offset => 0 };
    local $/;
    return eval { JSON->new->decode(scalar <$fh>) } || { offset => 0 };
}

sub expected_patterns {
    my $t_dir = shift;
    my @re;
    if (open my $fh, '<', expected_file($t_dir)) {
        while (my $l = <$fh>) {
            chomp $l;
            next unless length $l;
            my $re = eval { qr/$l/ };
            push @re, $re if $re;
        }
    }
    return @re;
}

# Lines of the error log written since this run started.
sub run_lines {
    my $t_dir = shift;
    my $info = run_info($t_dir);
    my $file = catfile($t_dir, 'logs', 'error_log');
    open my $fh, '<', $file or return ();
    my $size = -s $file;
    my $off = $info->{offset} || 0;
    $off = 0 if $off > $size;
    seek $fh, $off, 0;
    my @lines = <$fh>;
    chomp @lines;
    return @lines;
}

# Returns (\@fatal_lines, \@unexpected_vip_lines).
sub scan {
    my $t_dir = shift;
    my @expected = expected_patterns($t_dir);
    my (@fatal, @vip);
    for my $l (run_lines($t_dir)) {
        if (grep { $l =~ $_ } @FATAL) {
            push @fatal, $l;
            next;
        }
        if ($l =~ $VIP_WARN && !grep { $l =~ $_ } @expected) {
            push @vip, $l;
        }
    }
    return (\@fatal, \@vip);
}

1;
