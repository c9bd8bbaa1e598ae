#!/usr/bin/env bash
# Runs the fuzz targets (itc-proto's, and the file service's files_*), one
# at a time, each for a fixed number of executions, starting from the seeds
# in corpus/<target>/.
#
#   proto/fuzz/run.sh [RUNS [TARGET...]]
#
# RUNS defaults to 20000; TARGETs default to all of them. Needs a nightly
# toolchain and cargo-fuzz (cargo install cargo-fuzz). Inputs a run finds
# go to scratch/<target>/, emptied at the start of each run, so the seeds
# stay as committed; the log of each run is scratch/<target>.log. A crash
# is written to artifacts/<target>/ and makes the script exit 1 after the
# other targets have run. Builds with debug assertions, so an arithmetic
# overflow is a crash too.
set -euo pipefail
cd "$(dirname "$0")"

runs=${1:-20000}
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(header pru_message pru_batch hello echo tep capture files_message files_manifest files_tombstone batch)
fi
# Packets are at most 257 bytes; a little more reaches the length checks.
# Manifests may be longer, but 512 bytes hold one of twelve pieces, and
# longer ones take the same paths.
max_len=512

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "run.sh: needs a nightly toolchain and cargo-fuzz" >&2
    exit 2
fi

cargo +nightly fuzz build --debug-assertions
failed=()
for target in "${targets[@]}"; do
    scratch="scratch/$target"
    log="scratch/$target.log"
    rm -rf "$scratch"
    mkdir -p "$scratch"
    echo "fuzz $target: $runs runs"
    if cargo +nightly fuzz run --debug-assertions "$target" "$scratch" "corpus/$target" -- \
        -runs="$runs" -max_len="$max_len" -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)|^Done ' "$log" |
            sed 's/^/    /'
    else
        failed+=("$target")
        echo "fuzz $target FAILED; the end of $log:"
        tail -n 40 "$log" | sed 's/^/    /'
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]} (inputs in proto/fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, $runs runs each, no crash"
