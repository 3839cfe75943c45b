# Purge (issue 5, THREATS C16) across two httpd instances sharing
# memcached: this test server and a second httpd (Vip::Second) with the
# same canonical ServerName, so both key pages alike and share entries.
#  - by URL, by tag (Surrogate-Key), by tenant: done on one node, seen at
#    once on the other (tag and tenant purges are one increment of a
#    generation; no key enumeration, no broadcast);
#  - an evicted generation counts as changed;
#  - who may purge is the admin's Require; a tenant purges only its own
#    entries (its tag purges never touch another tenant's pages);
#  - tags are validated.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use Vip::Test;
use Vip::Second;

plan tests => 29, need_vip_cache(), need_vip_route(), need_vip_auth();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);
my $hostport = Apache::TestRequest::hostport();
my $U = "u$$" . time;
sub cs { $_[0]->header('Cache-Status') // '' }
my ($mc1, $mc2, $echo) = map { vip_var($_) } qw(memcached_port memcached2_port echo_port);
my $registry = t_dir() . '/conf/tenants.json';

my $two = Vip::Second->start(name => 'cache', body => <<"EOF");
VipAuthRegistry "$registry"
<VirtualHost 127.0.0.1:\@PORT\@>
    ServerName $hostport
    VipCacheServers 127.0.0.1:$mc1 127.0.0.1:$mc2 connect_timeout=50 timeout=150 retry=1 dead_retry=2
    VipRouteService cache-echo http://127.0.0.1:$echo
    VipRoute c-all /c/* cache-echo
    VipRoute c-tenant /tc/* cache-echo
    <Location "/c/">
        VipCache On
    </Location>
    <Location "/tc/">
        AuthType Vip
        Require valid-user
        VipCache On
    </Location>
    <Location "/purge">
        SetHandler vip-cache-purge
        Require ip 127.0.0.1
    </Location>
</VirtualHost>
EOF
sub B { my ($path, @h) = @_; $two->get($path, Host => 'localhost', @h) }
sub purge_b { B("/purge?$_[0]", method => 'POST') }

# ---- entries are shared by both nodes ------------------------------------
my @NOTE = qw(reqid status cache key ttl tenant method uri query);
my $tagged = "/c/$U/p?_hdr=Surrogate-Key:product-1%20brand-7";
my $aid = req_id();
my ($a1) = with_hits { GET($tagged, 'X-Req-Id' => $aid) };
# The entry is written after the response went out; the access log line
# comes after that.
log_fields_for('vip_cache_notes.log', \@NOTE, $aid, 5, 1);
like(cs($a1), qr/stored/, 'node A stores a tagged page');
is($a1->header('Surrogate-Key'), undef, 'the client never sees Surrogate-Key');
my ($b1, $bh1) = with_hits { B($tagged) };
ok($b1->code == 200 && $bh1 == 0 && cs($b1) =~ /^vip; hit/, "node B: a hit on node A's entry");

# ---- by tag, on the other node ---------------------------------------------
my $p = purge_b('tag=brand-7');
is($p->code, 200, 'node B purges tag brand-7');
like($p->content, qr/"purged":"tag".*"scope":"public"/, 'purge answer names tag and scope');
my ($a2, $ah2) = with_hits { GET($tagged) };
ok($ah2 == 1 && cs($a2) =~ /fwd=miss; stored/, 'node A: the tagged page is a miss at once');
my (undef, $ah3) = with_hits { GET($tagged) };
is($ah3, 0, 'node A: stored again, a hit');
my ($o1) = with_hits { GET("/c/$U/other?_hdr=Surrogate-Key:brand-8") };
purge_b('tag=brand-7');
my (undef, $oh) = with_hits { GET("/c/$U/other?_hdr=Surrogate-Key:brand-8") };
is($oh, 0, 'a page with other tags survives the purge');

# ---- by URL ------------------------------------------------------------------
my (undef) = with_hits { GET("/c/$U/url?b=2&a=1") };
$p = purge_b('url=' . "/c/$U/url%3Fa%3D1%26b%3D2");
is($p->code, 200, 'node B purges a URL');
my ($u2, $uh2) = with_hits { GET("/c/$U/url?b=2&a=1") };
ok($uh2 == 1 && cs($u2) =~ /fwd=miss/, 'node A: the URL is gone (its generation moved: a miss)');

# ---- by tenant -----------------------------------------------------------------
my ($ACME, $HOOLI) = (apikey('acme-k1'), apikey('hooli-k1'));
auth_get("/tc/$U/t", key => $ACME);
auth_get("/tc/$U/t", key => $HOOLI);
my (undef, $th) = with_hits { auth_get("/tc/$U/t", key => $ACME) };
is($th, 0, 'acme cached');
$p = purge_b('tenant=acme');
is($p->code, 200, 'node B purges tenant acme');
my (undef, $tah) = with_hits { auth_get("/tc/$U/t", key => $ACME) };
is($tah, 1, "node A: acme's page is a miss");
my (undef, $thh) = with_hits { auth_get("/tc/$U/t", key => $HOOLI) };
is($thh, 0, "node A: hooli's page is untouched");

# ---- a tenant purges its own tags only ---------------------------------------
my $tt = "/tc/$U/tag?_hdr=Surrogate-Key:shoe";
auth_get($tt, key => $ACME);
auth_get($tt, key => $HOOLI);
$p = POST("/tpurge?tag=shoe", 'X-Api-Key' => $ACME);
ok($p->code == 200 && $p->content =~ /"scope":"t:acme"/, 'acme purges tag shoe: scoped to acme');
my (undef, $s1) = with_hits { auth_get($tt, key => $ACME) };
is($s1, 1, "acme's tagged page: a miss");
my (undef, $s2) = with_hits { auth_get($tt, key => $HOOLI) };
is($s2, 0, "hooli's page with the same tag: still a hit");
$p = POST("/tpurge?tenant=hooli", 'X-Api-Key' => $ACME);
is($p->code, 403, 'acme naming tenant hooli: 403');
problem_ok($p, 403, '403 is a problem document');
$p = POST("/tpurge?tag=shoe&scope=public", 'X-Api-Key' => $ACME);
is($p->code, 403, 'a tenant choosing another scope: 403');
$p = POST("/tpurge?tag=shoe");
is($p->code, 401, 'no credentials: 401');

# ---- the admin's Require, methods, validation -----------------------------------
is(POST('/purge-denied?tag=x')->code, 403, 'Require not met: 403');
is(GET('/purge?tag=x')->code, 405, 'GET: 405');
for my $bad ('tag=a*', 'tag=a%20b', 'tag=' . ('x' x 65), 'tag=a,b') {
    is(POST("/purge?$bad")->code, 400, "invalid tag ($bad): 400");
}
is(POST('/purge?url=relative')->code, 400, 'url= not absolute: 400');

# ---- an evicted generation counts as changed -------------------------------------
my $ev = "/c/$U/evict";
GET($ev);
my (undef, $eh) = with_hits { GET($ev) };
mc_delete('vip:1:gen:public');
{ local $Vip::Test::MC = 2; mc_delete('vip:1:gen:public') }
my ($e2, $eh2) = with_hits { GET($ev) };
ok($eh == 0 && $eh2 == 1, 'the scope generation evicted: the entry counts as purged');

$two->stop;
