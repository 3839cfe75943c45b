# Subrequests: an .shtml page in an authenticated location includes
# (mod_include "include virtual") an authenticated proxied location.  The
# subrequest inherits the verified identity without verifying again (the
# credential is already hidden from it), still passes its own Require
# lines, and the page sees the VIP_* environment variables.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use JSON ();
use Vip::Test;

plan tests => 27, need_vip_auth();

sub fragment {
    my $res = shift;
    my ($f) = ($res->content // '') =~ /<!--FRAGMENT-BEGIN-->(.*?)<!--FRAGMENT-END-->/s;
    return $f // '';
}
sub fragment_json { my $f = fragment(shift); eval { JSON->new->decode($f) } }
sub env_of {
    my ($res, $name) = @_;
    my ($v) = ($res->content // '') =~ /\Q$name\E=\[([^\]]*)\]/;
    return $v;
}

my $K1 = apikey('acme-k1');
my $RO = apikey('acme-ro');

# ---- API key ---------------------------------------------------------------
my ($res, $hits) = with_hits { GET '/auth/ssi/page.shtml', 'X-Api-Key' => $K1, 'X-Vip-Tenant' => 'evil' };
is($res->code, 200, 'page.shtml with a valid key: 200') or diag $res->as_string;
is(env_of($res, 'TENANT'),  'acme',    'page sees VIP_TENANT');
is(env_of($res, 'SUBJECT'), 'acme-k1', 'page sees VIP_SUBJECT');
is(env_of($res, 'PLAN'),    'gold',    'page sees VIP_PLAN');
is(scopes_set(env_of($res, 'SCOPES')), 'catalog:read orders:read orders:write', 'page sees VIP_SCOPES');
my $frag = fragment_json($res);
ok($frag, 'the included fragment is the echo answer') or diag fragment($res);
$frag ||= {};
is("$frag->{path}?$frag->{query}", '/auth/any/fragment?from=ssi', 'the subrequest reached the proxied location');
is_deeply([ echo_values($frag, 'X-Vip-Tenant') ], ['acme'], 'subrequest: upstream gets X-Vip-Tenant: acme, once');
is_deeply([ echo_values($frag, 'X-Vip-Subject') ], ['acme-k1'], 'subrequest: X-Vip-Subject inherited');
is_deeply([ echo_values($frag, 'X-Test-Auth-Result') ], ['inherited'],
          'subrequest: vip.auth_result is "inherited" (no second verification)');
is_deeply([ echo_values($frag, 'X-Api-Key') ], [], 'subrequest: the key is not forwarded');
is($hits, 1, 'one upstream request for the page');

# ---- token -----------------------------------------------------------------
my $tok = jwt({ alg => 'EdDSA' }, claims(sub => 'ssi-user', scope => 'catalog:read'), 'ed1');
$res = GET '/auth/ssi/page.shtml', Authorization => "Bearer $tok";
is($res->code, 200, 'page.shtml with a valid token: 200');
is(env_of($res, 'SUBJECT'), 'ssi-user', 'token: page sees VIP_SUBJECT = sub');
$frag = fragment_json($res) || {};
is_deeply([ echo_values($frag, 'X-Vip-Subject') ], ['ssi-user'], 'token: subrequest inherits the subject');
is_deeply([ echo_values($frag, 'X-Vip-Scopes') ], ['catalog:read'], 'token: subrequest inherits the scopes');
is_deeply([ echo_values($frag, 'Authorization') ], [], 'token: Authorization not forwarded by the subrequest');

# ---- the subrequest's own Require -----------------------------------------
($res, $hits) = with_hits { GET '/auth/ssi/scoped.shtml', 'X-Api-Key' => $RO };
is($res->code, 200, 'scoped.shtml as acme-ro: the page itself is allowed');
ok(!fragment_json($res), 'acme-ro lacks orders:write: the fragment is not included')
    or diag fragment($res);
is($hits, 0, 'denied subrequest: upstream untouched');

($res, $hits) = with_hits { GET '/auth/ssi/scoped.shtml', 'X-Api-Key' => $K1 };
$frag = fragment_json($res) || {};
is($frag->{path}, '/auth/scope/orders-write/fragment', 'acme-k1 has orders:write: fragment included');
is_deeply([ echo_values($frag, 'X-Test-Auth-Result') ], ['inherited'], 'scoped subrequest: identity inherited');
is($hits, 1, 'allowed subrequest: upstream called once');

# ---- no or bad credential ----------------------------------------------------
($res, $hits) = with_hits { GET '/auth/ssi/page.shtml' };
problem_ok($res, 401, 'page.shtml without credential: 401');
is($hits, 0, 'no credential: the include never runs');

($res, $hits) = with_hits { GET '/auth/ssi/page.shtml', 'X-Api-Key' => "$K1." };
problem_ok($res, 401, 'page.shtml with a bad key: 401');
is($hits, 0, 'bad key: the include never runs');
