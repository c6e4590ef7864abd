#!/usr/bin/env bash
# The paper's Tables 6-8 from one checkpoint: fine-tunes and evaluates every data set that DATA_DIR holds (NER with
# scripts/ner.sh, RE by 10-fold cross-validation with scripts/re_kfold.sh, BioASQ with scripts/qa.sh), then writes
# the obtained numbers beside the paper's (scripts/paper_results.py): results.md, results.csv, results.png.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/reproduce_paper.sh [--help] [--quick] [--datasets=NAME,NAME,...]

Fine-tunes BIOBERT_DIR's model on each data set of the paper's Tables 6-8 found in DATA_DIR (BioBERT's
datasets/ layout: NER/<set>, RE/GAD/1..10, RE/euadr/1..10, QA/BioASQ) with the paper's settings, evaluates
it, and writes into OUTPUT_DIR:
  <data set>/            that data set's run (outputs of ner.sh, re_kfold.sh or qa.sh) and result.json
  results.md, results.csv  per data set: the paper's v1.1 number, the obtained one, the difference, the status
  results.png            the same as a bar chart (needs matplotlib; skipped with a message without it)
Data sets missing from DATA_DIR are listed as "not available" (and looked for again by the next run). A data
set already done is not rerun; a stopped run continues where it was.

Options:
  --quick                 check the pipeline in minutes: the first QUICK_SIZE sentences (NER) or QUICK_SIZE
                          rows spread over each file (RE, fold 1 only) of each data set, QUICK_EPOCHS epochs;
                          the numbers are not the paper's
  --datasets=A,B,...      only these (names as in the table: NCBI-disease, i2b2-2010, BC5CDR-disease,
                          BC5CDR-chem, BC4CHEMD, BC2GM, JNLPBA, LINNAEUS, Species-800, GAD, EU-ADR, ChemProt,
                          BioASQ-4b, BioASQ-5b, BioASQ-6b)

Variables (environment; defaults in brackets):
  BIOBERT_DIR     pre-trained model folder: vocab.txt, bert_config.json, model.ckpt-N (required)
  DATA_DIR        BioBERT's datasets folder, holding NER/, RE/, QA/ (required)
  OUTPUT_DIR      [./paper_results, or ./paper_results_quick with --quick]
  INIT_CHECKPOINT [the newest checkpoint in BIOBERT_DIR]
  DO_LOWER_CASE   [from the vocabulary: false for BioBERT's cased vocab.txt]
  QA_CHECKPOINT   BioASQ's initial checkpoint [INIT_CHECKPOINT; the paper started from one fine-tuned on SQuAD]
  QUICK_SIZE      [300]   QUICK_EPOCHS [1]
  NUM_GPUS [-1]   PRECISION [fp32]   PYTHON [python]
The paper's settings: NER as the original README (10 epochs, lr 5e-5, batch 32, seq 128); RE 3 epochs, lr 2e-5,
batch 32, seq 128; QA 5 epochs, lr 5e-6, batch 12, seq 384 (scripts/ner.sh, re_kfold.sh, qa.sh --help).

Example:
  BIOBERT_DIR=./weights/biobert_v1.1_pubmed DATA_DIR=./data/datasets scripts/reproduce_paper.sh --datasets=NCBI-disease,GAD
EOF
}

QUICK=0
DATASETS=""
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --quick) QUICK=1 ;;
    --datasets=*) DATASETS=${arg#--datasets=} ;;
    *) die "unknown argument $arg" ;;
  esac
done

model_files
require_var DATA_DIR "BioBERT's datasets folder (NER/, RE/, QA/)"
DATA_DIR=$(absolute "$DATA_DIR")
require_dir DATA_DIR
if [[ "$QUICK" == 1 ]]; then
  OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-./paper_results_quick}")
else
  OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-./paper_results}")
fi
QUICK_SIZE=${QUICK_SIZE:-300}
QUICK_EPOCHS=${QUICK_EPOCHS:-1}
DO_LOWER_CASE=${DO_LOWER_CASE:-$(vocab_lower_case "$VOCAB_FILE")}
QA_CHECKPOINT=${QA_CHECKPOINT:-$INIT_CHECKPOINT}
export BIOBERT_DIR VOCAB_FILE BERT_CONFIG_FILE INIT_CHECKPOINT DO_LOWER_CASE PYTHON
export NUM_GPUS=${NUM_GPUS:--1} PRECISION=${PRECISION:-fp32}

quick_flag=()
[[ "$QUICK" == 1 ]] && quick_flag=(--quick)
listing=$("$PYTHON" "$ROOT/scripts/paper_results.py" list --datasets="$DATASETS") || exit 2
mkdir -p "$OUTPUT_DIR"
mode_file=$OUTPUT_DIR/.reproduce_paper_mode
mode=$([[ "$QUICK" == 1 ]] && echo quick || echo full)
if [[ -f "$mode_file" && "$(cat "$mode_file")" != "$mode" ]]; then
  die "OUTPUT_DIR=$OUTPUT_DIR holds a $(cat "$mode_file") run's results; choose another OUTPUT_DIR for a $mode run"
fi
echo "$mode" >"$mode_file"

# unavailable ID REASON: records that a data set could not be run.
unavailable() {
  echo "   not available: $2"
  "$PYTHON" "$ROOT/scripts/paper_results.py" unavailable --id="$1" --reason="$2" --output="$OUTPUT_DIR/$1/result.json"
}

# data_for ID TASK FOLDER: the data set's folder, or with --quick a subset of it (made once).
data_for() {
  if [[ "$QUICK" == 0 ]]; then
    echo "$3"
  else
    local part=$OUTPUT_DIR/$1/quick_data
    if [[ ! -d "$part" ]]; then
      "$PYTHON" "$ROOT/scripts/paper_results.py" subset --task="$2" --src="$3" --dst="$part" --size="$QUICK_SIZE"
    fi
    echo "$part"
  fi
}

run_ner() {
  local id=$1 data
  if [[ ! -f "$DATA_DIR/$2/train_dev.tsv" && ! (-f "$DATA_DIR/$2/train.tsv" && -f "$DATA_DIR/$2/devel.tsv") ]]; then
    unavailable "$id" "no $2/train_dev.tsv in DATA_DIR"
    return
  fi
  data=$(data_for "$id" ner "$DATA_DIR/$2")
  epochs=()
  [[ "$QUICK" == 1 ]] && epochs=("NUM_TRAIN_EPOCHS=$QUICK_EPOCHS")
  env "${epochs[@]}" NER_DIR="$data" OUTPUT_DIR="$OUTPUT_DIR/$id/run" "$ROOT/scripts/ner.sh"
  "$PYTHON" "$ROOT/scripts/paper_results.py" record --id="$id" --run_dir="$OUTPUT_DIR/$id/run" \
    --output="$OUTPUT_DIR/$id/result.json" "${quick_flag[@]}"
}

run_re() {
  local id=$1 data task=$3
  if [[ ! -f "$DATA_DIR/$2/1/train.tsv" && ! -f "$DATA_DIR/$2/train.tsv" ]]; then
    unavailable "$id" "no $2/1/train.tsv in DATA_DIR"
    return
  fi
  data=$DATA_DIR/$2
  if [[ -f "$data/train.tsv" ]]; then
    # ChemProt has one split, not folds: it runs as the only fold of a folder made for it.
    mkdir -p "$OUTPUT_DIR/$id/single"
    ln -sfn "$data" "$OUTPUT_DIR/$id/single/1"
    data=$OUTPUT_DIR/$id/single
  fi
  data=$(data_for "$id" re "$data")
  extra=()
  [[ "$QUICK" == 1 ]] && extra=("NUM_TRAIN_EPOCHS=$QUICK_EPOCHS" "FOLDS=1")
  env "${extra[@]}" RE_DIR="$data" TASK_NAME="$task" OUTPUT_DIR="$OUTPUT_DIR/$id/run" "$ROOT/scripts/re_kfold.sh"
  "$PYTHON" "$ROOT/scripts/paper_results.py" record --id="$id" --run_dir="$OUTPUT_DIR/$id/run" \
    --output="$OUTPUT_DIR/$id/result.json" "${quick_flag[@]}"
}

run_qa() {
  local id=$1 year=$3 train test batch golden
  train=$DATA_DIR/$2/BioASQ-train-factoid-$year.json
  if [[ ! -f "$train" ]]; then
    unavailable "$id" "no $2/BioASQ-train-factoid-$year.json in DATA_DIR"
    return
  fi
  if [[ "$QUICK" == 1 ]]; then
    unavailable "$id" "BioASQ is not run with --quick"
    return
  fi
  # Trained once per year, on the first test batch's run; the other batches are predicted with that model.
  local trained="" checkpoint
  for test in "$DATA_DIR/$2/BioASQ-test-factoid-$year"-*.json; do
    [[ -f "$test" ]] || continue
    batch=${test%.json}
    batch=${batch##*-}
    golden=$DATA_DIR/$2/${year^^}${batch}_golden.json
    if [[ -z "$trained" ]]; then
      INIT_CHECKPOINT=$QA_CHECKPOINT QA_DIR="$DATA_DIR/$2" TRAIN_FILE="$train" PREDICT_FILE="$test" \
        GOLDEN_FILE="$golden" OUTPUT_DIR="$OUTPUT_DIR/$id/run/batch$batch" "$ROOT/scripts/qa.sh"
      trained=$OUTPUT_DIR/$id/run/batch$batch
    else
      checkpoint=$(newest_checkpoint "$trained") || die "$trained: no checkpoint after training"
      DO_TRAIN=false INIT_CHECKPOINT=$checkpoint QA_DIR="$DATA_DIR/$2" PREDICT_FILE="$test" \
        GOLDEN_FILE="$golden" OUTPUT_DIR="$OUTPUT_DIR/$id/run/batch$batch" "$ROOT/scripts/qa.sh"
    fi
  done
  "$PYTHON" "$ROOT/scripts/paper_results.py" record --id="$id" --run_dir="$OUTPUT_DIR/$id/run" \
    --output="$OUTPUT_DIR/$id/result.json"
}

current=setup
# shellcheck disable=SC2154  # rc is assigned inside the trap
trap 'rc=$?; if [[ $rc -ne 0 ]]; then
  echo "error: $SCRIPT: stopped at data set $current (exit status $rc); what finished before is kept in $OUTPUT_DIR" >&2
fi' EXIT
while IFS=$'\t' read -r id task folder detail; do
  current=$id
  echo "== $id ($task, DATA_DIR/$folder)"
  # Only what ran is kept: a data set that was not available is looked for again.
  if grep -qs '"status": "done"' "$OUTPUT_DIR/$id/result.json"; then
    echo "   done already ($OUTPUT_DIR/$id/result.json), skipped"
    continue
  fi
  mkdir -p "$OUTPUT_DIR/$id"
  case "$task" in
    ner) run_ner "$id" "$folder" ;;
    re) run_re "$id" "$folder" "$detail" ;;
    qa) run_qa "$id" "$folder" "$detail" ;;
  esac
done <<<"$listing"

echo "== results ($OUTPUT_DIR/results.md, results.csv, results.png)"
"$PYTHON" "$ROOT/scripts/paper_results.py" table --results_dir="$OUTPUT_DIR" "${quick_flag[@]}"
