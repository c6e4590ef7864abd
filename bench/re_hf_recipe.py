# coding=utf-8
"""The reference for run_re: Hugging Face transformers' sequence-classification recipe on the same data.

Trains `transformers.BertForSequenceClassification` from a Hugging Face BERT folder on a BioBERT RE fold's
`train.tsv` (sentence<TAB>label, no header, read as run_re reads it) with the usual recipe at run_re's README
settings (AdamW, lr 2e-5, batch 32, max 128 WordPieces, 3 epochs, linear warm-up over 10% then decay, the
[CLS] classifier), predicts `test.tsv`, writes `test_results.tsv` in run_re's format (one row of class
probabilities per test example) and scores it with biocodes/re_eval.py, as run_re's output is scored. It prints
re_eval's lines, the all-positive baseline's (every test example predicted 1) and one JSON line.

  python bench/re_hf_recipe.py --hf_dir=<HF BERT folder> --data_dir=../shared/data/RE/GAD/1 \\
      --output_dir=/tmp/hf_re --num_train_epochs=3

Compare with scripts/re_kfold.sh or run_re.py on the same fold, seed and epochs. Binary tasks (GAD, EU-ADR)
only. Needs torch and transformers (test/benchmark dependencies only).
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "biocodes"))

import hf_recipe  # pylint: disable=g-import-not-at-top,wrong-import-position
import re_eval  # pylint: disable=g-import-not-at-top,wrong-import-position

LABELS = re_eval.TASKS["binary"][0]


def read_training_rows(path):
  """(sentence, label id) per row of a headerless train.tsv."""
  ids = {label: i for i, label in enumerate(LABELS)}
  return [(fields[0], ids[fields[1].strip()]) for _, fields in re_eval.read_tsv(path, "training file")]


def read_test_sentences(path):
  """The sentences of test.tsv (a header, then index<TAB>sentence<TAB>label)."""
  rows = re_eval.read_tsv(path, "test file")
  column = rows[0][1].index("sentence")
  return [fields[column] for _, fields in rows[1:]]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  hf_recipe.add_arguments(parser, learning_rate=2e-5)
  args = parser.parse_args()

  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  hf_recipe.seed(torch, args.seed)
  train = read_training_rows(os.path.join(args.data_dir, "train.tsv"))
  test = read_test_sentences(os.path.join(args.data_dir, "test.tsv"))
  tokenizer = transformers.AutoTokenizer.from_pretrained(args.hf_dir)
  model = transformers.BertForSequenceClassification.from_pretrained(args.hf_dir, num_labels=len(LABELS))

  def encode(sentence):
    return tokenizer(sentence, truncation=True, max_length=args.max_seq_length)["input_ids"]

  train_ids = [encode(sentence) for sentence, _ in train]
  test_ids = [encode(sentence) for sentence in test]

  def loss_of_batch(batch):
    ids, mask = hf_recipe.pad(torch, [train_ids[i] for i in batch], tokenizer.pad_token_id)
    target = torch.tensor([train[i][1] for i in batch], dtype=torch.long)
    return model(input_ids=ids, attention_mask=mask, labels=target).loss

  steps = hf_recipe.train(torch, transformers, model, loss_of_batch, len(train_ids), args)
  rows = []
  with torch.no_grad():
    for start in range(0, len(test_ids), args.batch_size):
      ids, mask = hf_recipe.pad(torch, test_ids[start:start + args.batch_size], tokenizer.pad_token_id)
      probabilities = torch.softmax(model(input_ids=ids, attention_mask=mask).logits, dim=-1)
      rows.extend("\t".join("%.9f" % p for p in row.tolist()) + "\n" for row in probabilities)
  os.makedirs(args.output_dir, exist_ok=True)
  output = os.path.join(args.output_dir, "test_results.tsv")
  with open(output, "w", encoding="utf-8") as f:
    f.writelines(rows)
  answers = os.path.join(args.data_dir, "test.tsv")
  results = re_eval.evaluate(output, answers)
  gold = [label for _, label in re_eval.read_answers(answers, LABELS)]
  baseline = re_eval.scores(gold, [1] * len(gold), "binary")
  print(re_eval.format_results(results), end="")
  print("all-positive baseline:")
  print(re_eval.format_results(baseline), end="")
  print(json.dumps({"steps": steps, "precision": results["precision"], "recall": results["recall"],
                    "f1": results["f1 score"], "specificity": results["specificity"],
                    "all_positive_f1": baseline["f1 score"]}))


if __name__ == "__main__":
  main()
