#!/usr/bin/env bash
# The real banks of benchmarks/banks/ (issue 13): the default model, generative verifier on
# the same server. Resumable: run it again after a kill and it continues where it stopped
# (finished units are kept; an unfinished one's stored calls are answered from the trace).
# Extend a slice by raising SAMPLE: the seeded order is prefix-stable.
set -euo pipefail
cd "$(dirname "$0")/../.."
WP=${WP:-.venv/bin/worldplan}
DB=${DB:-$HOME/.cache/worldplan/banks-1024.db}
SAMPLE_TRAIN=${SAMPLE_TRAIN:-24}
SAMPLE_TEST=${SAMPLE_TEST:-24}
COMMON=(--k 8 --chains 2 --length 4 --searches "beam:1,2,4,8" --seed 0 --max-tokens 1024
        --temperature 0.8 --concurrency "${CONCURRENCY:-2}" --db "$DB")
# both slices at once, so that they grow together (4 problems in flight on one server)
$WP bank build -o benchmarks/banks/math-train.jsonl --dataset math-train \
  --sample "$SAMPLE_TRAIN" --limit 0 "${COMMON[@]}" &
$WP bank build -o benchmarks/banks/math500.jsonl --dataset math500 \
  --sample "$SAMPLE_TEST" --limit 0 "${COMMON[@]}" &
wait
