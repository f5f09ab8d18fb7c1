#!/usr/bin/perl
# Parses a message with Perl's Email::MIME and prints what it found as JSON
# in the shape parse_python.py prints: header fields, addresses, the MIME
# tree with decoded texts. Attachment bodies go to files in OUTDIR.
# Usage: parse_perl.pl MESSAGE OUTDIR
use strict;
use warnings;
use Email::MIME;
use Email::MIME::ContentType qw(parse_content_type parse_content_disposition);
use Encode qw(decode);
use JSON::PP;

my ($path, $outdir) = @ARGV;
open my $in, '<:raw', $path or die "cannot read $path: $!";
my $raw = do { local $/; <$in> };
close $in;
my $email = Email::MIME->new($raw);
my $counter = 0;

# Header bytes above 127 are UTF-8 (RFC 6532): Email::MIME leaves them as octets.
sub text { my ($value) = @_; return undef unless defined $value; return utf8::is_utf8($value) ? $value : decode('UTF-8', $value) }

sub addresses {
    my ($name) = @_;
    return undef unless defined $email->header_raw($name);
    my $list = $email->header_as_obj($name);
    return [ map { { name => text($_->phrase) // '', local => text($_->user), domain => text($_->host) } } $list->addresses ];
}

sub tree {
    my ($part) = @_;
    my $type = parse_content_type($part->content_type // 'text/plain');
    my $disposition_header = $part->header_raw('Content-Disposition');
    my $disposition = defined $disposition_header ? parse_content_disposition($disposition_header) : undef;
    my %node = (
        content_type => lc "$type->{type}/$type->{subtype}",
        params       => { map { $_ => text($type->{attributes}{$_}) } keys %{ $type->{attributes} } },
        cte          => scalar $part->header_raw('Content-Transfer-Encoding'),
        disposition  => $disposition ? $disposition->{type} : undef,
        filename     => text(scalar $part->filename),
        content_id   => scalar $part->header_raw('Content-ID'),
    );
    if ($type->{type} eq 'multipart') {
        $node{children} = [ map { tree($_) } $part->subparts ];
    } elsif ($type->{type} eq 'text' && !$disposition) {
        $node{text} = $part->body_str;
    } else {
        $counter++;
        my $name = "$outdir/perl-$counter";
        open my $out, '>:raw', $name or die "cannot write $name: $!";
        print $out $part->body;
        close $out;
        $node{file} = $name;
    }
    return \%node;
}

my %result = (
    headers => [ map { [ $_->[0], text($_->[1]) ] } pairs($email->header_str_pairs) ],
    tree    => tree($email),
    defects => [],
);
for my $name ('From', 'To', 'Cc', 'Reply-To', 'Bcc') {
    my $list = addresses($name);
    $result{ lc $name } = $list if $list;
}
for my $name ('Subject', 'Message-ID', 'Date', 'MIME-Version') {
    my $value = $email->header_str($name);
    $result{ lc $name } = text($value) if defined $value;
}
print JSON::PP->new->canonical->utf8->encode(\%result);

sub pairs { my @flat = @_; my @out; push @out, [ splice @flat, 0, 2 ] while @flat; return @out }
