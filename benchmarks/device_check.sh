#!/usr/bin/env bash
# The GPU path's first run, in one command, in at most 8 minutes on one H100/H200: one trial
# with and without CUDA graphs (batch 100 and 512), graphed vs eager training the same model,
# exact resume under graphs, a forced capture failure falling back cleanly, 1/4/8/16
# standalone trials on one GPU, and a real 16-trial search with its measured GPU share; then
# packing.py: one trial, stacked models and trial processes as images/s and MFU.
# Everything lands in $OUT: gpu.txt (the GPU and versions), gpu_throughput.json and
# packing.json (each written after each section), gpu_throughput.txt and packing.txt (the
# logs) and, if anything failed, errors.txt (the first lines of each error).
#
# On a GPU machine with PyTorch: first the device kit (Ray, Optuna, CIFAR-10), then
#   source /tmp/kit/env.sh && bash benchmarks/device_check.sh        # figures under $OUT
# On any machine, as CI runs it (seconds, no GPU needed):
#   bash benchmarks/device_check.sh --smoke-test
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out/device}
LIMIT_S=${LIMIT_S:-300}  # the throughput script's share of the 8 minutes
PACKING_LIMIT_S=${PACKING_LIMIT_S:-150}  # packing.py's (each script keeps what it finished)
mkdir -p "$OUT"
args=(--out "$OUT")
if [ "${1:-}" = "--smoke-test" ]; then
    args+=(--smoke-test)
elif [ -n "${TUNE_CIFAR_DATA:-}" ]; then
    args+=(--data-dir "$TUNE_CIFAR_DATA")  # real CIFAR-10 for the training comparisons
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null \
    || echo "no nvidia-smi (no NVIDIA GPU here)"; } | tee "$OUT/gpu.txt"
python3 -c "import torch, ray, optuna; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'ray', ray.__version__, 'optuna', optuna.__version__)" \
    2>&1 | tee -a "$OUT/gpu.txt"
run() {  # NAME LIMIT ARGS...: one script under its limit, its log beside its figures
    local name=$1 limit=$2
    shift 2
    timeout "$limit" python3 "benchmarks/$name.py" "$@" 2>&1 | tee "$OUT/$name.txt"
    local code=${PIPESTATUS[0]}
    if [ "$code" -ne 0 ]; then
        { [ "$code" -eq 124 ] && echo "$name.py ran past ${limit} s (timed out)"
          grep -n -m 40 -E "FAILED|Error|error|Traceback" "$OUT/$name.txt"; } >> "$OUT/errors.txt"
        echo "device check: $name.py exit $code; first error lines in $OUT/errors.txt" >&2
    fi
    return "$code"
}
run gpu_throughput "$LIMIT_S" "${args[@]}"
status=$?
packing_args=(--out "$OUT")
[ "${1:-}" = "--smoke-test" ] && packing_args+=(--smoke-test)
run packing "$PACKING_LIMIT_S" "${packing_args[@]}" || status=$?
exit "$status"
