#!/usr/bin/env bash
# Submit the sharded evaluation and a merge job that runs after every shard succeeded:
#   examples/slurm/submit_evaluate.sh submission.zip 8
set -euo pipefail
SUBMISSION=${1:?usage: submit_evaluate.sh SUBMISSION [SHARDS]}
SHARDS=${2:-8}
SIF=${CSC_SIF:-csc.sif}
OUT=${CSC_OUT:-results}
here=$(dirname "$0")
array_id=$(sbatch --parsable --array=1-"$SHARDS" "$here/evaluate.sbatch" "$SUBMISSION")
partials=$(for i in $(seq 1 "$SHARDS"); do printf '%s ' "$OUT/results.shard${i}of${SHARDS}.json"; done)
# shellcheck disable=SC2086
sbatch --dependency=afterok:"$array_id" --job-name=csc-eval-merge --wrap "apptainer run $SIF evaluate --merge $partials --output $OUT/results.json"
