# shellcheck shell=bash
# What every workflow script in scripts/ shares: messages, input checks, absolute paths, the model folder's files,
# logged steps. Sourced, never run:  . "$(dirname "${BASH_SOURCE[0]}")/common.sh"
#
# A script sets SCRIPT (its name, for messages) before calling these; ROOT is the repository root.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT=${SCRIPT:-$(basename "$0")}
PYTHON=${PYTHON:-python}

# die MESSAGE...: one `error:` line on stderr, exit 2 (bad input: a variable, a folder, a file).
die() {
  echo "error: $SCRIPT: $*" >&2
  exit 2
}

# absolute PATH: PATH made absolute against the caller's folder (the tools run from the repository root).
absolute() {
  case "$1" in
    "") echo "" ;;
    /*) echo "$1" ;;
    *) echo "$PWD/$1" ;;
  esac
}

# help_requested ARGS...: true when the first argument is -h or --help.
help_requested() {
  [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]
}

# require_var NAME WHAT: stop unless the environment variable NAME is set and not empty.
require_var() {
  [[ -n "${!1:-}" ]] || die "set $1 to $2 (see $SCRIPT --help)"
}

# require_dir NAME: stop unless the folder that variable NAME holds exists.
require_dir() {
  [[ -d "${!1}" ]] || die "$1=${!1} is not a folder"
}

# require_files NAME FILE...: stop unless each FILE is in the folder that variable NAME holds.
require_files() {
  local var=$1 name
  shift
  require_dir "$var"
  for name in "$@"; do
    [[ -f "${!var}/$name" ]] || die "$var=${!var} has no $name (it should hold: $*)"
  done
}

# newest_checkpoint DIR: the prefix of DIR's checkpoint with the highest step (model.ckpt-N, bert_model.ckpt).
newest_checkpoint() {
  local index
  index=$(find "$1" -maxdepth 1 -name '*.ckpt*.index' | sort -V | tail -n 1)
  [[ -n "$index" ]] || return 1
  echo "${index%.index}"
}

# model_files: checks BIOBERT_DIR and sets VOCAB_FILE, BERT_CONFIG_FILE and INIT_CHECKPOINT from it, unless they
# are set already (BioBERT's releases hold vocab.txt, bert_config.json and model.ckpt-1000000).
model_files() {
  require_var BIOBERT_DIR "a pre-trained model folder (vocab.txt, bert_config.json, model.ckpt-N)"
  BIOBERT_DIR=$(absolute "$BIOBERT_DIR")
  require_files BIOBERT_DIR vocab.txt bert_config.json
  VOCAB_FILE=$(absolute "${VOCAB_FILE:-$BIOBERT_DIR/vocab.txt}")
  BERT_CONFIG_FILE=$(absolute "${BERT_CONFIG_FILE:-$BIOBERT_DIR/bert_config.json}")
  if [[ -z "${INIT_CHECKPOINT:-}" ]]; then
    INIT_CHECKPOINT=$(newest_checkpoint "$BIOBERT_DIR") ||
      die "BIOBERT_DIR=$BIOBERT_DIR holds no checkpoint (*.ckpt*.index); set INIT_CHECKPOINT"
  fi
  INIT_CHECKPOINT=$(absolute "$INIT_CHECKPOINT")
  [[ -f "$INIT_CHECKPOINT.index" ]] || die "INIT_CHECKPOINT=$INIT_CHECKPOINT: no $INIT_CHECKPOINT.index"
}

# vocab_lower_case VOCAB: "true" for an uncased vocabulary, "false" for a cased one (BioBERT's is cased).
vocab_lower_case() {
  (cd "$ROOT" && "$PYTHON" -c 'import sys, tokenization
print(str(not tokenization.vocab_looks_cased(sys.argv[1])).lower())' "$1")
}

# run_step NAME LOG COMMAND...: runs COMMAND with its output in LOG and its input from the file STEP_STDIN names
# (default: none). On failure: the end of LOG and a line naming the step, and the script stops with COMMAND's exit
# status. Earlier steps' outputs stay as they are.
run_step() {
  local name=$1 log=$2 rc=0
  shift 2
  mkdir -p "$(dirname "$log")"
  "$@" <"${STEP_STDIN:-/dev/null}" >"$log" 2>&1 || rc=$?
  if [[ "$rc" -ne 0 ]]; then
    tail -n 15 "$log" | sed 's/^/  | /' >&2
    echo "error: $SCRIPT: step '$name' failed with exit status $rc (full log: $log)" >&2
    exit "$rc"
  fi
}

# start_steps TOTAL: begins a pipeline of TOTAL numbered steps (`step`, `say`), run from the repository root with
# each step's log in OUTPUT_DIR/logs (LOGS); START is the time it began.
start_steps() {
  TOTAL=$1
  STEP=0
  # shellcheck disable=SC2034  # read by the scripts that source this file
  START=$SECONDS
  LOGS=$OUTPUT_DIR/logs
  mkdir -p "$LOGS"
  cd "$ROOT" || exit 1
}

# step TITLE: the header of the next step, "[n/TOTAL] TITLE".
step() {
  STEP=$((STEP + 1))
  echo "[$STEP/$TOTAL] $1"
}

# say TEXT...: a step's summary line, indented under its header.
say() {
  echo "      $*"
}

# result_value FILE KEY: KEY's value in a `key = value` results file (eval_results.txt, test_results.txt).
result_value() {
  awk -F' = ' -v key="$2" '$1 == key { print $2 }' "$1"
}

# absolute_list LIST: each entry of a comma-separated list (files, folders, globs) made absolute.
absolute_list() {
  local entries entry list=""
  IFS=, read -r -a entries <<<"$1"
  for entry in "${entries[@]}"; do
    list="${list:+$list,}$(absolute "$entry")"
  done
  echo "$list"
}

# checkpoint_step PREFIX: the step N of a `...ckpt-N` checkpoint prefix; -1 for a name without one (bert_model.ckpt).
checkpoint_step() {
  local step=${1##*ckpt-}
  if [[ "$1" == *ckpt-* && "$step" =~ ^[0-9]+$ ]]; then echo "$step"; else echo -1; fi
}
