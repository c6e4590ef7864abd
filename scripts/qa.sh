#!/usr/bin/env bash
# BioASQ factoid question answering as BioBERT's README runs it: run_qa.py fine-tunes and predicts, the n-best
# lists become a BioASQ submission (biocodes/transform_nbset2bioasqform.py), and BioASQ's measures score it
# (biocodes/bioasq_eval.py, or BioASQ's Java evaluator). Run `scripts/qa.sh --help` for the settings.
set -euo pipefail

SCRIPT=qa.sh
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/qa.sh [--help] [extra run_qa.py flags ...]

BioASQ factoid QA with the original README's settings:
  [1/3] run_qa.py          fine-tune on TRAIN_FILE, predict PREDICT_FILE -> nbest_predictions.json
  [2/3] transform          biocodes/transform_nbset2bioasqform.py -> BioASQform_BioASQ-answer.json (top 5)
  [3/3] evaluation         biocodes/bioasq_eval.py -phaseB -e 5 (BioASQ's measures in Python), or with
                           BIOASQ_JAR: java -Xmx10G -cp $BIOASQ_JAR evaluation.EvaluatorTask1b -phaseB -e 5
and prints the factoid strict accuracy, lenient accuracy and MRR. Full logs go to $OUTPUT_DIR/logs/; the
evaluator's ten numbers to $OUTPUT_DIR/bioasq_eval.txt. Extra arguments go to run_qa.py. A failing step stops
the script with a message naming it; what earlier steps wrote stays. run_qa.py resumes from the latest checkpoint
in OUTPUT_DIR (it overrides INIT_CHECKPOINT): use a fresh OUTPUT_DIR for a new run.

Variables (environment; defaults in brackets; relative paths are taken from the current folder):
  BIOBERT_DIR       model folder: vocab.txt, bert_config.json, a checkpoint (required). BioBERT's README starts
                    from BioBERT already fine-tuned on SQuAD (v1.1 for the factoid sets).
  INIT_CHECKPOINT   [the checkpoint of BIOBERT_DIR with the highest step]
  VOCAB_FILE        [$BIOBERT_DIR/vocab.txt]
  BERT_CONFIG_FILE  [$BIOBERT_DIR/bert_config.json]
  QA_DIR            BioASQ folder of BioBERT's QA data sets [./data/datasets/QA/BioASQ]
  TRAIN_FILE        [$QA_DIR/BioASQ-train-factoid-4b.json]
  PREDICT_FILE      [$QA_DIR/BioASQ-test-factoid-4b-1.json]
  GOLDEN_FILE       BioASQ golden answers of PREDICT_FILE [$QA_DIR/4B1_golden.json, i.e. <N>B<K>_golden.json
                    for BioASQ-test-factoid-<N>b-<K>.json; required for other names]
  OUTPUT_DIR        [./qa_output]
  DO_TRAIN          false: predict only, from INIT_CHECKPOINT (a run_qa.py checkpoint) [true]
  MAX_SEQ_LENGTH [384]   TRAIN_BATCH_SIZE [12]   LEARNING_RATE [5e-6]   DOC_STRIDE [128]
  NUM_TRAIN_EPOCHS [5.0] MAX_QUERY_LENGTH [64]   PREDICT_BATCH_SIZE [8] SAVE_CHECKPOINTS_STEPS [1000]
  DO_LOWER_CASE     [inferred from the vocabulary: false for BioBERT's cased one, as the README passes]
  BIOASQ_JAR        BioASQEvaluation.jar (BioASQ/Evaluation-Measures, its lib/ beside it): score with it
                    instead of biocodes/bioasq_eval.py [unset]
  JAVA              [java]
  PYTHON            the Python interpreter [python]

Example (then the other test batches, predict only: DO_TRAIN=false INIT_CHECKPOINT=./qa_4b/model.ckpt-N
PREDICT_FILE=$QA_DIR/BioASQ-test-factoid-4b-2.json OUTPUT_DIR=./qa_4b_2 scripts/qa.sh):
  BIOBERT_DIR=./biobert_v1.1_pubmed_squad QA_DIR=./data/datasets/QA/BioASQ OUTPUT_DIR=./qa_4b scripts/qa.sh
EOF
}

if help_requested "$@"; then
  usage
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
# Inputs, checked before anything runs.

model_files
QA_DIR=$(absolute "${QA_DIR:-./data/datasets/QA/BioASQ}")
if [[ -z "${TRAIN_FILE:-}" || -z "${PREDICT_FILE:-}" || -z "${GOLDEN_FILE:-}" ]]; then
  require_dir QA_DIR
fi
DO_TRAIN=${DO_TRAIN:-true}
case "$DO_TRAIN" in true | false) ;; *) die "DO_TRAIN=$DO_TRAIN: use true or false" ;; esac

# qa_file NAME DEFAULT: checks the file that variable NAME holds (DEFAULT, a name in QA_DIR, when unset).
qa_file() {
  if [[ -n "${!1:-}" ]]; then
    [[ -f "${!1}" ]] || die "$1=${!1} is not a file"
    absolute "${!1}"
  else
    [[ -f "$QA_DIR/$2" ]] || die "QA_DIR=$QA_DIR has no $2 (set $1 to use another file)"
    echo "$QA_DIR/$2"
  fi
}

if [[ "$DO_TRAIN" == true ]]; then
  TRAIN_FILE=$(qa_file TRAIN_FILE BioASQ-train-factoid-4b.json)
fi
PREDICT_FILE=$(qa_file PREDICT_FILE BioASQ-test-factoid-4b-1.json)
if [[ -z "${GOLDEN_FILE:-}" ]]; then
  # BioBERT's data name test batch K of BioASQ N as BioASQ-test-factoid-<N>b-<K>.json, its answers <N>B<K>_golden.json.
  [[ "$(basename "$PREDICT_FILE")" =~ ^BioASQ-test-factoid-([0-9]+)b-([0-9]+)\.json$ ]] ||
    die "set GOLDEN_FILE to the BioASQ golden answers of PREDICT_FILE=$PREDICT_FILE"
  GOLDEN_FILE=$(qa_file GOLDEN_FILE "${BASH_REMATCH[1]}B${BASH_REMATCH[2]}_golden.json")
else
  GOLDEN_FILE=$(qa_file GOLDEN_FILE "")
fi

OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-qa_output}")
MAX_SEQ_LENGTH=${MAX_SEQ_LENGTH:-384}
TRAIN_BATCH_SIZE=${TRAIN_BATCH_SIZE:-12}
LEARNING_RATE=${LEARNING_RATE:-5e-6}
DOC_STRIDE=${DOC_STRIDE:-128}
NUM_TRAIN_EPOCHS=${NUM_TRAIN_EPOCHS:-5.0}
MAX_QUERY_LENGTH=${MAX_QUERY_LENGTH:-64}
PREDICT_BATCH_SIZE=${PREDICT_BATCH_SIZE:-8}
SAVE_CHECKPOINTS_STEPS=${SAVE_CHECKPOINTS_STEPS:-1000}
JAVA=${JAVA:-java}
BIOASQ_JAR=$(absolute "${BIOASQ_JAR:-}")
if [[ -n "$BIOASQ_JAR" ]]; then
  [[ -f "$BIOASQ_JAR" ]] || die "BIOASQ_JAR=$BIOASQ_JAR is not a file"
  command -v "$JAVA" >/dev/null || die "BIOASQ_JAR is set but JAVA=$JAVA is not installed"
fi
DO_LOWER_CASE=${DO_LOWER_CASE:-$(vocab_lower_case "$VOCAB_FILE")}

start_steps 3

# ---------------------------------------------------------------------------------------------------------------

train_flags=(--do_train=false)
if [[ "$DO_TRAIN" == true ]]; then
  step "run_qa.py: fine-tune on $(basename "$TRAIN_FILE") ($NUM_TRAIN_EPOCHS epoch(s)), predict $(basename "$PREDICT_FILE")"
  train_flags=(--do_train=true --train_file="$TRAIN_FILE")
else
  step "run_qa.py: predict $(basename "$PREDICT_FILE") with $INIT_CHECKPOINT"
fi
run_step "run_qa.py" "$LOGS/1-run_qa.log" "$PYTHON" "$ROOT/run_qa.py" "${train_flags[@]}" --do_predict=true \
  --vocab_file="$VOCAB_FILE" --bert_config_file="$BERT_CONFIG_FILE" --init_checkpoint="$INIT_CHECKPOINT" \
  --max_seq_length="$MAX_SEQ_LENGTH" --train_batch_size="$TRAIN_BATCH_SIZE" --learning_rate="$LEARNING_RATE" \
  --doc_stride="$DOC_STRIDE" --num_train_epochs="$NUM_TRAIN_EPOCHS" --max_query_length="$MAX_QUERY_LENGTH" \
  --predict_batch_size="$PREDICT_BATCH_SIZE" --save_checkpoints_steps="$SAVE_CHECKPOINTS_STEPS" \
  --do_lower_case="$DO_LOWER_CASE" --predict_file="$PREDICT_FILE" --output_dir="$OUTPUT_DIR" "$@"
summary="run_qa: nbest_predictions.json"
if checkpoint=$(newest_checkpoint "$OUTPUT_DIR"); then
  summary="run_qa: $(basename "$checkpoint") -> nbest_predictions.json"
fi
questions=$(sed -nE 's/.*Num orig examples = ([0-9]+).*/\1/p' "$LOGS/1-run_qa.log" | tail -n 1)
# run_qa prints SQuAD's exact match and F1 as a JSON line when the predict file has answers.
squad=$(grep -E '^\{"exact_match"' "$LOGS/1-run_qa.log" | tail -n 1 |
  sed -E 's/.*"exact_match": ([0-9.]+), "f1": ([0-9.]+).*/\1 \2/' || true)
if [[ -n "$squad" ]]; then
  read -r exact f1 <<<"$squad"
  squad=$(printf '; SQuAD exact match %.2f, F1 %.2f' "$exact" "$f1")
fi
say "$summary (${questions:-?} question-snippet pairs$squad)"

step "BioASQ submission: top 5 answers per question (biocodes/transform_nbset2bioasqform.py)"
run_step "transform_nbset2bioasqform.py" "$LOGS/2-transform.log" "$PYTHON" \
  "$ROOT/biocodes/transform_nbset2bioasqform.py" --nbest_path="$OUTPUT_DIR/nbest_predictions.json" \
  --output_path="$OUTPUT_DIR"
answered=$(grep -c '"exact_answer"' "$OUTPUT_DIR/BioASQform_BioASQ-answer.json" || true)
say "transform: $answered questions -> BioASQform_BioASQ-answer.json, WithProb_BioASQform_BioASQ-answer.json"

SYSTEM=$OUTPUT_DIR/BioASQform_BioASQ-answer.json
if [[ -n "$BIOASQ_JAR" ]]; then
  step "evaluation against $(basename "$GOLDEN_FILE") (BioASQ's evaluator, $(basename "$BIOASQ_JAR"))"
  run_step "BioASQ evaluation" "$LOGS/3-bioasq_eval.log" "$JAVA" -Xmx10G -cp "$BIOASQ_JAR" \
    evaluation.EvaluatorTask1b -phaseB -e 5 "$GOLDEN_FILE" "$SYSTEM"
  EVALUATOR=$(basename "$BIOASQ_JAR")
else
  step "evaluation against $(basename "$GOLDEN_FILE") (biocodes/bioasq_eval.py, BioASQ's measures)"
  run_step "BioASQ evaluation" "$LOGS/3-bioasq_eval.log" "$PYTHON" "$ROOT/biocodes/bioasq_eval.py" -phaseB -e 5 \
    "$GOLDEN_FILE" "$SYSTEM"
  EVALUATOR=bioasq_eval.py
fi
# The evaluators print notes and labelled lines too; the measures are the line of ten numbers.
measures=$(grep -E '^[-0-9.eE]+( [-0-9.eE]+){9}$' "$LOGS/3-bioasq_eval.log" | tail -n 1 || true)
if [[ -z "$measures" ]]; then
  tail -n 15 "$LOGS/3-bioasq_eval.log" | sed 's/^/  | /' >&2
  echo "error: $SCRIPT: step 'BioASQ evaluation' printed no line of ten measures (log: $LOGS/3-bioasq_eval.log)" >&2
  exit 1
fi
echo "$measures" >"$OUTPUT_DIR/bioasq_eval.txt"
read -r _ strict lenient mrr _ <<<"$measures"
say "$EVALUATOR: $measures -> bioasq_eval.txt"

echo
echo "factoid: strict accuracy $strict, lenient accuracy $lenient, MRR $mrr ($EVALUATOR, $(basename "$PREDICT_FILE"))"
echo "done in $((SECONDS - START)) s; outputs in $OUTPUT_DIR/, logs in $LOGS/"
