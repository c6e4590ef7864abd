#!/usr/bin/env bash
# BioBERT end to end on small built-in data, offline (about two minutes on a laptop CPU):
#   invented PubMed-style abstracts -> text (prepare_corpus.py) -> WordPiece vocabulary (build_vocab.py)
#   -> pre-training TFRecords -> a short MLM+NSP pre-training of a tiny BERT -> disease NER fine-tuning from it
#   (run_ner.py) -> word-level predictions (biocodes/ner_detokenize.py) -> entity scores (biocodes/conlleval.py)
#   -> a Hugging Face folder and a stripped release of the pre-trained model.
# Run `bash scripts/quickstart.sh --help` for the settings.
set -Eeuo pipefail

usage() {
  cat <<'EOF'
Usage: bash scripts/quickstart.sh [OUTPUT_DIR]

Runs BioBERT's pipeline end to end on the built-in data (data/quickstart/, written for this project), prints a
header and one summary line per step, the entity F1 on test.tsv and a map of the outputs. Each step's full log
goes to OUTPUT_DIR/logs/. A failing step stops the run with a message naming it (exit status != 0).

Settings (environment variables; relative paths are taken from the current folder):
  OUTPUT_DIR        output folder (or the first argument; default: quickstart_output in the repository).
                    It is replaced when it holds an earlier quickstart's output; any other non-empty folder
                    is refused.
  DATA_DIR          a BioBERT NER dataset folder (train_dev.tsv, devel.tsv, test.tsv) instead of
                    data/quickstart/ner.
  BIOBERT_DIR       a folder with vocab.txt, bert_config.json and a checkpoint (model.ckpt-N or
                    bert_model.ckpt): fine-tune it instead of pre-training a tiny BERT (steps 1-4, 8 and 9
                    are skipped).
  BIOBERT_CHECKPOINT  the checkpoint prefix in BIOBERT_DIR (default: the one with the highest step).
  CORPUS            PubMed/MEDLINE or PMC XML for prepare_corpus.py (files, folders, globs, comma-separated;
                    default: data/quickstart/pubmed_sample.xml).
  CORPUS_TEXT       ready pre-training text (one sentence per line, a blank line between documents; files or
                    globs, comma-separated) used instead of CORPUS; step 1 is skipped.
  QUICKSTART_STEPS  pre-training steps (default 200).
  VOCAB_SIZE        size of the built vocabulary (default 2048, the vocab_size of
                    scripts/tiny_bert_config.json).
  NER_EPOCHS        fine-tuning epochs (default 10).
  NER_LEARNING_RATE fine-tuning learning rate (default 1e-3 for the tiny BERT, 5e-5 with BIOBERT_DIR).
  NER_BATCH_SIZE    fine-tuning batch size (default 32).
  NER_MAX_SEQ_LENGTH  fine-tuning sequence length (default 64 for the built-in set, whose sentences are
                    short, 128 with DATA_DIR).
  DO_LOWER_CASE     true/false (default: true for the built vocabulary; inferred from BIOBERT_DIR's vocab.txt).
  PYTHON            the Python interpreter (default: python).
EOF
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
if [ "$#" -gt 1 ]; then
  echo "error: at most one argument, the output folder (see --help)" >&2
  exit 2
fi

# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# Paths given by the caller are relative to the caller's folder (common.sh's `absolute`); the tools run from the
# repository root.

OUTPUT_DIR=$(absolute "${1:-${OUTPUT_DIR:-$ROOT/quickstart_output}}")
if [ -n "${DATA_DIR:-}" ]; then
  DATA_DIR=$(absolute "$DATA_DIR")
  NER_MAX_SEQ_LENGTH=${NER_MAX_SEQ_LENGTH:-128}
else
  DATA_DIR=$ROOT/data/quickstart/ner
  NER_MAX_SEQ_LENGTH=${NER_MAX_SEQ_LENGTH:-64}
fi
BIOBERT_DIR=$(absolute "${BIOBERT_DIR:-}")
BIOBERT_CHECKPOINT=$(absolute "${BIOBERT_CHECKPOINT:-}")
CORPUS=$(absolute_list "${CORPUS:-$ROOT/data/quickstart/pubmed_sample.xml}")
CORPUS_TEXT=$(absolute_list "${CORPUS_TEXT:-}")
STEPS=${QUICKSTART_STEPS:-200}
VOCAB_SIZE=${VOCAB_SIZE:-2048}
NER_EPOCHS=${NER_EPOCHS:-10}
NER_BATCH_SIZE=${NER_BATCH_SIZE:-32}
PYTHON=${PYTHON:-python}
CONFIG=$ROOT/scripts/tiny_bert_config.json
TOTAL=9
MARKER=.quickstart_output

STEP=0
STEP_NAME="setup"

die() {
  echo "error: $*" >&2
  exit 2
}

on_error() {
  echo "error: step $STEP/$TOTAL ($STEP_NAME) failed (exit status $1, quickstart.sh line $2)" >&2
  exit "$1"
}
trap 'on_error $? $LINENO' ERR

step() {
  STEP=$((STEP + 1))
  STEP_NAME=$1
  echo "[$STEP/$TOTAL] $2"
}

say() {
  echo "      $*"
}

# run LOG COMMAND...: the command's stdout and stderr go to logs/LOG; a failure prints the end of the log and stops.
run() {
  local log=$LOGS/$1
  shift
  local rc=0
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "error: step $STEP/$TOTAL ($STEP_NAME) failed with exit status $rc; the end of ${log#"$OUTPUT_DIR"/}:" >&2
    tail -n 15 "$log" | sed 's/^/  | /' >&2
    echo "  (full log: $log)" >&2
    exit "$rc"
  fi
}

# last_line LOG PATTERN: the last line of logs/LOG matching PATTERN (a grep -E expression).
last_line() {
  grep -E -- "$2" "$LOGS/$1" | tail -n 1 || true
}

# value FILE KEY: KEY's value in a `key = value` results file.
value() {
  awk -F' = ' -v key="$2" '$1 == key { print $2 }' "$1"
}

# number VALUE [DIGITS]: VALUE rounded to DIGITS decimals (default 2); "?" when empty.
number() {
  if [ -n "$1" ]; then printf "%.${2:-2}f" "$1"; else printf "?"; fi
}

# ---------------------------------------------------------------------------------------------------------------
# Inputs, checked before anything runs.

for name in train_dev.tsv devel.tsv test.tsv; do
  [ -f "$DATA_DIR/$name" ] || die "DATA_DIR=$DATA_DIR has no $name (a BioBERT NER dataset folder holds train_dev.tsv, devel.tsv and test.tsv)"
done

if [ -n "$BIOBERT_DIR" ]; then
  [ -d "$BIOBERT_DIR" ] || die "BIOBERT_DIR=$BIOBERT_DIR is not a folder"
  for name in vocab.txt bert_config.json; do
    [ -f "$BIOBERT_DIR/$name" ] || die "BIOBERT_DIR=$BIOBERT_DIR has no $name"
  done
  if [ -z "$BIOBERT_CHECKPOINT" ]; then
    index=$(find "$BIOBERT_DIR" -maxdepth 1 -name '*.ckpt*.index' | sort -V | tail -n 1)
    [ -n "$index" ] || die "BIOBERT_DIR=$BIOBERT_DIR holds no checkpoint (*.ckpt*.index); set BIOBERT_CHECKPOINT"
    BIOBERT_CHECKPOINT=${index%.index}
  fi
  [ -f "$BIOBERT_CHECKPOINT.index" ] || die "BIOBERT_CHECKPOINT=$BIOBERT_CHECKPOINT: no $BIOBERT_CHECKPOINT.index"
  VOCAB=$BIOBERT_DIR/vocab.txt
  BERT_CONFIG=$BIOBERT_DIR/bert_config.json
  INIT_CHECKPOINT=$BIOBERT_CHECKPOINT
  NER_LEARNING_RATE=${NER_LEARNING_RATE:-5e-5}
  if [ -z "${DO_LOWER_CASE:-}" ]; then
    DO_LOWER_CASE=$(cd "$ROOT" && "$PYTHON" -c 'import sys, tokenization
print(str(not tokenization.vocab_looks_cased(sys.argv[1])).lower())' "$VOCAB")
  fi
else
  VOCAB=$OUTPUT_DIR/vocab.txt
  BERT_CONFIG=$CONFIG
  INIT_CHECKPOINT=$OUTPUT_DIR/pretraining_output/model.ckpt-$STEPS
  NER_LEARNING_RATE=${NER_LEARNING_RATE:-1e-3}
  DO_LOWER_CASE=${DO_LOWER_CASE:-true}
fi

if [ -e "$OUTPUT_DIR" ]; then
  [ -d "$OUTPUT_DIR" ] || die "OUTPUT_DIR=$OUTPUT_DIR is not a folder"
  if [ -n "$(ls -A "$OUTPUT_DIR")" ] && [ ! -f "$OUTPUT_DIR/$MARKER" ]; then
    die "OUTPUT_DIR=$OUTPUT_DIR is not empty and not an earlier quickstart's output; choose another folder"
  fi
  rm -rf "$OUTPUT_DIR"
fi
mkdir -p "$OUTPUT_DIR/logs"
echo "scripts/quickstart.sh output; the next run with this OUTPUT_DIR replaces the folder" >"$OUTPUT_DIR/$MARKER"
LOGS=$OUTPUT_DIR/logs
cd "$ROOT"
START=$SECONDS

# ---------------------------------------------------------------------------------------------------------------
# Pre-training: text, vocabulary, TFRecords, a tiny BERT.

TEXT=""
step prepare "prepare: PubMed/PMC XML -> one sentence per line, a blank line between documents (prepare_corpus.py)"
if [ -n "$BIOBERT_DIR" ]; then
  say "skipped: fine-tuning BIOBERT_DIR=$BIOBERT_DIR"
elif [ -n "$CORPUS_TEXT" ]; then
  TEXT=$CORPUS_TEXT
  say "skipped: CORPUS_TEXT=$CORPUS_TEXT is the pre-training text"
else
  run 1-prepare_corpus.log "$PYTHON" prepare_corpus.py --input_file="$CORPUS" --output_dir="$OUTPUT_DIR/corpus"
  say "$(last_line 1-prepare_corpus.log '^prepare_corpus:')"
  TEXT="$OUTPUT_DIR/corpus/corpus-*.txt"
fi

step vocabulary "vocabulary: a $VOCAB_SIZE-token WordPiece vocab.txt learned from the text (build_vocab.py)"
if [ -n "$BIOBERT_DIR" ]; then
  say "skipped: BIOBERT_DIR's vocab.txt, do_lower_case=$DO_LOWER_CASE"
else
  run 2-build_vocab.log "$PYTHON" build_vocab.py --input_file="$TEXT" --output_file="$VOCAB" \
    --vocab_size="$VOCAB_SIZE" --do_lower_case="$DO_LOWER_CASE" --min_frequency=1
  say "$(last_line 2-build_vocab.log '^build_vocab:')"
fi

step pretraining_data "pre-training data: masked-LM and next-sentence examples (create_pretraining_data.py)"
if [ -n "$BIOBERT_DIR" ]; then
  say "skipped: BIOBERT_DIR is pre-trained"
else
  run 3-create_pretraining_data.log "$PYTHON" create_pretraining_data.py --input_file="$TEXT" \
    --output_file="$OUTPUT_DIR/tf_examples.tfrecord" --vocab_file="$VOCAB" --do_lower_case="$DO_LOWER_CASE" \
    --max_seq_length=128 --max_predictions_per_seq=20 --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=1
  instances=$(last_line 3-create_pretraining_data.log 'Wrote [0-9]+ total instances' |
    sed -E 's/.*Wrote ([0-9]+) total instances.*/\1/')
  say "create_pretraining_data: instances=$instances max_seq_length=128 dupe_factor=1 -> tf_examples.tfrecord"
fi

layers=$(sed -nE 's/.*"num_hidden_layers": *([0-9]+).*/\1/p' "$CONFIG")
step pretraining "pre-training: $STEPS steps of a $layers-layer BERT from scratch, then evaluation (run_pretraining.py)"
if [ -n "$BIOBERT_DIR" ]; then
  say "skipped: fine-tuning $INIT_CHECKPOINT"
else
  run 4-run_pretraining.log "$PYTHON" run_pretraining.py --input_file="$OUTPUT_DIR/tf_examples.tfrecord" \
    --output_dir="$OUTPUT_DIR/pretraining_output" --do_train=true --do_eval=true --bert_config_file="$CONFIG" \
    --train_batch_size=16 --max_seq_length=128 --max_predictions_per_seq=20 --num_train_steps="$STEPS" \
    --num_warmup_steps=$((STEPS / 10)) --learning_rate=1e-3 --save_checkpoints_steps=100 --max_eval_steps=20
  results=$OUTPUT_DIR/pretraining_output/eval_results.txt
  say "run_pretraining: global_step=$(value "$results" global_step) eval: loss=$(number "$(value "$results" loss)" 3)" \
    "masked_lm_accuracy=$(number "$(value "$results" masked_lm_accuracy)" 3)" \
    "next_sentence_accuracy=$(number "$(value "$results" next_sentence_accuracy)" 3)"
fi

# ---------------------------------------------------------------------------------------------------------------
# NER: fine-tuning, word-level predictions, entity scores.

NER_OUT=$OUTPUT_DIR/ner_output
step ner "NER fine-tuning on train_dev.tsv ($NER_EPOCHS epochs), evaluation on devel.tsv, prediction on test.tsv (run_ner.py)"
run 5-run_ner.log "$PYTHON" run_ner.py --do_train=true --do_eval=true --do_predict=true \
  --vocab_file="$VOCAB" --bert_config_file="$BERT_CONFIG" --init_checkpoint="$INIT_CHECKPOINT" \
  --do_lower_case="$DO_LOWER_CASE" --data_dir="$DATA_DIR" --output_dir="$NER_OUT" \
  --max_seq_length="$NER_MAX_SEQ_LENGTH" --train_batch_size="$NER_BATCH_SIZE" \
  --learning_rate="$NER_LEARNING_RATE" --num_train_epochs="$NER_EPOCHS"
devel=$NER_OUT/eval_results.txt
say "run_ner: global_step=$(value "$devel" global_step) devel.tsv:" \
  "entity_precision=$(number "$(value "$devel" entity_precision)")" \
  "entity_recall=$(number "$(value "$devel" entity_recall)")" \
  "entity_f1=$(number "$(value "$devel" entity_f1)")" \
  "token-level eval_f=$(number "$(value "$devel" eval_f)" 3)"

RESULT=$OUTPUT_DIR/ner_result
step detokenize "WordPiece predictions -> one word per line (biocodes/ner_detokenize.py)"
mkdir -p "$RESULT"
run 6-ner_detokenize.log "$PYTHON" biocodes/ner_detokenize.py --token_test_path="$NER_OUT/token_test.txt" \
  --label_test_path="$NER_OUT/label_test.txt" --answer_path="$DATA_DIR/test.tsv" --output_dir="$RESULT" \
  --do_lower_case="$DO_LOWER_CASE"
sentences=$(awk 'NF == 0 { n++ } END { print n + 0 }' "$RESULT/NER_result_conll.txt")
words=$(awk 'NF > 0 { n++ } END { print n + 0 }' "$RESULT/NER_result_conll.txt")
if cmp -s "$RESULT/NER_result_conll.txt" "$NER_OUT/NER_result_conll.txt"; then
  same="the same as run_ner's own ner_output/NER_result_conll.txt"
else
  same="NOT the same as run_ner's own ner_output/NER_result_conll.txt"
fi
say "ner_detokenize: $sentences sentences, $words words -> ner_result/NER_result_conll.txt ($same)"

step conlleval "entity-level scores on test.tsv (biocodes/conlleval.py)"
run 7-conlleval.log "$PYTHON" biocodes/conlleval.py <"$RESULT/NER_result_conll.txt"
cp "$LOGS/7-conlleval.log" "$RESULT/conlleval.txt"
processed=$(last_line 7-conlleval.log "^processed " | tr -s " ")
scores=$(last_line 7-conlleval.log "^accuracy:" | tr -s " ")
[ -n "$scores" ] || { echo "error: step $STEP/$TOTAL ($STEP_NAME): no scores in conlleval's report" >&2; exit 1; }
say "conlleval: $processed $scores"
F1=$(sed -E 's/.*FB1: *([0-9.]+).*/\1/' <<<"$scores")
PRECISION=$(sed -E 's/.*precision: *([0-9.]+)%.*/\1/' <<<"$scores")
RECALL=$(sed -E 's/.*recall: *([0-9.]+)%.*/\1/' <<<"$scores")

# ---------------------------------------------------------------------------------------------------------------
# The pre-trained model for others: a Hugging Face folder and a weights-only release.

step hf_export "Hugging Face export of the pre-trained model (BertForPreTraining, safetensors) (convert_checkpoint.py)"
if [ -n "$BIOBERT_DIR" ]; then
  say "skipped: BIOBERT_DIR was not pre-trained here (convert_checkpoint.py tf_to_hf converts it)"
else
  run 8-tf_to_hf.log "$PYTHON" convert_checkpoint.py tf_to_hf --init_checkpoint="$INIT_CHECKPOINT" \
    --bert_config_file="$CONFIG" --vocab_file="$VOCAB" --output_dir="$OUTPUT_DIR/hf_model"
  say "convert_checkpoint: $(last_line 8-tf_to_hf.log '^converted ' | sed "s|$OUTPUT_DIR/||")"
fi

step release "weights-only release checkpoint of the pre-trained model (convert_checkpoint.py strip)"
if [ -n "$BIOBERT_DIR" ]; then
  say "skipped: BIOBERT_DIR was not pre-trained here"
else
  run 9-strip.log "$PYTHON" convert_checkpoint.py strip --init_checkpoint="$INIT_CHECKPOINT" \
    --bert_config_file="$CONFIG" --vocab_file="$VOCAB" --output_dir="$OUTPUT_DIR/release"
  say "convert_checkpoint: $(last_line 9-strip.log '^converted ' | sed "s|$OUTPUT_DIR/||")"
fi

# ---------------------------------------------------------------------------------------------------------------

STEP_NAME="summary"
echo
echo "entity F1 on test.tsv: $F1 (precision $PRECISION, recall $RECALL; conlleval, exact match)"
echo "done in $((SECONDS - START)) s; outputs in $OUTPUT_DIR/:"
artifact() {
  if [ -e "$OUTPUT_DIR/$1" ]; then
    printf '  %-44s %s\n' "$1" "$2"
  fi
}
artifact corpus/corpus-00000.txt "pre-training text, one sentence per line"
artifact vocab.txt "WordPiece vocabulary"
artifact tf_examples.tfrecord "pre-training examples"
artifact pretraining_output/model.ckpt-"$STEPS".index "pre-trained checkpoint (model.ckpt-$STEPS.*)"
artifact pretraining_output/eval_results.txt "pre-training evaluation"
artifact ner_output/model.ckpt-"$(value "$NER_OUT/eval_results.txt" global_step)".index \
  "fine-tuned NER checkpoint, label2id.json beside it"
artifact ner_output/eval_results.txt "devel.tsv: token- and entity-level scores"
artifact ner_output/token_test.txt "test.tsv: WordPieces, label_test.txt their labels"
artifact ner_output/test_results.txt "test.tsv: token- and entity-level scores"
artifact ner_result/NER_result_conll.txt "test.tsv: word gold predicted (ner_detokenize.py)"
artifact ner_result/conlleval.txt "test.tsv: conlleval's report"
artifact hf_model/ "pre-trained model for transformers (BertForPreTraining)"
artifact release/ "pre-trained weights only, vocab.txt, bert_config.json (a BIOBERT_DIR)"
artifact logs/ "each step's full log"
