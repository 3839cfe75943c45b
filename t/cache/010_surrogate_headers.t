# Surrogate-Key and Surrogate-Control address the surrogate (us), not the
# client: at a cached location without ESI neither reaches the client, on
# the miss that stores the page nor on the hit that answers from it, while
# the entry keeps the tags (a tag purge still finds the page).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Vip::Test;

plan tests => 10, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "s$$" . time;
my $q = '_hdr=Surrogate-Key:sk-' . $U . '%20brand-9&_hdr=Surrogate-Control:max-age%3D60';
my $path = "/c/$U/page?$q";

my ($miss, $h1) = with_hits { GET($path) };
is($h1, 1, 'miss: the upstream answered');
like($miss->header('Cache-Status') // '', qr/stored/, 'miss: stored');
ok(!defined $miss->header('Surrogate-Key'), 'miss: no Surrogate-Key to the client');
ok(!defined $miss->header('Surrogate-Control'), 'miss: no Surrogate-Control to the client');

# the entry is written after the response went out
my $hit;
for (1 .. 20) {
    $hit = GET($path);
    last if ($hit->header('Cache-Status') // '') =~ /hit/;
    select undef, undef, undef, 0.05;
}
like($hit->header('Cache-Status') // '', qr/^vip; hit/, 'hit');
ok(!defined $hit->header('Surrogate-Key'), 'hit: no Surrogate-Key to the client');
ok(!defined $hit->header('Surrogate-Control'), 'hit: no Surrogate-Control to the client');

# the tags were kept with the entry: purging one of them drops the page
my $p = POST("/purge?tag=sk-$U");
is($p->code, 200, 'purge of the page\'s tag');
my ($after, $h2) = with_hits { GET($path) };
is($h2, 1, 'after the tag purge the page comes from the upstream again');
like($after->header('Cache-Status') // '', qr/fwd=/, 'after the tag purge: not a hit');
