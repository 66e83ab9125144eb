#!/usr/bin/env bash
# Builds every fuzz target on stable with coverage instrumentation and runs each for a
# few seconds (SECONDS_EACH, default 10): a smoke run for CI. Long runs are by hand,
# see README.md. Exits non-zero on a crash or a failed assertion.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${SECONDS_EACH:-10}
TARGET=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
cargo build -q --release --target "$TARGET"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in $(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^shoal-fuzz$'); do
  mkdir -p "$work/$t"
  # Real files as seeds where the tree has them.
  case $t in metainfo) cp ../crates/metainfo/tests/data/*.torrent "$work/$t/" ;; esac
  "target/$TARGET/release/$t" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$work/$t" \
    2>"$work/$t.log" || { tail -40 "$work/$t.log"; echo "fuzz target $t failed" >&2; exit 1; }
  echo "fuzz $t: $(grep -m1 'stat::number_of_executed_units' "$work/$t.log" | awk '{print $2}') runs, no finding"
done
