#!/usr/bin/env bash
# Instruction counts of the webhook hot path (shared/examples/hot_path.rs) under callgrind:
# per request, for each stage, with the share spent in the allocator (malloc, free, realloc
# and what they call). Instruction counts do not depend on what else the machine runs,
# unlike times on a shared 2-core box.
#
# Usage: scripts/callgrind_hot_path.sh [N] [binary]
#   N       iterations per stage (default 2000)
#   binary  an already built hot_path (default: build it with the bench profile), e.g. one
#           saved from another branch, to compare two builds in one session
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
bin=${2:-}
if [[ -z $bin ]]; then
    cargo build --quiet --profile bench -p intake --example hot_path
    # The bench profile inherits release, and so its directory.
    bin=target/release/examples/hot_path
fi
[[ -x $bin ]] || { echo "no hot_path binary at $bin" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
printf '| stage | instructions per request | in the allocator | allocations per request |\n'
printf '|---|---|---|---|\n'
for stage in twilio/verify twilio/parse twilio/transaction twilio/total meta/verify meta/verify+parse; do
    file=$out/${stage//\//_}.out
    allocs=$(valgrind --tool=callgrind --callgrind-out-file="$file" "$bin" "$n" "$stage" 2>/dev/null |
        awk -v s="$stage" '$1 == s { print $2 }')
    callgrind_annotate --inclusive=yes --threshold=100 "$file" 2>/dev/null |
        awk -v n="$n" -v stage="$stage" -v allocs="$allocs" '
            function ir(s) { gsub(",", "", s); return s + 0 }
            /:hot_path::stage/ && !done { total = ir($1); done = 1 }
            / [^ ]*:(malloc|free|realloc|calloc) / { alloc += ir($1) }
            END {
                if (total == 0) { print "no stage function found for " stage > "/dev/stderr"; exit 1 }
                printf "| %s | %d | %.0f %% | %s |\n", stage, total / n, 100 * alloc / total, allocs
            }'
done
