# A URL purge that lands while the upstream is answering is not undone
# by that answer: the page is stored under the generation read before the
# purge, so the next request misses.  So is a tag purge, for a tag this
# httpd has seen on the page before (the lookup reads that tag's
# generation with the entry).
# Requests that wait for another request's fetch (collapsing) respect
# purges like the lookup does: after a tag purge, the purged page - still
# in memcached under its key, only its generation moved - is never handed
# to the waiters; they get the page fetched after the purge.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET POST);
use JSON ();
use LWP::UserAgent ();
use POSIX ();
use Vip::Test;

plan tests => 7 + 3, need_vip_cache(), need_vip_route();

Apache::TestRequest::module('vip_cache');
Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

my $U = "q$$" . time;
sub cs { $_[0]->header('Cache-Status') // '' }

# under /c/wait5/: with the default 1 s collapse wait, a waiter on a
# loaded machine can give up on the 400 ms fetch and fetch itself
my $path = "/c/wait5/$U/hot?_sleep=400&_hdr=Surrogate-Key:hot-$U&_hdr=Cache-Control:max-age%3D300";
my $old = GET($path);
my $old_hits = (echo_json($old) || {})->{hits} // -1;
for (1 .. 20) {       # stored after the response went out
    last if cs(GET($path)) =~ /^vip; hit/;
    select undef, undef, undef, 0.05;
}
like(cs(GET($path)), qr/^vip; hit/, 'the tagged page is cached');
is(POST("/purge?tag=hot-$U")->code, 200, 'its tag is purged');

my @res = concurrent_gets('vip_cache', $path, 6, sub {
    my $res = shift;
    my $doc = eval { JSON::decode_json($res->content) } || {};
    join ' ', $res->code, $doc->{hits} // -1, $res->header('Cache-Status') // '';
});
is(scalar(grep { /^200 / } @res), 6, '6 concurrent requests after the purge: all 200')
    or diag join "\n", @res;
my @stale = grep { (split / /)[1] == $old_hits } @res;
is(scalar(@stale), 0, 'none of them got the purged page') or diag join "\n", @res;
my %bodies = map { (split / /)[1] => 1 } @res;
ok(keys(%bodies) <= 2, 'they share the fetch made after the purge (at most one more)')
    or diag join "\n", @res;

# ---- a URL purge during the fetch ---------------------------------------------------
# $ua fetches $url in a child while $purge (a purge query) is sent; the
# child's answer is stored by the time this returns the purge's status.
sub purge_during_fetch {
    my ($ua, $url, $purge) = @_;
    my $pid = fork // die $!;
    if (!$pid) {
        $ua->get($url);
        POSIX::_exit(0);
    }
    select undef, undef, undef, 0.3;  # the fetch is under way
    my $code = POST("/purge?$purge")->code;
    waitpid($pid, 0);
    select undef, undef, undef, 0.2;  # its store is done
    return $code;
}

my $slow = "/c/$U/slow?_sleep=800";
is(purge_during_fetch(LWP::UserAgent->new(timeout => 10),
                      Apache::TestRequest::module2url('vip_cache', { path => $slow }),
                      "url=/c/$U/slow%3F_sleep%3D800"),
   200, 'a URL purge while the upstream answers');
unlike(cs(GET($slow)), qr/^vip; hit/, 'the answer fetched before the purge is not a hit after it');

# ---- a tag purge during the fetch ---------------------------------------------------
# The tag hint is per httpd process: one keep-alive connection (one
# process) learns the page's tag, and the fetch is made on it.
my $tagged = "/c/$U/slowtag?_sleep=800&_hdr=Surrogate-Key:slow-$U&_hdr=Cache-Control:max-age%3D300";
my $turl = Apache::TestRequest::module2url('vip_cache', { path => $tagged });
my $ka = LWP::UserAgent->new(keep_alive => 1, timeout => 10);
$ka->get($turl);                      # stored; this process learns the tag
for (1 .. 20) {
    last if cs($ka->get($turl)) =~ /^vip; hit/;
    select undef, undef, undef, 0.05;
}
is(POST("/purge?tag=slow-$U")->code, 200, 'the tagged page is purged: the next request fetches it');
is(purge_during_fetch($ka, $turl, "tag=slow-$U"), 200, 'a tag purge while the upstream answers');
unlike(cs(GET($tagged)), qr/^vip; hit/, 'the answer fetched before the tag purge is not a hit after it');
