#!/usr/bin/env bash
# The GPU benchmark, on a Linux x86-64 machine with a GPU that reaches no registry. Prepare it
# elsewhere with `npm run bench:gpu` (it writes .bench-gpu/: Node, the built JavaScript, the
# production dependencies, Debian's Vulkan loader), carry the project folder with .bench-gpu/ there,
# and run from the project folder:
#
#   bash test/bench/gpu-run.sh
#     BENCH_GPU_EP=webgpu       the provider to measure (cpu for a check on any machine)
#     BENCH_GPU_IMAGES=300      phantom DICOMs (2,500 px) in the scan benchmark
#     BENCH_GPU_BATCHES="8 32 64" BENCH_GPU_ROUNDS=2
#     BENCH_GPU_CPU_BASELINE=1  also the scan benchmark on the CPU provider at batch 8, same files
#     PYTHON=python3            a Python with numpy and onnx (the stand-ins' weights; torch too without .bench-gpu/xrv3-graphs)
#
# It prints, and writes to $OUT (or .bench-gpu/out):
#   1. the machine: GPU (nvidia-smi), CPU, Node, onnxruntime-node;
#   2. `triage selftest --ep $EP` (the demonstration pack, its recorded outputs and speed);
#   3. node placement and kernel time per operator for each of the three members on $EP
#      (test/bench/placement.ts: onnxruntime's profiler; says whether every node ran on $EP);
#   4. the scan benchmark (test/bench/scan.bench.ts) with the three-member ensemble on $EP at each
#      batch size: images/s, raw session.run images/s, the decode workers' own rate, where the
#      engine's thread waited (for decoding or for inference), peak RSS.
# The goal it checks: the scan is bound by decoding, not inference (printed per batch size).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
EP=${BENCH_GPU_EP:-webgpu}
IMAGES=${BENCH_GPU_IMAGES:-300}
BATCHES=${BENCH_GPU_BATCHES:-8 32 64}
ROUNDS=${BENCH_GPU_ROUNDS:-2}
PYTHON=${PYTHON:-python3}
RESULTS=${OUT:-$ROOT/.bench-gpu/out}
RUNTIME=${BENCH_GPU_RUNTIME:-${TMPDIR:-/tmp}/cxr-triage-gpu}
WORK=${BENCH_GPU_WORK:-${TMPDIR:-/tmp}/cxr-triage-gpu-work}
mkdir -p "$RESULTS" "$WORK"
LOG=$RESULTS/bench-gpu.log
exec > >(tee "$LOG") 2>&1
step() { printf '\n### %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }
failed=0

[ -f .bench-gpu/runtime.tar.xz ] || { echo "No .bench-gpu/runtime.tar.xz: run npm run bench:gpu where npm works, and carry .bench-gpu/ here."; exit 2; }
step "unpacking the runtime into $RUNTIME"
rm -rf "$RUNTIME" && mkdir -p "$RUNTIME"
tar -C "$RUNTIME" -xJf .bench-gpu/runtime.tar.xz || exit 2
# The project's tracked files the commands read (the packs, the taxonomy, the samples).
cp -a "$ROOT/package.json" "$ROOT/bin" "$ROOT/models" "$RUNTIME/" || exit 2
NODE=$RUNTIME/.bench-gpu/bin/node
TRIAGE=("$NODE" "$RUNTIME/bin/triage.js")

if [ "$EP" = webgpu ] && ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  step "installing Debian's Vulkan loader (none on this machine)"
  for deb in .bench-gpu/debs/*.deb; do dpkg -x "$deb" /; done
  ldconfig
fi
# The NVIDIA driver's Vulkan ICD, where the image keeps it outside the loader's search path.
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] && [ -z "${VK_DRIVER_FILES:-}" ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi

step "machine"
date -u +%Y-%m-%dT%H:%M:%SZ
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
grep -m1 'model name' /proc/cpuinfo; nproc; free -g | head -2
"$NODE" -e 'console.log(`Node ${process.version}; onnxruntime-node ${require(process.argv[1] + "/node_modules/onnxruntime-node/package.json").version}`)' "$RUNTIME"
git -C "$ROOT" log -1 --format='commit %h %s' 2>/dev/null || true

step "triage selftest --ep $EP"
(cd "$RUNTIME" && "${TRIAGE[@]}" selftest --ep "$EP") || failed=1

step "the three DenseNet-121 stand-ins (TorchXRayVision's architecture, random weights)"
PACK=$WORK/xrv3
if [ ! -f "$PACK/ensemble.json" ]; then
  rm -rf "$PACK"
  if [ -d .bench-gpu/xrv3-graphs ]; then
    # Their graphs travelled without weights (test/bench/pack_weights.py): random weights are given here.
    cp -r .bench-gpu/xrv3-graphs "$PACK" && "$PYTHON" "$ROOT/test/bench/pack_weights.py" fill "$PACK" || exit 1
  else
    "$PYTHON" "$ROOT/models/import/export_torchxrayvision.py" --from-architecture --weights all,nih,pc \
      --members all,nih,pc --out "$PACK" >"$WORK/export.log" 2>&1 || { tail -20 "$WORK/export.log"; exit 1; }
  fi
fi
ls "$PACK"

step "node placement on $EP (batch 32)"
(cd "$RUNTIME" && "$NODE" dist/test/bench/placement.js "$PACK" --ep "$EP" --batch 32 --runs 5) || failed=1

for batch in $BATCHES; do
  step "scan benchmark on $EP, batch $batch"
  (cd "$RUNTIME" && BENCH_BUILD=0 BENCH_EP="$EP" BENCH_MODELS="$PACK" BENCH_BATCH="$batch" BENCH_IMAGES="$IMAGES" \
    BENCH_ROUNDS="$ROUNDS" BENCH_LAYOUTS=default BENCH_DIR="$WORK/scan" "$NODE" dist/test/bench/scan.bench.js) || failed=1
done
if [ "${BENCH_GPU_CPU_BASELINE:-1}" = 1 ] && [ "$EP" != cpu ]; then
  step "scan benchmark on the CPU provider, batch 8 (the same machine's cores, for comparison)"
  (cd "$RUNTIME" && BENCH_BUILD=0 BENCH_EP=cpu BENCH_MODELS="$PACK" BENCH_BATCH=8 BENCH_IMAGES="$IMAGES" \
    BENCH_ROUNDS=1 BENCH_LAYOUTS=default BENCH_DIR="$WORK/scan" "$NODE" dist/test/bench/scan.bench.js) || failed=1
fi
step "done (failures: $failed); log in $LOG"
exit $failed
