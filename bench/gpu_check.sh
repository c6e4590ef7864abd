#!/usr/bin/env bash
# One command for a GPU machine: does TensorFlow see the GPUs, how fast does BERT pre-training run on them in
# each precision, and does training over several GPUs match training on one. Sized to finish in under 8 minutes.
set -euo pipefail

# shellcheck source=SCRIPTDIR/../scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"

usage() {
  cat <<'EOF'
Usage: bench/gpu_check.sh            (settings are environment variables)

Checks that TensorFlow sees the GPUs (how many, their names), then measures BERT pre-training throughput at
sequence length 128 (sequences/s = batch / best step time) in fp32, fp16 (dynamic loss scaling) and bf16, each
with and without XLA: run_pretraining's model_fn and optimizer through runtime.Runner on a synthetic batch, one
GPU, each configuration in its own process (bench/pretraining.py). With 2 or more GPUs it also trains a few steps
with MirroredStrategy over all of them and on one GPU, the same global batch, and checks that the losses and
weights agree. Prints a table (config, precision, xla, sequences/s) and, last, one JSON line with every number.

Without a GPU it says so and measures on the CPU instead (fewer steps, all configurations in one process), and
the multi-GPU check is skipped. A configuration TensorFlow cannot run on the device is reported as "not supported
on this device". Exit status: 0 when every configuration ran or is unsupported there and the multi-GPU check (if
run) passed; 1 otherwise; 2 for bad settings.

Variables:
  STEPS         measured steps per configuration (default: 20 on GPUs, 2 on a CPU)
  WARMUP        unmeasured steps before them (default: 5 on GPUs, 1 on a CPU)
  BATCH_SIZE    sequences per step, the global batch (default: 64 on GPUs, 8 on a CPU)
  BERT_CONFIG   a bert_config.json (default: BERT-base, 12 layers, hidden 768, 30522-word vocabulary;
                e.g. scripts/tiny_bert_config.json for a quick try)
  PYTHON        the Python interpreter with the project's requirements (default: python)
  OUTPUT        also write the final JSON line to this file (optional)
  TIME_BUDGET   GPUs only: seconds all the measurements may take together (default: 420); what is left when
                it is spent is reported as not run
  PART_TIMEOUT  GPUs only: seconds one configuration may take (default: 150)

Example:
  BERT_CONFIG=scripts/tiny_bert_config.json STEPS=1 WARMUP=1 BATCH_SIZE=2 bench/gpu_check.sh
EOF
}

if help_requested "$@"; then
  usage
  exit 0
fi
[[ $# -eq 0 ]] || die "no arguments expected, settings are variables (see $SCRIPT --help)"

# whole_number NAME MIN: stop unless the variable NAME, where set, holds a whole number >= MIN.
whole_number() {
  local value=${!1:-}
  if [[ -n "$value" ]] && { ! [[ "$value" =~ ^[0-9]+$ ]] || ((10#$value < $2)); }; then
    die "$1=$value: must be a whole number >= $2"
  fi
}

# Checked before TensorFlow starts (seconds): a typo fails at once.
whole_number STEPS 1
whole_number WARMUP 0
whole_number BATCH_SIZE 1
whole_number TIME_BUDGET 1
whole_number PART_TIMEOUT 1
BERT_CONFIG=$(absolute "${BERT_CONFIG:-}")
[[ -z "$BERT_CONFIG" || -f "$BERT_CONFIG" ]] || die "BERT_CONFIG=$BERT_CONFIG is not a file"
OUTPUT=$(absolute "${OUTPUT:-}")
cd "$ROOT"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# TensorFlow itself says which GPUs it can use: a driver that nvidia-smi sees but TensorFlow cannot load (a CPU
# build, mismatched CUDA libraries) would otherwise pass unnoticed.
if ! TF_CPP_MIN_LOG_LEVEL=2 "$PYTHON" - >"$WORK/devices.json" 2>"$WORK/devices.log" <<'EOF'; then
import json
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
names, models = [], []
for gpu in gpus:
  details = tf.config.experimental.get_device_details(gpu)
  capability = details.get("compute_capability")
  models.append(details.get("device_name", "unknown model"))
  names.append("%s (%s%s)" % (gpu.name, models[-1], ", compute capability %d.%d" % capability if capability else ""))
print(json.dumps({"tensorflow": tf.__version__, "built_with_cuda": tf.test.is_built_with_cuda(), "gpus": names,
                  "gpu_models": models}))
EOF
  tail -n 15 "$WORK/devices.log" | sed 's/^/  | /' >&2
  die "could not start TensorFlow with PYTHON=$PYTHON"
fi
read -r NUM_GPUS TF_VERSION BUILT_WITH_CUDA < <("$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
print(len(d["gpus"]), d["tensorflow"], "yes" if d["built_with_cuda"] else "no")' "$WORK/devices.json")

if ((NUM_GPUS > 0)); then
  echo "TensorFlow $TF_VERSION sees $NUM_GPUS GPU(s):"
  "$PYTHON" -c 'import json, sys
for name in json.load(open(sys.argv[1]))["gpus"]: print("  " + name)' "$WORK/devices.json"
  STEPS=${STEPS:-20}
  WARMUP=${WARMUP:-5}
  BATCH_SIZE=${BATCH_SIZE:-64}
else
  if [[ "$BUILT_WITH_CUDA" == yes ]]; then
    why="this TensorFlow build has CUDA, but no GPU is visible to it (driver, CUDA_VISIBLE_DEVICES?)"
  else
    why="this TensorFlow build has no CUDA support"
  fi
  echo "No GPU: TensorFlow $TF_VERSION sees none ($why). Measuring on the CPU instead."
  # A CPU step of BERT-base takes seconds: a few steps keep the run within minutes.
  STEPS=${STEPS:-2}
  WARMUP=${WARMUP:-1}
  BATCH_SIZE=${BATCH_SIZE:-8}
fi
TIME_BUDGET=${TIME_BUDGET:-420}
PART_TIMEOUT=${PART_TIMEOUT:-150}

PARTS=tf_fp32,tf_fp32_xla,tf_fp16,tf_fp16_xla,tf_bf16,tf_bf16_xla
ARGS=(--steps="$STEPS" --warmup="$WARMUP" --batch_size="$BATCH_SIZE" --no_matmul --keep_going)
[[ -z "$BERT_CONFIG" ]] || ARGS+=(--bert_config="$BERT_CONFIG")
if ((NUM_GPUS > 0)); then
  # One GPU per measurement: the per-device speed, whatever the machine's GPU count. Each configuration in its
  # own process (a clean GPU memory pool, and a crash or hang costs only that configuration), bounded in time.
  ARGS+=(--num_gpus=1 --part_timeout="$PART_TIMEOUT" --time_budget="$TIME_BUDGET")
else
  # TensorFlow's start-up would dominate short CPU runs six times over.
  ARGS+=(--in_process)
fi
if ((NUM_GPUS == 0)); then
  REPLICAS_SKIPPED="skipped: no GPU (it compares MirroredStrategy over 2 or more GPUs with one GPU)"
elif ((NUM_GPUS == 1)); then
  REPLICAS_SKIPPED="skipped: one GPU only (it compares MirroredStrategy over 2 or more GPUs with one GPU)"
elif ((BATCH_SIZE % NUM_GPUS)); then
  REPLICAS_SKIPPED="skipped: BATCH_SIZE=$BATCH_SIZE is not a multiple of the $NUM_GPUS GPUs"
else
  REPLICAS_SKIPPED=""
  # First: whether training over several GPUs is right matters more than any one speed, should time run out.
  PARTS=replicas,$PARTS
  ARGS+=(--replicas="$NUM_GPUS")
fi
[[ -z "$REPLICAS_SKIPPED" ]] || echo "Multi-GPU check: $REPLICAS_SKIPPED."
echo "Measuring $PARTS: $STEPS step(s) after $WARMUP warm-up, batch $BATCH_SIZE, sequence 128" \
  "(${BERT_CONFIG:-BERT-base})..."

BENCH_RC=0
# Its progress shows as it comes; its JSON line is folded into this script's own, last.
"$PYTHON" bench/pretraining.py "${ARGS[@]}" --parts="$PARTS" 2>"$WORK/bench.log" | tee "$WORK/bench.out" |
  sed '/^{/d' || BENCH_RC=$?
if ! grep -q '^{' "$WORK/bench.out"; then
  tail -n 30 "$WORK/bench.log" | sed 's/^/  | /' >&2
  echo "error: $SCRIPT: bench/pretraining.py stopped with exit status $BENCH_RC before reporting" >&2
  exit 1
fi
if ((BENCH_RC != 0)); then
  # The failed configurations' errors are in the table; their logs are in the benchmark's stderr.
  grep -v '^INFO:\|^[IW][0-9]\{4\} ' "$WORK/bench.log" | tail -n 40 | sed 's/^/  | /' >&2 || true
fi

STATUS=0
"$PYTHON" - "$WORK/devices.json" "$WORK/bench.out" "${BERT_CONFIG:-}" "$STEPS" "$WARMUP" "$REPLICAS_SKIPPED" \
  "$OUTPUT" <<'EOF' || STATUS=$?
import json
import os
import sys

devices_file, bench_file, config_file, steps, warmup, replicas_skipped, output = sys.argv[1:]
devices = json.load(open(devices_file))
bench = [json.loads(line) for line in open(bench_file) if line.startswith("{")][-1]
config = {"num_hidden_layers": 12, "hidden_size": 768, "vocab_size": 30522}
if config_file:
  config.update(json.load(open(config_file)))
name = os.path.splitext(os.path.basename(config_file))[0] if config_file else "BERT-base"
label = "%s L%d H%d s%d b%d" % (name, config["num_hidden_layers"], config["hidden_size"], bench["seq"],
                                bench["batch"])
failed = False
rows, measurements = [], []
for precision in ("fp32", "fp16", "bf16"):
  for xla in (False, True):
    part = bench.get("tf_%s%s" % (precision, "_xla" if xla else ""), {})
    entry = {"precision": precision, "xla": xla}
    if "sequences_per_second" in part:
      entry.update(status="ok", sequences_per_second=part["sequences_per_second"], s_per_step=part["s_per_step"],
                   gflops=part["gflops"])
      shown = "%.1f" % part["sequences_per_second"]
    elif part.get("unsupported"):
      entry.update(status="not supported on this device", error=part["error"])
      shown = entry["status"]
    else:
      failed = True
      entry.update(status="failed", error=part.get("error", "no result"))
      shown = "failed: " + entry["error"][:80]
    measurements.append(entry)
    rows.append((label, precision, "yes" if xla else "no", shown))

device = "GPU 0 (%s)" % devices["gpu_models"][0] if devices["gpus"] else "CPU"
print()
print("BERT pre-training throughput on %s, %s step(s) after %s warm-up:" % (device, steps, warmup))
header = ("config", "precision", "xla", "sequences/s")
widths = [max(len(row[i]) for row in rows + [header]) for i in range(4)]
for row in [header, tuple("-" * w for w in widths)] + rows:
  print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())

if replicas_skipped:
  replicas = {"status": replicas_skipped}
else:
  replicas = bench.get("replicas") or {"status": "failed", "error": "no result"}
  if "ok" in replicas:
    replicas["status"] = "passed" if replicas["ok"] else "failed"
    print("\nMulti-GPU check %s: %s vs %s, %d steps of global batch %d: max |loss diff| %.2g, max |weight "
          "diff| %.2g (tolerance %.0e), weights moved up to %.2g." % (
              replicas["status"], replicas["devices"], replicas["reference"], replicas["steps"],
              replicas["global_batch"], replicas["max_loss_diff"], replicas["max_weight_diff"],
              replicas["tolerance"], replicas["max_weight_change"]))
  else:
    replicas.setdefault("status", "failed")
    print("\nMulti-GPU check failed: %s" % replicas.get("error"))
  failed = failed or replicas["status"] != "passed"

summary = {"tensorflow": devices["tensorflow"], "gpus": devices["gpus"], "device": device, "config": label,
           "bert_config": config_file or "BERT-base", "batch_size": bench["batch"], "seq_length": bench["seq"],
           "steps": int(steps), "warmup": int(warmup), "measurements": measurements,
           "sequences_per_second": {"%s%s" % (m["precision"], "_xla" if m["xla"] else ""):
                                    m.get("sequences_per_second") for m in measurements},
           "multi_gpu": replicas}
line = json.dumps(summary, sort_keys=True)
if output:
  os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
  with open(output, "w") as f:
    f.write(line + "\n")
print(line)
sys.exit(1 if failed else 0)
EOF
exit "$STATUS"
