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
"""`BertConfig`: bert_config.json read, checked and written (also `modeling.BertConfig`).

Defined apart from the model so that the tools that never build a graph (create_pretraining_data,
convert_checkpoint's readers) check a config without importing TensorFlow. Every tool checks a config the same
way: `BertConfig.from_json_file` (the file, its JSON and its fields) and `check_inputs` (the sequence length and
vocabulary a run will feed it).
"""

import collections
import copy
import difflib
import json
import sys

import errors

ACTIVATION_NAMES = ("linear", "relu", "gelu", "tanh")

# The fields every bert_config.json carries, with the original constructor's defaults (`vocab_size` has none).
_CONFIG_DEFAULTS = collections.OrderedDict([
    ("hidden_size", 768),
    ("num_hidden_layers", 12),
    ("num_attention_heads", 12),
    ("intermediate_size", 3072),
    ("hidden_act", "gelu"),
    ("hidden_dropout_prob", 0.1),
    ("attention_probs_dropout_prob", 0.1),
    ("max_position_embeddings", 512),
    ("type_vocab_size", 16),
    ("initializer_range", 0.02),
])

# Every field of a Google bert_config.json, in the order the constructor declares them.
FIELDS = ("vocab_size",) + tuple(_CONFIG_DEFAULTS)

# Keys other writers put in a bert_config.json (Hugging Face's config.json fields, NVIDIA's, ours): not BERT's,
# and read by nothing here, but harmless.
KNOWN_OTHER_KEYS = frozenset([
    "architectures", "model_type", "layer_norm_eps", "pad_token_id", "position_embedding_type", "torch_dtype",
    "dtype", "transformers_version", "use_cache", "classifier_dropout", "gradient_checkpointing", "directionality",
    "pooler_fc_size", "pooler_num_attention_heads", "pooler_num_fc_layers", "pooler_size_per_head",
    "pooler_type", "output_past", "id2label", "label2id", "bos_token_id", "eos_token_id", "is_decoder",
    "add_cross_attention", "tokenizer_class", "do_lower_case",
])

_INT_FIELDS = ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
               "max_position_embeddings", "type_vocab_size")
_FLOAT_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range")


class BertConfig(object):
  """Configuration for `BertModel`."""

  def __init__(self,
               vocab_size,
               hidden_size=768,
               num_hidden_layers=12,
               num_attention_heads=12,
               intermediate_size=3072,
               hidden_act="gelu",
               hidden_dropout_prob=0.1,
               attention_probs_dropout_prob=0.1,
               max_position_embeddings=512,
               type_vocab_size=16,
               initializer_range=0.02):
    """Constructs BertConfig.

    Args:
      vocab_size: Vocabulary size of `inputs_ids` in `BertModel`.
      hidden_size: Size of the encoder layers and the pooler layer.
      num_hidden_layers: Number of hidden layers in the Transformer encoder.
      num_attention_heads: Number of attention heads for each attention layer in
        the Transformer encoder.
      intermediate_size: The size of the "intermediate" (i.e., feed-forward)
        layer in the Transformer encoder.
      hidden_act: The non-linear activation function (function or string) in the
        encoder and pooler.
      hidden_dropout_prob: The dropout probability for all fully connected
        layers in the embeddings, encoder, and pooler.
      attention_probs_dropout_prob: The dropout ratio for the attention
        probabilities.
      max_position_embeddings: The maximum sequence length that this model might
        ever be used with. Typically set this to something large just in case
        (e.g., 512 or 1024 or 2048).
      type_vocab_size: The vocabulary size of the `token_type_ids` passed into
        `BertModel`.
      initializer_range: The stdev of the truncated_normal_initializer for
        initializing all weight matrices.
    """
    self.vocab_size = vocab_size
    self.hidden_size = hidden_size
    self.num_hidden_layers = num_hidden_layers
    self.num_attention_heads = num_attention_heads
    self.intermediate_size = intermediate_size
    self.hidden_act = hidden_act
    self.hidden_dropout_prob = hidden_dropout_prob
    self.attention_probs_dropout_prob = attention_probs_dropout_prob
    self.max_position_embeddings = max_position_embeddings
    self.type_vocab_size = type_vocab_size
    self.initializer_range = initializer_range

  @classmethod
  def from_dict(cls, json_object):
    """Constructs a `BertConfig` from a Python dictionary of parameters.

    Every key is copied, unknown ones included (as the original does), so a config written by a newer
    tool round-trips through `to_json_string` unchanged.
    """
    config = BertConfig(vocab_size=None)
    for (key, value) in json_object.items():
      config.__dict__[key] = value
    return config

  @classmethod
  def from_json_file(cls, json_file, require_all_fields=False):
    """Constructs a `BertConfig` from a json file of parameters, checking it.

    Args:
      json_file: the bert_config.json path.
      require_all_fields: every field of a Google bert_config.json must be in the file (a release must not rely
        on the constructor's defaults, which other readers do not share).

    Raises:
      errors.UserError: one line naming the file and the field, when the file is missing or is not JSON,
        `vocab_size` is missing, a size is not a positive integer, or `hidden_size` is not a multiple of
        `num_attention_heads`.
    """
    text = _read_text(json_file)
    try:
      json_object = json.loads(text)
    except ValueError as e:
      raise errors.UserError("%s: BERT config is not valid JSON: %s" % (json_file, _one_line(e)))
    if not isinstance(json_object, dict):
      raise errors.UserError("%s: BERT config must be a JSON object, got %s" %
                             (json_file, type(json_object).__name__))
    _check_keys(json_object, json_file)
    if require_all_fields:
      missing = [key for key in FIELDS if key not in json_object]
      if missing:
        raise errors.UserError("%s: missing key(s) %s" % (json_file, ", ".join(missing)))
    config = cls.from_dict(json_object)
    config.validate(source=json_file)
    return config

  def feature_limits(self, source="--bert_config_file"):
    """{feature name: (limit, what)}: the ids the embedding tables can look up (see tfrecord_io.check_example_file)."""
    vocab = (self.vocab_size, "vocab_size=%d in %s" % (self.vocab_size, source))
    return {"input_ids": vocab, "masked_lm_ids": vocab,
            "segment_ids": (self.type_vocab_size, "type_vocab_size=%d in %s" % (self.type_vocab_size, source))}

  def check_inputs(self, max_seq_length=None, vocab_size=None, source="--bert_config_file"):
    """Checks that sequences of `max_seq_length` and ids from a vocabulary of `vocab_size` entries fit the model.

    Args:
      max_seq_length: the run's --max_seq_length (None: not checked).
      vocab_size: the number of entries of the run's --vocab_file (None: not checked).
      source: where the config came from (its file), for the message.
    Raises:
      errors.UserError: naming both sides (the flag and the config field).
    """
    if max_seq_length is not None and max_seq_length > self.max_position_embeddings:
      raise errors.UserError(
          "Cannot use sequence length %d because the BERT model was only trained up to sequence length %d "
          "(--max_seq_length=%d > max_position_embeddings=%d in %s)" %
          (max_seq_length, self.max_position_embeddings, max_seq_length, self.max_position_embeddings, source))
    if vocab_size is not None and vocab_size > self.vocab_size:
      raise errors.UserError("--vocab_file has %d entries but vocab_size=%d in %s: ids would overflow the "
                             "embedding" % (vocab_size, self.vocab_size, source))

  def validate(self, source="BERT config"):
    """Checks the fields a model needs; raises errors.UserError naming `source` and the field."""
    if self.__dict__.get("vocab_size") is None:
      raise errors.UserError("%s: required field 'vocab_size' is missing" % source)
    for name in _INT_FIELDS:
      value = self.__dict__.get(name)
      if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise errors.UserError("%s: field '%s' must be a positive integer, got %r" % (source, name, value))
    for name in _FLOAT_FIELDS:
      value = self.__dict__.get(name)
      if isinstance(value, bool) or not isinstance(value, (float, int)) or value < 0:
        raise errors.UserError("%s: field '%s' must be a non-negative number, got %r" % (source, name, value))
    for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
      if self.__dict__[name] >= 1.0:
        raise errors.UserError("%s: field '%s' must be below 1.0, got %r" % (source, name, self.__dict__[name]))
    if self.hidden_size % self.num_attention_heads != 0:
      raise errors.UserError(
          "%s: field 'hidden_size' (%d) is not a multiple of 'num_attention_heads' (%d)" %
          (source, self.hidden_size, self.num_attention_heads))
    act = self.__dict__.get("hidden_act")
    if isinstance(act, str) and act.lower() not in ACTIVATION_NAMES:
      raise errors.UserError("%s: field 'hidden_act' has unsupported value %r (use one of %s)" %
                             (source, act, ", ".join(sorted(n for n in ACTIVATION_NAMES if n))))

  def to_dict(self):
    """Serializes this instance to a Python dictionary."""
    output = copy.deepcopy(self.__dict__)
    return output

  def to_json_string(self):
    """Serializes this instance to a JSON string."""
    return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


def _check_keys(json_object, source):
  """A misspelt field (the default would be used silently) is an error; other unknown keys are a warning."""
  unknown = [key for key in json_object if key not in FIELDS and key not in KNOWN_OTHER_KEYS]
  ignored = []
  for key in unknown:
    close = [f for f in difflib.get_close_matches(key, FIELDS, n=1, cutoff=0.8) if f not in json_object]
    if close:
      raise errors.UserError("%s: unknown key %r: did you mean %r? (without it the default %s=%r is used)" % (
          source, key, close[0], close[0], _CONFIG_DEFAULTS.get(close[0], "(none)")))
    ignored.append(key)
  if ignored:
    sys.stderr.write("warning: %s: unknown key(s) %s ignored (not BERT config fields)\n" % (
        source, ", ".join(repr(k) for k in ignored)))


def _one_line(exception):
  return " ".join(str(exception).split())


def _read_text(path):
  """The text of a local or remote (gs://...) file; errors.UserError naming it when missing or unreadable."""
  try:
    if "://" in path:
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      if not tf.io.gfile.exists(path):
        raise errors.UserError("%s: BERT config file not found" % path)
      with tf.io.gfile.GFile(path, "r") as reader:
        return reader.read()
    with open(path, "r", encoding="utf-8") as reader:
      return reader.read()
  except FileNotFoundError:
    raise errors.UserError("%s: BERT config file not found" % path)
  except errors.UserError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # OSError, UnicodeDecodeError, tf.errors.OpError
    raise errors.UserError("%s: cannot read BERT config file: %s" % (path, _one_line(e)))
