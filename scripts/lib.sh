# Shared by scripts/test and scripts/demo.  Sourced, not run.
#
# Everything runs as root except the PostgreSQL servers and the test
# programs, which run as the "postgres" user (PostgreSQL refuses root) in a
# scratch directory that user owns.

set -euo pipefail

FINSEC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
# FINSEC_PGROOT=/some/dir runs everything against a private, relocated copy
# of the server installation instead of the system one, so that several
# checkouts can build, install and test at the same time on one machine.
FINSEC_PGROOT=${FINSEC_PGROOT:-}
PG_BINDIR=$FINSEC_PGROOT/usr/lib/postgresql/$PG_MAJOR/bin
export PATH="$PG_BINDIR:$PATH"

# The master key of test and demo clusters (public; for throwaway clusters only).
FINSEC_TEST_MASTER_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

say() { printf '\n==> %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install, from Debian's archive, whatever of the build and test tool chain is
# missing.  Nothing is downloaded when everything is already there.
ensure_deps() {
	[ "$(id -u)" -eq 0 ] || die "run this as root (it installs packages and the extension)"
	local pkgs=(make gcc perl rsync postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR
				postgresql-contrib libssl-dev libkrb5-dev libipc-run-perl faketime
				clang libclang-rt-14-dev python3
				chromium fonts-noto-cjk poppler-utils pgbackrest)
	local missing=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		say "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
	[ -z "$FINSEC_PGROOT" ] || make_private_root
	export PG_CONFIG=$PG_BINDIR/pg_config
	[ -x "$PG_CONFIG" ] || PG_CONFIG=$(command -v pg_config)
}

# PostgreSQL finds its share and library directories relative to its own
# binaries, so a copy of the installation under another root is a complete,
# independent server that "make install DESTDIR" would fill.
make_private_root() {
	local r=$FINSEC_PGROOT d
	[ -x "$r/usr/lib/postgresql/$PG_MAJOR/bin/postgres" ] && return 0
	say "making a private server installation under $r"
	for d in usr/lib/postgresql/$PG_MAJOR usr/share/postgresql/$PG_MAJOR usr/include/postgresql; do
		mkdir -p "$r/$(dirname "$d")"
		cp -a "/$d" "$r/$(dirname "$d")/"
	done
	chmod 755 "$r"
}

# Build with every warning an error, and install into the server
# (FINSEC_BENCH_NO_BUILD=1: keep what is installed; test/bench/all.sh builds once).
build_install() {
	if [ -n "${FINSEC_BENCH_NO_BUILD:-}" ]; then
		say "using the installed build of finsec (FINSEC_BENCH_NO_BUILD)"
		return 0
	fi
	say "building finsec (-Wall -Werror) and installing it"
	make -C "$FINSEC_ROOT" -s clean >/dev/null
	make -C "$FINSEC_ROOT" -s WERROR=1 PG_CONFIG="$PG_CONFIG" >/dev/null
	make -C "$FINSEC_ROOT" -s install PG_CONFIG="$PG_CONFIG" >/dev/null
	# test-only worker tasks for TAP 004/005 (test/modules/finsec_test_tasks)
	make -C "$FINSEC_ROOT/test/modules/finsec_test_tasks" -s clean all install WERROR=1 \
		PG_CONFIG="$PG_CONFIG" >/dev/null
}

# A scratch directory the postgres user owns, holding a copy of the tree.
make_workdir() {
	WORKDIR=$(mktemp -d "${TMPDIR:-/tmp}/finsec.XXXXXX")
	rsync -a --exclude .git "$FINSEC_ROOT"/ "$WORKDIR/src/"
	chown -R postgres:postgres "$WORKDIR"
	chmod 755 "$WORKDIR"
}

as_pg() { runuser -u postgres -- env PATH="$PATH" "$@"; }

# start_cluster NAME PORT [preload]: a throwaway cluster under $WORKDIR,
# listening only on a Unix socket in $WORKDIR.
start_cluster() {
	local name=$1 port=$2 preload=${3:-preload}
	local dir=$WORKDIR/$name
	as_pg initdb -D "$dir" -A trust -U postgres --no-sync >/dev/null
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$WORKDIR'"
		echo "port = $port"
		echo "fsync = off"
		if [ "$preload" = preload ]; then
			echo "shared_preload_libraries = 'finsec'"
			echo "finsec.master_key_file = '$dir.master.key'"
		fi
	} >>"$dir/postgresql.conf"
	# A fixed, published master key: test clusters are throwaway, and fixed
	# check values keep expected outputs stable.  Never use it elsewhere.
	echo "$FINSEC_TEST_MASTER_KEY" >"$dir.master.key"
	chown postgres "$dir.master.key"
	chmod 600 "$dir.master.key"
	as_pg pg_ctl -D "$dir" -l "$WORKDIR/$name.log" -w start >/dev/null
	export PGHOST=$WORKDIR PGPORT=$port PGUSER=postgres
}

stop_cluster() {
	as_pg pg_ctl -D "$WORKDIR/$1" -m fast -w stop >/dev/null 2>&1 || true
}
