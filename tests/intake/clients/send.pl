#!/usr/bin/perl
# A FaxOut client as Perl scripts write it: LWP with HTTP::Request::Common form-data.
use strict; use warnings;
use LWP::UserAgent; use HTTP::Request::Common qw(POST);
my ($url, $user, $pass, $file, $sendtime) = @ARGV;
my $ua = LWP::UserAgent->new(ssl_opts => { verify_hostname => 0, SSL_verify_mode => 0 });
my $res = $ua->request(POST $url,
    Content_Type => 'form-data',
    Content => [
        Username => $user, Password => $pass,
        Recipient => '6505550101|Perl One', Recipient => '6505550102|Perl Two',
        Sendtime => $sendtime,
        Attachment => [$file],
    ]);
die $res->status_line unless $res->is_success;
print $res->decoded_content;
