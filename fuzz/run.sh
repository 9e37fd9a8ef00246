#!/usr/bin/env bash
# Builds the cargo-fuzz targets and runs each for SECONDS (default 60) on the
# committed seeds plus a scratch corpus. Prints one line per target and a
# final `fuzz: N passed, M failed`; exits non-zero if any target crashed (or
# the build failed). See fuzz/README.md.
#
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
#
# Environment:
#   FUZZ_SCRATCH   scratch corpus root (default fuzz/corpus-scratch, git-ignored);
#                  libFuzzer adds new inputs there, never to the committed corpus/
#   FUZZ_SANITIZER address (default) or none; builds other than address go to
#                  their own target dir (target/sanitizer-none), so switching
#                  does not rebuild everything
#   FUZZ_ARGS      extra libFuzzer flags, e.g. "-max_len=8192"
set -uo pipefail

secs=${1:-60}
shift $(( $# > 0 ? 1 : 0 ))
case "$secs" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
cd "$here" || exit 2

# Stable toolchain: cargo-fuzz passes nightly-only -Z flags (sanitizer,
# coverage instrumentation) to rustc; RUSTC_BOOTSTRAP=1 lets a stable rustc
# accept them. Nothing here needs a nightly toolchain.
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
scratch=${FUZZ_SCRATCH:-$here/corpus-scratch}

# scripts/setup installs it, pinned: the version these scripts were tested with (~45 s to build on 2
# cores). libFuzzer itself is C++, built by libfuzzer-sys: needs c++ (g++).
if ! cargo fuzz --version >/dev/null 2>&1; then
    "$here/../scripts/setup" fuzz >&2 || exit 2
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz: no targets" >&2
    exit 2
fi

# -O: optimized; -a: with debug assertions and overflow checks, so the
# crates' debug_assert!s are checked too. One target dir per sanitizer (the
# flags differ, so sharing one would rebuild everything on each switch).
target_dir=${CARGO_TARGET_DIR:-$here/target}
[ "$sanitizer" = address ] || target_dir=$target_dir/sanitizer-$sanitizer
build=(-O -a --sanitizer "$sanitizer" --target-dir "$target_dir")

logs=$(mktemp -d "${TMPDIR:-/tmp}/duplex-fuzz.XXXXXX")
echo "fuzz: building ${#targets[@]} targets (sanitizer $sanitizer), logs in $logs" >&2
start=$SECONDS
if ! cargo fuzz build "${build[@]}" >"$logs/build.log" 2>&1; then
    tail -n 40 "$logs/build.log" >&2
    for t in "${targets[@]}"; do echo "fuzz $t: FAILED"; done
    echo "fuzz: 0 passed, ${#targets[@]} failed"
    exit 1
fi
echo "fuzz: built in $((SECONDS - start))s" >&2

passed=0
failed=0
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t" "corpus/$t"
    log="$logs/$t.log"
    # New inputs go to the first corpus directory: the scratch one.
    # A single libFuzzer process (one core): no -jobs/-workers.
    # shellcheck disable=SC2086
    cargo fuzz run "${build[@]}" "$t" "$scratch/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 \
        ${FUZZ_ARGS:-} >"$log" 2>&1
    status=$?
    runs=$(sed -n 's/^Done \([0-9]*\) runs in .*/\1/p' "$log" | tail -n 1)
    if [ $status -eq 0 ] && [ -n "$runs" ]; then
        echo "fuzz $t: ok, $runs runs"
        passed=$((passed + 1))
    else
        {
            echo "---- $t (exit $status), last lines of $log:"
            tail -n 40 "$log"
            echo "----"
        } >&2
        echo "fuzz $t: FAILED"
        failed=$((failed + 1))
    fi
done

echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
