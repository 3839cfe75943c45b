# API key timing (THREATS 2.2 K1) - A SMOKE TEST ONLY.
#
# The real guards against a timing oracle are the unit tests and code
# review of vip_apikey_verify() (mod_vip_auth/auth_apikey.c): the presented
# key is hashed (SHA-256) whatever its id, and the digest is compared with
# CRYPTO_memcmp against the stored one, or against a dummy digest when the
# id is unknown.  Loopback timing is far too noisy to prove the absence of a
# few-nanosecond difference; this test only catches a gross one (an early
# return that skips the hash for unknown ids, a slow per-request hash on one
# path) and must never be flaky: 2,000 requests per class, interleaved
# round-robin on keep-alive connections, medians compared with a generous
# factor, and the medians printed with diag().  It also checks that the
# four classes get identical responses: no oracle besides time.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Time::HiRes ();
use Vip::Test;

plan tests => 8, need_vip_auth();

my $N      = 2000;    # measured requests per class
my $WARMUP = 50;      # per class, not measured
my $FACTOR = 1.5;     # max median / min median must stay below this

my $K1 = apikey('acme-k1');
my ($ID, $SECRET) = split /\./, $K1, 2;
my $other = sub { $_[0] eq 'x' ? 'y' : 'x' };
my %CLASS = (
    'valid id, wrong secret'     => "$ID." . join('', map { $other->($_) } split //, $SECRET),
    'unknown id'                 => "nosuch-k1.$SECRET",
    'wrong first secret byte'    => "$ID." . $other->(substr($SECRET, 0, 1)) . substr($SECRET, 1),
    'wrong last secret byte'     => "$ID." . substr($SECRET, 0, -1) . $other->(substr($SECRET, -1)),
);
my @NAMES = sort keys %CLASS;

my $sock;
my $reqs_on_sock = 0;
my %status;    # class => { code => count }
my %times;     # class => [seconds]
my %shape;     # class => the first response, Date aside

# One request on the keep-alive connection; the clock runs from the write
# to the last byte of the response (connects are not timed).
sub one {
    my $name = shift;
    if (!$sock) { $sock = raw_connect(); $reqs_on_sock = 0 }
    my $req = "GET /auth/apikey/timing HTTP/1.1\r\nHost: localhost\r\n" .
              "X-Api-Key: $CLASS{$name}\r\n\r\n";
    my $t0 = Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC());
    syswrite($sock, $req) == length $req or die "write: $!";
    my $r = read_responses($sock, want => 1);
    my $dt = Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC()) - $t0;
    my $res = $r->{responses}[0];
    $reqs_on_sock++;
    if ($res && !exists $shape{$name}) {
        my $h = $res->headers->clone;
        $h->remove_header('Date');
        $shape{$name} = $res->status_line . "\n" . $h->as_string . "\n" . $res->content;
    }
    if (!$res || $r->{eof} || $r->{error}
        || grep { /\bclose\b/i } $res->header('Connection')) {
        close $sock;
        undef $sock;
    }
    return ($res ? $res->code : 0, $dt);
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return 0 unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my $hits0 = echo_hits();
for my $round (1 .. $WARMUP) { one($_) for @NAMES }
my $t_start = Time::HiRes::time();
for my $round (0 .. $N - 1) {
    # rotate the order every round: no class always follows another
    for my $k (0 .. $#NAMES) {
        my $name = $NAMES[($round + $k) % @NAMES];
        my ($code, $dt) = one($name);
        $status{$name}{$code}++;
        push @{ $times{$name} }, $dt;
    }
}
my $elapsed = Time::HiRes::time() - $t_start;
close $sock if $sock;

for my $name (@NAMES) {
    is_deeply($status{$name}, { 401 => $N }, "$name: all $N requests answered 401")
        or diag explain $status{$name};
}
is(echo_hits() - $hits0, 0, 'no request reached the upstream');
# no oracle besides time either: an unknown id and a wrong secret look alike
is(scalar(keys %{{ map { $_ => 1 } values %shape }}), 1,
   'the four classes get byte-identical responses (Date aside)')
    or diag explain \%shape;

my %med = map { $_ => median(@{ $times{$_} }) } @NAMES;
diag sprintf "K1 timing smoke, %d requests per class in %.1f s (medians, microseconds):",
    $N, $elapsed;
diag sprintf "  %-26s %8.1f", $_, $med{$_} * 1e6 for @NAMES;
my ($min, $max) = (sort { $a <=> $b } values %med)[0, -1];
ok($min > 0, 'every class was measured');
my $ratio = $min > 0 ? $max / $min : 0;
diag sprintf "  max/min median ratio %.3f (smoke threshold %.1f; the unit test is the real guard)",
    $ratio, $FACTOR;
cmp_ok($ratio, '<', $FACTOR,
       "medians of the four wrong-key classes are within a factor $FACTOR (smoke test only)");
