#!/usr/bin/env bash
# Sharded predict + process, then one packing job once every shard succeeded:
#   examples/slurm/submit_predict.sh configs/3d.toml configs/process.toml 8
set -euo pipefail
MODEL_CONFIG=${1:?usage: submit_predict.sh MODEL.toml PROCESS.toml [SHARDS]}
PROCESS_CONFIG=${2:?usage: submit_predict.sh MODEL.toml PROCESS.toml [SHARDS]}
SHARDS=${3:-8}
SIF=${CSC_SIF:-csc.sif}
here=$(dirname "$0")
array_id=$(sbatch --parsable --array=1-"$SHARDS" "$here/predict_process.sbatch" "$MODEL_CONFIG" "$PROCESS_CONFIG")
sbatch --dependency=afterok:"$array_id" --job-name=csc-pack --wrap "apptainer run $SIF pack $PROCESS_CONFIG"
