#!/usr/bin/env bash
# A pre-trained checkpoint made ready for release: a weights-only TF1 folder like BioBERT's own releases
# (convert_checkpoint.py strip), a Hugging Face folder (convert_checkpoint.py tf_to_hf) and a model card stub in it.
# Run `scripts/release.sh --help` for the settings.
set -euo pipefail

SCRIPT=release.sh
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/release.sh [--help]

Release of a pre-trained checkpoint (for instance scripts/pretrain.sh's $OUTPUT_DIR/phase2):
  [1/3] strip        convert_checkpoint.py strip: $OUTPUT_DIR/$MODEL_NAME/ with the weights only (no optimizer
                     slots or step counters, about a third of the size), vocab.txt, bert_config.json, SHA256SUMS:
                     a BIOBERT_DIR for every script here and for the original TF1 code
  [2/3] Hugging Face convert_checkpoint.py tf_to_hf: $OUTPUT_DIR/$MODEL_NAME-hf/ with config.json,
                     model.safetensors, vocab.txt, tokenizer_config.json, SHA256SUMS (transformers loads it)
  [3/3] model card   $OUTPUT_DIR/$MODEL_NAME-hf/README.md: YAML front matter (language, tags, a licence
                     placeholder) and what is known (architecture, vocabulary, casing, source checkpoint and
                     step); the sections on training data, training and evaluation are for the releaser to fill.
                     It is not in SHA256SUMS, since it is meant to be edited.
Both folders are checked with `sha256sum -c SHA256SUMS`. Full logs go to $OUTPUT_DIR/logs/. A failing step stops
the script with a message naming it; what earlier steps wrote stays.

Variables (environment; defaults in brackets; relative paths are taken from the current folder):
  BIOBERT_DIR       model folder: vocab.txt, bert_config.json and the checkpoint (required)
  CHECKPOINT        checkpoint prefix to release, e.g. $BIOBERT_DIR/model.ckpt-1000000 [the checkpoint of
                    BIOBERT_DIR with the highest step]
  VOCAB_FILE        [$BIOBERT_DIR/vocab.txt]
  BERT_CONFIG_FILE  [$BIOBERT_DIR/bert_config.json]
  OUTPUT_DIR        [./release]
  MODEL_NAME        the release's name: folder names and the model card's title [biobert-pretrained]
  OVERWRITE         true: replace release folders of an earlier run (and an edited model card) [false]
  PYTHON            the Python interpreter [python]

Example:
  BIOBERT_DIR=./biobert_pt/phase2 OUTPUT_DIR=./release MODEL_NAME=biobert-pubmed-v1 scripts/release.sh
EOF
}

if help_requested "$@"; then
  usage
  exit 0
fi
[[ $# -eq 0 ]] || die "unexpected arguments: $* (see $SCRIPT --help)"

# ---------------------------------------------------------------------------------------------------------------
# Inputs, checked before anything runs.

require_var BIOBERT_DIR "a model folder (vocab.txt, bert_config.json, model.ckpt-N)"
BIOBERT_DIR=$(absolute "$BIOBERT_DIR")
require_dir BIOBERT_DIR
if [[ -n "${CHECKPOINT:-}" ]]; then
  INIT_CHECKPOINT=$(absolute "$CHECKPOINT")
  [[ -f "$INIT_CHECKPOINT.index" ]] || die "CHECKPOINT=$CHECKPOINT: no $INIT_CHECKPOINT.index"
else
  INIT_CHECKPOINT=$(newest_checkpoint "$BIOBERT_DIR") ||
    die "BIOBERT_DIR=$BIOBERT_DIR holds no checkpoint (*.ckpt*.index); set CHECKPOINT"
fi
model_files
CHECKPOINT=$INIT_CHECKPOINT
STEP_OF_CHECKPOINT=$(checkpoint_step "$CHECKPOINT")

OUTPUT_DIR=$(absolute "${OUTPUT_DIR:-release}")
MODEL_NAME=${MODEL_NAME:-biobert-pretrained}
[[ "$MODEL_NAME" =~ ^[A-Za-z0-9._-]+$ ]] || die "MODEL_NAME=$MODEL_NAME: use letters, digits, '.', '_' and '-'"
OVERWRITE=${OVERWRITE:-false}
case "$OVERWRITE" in true | false) ;; *) die "OVERWRITE=$OVERWRITE: use true or false" ;; esac
TF1_DIR=$OUTPUT_DIR/$MODEL_NAME
HF_DIR=$OUTPUT_DIR/$MODEL_NAME-hf
for dir in "$TF1_DIR" "$HF_DIR"; do
  if [[ "$OVERWRITE" == false && -e "$dir" && -n "$(ls -A "$dir" 2>/dev/null)" ]]; then
    die "$dir exists already: set OVERWRITE=true to replace it, or another OUTPUT_DIR or MODEL_NAME"
  fi
done
LOWER_CASE=$(vocab_lower_case "$VOCAB_FILE")

start_steps 3

# check_sums DIR: stops unless every file DIR's SHA256SUMS lists has its checksum.
check_sums() {
  (cd "$1" && sha256sum -c --quiet SHA256SUMS) >"$LOGS/sha256sum-$(basename "$1").log" 2>&1 ||
    die "$1: sha256sum -c SHA256SUMS failed (log: $LOGS/sha256sum-$(basename "$1").log)"
}

overwrite_flag=()
[[ "$OVERWRITE" == false ]] || overwrite_flag=(--overwrite=true)

# ---------------------------------------------------------------------------------------------------------------

step "strip: weights-only TF1 checkpoint of $(basename "$CHECKPOINT") (convert_checkpoint.py strip)"
run_step "strip" "$LOGS/1-strip.log" "$PYTHON" "$ROOT/convert_checkpoint.py" strip \
  --init_checkpoint="$CHECKPOINT" --bert_config_file="$BERT_CONFIG_FILE" --vocab_file="$VOCAB_FILE" \
  --output_dir="$TF1_DIR" "${overwrite_flag[@]}"
check_sums "$TF1_DIR"
say "convert_checkpoint: $(grep -E '^converted ' "$LOGS/1-strip.log" | tail -n 1 | sed -E 's/; wrote .*//')" \
  "-> $MODEL_NAME/ ($(du -sh "$TF1_DIR" | cut -f1), SHA256SUMS checked)"

step "Hugging Face folder, safetensors (convert_checkpoint.py tf_to_hf)"
run_step "tf_to_hf" "$LOGS/2-tf_to_hf.log" "$PYTHON" "$ROOT/convert_checkpoint.py" tf_to_hf \
  --init_checkpoint="$CHECKPOINT" --bert_config_file="$BERT_CONFIG_FILE" --vocab_file="$VOCAB_FILE" \
  --output_dir="$HF_DIR" "${overwrite_flag[@]}"
check_sums "$HF_DIR"
say "convert_checkpoint: $(grep -E '^converted ' "$LOGS/2-tf_to_hf.log" | tail -n 1 | sed -E 's/.*; (task=[^;]*);.*/\1/')" \
  "-> $MODEL_NAME-hf/ ($(du -sh "$HF_DIR" | cut -f1), SHA256SUMS checked)"

step "model card stub: $MODEL_NAME-hf/README.md"
# Read from the converted config.json, so the card describes what was written.
config=$("$PYTHON" -c 'import json, sys
c = json.load(open(sys.argv[1]))
print((c.get("architectures") or ["BertModel"])[0], c["num_hidden_layers"], c["hidden_size"],
      c["num_attention_heads"], c["intermediate_size"], c["max_position_embeddings"], c["vocab_size"],
      c["hidden_act"])' "$HF_DIR/config.json" 2>/dev/null) || die "$HF_DIR/config.json: cannot read the architecture"
read -r ARCHITECTURE LAYERS HIDDEN HEADS INTERMEDIATE POSITIONS VOCAB_SIZE ACTIVATION <<<"$config"
case "$LAYERS/$HIDDEN/$HEADS" in
  12/768/12) SIZE="BERT-Base" ;;
  24/1024/16) SIZE="BERT-Large" ;;
  *) SIZE="BERT" ;;
esac
if [[ "$LOWER_CASE" == true ]]; then CASING=uncased; else CASING=cased; fi
case "$ARCHITECTURE" in
  BertForPreTraining | BertForMaskedLM) PIPELINE=fill-mask ;;
  BertForQuestionAnswering) PIPELINE=question-answering ;;
  BertForTokenClassification) PIPELINE=token-classification ;;
  BertForSequenceClassification) PIPELINE=text-classification ;;
  *) PIPELINE=feature-extraction ;;
esac
if [[ "$STEP_OF_CHECKPOINT" -ge 0 ]]; then STEPS_TEXT="$STEP_OF_CHECKPOINT"; else STEPS_TEXT="unknown"; fi
VOCAB_LINES=$(wc -l <"$VOCAB_FILE" | tr -d ' ')
CARD=$HF_DIR/README.md
cat >"$CARD.partial" <<EOF
---
language: en
license: other  # TODO: the licence of this release (e.g. apache-2.0), and license_name / license_link for others
library_name: transformers
pipeline_tag: $PIPELINE
tags:
- bert
- biobert
- biomedical
---

# $MODEL_NAME

A biomedical BERT in BioBERT's manner (continued masked-LM and next-sentence pre-training on biomedical text),
converted from a TensorFlow checkpoint. The weights-only TF1 release of the same checkpoint is \`$MODEL_NAME/\`.

## Model

- Architecture: $SIZE, $LAYERS layers, hidden size $HIDDEN, $HEADS attention heads, intermediate size
  $INTERMEDIATE, $ACTIVATION, up to $POSITIONS positions; \`$ARCHITECTURE\` in transformers.
- Vocabulary: $VOCAB_SIZE WordPiece tokens ($VOCAB_LINES lines in vocab.txt), $CASING (do_lower_case=$LOWER_CASE).
- Source checkpoint: \`$(basename "$CHECKPOINT")\` (folder \`$(basename "$(dirname "$CHECKPOINT")")\`), global step $STEPS_TEXT.

## Training data

TODO: corpora (e.g. PubMed abstracts, PMC full texts), their versions or download dates, size in words, how the
text was prepared (prepare_corpus.py), and the initial checkpoint pre-training continued from.

## Training procedure

- Steps: $STEPS_TEXT (this checkpoint).
- TODO: phases (sequence lengths and steps of each), batch size, learning rate and warmup, precision, hardware,
  time.

## Evaluation

TODO: the tasks and data sets (NER, relation extraction, BioASQ QA), the metrics and the numbers.

## How to use

\`\`\`python
from transformers import AutoModelForPreTraining, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("$MODEL_NAME-hf")
model = AutoModelForPreTraining.from_pretrained("$MODEL_NAME-hf")
\`\`\`

The TF1 release works as \`--init_checkpoint\`, \`--vocab_file\` and \`--bert_config_file\` of BioBERT's
scripts, with \`--do_lower_case=$LOWER_CASE\`.

## Citation

BioBERT: Jinhyuk Lee, Wonjin Yoon, Sungdong Kim, Donghyeon Kim, Sunkyu Kim, Chan Ho So and Jaewoo Kang. BioBERT: a
pre-trained biomedical language representation model for biomedical text mining. Bioinformatics 36(4), 2020.
EOF
mv "$CARD.partial" "$CARD"
say "README.md: $SIZE, $LAYERS layers, $VOCAB_SIZE-token $CASING vocabulary, step $STEPS_TEXT; TODO: licence," \
  "training data, training, evaluation"

echo
echo "done in $((SECONDS - START)) s; release of $(basename "$CHECKPOINT") in $OUTPUT_DIR/: $MODEL_NAME/ (TF1)," \
  "$MODEL_NAME-hf/ (Hugging Face, README.md to complete)"
