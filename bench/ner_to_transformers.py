# coding=utf-8
"""A fine-tuned run_ner model in transformers: converted, loaded with no code, same predicted labels.

Converts the latest checkpoint of a run_ner output folder with `convert_checkpoint.py tf_to_hf --task=ner`
(label names from its label2id.json), loads the folder with `transformers.BertForTokenClassification`, runs it on
the WordPieces run_ner wrote to token_test.txt (one sentence, `[CLS] ... [SEP]`, at a time) and compares its
argmax label at every position with run_ner's label_test.txt. Prints the agreement and one JSON line.

  python bench/ner_to_transformers.py --run_dir=$OUTPUT_DIR --vocab_file=$BIOBERT_DIR/vocab.txt \\
      --bert_config_file=$BIOBERT_DIR/bert_config.json [--do_lower_case=true]

Needs torch and transformers (test/benchmark dependencies only).
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def convert(run_dir, vocab_file, bert_config_file, hf_dir, do_lower_case=None):
  """Runs convert_checkpoint.py tf_to_hf --task=ner on the run's latest checkpoint; raises on failure."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with open(os.path.join(run_dir, "label2id.json"), encoding="utf-8") as f:
    label2id = json.load(f)
  labels = [label for label, _ in sorted(label2id.items(), key=lambda item: item[1])]
  command = [sys.executable, os.path.join(ROOT, "convert_checkpoint.py"), "tf_to_hf",
             "--init_checkpoint=" + tf.train.latest_checkpoint(run_dir), "--bert_config_file=" + bert_config_file,
             "--vocab_file=" + vocab_file, "--output_dir=" + hf_dir, "--task=ner", "--label_names=" + ",".join(labels)]
  if do_lower_case is not None:
    command.append("--do_lower_case=%s" % str(do_lower_case).lower())
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
  if result.returncode != 0:
    raise RuntimeError(result.stderr[-3000:])


def agreement(run_dir, hf_dir, vocab_file, do_lower_case):
  """(positions compared, positions where transformers' label equals label_test.txt's)."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  import tokenization  # pylint: disable=g-import-not-at-top
  model = transformers.BertForTokenClassification.from_pretrained(hf_dir).eval()
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  with open(os.path.join(run_dir, "token_test.txt"), encoding="utf-8") as f:
    tokens = f.read().splitlines()
  with open(os.path.join(run_dir, "label_test.txt"), encoding="utf-8") as f:
    expected = f.read().splitlines()
  predicted, sentence = [], []
  for token in tokens:
    sentence.append(token)
    if token == "[SEP]":
      ids = torch.tensor([tokenizer.convert_tokens_to_ids(sentence)])
      with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
      predicted.extend(model.config.id2label[int(i)] for i in logits.argmax(-1))
      sentence = []
  predicted = ["O" if label == "[PAD]" else label for label in predicted]
  if len(predicted) != len(expected):
    raise RuntimeError("%d predictions for %d lines of label_test.txt" % (len(predicted), len(expected)))
  return len(expected), sum(a == b for a, b in zip(predicted, expected))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--run_dir", required=True)
  parser.add_argument("--vocab_file", required=True)
  parser.add_argument("--bert_config_file", required=True)
  parser.add_argument("--do_lower_case", default="false")
  parser.add_argument("--hf_dir", default=None, help="where to write the converted folder (default: run_dir/hf)")
  args = parser.parse_args()
  lower = args.do_lower_case.lower() == "true"
  hf_dir = args.hf_dir or os.path.join(args.run_dir, "hf")
  convert(args.run_dir, args.vocab_file, args.bert_config_file, hf_dir, lower)
  total, same = agreement(args.run_dir, hf_dir, args.vocab_file, lower)
  print("transformers' BertForTokenClassification predicts run_ner's label at %d of %d positions (%.4f%%)" % (
      same, total, 100.0 * same / total))
  print(json.dumps({"positions": total, "same": same, "agreement": same / total}))


if __name__ == "__main__":
  main()
