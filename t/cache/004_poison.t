# Cache poisoning (THREATS C1, C2, C4, C15): headers an upstream may
# reflect but the key does not hold never reach the upstream on cached
# locations, so a poisoned first request cannot change what a clean
# second request receives; a strange Host gets entries of its own; path
# variants that httpd normalises to one path share one entry, and bytes
# that cannot go into a memcached key never reach it.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

my @POISON = (
    ['X-Forwarded-Host',       'evil.example'],
    ['X-Forwarded-Proto',      'gopher'],
    ['X-Forwarded-Port',       '6666'],
    ['X-Original-URL',         '/admin'],
    ['X-Rewrite-URL',          '/admin'],
    ['X-HTTP-Method-Override', 'DELETE'],
    ['Forwarded',              'host=evil.example;proto=http'],
    ['X-Host',                 'evil.example'],
);

plan tests => 3 * @POISON + 4 + 3 + 4, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }

my $n = 0;
for my $p (@POISON) {
    my ($h, $v) = @$p;
    $n++;
    my $path = "/c/$U/p$n";
    my ($r1) = with_hits { GET($path, $h => $v) };
    unlike($r1->content, qr/\Q$v\E/, "$h: the upstream never saw the value");
    my ($r2, $h2) = with_hits { GET($path) };
    is($h2, 0, "$h: the clean request is a hit");
    unlike($r2->content, qr/\Q$v\E/, "$h: the clean request gets a clean page");
}

# Host: an unknown name gets its own entries (mod_proxy forwards it as
# X-Forwarded-Host); case and port do not matter (httpd normalises them)
my $port = Apache::Test::vars('port');
my $hp = "/c/$U/host";
my ($e1) = with_hits { GET($hp, Host => 'evil.example') };
my ($c1, $ch1) = with_hits { GET($hp) };
is($ch1, 1, 'a request with an unknown Host never fills the clean entry');
unlike($c1->content, qr/evil\.example/, 'the clean page does not mention the unknown host');
my (undef, $ch2) = with_hits { GET($hp, Host => 'EVIL.example') };
is($ch2, 0, 'Host case is normalised: same entry as evil.example');
unlike(GET($hp)->content, qr/evil/, 'the clean entry stays clean');

# paths httpd normalises to one path share one entry (C4)
my ($d1) = with_hits { GET("/c/$U/a/../b") };
my (undef, $dh2) = with_hits { GET("/c/$U/./b") };
is($dh2, 0, '/a/../b and /./b: the same entry as /b');
my (undef, $dh3) = with_hits { GET("/c/$U/%62") };
is($dh3, 0, '%62 decodes to b: the same entry');
my ($d4, $dh4) = with_hits { GET("/c/$U/b%2Fx") };
ok($d4->code == 404 && $dh4 == 0,
   'an encoded slash: refused by httpd (AllowEncodedSlashes Off) before the cache or the upstream');

# key injection: spaces and very long paths -> always vip:1:<hex>; CR/LF
# in a path is refused before the cache is asked (mod_vip_route: 400)
my $id = req_id();
GET("/c/$U/" . ('%20set%20x%200%200%201' x 10) . ('y' x 600), 'X-Req-Id' => $id);
my $k = notes($id);
like($k->{key} // '', qr/^vip:1:[0-9a-f]{64}$/, 'spaces and 700+ bytes of path: a hashed key');
my $id2 = req_id();
GET("/c/$U/" . ('%20set%20x%200%200%201' x 10) . ('y' x 600), 'X-Req-Id' => $id2);
is(notes($id2)->{cache}, 'hit', 'and it is found again');
my $id3 = req_id();
my $crlf = GET("/c/$U/a%0d%0aset%20x", 'X-Req-Id' => $id3);
ok($crlf->code == 400 && notes($id3)->{key} eq '', 'CR/LF in the path: 400, no key made');
my $st = mc_stats();
ok(($st->{curr_items} // 0) > 0, 'memcached holds items (and answered the stats)');
