#!/usr/bin/env bash
# k-fold relation extraction as in the BioBERT paper: run_re.py trains and predicts every fold of a data set
# (datasets/RE/GAD/1..10), re_eval.py scores each fold, and biocodes/re_kfold_summary.py prints per-fold and
# mean ± std precision, recall and F1.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/re_kfold.sh [--help] [extra run_re.py flags ...]

Trains and predicts every numbered fold folder of $RE_DIR (1..10 for GAD and EU-ADR) into its own folder
$OUTPUT_DIR/<fold>, scores it with biocodes/re_eval.py ($OUTPUT_DIR/<fold>/re_eval.txt), then prints the
per-fold and mean ± std precision/recall/F1 as Markdown and writes $OUTPUT_DIR/kfold_summary.{md,csv}.
A fold whose test_results.tsv and re_eval.txt both exist is skipped, so a stopped run continues where it was
(a fold stopped mid-training resumes from its latest checkpoint). Extra arguments go to every run_re.py call.

Variables (environment; defaults in brackets):
  BIOBERT_DIR       pre-trained model folder: vocab.txt, bert_config.json, model.ckpt-N (required)
  RE_DIR            data set folder holding the fold folders [./data/datasets/RE/GAD]
  TASK_NAME         run_re.py --task_name: gad, euadr, chemprot, ddi13, ... [gad]
  OUTPUT_DIR        one output folder per fold is made in it [./re_outputs]
  INIT_CHECKPOINT   [the newest checkpoint in BIOBERT_DIR: model.ckpt-1000000 in BioBERT's releases]
  VOCAB_FILE        [$BIOBERT_DIR/vocab.txt]
  BERT_CONFIG_FILE  [$BIOBERT_DIR/bert_config.json]
  MAX_SEQ_LENGTH    [128]     TRAIN_BATCH_SIZE [32]     LEARNING_RATE [2e-5]     NUM_TRAIN_EPOCHS [3.0]
  DO_LOWER_CASE     [from the vocabulary: false for BioBERT's cased vocab.txt, true for an uncased one]
  NUM_GPUS          [-1: every visible GPU]   PRECISION [fp32] (fp32, bf16, fp16)
  FOLDS             space-separated fold names [every numbered folder of $RE_DIR]
  EVAL_TASK         re_eval.py --task [chemprot for chemprot, ddi13 for ddi13, else binary]
  PYTHON            the Python interpreter [python]

--do_eval is passed for the folds that have a dev.tsv (the GAD and EU-ADR folds have none).

Example:
  BIOBERT_DIR=./weights/biobert_v1.1_pubmed RE_DIR=./data/datasets/RE/GAD TASK_NAME=gad OUTPUT_DIR=./re_outputs \
    scripts/re_kfold.sh
EOF
}

if help_requested "$@"; then
  usage
  exit 0
fi

model_files
RE_DIR=$(absolute "${RE_DIR:-./data/datasets/RE/GAD}")
TASK_NAME=${TASK_NAME:-gad}
OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-./re_outputs}")
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-128}
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-32}
LEARNING_RATE=${LEARNING_RATE:-2e-5}
NUM_TRAIN_EPOCHS=${NUM_TRAIN_EPOCHS:-3.0}
DO_LOWER_CASE=${DO_LOWER_CASE:-$(vocab_lower_case "$VOCAB_FILE")}
NUM_GPUS=${NUM_GPUS:--1}
PRECISION=${PRECISION:-fp32}

case "$(echo "$TASK_NAME" | tr '[:upper:]' '[:lower:]')" in
  chemprot) DEFAULT_EVAL_TASK=chemprot ;;
  ddi13) DEFAULT_EVAL_TASK=ddi13 ;;
  *) DEFAULT_EVAL_TASK=binary ;;
esac
EVAL_TASK=${EVAL_TASK:-$DEFAULT_EVAL_TASK}

require_dir RE_DIR

if [[ -n "${FOLDS:-}" ]]; then
  read -r -a fold_list <<< "$FOLDS"
else
  fold_list=()
  while IFS= read -r fold; do
    fold_list+=("$fold")
  done < <(for path in "$RE_DIR"/*/; do
             name=$(basename "$path")
             if [[ "$name" =~ ^[0-9]+$ ]]; then echo "$name"; fi
           done | sort -n)
fi
if [[ ${#fold_list[@]} -eq 0 ]]; then
  die "RE_DIR=$RE_DIR has no numbered fold folders (1, 2, ...); set FOLDS"
fi

mkdir -p "$OUTPUT_DIR"
echo "== $TASK_NAME: ${#fold_list[@]} fold(s) of $RE_DIR into $OUTPUT_DIR/<fold>"
for fold in "${fold_list[@]}"; do
  data="$RE_DIR/$fold"
  out="$OUTPUT_DIR/$fold"
  if [[ -s "$out/test_results.tsv" && -s "$out/re_eval.txt" ]]; then
    echo "== fold $fold: done already ($out/test_results.tsv, $out/re_eval.txt), skipped"
    continue
  fi
  eval_flag=()
  if [[ -f "$data/dev.tsv" ]]; then
    eval_flag=(--do_eval=true)
  fi
  mkdir -p "$out"
  echo "== fold $fold: run_re.py (log: $out/run_re.log)"
  run_step "fold $fold: run_re.py" "$out/run_re.log" "$PYTHON" "$ROOT/run_re.py" --task_name="$TASK_NAME" \
    --do_train=true --do_predict=true "${eval_flag[@]}" --vocab_file="$VOCAB_FILE" \
    --bert_config_file="$BERT_CONFIG_FILE" --init_checkpoint="$INIT_CHECKPOINT" --max_seq_length="$MAX_SEQ_LENGTH" \
    --train_batch_size="$TRAIN_BATCH_SIZE" --learning_rate="$LEARNING_RATE" --num_train_epochs="$NUM_TRAIN_EPOCHS" \
    --do_lower_case="$DO_LOWER_CASE" --data_dir="$data" --num_gpus="$NUM_GPUS" --precision="$PRECISION" \
    --output_dir="$out" "$@"
  # Written beside and renamed: an interrupted fold never looks done.
  "$PYTHON" "$ROOT/biocodes/re_eval.py" --output_path="$out/test_results.tsv" --answer_path="$data/test.tsv" \
    --task="$EVAL_TASK" > "$out/re_eval.txt.tmp"
  mv "$out/re_eval.txt.tmp" "$out/re_eval.txt"
  sed "s/^/   fold $fold: /" "$out/re_eval.txt"
done

echo "== summary ($OUTPUT_DIR/kfold_summary.md, $OUTPUT_DIR/kfold_summary.csv)"
"$PYTHON" "$ROOT/biocodes/re_kfold_summary.py" --output_dir="$OUTPUT_DIR" --data_dir="$RE_DIR" \
  --task="$EVAL_TASK" --folds="$(IFS=,; echo "${fold_list[*]}")"
