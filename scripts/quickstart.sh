#!/usr/bin/env bash
# The main job end to end on the built-in sample text (a few minutes on a laptop CPU, no downloads):
#   sample_text.txt -> WordPiece vocabulary -> pre-training TFRecords -> MLM+NSP pre-training -> evaluation
#   -> a Hugging Face folder and a stripped release checkpoint.
# Usage: bash scripts/quickstart.sh [OUTPUT_DIR]   (default ./quickstart_output; it is replaced)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-quickstart_output}
CONFIG=scripts/tiny_bert_config.json
STEPS=${QUICKSTART_STEPS:-200}
rm -rf "$OUT" && mkdir -p "$OUT"

echo "== 1/5 vocabulary from sample_text.txt"
python build_vocab.py --input_file=sample_text.txt --output_file="$OUT/vocab.txt" \
  --vocab_size=2048 --do_lower_case=true --min_frequency=1

echo "== 2/5 pre-training data"
python create_pretraining_data.py --input_file=sample_text.txt --output_file="$OUT/tf_examples.tfrecord" \
  --vocab_file="$OUT/vocab.txt" --do_lower_case=true --max_seq_length=128 --max_predictions_per_seq=20 \
  --masked_lm_prob=0.15 --random_seed=12345 --dupe_factor=5

echo "== 3/5 pre-training a 2-layer BERT from scratch ($STEPS steps) and evaluating it"
python run_pretraining.py --input_file="$OUT/tf_examples.tfrecord" --output_dir="$OUT/pretraining_output" \
  --do_train=true --do_eval=true --bert_config_file="$CONFIG" --train_batch_size=16 --max_seq_length=128 \
  --max_predictions_per_seq=20 --num_train_steps="$STEPS" --num_warmup_steps=20 --learning_rate=1e-3 \
  --save_checkpoints_steps=100 --max_eval_steps=20

echo "== 4/5 Hugging Face export (BertForPreTraining, safetensors)"
python convert_checkpoint.py tf_to_hf --init_checkpoint="$OUT/pretraining_output/model.ckpt-$STEPS" \
  --bert_config_file="$CONFIG" --vocab_file="$OUT/vocab.txt" --output_dir="$OUT/hf_model"

echo "== 5/5 weights-only release checkpoint"
python convert_checkpoint.py strip --init_checkpoint="$OUT/pretraining_output/model.ckpt-$STEPS" \
  --bert_config_file="$CONFIG" --output_dir="$OUT/release"

echo "== evaluation ($OUT/pretraining_output/eval_results.txt)"
cat "$OUT/pretraining_output/eval_results.txt"
