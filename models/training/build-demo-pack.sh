#!/usr/bin/env bash
# Rebuilds the demonstration pack (models/packs/demo) from nothing: generate phantoms with the
# product's CLI, preprocess them with the product's own code, train and export the three members,
# evaluate them with the product's Engine on the held-out test phantoms, print the metrics.
#
# usage: models/training/build-demo-pack.sh [WORK_DIR]
#
# Generated datasets go to WORK_DIR (default: a new temporary folder, removed at the end unless
# KEEP_WORK=1), never into git. Environment: PYTHON (default /usr/bin/python3: Debian's torch 1.13,
# torchvision 0.14, onnx 1.12), BUDGET_MINUTES (training time for all members, default 25),
# THREADS (default 2), PHANTOM_OPTIONS (extra options for `triage phantom`, default none),
# PHANTOM_SIZE (--size of the phantoms, default the generator's).
# Runtime on a 2-core CPU: about 45 minutes (see models/packs/demo/README.md).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PACK="$ROOT/models/packs/demo"
PYTHON=${PYTHON:-/usr/bin/python3}
BUDGET_MINUTES=${BUDGET_MINUTES:-25}
THREADS=${THREADS:-2}
read -r -a EXTRA <<< "${PHANTOM_OPTIONS:-}"
SIZE_OPTION=()
[[ -n "${PHANTOM_SIZE:-}" ]] && SIZE_OPTION=(--size "$PHANTOM_SIZE")

if [[ $# -ge 1 ]]; then
  WORK=$(mkdir -p "$1" && cd "$1" && pwd)
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/demo-pack.XXXXXX")
  [[ "${KEEP_WORK:-0}" == 1 ]] || trap 'rm -rf "$WORK"' EXIT
fi
case "$WORK/" in "$ROOT"/*) echo "WORK_DIR must be outside the repository" >&2; exit 2;; esac

cd "$ROOT"
started=$(date +%s)
stamp() { echo "== $(( $(date +%s) - started )) s: $*"; }

stamp "build (tsc) -> dist/"
npm run build --silent

# 1. Phantoms and tensors: train (seed 1001), validation (seed 2002), held-out test (seed 3003);
#    counts and seeds come from models/training/config.json. The generator uses every core itself.
stamp "generate and preprocess the phantoms in $WORK"
for split in validation train test; do
  node --import tsx models/training/prepare-dataset.ts --out "$WORK" --split "$split" "${SIZE_OPTION[@]}" -- "${EXTRA[@]}" \
    > "$WORK/prepare-$split.log" 2>&1 || { cat "$WORK/prepare-$split.log" >&2; exit 1; }
  tail -n 1 "$WORK/prepare-$split.log"
done

# 2. Train, choose operating points on validation, export ONNX and manifests.
stamp "train ($BUDGET_MINUTES min budget, $THREADS threads)"
rm -rf "$PACK"
mkdir -p "$PACK"
"$PYTHON" models/training/train.py --data "$WORK" --pack "$PACK" --budget-minutes "$BUDGET_MINUTES" --threads "$THREADS" \
  2>&1 | tee "$WORK/training.log"
grep -v '^\[[a-z]*\]   [0-9]* steps in' "$WORK/training.log" > "$PACK/training.log"

# 3. Evaluate on the held-out test phantoms with the product's Engine; fills the cards and README.
stamp "evaluate on the held-out test split"
node --import tsx models/training/evaluate.ts --data "$WORK/test" --pack "$PACK" --threads "$THREADS"

for onnx in "$PACK"/*/model.onnx; do
  size=$(stat -c %s "$onnx")
  (( size <= 10 * 1024 * 1024 )) || { echo "$onnx is $size bytes, over 10 MB" >&2; exit 1; }
done
stamp "done: $PACK"
