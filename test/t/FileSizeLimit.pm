# Starting a PostgreSQL::Test::Cluster node under a file size limit
# (ulimit -f), for 010_disk_full.pl and 017_small_shared_memory.pl: the
# server then fails to write a file past the limit with "File too large",
# as it would on a full disk or a full /dev/shm, while smaller files work.
package FileSizeLimit;

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);

our @EXPORT = qw(start_with_file_size_limit);

# Start $node with pg_ctl wrapped in "ulimit -f $blocks" (/bin/sh's units
# of 512 bytes).  A later restart through the node's methods has no limit.
sub start_with_file_size_limit
{
	my ($node, $blocks) = @_;
	my $wrap = tempdir(CLEANUP => 1);
	my $pg_ctl = $node->config_data('--bindir') . '/pg_ctl';

	open(my $fh, '>', "$wrap/pg_ctl") or die "could not write $wrap/pg_ctl: $!";
	print $fh "#!/bin/sh\nulimit -f $blocks\nexec '$pg_ctl' \"\$@\"\n";
	close $fh;
	chmod 0755, "$wrap/pg_ctl";
	local $ENV{PATH} = "$wrap:$ENV{PATH}";
	$node->start;
	return;
}

1;
