#!/usr/bin/env bash
# NER on one BioBERT data set as the original README runs it: run_ner.py (train on train_dev.tsv, evaluate on
# devel.tsv, predict test.tsv) -> biocodes/ner_detokenize.py -> biocodes/conlleval.py, with the paper's settings.
set -euo pipefail
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/ner.sh [--help] [extra run_ner.py flags ...]

Fine-tunes BIOBERT_DIR's model on one NER data set ($NER_DIR: train_dev.tsv, devel.tsv, test.tsv; a folder
with train.tsv instead of train_dev.tsv trains on train.tsv + devel.tsv, joined in $OUTPUT_DIR/data), predicts
test.tsv, turns the WordPiece predictions into one word per line (ner_detokenize.py) and scores the entities
(conlleval.py). Writes into $OUTPUT_DIR: run_ner.py's outputs (eval_results.txt, test_results.txt,
token_test.txt, label_test.txt, checkpoints), NER_result_conll.txt, conlleval.txt, and logs/. A finished run
(conlleval.txt present) is not rerun; a stopped one resumes from its latest checkpoint. Extra arguments go to
run_ner.py (e.g. --ner_loss=mean_first_subtoken --predict_first_subtoken=true for the modern recipe).

Variables (environment; defaults in brackets):
  BIOBERT_DIR       pre-trained model folder: vocab.txt, bert_config.json, model.ckpt-N (required)
  NER_DIR           the data set folder, e.g. ./data/datasets/NER/NCBI-disease (required)
  OUTPUT_DIR        [./ner_outputs/<name of NER_DIR>]
  INIT_CHECKPOINT   [the newest checkpoint in BIOBERT_DIR]
  VOCAB_FILE        [$BIOBERT_DIR/vocab.txt]     BERT_CONFIG_FILE [$BIOBERT_DIR/bert_config.json]
  NUM_TRAIN_EPOCHS  [10.0, the original README's]  LEARNING_RATE [5e-5]  TRAIN_BATCH_SIZE [32]
  MAX_SEQ_LENGTH    [128]
  DO_LOWER_CASE     [from the vocabulary: false for BioBERT's cased vocab.txt]
  NUM_GPUS          [-1: every visible GPU]      PRECISION [fp32] (fp32, bf16, fp16)
  PYTHON            the Python interpreter [python]

Example:
  BIOBERT_DIR=./weights/biobert_v1.1_pubmed NER_DIR=./data/datasets/NER/NCBI-disease scripts/ner.sh
EOF
}

if help_requested "$@"; then
  usage
  exit 0
fi

model_files
require_var NER_DIR "a NER data set folder (train_dev.tsv, devel.tsv, test.tsv)"
NER_DIR=$(absolute "$NER_DIR")
require_dir NER_DIR
OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-./ner_outputs/$(basename "$NER_DIR")}")
if [[ ! -f "$NER_DIR/train_dev.tsv" && -f "$NER_DIR/train.tsv" && -f "$NER_DIR/devel.tsv" ]]; then
  # Some data sets come without train_dev.tsv (JNLPBA): it is train.tsv followed by devel.tsv, as BioBERT made
  # the others'. Joined once into OUTPUT_DIR/data, beside links to the other two files.
  joined=$OUTPUT_DIR/data
  if [[ ! -f "$joined/train_dev.tsv" ]]; then
    mkdir -p "$joined"
    { cat "$NER_DIR/train.tsv"; echo; cat "$NER_DIR/devel.tsv"; } >"$joined/train_dev.tsv.tmp"
    mv "$joined/train_dev.tsv.tmp" "$joined/train_dev.tsv"
  fi
  ln -sfn "$NER_DIR/devel.tsv" "$joined/devel.tsv"
  ln -sfn "$NER_DIR/test.tsv" "$joined/test.tsv"
  echo "   $NER_DIR has no train_dev.tsv: training on train.tsv + devel.tsv ($joined/train_dev.tsv)"
  NER_DIR=$joined
fi
require_files NER_DIR train_dev.tsv devel.tsv test.tsv
NUM_TRAIN_EPOCHS=${NUM_TRAIN_EPOCHS:-10.0}
LEARNING_RATE=${LEARNING_RATE:-5e-5}
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-32}
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-128}
DO_LOWER_CASE=${DO_LOWER_CASE:-$(vocab_lower_case "$VOCAB_FILE")}
NUM_GPUS=${NUM_GPUS:--1}
PRECISION=${PRECISION:-fp32}
LOGS=$OUTPUT_DIR/logs

echo "== NER: $(basename "$NER_DIR") -> $OUTPUT_DIR"
if [[ -s "$OUTPUT_DIR/conlleval.txt" ]]; then
  echo "   done already ($OUTPUT_DIR/conlleval.txt), skipped"
  grep -E '^accuracy:' "$OUTPUT_DIR/conlleval.txt" | sed 's/^/   /'
  exit 0
fi
cd "$ROOT"

echo "-- run_ner.py: train on train_dev.tsv ($NUM_TRAIN_EPOCHS epochs), evaluate devel.tsv, predict test.tsv"
run_step run_ner "$LOGS/run_ner.log" "$PYTHON" run_ner.py --do_train=true --do_eval=true --do_predict=true \
  --vocab_file="$VOCAB_FILE" --bert_config_file="$BERT_CONFIG_FILE" --init_checkpoint="$INIT_CHECKPOINT" \
  --do_lower_case="$DO_LOWER_CASE" --data_dir="$NER_DIR" --output_dir="$OUTPUT_DIR" \
  --max_seq_length="$MAX_SEQ_LENGTH" --train_batch_size="$TRAIN_BATCH_SIZE" --learning_rate="$LEARNING_RATE" \
  --num_train_epochs="$NUM_TRAIN_EPOCHS" --num_gpus="$NUM_GPUS" --precision="$PRECISION" "$@"
echo "   devel.tsv: entity_f1=$(result_value "$OUTPUT_DIR/eval_results.txt" entity_f1)" \
  "token-level eval_f=$(result_value "$OUTPUT_DIR/eval_results.txt" eval_f)"

echo "-- ner_detokenize.py: WordPiece predictions -> NER_result_conll.txt"
run_step ner_detokenize "$LOGS/ner_detokenize.log" "$PYTHON" biocodes/ner_detokenize.py \
  --token_test_path="$OUTPUT_DIR/token_test.txt" --label_test_path="$OUTPUT_DIR/label_test.txt" \
  --answer_path="$NER_DIR/test.tsv" --output_dir="$OUTPUT_DIR" --do_lower_case="$DO_LOWER_CASE"

echo "-- conlleval.py: entity-level scores on test.tsv"
STEP_STDIN=$OUTPUT_DIR/NER_result_conll.txt run_step conlleval "$LOGS/conlleval.log" "$PYTHON" biocodes/conlleval.py
# Renamed into place last: conlleval.txt is what marks the data set as done.
cp "$LOGS/conlleval.log" "$OUTPUT_DIR/conlleval.txt.tmp"
mv "$OUTPUT_DIR/conlleval.txt.tmp" "$OUTPUT_DIR/conlleval.txt"
grep -E '^(processed|accuracy:)' "$OUTPUT_DIR/conlleval.txt" | sed 's/^/   /'
