# A <Location> that replaces a server limit keyed by client address (same
# name) or turns its zone off is obeyed: such server rules are decided in
# header_parser, after the location's own, instead of in
# post_read_request before the location is known.
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/../lib";

use Apache::Test qw(-withtestmore);
use Apache::TestRequest qw(GET);
use Vip::Test;

plan tests => 3, need_vip_limit();

Apache::TestRequest::user_agent(keep_alive => 1, reset => 1);

Apache::TestRequest::module('vip_limit_override_off');
my @free = map { GET("/free/x$_")->code } 1 .. 3;
is("@free", '404 404 404', 'zone turned off in the location: 3 requests, none refused (404 from the docroot)');
my @other = map { GET("/other/x$_")->code } 1 .. 2;
is("@other", '404 429', 'elsewhere the server rule (1/min) applies');
Apache::TestRequest::module('vip_limit_override');
my @tight = map { GET("/tight/x$_")->code } 1 .. 2;
is("@tight", '404 429', 'the location replacing the server rule (1/min instead of 100/min) is obeyed');
