#!/usr/bin/env bash
# The GPU figures of tune-cifar's performance work, in one command, in at most 8 minutes:
# one trial with and without CUDA graphs (batch 100 and 512), exact resume under graphs,
# 1/4/8/16 standalone trials on one GPU, and a real 16-trial search with its measured GPU share.
#
# On a GPU machine with PyTorch: first ../shared/device-kit (Ray, Optuna, CIFAR-10), then
#   source /tmp/kit/env.sh && bash benchmarks/device_check.sh        # figures under $OUT
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-bench-out/device}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
python3 -c "import torch, ray, optuna; print('torch', torch.__version__, 'ray', ray.__version__, 'optuna', optuna.__version__)" | tee -a "$OUT/gpu.txt"
timeout 450 python3 benchmarks/gpu_throughput.py --out "$OUT" 2>&1 | tee "$OUT/gpu_throughput.txt"
