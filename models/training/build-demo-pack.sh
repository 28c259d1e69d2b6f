#!/usr/bin/env bash
# Rebuilds the demonstration pack (models/packs/demo) from nothing: generate phantoms with the
# product's CLI, preprocess them with the product's own code, train and export the three members,
# evaluate them with the product's Engine on the held-out evidence phantoms, print the metrics.
#
# usage: models/training/build-demo-pack.sh [WORK_DIR]
#
# Generated datasets go to WORK_DIR (default: a new temporary folder, removed at the end unless
# KEEP_WORK=1), never into git. Environment:
#   PYTHON          Python with torch and onnx (default /usr/bin/python3: Debian's torch 1.13, onnx 1.12;
#                   torch 2.x with CUDA works too)
#   DEVICE          auto (default: CUDA when torch sees a GPU, else the CPU), cpu or cuda
#   THREADS         CPU threads for torch (default: all cores)
#   JOBS            data preparation processes at once (default: cores / 2, at least 1)
#   MEMBER_JOBS     members trained at once, each in its own process (default 3 on a GPU, 1 on the CPU)
#   STEPS           which steps to run, of "prepare train gate evaluate" (default all four)
#   SPLITS          which splits to prepare (default "validation train evidence"; training reads the
#                   first two, the evaluation validation and evidence; "test" is seed 3003, no longer used)
#   BUDGET_MINUTES  default none: every member trains its fixed epochs (reproducible); set, train.py
#                   shortens the plans to fit that many minutes per member from the measured epochs
#   PHANTOM_OPTIONS extra options for `triage phantom`; PHANTOM_SIZE its --size (default the generator's)
# The committed pack was trained on one GPU (models/packs/demo/README.md gives the machine and times);
# on a 2-core CPU the same script takes hours.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PACK="$ROOT/models/packs/demo"
PYTHON=${PYTHON:-/usr/bin/python3}
CORES=$(nproc)
DEVICE=${DEVICE:-auto}
THREADS=${THREADS:-$CORES}
JOBS=${JOBS:-$(( CORES / 2 > 1 ? CORES / 2 : 1 ))}
STEPS=${STEPS:-prepare train gate evaluate}
BUDGET_OPTION=()
[[ -n "${BUDGET_MINUTES:-}" ]] && BUDGET_OPTION=(--budget-minutes "$BUDGET_MINUTES")
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
wants() { [[ " $STEPS " == *" $1 "* ]]; }
config() { node -e "const c = require('./models/training/config.json'); console.log($1)"; }

if [[ ! -f dist/main/cli/main.js || "${BUILD:-1}" == 1 ]] && command -v npm >/dev/null; then
  stamp "build (tsc) -> dist/"
  npm run build --silent
fi

# Runs `command item` for every item, at most `limit` at a time, and fails when any run failed,
# after all have ended. Each command prints its own log when it fails. (`wait -n` only paces the
# loop: under set -e its failure would end the script before any log is shown; `wait PID` still
# gives each run's status afterwards.)
throttled() {
  local limit=$1 command=$2 pids=() failed=0
  shift 2
  for item in "$@"; do
    while (( $(jobs -rp | wc -l) >= limit )); do wait -n || true; done
    "$command" "$item" & pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

# 1. Phantoms and tensors, counts and seeds from models/training/config.json: validation, the
#    train shards and the held-out evidence split, JOBS at a time (each generator process also uses
#    several cores). The compiled script runs wherever Node does, tsx or not.
if wants prepare; then
  stamp "generate and preprocess the phantoms in $WORK ($JOBS at a time)"
  parts=()
  for split in ${SPLITS:-validation train evidence}; do
    shards=$(config "c.splits['$split'].shards ?? 1")
    if [[ "$shards" == 1 ]]; then parts+=("$split:"); else for k in $(seq 0 $(( shards - 1 ))); do parts+=("$split:$k"); done; fi
  done
  prepare() {
    local split=${1%%:*} shard=${1#*:} name=${1%%:*}
    local shard_option=()
    [[ -n "$shard" ]] && { shard_option=(--shard "$shard"); name="$split-$shard"; }
    node dist/models/training/prepare-dataset.js --out "$WORK" --split "$split" "${shard_option[@]}" "${SIZE_OPTION[@]}" \
      -- --jobs 2 "${EXTRA[@]}" > "$WORK/prepare-$name.log" 2>&1 || { cat "$WORK/prepare-$name.log" >&2; return 1; }
    tail -n 1 "$WORK/prepare-$name.log"
  }
  throttled "$JOBS" prepare "${parts[@]}"
fi

# 2. Train (each member its own process: MEMBER_JOBS at a time), choose operating points on
#    validation, export ONNX and manifests; then the ensemble's record.
if wants train; then
  members=(resnet densenet mobilenet)
  if [[ -z "${MEMBER_JOBS:-}" ]]; then
    MEMBER_JOBS=1
    "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && [[ "$DEVICE" != cpu ]] && MEMBER_JOBS=3
  fi
  member_threads=$(( THREADS / MEMBER_JOBS > 1 ? THREADS / MEMBER_JOBS : 1 ))
  stamp "train ${members[*]} ($MEMBER_JOBS at a time, device $DEVICE, $member_threads CPU threads each${BUDGET_MINUTES:+, budget $BUDGET_MINUTES min})"
  rm -rf "$PACK"
  mkdir -p "$PACK"
  train_member() {
    "$PYTHON" models/training/train.py --data "$WORK" --pack "$PACK" --members "$1" --stage members \
      --device "$DEVICE" --threads "$member_threads" "${BUDGET_OPTION[@]}" ${TRAIN_OPTIONS:-} > "$WORK/training-$1.log" 2>&1 \
      || { cat "$WORK/training-$1.log" >&2; return 1; }
  }
  throttled "$MEMBER_JOBS" train_member "${members[@]}"
  "$PYTHON" models/training/train.py --data "$WORK" --pack "$PACK" --members "$(IFS=,; echo "${members[*]}")" --stage assemble \
    > "$WORK/training-ensemble.log" 2>&1 || { cat "$WORK/training-ensemble.log" >&2; exit 1; }
  # The kept log: what each member printed (without the step timings), then the ensemble's line.
  for log in "${members[@]/#/$WORK/training-}" "$WORK/training-ensemble"; do grep -v '^\[[a-z]*\]   [0-9]* steps in' "$log.log"; done \
    | tee "$PACK/training.log"
  for onnx in "$PACK"/*/model.onnx; do
    size=$(stat -c %s "$onnx")
    (( size <= 10 * 1024 * 1024 )) || { echo "$onnx is $size bytes, over 10 MB" >&2; exit 1; }
  done
fi

# 2b. The image-based gate: the densenet member's pooled features of train shards 0 and 1 fitted
#    (train_gate.py), the bound chosen on validation through the Engine (choose-gate.ts), then
#    measured on fresh phantoms, the real radiographs in ../shared and the misuses
#    make_gate_challenges.py writes (evaluate-gate.ts; Python with scikit-image, scikit-learn and
#    pydicom for the challenges).
if wants gate; then
  stamp "fit, choose and measure the image-based gate"
  "$PYTHON" models/training/train_gate.py --data "$WORK" --pack "$PACK"
  node dist/models/training/choose-gate.js --data "$WORK" --pack "$PACK"
  heldout_seed=$(config "c.splits['gate-heldout'].seed")
  challenge_seed=$(config "c.splits['gate-challenges'].seed")
  node bin/triage.js phantom --count "$(config "c.splits['gate-heldout'].count")" --seed "$heldout_seed" \
    --out "$WORK/gate-heldout" --format dicom "${SIZE_OPTION[@]}" "${EXTRA[@]}" > /dev/null
  node bin/triage.js phantom --count "$(config "c.splits['gate-challenges'].count")" --seed "$challenge_seed" \
    --out "$WORK/gate-source" --format png "${SIZE_OPTION[@]}" "${EXTRA[@]}" > /dev/null
  "$PYTHON" models/training/make_gate_challenges.py --phantoms "$WORK/gate-source" --out "$WORK/gate-challenges"
  node dist/models/training/evaluate-gate.js --pack "$PACK" --heldout "$WORK/gate-heldout" --challenges "$WORK/gate-challenges"
fi

# 3. The evidence: the held-out evidence phantoms (and validation, for the members' best-F1 points)
#    through the product's Engine; per-image outputs in PACK/evidence/, evaluation.json, the cards
#    and README. recompute_evidence.py recomputes the figures from the outputs (scikit-learn).
if wants evaluate; then
  stamp "evaluate on the held-out evidence split"
  node dist/models/training/evaluate.js --validation "$WORK/validation" --data "$WORK/evidence" --pack "$PACK" --threads "$THREADS"
fi
stamp "done: $PACK"
