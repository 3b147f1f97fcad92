#!/usr/bin/env bash
# Submit the sharded evaluation and a merge that waits for every element to finish well:
#   examples/lsf/submit_evaluate.sh submission.zip 8
set -euo pipefail
export SUBMISSION=${1:?usage: submit_evaluate.sh SUBMISSION [SHARDS]}
export CSC_SHARDS=${2:-8}
SIF=${CSC_SIF:-csc.sif}
OUT=${CSC_OUT:-results}
here=$(dirname "$0")
bsub -J "csc-eval[1-${CSC_SHARDS}]" < "$here/evaluate.lsf"
partials=$(for i in $(seq 1 "$CSC_SHARDS"); do printf '%s ' "$OUT/results.shard${i}of${CSC_SHARDS}.json"; done)
# shellcheck disable=SC2086
bsub -w "done(csc-eval)" -J csc-eval-merge -o csc-eval-merge.%J.log apptainer run "$SIF" evaluate --merge $partials --output "$OUT/results.json"
