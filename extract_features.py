# coding=utf-8
# Copyright 2018 The Google AI Language Team Authors.
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
"""Extract pre-computed feature vectors (contextual embeddings) from BERT.

Same flags, input and output as the original script:

  input_file   one example per line; `text_a ||| text_b` (split at the last " ||| ") makes a pair.
  output_file  JSON lines, one per input line in order:
               {"linex_index": <line number from 0>,
                "features": [{"token": <wordpiece>, "layers": [{"index": <layer index>,
                                                               "values": [<float rounded to 6 decimals>, ...]}]}]}
               over the real tokens of the example, [CLS] and [SEP] included. `linex_index` is the original's
               spelling. Layer indexes are Python indexes into the encoder layers (-1 = last).

Instead of the Estimator the graph is built with tf.compat.v1 and run batch by batch in a Session; the variables
are loaded by name from --init_checkpoint as the original's init_from_checkpoint does. Any BERT checkpoint with the
original variable names works: Google's and BioBERT's releases, fine-tuned checkpoints (optimizer slots and task
heads are ignored), and the checkpoints `convert_checkpoint.py` writes from Hugging Face folders. The output file
is written under a temporary name and renamed when complete.
"""

import collections
import json
import os
import re

from absl import flags
from absl import logging
import numpy as np

import errors
import fileio
import finetuning
import tokenization

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines the original's flags. Called from `__main__` only, so importing this module defines no flags."""
  fv = flag_values
  flags.DEFINE_string("input_file", None, "Text file, one example per line (`text_a ||| text_b` for pairs).",
                      flag_values=fv)
  flags.DEFINE_string("output_file", None, "JSON-lines file to write.", flag_values=fv)
  flags.DEFINE_string("layers", "-1,-2,-3,-4",
                      "Comma-separated encoder layer indexes to output (Python indexes: -1 is the last layer).",
                      flag_values=fv)
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. "
      "This specifies the model architecture.", flag_values=fv)
  flags.DEFINE_integer(
      "max_seq_length", 128,
      "The maximum total input sequence length after WordPiece tokenization. "
      "Sequences longer than this will be truncated, and sequences shorter "
      "than this will be padded.", flag_values=fv)
  flags.DEFINE_string(
      "init_checkpoint", None,
      "Initial checkpoint (usually from a pre-trained BERT model).", flag_values=fv)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", flag_values=fv)
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text. Should be True for uncased "
      "models and False for cased models.", flag_values=fv)
  flags.DEFINE_integer("batch_size", 32, "Batch size for predictions.", flag_values=fv)
  flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU (TPUs are not supported).", flag_values=fv)
  flags.DEFINE_string("master", None, "If using a TPU, the address of the master (unused).", flag_values=fv)
  flags.DEFINE_integer("num_tpu_cores", 8, "Only used if `use_tpu` is True. Total number of TPU cores to use.",
                       flag_values=fv)
  flags.DEFINE_bool("allow_case_mismatch", False,
                    "Accept a --do_lower_case that contradicts the case of --vocab_file.", flag_values=fv)
  flags.DEFINE_bool(
      "use_one_hot_embeddings", False,
      "If True, tf.one_hot will be used for embedding lookups, otherwise "
      "tf.nn.embedding_lookup will be used. On TPUs, this should be True "
      "since it is much faster.", flag_values=fv)


class InputExample(object):

  def __init__(self, unique_id, text_a, text_b):
    self.unique_id = unique_id
    self.text_a = text_a
    self.text_b = text_b


class InputFeatures(object):
  """A single set of features of data."""

  def __init__(self, unique_id, tokens, input_ids, input_mask, input_type_ids):
    self.unique_id = unique_id
    self.tokens = tokens
    self.input_ids = input_ids
    self.input_mask = input_mask
    self.input_type_ids = input_type_ids


def read_examples(input_file):
  """Reads one InputExample per line; `a ||| b` (greedy: split at the last separator) gives a pair.

  Lines end at "\\n" only (a stray "\\r" stays in the line and is stripped with the other whitespace), bytes that are
  not UTF-8 are dropped, and an empty line is an example with empty text, as in the original.
  """
  if not input_file or not os.path.isfile(input_file):
    raise errors.UserError("--input_file=%s: no such file" % input_file)
  examples = []
  with open(input_file, "rb") as reader:
    for unique_id, raw in enumerate(reader):
      line = tokenization.convert_to_unicode(raw).strip()
      m = re.match(r"^(.*) \|\|\| (.*)$", line)
      if m is None:
        text_a, text_b = line, None
      else:
        text_a, text_b = m.group(1), m.group(2)
      examples.append(InputExample(unique_id=unique_id, text_a=text_a, text_b=text_b))
  return examples


def convert_examples_to_features(examples, seq_length, tokenizer):
  """Tokenizes, truncates and pads the examples: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, type ids 0 then 1."""
  features = []
  for (ex_index, example) in enumerate(examples):
    tokens_a = tokenizer.tokenize(example.text_a)
    tokens_b = None
    if example.text_b:
      tokens_b = tokenizer.tokenize(example.text_b)

    if tokens_b:
      # Account for [CLS], [SEP], [SEP] with "- 3".
      finetuning.truncate_seq_pair(tokens_a, tokens_b, seq_length - 3)
    elif len(tokens_a) > seq_length - 2:
      # Account for [CLS] and [SEP] with "- 2".
      tokens_a = tokens_a[0:(seq_length - 2)]

    tokens = ["[CLS]"] + tokens_a + ["[SEP]"]
    input_type_ids = [0] * len(tokens)
    if tokens_b:
      tokens += tokens_b + ["[SEP]"]
      input_type_ids += [1] * (len(tokens_b) + 1)

    input_ids = tokenizer.convert_tokens_to_ids(tokens)
    input_mask = [1] * len(input_ids)
    padding = seq_length - len(input_ids)
    input_ids += [0] * padding
    input_mask += [0] * padding
    input_type_ids += [0] * padding

    if ex_index < 5:
      finetuning.log_example([("unique_id", example.unique_id), ("tokens", tokens), ("input_ids", input_ids),
                              ("input_mask", input_mask), ("input_type_ids", input_type_ids)])

    features.append(InputFeatures(unique_id=example.unique_id, tokens=tokens, input_ids=input_ids,
                                  input_mask=input_mask, input_type_ids=input_type_ids))
  return features


def parse_layer_indexes(layers, num_hidden_layers):
  """Parses --layers ("-1,-2,-3,-4") into ints, each a valid Python index into `num_hidden_layers` layers."""
  try:
    indexes = [int(x) for x in layers.split(",")]
  except (ValueError, AttributeError):
    raise errors.UserError("--layers=%s: expected comma-separated integers such as -1,-2,-3,-4" % layers)
  for index in indexes:
    if not -num_hidden_layers <= index < num_hidden_layers:
      raise errors.UserError("--layers=%s: index %d is out of range for a model with %d layers" % (
          layers, index, num_hidden_layers))
  return indexes


def _batches(features, batch_size):
  for start in range(0, len(features), batch_size):
    chunk = features[start:start + batch_size]
    yield (chunk, np.array([f.input_ids for f in chunk], np.int32),
           np.array([f.input_mask for f in chunk], np.int32),
           np.array([f.input_type_ids for f in chunk], np.int32))


def run_layers(bert_config, init_checkpoint, features, layer_indexes, seq_length, batch_size=32,
               use_one_hot_embeddings=False):
  """Yields (feature, [float32 array [seq_length, hidden] per layer index]) for each feature, in order.

  Builds BertModel(is_training=False) in a fresh graph, loads every variable of the checkpoint by name (refusing a
  checkpoint that lacks a variable of the encoder), and runs the features in batches of `batch_size`.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import modeling  # pylint: disable=g-import-not-at-top
  import runtime  # pylint: disable=g-import-not-at-top

  graph = tf.Graph()
  with graph.as_default():
    input_ids = tf.compat.v1.placeholder(tf.int32, [None, seq_length], name="input_ids")
    input_mask = tf.compat.v1.placeholder(tf.int32, [None, seq_length], name="input_mask")
    input_type_ids = tf.compat.v1.placeholder(tf.int32, [None, seq_length], name="input_type_ids")
    model = modeling.BertModel(config=bert_config, is_training=False, input_ids=input_ids, input_mask=input_mask,
                               token_type_ids=input_type_ids, use_one_hot_embeddings=use_one_hot_embeddings)
    all_layers = model.get_all_encoder_layers()
    outputs = [all_layers[i] for i in layer_indexes]
    tvars = tf.compat.v1.trainable_variables()
    sess = tf.compat.v1.Session(graph=graph)
    sess.run(tf.compat.v1.global_variables_initializer())
    loaded = runtime.warm_start(sess, init_checkpoint, tvars)
  graph.finalize()
  with sess:
    # The original would run silently on random weights for any variable missing from the checkpoint; that is
    # never wanted here. The pooler is not used by the encoder layers, so it may be absent.
    missing = [n for n in map(modeling.variable_name, tvars) if n not in loaded and not n.startswith("bert/pooler/")]
    if missing:
      raise errors.UserError("--init_checkpoint=%s lacks %d variable(s) of this BERT config, e.g. %s" % (
          init_checkpoint, len(missing), ", ".join(missing[:3])))
    progress = fileio.progress_bar(total=len(features), unit="ex", desc="extract_features")
    for chunk, ids, mask, type_ids in _batches(features, batch_size):
      values = sess.run(outputs, feed_dict={input_ids: ids, input_mask: mask, input_type_ids: type_ids})
      for i, feature in enumerate(chunk):
        yield feature, [v[i] for v in values]
      progress.update(len(chunk))
    progress.close()


def feature_json(feature, layer_outputs, layer_indexes):
  """The output line of one example (without the newline), as the original's json.dumps writes it."""
  all_features = []
  for (i, token) in enumerate(feature.tokens):
    all_layers = []
    for (layer_index, layer_output) in zip(layer_indexes, layer_outputs):
      # float64 of a float32 value, rounded by Python's round() as in the original.
      values = [round(x, 6) for x in layer_output[i].astype(np.float64).tolist()]
      all_layers.append(collections.OrderedDict([("index", layer_index), ("values", values)]))
    all_features.append(collections.OrderedDict([("token", token), ("layers", all_layers)]))
  output_json = collections.OrderedDict([("linex_index", feature.unique_id), ("features", all_features)])
  return json.dumps(output_json)


# The numeric flags' ranges (errors.check_ranges).
FLAG_RANGES = {"max_seq_length": ">=3", "batch_size": ">=1", "num_tpu_cores": ">=1"}


def extract_features(input_file, output_file, bert_config_file, init_checkpoint, vocab_file,
                     layers="-1,-2,-3,-4", max_seq_length=128, do_lower_case=True, batch_size=32,
                     use_one_hot_embeddings=False, allow_case_mismatch=False):
  """Writes the JSON-lines features of every line of `input_file` to `output_file`; returns the line count."""
  import modeling  # pylint: disable=g-import-not-at-top
  for name, value in (("output_file", output_file), ("init_checkpoint", init_checkpoint),
                      ("vocab_file", vocab_file), ("bert_config_file", bert_config_file)):
    if not value:
      raise errors.UserError("--%s is required" % name)
  errors.check_range("max_seq_length", max_seq_length, FLAG_RANGES["max_seq_length"])
  errors.check_range("batch_size", batch_size, FLAG_RANGES["batch_size"])
  fileio.refuse_overwriting_inputs(output_file, [input_file, vocab_file, bert_config_file], "--output_file")
  fileio.check_output_file(output_file)
  bert_config = modeling.BertConfig.from_json_file(bert_config_file)
  tokenization.resolve_do_lower_case(do_lower_case, vocab_file, allow_case_mismatch)
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)
  bert_config.check_inputs(max_seq_length=max_seq_length, vocab_size=len(tokenizer.vocab), source=bert_config_file)
  layer_indexes = parse_layer_indexes(layers, bert_config.num_hidden_layers)
  examples = read_examples(input_file)
  features = convert_examples_to_features(examples, max_seq_length, tokenizer)
  pair = next((f for f in features if 1 in f.input_type_ids), None)
  if pair is not None and bert_config.type_vocab_size < 2:
    raise errors.UserError("--input_file=%s: line %d is a pair (text_a ||| text_b) but type_vocab_size=%d in %s has "
                           "no embedding for its second segment" % (input_file, pair.unique_id + 1,
                                                                    bert_config.type_vocab_size, bert_config_file))

  folder = os.path.dirname(os.path.abspath(output_file))
  if not os.path.isdir(folder):
    raise errors.UserError("--output_file=%s: folder %s does not exist" % (output_file, folder))
  count = 0
  with fileio.atomic_output(output_file) as writer:
    for feature, layer_outputs in run_layers(bert_config, init_checkpoint, features, layer_indexes,
                                             max_seq_length, batch_size, use_one_hot_embeddings):
      writer.write(feature_json(feature, layer_outputs, layer_indexes) + "\n")
      count += 1
  return count


def main(_):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import runtime  # pylint: disable=g-import-not-at-top
  tf.compat.v1.disable_eager_execution()
  logging.set_verbosity(logging.INFO)
  runtime.check_no_tpu(FLAGS.use_tpu)
  errors.check_ranges(FLAGS, FLAG_RANGES)
  count = extract_features(FLAGS.input_file, FLAGS.output_file, FLAGS.bert_config_file, FLAGS.init_checkpoint,
                           FLAGS.vocab_file, FLAGS.layers, FLAGS.max_seq_length, FLAGS.do_lower_case,
                           FLAGS.batch_size, FLAGS.use_one_hot_embeddings, FLAGS.allow_case_mismatch)
  print("wrote %d lines to %s" % (count, FLAGS.output_file))


if __name__ == "__main__":
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  define_flags()
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("vocab_file")
  flags.mark_flag_as_required("bert_config_file")
  flags.mark_flag_as_required("init_checkpoint")
  flags.mark_flag_as_required("output_file")
  errors.run_main(main)
