# coding=utf-8
"""The reference for run_ner's modern recipe: Hugging Face transformers' token-classification recipe, same data.

Trains `transformers.BertForTokenClassification` from a Hugging Face BERT folder on BioBERT's `train_dev.tsv`
with the usual recipe (AdamW, lr 5e-5, batch 32, max 128 WordPieces, linear warm-up over 10% then decay, labels
on the first WordPiece of each word and -100 elsewhere, mean cross-entropy), predicts `test.tsv`, and scores the
word-level predictions with biocodes/conlleval.py (the same scorer run_ner writes its entity_f1 with). It prints
one JSON line with the entity-level precision, recall and F1.

  python bench/ner_hf_recipe.py --hf_dir=<HF BERT folder> --data_dir=../shared/data/NER/NCBI-disease \\
      --output_dir=/tmp/hf_ner --num_train_epochs=3

Compare with run_ner.py --ner_loss=mean_first_subtoken --predict_first_subtoken=true on the same data, seed and
epochs (run_ner's test_results.txt, entity_f1). Needs torch and transformers (test/benchmark dependencies only).
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "biocodes"))

import hf_recipe  # pylint: disable=g-import-not-at-top,wrong-import-position
import conlleval  # pylint: disable=g-import-not-at-top,wrong-import-position
import ner_detokenize  # pylint: disable=g-import-not-at-top,wrong-import-position


def encode(tokenizer, sentences, label_to_id, max_length):
  """Input ids and first-piece labels (-100 elsewhere) per sentence, truncated to max_length pieces."""
  encoded = []
  for sentence in sentences:
    words = [w for w, _ in sentence]
    batch = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    labels, previous = [], None
    for word_id in batch.word_ids():
      labels.append(-100 if word_id is None or word_id == previous else label_to_id[sentence[word_id][1]])
      previous = word_id
    encoded.append((batch["input_ids"], labels, batch.word_ids()))
  return encoded


def collate(torch, items, pad_id):
  """A batch padded to its longest member (the data collator's default); labels padded with -100."""
  ids, mask = hf_recipe.pad(torch, [input_ids for input_ids, _, _ in items], pad_id)
  labels = torch.full(ids.shape, -100, dtype=torch.long)
  for i, (_, label_ids, _) in enumerate(items):
    labels[i, :len(label_ids)] = torch.tensor(label_ids)
  return ids, mask, labels


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  hf_recipe.add_arguments(parser, learning_rate=5e-5)
  args = parser.parse_args()

  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  hf_recipe.seed(torch, args.seed)
  train = ner_detokenize.read_gold(os.path.join(args.data_dir, "train_dev.tsv"), what="NER file")
  test = ner_detokenize.read_gold(os.path.join(args.data_dir, "test.tsv"), what="NER file")
  labels = sorted(set(l for s in train + test for _, l in s))
  label_to_id = {l: i for i, l in enumerate(labels)}
  tokenizer = transformers.AutoTokenizer.from_pretrained(args.hf_dir)
  model = transformers.BertForTokenClassification.from_pretrained(args.hf_dir, num_labels=len(labels))
  train_items = encode(tokenizer, train, label_to_id, args.max_seq_length)
  test_items = encode(tokenizer, test, label_to_id, args.max_seq_length)

  def loss_of_batch(batch):
    ids, mask, target = collate(torch, [train_items[i] for i in batch], tokenizer.pad_token_id)
    return model(input_ids=ids, attention_mask=mask, labels=target).loss

  steps = hf_recipe.train(torch, transformers, model, loss_of_batch, len(train_items), args)
  lines = []
  with torch.no_grad():
    for start in range(0, len(test_items), args.batch_size):
      chunk = test_items[start:start + args.batch_size]
      ids, mask, _ = collate(torch, chunk, tokenizer.pad_token_id)
      predicted = model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
      for k, (_, _, word_ids) in enumerate(chunk):
        sentence = test[start + k]
        word_labels = ["O"] * len(sentence)  # words cut by max_seq_length stay O
        previous = None
        for position, word_id in enumerate(word_ids):
          if word_id is not None and word_id != previous:
            word_labels[word_id] = labels[int(predicted[k, position])]
          previous = word_id
        for (word, gold), pred in zip(sentence, word_labels):
          lines.append("%s %s %s\n" % (word, ner_detokenize.conll_tag(gold), ner_detokenize.conll_tag(pred)))
        lines.append("\n")
  os.makedirs(args.output_dir, exist_ok=True)
  with open(os.path.join(args.output_dir, "NER_result_conll.txt"), "w", encoding="utf-8") as f:
    f.writelines(lines)
  counts = conlleval.evaluate(lines)
  report = conlleval.report(counts)
  print(report, end="")
  overall = conlleval.scores(counts).overall
  print(json.dumps({"steps": steps, "entity_precision": overall.precision, "entity_recall": overall.recall,
                    "entity_f1": overall.f1}))


if __name__ == "__main__":
  main()
