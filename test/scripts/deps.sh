#!/usr/bin/env bash
# deps.sh: make sure the Debian packages that building, the demo and the
# tests need are installed. As root, installs what is missing; otherwise
# prints the one apt-get line to run and fails.
set -euo pipefail

packages=(
	make gcc pkg-config
	postgresql-15 postgresql-server-dev-15 libopenblas-dev
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
	postgresql-15-cron
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "personalize needs these Debian packages; install them with:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "Installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
