#!/usr/bin/env bash
# Build and run every libFuzzer target under test/fuzz for a bounded time.
#
#   bash test/fuzz/run.sh [seconds-per-target]      (default 20)
#
# A target is test/fuzz/fuzz_<name>.c defining LLVMFuzzerTestOneInput, with
# a header comment line
#   // sources: src/some/pure.c src/other/pure.c
# naming the plain-C sources (no PostgreSQL headers) it links, relative to
# the repository root.  A seed corpus, if any, is test/fuzz/corpus/<name>/
# (copied, so the tree is never written).  Each target is built with
# ASan + UBSan (no recovery) and run with -max_total_time; leaks, crashes,
# sanitizer reports, timeouts and abort() from the target's own invariant
# checks all fail it.  Prints one line per target:
#   fuzz <name> ... ok (<runs> runs)
#   fuzz <name> ... FAILED            (followed by the tail of its log)
# and exits non-zero if any failed.  Runs as root or as postgres; needs
# clang and its fuzzer runtime (libclang-rt-14-dev), no server.
set -uo pipefail

secs=${1:-20}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root" || exit 2
CC=${FUZZ_CC:-clang}
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I src/include)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/finsec-fuzz.XXXXXX") || { echo "fuzz: cannot create a scratch directory under ${TMPDIR:-/tmp}"; exit 2; }
trap 'rm -rf "$scratch"' EXIT

shopt -s nullglob
targets=(test/fuzz/fuzz_*.c)
if [ ${#targets[@]} -eq 0 ]; then
	echo "no fuzz targets under test/fuzz"
	exit 0
fi

failed=0
for t in "${targets[@]}"; do
	name=$(basename "$t" .c)
	name=${name#fuzz_}
	dir=$scratch/$name
	mkdir -p "$dir/corpus"
	log=$dir/log
	srcs=$(sed -n 's|^[[:space:]]*//[[:space:]]*sources:[[:space:]]*||p' "$t" | head -1)
	# shellcheck disable=SC2086  # the sources line is a word list
	if ! "$CC" "${CFLAGS[@]}" -o "$dir/fuzzer" "$t" $srcs >"$log" 2>&1; then
		echo "fuzz $name ... FAILED (does not build)"
		tail -30 "$log"
		failed=$((failed + 1))
		continue
	fi
	if [ -d "test/fuzz/corpus/$name" ]; then
		cp -R "test/fuzz/corpus/$name/." "$dir/corpus/"
	fi
	(cd "$dir" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		./fuzzer -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
			-print_final_stats=1 corpus >>"$log" 2>&1)
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*//p' "$log" | tail -1)
	[ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)
	if [ $rc -eq 0 ] && ! grep -qE 'ERROR: (Address|Undefined|Leak)Sanitizer|runtime error:|==[0-9]+==ERROR' "$log"; then
		echo "fuzz $name ... ok (${runs:-0} runs)"
	else
		echo "fuzz $name ... FAILED (exit $rc)"
		tail -40 "$log"
		failed=$((failed + 1))
	fi
done
[ $failed -eq 0 ]
