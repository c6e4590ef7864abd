# coding=utf-8
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
"""What every fine-tuning runner shares: run_ner.py, run_re.py and run_qa.py hold only their task.

  * `define_flags(defaults)`: the original runners' common flags (names, help), each runner giving its own
    defaults (run_ner: do_lower_case=False, do_train=True, do_predict=True, 10 epochs; run_re: 3 epochs, ...),
    plus the run-config flags of every original runner and the runtime's new ones;
  * `check_flags(fv)`: the checks every original runner made first, and those it lacked (the vocabulary's case
    against --do_lower_case, the config against --max_seq_length);
  * `train_steps(num_examples, fv)`: epochs -> optimizer updates, as the original computed them, counting
    --num_accumulation_steps batches per update;
  * `tfrecord_io.FeatureSpec`: one description of a task's features drives writing, checking and parsing;
    `input_fn_builder(path, spec, ...)` reads such a file: repeated and shuffled (seeded, buffer 100) for
    training, in order otherwise, decoded by a deterministic map;
  * `log_example`, `truncate_seq_pair`, `pad_to`;
  * `confusion_metrics`: tf_metrics' streaming precision / recall / F (micro or macro over chosen classes);
  * `Driver`: builds the Runner once the number of training steps is known, and runs train, evaluate and
    predict the way the original runners did, with one difference: evaluation and prediction without a
    checkpoint in output_dir restore --init_checkpoint and require every variable of the model in it, so a
    predict-only run (`--do_train=false --do_predict=true --init_checkpoint=<fine-tuned checkpoint>`) uses the
    fine-tuned head and a checkpoint without one is an error. Prediction batches examples of about one length
    (sorted within runs of SORT_WINDOW, each batch cut to its longest) and yields the predictions in file order.
"""

import os

from absl import flags
from absl import logging
import tensorflow as tf

import errors
import modeling
import runtime
import tokenization

FLAGS = flags.FLAGS

# Records of a features file checked against the model before it is read (`Driver.check_features`).
CHECKED_RECORDS = 1000

# The original runners' common flags: name -> (kind, default, help). Runner-specific defaults override these.
_COMMON_FLAGS = [
    ("bert_config_file", "string", None,
     "The config json file corresponding to the pre-trained BERT model. This specifies the model architecture."),
    ("vocab_file", "string", None, "The vocabulary file that the BERT model was trained on."),
    ("output_dir", "string", None, "The output directory where the model checkpoints will be written."),
    ("init_checkpoint", "string", None, "Initial checkpoint (usually from a pre-trained BERT model)."),
    ("do_lower_case", "bool", True,
     "Whether to lower case the input text. Should be True for uncased models and False for cased models."),
    ("max_seq_length", "integer", 128,
     "The maximum total input sequence length after WordPiece tokenization. Sequences longer than this will be "
     "truncated, and sequences shorter than this will be padded."),
    ("do_train", "bool", False, "Whether to run training."),
    ("do_predict", "bool", False, "Whether to run the model in inference mode on the test set."),
    ("train_batch_size", "integer", 32, "Total batch size for training."),
    ("predict_batch_size", "integer", 8, "Total batch size for predict."),
    ("learning_rate", "float", 5e-5, "The initial learning rate for Adam."),
    ("num_train_epochs", "float", 3.0, "Total number of training epochs to perform."),
    ("warmup_proportion", "float", 0.1,
     "Proportion of training to perform linear learning rate warmup for. E.g., 0.1 = 10% of training."),
]

# Those of the runners that read a --data_dir (run_ner, run_re; not run_qa).
_DATA_DIR_FLAGS = [
    ("data_dir", "string", None, "The input data dir. Should contain the .tsv files (or other data files) for the task."),
    ("task_name", "string", None, "The name of the task to train."),
    ("do_eval", "bool", False, "Whether to run eval on the dev set."),
    ("eval_batch_size", "integer", 8, "Total batch size for eval."),
]

_DEFINE = {"string": flags.DEFINE_string, "bool": flags.DEFINE_bool, "integer": flags.DEFINE_integer,
           "float": flags.DEFINE_float}


def define_flags(defaults=None, data_dir=True, tpu_name_flags=True, flag_values=FLAGS):
  """Defines a runner's flags: the common original ones, the run-config ones and the runtime's.

  Args:
    defaults: {flag name: default} where this runner's original default differs from the common one.
    data_dir: also define --data_dir, --task_name, --do_eval and --eval_batch_size.
    tpu_name_flags: define --tpu_name/--tpu_zone/--gcp_project (run_ner's original lacked them).
    flag_values: the absl FlagValues to define them in.
  """
  defaults = dict(defaults or {})
  fv = flag_values
  for name, kind, default, help_text in (_DATA_DIR_FLAGS if data_dir else []) + _COMMON_FLAGS:
    _DEFINE[kind](name, defaults.pop(name, default), help_text, flag_values=fv)
  if defaults:
    raise ValueError("defaults for flags that are not defined here: %s" % ", ".join(sorted(defaults)))
  runtime.define_original_runner_flags(tpu_name_flags=tpu_name_flags, flag_values=fv)
  runtime.define_flags(flag_values=fv)
  flags.DEFINE_bool("allow_case_mismatch", False,
                    "Accept a --do_lower_case that contradicts the case of --vocab_file.", flag_values=fv)


# The ranges of the common numeric flags (errors.check_ranges); a runner checks its own flags the same way.
FLAG_RANGES = {
    "max_seq_length": ">=3", "train_batch_size": ">=1", "eval_batch_size": ">=1", "predict_batch_size": ">=1",
    "learning_rate": ">0", "num_train_epochs": ">0", "warmup_proportion": "[0,1]",
}


def check_flags(fv, do_flags=("do_train", "do_eval", "do_predict"), other_work=False, ranges=None):
  """The checks of the original runners, before any data is read; returns the BertConfig.

  `other_work`: the run has something to do besides the do_* flags (run_ner's --raw_text_file).
  `ranges`: the runner's own numeric flags, {name: range} as `errors.check_ranges` takes them.

  Raises:
    errors.UserError: TPUs asked for, a numeric flag out of range, no do_* flag set, a missing required flag, a
      vocabulary whose case contradicts --do_lower_case, a vocabulary larger than the model's vocab_size,
      --max_seq_length beyond the model's positions, an --output_dir that cannot be written.
  """
  runtime.check_flags(fv)
  errors.check_ranges(fv, dict(FLAG_RANGES, **(ranges or {})))
  for name in ("bert_config_file", "vocab_file", "output_dir"):
    if not getattr(fv, name):
      raise errors.UserError("--%s is required" % name)
  if not other_work and not any(getattr(fv, name) for name in do_flags):
    raise errors.UserError("At least one of %s must be True." % ", ".join("`%s`" % name for name in do_flags))
  tokenization.resolve_do_lower_case(fv.do_lower_case, fv.vocab_file, fv.allow_case_mismatch)
  bert_config = modeling.BertConfig.from_json_file(fv.bert_config_file)
  vocab = tokenization.load_vocab(fv.vocab_file)
  tokenization.check_blank_lines(vocab, fv.vocab_file)
  bert_config.check_inputs(max_seq_length=fv.max_seq_length, vocab_size=len(vocab), source=fv.bert_config_file)
  runtime.make_output_dir(fv.output_dir)
  return bert_config


def train_steps(num_examples, fv):
  """(num_train_steps, num_warmup_steps): the original's int(examples / batch * epochs), in optimizer updates.

  With --num_accumulation_steps=k an update sees k batches, so there are k times fewer updates for the same
  number of epochs.
  """
  batch = fv.train_batch_size * fv.num_accumulation_steps
  num_train_steps = int(num_examples / batch * fv.num_train_epochs)
  if num_train_steps < 1:
    raise errors.UserError("%d training examples at a batch of %d for %s epoch(s) make no training step" %
                           (num_examples, batch, fv.num_train_epochs))
  return num_train_steps, int(num_train_steps * fv.warmup_proportion)


# ----------------------------------------------------------------------------------------------------------------
# Features.


def truncate_seq_pair(tokens_a, tokens_b, max_length):
  """Truncates a sequence pair in place to `max_length` tokens, one token at a time from the longer (b on ties)."""
  while len(tokens_a) + len(tokens_b) > max_length:
    if len(tokens_a) > len(tokens_b):
      tokens_a.pop()
    else:
      tokens_b.pop()


def pad_to(values, length, value=0):
  """`values` followed by `value` up to `length` (a new list)."""
  return list(values) + [value] * (length - len(values))


def log_example(fields):
  """The original's example dump: `*** Example ***`, then one `name: value` line per (name, value) pair.

  Lists are joined by spaces (tokens made printable); everything else is printed as it is.
  """
  logging.info("*** Example ***")
  for name, value in fields:
    if isinstance(value, (list, tuple)):
      value = " ".join(tokenization.printable_text(x) if isinstance(x, str) else str(x) for x in value)
    logging.info("%s: %s", name, value)


def window_starts(num_pieces, size, stride):
  """(start, length) of the windows over `num_pieces` pieces: `size` long, `stride` apart, the last one ending
  at the last piece: SQuAD's doc_stride walk, which run_ner's long-sentence windows also take."""
  spans = []
  start = 0
  while True:
    length = min(num_pieces - start, size)
    spans.append((start, length))
    if start + length >= num_pieces:
      return spans
    start += min(length, stride)


def best_window_per_piece(windows, num_pieces):
  """For each piece of a sequence, the index of the window where it has the most context.

  `windows`: (index, window) pairs, each window with `start` and `length` (in pieces).

  The score is SQuAD's: min(pieces to the left, pieces to the right) + 0.01 * window length, first on ties.
  """
  best = [None] * num_pieces
  scores = [None] * num_pieces
  for w_index, window in windows:
    for j in range(window.start, window.start + window.length):
      score = min(j - window.start, window.start + window.length - 1 - j) + 0.01 * window.length
      if scores[j] is None or score > scores[j]:
        best[j], scores[j] = w_index, score
  return best


def write_features(path, spec, features):
  """Writes the feature dicts to a TFRecord file (atomically) and logs it; returns the number written."""
  count = spec.write(path, features)
  logging.info("Wrote %d examples to %s", count, path)
  return count


# Prediction sorts the examples of each run of this many by length, so that a batch holds sentences of about one
# length and little padding is left after its longest (`input_fn_builder`'s sort_by_length); about 2x less work on
# BioBERT's NER test sets than batches in file order, whose longest member is often twice the average.
SORT_WINDOW = 4096

# With --use_xla, batches cut to their longest sequence are cut to a multiple of this many positions instead.
XLA_WIDTH_MULTIPLE = 16

# The feature that carries each example's place in the file through a length-sorted prediction.
EXAMPLE_INDEX = "example_index"


def input_fn_builder(input_file, spec, is_training, drop_remainder, trim_padding=False, sort_by_length=False):
  """The runtime input_fn over a TFRecord file of `spec`'s features.

  Training: repeated, shuffled with a buffer of 100 as the original (seeded by params["seed"], so a resumed run
  sees the batches an uninterrupted one would), batches of params["batch_size"] with the remainder dropped.
  Evaluation and prediction: the file once, in order.

  `trim_padding`: cut each batch's sequence features (those whose length --max_seq_length sets) to the longest
  `input_mask` in the batch, as a data collator pads per batch. BERT's outputs at real positions do not depend on
  the padding after them, so this only saves work, wherever nothing is computed at padded positions (prediction;
  training with a loss that ignores padding). With params["use_xla"] the width is rounded up to a multiple of
  XLA_WIDTH_MULTIPLE.

  `sort_by_length` (not for training): within each run of SORT_WINDOW examples, batches are made of examples
  sorted by length (stable), and every example carries its index in the file as EXAMPLE_INDEX; `in_file_order`
  puts the model's predictions back in file order.
  """
  sequence_features = [name for name, _, _, hint in spec.fields if hint == "--max_seq_length"]
  if sort_by_length and is_training:
    raise ValueError("sort_by_length is for evaluation and prediction: it would change the training batches")

  def trim(batch, multiple):
    longest = tf.reduce_max(tf.reduce_sum(batch["input_mask"], axis=1))
    width = tf.minimum((longest + multiple - 1) // multiple * multiple, tf.shape(batch["input_mask"])[1])
    return {name: t[:, :width] if name in sequence_features else t for name, t in batch.items()}

  def with_index(index, example):
    return dict(example, **{EXAMPLE_INDEX: index})

  def sorted_batches(window, batch_size):
    order = tf.argsort(tf.reduce_sum(window["input_mask"], axis=1), stable=True)
    window = {name: tf.gather(t, order) for name, t in window.items()}
    return tf.data.Dataset.from_tensor_slices(window).batch(batch_size)

  def input_fn(params):
    d = tf.data.TFRecordDataset(input_file)
    if is_training:
      d = d.repeat()
      d = d.shuffle(buffer_size=100, seed=params.get("seed"))
    d = d.map(spec.parse, num_parallel_calls=2, deterministic=True)
    if sort_by_length:
      d = d.enumerate().map(with_index)
      d = d.batch(SORT_WINDOW).flat_map(lambda window: sorted_batches(window, params["batch_size"]))
    else:
      d = d.batch(params["batch_size"], drop_remainder=drop_remainder)
    if trim_padding:
      # XLA compiles the step once per shape: widths rounded up to a multiple of XLA_WIDTH_MULTIPLE keep that
      # to a handful of compilations.
      multiple = XLA_WIDTH_MULTIPLE if params.get("use_xla") else 1
      d = d.map(lambda batch: trim(batch, multiple))
    return d.prefetch(2)

  input_fn.input_files = [input_file]  # named by the runtime when a record turns out corrupt
  return input_fn


def with_example_index(model_fn):
  """`model_fn` whose predictions also carry EXAMPLE_INDEX where its features do (a length-sorted prediction)."""

  def indexed_model_fn(features, mode, params):
    index = features.pop(EXAMPLE_INDEX, None) if isinstance(features, dict) else None
    spec = model_fn(features, mode, params)
    if index is not None and mode == runtime.ModeKeys.PREDICT:
      spec = spec._replace(predictions=dict(spec.predictions, **{EXAMPLE_INDEX: index}))
    return spec

  return indexed_model_fn


def in_file_order(predictions):
  """Yields length-sorted predictions (dicts with EXAMPLE_INDEX) in file order, without EXAMPLE_INDEX.

  Examples are sorted within runs of SORT_WINDOW, so at most that many predictions wait here.
  """
  waiting = {}
  following = 0
  for prediction in predictions:
    prediction = dict(prediction)
    waiting[int(prediction.pop(EXAMPLE_INDEX))] = prediction
    while following in waiting:
      yield waiting.pop(following)
      following += 1
  if waiting:
    raise RuntimeError("predictions for examples %s came without those before them" % sorted(waiting)[:5])


# ----------------------------------------------------------------------------------------------------------------
# Metrics.


def confusion_metrics(labels, predictions, num_classes, pos_indices, average="micro", weights=None,
                      prefix="eval_"):
  """Streaming precision, recall and F1 over `pos_indices` from an accumulated confusion matrix (tf_metrics).

  The values are computed from the matrix accumulated over every batch (rows gold, columns predicted, float64),
  not averaged over batches. "micro" pools the chosen classes; "macro" averages their per-class precision,
  recall and F1 (so F is the mean of the per-class F, as tf_metrics computes it).

  Returns:
    {prefix + "precision" | "recall" | "f": (value, update_op)}.
  """
  labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
  predictions = tf.reshape(tf.cast(predictions, tf.int64), [-1])
  if weights is not None:
    weights = tf.reshape(tf.cast(weights, tf.float64), [-1])
  matrix = tf.compat.v1.get_local_variable(
      prefix + "confusion_matrix", shape=[num_classes, num_classes], dtype=tf.float64,
      initializer=tf.compat.v1.zeros_initializer())
  batch = tf.math.confusion_matrix(labels, predictions, num_classes=num_classes, weights=weights,
                                   dtype=tf.float64)
  update = matrix.assign_add(batch)
  precision, recall, f1 = _precision_recall_f1(matrix.read_value(), pos_indices, average)
  _, _, f1_update = _precision_recall_f1(update, pos_indices, average)
  return {prefix + "precision": (precision, f1_update), prefix + "recall": (recall, f1_update),
          prefix + "f": (f1, f1_update)}


def _safe_div(numerator, denominator):
  return tf.where(denominator > 0, numerator / tf.maximum(denominator, 1e-300), tf.zeros_like(numerator))


def _scores(diag, total_pred, total_gold):
  precision = _safe_div(diag, total_pred)
  recall = _safe_div(diag, total_gold)
  f1 = _safe_div(2 * precision * recall, precision + recall)
  return precision, recall, f1


def _precision_recall_f1(matrix, pos_indices, average):
  pos = tf.constant(list(pos_indices), tf.int64)
  diag = tf.gather(tf.linalg.diag_part(matrix), pos)
  total_pred = tf.gather(tf.reduce_sum(matrix, axis=0), pos)
  total_gold = tf.gather(tf.reduce_sum(matrix, axis=1), pos)
  if average == "micro":
    return _scores(tf.reduce_sum(diag), tf.reduce_sum(total_pred), tf.reduce_sum(total_gold))
  if average == "macro":
    precision, recall, f1 = _scores(diag, total_pred, total_gold)
    return tf.reduce_mean(precision), tf.reduce_mean(recall), tf.reduce_mean(f1)
  raise ValueError("average must be micro or macro, got %r" % average)


# ----------------------------------------------------------------------------------------------------------------
# Heads.


def summed_loss(total, params):
  """The training loss of a loss summed over examples (run_ner's original), for the runtime and the optimizer.

  The optimizer averages the gradients of the replicas (and of accumulated batches), which is right for a mean
  loss. For a sum the gradient of the global batch's total is the SUM of theirs: scaling each replica's sum by
  the number of replicas (and batches per update) undoes the averaging. The runtime logs the mean over the
  replicas of what the model_fn returns, which is then the global batch's total (times the batches per update).
  """
  return total * float(params.get("num_replicas", 1) * params.get("num_accumulation_steps", 1))


def global_mean(total, count):
  """The training loss of a mean over a varying number of items (tokens), pooled over the replicas.

  Each replica's `total` (its items' summed loss) is divided by the `count` of items of ALL replicas, and scaled
  by the number of replicas: the optimizer's averaging then leaves the gradient of the global mean, and the mean
  over the replicas that the runtime logs is the global mean. On one device it is `total / count`.
  """
  context = tf.distribute.get_replica_context()
  replicas = context.num_replicas_in_sync if context is not None else 1
  if replicas > 1:
    count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
  return total * float(replicas) / tf.maximum(count, 1.0)


# ----------------------------------------------------------------------------------------------------------------
# The driver.


class Driver(object):
  """Train, evaluate and predict one task: the Runner, its flags and the original runners' log lines.

    driver = finetuning.Driver(FLAGS, model_fn_builder)
    if FLAGS.do_train:
      driver.train(train_file, num_examples)          # builds the model_fn with the training steps
    results = driver.evaluate(eval_file, num_examples)
    for prediction in driver.predict(predict_file): ...

  `model_fn_builder(num_train_steps, num_warmup_steps)` returns the task's runtime model_fn (the steps are 0
  when the run does not train). Only the chief of a multi-worker run evaluates and predicts (`is_chief`).
  """

  def __init__(self, fv, model_fn_builder):
    self.fv = fv
    self.model_fn_builder = model_fn_builder
    self.num_train_steps = 0
    self.num_warmup_steps = 0
    self._bert_config = None
    self.runner = runtime.Runner(
        model_fn=self._model_fn,
        config=runtime.RunConfig.from_flags(fv),
        train_batch_size=fv.train_batch_size,
        eval_batch_size=getattr(fv, "eval_batch_size", fv.predict_batch_size),
        predict_batch_size=fv.predict_batch_size,
        inference_needs_all_weights=True)

  def check_features(self, input_file, spec):
    """Checks the first records of a features file against the model: lengths, and ids its embeddings hold.

    A segment id of 1 with type_vocab_size=1, or an id beyond vocab_size, fails mid-run on a CPU and reads
    zeros on a GPU; here it is one line naming both sides.
    """
    fv = self.fv
    if self._bert_config is None:
      self._bert_config = modeling.BertConfig.from_json_file(fv.bert_config_file)
    spec.check(input_file, allow_empty=True, limits=self._bert_config.feature_limits(fv.bert_config_file),
               num_records=CHECKED_RECORDS)

  def _model_fn(self, features, mode, params):
    # Built when the graph is, so that train() can set the number of steps first.
    model_fn = self.model_fn_builder(self.num_train_steps, self.num_warmup_steps)
    return with_example_index(model_fn)(features, mode, params)

  @property
  def is_chief(self):
    """False on the non-chief workers of a multi-worker run: they train, but evaluate, predict and write nothing."""
    return self.runner.is_chief

  def train(self, input_file, spec, num_examples, trim_padding=False):
    """Trains for the flags' epochs over `num_examples` examples written to `input_file`."""
    fv = self.fv
    self.check_features(input_file, spec)
    num_train_steps, num_warmup_steps = train_steps(num_examples, fv)
    self.num_train_steps, self.num_warmup_steps = num_train_steps, num_warmup_steps
    logging.info("***** Running training *****")
    logging.info("  Num examples = %d", num_examples)
    logging.info("  Batch size = %d", fv.train_batch_size)
    logging.info("  Num steps = %d", num_train_steps)
    return self.runner.train(input_fn_builder(input_file, spec, is_training=True, drop_remainder=True,
                                              trim_padding=trim_padding),
                        max_steps=num_train_steps, init_checkpoint=fv.init_checkpoint)

  def evaluate(self, input_file, spec, num_examples, name=None):
    """Evaluates over the whole file; returns the results (None on a non-chief worker)."""
    fv = self.fv
    self.check_features(input_file, spec)
    logging.info("***** Running evaluation%s *****", " (%s)" % name if name else "")
    logging.info("  Num examples = %d", num_examples)
    logging.info("  Batch size = %d", getattr(fv, "eval_batch_size", fv.predict_batch_size))
    return self.runner.evaluate(input_fn_builder(input_file, spec, is_training=False, drop_remainder=False),
                                  init_checkpoint=fv.init_checkpoint, name=name)

  def predict(self, input_file, spec, num_examples, trim_padding=True):
    """Yields one prediction dict per example of the file, in order (nothing on a non-chief worker).

    Batches are made of examples of about one length and cut to their longest (see `input_fn_builder`); a
    model_fn whose predictions at real positions depend on the padding passes trim_padding=False, and its
    batches are then the file's, in order.
    """
    fv = self.fv
    self.check_features(input_file, spec)
    logging.info("***** Running prediction*****")
    logging.info("  Num examples = %d", num_examples)
    logging.info("  Batch size = %d", fv.predict_batch_size)
    input_fn = input_fn_builder(input_file, spec, is_training=False, drop_remainder=False,
                                trim_padding=trim_padding, sort_by_length=trim_padding)
    predictions = self.runner.predict(input_fn, init_checkpoint=fv.init_checkpoint)
    return in_file_order(predictions) if trim_padding else predictions


def output_path(fv, name):
  return os.path.join(fv.output_dir, name)
