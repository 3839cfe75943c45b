# Key normalisation of client addresses (THREATS L1, L2) behind a trusted
# proxy: the vip_limit_xff virtual host trusts 127.0.0.1 (mod_remoteip), so
# X-Forwarded-For carries the client address the limits key on.
#   /v4/  key=ip, 1 a minute: IPv4-mapped IPv6 (::ffff:a.b.c.d) is the
#         IPv4 client a.b.c.d; every IPv6 address is its own client
#   /v6/  key=ip6/64, 1 a minute: one counter per IPv6 /64
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 11, need_vip_limit();

Apache::TestRequest::module('vip_limit_xff');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

sub via { my ($path, $ip) = @_; return GET($path, 'X-Forwarded-For' => $ip) }

my $res = via('/v4/a', '10.1.2.3');
is($res->code, 200, '10.1.2.3: first request admitted');
is($res->header('X-Test-Limit-Key') // '', '10.1.2.3', 'keyed by the forwarded client address');
is(via('/v4/a', '10.1.2.3')->code, 429, '10.1.2.3 again: 429');
$res = via('/v4/a', '::ffff:10.1.2.3');
is($res->code, 429, '::ffff:10.1.2.3 is the same client: 429');
is($res->header('X-Test-Limit-Key') // '', '10.1.2.3', 'and its key is the folded IPv4 address');
is(via('/v4/a', '10.1.2.4')->code, 200, '10.1.2.4: a client of its own');
is(join(',', map { via('/v4/a', $_)->code } '2001:db8::1', '2001:db8::2'), '200,200',
   'key=ip: two IPv6 addresses of one /64 are two clients');

$res = via('/v6/a', '2001:db8:1:2::1');
is($res->header('X-Test-Limit-Key') // '', '2001:db8:1:2::/64', 'key=ip6/64: keyed by the /64');
is(via('/v6/a', '2001:db8:1:2:ffff:ffff:ffff:ffff')->code, 429, 'key=ip6/64: another address of that /64: 429');
is(via('/v6/a', '2001:db8:1:3::1')->code, 200, 'key=ip6/64: the next /64 is another client');
is(via('/v6/a', '10.9.9.9')->code, 200, 'key=ip6/64: IPv4 clients are keyed per address');
