# Key floods (issue 6, THREATS L4, L5): thousands of distinct client
# addresses (X-Forwarded-For through the trusted proxy of vip_limit_xff)
# against zones of 64 entries.  Live entries are never evicted: a client
# already limited stays limited, and a tenant's counter, in a zone of its
# own, is untouched.  New keys that find no free entry are let through
# (full=open: counted, one VIP04010 warning a minute) or refused with a 503
# problem (full=deny).
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 11, need_vip_limit(), need_vip_auth();

Apache::TestRequest::module('vip_limit_xff');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
expect_log(qr/VIP04010: zone flood is full of live entries \(64\): new keys are not limited/);
expect_log(qr/VIP04010: zone flood-deny is full of live entries \(64\): new keys are refused with 503/);

my $KEY = apikey('acme-k1');
sub tenant_r { (GET('/tenant/x', 'X-Api-Key' => $KEY)->header('RateLimit') // '') =~ /"flood-tenant\.quota";r=(\d+)/ ? $1 : -1 }

# established state
my $r1 = tenant_r();
is(GET('/flood/x', 'X-Forwarded-For' => '192.0.2.1')->code, 200, 'established client: admitted');
is(GET('/flood/x', 'X-Forwarded-For' => '192.0.2.1')->code, 429, 'established client: now limited for a minute');

my $off = error_log_size();
my %codes;
for my $i (1 .. 2000) {
    my $ip = sprintf '10.%d.%d.%d', 100 + ($i >> 16), ($i >> 8) & 255, $i & 255;
    $codes{ GET('/flood/x', 'X-Forwarded-For' => $ip)->code }++;
}
is(join(',', map { "$_:$codes{$_}" } sort keys %codes), '200:2000',
   '2000 new clients on a 64-entry zone: all let through (full=open)');
is(GET('/flood/x', 'X-Forwarded-For' => '192.0.2.1')->code, 429,
   'after the flood: the established client is still limited (never evicted)');
is(tenant_r(), $r1 - 1, "the tenant's counter in its own zone went on ($r1 -> " . ($r1 - 1) . ')');
my $log = error_log_since($off, 0.3);
my @lines = $log =~ /(VIP04010: zone flood is full[^\n]*)/g;
is(scalar @lines, 1, 'one VIP04010 warning for the whole flood (rate-limited)');
like($lines[0] // '', qr/raise entries=/, 'it says what to do');

# full=deny: 503 for new clients once the table holds only live entries
is(GET('/flood-deny/x', 'X-Forwarded-For' => '192.0.2.7')->code, 200, 'full=deny: established client admitted');
my ($n503, $res) = (0);
for my $i (1 .. 400) {
    my $r = GET('/flood-deny/x', 'X-Forwarded-For' => sprintf('10.200.%d.%d', $i >> 8, $i & 255));
    if ($r->code == 503) { $n503++; $res = $r }
}
cmp_ok($n503, '>', 300, "full=deny: new clients refused once full ($n503 of 400)");
problem_ok($res // GET('/flood-deny/none'), 503, 'full=deny: a 503 problem');
is(GET('/flood-deny/x', 'X-Forwarded-For' => '192.0.2.7')->code, 429, 'full=deny: the established client keeps its state');
