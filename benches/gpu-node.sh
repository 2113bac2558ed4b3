#!/usr/bin/env bash
# Measures both engines on a GPU node as one command and writes what it finds to OUT_DIR:
#
#   node.txt   the machine: date, kernel, CPUs, nvidia-smi, the binary's version, the Vulkan
#              loader and driver manifest used, the adapter wgpu picks
#   bench.csv  one record per engine and cohort (`tbs-batch bench --format csv`): images/s, pair
#              evaluations/s, peak memory, start-up, adapter, CPU tier, whether the adapter is
#              software
#   log.txt    everything printed, timings of each step included
#
# The cohorts, generated on the node's disk: FILES (default 4000) iDXA-like display exports at
# 16 lags, half as many at 64, and a tenth as many 2048 × 1024 16-bit frames at 16 and 64 lags;
# every CPU as workers. On one GPU and 16 cores it takes a few minutes; each bench is cut off
# after LIMIT seconds (default 100) so the whole stays under eight.
#
#     benches/gpu-node.sh OUT_DIR
#
# Run from a checkout holding .node/ from benches/gpu-node-pack.sh (the binary and the Vulkan
# loader's packages, unpacked here, not into /). Without them it uses target/release/tbs-batch
# and the node's own loader. A dry run on software Vulkan: TBS_NODE_FILES=16 benches/gpu-node.sh
# /tmp/node. TBS_NODE_JOBS sets the workers, TBS_NODE_LIMIT the limit, TBS_BATCH the binary.
set -uo pipefail
out="${1:?usage: benches/gpu-node.sh OUT_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
pack="$root/.node"
bin="${TBS_BATCH:-$pack/tbs-batch}"
[ -x "$bin" ] || bin="$root/target/release/tbs-batch"
files="${TBS_NODE_FILES:-4000}"
jobs="${TBS_NODE_JOBS:-$(nproc)}"
limit="${TBS_NODE_LIMIT:-100}"
mkdir -p "$out"
exec > >(tee -a "$out/log.txt") 2>&1

# The carried loader, unpacked into a scratch folder and found first.
loader=""
if compgen -G "$pack/debs/*.deb" >/dev/null; then
  loader="$(mktemp -d)"
  for deb in "$pack"/debs/*.deb; do dpkg -x "$deb" "$loader"; done
  export LD_LIBRARY_PATH="$loader/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
# A driver manifest outside the loader's search path, as container installs of NVIDIA's driver
# place it: named explicitly.
if [ -z "${VK_DRIVER_FILES:-}" ] && ! compgen -G "/usr/share/vulkan/icd.d/*.json" >/dev/null \
  && ! compgen -G "/etc/vulkan/icd.d/*.json" >/dev/null; then
  icd="$(find /usr/local /usr /etc /opt -name 'nvidia_icd*.json' 2>/dev/null | head -n 1)"
  if [ -n "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; fi
fi

# The adapter wgpu picks: a GPU run's summary line names it.
sample="$(mktemp -d)"
"$bin" phantom "$sample" --hurst 0.5 >/dev/null
{
  date -u
  uname -a
  lscpu | head -n 20
  nvidia-smi || echo "nvidia-smi: not found"
  "$bin" --version
  echo "Vulkan loader carried: ${loader:-no}; driver manifest named: ${VK_DRIVER_FILES:-no}"
  "$bin" --gpu "$sample" 2>&1 >/dev/null | tail -n 1
} > "$out/node.txt" 2>&1
cat "$out/node.txt"

# One bench: its CSV records appended under one header, its time in the log.
header=""
bench() {
  echo "== tbs-batch bench $*"
  local start csv
  start="$(date +%s%N)"
  if csv="$(timeout "$limit" "$bin" bench -j "$jobs" --format csv "$@")"; then
    [ -n "$header" ] || { header=1; echo "${csv%%$'\n'*}" > "$out/bench.csv"; }
    echo "${csv#*$'\n'}" | tee -a "$out/bench.csv"
  else
    echo "bench $* failed or passed ${limit} s"
  fi
  echo "took $((($(date +%s%N) - start) / 1000000)) ms"
}
bench --files "$files" --max-lag 16
bench --files $((files / 2)) --max-lag 64
bench --files $(((files + 9) / 10)) --rows 2048 --cols 1024 --bits 16 --max-lag 16
bench --files $(((files + 9) / 10)) --rows 2048 --cols 1024 --bits 16 --max-lag 64
ls -l "$out"
