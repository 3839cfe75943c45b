# Expression keys and "VipLimit zone off" (issue 6):
#   /app/       key=expr:%{req:X-App}, 2 a minute per X-App value; requests
#               without the header (empty key) are not limited by it
#   /rate/free/ "VipLimit rl off" below /rate/ (10 r/s burst 5): unlimited
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 7, need_vip_limit();

Apache::TestRequest::module('vip_limit');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

is(join(',', map { GET('/app/x', 'X-App' => 'shop')->code } 1 .. 3), '200,200,429',
   'X-App: shop: 2 admitted, the third refused');
my $res = GET('/app/x', 'X-App' => 'crm');
is($res->code, 200, 'X-App: crm: a counter of its own');
is($res->header('X-Test-Limit-Key') // '', 'crm', 'note vip.limit_key: the expression value');
is(join(',', map { GET('/app/x')->code } 1 .. 4), '200,200,200,200',
   'no X-App (empty key): the zone does not apply');
$res = GET('/app/x', 'X-App' => "a\"b\\c d");
is($res->header('X-Test-Limit-Key') // '', 'a_b_c_d', 'a key value is made safe for notes and logs');

is(join(',', map { GET('/rate/free/x')->code } 1 .. 12), join(',', (200) x 12),
   '/rate/free/ (VipLimit rl off): 12 at once, all admitted');
ok(!defined GET('/rate/free/y')->header('RateLimit'), 'no RateLimit fields where no limit applies');
