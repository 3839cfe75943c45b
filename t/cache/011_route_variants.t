# One URL answered by different upstreams - here a header split sends
# X-Api-Version: 2 to another service - keeps one entry per route and
# service: a request never gets the page another upstream made for
# another request (a poisoned variant), each variant is a hit of its own,
# and a URL purge reaches every variant at once.
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

my $U = "v$$" . time;
my $path = "/cs/$U/page";
sub cs { $_[0]->header('Cache-Status') // '' }
sub hit_soon {     # the entry is written after the response went out
    my @h = @_;
    my $res;
    for (1 .. 20) {
        $res = GET($path, @h);
        return $res if cs($res) =~ /^vip; hit/;
        select undef, undef, undef, 0.05;
    }
    return $res;
}

my $v2 = GET($path, 'X-Api-Version' => '2');
is(echo_which($v2), 2, 'X-Api-Version: 2 is answered by echo 2');
hit_soon('X-Api-Version' => '2');

my $v1 = GET($path);
is(echo_which($v1), 1, 'without the header: echo 1, not the cached page of echo 2');
unlike(cs($v1), qr/^vip; hit/, 'without the header: not a hit on the other variant');
my $h1 = hit_soon();
like(cs($h1), qr/^vip; hit/, 'the echo-1 variant is a hit of its own');
is(echo_which($h1), 1, '... with the echo-1 page');
my $h2 = hit_soon('X-Api-Version' => '2');
like(cs($h2), qr/^vip; hit/, 'the echo-2 variant is still a hit');
is(echo_which($h2), 2, '... with the echo-2 page');

my $p = POST("/purge?url=$path");
is($p->code, 200, 'a URL purge');
unlike(cs(GET($path)), qr/^vip; hit/, 'after it: the echo-1 variant is a miss');
unlike(cs(GET($path, 'X-Api-Version' => '2')), qr/^vip; hit/, 'after it: the echo-2 variant is a miss');
