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
"""BioBERT relation extraction and sentence(-pair) classification (BioBERT's run_re.py, Google's run_classifier.py).

Tasks (`--task_name`, any case) and their labels in id order, which is the column order of test_results.tsv:

  gad, euadr, polysearch, mirnadisease   0 1
  chemprot                               cpr:3 cpr:4 cpr:5 cpr:6 cpr:9 false   (lower case, as in the data)
  ddi13                                  advise effect mechanism int false
  cola, mrpc                             0 1                 (Google's GLUE tasks, sentence pairs for mrpc)
  mnli, xnli                             contradiction entailment neutral

Data (`--data_dir`), BioBERT's layout: `train.tsv` and `dev.tsv` without a header, `sentence<TAB>label`;
`test.tsv` with a header row, `index<TAB>sentence<TAB>label`, whose labels are not read (every test example gets
the placeholder "0", or "false" for chemprot and ddi13, as in the original). Files are UTF-8, tab-separated,
and quotes are literal characters (csv.QUOTE_NONE, the original's quotechar=None). Entities are anonymised in
the text (`@GENE$`, `@DISEASE$`, ...). GLUE's files keep their own layouts (see the processors).

The original's model and files:
  * `[CLS] sentence [SEP]` (pairs: `[CLS] a [SEP] b [SEP]`, the longer side truncated first), max_seq_length;
  * BERT's pooled output, dropout 0.1 in training, a linear layer (root variables `output_weights`
    [num_labels, hidden] and `output_bias`), softmax; the loss is the MEAN cross-entropy over the batch;
  * `eval_results.txt` (dev.tsv): `eval_accuracy`, `eval_loss`, `loss`, `global_step`;
  * `test_results.tsv` (test.tsv): one line per test example, in order, its class probabilities in label-id
    order, tab-separated, each the `str()` of a float32; biocodes/re_eval.py scores it against test.tsv.

Beyond the original:
  * `eval_precision`, `eval_recall` and `eval_f1` in eval_results.txt, next to the accuracy, from the
    confusion matrix of the whole dev set: binary tasks score class "1", chemprot the micro average over the
    five CPR classes and ddi13 over the four interaction types (as re_eval.py does), mnli/xnli the macro average
    over their three classes;
  * `--do_eval` without a dev.tsv (the GAD and EU-ADR folds have none) is an error before anything runs; the
    original printed zeros;
  * ddi13 works, with DDI-2013's `effect` class (the original's raised NotImplementedError, and its label
    list lacked `effect`);
  * a label outside the task's set (e.g. `CPR:3`: ChemProt's labels are lower case), a line with too few
    columns, an empty file: one `error:` line naming the file and line, exit status 2 (the original: KeyError,
    IndexError);
  * predict-only runs from a fine-tuned checkpoint (`--do_train=false --do_predict=true
    --init_checkpoint=<its model.ckpt-N>`); a checkpoint without the classifier is an error, not a random head.

A task is one `DataProcessor` subclass: its labels and where each file's fields are (`Columns`). A sentence-pair
task names a `text_b` column, as MRPC does.
"""

import collections
import os

from absl import flags
from absl import logging
import tensorflow as tf

from biocodes import re_eval
import errors
import fileio
import finetuning
import modeling
import optimization
import runtime
import tfrecord_io
import tokenization

FLAGS = flags.FLAGS

NUM_LOGGED_EXAMPLES = 5
HEAD_DROPOUT_PROB = 0.1  # the original's keep_prob=0.9 on the pooled output
RECORD_FILES = {"train": "train.tf_record", "dev": "eval.tf_record", "test": "predict.tf_record"}
PREDICTIONS_FILE = "test_results.tsv"


def define_flags(flag_values=FLAGS):
  """Defines the flags. Called from `__main__` only, so importing this module defines none."""
  # run_re's original defaults are the common ones: do_lower_case=True, every do_* False, 3 epochs, lr 5e-5.
  finetuning.define_flags(flag_values=flag_values)


# ----------------------------------------------------------------------------------------------------------------
# Data.


class InputExample(collections.namedtuple("InputExample", ["guid", "text_a", "text_b", "label", "path", "line"])):
  """One example: its text (text_b None for a single sentence), its label, and the file and 1-based line it
  comes from (named in errors)."""


class Columns(collections.namedtuple("Columns", ["header", "text_a", "text_b", "label"])):
  """Where one file's fields are (0-based columns; -1 is the last).

  `header`: the first row is skipped. `text_b`: None for single-sentence tasks. `label`: None for unlabelled
  test sets, whose examples all get the processor's `test_label`.
  """


_BIOBERT_COLUMNS = {"train": Columns(False, 0, None, 1), "dev": Columns(False, 0, None, 1),
                    "test": Columns(True, 1, None, None)}


class DataProcessor(object):
  """Base class for data converters for sequence classification data sets.

  A subclass names its `labels` (id order), its `files` and `columns` per set ("train", "dev", "test"), the
  `test_label` of unlabelled test examples, and the labels eval_precision/recall/f1 score (`scored_labels`,
  `average`). `create_example` can be overridden for what columns cannot say.
  """

  labels = ()
  files = {"train": "train.tsv", "dev": "dev.tsv", "test": "test.tsv"}
  columns = _BIOBERT_COLUMNS
  test_label = None
  scored_labels = ()
  average = "micro"
  guid_column = None  # None: the guid is "<set>-<row index>", as the original

  def __init__(self, name):
    self.name = name

  def get_labels(self):
    """Gets the list of labels for this data set."""
    return list(self.labels)

  def get_train_examples(self, data_dir):
    """Gets a collection of `InputExample`s for the train set."""
    return self.get_examples(data_dir, "train")

  def get_dev_examples(self, data_dir):
    """Gets a collection of `InputExample`s for the dev set."""
    return self.get_examples(data_dir, "dev")

  def get_test_examples(self, data_dir):
    """Gets a collection of `InputExample`s for prediction."""
    return self.get_examples(data_dir, "test")

  def data_file(self, data_dir, set_type, needed_by):
    """The path of a set's file; a UserError naming what needs it when it is absent."""
    if set_type not in self.files:
      raise errors.UserError("--task_name=%s has no %s set (needed by %s)" % (self.name, set_type, needed_by))
    path = os.path.join(data_dir or "", self.files[set_type])
    if not data_dir or not os.path.isfile(path):
      hint = ""
      if set_type == "dev":
        hint = ("; the GAD and EU-ADR folds come without a dev set: leave --do_eval out, or put a dev.tsv "
                "(sentence<TAB>label, no header) there")
      raise errors.UserError("--data_dir=%s: there is no %s file %s (needed by %s)%s" %
                             (data_dir, set_type, self.files[set_type], needed_by, hint))
    return path

  def get_examples(self, data_dir, set_type, needed_by=None):
    """The examples of one set, read with re_eval's reader (QUOTE_NONE) and checked line by line."""
    path = self.data_file(data_dir, set_type, needed_by or "get_%s_examples" % set_type)
    columns = self.columns[set_type]
    rows = re_eval.read_tsv(path, "%s file" % set_type)
    examples = []
    for index, (line, fields) in enumerate(rows):
      if columns.header and index == 0:
        if fields[0].strip().isdigit():
          # A number where the header's first name should be: the header is missing, and skipping this row
          # would drop the first example (and shift every prediction against the answers).
          raise errors.UserError("%s file %s: line %d: a data row where the header should be; this file starts "
                                 "with a header row (%s)" % (set_type, path, line, self.header_hint(set_type)))
        continue
      example = self.create_example(set_type, index, fields, columns, path, line)
      if example is not None:
        examples.append(example)
    if not examples:
      raise errors.UserError("%s file %s: holds no example" % (set_type, path))
    return examples

  def create_example(self, set_type, index, fields, columns, path, line):
    """One InputExample from a row's fields (None to skip the row)."""
    used = [c for c in (columns.text_a, columns.text_b, columns.label) if c is not None]
    needed = max(max(used) + 1, max(-c for c in used))
    if len(fields) < needed:
      raise errors.UserError("%s file %s: line %d: %d column(s), expected at least %d (%s)" % (
          set_type, path, line, len(fields), needed, self.describe(columns)))
    label = self.test_label if columns.label is None else self.normalize_label(fields[columns.label])
    self.check_label(label, set_type, path, line)
    guid = "%s-%s" % (set_type, index if self.guid_column is None else fields[self.guid_column])
    text_b = None if columns.text_b is None else fields[columns.text_b]
    return InputExample(guid, fields[columns.text_a], text_b, label, path, line)

  def normalize_label(self, label):
    return label

  def check_label(self, label, set_type, path, line):
    if label in self.labels:
      return
    hint = "; %s's labels are lower case" % self.name if label.lower() in self.labels else ""
    raise errors.UserError("%s file %s: line %d: label %r is not one of --task_name=%s's labels (%s)%s" % (
        set_type, path, line, label, self.name, ", ".join(self.labels), hint))

  def header_hint(self, set_type):
    return "BioBERT's test.tsv: index<TAB>sentence<TAB>label" if set_type == "test" else "the task's own"

  @staticmethod
  def describe(columns):
    names = [("text", columns.text_a), ("second text", columns.text_b), ("label", columns.label)]
    return ", ".join("%s in column %s" % (what, "last" if c == -1 else c + 1) for what, c in names if c is not None)


class BioBERTProcessor(DataProcessor):
  """GAD, EU-ADR, PolySearch, miRNA-disease: is there a relation between the two anonymised entities (0/1)."""
  labels = ("0", "1")
  test_label = "0"
  scored_labels = ("1",)


class BioBERTChemprotProcessor(DataProcessor):
  """ChemProt: five chemical-protein relation groups and `false` (labels lower case, as in the data)."""
  labels = re_eval.CHEMPROT_LABELS
  test_label = "false"
  scored_labels = re_eval.CHEMPROT_LABELS[:5]


class BioBERTDDIProcessor(DataProcessor):
  """DDI-2013: four drug-drug interaction types and `false`.

  The original listed `advise, mechanism, int, false` (no `effect`, one of DDI-2013's four types) and refused
  to run; here `effect` comes second, after `advise`, the types in alphabetical order but `int` kept before
  `false`: advise, effect, mechanism, int, false.
  """
  labels = re_eval.DDI13_LABELS
  test_label = "false"
  scored_labels = re_eval.DDI13_LABELS[:4]


class ColaProcessor(DataProcessor):
  """CoLA (GLUE): train/dev without a header, sentence in column 4, label in column 2; test with a header."""
  labels = ("0", "1")
  columns = {"train": Columns(False, 3, None, 1), "dev": Columns(False, 3, None, 1),
             "test": Columns(True, 1, None, None)}
  test_label = "0"
  scored_labels = ("1",)


class MrpcProcessor(DataProcessor):
  """MRPC (GLUE), a sentence-pair task: every file with a header, label column 1, sentences in columns 4, 5."""
  labels = ("0", "1")
  columns = {"train": Columns(True, 3, 4, 0), "dev": Columns(True, 3, 4, 0), "test": Columns(True, 3, 4, None)}
  test_label = "0"
  scored_labels = ("1",)


class MnliProcessor(DataProcessor):
  """MultiNLI (GLUE), matched dev and test sets: sentence pairs in columns 9, 10, the label last."""
  labels = ("contradiction", "entailment", "neutral")
  files = {"train": "train.tsv", "dev": "dev_matched.tsv", "test": "test_matched.tsv"}
  columns = {"train": Columns(True, 8, 9, -1), "dev": Columns(True, 8, 9, -1), "test": Columns(True, 8, 9, None)}
  test_label = "contradiction"
  scored_labels = labels
  average = "macro"
  guid_column = 0


class XnliProcessor(DataProcessor):
  """XNLI, Chinese: MultiNLI's machine-translated training set, and the `zh` rows of the XNLI dev set."""
  language = "zh"
  labels = MnliProcessor.labels
  files = {"train": "multinli/multinli.train.%s.tsv" % language, "dev": "xnli.dev.tsv"}
  # Both readers skip the first row, as the original's.
  columns = {"train": Columns(True, 0, 1, 2), "dev": Columns(True, 6, 7, 1)}
  scored_labels = labels
  average = "macro"

  def normalize_label(self, label):
    return "contradiction" if label == "contradictory" else label

  def create_example(self, set_type, index, fields, columns, path, line):
    if set_type == "dev" and fields[0] != self.language:
      return None
    return super(XnliProcessor, self).create_example(set_type, index, fields, columns, path, line)


PROCESSORS = {
    "cola": ColaProcessor,
    "mnli": MnliProcessor,
    "mrpc": MrpcProcessor,
    "xnli": XnliProcessor,
    "gad": BioBERTProcessor,
    "polysearch": BioBERTProcessor,
    "mirnadisease": BioBERTProcessor,
    "euadr": BioBERTProcessor,
    "chemprot": BioBERTChemprotProcessor,
    "ddi13": BioBERTDDIProcessor,
}


def get_processor(task_name):
  """The task's processor; a UserError listing the tasks for an unknown name."""
  name = (task_name or "").lower()
  if name not in PROCESSORS:
    raise errors.UserError("Task not found: %s (--task_name is one of %s)" % (task_name, ", ".join(sorted(PROCESSORS))))
  return PROCESSORS[name](name)


# ----------------------------------------------------------------------------------------------------------------
# Features.


def feature_spec(max_seq_length):
  """The original's TFRecord features: three sequences of max_seq_length ids, the label id, is_real_example."""
  fields = [(name, "int64", max_seq_length, "--max_seq_length") for name in ("input_ids", "input_mask", "segment_ids")]
  return tfrecord_io.FeatureSpec(fields + [("label_ids", "int64", 1, None), ("is_real_example", "int64", 1, None)])


def example_tokens(pieces_a, pieces_b, max_seq_length):
  """(tokens, segment ids): `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, cut to max_seq_length as the original.

  A pair loses pieces from the end of its longer side (b on ties) until it fits with its 3 specials; a single
  sentence keeps its first max_seq_length - 2 pieces. An empty b (no text, or no pieces) makes a single sentence.
  """
  pieces_a = list(pieces_a)
  pieces_b = list(pieces_b or [])
  if pieces_b:
    finetuning.truncate_seq_pair(pieces_a, pieces_b, max_seq_length - 3)
  else:
    del pieces_a[max_seq_length - 2:]
  tokens = ["[CLS]"] + pieces_a + ["[SEP]"]
  second = pieces_b + ["[SEP]"] if pieces_b else []
  return tokens + second, [0] * len(tokens) + [1] * len(second)


def convert_examples(examples, label_list, max_seq_length, tokenizer):
  """The feature dicts of `examples` (for `feature_spec`), logging the first NUM_LOGGED_EXAMPLES as the original."""
  label_map = {label: i for i, label in enumerate(label_list)}
  pieces_a = tokenizer.tokenize_batch([e.text_a for e in examples])
  pieces_b = tokenizer.tokenize_batch([e.text_b or "" for e in examples])
  features = []
  for index, example in enumerate(examples):
    tokens, segment_ids = example_tokens(pieces_a[index], pieces_b[index], max_seq_length)
    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    label_id = label_map[example.label]
    feature = dict(
        input_ids=finetuning.pad_to(input_ids, max_seq_length),
        input_mask=finetuning.pad_to([1] * len(input_ids), max_seq_length),
        segment_ids=finetuning.pad_to(segment_ids, max_seq_length),
        label_ids=[label_id],
        is_real_example=[1])
    if index < NUM_LOGGED_EXAMPLES:
      finetuning.log_example([("guid", example.guid), ("tokens", tokens)] +
                             [(name, feature[name]) for name in ("input_ids", "input_mask", "segment_ids")] +
                             [("label", "%s (id = %d)" % (example.label, label_id))])
    features.append(feature)
  return features


# ----------------------------------------------------------------------------------------------------------------
# The model.


def create_model(bert_config, is_training, features, num_labels, compute_type):
  """BERT's pooled output -> dropout (training only) -> a linear layer: the original's classifier; -> logits.

  The layer's variables are `output_weights` [num_labels, hidden] and `output_bias` [num_labels] at the root
  scope, as in Google's run_classifier, so checkpoints move between this code, the original and
  convert_checkpoint.py --task=re.
  """
  pooled = modeling.BertModel(
      config=bert_config, is_training=is_training, use_one_hot_embeddings=False, compute_type=compute_type,
      input_ids=features["input_ids"], input_mask=features["input_mask"],
      token_type_ids=features["segment_ids"]).get_pooled_output()
  weights = tf.compat.v1.get_variable("output_weights", [num_labels, pooled.shape[-1]],
                                      initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.02))
  bias = tf.compat.v1.get_variable("output_bias", [num_labels], initializer=tf.compat.v1.zeros_initializer())
  if is_training:
    # modeling.dropout is seeded by the step, so a resumed run draws the masks an uninterrupted one would.
    pooled = modeling.dropout(pooled, HEAD_DROPOUT_PROB)
  return tf.nn.bias_add(tf.matmul(pooled, weights, transpose_b=True), bias)


def model_fn_builder(bert_config, processor, learning_rate, num_train_steps, num_warmup_steps):
  """The runtime model_fn of a classification task (see runtime's module docstring for the contract)."""
  labels = processor.get_labels()
  scored = [labels.index(label) for label in processor.scored_labels]

  def model_fn(features, mode, params):
    runtime.log_features(features)
    logits = create_model(bert_config, mode == runtime.ModeKeys.TRAIN, features, len(labels),
                          params.get("precision", "fp32"))
    if mode == runtime.ModeKeys.PREDICT:
      return runtime.ModelSpec(mode, predictions={"probabilities": tf.nn.softmax(logits, axis=-1)})
    label_ids = tf.reshape(features["label_ids"], [-1])
    per_example_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=label_ids, logits=logits)
    # The MEAN over the batch, as the original: with replicas each one's mean over its equal share, which the
    # optimizer's gradient averaging turns into the global batch's mean.
    loss = tf.reduce_mean(per_example_loss)
    if mode == runtime.ModeKeys.EVAL:
      real = tf.cast(tf.reshape(features["is_real_example"], [-1]), tf.float32)
      predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
      metrics = {"eval_accuracy": tf.compat.v1.metrics.accuracy(label_ids, predicted, weights=real),
                 "eval_loss": tf.compat.v1.metrics.mean(per_example_loss, weights=real)}
      confusion = finetuning.confusion_metrics(label_ids, predicted, len(labels), scored, average=processor.average,
                                               weights=real)
      metrics.update(("eval_f1" if key == "eval_f" else key, value) for key, value in confusion.items())
      return runtime.ModelSpec(mode, loss=loss, eval_metric_ops=metrics)
    train_op, scalars = optimization.create_train_op(loss, learning_rate, num_train_steps, num_warmup_steps, params)
    return runtime.ModelSpec(mode, loss=loss, train_op=train_op, scalars=scalars)

  return model_fn


# ----------------------------------------------------------------------------------------------------------------
# The run.


def format_probabilities(probabilities):
  """A test_results.tsv line: the `str()` of each float32 probability, tab-joined, as the original wrote them."""
  return "\t".join(str(p) for p in probabilities) + "\n"


class ReRun(object):
  """One run_re invocation: the task, its examples (all read and checked before anything runs), the driver."""

  def __init__(self, fv, bert_config, processor):
    self.fv = fv
    self.processor = processor
    self.labels = processor.get_labels()
    self.tokenizer = tokenization.FullTokenizer(vocab_file=fv.vocab_file, do_lower_case=fv.do_lower_case)
    self.spec = feature_spec(fv.max_seq_length)
    self.examples = collections.OrderedDict()
    for set_type, flag in (("train", "do_train"), ("dev", "do_eval"), ("test", "do_predict")):
      if getattr(fv, flag):
        self.examples[set_type] = processor.get_examples(fv.data_dir, set_type, needed_by="--" + flag)
    self.driver = finetuning.Driver(fv, lambda steps, warmup: model_fn_builder(
        bert_config, processor, fv.learning_rate, steps, warmup))

  def run(self):
    """Trains, evaluates and predicts as the do_* flags say, in the original's order."""
    for flag, step in (("do_train", self.train), ("do_eval", self.evaluate), ("do_predict", self.predict)):
      if getattr(self.fv, flag):
        step()

  def records(self, set_type):
    """Writes a set's TFRecord file; returns (path, number of examples)."""
    examples = self.examples[set_type]
    path = finetuning.output_path(self.fv, RECORD_FILES[set_type])
    features = convert_examples(examples, self.labels, self.fv.max_seq_length, self.tokenizer)
    return path, finetuning.write_features(path, self.spec, features)

  def train(self):
    path, count = self.records("train")
    # The pooled [CLS] output and the loss ignore padded positions: batches cut to their longest sentence only
    # save work (dropout masks are drawn over the shorter batches).
    self.driver.train(path, self.spec, count, trim_padding=True)

  def evaluate(self):
    if not self.driver.is_chief:
      return
    path, count = self.records("dev")
    results = self.driver.evaluate(path, self.spec, count)
    runtime.write_eval_results(self.fv.output_dir, results)

  def predict(self):
    if not self.driver.is_chief:
      return
    path, count = self.records("test")
    lines = [format_probabilities(p["probabilities"]) for p in self.driver.predict(path, self.spec, count)]
    if len(lines) != count:
      raise RuntimeError("%d predictions for %d test examples" % (len(lines), count))
    logging.info("***** Predict results *****")
    fileio.write_text_atomically(finetuning.output_path(self.fv, PREDICTIONS_FILE), "".join(lines))
    logging.info("Wrote %d predictions to %s", count, finetuning.output_path(self.fv, PREDICTIONS_FILE))


def main(_):
  logging.set_verbosity(logging.INFO)
  fv = FLAGS
  tokenization.validate_case_matches_checkpoint(fv.do_lower_case, fv.init_checkpoint)
  processor = get_processor(fv.task_name)
  bert_config = finetuning.check_flags(fv)
  ReRun(fv, bert_config, processor).run()


if __name__ == "__main__":
  define_flags()
  for name in ("data_dir", "task_name", "vocab_file", "bert_config_file", "output_dir"):
    flags.mark_flag_as_required(name)
  errors.run_main(main)
