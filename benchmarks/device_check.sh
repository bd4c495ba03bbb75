#!/usr/bin/env bash
# The GPU path's first run, in one command, in at most 8 minutes on one H100/H200: one trial
# with and without CUDA graphs (batch 100 and 512), graphed vs eager training the same model,
# exact resume under graphs, a forced capture failure falling back cleanly, 1/4/8/16
# standalone trials on one GPU, and a real 16-trial search with its measured GPU share.
# Everything lands in $OUT: gpu.txt (the GPU and versions), gpu_throughput.json (written
# after each section), gpu_throughput.txt (the log) and, if anything failed, errors.txt (the
# first lines of each error).
#
# On a GPU machine with PyTorch: first ../shared/device-kit (Ray, Optuna, CIFAR-10), then
#   source /tmp/kit/env.sh && bash benchmarks/device_check.sh        # figures under $OUT
# On any machine, as CI runs it (seconds, no GPU needed):
#   bash benchmarks/device_check.sh --smoke-test
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out/device}
LIMIT_S=${LIMIT_S:-450}  # the throughput script's share of the 8 minutes
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
timeout "$LIMIT_S" python3 benchmarks/gpu_throughput.py "${args[@]}" 2>&1 \
    | tee "$OUT/gpu_throughput.txt"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    { [ "$status" -eq 124 ] && echo "gpu_throughput.py ran past ${LIMIT_S} s (timed out)"
      grep -n -m 40 -E "FAILED|Error|error|Traceback" "$OUT/gpu_throughput.txt"; } \
        > "$OUT/errors.txt"
    echo "device check: exit $status; first error lines in $OUT/errors.txt" >&2
fi
exit "$status"
