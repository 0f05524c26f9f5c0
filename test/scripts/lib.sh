#!/usr/bin/env bash
# lib.sh: helpers shared by demo.sh and check.sh (sourced, not run).
#
# PostgreSQL refuses to run as root, so when we are root every server,
# initdb and test driver runs as Debian's unprivileged postgres user, in a
# temporary directory that user owns.

PG_BINDIR=$(pg_config --bindir)
PG_PKGLIBDIR=$(pg_config --pkglibdir)
PG_REGRESS="$PG_PKGLIBDIR/pgxs/src/test/regress/pg_regress"
PG_PERL="$PG_PKGLIBDIR/pgxs/src/test/perl"
# pg_config may report the client bindir; the server binaries live here on Debian
[[ -x "$PG_BINDIR/initdb" ]] || PG_BINDIR=/usr/lib/postgresql/$(pg_config --version | sed 's/[^0-9]*\([0-9]*\).*/\1/')/bin

# Run a command as the unprivileged user when we are root.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		runuser -u postgres -- env PATH="$PG_BINDIR:$PATH" "$@"
	else
		env PATH="$PG_BINDIR:$PATH" "$@"
	fi
}

# Build and install the extension (install needs root or a writable PGXS dir).
build_and_install() {
	make -s 2>&1 | grep -v "overriding recipe\|ignoring old recipe" || true
	if ! make -s install >/dev/null 2>/tmp/personalize-install.log; then
		cat /tmp/personalize-install.log >&2
		echo "make install failed: run as root, or make the PostgreSQL install directories writable" >&2
		exit 1
	fi
}

# Create a temporary work directory the test user owns; sets WORKDIR.
make_workdir() {
	WORKDIR=$(mktemp -d /tmp/personalize.XXXXXX)
	chmod 755 "$WORKDIR"
	[[ $(id -u) -eq 0 ]] && chown postgres: "$WORKDIR"
	return 0
}

# Pick a free private port; sets PGPORT.
pick_port() {
	local p
	for p in $(shuf -i 20000-29999 -n 50); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [[ ! -e "$WORKDIR/.s.PGSQL.$p" ]]; then
			PGPORT=$p
			export PGPORT
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

# Start a throwaway cluster in $WORKDIR/data listening on a Unix socket only.
start_cluster() {
	pick_port
	as_pg initdb -D "$WORKDIR/data" -A trust -U postgres --no-locale -E UTF8 >"$WORKDIR/initdb.log" 2>&1 \
		|| { cat "$WORKDIR/initdb.log" >&2; return 1; }
	as_pg pg_ctl -D "$WORKDIR/data" -l "$WORKDIR/server.log" -w \
		-o "-p $PGPORT -k $WORKDIR -c listen_addresses=''" start >/dev/null \
		|| { cat "$WORKDIR/server.log" >&2; return 1; }
	export PGHOST="$WORKDIR" PGUSER=postgres
	CLUSTER_STARTED=1
}

# Stop the cluster (if started) and remove the work directory.
cleanup() {
	if [[ -n "${CLUSTER_STARTED:-}" ]]; then
		as_pg pg_ctl -D "$WORKDIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	[[ -n "${WORKDIR:-}" && -z "${KEEP_WORKDIR:-}" ]] && rm -rf "$WORKDIR"
	return 0
}
