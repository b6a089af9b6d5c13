#!/usr/bin/env bash
# The one prepared run for a session lent a GPU (the `device` tool's H200, ~15 min of device time):
#   1. the Pallas kernels compiled for the GPU against their pure-JAX references (TestSplatGPU,
#      the dither kernel's oracle test) and the renderer / fit tests on the GPU backend;
#   2. the render benchmark (the `auto` backend, Pallas there, vs the naive autodiff renderer on
#      the same GPU), for GaussianImage's and Instant-GI's random inits;
#   3. the paper config's training step throughput.
# The device machine has its own jax, flax, optax, orbax and torch and no network, so nothing is
# installed: the checkout runs from PYTHONPATH. Logs go to $OUT (the device tool's folder) or
# bench/results/gpu/. Each part is time-limited so one failure still leaves the rest.
#   run(command="bash bench/gpu_check.sh", timeout_s=540)
# Written on a CPU-only machine: not yet run on a GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results/gpu}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
py=${PYTHON:-python3}
part() {  # part NAME SECONDS CMD...: run CMD with a time limit, log to $out/NAME.txt
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*" | tee "$out/$name.txt"
  timeout "$limit" "$@" 2>&1 | tee -a "$out/$name.txt"
  echo "== $name: exit ${PIPESTATUS[0]}" | tee -a "$out/$name.txt"
}
part devices 60 "$py" -c "import jax; print(jax.__version__, jax.default_backend(), jax.devices())"
part kernels 240 "$py" -m pytest -q -p no:cacheprovider tests/pallas_kernels tests/render tests/test_fit.py
part render 90 "$py" bench/render.py --repeats 20
part render_igi 60 "$py" bench/render.py --repeats 20 --variant igi
part train 90 "$py" bench/train_throughput.py --config configs/net_paper.py --steps 5
