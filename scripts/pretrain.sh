#!/usr/bin/env bash
# BioBERT's pre-training, from PubMed/PMC XML to a checkpoint: prepare_corpus.py (text, one sentence per line)
# -> create_pretraining_data.py per text shard, in parallel, for both phases -> run_pretraining.py phase 1
# (sequences of 128) from BIOBERT_DIR's checkpoint, then phase 2 (sequences of 512) from phase 1's last one.
# Run `scripts/pretrain.sh --help` for the settings.
set -euo pipefail

SCRIPT=pretrain.sh
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/pretrain.sh [--help] [extra run_pretraining.py flags ...]

BioBERT's continued pre-training in two phases, as the BERT README recommends for long sequences (most steps at
128 tokens, the rest at 512):
  [1/5] prepare corpus   PubMed/MEDLINE XML, PMC OA .nxml/.tar.gz -> text shards (prepare_corpus.py)
  [2/5] phase 1 data     one create_pretraining_data.py per shard, JOBS at a time (seq 128, 20 predictions)
  [3/5] phase 2 data     the same at seq 512, 80 predictions
  [4/5] phase 1          run_pretraining.py from BIOBERT_DIR's checkpoint (or from scratch)
  [5/5] phase 2          run_pretraining.py from phase 1's last checkpoint, with its own step count and schedule
The console shows a header and one summary line per step; full logs go to $OUTPUT_DIR/logs/. Extra arguments go
to both run_pretraining.py calls (e.g. --optimizer=lamb --keep_checkpoint_max=10).

Outputs in $OUTPUT_DIR: corpus/ (text shards), data/phase1/, data/phase2/ (TFRecords, one per shard),
phase1/ and phase2/ (checkpoints, eval_results.txt, and a copy of vocab.txt and bert_config.json, so that either
is a model folder for BIOBERT_DIR of the fine-tuning scripts and of scripts/release.sh), logs/.

Rerunning continues where a run stopped: the corpus is kept once corpus/corpus-summary.json exists, a shard's
TFRecord once it exists (files appear only when complete), a phase whose last checkpoint is at its step target
(and, with DO_EVAL, has its eval_results.txt) is skipped, and a stopped phase resumes from its latest checkpoint.
A failing step stops the script with a message naming it; what earlier steps wrote stays.

Variables (environment; defaults in brackets; relative paths are taken from the current folder):
  BIOBERT_DIR        model folder to continue from: vocab.txt, bert_config.json, a checkpoint (model.ckpt-N or
                     bert_model.ckpt; BioBERT continued from BERT-base cased). Required unless both
                     BERT_CONFIG_FILE and VOCAB_FILE are set, which pre-trains from scratch (a new vocabulary,
                     e.g. from build_vocab.py, needs that).
  INIT_CHECKPOINT    [the checkpoint of BIOBERT_DIR with the highest step; none from scratch]
  VOCAB_FILE         [$BIOBERT_DIR/vocab.txt]
  BERT_CONFIG_FILE   [$BIOBERT_DIR/bert_config.json]
  DO_LOWER_CASE      [inferred from the vocabulary: false for BioBERT's cased one]
  CORPUS             PubMed/PMC XML for prepare_corpus.py: files, folders (searched recursively), globs,
                     comma-separated. Required unless CORPUS_TEXT is set.
  CORPUS_TEXT        ready text instead (one sentence per line, a blank line between documents): files, globs
                     or folders (their *.txt), comma-separated; each file is one shard. Step 1 is skipped.
  OUTPUT_DIR         [./pretraining_output]
  SHARD_SIZE_MB      size of one text shard prepare_corpus.py writes [32]; create_pretraining_data.py holds a
                     whole shard and its examples in memory, JOBS shards at a time
  JOBS               parallel prepare_corpus workers and create_pretraining_data runs [the number of CPUs]
  STAGES             which steps to run, comma-separated from prepare,data,phase1,phase2 [all four]

  Pre-training data (create_pretraining_data.py; the BERT/BioBERT README's values):
  PHASE1_MAX_SEQ_LENGTH [128]   PHASE1_MAX_PREDICTIONS [20]
  PHASE2_MAX_SEQ_LENGTH [512]   PHASE2_MAX_PREDICTIONS [80]
  DUPE_FACTOR [5]   MASKED_LM_PROB [0.15]   RANDOM_SEED [12345] (shard i uses RANDOM_SEED + i)

  Training (run_pretraining.py). The BERT README's recipe for continued pre-training from a BERT checkpoint: a
  small learning rate (2e-5; 1e-4 is for training from scratch), 90% of the steps at 128 tokens and 10% at 512;
  batch size 32 as in its run_pretraining.py example (BioBERT used 192 over 8 GPUs). Warmup defaults to 10% of
  a phase's steps; phase 2 starts its step count, warmup and decay afresh from phase 1's weights.
  PHASE1_STEPS [90000]          PHASE2_STEPS [10000]
  PHASE1_BATCH_SIZE [32]        PHASE2_BATCH_SIZE [32]      (global batch over all GPUs and machines)
  PHASE1_LEARNING_RATE [2e-5]   PHASE2_LEARNING_RATE [2e-5]
  PHASE1_WARMUP_STEPS [PHASE1_STEPS / 10]   PHASE2_WARMUP_STEPS [PHASE2_STEPS / 10]
  SAVE_CHECKPOINTS_STEPS [1000]   NUM_ACCUMULATION_STEPS [1] (batches per update; steps count updates)
  DO_EVAL [true] (masked-LM / next-sentence accuracy on the phase's own data, after training)
  MAX_EVAL_STEPS [100]   EVAL_BATCH_SIZE [8]
  NUM_GPUS [-1 = all visible]   PRECISION [fp32; bf16 or fp16]   USE_XLA [false]
  PYTHON             the Python interpreter [python]

Several machines (MultiWorkerMirroredStrategy): prepare the data once, on one machine and without TF_CONFIG:
    STAGES=prepare,data scripts/pretrain.sh
then start the same command on every machine, with the same OUTPUT_DIR on a shared filesystem and each
machine's own TF_CONFIG (its index in the cluster; the batch sizes are global):
    TF_CONFIG='{"cluster":{"worker":["host1:2222","host2:2222"]},"task":{"type":"worker","index":0}}' \
      scripts/pretrain.sh
Worker 0 (or the "chief" task) writes the checkpoints and eval_results.txt; the others wait for phase 1's last
checkpoint before phase 2. With several workers the data steps only check that the data is there.

Example (BioBERT v1.1 style, continued from BERT-base cased on PubMed abstracts, 4 GPUs, bf16):
  BIOBERT_DIR=./cased_L-12_H-768_A-12 CORPUS=./pubmed/baseline,./pubmed/updatefiles OUTPUT_DIR=./biobert_pt \
    NUM_GPUS=4 PRECISION=bf16 scripts/pretrain.sh
EOF
}

if help_requested "$@"; then
  usage
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
# Inputs, checked before anything runs.

if [[ -n "${BIOBERT_DIR:-}" ]]; then
  model_files
  SOURCE="from $INIT_CHECKPOINT"
else
  if [[ -z "${BERT_CONFIG_FILE:-}" || -z "${VOCAB_FILE:-}" ]]; then
    die "set BIOBERT_DIR to the model folder to continue from (vocab.txt, bert_config.json, model.ckpt-N), or" \
      "BERT_CONFIG_FILE and VOCAB_FILE to pre-train from scratch (see $SCRIPT --help)"
  fi
  BERT_CONFIG_FILE=$(absolute "$BERT_CONFIG_FILE")
  VOCAB_FILE=$(absolute "$VOCAB_FILE")
  INIT_CHECKPOINT=$(absolute "${INIT_CHECKPOINT:-}")
  if [[ -n "$INIT_CHECKPOINT" && ! -f "$INIT_CHECKPOINT.index" ]]; then
    die "INIT_CHECKPOINT=$INIT_CHECKPOINT: no $INIT_CHECKPOINT.index"
  fi
  SOURCE=${INIT_CHECKPOINT:+from $INIT_CHECKPOINT}
  SOURCE=${SOURCE:-from scratch}
fi
[[ -f "$BERT_CONFIG_FILE" ]] || die "BERT_CONFIG_FILE=$BERT_CONFIG_FILE is not a file"
[[ -f "$VOCAB_FILE" ]] || die "VOCAB_FILE=$VOCAB_FILE is not a file"

OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-pretraining_output}")
JOBS=${JOBS:-$(nproc)}
SHARD_SIZE_MB=${SHARD_SIZE_MB:-32}
STAGES=${STAGES:-prepare,data,phase1,phase2}
DUPE_FACTOR=${DUPE_FACTOR:-5}
MASKED_LM_PROB=${MASKED_LM_PROB:-0.15}
RANDOM_SEED=${RANDOM_SEED:-12345}
PHASE1_MAX_SEQ_LENGTH=${PHASE1_MAX_SEQ_LENGTH:-128}
PHASE1_MAX_PREDICTIONS=${PHASE1_MAX_PREDICTIONS:-20}
PHASE2_MAX_SEQ_LENGTH=${PHASE2_MAX_SEQ_LENGTH:-512}
PHASE2_MAX_PREDICTIONS=${PHASE2_MAX_PREDICTIONS:-80}
PHASE1_STEPS=${PHASE1_STEPS:-90000}
PHASE2_STEPS=${PHASE2_STEPS:-10000}
PHASE1_BATCH_SIZE=${PHASE1_BATCH_SIZE:-32}
PHASE2_BATCH_SIZE=${PHASE2_BATCH_SIZE:-32}
PHASE1_LEARNING_RATE=${PHASE1_LEARNING_RATE:-2e-5}
PHASE2_LEARNING_RATE=${PHASE2_LEARNING_RATE:-2e-5}
SAVE_CHECKPOINTS_STEPS=${SAVE_CHECKPOINTS_STEPS:-1000}
NUM_ACCUMULATION_STEPS=${NUM_ACCUMULATION_STEPS:-1}
DO_EVAL=${DO_EVAL:-true}
MAX_EVAL_STEPS=${MAX_EVAL_STEPS:-100}
EVAL_BATCH_SIZE=${EVAL_BATCH_SIZE:-8}
NUM_GPUS=${NUM_GPUS:--1}
PRECISION=${PRECISION:-fp32}
USE_XLA=${USE_XLA:-false}

for name in JOBS DUPE_FACTOR RANDOM_SEED PHASE1_MAX_SEQ_LENGTH PHASE1_MAX_PREDICTIONS PHASE2_MAX_SEQ_LENGTH \
    PHASE2_MAX_PREDICTIONS PHASE1_STEPS PHASE2_STEPS PHASE1_BATCH_SIZE PHASE2_BATCH_SIZE SAVE_CHECKPOINTS_STEPS \
    NUM_ACCUMULATION_STEPS MAX_EVAL_STEPS EVAL_BATCH_SIZE; do
  [[ "${!name}" =~ ^[0-9]+$ ]] || die "$name=${!name} is not a whole number"
done
PHASE1_WARMUP_STEPS=${PHASE1_WARMUP_STEPS:-$((PHASE1_STEPS / 10))}
PHASE2_WARMUP_STEPS=${PHASE2_WARMUP_STEPS:-$((PHASE2_STEPS / 10))}
[[ "$JOBS" -ge 1 ]] || die "JOBS=$JOBS: at least 1"
case "$PRECISION" in fp32 | bf16 | fp16) ;; *) die "PRECISION=$PRECISION: use fp32, bf16 or fp16" ;; esac
for name in DO_EVAL USE_XLA; do
  case "${!name}" in true | false) ;; *) die "$name=${!name}: use true or false" ;; esac
done
IFS=, read -r -a stage_list <<<"$STAGES"
for stage in "${stage_list[@]}"; do
  case "$stage" in prepare | data | phase1 | phase2) ;; *) die "STAGES=$STAGES: '$stage' is not one of prepare,data,phase1,phase2" ;; esac
done

# wanted STAGE: true when STAGES names STAGE.
wanted() {
  [[ ",$STAGES," == *",$1,"* ]]
}

# Text shards: prepared here (CORPUS) or given (CORPUS_TEXT).
CORPUS_DIR=$OUTPUT_DIR/corpus
SHARDS=()
if [[ -n "${CORPUS_TEXT:-}" ]]; then
  CORPUS_TEXT=$(absolute_list "$CORPUS_TEXT")
  IFS=, read -r -a entries <<<"$CORPUS_TEXT"
  for entry in "${entries[@]}"; do
    if [[ -d "$entry" ]]; then
      mapfile -t matches < <(find "$entry" -maxdepth 1 -name '*.txt' | sort)
      [[ ${#matches[@]} -gt 0 ]] || die "CORPUS_TEXT: the folder $entry holds no *.txt file"
    else
      mapfile -t matches < <(compgen -G "$entry" | sort)
      [[ ${#matches[@]} -gt 0 ]] || die "CORPUS_TEXT: no file $entry"
    fi
    for match in "${matches[@]}"; do
      [[ -f "$match" ]] || die "CORPUS_TEXT: $match is not a file"
      SHARDS+=("$match")
    done
  done
else
  require_var CORPUS "PubMed/PMC XML files or folders (or CORPUS_TEXT to ready text)"
  CORPUS=$(absolute_list "$CORPUS")
  IFS=, read -r -a entries <<<"$CORPUS"
  for entry in "${entries[@]}"; do
    if [[ -d "$entry" ]]; then
      if [[ -z "$(find "$entry" \( -name '*.xml' -o -name '*.xml.gz' -o -name '*.nxml' -o -name '*.tar.gz' \) \
          -print -quit)" ]]; then
        die "CORPUS: the folder $entry holds no PubMed/PMC XML (*.xml, *.xml.gz, *.nxml, *.tar.gz)"
      fi
    elif ! compgen -G "$entry" >/dev/null; then
      die "CORPUS: no file or folder $entry"
    fi
  done
fi

# tfrecord_name SHARD: the TFRecord a text shard becomes (its name, .tfrecord for .txt).
tfrecord_name() {
  local name
  name=$(basename "$1")
  echo "${name%.txt}.tfrecord"
}

if [[ ${#SHARDS[@]} -gt 0 ]]; then
  duplicate=$(for shard in "${SHARDS[@]}"; do tfrecord_name "$shard"; done | sort | uniq -d | head -n 1)
  [[ -z "$duplicate" ]] || die "CORPUS_TEXT: two shards would both become $duplicate; give them distinct names"
fi

DO_LOWER_CASE=${DO_LOWER_CASE:-$(vocab_lower_case "$VOCAB_FILE")}

# This machine's part in a multi-machine run: single (no cluster), chief (writes the checkpoints) or worker.
ROLE=single
if [[ -n "${TF_CONFIG:-}" ]]; then
  ROLE=$("$PYTHON" -c 'import json, os
config = json.loads(os.environ["TF_CONFIG"])
cluster, task = config.get("cluster") or {}, config.get("task") or {}
workers = sum(len(cluster.get(job, [])) for job in ("chief", "worker"))
chief = task.get("type") == "chief" or (task.get("type") == "worker" and task.get("index", 0) == 0
                                         and not cluster.get("chief"))
print("single" if workers <= 1 else "chief" if chief else "worker")' 2>/dev/null) ||
    die "TF_CONFIG is not a JSON object with a cluster and a task: $TF_CONFIG"
fi

start_steps 5

# shown PATH: PATH inside OUTPUT_DIR, as the summary lines show it.
shown() {
  echo "${1#"$OUTPUT_DIR"/}"
}

number() {
  if [[ -n "$1" ]]; then printf "%.${2:-3}f" "$1"; else printf "?"; fi
}

# ---------------------------------------------------------------------------------------------------------------
# Text.

step "prepare corpus: PubMed/PMC XML -> one sentence per line, a blank line between documents (prepare_corpus.py)"
if [[ -n "${CORPUS_TEXT:-}" ]]; then
  say "skipped: CORPUS_TEXT gives ${#SHARDS[@]} text shard(s)"
elif [[ -f "$CORPUS_DIR/corpus-summary.json" ]]; then
  say "skipped: done already ($(shown "$CORPUS_DIR")/corpus-summary.json; remove the folder to prepare it again)"
elif ! wanted prepare; then
  say "skipped: not in STAGES=$STAGES"
elif [[ "$ROLE" != single ]]; then
  die "the corpus is not prepared ($CORPUS_DIR); with several workers, prepare it first: see $SCRIPT --help"
else
  run_step "prepare corpus" "$LOGS/1-prepare_corpus.log" "$PYTHON" "$ROOT/prepare_corpus.py" \
    --input_file="$CORPUS" --output_dir="$CORPUS_DIR" --num_workers="$JOBS" --shard_size_mb="$SHARD_SIZE_MB"
  say "$(grep -E '^prepare_corpus:' "$LOGS/1-prepare_corpus.log" | tail -n 1 | sed 's/ skipped: .*//') -> $(shown "$CORPUS_DIR")/"
fi
if [[ -z "${CORPUS_TEXT:-}" && -f "$CORPUS_DIR/corpus-summary.json" ]]; then
  mapfile -t SHARDS < <(find "$CORPUS_DIR" -maxdepth 1 -name 'corpus-*.txt' | sort)
fi

# ---------------------------------------------------------------------------------------------------------------
# TFRecords: one create_pretraining_data.py per shard, JOBS at a time.

# create_data PHASE SEQ PREDICTIONS: writes $OUTPUT_DIR/data/PHASE/<shard>.tfrecord for every shard lacking one.
create_data() {
  local phase=$1 seq=$2 predictions=$3 out=$OUTPUT_DIR/data/$1 logs=$LOGS/data-$1
  local name="pre-training data, $phase" missing=() i running=0 rc=0 status instances
  for i in "${!SHARDS[@]}"; do
    [[ -f "$out/$(tfrecord_name "${SHARDS[$i]}")" ]] || missing+=("$i")
  done
  if [[ ${#SHARDS[@]} -eq 0 ]]; then
    wanted prepare || die "no text shards in $CORPUS_DIR: add prepare to STAGES or set CORPUS_TEXT"
    die "no text shards in $CORPUS_DIR"
  elif [[ ${#missing[@]} -eq 0 ]]; then
    say "skipped: done already (${#SHARDS[@]} file(s) in $(shown "$out")/)"
    return
  elif ! wanted data; then
    say "skipped: not in STAGES=$STAGES (${#missing[@]} of ${#SHARDS[@]} shard(s) missing in $(shown "$out")/)"
    return
  elif [[ "$ROLE" != single ]]; then
    die "${#missing[@]} shard(s) of $out are missing; with several workers, create the data first: see" \
      "$SCRIPT --help"
  fi
  mkdir -p "$out" "$logs"
  for i in "${missing[@]}"; do
    if [[ "$running" -ge "$JOBS" ]]; then
      wait -n || rc=$?
      running=$((running - 1))
      [[ "$rc" -eq 0 ]] || break
    fi
    (run_step "$name, $(basename "${SHARDS[$i]}")" "$logs/$(basename "${SHARDS[$i]}" .txt).log" \
      "$PYTHON" "$ROOT/create_pretraining_data.py" --input_file="${SHARDS[$i]}" \
      --output_file="$out/$(tfrecord_name "${SHARDS[$i]}")" --vocab_file="$VOCAB_FILE" \
      --do_lower_case="$DO_LOWER_CASE" --bert_config_file="$BERT_CONFIG_FILE" --max_seq_length="$seq" \
      --max_predictions_per_seq="$predictions" --masked_lm_prob="$MASKED_LM_PROB" \
      --random_seed=$((RANDOM_SEED + i)) --dupe_factor="$DUPE_FACTOR") &
    running=$((running + 1))
  done
  # The shards already running finish (their files are complete and kept) before a failure stops the script.
  while [[ "$running" -gt 0 ]]; do
    status=0
    wait -n || status=$?
    [[ "$rc" -ne 0 ]] || rc=$status
    running=$((running - 1))
  done
  [[ "$rc" -eq 0 ]] || exit "$rc"
  instances=$(cat "$logs"/*.log | sed -nE 's/.*Wrote ([0-9]+) total instances.*/\1/p' |
    awk '{ n += $1 } END { print n + 0 }')
  say "create_pretraining_data: ${#missing[@]} shard(s) -> $(shown "$out")/ (${#SHARDS[@]} in all)," \
    "instances=$instances max_seq_length=$seq max_predictions_per_seq=$predictions dupe_factor=$DUPE_FACTOR"
}

step "phase 1 data: masked-LM and next-sentence examples of $PHASE1_MAX_SEQ_LENGTH tokens (create_pretraining_data.py)"
create_data phase1 "$PHASE1_MAX_SEQ_LENGTH" "$PHASE1_MAX_PREDICTIONS"
step "phase 2 data: masked-LM and next-sentence examples of $PHASE2_MAX_SEQ_LENGTH tokens (create_pretraining_data.py)"
create_data phase2 "$PHASE2_MAX_SEQ_LENGTH" "$PHASE2_MAX_PREDICTIONS"

# ---------------------------------------------------------------------------------------------------------------
# Training.

# phase_done DIR STEPS: true when DIR's newest checkpoint has reached STEPS (and, with DO_EVAL, was evaluated).
phase_done() {
  local checkpoint
  [[ -d "$1" ]] || return 1
  checkpoint=$(newest_checkpoint "$1") || return 1
  [[ "$(checkpoint_step "$checkpoint")" -ge "$2" ]] || return 1
  [[ "$DO_EVAL" == false || "$ROLE" == worker || -f "$1/eval_results.txt" ]]
}

# train PHASE SEQ PREDICTIONS STEPS BATCH LEARNING_RATE WARMUP INIT [extra flags...]: one run_pretraining.py phase.
train() {
  local phase=$1 seq=$2 predictions=$3 steps=$4 batch=$5 rate=$6 warmup=$7 init=$8 out=$OUTPUT_DIR/$1
  shift 8
  local data=$OUTPUT_DIR/data/$phase checkpoint results init_flag=()
  if phase_done "$out" "$steps"; then
    say "skipped: done already ($(shown "$(newest_checkpoint "$out")"))"
    return
  elif ! wanted "$phase"; then
    say "skipped: not in STAGES=$STAGES"
    return
  fi
  [[ -n "$(find "$data" -maxdepth 1 -name '*.tfrecord' 2>/dev/null)" ]] ||
    die "no pre-training data in $data: add data to STAGES"
  [[ -z "$init" ]] || init_flag=(--init_checkpoint="$init")
  mkdir -p "$out"
  if [[ "$ROLE" != worker ]]; then
    # The phase folder is a complete model folder (BIOBERT_DIR) for fine-tuning and release.
    cp "$VOCAB_FILE" "$out/vocab.txt"
    cp "$BERT_CONFIG_FILE" "$out/bert_config.json"
  fi
  run_step "$phase" "$LOGS/$phase-run_pretraining.log" "$PYTHON" "$ROOT/run_pretraining.py" \
    --input_file="$data/*.tfrecord" --output_dir="$out" --do_train=true --do_eval="$DO_EVAL" \
    --bert_config_file="$BERT_CONFIG_FILE" "${init_flag[@]}" --max_seq_length="$seq" \
    --max_predictions_per_seq="$predictions" --train_batch_size="$batch" --num_train_steps="$steps" \
    --num_warmup_steps="$warmup" --learning_rate="$rate" --save_checkpoints_steps="$SAVE_CHECKPOINTS_STEPS" \
    --num_accumulation_steps="$NUM_ACCUMULATION_STEPS" --eval_batch_size="$EVAL_BATCH_SIZE" \
    --max_eval_steps="$MAX_EVAL_STEPS" --num_gpus="$NUM_GPUS" --precision="$PRECISION" --use_xla="$USE_XLA" "$@"
  if [[ "$ROLE" == worker ]]; then
    say "run_pretraining: this worker's part is done (the chief writes the checkpoints to $(shown "$out")/)"
    return
  fi
  checkpoint=$(newest_checkpoint "$out") || die "$phase: run_pretraining.py wrote no checkpoint in $out"
  results=$out/eval_results.txt
  if [[ "$DO_EVAL" == true && -f "$results" ]]; then
    say "run_pretraining: $(shown "$checkpoint"); eval: loss=$(number "$(result_value "$results" loss)")" \
      "masked_lm_accuracy=$(number "$(result_value "$results" masked_lm_accuracy)")" \
      "next_sentence_accuracy=$(number "$(result_value "$results" next_sentence_accuracy)")"
  else
    say "run_pretraining: $(shown "$checkpoint")"
  fi
}

# phase1_checkpoint: phase 1's last checkpoint (a non-chief worker waits for the chief to write it).
phase1_checkpoint() {
  local waited=0 checkpoint
  while ! phase_done "$OUTPUT_DIR/phase1" "$PHASE1_STEPS"; do
    if [[ "$ROLE" != worker || "$waited" -ge 1800 ]]; then
      die "phase 1 has no checkpoint at step $PHASE1_STEPS in $OUTPUT_DIR/phase1 (add phase1 to STAGES)"
    fi
    sleep 10
    waited=$((waited + 10))
  done
  checkpoint=$(newest_checkpoint "$OUTPUT_DIR/phase1")
  echo "$checkpoint"
}

step "phase 1: $PHASE1_STEPS steps at $PHASE1_MAX_SEQ_LENGTH tokens, $SOURCE (run_pretraining.py)"
train phase1 "$PHASE1_MAX_SEQ_LENGTH" "$PHASE1_MAX_PREDICTIONS" "$PHASE1_STEPS" "$PHASE1_BATCH_SIZE" \
  "$PHASE1_LEARNING_RATE" "$PHASE1_WARMUP_STEPS" "$INIT_CHECKPOINT" "$@"

step "phase 2: $PHASE2_STEPS steps at $PHASE2_MAX_SEQ_LENGTH tokens, from phase 1's last checkpoint (run_pretraining.py)"
if wanted phase2 && ! phase_done "$OUTPUT_DIR/phase2" "$PHASE2_STEPS"; then
  PHASE1_CHECKPOINT=$(phase1_checkpoint)
else
  PHASE1_CHECKPOINT=""
fi
train phase2 "$PHASE2_MAX_SEQ_LENGTH" "$PHASE2_MAX_PREDICTIONS" "$PHASE2_STEPS" "$PHASE2_BATCH_SIZE" \
  "$PHASE2_LEARNING_RATE" "$PHASE2_WARMUP_STEPS" "$PHASE1_CHECKPOINT" "$@"

echo
if MODEL=$(newest_checkpoint "$OUTPUT_DIR/phase2"); then
  echo "done in $((SECONDS - START)) s; pre-trained model: $MODEL (with vocab.txt and bert_config.json:" \
    "a BIOBERT_DIR for fine-tuning and scripts/release.sh); logs in $LOGS/"
else
  echo "done in $((SECONDS - START)) s; outputs in $OUTPUT_DIR/, logs in $LOGS/"
fi
