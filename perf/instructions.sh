#!/usr/bin/env bash
# Instructions per call on the application's thread, counted by callgrind
# (repeatable, unlike the wall clock on a shared machine), for every
# operation and subscriber stack of `ops`, with the ratio to the baseline.
# Run from the repository root: bash perf/instructions.sh [calls]
set -euo pipefail
calls=${1:-20000}
cargo build -q -p tracing-telegram-perf --release --bin ops
bin=target/release/ops
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
count() { # stack operation -> instructions per call
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" --toggle-collect='ops::op_*' \
    "$bin" "$1" "$2" "$calls" 2>&1 | awk '/Collected :/ {print $4}' | tr -d ',' \
    | awk -v n="$calls" '{printf "%.0f", $1 / (n + 1)}'
}
printf '%-8s %-18s %12s %8s\n' operation stack instr/call ratio
for operation in info span plain-span error request-error storm-repeat storm; do
  base=$(count baseline "$operation")
  printf '%-8s %-18s %12s %8s\n' "$operation" baseline "$base" 1.00
  stacks="telegram telegram-unfiltered json"
  [ "$operation" != info ] && stacks="telegram telegram-unfiltered sentry json"
  [ "$operation" = error ] && stacks="telegram telegram-unfiltered telegram-captured sentry json"
  [ "$operation" = request-error ] && stacks="telegram sentry"
  case "$operation" in storm*) stacks="telegram sentry" ;; esac
  for stack in $stacks; do
    n=$(count "$stack" "$operation")
    printf '%-8s %-18s %12s %8s\n' "$operation" "$stack" "$n" "$(awk -v a="$n" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
  done
done
# Hot instrumentation nobody wants, beside fmt behind a per-layer INFO filter.
base=$(count fmt-info debug)
printf '%-8s %-18s %12s %8s\n' debug fmt-info "$base" 1.00
for stack in fmt-info-telegram fmt-info-telegram-unfiltered; do
  n=$(count "$stack" debug)
  printf '%-8s %-18s %12s %8s\n' debug "${stack#fmt-info-}" "$n" "$(awk -v a="$n" -v b="$base" 'BEGIN {printf "%.2f", a / b}')"
done
