#!/usr/bin/env bash
# deps.sh: make sure the Debian packages that building, `make demo`,
# `make check` and `make bench` need are installed (what `make deps` runs;
# with --bench, also what only `make bench` needs).
# Quiet when nothing is missing. As root, installs what is missing; otherwise
# prints the one apt-get line to run and exits 1.
set -euo pipefail

packages=(
	make gcc pkg-config
	postgresql-15 postgresql-server-dev-15 libopenblas-dev
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
	libipc-run-perl		# PostgreSQL::Test::Cluster (TAP tests) needs IPC::Run
	postgresql-15-cron
)
# `make bench` also measures NumPy/SciPy references and draws charts
# (deps.sh --bench)
bench_packages=(python3-numpy python3-scipy python3-psycopg gnuplot-nox)
[[ "${1:-}" == "--bench" ]] && packages+=("${bench_packages[@]}")

# Print the packages of the list that dpkg does not report as installed.
missing_packages() {
	local p status
	for p in "${packages[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
		[[ "$status" == "install ok installed" ]] || echo "$p"
	done
}

main() {
	local missing
	mapfile -t missing < <(missing_packages)
	[[ ${#missing[@]} -eq 0 ]] && return 0

	if [[ $(id -u) -ne 0 ]]; then
		echo "sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
		return 1
	fi
	echo "deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

main "$@"
