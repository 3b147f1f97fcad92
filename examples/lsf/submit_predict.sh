#!/usr/bin/env bash
# Sharded predict + process, then one packing job once every element finished well:
#   examples/lsf/submit_predict.sh configs/3d.toml configs/process.toml 8
set -euo pipefail
export MODEL_CONFIG=${1:?usage: submit_predict.sh MODEL.toml PROCESS.toml [SHARDS]}
export PROCESS_CONFIG=${2:?usage: submit_predict.sh MODEL.toml PROCESS.toml [SHARDS]}
export CSC_SHARDS=${3:-8}
SIF=${CSC_SIF:-csc.sif}
here=$(dirname "$0")
bsub -J "csc-predict[1-${CSC_SHARDS}]" < "$here/predict_process.lsf"
bsub -w "done(csc-predict)" -J csc-pack -o csc-pack.%J.log apptainer run "$SIF" pack "$PROCESS_CONFIG"
