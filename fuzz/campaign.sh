#!/usr/bin/env bash
# campaign.sh: the long fuzzing run recorded in docs/reliability.md.
# Runs each target for SECONDS of wall-clock time, PARALLEL targets at a time,
# keeping the corpus under fuzz/corpus/<target> so later runs continue from it,
# and prints one Markdown table row per target: wall time, CPU time (user +
# system, so a reader sees how much of a core a target really had), executions,
# final coverage, corpus size, crashes (crash-, oom-, timeout- and leak- inputs)
# and slow units (inputs libFuzzer saw take over 10 s of wall time: on a busy
# machine usually starvation, not a bug; rerun one alone to tell).
# Usage: fuzz/campaign.sh [SECONDS] [PARALLEL] [TARGET...]   (default: 1800 2 all)
# Exits non-zero if any target crashed (inputs under fuzz/artifacts/<target>/).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-1800}"
parallel="${2:-2}"
shift $(( $# > 2 ? 2 : $# ))
export RUSTC_BOOTSTRAP=1
cargo fuzz build >/dev/null
bin_dir="target/$(rustc -vV | sed -n 's/^host: //p')/release"
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo fuzz list)
mkdir -p target/campaign
find_failures() {
    find "artifacts/$1" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \)
}
run_one() {
    local t="$1" log="target/campaign/$1.log"
    mkdir -p "corpus/$t" "artifacts/$t"
    local status=0
    /usr/bin/time -f "cpu_seconds %U %S" -o "target/campaign/$t.time" \
        "$bin_dir/$t" "corpus/$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" -rss_limit_mb=2048 >"$log" 2>&1 || status=$?
    local execs cov cpu units crashes slow
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
    cpu=$(awk '/^cpu_seconds/ {printf "%.0f", $2 + $3}' "target/campaign/$t.time")
    units=$(find "corpus/$t" -type f | wc -l)
    crashes=$(find_failures "$t" | wc -l)
    slow=$(find "artifacts/$t" -type f -name 'slow-unit-*' | wc -l)
    printf '| `%s` | %s s | %s s | %s | %s | %s | %s | %s |\n' \
        "$t" "$secs" "${cpu:-?}" "${execs:-?}" "${cov:-?}" "$units" "$crashes" "$slow" >"target/campaign/$t.row"
    return "$status"
}
failed=()
for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= parallel)); do wait -n || true; done
    echo "$(date -u +%H:%M:%S) start $t" >&2
    run_one "$t" &

done
wait || true
echo "| target | wall | CPU | executions | coverage | corpus units | crashes | slow units |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for t in "${targets[@]}"; do
    cat "target/campaign/$t.row"
    [[ "$(find_failures "$t" | wc -l)" == 0 ]] || failed+=("$t")
done
if ((${#failed[@]})); then
    echo "fuzz/campaign.sh: crashes in: ${failed[*]}" >&2
    exit 1
fi
