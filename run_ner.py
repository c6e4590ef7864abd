# coding=utf-8
# Copyright 2018 The Google AI Language Team Authors and DMIS-lab, Korea University.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""BioBERT named-entity recognition: fine-tuning, evaluation and prediction (BioBERT's run_ner.py).

Data (`--data_dir`): `train_dev.tsv` to train, `devel.tsv` to evaluate, `test.tsv` to predict; one `word label`
per line (tab or space separated; word = first column, label = last), a blank line between sentences. Files are
read as UTF-8 with or without a byte-order mark and with "\\n", "\\r\\n" or "\\r" line ends (the original used the
locale's encoding and split on any whitespace, NBSP included).

By default the original's training semantics, so the paper's numbers reproduce:
  * labels `[PAD] B I O X [CLS] [SEP]` (ids 0..6); the first WordPiece of a word gets the word's label, every
    later piece `X`; a word that tokenizes to nothing vanishes with its label;
  * sentences longer than max_seq_length - 2 pieces are truncated;
  * the loss is the cross-entropy SUMMED over every position of the batch (pads, X, [CLS] and [SEP] included);
  * `eval_precision`, `eval_recall`, `eval_f`: token-level, macro over B and I, every position counted.
Outputs as the original: `eval_results.txt` (devel), `token_test.txt` and `label_test.txt` (test; line-aligned,
one WordPiece per line with `[CLS]`/`[SEP]`), so `biocodes/ner_detokenize.py` and conlleval work as before.

Beyond the original:
  * entity-level precision, recall and F1 (exact match, conlleval's semantics, overall and per type), written
    next to the token-level numbers: `entity_*` keys in eval_results.txt and test_results.txt, conlleval's own
    report in conlleval_devel.txt / conlleval_test.txt, and `NER_result_conll.txt` written by run_ner itself;
  * label sets read from the data when they are not plain B/I/O (typed BIO such as `B-Disease`, IOBES), saved
    as `label2id.json` in output_dir (the original pickled `label2id.pkl`). Plain B/I/O keeps the original ids,
    so the heads of original checkpoints fit;
  * `--ner_loss=mean_first_subtoken`: the mean cross-entropy over the first piece of each word (continuation
    pieces, specials and padding ignored), and `--predict_first_subtoken`: a word's label is the best entity
    label at its first piece (X and the specials are never predicted) — the modern recipe;
  * `--split_long_sentences`: long sentences go through overlapping windows instead of being truncated; each
    piece is predicted from the window where it has the most context, so no gold word goes unpredicted;
  * `--raw_text_file`: plain text in, entities with character offsets out (`raw_predictions.jsonl`, and
    `raw_predictions.conll`);
  * predict-only runs from a fine-tuned checkpoint (`--do_train=false --init_checkpoint=<its model.ckpt-N>`);
    a checkpoint without the NER head is an error.
"""

import collections
import json
import os

from absl import flags
from absl import logging
import tensorflow as tf

from biocodes import conlleval
from biocodes import ner_detokenize
import errors
import fileio
import finetuning
import modeling
import optimization
import runtime
import sentence_split
import tfrecord_io
import tokenization

FLAGS = flags.FLAGS

# The original's label set, in id order.
ORIGINAL_LABELS = ["[PAD]", "B", "I", "O", "X", "[CLS]", "[SEP]"]
SPECIAL_LABELS = ("[PAD]", "X", "[CLS]", "[SEP]")
LABEL_MAP_FILE = "label2id.json"
NUM_LOGGED_EXAMPLES = 4
HEAD_DROPOUT_PROB = 0.1  # the original's keep_prob=0.9 on the sequence output

DATA_FILES = {"train": "train_dev.tsv", "dev": "devel.tsv", "test": "test.tsv"}


def define_flags(flag_values=FLAGS):
  """Defines the flags. Called from `__main__` only, so importing this module defines none."""
  fv = flag_values
  finetuning.define_flags(defaults={"task_name": "NER", "do_lower_case": False, "do_train": True,
                                    "do_predict": True, "num_train_epochs": 10.0},
                          tpu_name_flags=False, flag_values=fv)
  flags.DEFINE_enum("ner_loss", "sum", ["sum", "mean_first_subtoken"],
                    "sum: the original's cross-entropy summed over every position; mean_first_subtoken: the mean "
                    "over the first WordPiece of each word (continuations, specials and padding ignored).",
                    flag_values=fv)
  flags.DEFINE_bool("predict_first_subtoken", False,
                    "Predict at every position the best entity label (B/I/O/...), never X, [CLS], [SEP] or "
                    "[PAD]; a word's label is its first WordPiece's.", flag_values=fv)
  flags.DEFINE_bool("split_long_sentences", False,
                    "Split sentences longer than max_seq_length - 2 WordPieces into overlapping windows instead "
                    "of truncating them (the original truncated).", flag_values=fv)
  flags.DEFINE_integer("window_stride", 0,
                       "With --split_long_sentences: WordPieces between window starts (0: half a window).",
                       flag_values=fv)
  flags.DEFINE_string("raw_text_file", None,
                      "Plain text (UTF-8) to find entities in with the fine-tuned model: one paragraph per line; "
                      "writes raw_predictions.jsonl (entities with character offsets) and raw_predictions.conll.",
                      flag_values=fv)


# ----------------------------------------------------------------------------------------------------------------
# Data.


class Sentence(collections.namedtuple("Sentence", ["guid", "words", "labels", "line", "path"])):
  """One sentence of a NER file: its words and labels, and the 1-based line of its first word."""


def read_sentences(path, set_type):
  """The sentences of one of BioBERT's NER files (see the module docstring); errors name the file and line."""
  gold = ner_detokenize.read_gold(path, what="NER file")
  if not gold:
    raise errors.UserError("NER file %s: holds no sentence" % path)
  return [Sentence("%s-%d" % (set_type, i), [w for w, _ in s], [l for _, l in s], s.line, path)
          for i, s in enumerate(gold)]


def data_file(data_dir, set_type, needed_by):
  path = os.path.join(data_dir or "", DATA_FILES[set_type])
  if not data_dir or not os.path.isfile(path):
    raise errors.UserError("--data_dir=%s: no %s (needed by %s)" % (data_dir, DATA_FILES[set_type], needed_by))
  return path


def _typed(label):
  return len(label) > 2 and label[0] in "BIES" and label[1] == "-"


def label_list_from_data(sentence_sets):
  """The label list (ids in order) for the labels seen in the data.

  Plain B/I/O gives the original's 7 labels. Otherwise every label must be O or typed (B-, I-, E-, S- and a
  type): `[PAD]`, `O`, the typed labels sorted by type then B, I, E, S, then `X`, `[CLS]`, `[SEP]`.
  """
  seen = collections.OrderedDict()
  for sentences in sentence_sets:
    for sentence in sentences:
      for k, label in enumerate(sentence.labels):
        seen.setdefault(label, (sentence.path, sentence.line + k))
  for label, (path, line) in seen.items():
    if label not in ("B", "I", "O") and not _typed(label):
      raise errors.UserError("NER file %s: line %d: label %r is not a NER label (B, I, O, or typed like "
                             "B-Disease, I-Disease, E-/S- for IOBES)" % (path, line, label))
  if set(seen) <= {"B", "I", "O"}:
    return list(ORIGINAL_LABELS)
  for label, (path, line) in seen.items():
    if label in ("B", "I"):
      raise errors.UserError("NER file %s: line %d: label %r has no type, while other labels are typed (such as "
                             "%s)" % (path, line, label, next(l for l in seen if _typed(l))))
  typed = sorted((l for l in seen if l != "O"), key=lambda l: (l[2:], "BIES".index(l[0])))
  return ["[PAD]", "O"] + typed + ["X", "[CLS]", "[SEP]"]


def load_label_list(fv, sentence_sets):
  """The label list of this run: output_dir's label2id.json, else the init checkpoint's folder's, else the data's."""
  candidates = [fv.output_dir]
  if fv.init_checkpoint:
    candidates.append(os.path.dirname(fv.init_checkpoint) or ".")
  for folder in candidates:
    path = os.path.join(folder, LABEL_MAP_FILE)
    if os.path.isfile(path):
      with open(path, encoding="utf-8") as f:
        label2id = json.load(f)
      labels = [label for label, _ in sorted(label2id.items(), key=lambda item: item[1])]
      logging.info("Labels from %s: %s", path, " ".join(labels))
      return labels
  labels = label_list_from_data(sentence_sets)
  if not fv.do_train:
    logging.warning("No %s in --output_dir or beside --init_checkpoint: labels taken from the data (%s); they "
                    "must be those the checkpoint was trained with.", LABEL_MAP_FILE, " ".join(labels))
  return labels


def check_labels(sentences, label_map):
  for sentence in sentences:
    for k, label in enumerate(sentence.labels):
      if label not in label_map:
        raise errors.UserError("NER file %s: line %d: label %r is not one of the model's labels (%s)" % (
            sentence.path, sentence.line + k, label, " ".join(l for l in label_map if l not in SPECIAL_LABELS)))


# ----------------------------------------------------------------------------------------------------------------
# Features.


def feature_spec(max_seq_length):
  seq = "--max_seq_length"
  return tfrecord_io.FeatureSpec([
      ("input_ids", "int64", max_seq_length, seq),
      ("input_mask", "int64", max_seq_length, seq),
      ("segment_ids", "int64", max_seq_length, seq),
      ("label_ids", "int64", max_seq_length, seq),
      ("label_mask", "int64", max_seq_length, seq),  # 1 at the first WordPiece of each word
  ])


class Window(collections.namedtuple("Window", ["sentence", "start", "length", "first", "last"])):
  """Which pieces of which sentence a feature holds; `first`/`last`: it is the sentence's first/last window."""


def word_pieces(sentence, tokenizer):
  """(pieces, piece labels, first-piece flags): each word's first piece gets its label, the others X."""
  pieces, labels, first = [], [], []
  for word, label in zip(sentence.words, sentence.labels):
    for i, piece in enumerate(tokenizer.tokenize(word)):
      pieces.append(piece)
      labels.append(label if i == 0 else "X")
      first.append(1 if i == 0 else 0)
  return pieces, labels, first


def convert_sentences(sentences, label_map, max_seq_length, tokenizer, split_long, stride):
  """Features (dicts for the FeatureSpec), their Windows, and each sentence's pieces (for token_test.txt)."""
  size = max_seq_length - 2
  stride = stride or max(1, size // 2)
  features, windows, sentence_pieces = [], [], []
  for index, sentence in enumerate(sentences):
    pieces, labels, first = word_pieces(sentence, tokenizer)
    if len(pieces) > size and not split_long:
      # The original cuts at >= max_seq_length - 1 pieces to max_seq_length - 2: the same thing.
      pieces, labels, first = pieces[:size], labels[:size], first[:size]
    sentence_pieces.append(pieces)
    spans = finetuning.window_starts(len(pieces), size, stride) if pieces else [(0, 0)]
    for k, (start, length) in enumerate(spans):
      tokens = ["[CLS]"] + pieces[start:start + length] + ["[SEP]"]
      label_ids = [label_map[l] for l in ["[CLS]"] + labels[start:start + length] + ["[SEP]"]]
      feature = {
          "input_ids": finetuning.pad_to(tokenizer.convert_tokens_to_ids(tokens), max_seq_length),
          "input_mask": finetuning.pad_to([1] * len(tokens), max_seq_length),
          "segment_ids": [0] * max_seq_length,
          "label_ids": finetuning.pad_to(label_ids, max_seq_length),
          "label_mask": finetuning.pad_to([0] + first[start:start + length] + [0], max_seq_length),
      }
      if len(features) < NUM_LOGGED_EXAMPLES:
        finetuning.log_example([("guid", sentence.guid), ("tokens", tokens[1:-1])] +
                               [(name, feature[name]) for name in ("input_ids", "input_mask", "segment_ids",
                                                                   "label_ids")])
      features.append(feature)
      windows.append(Window(index, start, length, k == 0, k == len(spans) - 1))
  return features, windows, sentence_pieces


def merge_predictions(windows, predictions, sentence_pieces, id2label):
  """Per sentence, the predicted label of `[CLS]`, every piece and `[SEP]` (label_test.txt's lines)."""
  by_sentence = collections.defaultdict(list)
  for w_index, window in enumerate(windows):
    by_sentence[window.sentence].append((w_index, window))
  merged = []
  for s_index, pieces in enumerate(sentence_pieces):
    items = by_sentence[s_index]
    best = finetuning.best_window_per_piece(items, len(pieces))
    labels = [id2label[int(predictions[items[0][0]][0])]]
    for j in range(len(pieces)):
      window = windows[best[j]]
      labels.append(id2label[int(predictions[best[j]][1 + j - window.start])])
    last_index, last = items[-1]
    labels.append(id2label[int(predictions[last_index][1 + last.length])])
    merged.append(["O" if l == "[PAD]" else l for l in labels])
  return merged


# ----------------------------------------------------------------------------------------------------------------
# The model.


def create_model(bert_config, is_training, features, num_labels, compute_type):
  """BERT + a token classifier (root variables `output_weights`, `output_bias`, as the original); -> logits."""
  model = modeling.BertModel(
      config=bert_config, is_training=is_training, input_ids=features["input_ids"],
      input_mask=features["input_mask"], token_type_ids=features["segment_ids"], use_one_hot_embeddings=False,
      compute_type=compute_type)
  output_layer = model.get_sequence_output()
  hidden_size = output_layer.shape[-1]
  seq_length = modeling.get_shape_list(output_layer)[1]  # dynamic where batches are cut to their longest
  output_weights = tf.compat.v1.get_variable(
      "output_weights", [num_labels, hidden_size],
      initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.02))
  output_bias = tf.compat.v1.get_variable("output_bias", [num_labels], initializer=tf.compat.v1.zeros_initializer())
  if is_training:
    output_layer = modeling.dropout(output_layer, HEAD_DROPOUT_PROB)
  output_layer = tf.reshape(output_layer, [-1, hidden_size])
  logits = tf.nn.bias_add(tf.matmul(output_layer, output_weights, transpose_b=True), output_bias)
  return tf.reshape(logits, [-1, seq_length, num_labels])


def model_fn_builder(bert_config, labels, learning_rate, num_train_steps, num_warmup_steps, ner_loss,
                     predict_first_subtoken):
  """The runtime model_fn of NER (see runtime's module docstring for the contract)."""
  num_labels = len(labels)
  entity_ids = [i for i, l in enumerate(labels) if l not in SPECIAL_LABELS]
  positive_ids = [i for i in entity_ids if labels[i] != "O"]

  def model_fn(features, mode, params):
    runtime.log_features(features)
    is_training = mode == runtime.ModeKeys.TRAIN
    logits = create_model(bert_config, is_training, features, num_labels, params.get("precision", "fp32"))
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    label_ids = features["label_ids"]
    token_loss = -tf.reduce_sum(tf.one_hot(label_ids, depth=num_labels, dtype=tf.float32) * log_probs, axis=-1)
    first = tf.cast(features["label_mask"], tf.float32)
    if ner_loss == "sum":
      loss = tf.reduce_sum(token_loss)
      train_loss = finetuning.summed_loss(loss, params)
    else:
      loss = tf.reduce_sum(token_loss * first) / tf.maximum(tf.reduce_sum(first), 1.0)
      train_loss = finetuning.global_mean(tf.reduce_sum(token_loss * first), tf.reduce_sum(first))
    if predict_first_subtoken:
      allowed = tf.constant([0.0 if i in entity_ids else -1e9 for i in range(num_labels)], tf.float32)
      predictions = tf.argmax(logits + allowed, axis=-1, output_type=tf.int32)
    else:
      predictions = tf.argmax(logits, axis=-1, output_type=tf.int32)

    if is_training:
      train_op, scalars = optimization.create_train_op(train_loss, learning_rate, num_train_steps,
                                                       num_warmup_steps, params)
      return runtime.ModelSpec(mode, loss=train_loss, train_op=train_op, scalars=scalars)
    if mode == runtime.ModeKeys.EVAL:
      # The original's tf_metrics call: macro over the entity labels, every position counted (the modern
      # recipe counts the first pieces only).
      weights = first if ner_loss != "sum" else None
      metrics = finetuning.confusion_metrics(label_ids, predictions, num_labels, positive_ids, average="macro",
                                             weights=weights)
      return runtime.ModelSpec(mode, loss=loss, eval_metric_ops=metrics)
    return runtime.ModelSpec(mode, predictions={"predict": predictions, "input_mask": features["input_mask"]})

  return model_fn


# ----------------------------------------------------------------------------------------------------------------
# Entity-level scores and output files.


def entity_scores(conll_text):
  """conlleval's counts and scores of NER_result_conll.txt's text, and its report (what the Perl prints)."""
  counts = conlleval.evaluate(conll_text.splitlines(True))
  return conlleval.scores(counts), conlleval.report(counts)


def entity_results(scores):
  """The `entity_*` keys of the results files (percentages, unrounded, as conlleval computes them)."""
  results = collections.OrderedDict()
  results["entity_precision"] = scores.overall.precision
  results["entity_recall"] = scores.overall.recall
  results["entity_f1"] = scores.overall.f1
  for name, score in scores.per_type.items():
    results["entity_precision_%s" % name] = score.precision
    results["entity_recall_%s" % name] = score.recall
    results["entity_f1_%s" % name] = score.f1
  return results


def predicted_lines(sentence_pieces, merged):
  """token_test.txt and label_test.txt's lines: `[CLS]`, the pieces, `[SEP]` per sentence."""
  tokens, labels = [], []
  for pieces, sentence_labels in zip(sentence_pieces, merged):
    tokens.extend(["[CLS]"] + pieces + ["[SEP]"])
    labels.extend(sentence_labels)
  return tokens, labels


def word_predictions(sentences, tokens, labels, do_lower_case, path):
  """Per sentence, (word, gold label, predicted label) for every word: each word takes its first piece's label."""
  gold = [ner_detokenize.GoldSentence(zip(s.words, s.labels), s.line) for s in sentences]
  return ner_detokenize.detokenize(tokens, labels, gold, do_lower_case=do_lower_case, token_path="predictions",
                                   answer_path=path)


def conll_of(sentences, tokens, labels, do_lower_case, path):
  """NER_result_conll.txt's text for predictions on `sentences` (gold words and labels)."""
  return ner_detokenize.format_conll(word_predictions(sentences, tokens, labels, do_lower_case, path))


class NerRun(object):
  """One run_ner invocation: the label set, the tokenizer and the driver."""

  def __init__(self, fv, bert_config):
    self.fv = fv
    self.bert_config = bert_config
    self.tokenizer = tokenization.FullTokenizer(vocab_file=fv.vocab_file, do_lower_case=fv.do_lower_case)
    self.spec = feature_spec(fv.max_seq_length)
    self.sentences = {}
    for set_type, flag in (("train", "do_train"), ("dev", "do_eval"), ("test", "do_predict")):
      if getattr(fv, flag):
        self.sentences[set_type] = read_sentences(data_file(fv.data_dir, set_type, "--" + flag), set_type)
    self.labels = (label_list_from_data(self.sentences.values()) if fv.do_train
                   else load_label_list(fv, self.sentences.values()))
    self.label_map = {label: i for i, label in enumerate(self.labels)}
    for sentences in self.sentences.values():
      check_labels(sentences, self.label_map)
    self.driver = finetuning.Driver(fv, lambda steps, warmup: model_fn_builder(
        bert_config, self.labels, fv.learning_rate, steps, warmup, fv.ner_loss, fv.predict_first_subtoken))

  def convert(self, set_type, sentences):
    features, windows, pieces = convert_sentences(sentences, self.label_map, self.fv.max_seq_length,
                                                  self.tokenizer, self.fv.split_long_sentences, self.fv.window_stride)
    name = {"train": "train.tf_record", "dev": "eval.tf_record", "test": "predict.tf_record"}[set_type]
    path = finetuning.output_path(self.fv, name)
    finetuning.write_features(path, self.spec, features)
    return path, features, windows, pieces

  def write_label_map(self):
    # Every worker writes the same file (atomically): each needs its training records anyway.
    fileio.write_text_atomically(finetuning.output_path(self.fv, LABEL_MAP_FILE),
                                 json.dumps(self.label_map, indent=2, ensure_ascii=False) + "\n")

  def train(self):
    self.write_label_map()
    path, features, _, _ = self.convert("train", self.sentences["train"])
    # The original's summed loss counts the padded positions too: only the modern loss may cut the padding.
    self.driver.train(path, self.spec, len(features), trim_padding=self.fv.ner_loss != "sum")

  def predictions(self, path, features, windows, pieces):
    """(token lines, label lines) of the model's predictions on a converted set."""
    id2label = dict(enumerate(self.labels))
    predicted = [p["predict"] for p in self.driver.predict(path, self.spec, len(features))]
    if len(predicted) != len(features):
      raise RuntimeError("%d predictions for %d features" % (len(predicted), len(features)))
    return predicted_lines(pieces, merge_predictions(windows, predicted, pieces, id2label))

  def score(self, set_type, results, name):
    """Token-level `results` plus the entity-level scores of the predictions on a set."""
    sentences = self.sentences[set_type]
    path, features, windows, pieces = self.convert(set_type, sentences)
    token_results = self.driver.evaluate(path, self.spec, len(features), name=name)
    tokens, labels = self.predictions(path, features, windows, pieces)
    conll = conll_of(sentences, tokens, labels, self.fv.do_lower_case, sentences[0].path)
    scores, report = entity_scores(conll)
    logging.info("***** entity-level results (%s) *****\n%s", name, report.rstrip("\n"))
    print(report, end="")
    results = collections.OrderedDict(results or ())
    results.update(token_results)
    results.update(entity_results(scores))
    return results, (tokens, labels, conll, report)

  def evaluate(self):
    if not self.driver.is_chief:
      return
    results, (_, _, conll, report) = self.score("dev", None, "devel")
    fileio.write_text_atomically(finetuning.output_path(self.fv, "NER_result_conll_devel.txt"), conll)
    fileio.write_text_atomically(finetuning.output_path(self.fv, "conlleval_devel.txt"), report)
    runtime.write_eval_results(self.fv.output_dir, results)

  def predict(self):
    if not self.driver.is_chief:
      return
    results, outputs = self.score("test", None, "test")
    tokens, labels, conll, report = outputs
    logging.info("***** token-level evaluation results *****")
    for key in sorted(k for k in results if not k.startswith("entity_")):
      logging.info("  %s = %s", key, results[key])
    write = lambda name, text: fileio.write_text_atomically(finetuning.output_path(self.fv, name), text)
    write("token_test.txt", "".join(t + "\n" for t in tokens))
    write("label_test.txt", "".join(l + "\n" for l in labels))
    write(ner_detokenize.CONLL_FILE, conll)
    write("conlleval_test.txt", report)
    runtime.write_eval_results(self.fv.output_dir, results, file_name="test_results.txt")

  def predict_raw_text(self, path):
    """Entities in plain text: raw_predictions.jsonl (one object per paragraph) and raw_predictions.conll."""
    if not self.driver.is_chief:
      return
    try:
      with open(path, encoding="utf-8-sig") as f:
        paragraphs = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as e:
      raise errors.UserError("--raw_text_file=%s: cannot read it as UTF-8 text: %s" % (path, e))
    groups = []  # (paragraph index, words of one sentence)
    for index, paragraph in enumerate(paragraphs):
      groups.extend((index, words) for words in raw_sentences(paragraph))
    if not groups:
      raise errors.UserError("--raw_text_file=%s: no text" % path)
    sentences = [Sentence("raw-%d" % i, [w for w, _, _ in words], ["O"] * len(words), 1, path)
                 for i, (_, words) in enumerate(groups)]
    converted = self.convert("test", sentences)
    tokens, labels = self.predictions(*converted)
    per_sentence = word_predictions(sentences, tokens, labels, self.fv.do_lower_case, path)
    records = [{"line": i + 1, "text": p, "entities": []} for i, p in enumerate(paragraphs)]
    conll = []
    for (index, sentence_words), predictions in zip(groups, per_sentence):
      predicted = [pred for _, _, pred in predictions]
      for entity in entities_of(sentence_words, predicted):
        entity["text"] = paragraphs[index][entity["start"]:entity["end"]]
        records[index]["entities"].append(entity)
      conll.extend("%s %s\n" % (w, l) for (w, _, _), l in zip(sentence_words, predicted))
      conll.append("\n")
    write = lambda name, text: fileio.write_text_atomically(finetuning.output_path(self.fv, name), text)
    write("raw_predictions.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    write("raw_predictions.conll", "".join(conll))
    logging.info("Found %d entities in %d paragraphs of %s", sum(len(r["entities"]) for r in records),
                 len(paragraphs), path)


# ----------------------------------------------------------------------------------------------------------------
# Raw text.


def raw_words(text):
  """(word, start, end) of a paragraph, as BioBERT's NER sets are tokenized: words split at whitespace, and every
  punctuation character a word of its own. Offsets index `text` (end exclusive)."""
  words = []
  start = None
  for i, char in enumerate(text):
    if tokenization.is_whitespace(char) or tokenization.is_punctuation(char):
      if start is not None:
        words.append((text[start:i], start, i))
        start = None
      if tokenization.is_punctuation(char):
        words.append((char, i, i + 1))
    elif start is None:
      start = i
  if start is not None:
    words.append((text[start:], start, len(text)))
  return words


def raw_sentences(paragraph):
  """The paragraph's words grouped into sentences (sentence_split's boundaries), each a list of (word, start, end)."""
  words = raw_words(paragraph)
  ends = []
  cursor = 0
  for sentence in sentence_split.split_sentences(paragraph):
    found = paragraph.find(sentence, cursor)
    if found < 0:
      break
    cursor = found + len(sentence)
    ends.append(cursor)
  groups, current, k = [], [], 0
  for word in words:
    while k < len(ends) and word[1] >= ends[k]:
      if current:
        groups.append(current)
      current, k = [], k + 1
    current.append(word)
  if current:
    groups.append(current)
  return groups


def entities_of(words, labels):
  """[{"text", "start", "end", "type"}] of one sentence's predicted word labels (conlleval's chunks)."""
  found = []
  for first, end, type_ in conlleval.chunks(labels):
    start, stop = words[first][1], words[end - 1][2]
    found.append({"start": start, "end": stop, "type": type_ or "MISC"})
  return found


def main(_):
  logging.set_verbosity(logging.INFO)
  fv = FLAGS
  if (fv.task_name or "").lower() != "ner":
    raise errors.UserError("--task_name=%s: run_ner.py knows only the task NER" % fv.task_name)
  bert_config = finetuning.check_flags(fv, other_work=bool(fv.raw_text_file), ranges={"window_stride": ">=0"})
  run = NerRun(fv, bert_config)
  if fv.do_train:
    run.train()
  if fv.do_eval:
    run.evaluate()
  if fv.do_predict:
    run.predict()
  if fv.raw_text_file:
    run.predict_raw_text(fv.raw_text_file)


if __name__ == "__main__":
  define_flags()
  for name in ("data_dir", "task_name", "vocab_file", "bert_config_file", "output_dir"):
    flags.mark_flag_as_required(name)
  errors.run_main(main)
