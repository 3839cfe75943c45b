# Two memcached servers (VipCacheServers with both instances): ketama
# spreads the keys over both, and every entry is found again.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 4, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my $U = "u$$" . time;
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
sub notes { log_fields_for('vip_cache_notes.log', \@NOTE, $_[0], 5, 1) }

my (%on, @keys);
for my $i (1 .. 40) {
    my $id = req_id();
    GET("/c/$U/spread$i", 'X-Req-Id' => $id);
    push @keys, notes($id)->{key};
}
for my $k (@keys) {
    my $in1 = defined mc_get($k);
    my $in2 = do { local $Vip::Test::MC = 2; defined mc_get($k) };
    $on{ $in1 && $in2 ? 'both' : $in1 ? 1 : $in2 ? 2 : 'none' }++;
}
ok(($on{1} // 0) >= 5, "instance 1 holds entries ($on{1})");
ok(($on{2} // 0) >= 5, "instance 2 holds entries ($on{2})");
ok(!$on{none} && !$on{both}, 'every entry on exactly one server')
    or diag(join ', ', map { "$_: $on{$_}" } sort keys %on);
my $hits = 0;
for my $i (1 .. 40) {
    my (undef, $h) = with_hits { GET("/c/$U/spread$i") };
    $hits++ if $h == 0;
}
is($hits, 40, 'all 40 found again');
