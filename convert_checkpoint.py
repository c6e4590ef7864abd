# coding=utf-8
# Copyright 2018 The Google AI Language Team Authors and the BioBERT authors.
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
"""Converts BERT checkpoints between TF1 and Hugging Face folders, and strips them for release.

Three modes (`--mode`, or the first positional argument):

  tf_to_hf  TF1 checkpoint prefix + bert_config.json + vocab.txt  ->  a folder `transformers` loads with no code:
            config.json, model.safetensors, vocab.txt, tokenizer_config.json, SHA256SUMS.
  hf_to_tf  Hugging Face BERT folder (config.json, model.safetensors or its sharded form, vocab.txt)  ->
            a TF1 checkpoint with the original variable names + bert_config.json + vocab.txt + SHA256SUMS,
            usable as --init_checkpoint by every script.
  strip     TF1 checkpoint  ->  the same model without optimizer slots, step counters and loss-scale state
            (about a third of the size) + bert_config.json + vocab.txt + SHA256SUMS.

Only the variables of an explicit allow-list are converted: the BERT encoder for the configured number of layers
plus the known heads (pre-training MLM/NSP, the NER and RE classifiers at the root scope, the SQuAD/BioASQ span
head). Everything else (Adam/LAMB slots, BioBERT v1.0's `BERTAdam` slots and `beta*_power`, NVIDIA's `/accum`,
`/shadow`, loss-scale counters, `global_step`, ...) is never assigned by shape. It is reported in one line grouped
by kind, e.g. `skipped 93 variables: 92 optimizer slots (adam_m, adam_v), 1 step counter (global_step)`;
`--verbose` also prints each name as `skipped: <name>`.

Every output is written into a temporary folder beside the target and renamed at the end, so a failure leaves
nothing half-written behind.
"""

import collections
import errno
import hashlib
import json
import os
import re
import shutil
import struct

from absl import flags
import numpy as np

import bert_config
import errors
import fileio
import tokenization

# The 11 keys of bert_config.json (spec 3.1), in the order BertConfig declares them.
BERT_CONFIG_KEYS = bert_config.FIELDS

# BERT's `hidden_act` names and the `transformers` activation computing the same function. BERT's "gelu" is the
# exact erf form, which is what `transformers` calls "gelu"; the tanh approximations have no BERT equivalent.
_BERT_TO_HF_ACT = {"gelu": "gelu", "relu": "relu", "tanh": "tanh", "linear": "linear"}
_HF_TO_BERT_ACT = {"gelu": "gelu", "relu": "relu", "tanh": "tanh", "linear": "linear"}

# run_ner.py's fixed label list (spec 7); label ids are the positions.
NER_LABELS = ("[PAD]", "B", "I", "O", "X", "[CLS]", "[SEP]")

TASKS = ("auto", "base", "pretraining", "ner", "re", "qa")

# Hugging Face class written in config.json `architectures` for each resolved head set.
_ARCHITECTURES = {
    "base": "BertModel",
    "pretraining": "BertForPreTraining",
    "mlm": "BertForMaskedLM",
    "nsp": "BertForNextSentencePrediction",
    "ner": "BertForTokenClassification",
    "re": "BertForSequenceClassification",
    "qa": "BertForQuestionAnswering",
}

CHECKSUM_FILE = "SHA256SUMS"
_LAYER_NORM_EPS = 1e-12


# ---------------------------------------------------------------------------------------------------------------
# The allow-list: TF1 variable name <-> Hugging Face parameter name.
# ---------------------------------------------------------------------------------------------------------------

Param = collections.namedtuple("Param", ["tf_name", "hf_name", "transpose", "shape"])
"""One model variable. `shape` is the TF1 shape; `transpose` is True for dense kernels ([in,out] in TF1,
[out,in] in a torch Linear). A dimension of None in `shape` is free (the number of labels of a classifier)."""


def _dense(tf_scope, hf_scope, n_in, n_out):
  return [Param(tf_scope + "/kernel", hf_scope + ".weight", True, (n_in, n_out)),
          Param(tf_scope + "/bias", hf_scope + ".bias", False, (n_out,))]


def _layer_norm(tf_scope, hf_scope, width):
  return [Param(tf_scope + "/gamma", hf_scope + ".weight", False, (width,)),
          Param(tf_scope + "/beta", hf_scope + ".bias", False, (width,))]


def encoder_params(config):
  """The BERT encoder variables (embeddings, layers, pooler) for `config` (a dict of the 11 BERT keys)."""
  h = config["hidden_size"]
  inner = config["intermediate_size"]
  params = [
      Param("bert/embeddings/word_embeddings", "bert.embeddings.word_embeddings.weight", False,
            (config["vocab_size"], h)),
      Param("bert/embeddings/token_type_embeddings", "bert.embeddings.token_type_embeddings.weight", False,
            (config["type_vocab_size"], h)),
      Param("bert/embeddings/position_embeddings", "bert.embeddings.position_embeddings.weight", False,
            (config["max_position_embeddings"], h)),
  ]
  params += _layer_norm("bert/embeddings/LayerNorm", "bert.embeddings.LayerNorm", h)
  for i in range(config["num_hidden_layers"]):
    tf_layer = "bert/encoder/layer_%d" % i
    hf_layer = "bert.encoder.layer.%d" % i
    for part in ("query", "key", "value"):
      params += _dense(tf_layer + "/attention/self/" + part, hf_layer + ".attention.self." + part, h, h)
    params += _dense(tf_layer + "/attention/output/dense", hf_layer + ".attention.output.dense", h, h)
    params += _layer_norm(tf_layer + "/attention/output/LayerNorm", hf_layer + ".attention.output.LayerNorm", h)
    params += _dense(tf_layer + "/intermediate/dense", hf_layer + ".intermediate.dense", h, inner)
    params += _dense(tf_layer + "/output/dense", hf_layer + ".output.dense", inner, h)
    params += _layer_norm(tf_layer + "/output/LayerNorm", hf_layer + ".output.LayerNorm", h)
  params += _dense("bert/pooler/dense", "bert.pooler.dense", h, h)
  return params


def head_params(config):
  """The known task heads, keyed by head name: mlm, nsp, classifier (NER and RE share it), squad."""
  h = config["hidden_size"]
  mlm = _dense("cls/predictions/transform/dense", "cls.predictions.transform.dense", h, h)
  mlm += _layer_norm("cls/predictions/transform/LayerNorm", "cls.predictions.transform.LayerNorm", h)
  # The MLM output matrix is the word-embedding table (tied); only the bias is a variable of its own.
  mlm.append(Param("cls/predictions/output_bias", "cls.predictions.bias", False, (config["vocab_size"],)))
  # Heads written with output_weights are [out, in] in TF1 already (applied as x . W^T), like a torch Linear.
  nsp = [Param("cls/seq_relationship/output_weights", "cls.seq_relationship.weight", False, (2, h)),
         Param("cls/seq_relationship/output_bias", "cls.seq_relationship.bias", False, (2,))]
  classifier = [Param("output_weights", "classifier.weight", False, (None, h)),
                Param("output_bias", "classifier.bias", False, (None,))]
  squad = [Param("cls/squad/output_weights", "qa_outputs.weight", False, (2, h)),
           Param("cls/squad/output_bias", "qa_outputs.bias", False, (2,))]
  return collections.OrderedDict([("mlm", mlm), ("nsp", nsp), ("classifier", classifier), ("squad", squad)])


def all_params(config):
  """Every variable of the allow-list: encoder plus all known heads."""
  params = list(encoder_params(config))
  for head in head_params(config).values():
    params += head
  return params


def _heads_for(resolved_task):
  return {
      "base": [],
      "pretraining": ["mlm", "nsp"],
      "mlm": ["mlm"],
      "nsp": ["nsp"],
      "ner": ["classifier"],
      "re": ["classifier"],
      "qa": ["squad"],
  }[resolved_task]


# ---------------------------------------------------------------------------------------------------------------
# Small file helpers.
# ---------------------------------------------------------------------------------------------------------------


def _require_file(path, what):
  if not path:
    raise errors.UserError("%s: no path given" % what)
  if not os.path.isfile(path):
    raise errors.UserError("%s: %s does not exist" % (what, path))


def count_vocab_lines(vocab_file):
  """Number of vocabulary entries as tokenization.load_vocab counts them: one per line, blank lines included."""
  _require_file(vocab_file, "vocab_file")
  with open(vocab_file, "rb") as f:
    data = f.read()
  if not data:
    return 0
  return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _read_json_object(path, what):
  """Reads a JSON file that must hold an object; `what` names it in the one-line error."""
  try:
    with open(path, "r", encoding="utf-8") as f:
      value = json.load(f)
  except ValueError as e:
    raise errors.UserError("%s: not valid JSON (%s)" % (what, e))
  if not isinstance(value, dict):
    raise errors.UserError("%s: expected a JSON object" % what)
  return value


def read_bert_config(path):
  """Reads bert_config.json into a dict: every field of a Google config present, and checked as the model does."""
  return bert_config.BertConfig.from_json_file(path, require_all_fields=True).to_dict()


def _check_vocab_against_config(vocab_file, vocab_size, config_name):
  """A vocabulary with more entries than the embedding table has rows would produce out-of-range ids."""
  _require_file(vocab_file, "vocab_file")
  tokenization.check_blank_lines(tokenization.load_vocab(vocab_file), vocab_file)
  n = count_vocab_lines(vocab_file)
  if n > vocab_size:
    raise errors.UserError("vocab_file %s has %d entries but %s says vocab_size %d" % (
        vocab_file, n, config_name, vocab_size))
  if n < vocab_size:
    # Some releases pad the embedding table (e.g. to a multiple of 8); the extra rows are never looked up.
    print("note: vocab_file %s has %d entries, vocab_size is %d (padded embedding table)" % (vocab_file, n, vocab_size))
  return n


def _sha256(path):
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def write_checksums(folder):
  """Writes SHA256SUMS (the `sha256sum -c` format) for every file in `folder`; returns its path."""
  names = sorted(n for n in os.listdir(folder) if n != CHECKSUM_FILE and os.path.isfile(os.path.join(folder, n)))
  path = os.path.join(folder, CHECKSUM_FILE)
  with open(path, "w", encoding="utf-8") as f:
    for name in names:
      f.write("%s  %s\n" % (_sha256(os.path.join(folder, name)), name))
  return path


def _skipped_kinds():
  """(singular, plural, last name parts) of each kind of training state kept beside the model, in print order.

  Our own names are optimization.py's; the others are those of Google's tf.train.AdamOptimizer, BioBERT v1.0
  (`BERTAdam`), Keras-style slots and NVIDIA's BERT (fp32 `/shadow` copies, `/accum`, loss-scale counters).
  """
  import optimization  # pylint: disable=g-import-not-at-top
  return (
      ("optimizer slot", "optimizer slots",
       optimization.ADAMW_SLOT_SUFFIXES + optimization.LAMB_SLOT_SUFFIXES +
       ("BERTAdam", "BERTAdam_1", "Adam", "Adam_1", "AdamWeightDecayOptimizer", "AdamWeightDecayOptimizer_1",
        "shadow", "beta1_power", "beta2_power")),
      ("step counter", "step counters", ("global_step",)),
      ("loss-scale variable", "loss-scale variables",
       (optimization.LOSS_SCALE_NAME, optimization.LOSS_SCALE_GOOD_STEPS_NAME, "current_loss_scale", "good_steps",
        "bad_steps")),
      ("gradient-accumulation variable", "gradient-accumulation variables",
       (optimization.ACCUMULATOR_SUFFIX, optimization.ACCUMULATION_STEP_NAME, optimization.ACCUMULATED_SPARSE_NAME,
        "accum", "local_step", "batch_finite")),
  )


def skipped_summary(skipped, max_others=5):
  """One line for the skipped variable names, grouped by kind; other names are listed (up to `max_others`)."""
  kinds = _skipped_kinds()
  found = [collections.OrderedDict() for _ in kinds]
  others = []
  for name in skipped:
    part = name.rsplit("/", 1)[-1]
    for i, (_, _, parts) in enumerate(kinds):
      if part in parts:
        found[i][part] = found[i].get(part, 0) + 1
        break
    else:
      others.append(name)
  groups = []
  for (singular, plural, parts), counts in zip(kinds, found):
    if counts:
      n = sum(counts.values())
      groups.append("%d %s (%s)" % (n, singular if n == 1 else plural,
                                    ", ".join(p for p in parts if p in counts)))
  if others:
    listed = others[:max_others] + (["..."] if len(others) > max_others else [])
    groups.append("%d other%s (%s)" % (len(others), "" if len(others) == 1 else "s", ", ".join(listed)))
  return "skipped %d variable%s: %s" % (len(skipped), "" if len(skipped) == 1 else "s", ", ".join(groups))


def _print_skipped(skipped, verbose=False):
  if verbose:
    for name in skipped:
      print("skipped: %s" % name)
  if skipped:
    print(skipped_summary(skipped))


# ---------------------------------------------------------------------------------------------------------------
# TF1 checkpoints.
# ---------------------------------------------------------------------------------------------------------------


def resolve_checkpoint_prefix(path):
  """Accepts a prefix, one of its files (.index, .meta, .data-*) or a folder with a `checkpoint` state file."""
  if not path:
    raise errors.UserError("--init_checkpoint is required")
  if os.path.isdir(path):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    latest = tf.train.latest_checkpoint(path)
    if latest is None:
      raise errors.UserError("init_checkpoint %s: a folder without a TF checkpoint (no `checkpoint` file)" % path)
    path = latest
  path = re.sub(r"\.(index|meta|data-\d+-of-\d+)$", "", path)
  if not os.path.isfile(path + ".index"):
    raise errors.UserError("init_checkpoint %s: no such TF checkpoint (%s.index does not exist)" % (path, path))
  return path


def _checkpoint_files(prefix):
  """The files of a TF1 checkpoint (index, data shards), the inputs an output must never replace."""
  import glob  # pylint: disable=g-import-not-at-top
  return [prefix + ".index"] + sorted(glob.glob(glob.escape(prefix) + ".data-*"))


def list_checkpoint(prefix):
  """Returns (reader, OrderedDict name -> shape tuple, dict name -> numpy dtype) for a TF1 checkpoint."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  try:
    reader = tf.train.load_checkpoint(prefix)
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
  except Exception as e:  # pylint: disable=broad-except  # OpError, ValueError, IndexError
    raise errors.UserError("init_checkpoint %s: cannot be read (%s)" % (prefix, _reason(e)))
  names = sorted(shapes)
  return (reader, collections.OrderedDict((n, tuple(shapes[n])) for n in names),
          {n: dtypes[n].as_numpy_dtype for n in names})


def _read_tensor(reader, prefix, name):
  try:
    value = reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except
    # A .data file cut short reads as IndexError("Read less bytes than requested"), a flipped bit as DataLossError.
    raise errors.UserError("init_checkpoint %s: variable %s cannot be read; the checkpoint's data is truncated or "
                           "corrupt (%s)" % (prefix, name, _reason(e)))
  value = np.asarray(value)
  if value.dtype in (np.float16, np.float64) or value.dtype.name == "bfloat16":
    # Model code builds float32 variables; a half-precision copy (manual fp16 training) is widened losslessly.
    value = value.astype(np.float32)
  return value


def _reason(e):
  """The first line of an exception's message."""
  text = (getattr(e, "message", None) or str(e) or type(e).__name__).strip()
  return errors.one_line(text.splitlines()[0] if text else type(e).__name__)[:300]


def _check_shape(param, shape, source):
  expected = param.shape
  if len(shape) != len(expected) or any(e is not None and e != s for e, s in zip(expected, shape)):
    raise errors.UserError("%s: %s has shape %s but the config implies %s" % (
        source, param.tf_name, list(shape), [("n" if e is None else e) for e in expected]))


def _check_layer_count(names, config, source):
  """A checkpoint with more encoder layers than the config has must not be cut silently."""
  per_layer = set(p.tf_name[len("bert/encoder/layer_0/"):] for p in encoder_params(dict(config, num_hidden_layers=1))
                  if p.tf_name.startswith("bert/encoder/layer_0/"))
  layers = set()
  for name in names:
    m = re.match(r"^bert/encoder/layer_(\d+)/(.*)$", name)
    if m and m.group(2) in per_layer:
      layers.add(int(m.group(1)))
  if layers and max(layers) + 1 != config["num_hidden_layers"]:
    raise errors.UserError("%s has %d encoder layers but bert_config_file says num_hidden_layers %d" % (
        source, max(layers) + 1, config["num_hidden_layers"]))


def _check_hf_layer_count(names, config, source, config_name):
  """Weights of more (or fewer) encoder layers than config.json says must not be cut (or padded) silently."""
  layers = set()
  for name in names:
    m = re.match(r"^bert\.encoder\.layer\.(\d+)\.", name)
    if m:
      layers.add(int(m.group(1)))
  if layers and max(layers) + 1 != config["num_hidden_layers"]:
    raise errors.UserError("%s has %d encoder layers but %s says num_hidden_layers %d" % (
        source, max(layers) + 1, config_name, config["num_hidden_layers"]))


def detect_task(names, requested="auto"):
  """Resolves --task against the heads present in a checkpoint.

  Returns one of base, pretraining, mlm, nsp, ner, re, qa. `auto` picks qa when cls/squad exists and pre-training
  when cls/predictions or cls/seq_relationship exists; root `output_weights` are written by both run_ner and
  run_re, so there it asks for --task.
  """
  names = set(names)
  has_squad = "cls/squad/output_weights" in names
  has_mlm = "cls/predictions/output_bias" in names
  has_nsp = "cls/seq_relationship/output_weights" in names
  has_classifier = "output_weights" in names
  if requested == "auto":
    if has_squad:
      return "qa"
    if has_mlm or has_nsp:
      if has_classifier:
        raise errors.UserError("the checkpoint has both pre-training heads and a root output_weights head: "
                               "pass --task=pretraining, --task=ner or --task=re")
      return "pretraining" if has_mlm and has_nsp else ("mlm" if has_mlm else "nsp")
    if has_classifier:
      raise errors.UserError("the checkpoint has a root output_weights head, written by both run_ner and run_re: "
                             "pass --task=ner or --task=re")
    return "base"
  if requested == "pretraining":
    if not (has_mlm or has_nsp):
      raise errors.UserError("--task=pretraining but the checkpoint has no cls/predictions or cls/seq_relationship")
    return "pretraining" if has_mlm and has_nsp else ("mlm" if has_mlm else "nsp")
  if requested in ("ner", "re") and not has_classifier:
    raise errors.UserError("--task=%s but the checkpoint has no root output_weights variable" % requested)
  if requested == "qa" and not has_squad:
    raise errors.UserError("--task=qa but the checkpoint has no cls/squad/output_weights variable")
  if requested not in TASKS:
    raise errors.UserError("--task must be one of %s, got %r" % ("/".join(TASKS), requested))
  return requested


def _select(config, names, resolved_task, source):
  """The allow-listed Params to read for `resolved_task`, after checking that all of them are present."""
  params = list(encoder_params(config))
  heads = head_params(config)
  for head in _heads_for(resolved_task):
    params += heads[head]
  missing = [p.tf_name for p in params if p.tf_name not in names]
  if missing:
    raise errors.UserError("%s lacks %d model variable(s) the config implies, e.g. %s" % (
        source, len(missing), ", ".join(missing[:3])))
  return params


def write_tf_checkpoint(prefix, tensors):
  """Writes `tensors` (OrderedDict TF1 name -> numpy array) as a TF1 checkpoint with exactly those names.

  The variables are created in a fresh graph under their full names and saved with tf.compat.v1.train.Saver, the
  format TF1's init_from_checkpoint and Saver.restore read. Values are fed through placeholders so that a large
  table does not become a graph constant.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  graph = tf.Graph()
  with graph.as_default():
    var_list = collections.OrderedDict()
    feeds = {}
    for name, value in tensors.items():
      placeholder = tf.compat.v1.placeholder(tf.as_dtype(value.dtype), shape=value.shape)
      variable = tf.compat.v1.Variable(placeholder, name=name, trainable=False, use_resource=False)
      if variable.op.name != name:
        raise RuntimeError("variable %s was created as %s" % (name, variable.op.name))
      var_list[name] = variable
      feeds[placeholder] = value
    saver = tf.compat.v1.train.Saver(var_list=var_list, sharded=False, write_version=tf.compat.v1.train.SaverDef.V2)
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run([v.initializer for v in var_list.values()], feed_dict=feeds)
      try:
        saver.save(sess, prefix, write_meta_graph=False, write_state=False)
      except tf.errors.OpError as e:
        raise OSError(errno.EIO, _reason(e), prefix + ".data-00000-of-00001") from None
  # A `checkpoint` state file with a relative path, so that tf.train.latest_checkpoint(folder) works after the
  # folder is renamed or moved.
  name = os.path.basename(prefix)
  with open(os.path.join(os.path.dirname(prefix), "checkpoint"), "w", encoding="utf-8") as f:
    f.write('model_checkpoint_path: "%s"\nall_model_checkpoint_paths: "%s"\n' % (name, name))


def bert_config_json(config):
  """bert_config.json text with the 11 keys, formatted as BertConfig.to_json_string."""
  return json.dumps({k: config[k] for k in BERT_CONFIG_KEYS}, indent=2, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# Hugging Face folders.
# ---------------------------------------------------------------------------------------------------------------


def _safetensors_header(path):
  """Reads and validates a safetensors header; a truncated or corrupt file raises UserError."""
  size = os.path.getsize(path)
  with open(path, "rb") as f:
    head = f.read(8)
    if len(head) < 8:
      raise errors.UserError("%s: not a safetensors file (%d bytes)" % (path, size))
    (header_len,) = struct.unpack("<Q", head)
    if header_len > size - 8 or header_len > 100 * 1024 * 1024:
      raise errors.UserError("%s: truncated or not a safetensors file (header of %d bytes in a %d-byte file)" % (
          path, header_len, size))
    try:
      header = json.loads(f.read(header_len).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
      raise errors.UserError("%s: corrupt safetensors header" % path)
  if not isinstance(header, dict):
    raise errors.UserError("%s: corrupt safetensors header" % path)
  metadata = header.pop("__metadata__", None)
  data_len = size - 8 - header_len
  end = 0
  for name, info in header.items():
    try:
      begin, stop = info["data_offsets"]
      end = max(end, int(stop))
    except (KeyError, TypeError, ValueError):
      raise errors.UserError("%s: corrupt safetensors header entry %s" % (path, name))
  if end != data_len:
    raise errors.UserError("%s: truncated or corrupt (the header describes %d bytes of tensor data, the file holds %d)"
                           % (path, end, data_len))
  return header, metadata, 8 + header_len


def _read_safetensors(path):
  """Returns OrderedDict name -> numpy array; bfloat16 tensors are widened to float32 losslessly."""
  header, _, data_start = _safetensors_header(path)
  from safetensors import safe_open  # pylint: disable=g-import-not-at-top
  tensors = collections.OrderedDict()
  bf16 = [n for n, info in header.items() if info.get("dtype") == "BF16"]
  with safe_open(path, framework="np") as f:
    for name in sorted(header):
      if name not in bf16:
        tensors[name] = f.get_tensor(name)
  if bf16:
    # numpy has no bfloat16; a bfloat16 is the upper half of a float32.
    with open(path, "rb") as f:
      for name in bf16:
        begin, stop = header[name]["data_offsets"]
        f.seek(data_start + begin)
        raw = np.frombuffer(f.read(stop - begin), dtype="<u2").astype(np.uint32) << 16
        tensors[name] = raw.view(np.float32).reshape(header[name]["shape"])
  for name, value in tensors.items():
    if value.dtype in (np.float16, np.float64):
      tensors[name] = value.astype(np.float32)
  return tensors


def read_hf_weights(hf_dir):
  """Reads model.safetensors (or the shards named by model.safetensors.index.json) from a folder."""
  single = os.path.join(hf_dir, "model.safetensors")
  index = os.path.join(hf_dir, "model.safetensors.index.json")
  if os.path.isfile(single):
    return _read_safetensors(single)
  if os.path.isfile(index):
    try:
      with open(index, "r", encoding="utf-8") as f:
        weight_map = json.load(f)["weight_map"]
    except (ValueError, KeyError, TypeError):
      raise errors.UserError("%s: not a valid safetensors index (no weight_map)" % index)
    tensors = collections.OrderedDict()
    for shard in sorted(set(weight_map.values())):
      shard_path = os.path.join(hf_dir, shard)
      _require_file(shard_path, "safetensors shard named by %s" % index)
      tensors.update(_read_safetensors(shard_path))
    return tensors
  others = [n for n in ("pytorch_model.bin", "tf_model.h5", "flax_model.msgpack") if os.path.isfile(
      os.path.join(hf_dir, n))]
  if others:
    raise errors.UserError("%s has %s but no model.safetensors; re-save it with transformers "
                           "(save_pretrained writes safetensors) and convert that" % (hf_dir, others[0]))
  raise errors.UserError("%s: no model.safetensors" % hf_dir)


def read_hf_config(hf_dir):
  """Reads config.json of a Hugging Face folder and maps it to the 11 BERT keys; rejects what BERT cannot express."""
  path = os.path.join(hf_dir, "config.json")
  if not os.path.exists(hf_dir):
    raise errors.UserError("hf_dir %s does not exist" % hf_dir)
  if not os.path.isdir(hf_dir):
    raise errors.UserError("hf_dir %s is not a folder" % hf_dir)
  _require_file(path, "hf_dir config")
  hf = _read_json_object(path, path)
  model_type = hf.get("model_type")
  if model_type != "bert":
    raise errors.UserError("%s: model_type is %r, not 'bert'; only BERT models convert to a TF1 BERT checkpoint" % (
        path, model_type))
  position = hf.get("position_embedding_type", "absolute")
  if position != "absolute":
    raise errors.UserError("%s: position_embedding_type %r; TF1 BERT has absolute position embeddings only" % (
        path, position))
  for key in ("is_decoder", "add_cross_attention"):
    if hf.get(key):
      raise errors.UserError("%s: %s is set; TF1 BERT is an encoder without cross-attention" % (path, key))
  eps = hf.get("layer_norm_eps", _LAYER_NORM_EPS)
  if not isinstance(eps, (int, float)) or abs(eps - _LAYER_NORM_EPS) > 1e-6 * _LAYER_NORM_EPS:
    raise errors.UserError("%s: layer_norm_eps %r; TF1 BERT's LayerNorm uses 1e-12" % (path, eps))
  act = hf.get("hidden_act", "gelu")
  if act not in _HF_TO_BERT_ACT:
    raise errors.UserError("%s: hidden_act %r has no TF1 BERT equivalent (BERT's gelu is the exact erf form; "
                           "supported: %s)" % (path, act, ", ".join(sorted(_HF_TO_BERT_ACT))))
  defaults = {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512,
              "type_vocab_size": 2, "initializer_range": 0.02}
  config = {"hidden_act": _HF_TO_BERT_ACT[act]}
  if "vocab_size" not in hf:
    raise errors.UserError("%s: no vocab_size" % path)
  config["vocab_size"] = hf["vocab_size"]
  for key, default in defaults.items():
    config[key] = hf.get(key, default)
  for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
              "max_position_embeddings", "type_vocab_size"):
    if not isinstance(config[key], int) or isinstance(config[key], bool) or config[key] <= 0:
      raise errors.UserError("%s: %s must be a positive integer, got %r" % (path, key, config[key]))
  if config["hidden_size"] % config["num_attention_heads"]:
    raise errors.UserError("%s: hidden_size %d is not a multiple of num_attention_heads %d" % (
        path, config["hidden_size"], config["num_attention_heads"]))
  return config, hf


def _normalise_hf_names(tensors):
  """Maps the spellings found in the wild onto BertForPreTraining's parameter names.

  A bare BertModel (e.g. MiniLM) has no `bert.` prefix; checkpoints saved by 2019 code use LayerNorm gamma/beta;
  the MLM bias is saved as cls.predictions.bias, cls.predictions.decoder.bias, or both.
  """
  out = collections.OrderedDict()
  has_prefix = any(n.startswith("bert.") for n in tensors)
  for name, value in tensors.items():
    new = name
    if not has_prefix and (name.startswith("embeddings.") or name.startswith("encoder.")
                           or name.startswith("pooler.")):
      new = "bert." + name
    new = re.sub(r"\.LayerNorm\.gamma$", ".LayerNorm.weight", new)
    new = re.sub(r"\.LayerNorm\.beta$", ".LayerNorm.bias", new)
    out[new] = (name, value)
  if "cls.predictions.decoder.bias" in out:
    original, value = out.pop("cls.predictions.decoder.bias")
    if "cls.predictions.bias" not in out:
      out["cls.predictions.bias"] = (original, value)
    elif not np.array_equal(out["cls.predictions.bias"][1], value):
      raise errors.UserError("cls.predictions.bias and cls.predictions.decoder.bias differ; "
                             "TF1 BERT has one MLM output bias")
  return out


# ---------------------------------------------------------------------------------------------------------------
# The three conversions.
# ---------------------------------------------------------------------------------------------------------------

Report = collections.namedtuple("Report", ["output_dir", "task", "architecture", "converted", "skipped"])
"""What a conversion did: the resolved task, the HF architecture, the names converted and skipped."""


def _labels_for(resolved_task, num_labels, label_names):
  if label_names:
    if len(label_names) != num_labels:
      raise errors.UserError("--label_names has %d names but the head has %d outputs" % (len(label_names), num_labels))
    return list(label_names)
  if resolved_task == "ner":
    if num_labels != len(NER_LABELS):
      raise errors.UserError("the NER head has %d outputs, run_ner's label list has %d: pass --label_names" % (
          num_labels, len(NER_LABELS)))
    return list(NER_LABELS)
  return [str(i) for i in range(num_labels)]


def _hf_config(config, architecture, labels):
  hf = collections.OrderedDict()
  hf["architectures"] = [architecture]
  hf["model_type"] = "bert"
  for key in BERT_CONFIG_KEYS:
    hf[key] = config[key]
  if config["hidden_act"] not in _BERT_TO_HF_ACT:
    raise errors.UserError("bert_config_file: hidden_act %r is not one of %s" % (
        config["hidden_act"], ", ".join(sorted(_BERT_TO_HF_ACT))))
  hf["hidden_act"] = _BERT_TO_HF_ACT[config["hidden_act"]]
  hf["layer_norm_eps"] = _LAYER_NORM_EPS
  hf["pad_token_id"] = 0
  hf["position_embedding_type"] = "absolute"
  hf["dtype"] = "float32"
  if labels is not None:
    hf["id2label"] = collections.OrderedDict((str(i), l) for i, l in enumerate(labels))
    hf["label2id"] = collections.OrderedDict((l, i) for i, l in enumerate(labels))
  return hf


def _tokenizer_config(do_lower_case, max_length):
  return collections.OrderedDict([
      ("tokenizer_class", "BertTokenizer"),
      ("do_lower_case", bool(do_lower_case)),
      # None makes accent stripping follow do_lower_case, as BERT's BasicTokenizer does.
      ("strip_accents", None),
      ("tokenize_chinese_chars", True),
      ("model_max_length", max_length),
      ("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"),
      ("cls_token", "[CLS]"), ("mask_token", "[MASK]"),
  ])


def tf_to_hf(init_checkpoint, output_dir, bert_config_file=None, vocab_file=None, task="auto", label_names=None,
             do_lower_case=None, allow_case_mismatch=False, overwrite=False, verbose=False):
  """Converts a TF1 BERT checkpoint into a Hugging Face folder. Returns a Report."""
  prefix = resolve_checkpoint_prefix(init_checkpoint)
  folder = os.path.dirname(prefix)
  bert_config_file = bert_config_file or os.path.join(folder, "bert_config.json")
  vocab_file = vocab_file or os.path.join(folder, "vocab.txt")
  config = read_bert_config(bert_config_file)
  _require_file(vocab_file, "vocab_file")
  _check_vocab_against_config(vocab_file, config["vocab_size"], bert_config_file)
  if task not in TASKS:
    raise errors.UserError("--task must be one of %s, got %r" % ("/".join(TASKS), task))
  lower = tokenization.resolve_do_lower_case(do_lower_case, vocab_file, allow_case_mismatch)

  reader, shapes, _ = list_checkpoint(prefix)
  source = "init_checkpoint %s" % prefix
  _check_layer_count(shapes, config, source)
  resolved = detect_task(shapes, task)
  params = _select(config, shapes, resolved, source)
  for p in params:
    _check_shape(p, shapes[p.tf_name], source)
  converted = set(p.tf_name for p in params)
  skipped = [n for n in shapes if n not in converted]

  labels = None
  if resolved in ("ner", "re"):
    labels = _labels_for(resolved, shapes["output_weights"][0], label_names)
  elif label_names:
    raise errors.UserError("--label_names applies to --task=ner or --task=re only")
  architecture = _ARCHITECTURES[resolved]

  tensors = collections.OrderedDict()
  for p in params:
    value = _read_tensor(reader, prefix, p.tf_name)
    if p.transpose:
      value = np.ascontiguousarray(value.T)
    name = p.hf_name
    if resolved == "base":
      name = name[len("bert."):]  # a bare BertModel is saved without the prefix, as transformers does
    tensors[name] = value

  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  with fileio.atomic_folder(output_dir, overwrite, inputs=_checkpoint_files(prefix) +
                            [bert_config_file, vocab_file]) as staging:
    try:
      save_file(tensors, os.path.join(staging, "model.safetensors"), metadata={"format": "pt"})
    except Exception as e:  # pylint: disable=broad-except  # safetensors' own error type for an I/O failure
      if isinstance(e, OSError):
        raise
      raise OSError(errno.EIO, _reason(e), "model.safetensors") from None
    with open(os.path.join(staging, "config.json"), "w", encoding="utf-8") as f:
      f.write(json.dumps(_hf_config(config, architecture, labels), indent=2) + "\n")
    with open(os.path.join(staging, "tokenizer_config.json"), "w", encoding="utf-8") as f:
      f.write(json.dumps(_tokenizer_config(lower, config["max_position_embeddings"]), indent=2) + "\n")
    shutil.copyfile(vocab_file, os.path.join(staging, "vocab.txt"))
    write_checksums(staging)
  _print_skipped(skipped, verbose)
  return Report(os.path.abspath(output_dir), resolved, architecture, sorted(converted), skipped)


def hf_to_tf(hf_dir, output_dir, checkpoint_name="bert_model.ckpt", overwrite=False, verbose=False):
  """Converts a Hugging Face BERT folder into a TF1 checkpoint folder. Returns a Report."""
  config, hf = read_hf_config(hf_dir)
  vocab_file = os.path.join(hf_dir, "vocab.txt")
  _require_file(vocab_file, "hf_dir vocabulary")
  _check_vocab_against_config(vocab_file, config["vocab_size"], os.path.join(hf_dir, "config.json"))
  tensors = _normalise_hf_names(read_hf_weights(hf_dir))
  source = "%s/model.safetensors" % hf_dir

  architectures = hf.get("architectures") or []
  by_hf = collections.OrderedDict((p.hf_name, p) for p in all_params(config))
  missing = [p.hf_name for p in encoder_params(config) if p.hf_name not in tensors and
             not p.hf_name.startswith("bert.pooler.")]
  if missing:
    raise errors.UserError("%s lacks %d encoder weight(s) the config implies, e.g. %s" % (
        source, len(missing), ", ".join(missing[:3])))
  if "bert.pooler.dense.weight" not in tensors:
    print("note: %s has no pooler weights; bert/pooler is not written (NER and QA heads do not use it)" % source)

  out = collections.OrderedDict()
  skipped = []
  word_embeddings = tensors["bert.embeddings.word_embeddings.weight"][1]
  for name, (original, value) in tensors.items():
    param = by_hf.get(name)
    if param is None:
      if name == "cls.predictions.decoder.weight" and not np.array_equal(value, word_embeddings):
        print("warning: cls.predictions.decoder.weight differs from the word embeddings; TF1 BERT ties them, "
              "so it is not converted")
      skipped.append(original)
      continue
    _check_shape(param, tuple(value.shape[::-1]) if param.transpose else tuple(value.shape), source)
    if value.dtype != np.float32:
      raise errors.UserError("%s: %s has dtype %s, expected a float tensor" % (source, original, value.dtype))
    out[param.tf_name] = np.ascontiguousarray(value.T) if param.transpose else value
  mlm = [p.tf_name for p in head_params(config)["mlm"]]
  present = [n for n in mlm if n in out]
  if present and len(present) != len(mlm):
    raise errors.UserError("%s has an incomplete MLM head (%s missing)" % (
        source, ", ".join(n for n in mlm if n not in out)))
  _check_layer_count(out, config, source)
  _check_hf_layer_count(tensors, config, source, os.path.join(hf_dir, "config.json"))

  if "qa_outputs.weight" in tensors:
    resolved = "qa"
  elif "classifier.weight" in tensors:
    resolved = "ner" if any("TokenClassification" in a for a in architectures) else "re"
  elif "cls.predictions.bias" in tensors or "cls.seq_relationship.weight" in tensors:
    resolved = detect_task(out, "auto")
  else:
    resolved = "base"
  with fileio.atomic_folder(output_dir, overwrite, inputs=[hf_dir]) as staging:
    write_tf_checkpoint(os.path.join(staging, checkpoint_name), out)
    with open(os.path.join(staging, "bert_config.json"), "w", encoding="utf-8") as f:
      f.write(bert_config_json(config))
    shutil.copyfile(vocab_file, os.path.join(staging, "vocab.txt"))
    write_checksums(staging)
  _print_skipped(skipped, verbose)
  lower = _hf_do_lower_case(hf_dir)
  if lower is not None:
    print("do_lower_case: %s (from tokenizer_config.json; pass --do_lower_case=%s to the run_* scripts)" % (
        str(lower).lower(), str(lower).lower()))
  id2label = hf.get("id2label")
  if resolved in ("ner", "re", "qa") and isinstance(id2label, dict):
    print("labels: %s" % ",".join(str(id2label[k]) for k in sorted(id2label, key=int)))
  return Report(os.path.abspath(output_dir), resolved, architectures[0] if architectures else None,
                sorted(out), skipped)


def _hf_do_lower_case(hf_dir):
  path = os.path.join(hf_dir, "tokenizer_config.json")
  if not os.path.isfile(path):
    return None
  try:
    with open(path, "r", encoding="utf-8") as f:
      value = json.load(f).get("do_lower_case")
  except (ValueError, AttributeError):
    return None
  return value if isinstance(value, bool) else None


def strip(init_checkpoint, output_dir, bert_config_file=None, vocab_file=None, checkpoint_name=None,
          overwrite=False, verbose=False):
  """Writes the model variables of a TF1 checkpoint (no optimizer state) to a new folder. Returns a Report."""
  prefix = resolve_checkpoint_prefix(init_checkpoint)
  folder = os.path.dirname(prefix)
  bert_config_file = bert_config_file or os.path.join(folder, "bert_config.json")
  config = read_bert_config(bert_config_file)
  if vocab_file is None and os.path.isfile(os.path.join(folder, "vocab.txt")):
    vocab_file = os.path.join(folder, "vocab.txt")
  if vocab_file is not None:
    _check_vocab_against_config(vocab_file, config["vocab_size"], bert_config_file)

  reader, shapes, _ = list_checkpoint(prefix)
  source = "init_checkpoint %s" % prefix
  _check_layer_count(shapes, config, source)
  params = [p for p in encoder_params(config)]
  missing = [p.tf_name for p in params if p.tf_name not in shapes]
  if missing:
    raise errors.UserError("%s lacks %d model variable(s) the config implies, e.g. %s" % (
        source, len(missing), ", ".join(missing[:3])))
  for head in head_params(config).values():
    params += [p for p in head if p.tf_name in shapes]
  for p in params:
    _check_shape(p, shapes[p.tf_name], source)
  out = collections.OrderedDict((p.tf_name, _read_tensor(reader, prefix, p.tf_name)) for p in params)
  skipped = [n for n in shapes if n not in out]
  with fileio.atomic_folder(output_dir, overwrite, inputs=_checkpoint_files(prefix) +
                            [bert_config_file, vocab_file]) as staging:
    write_tf_checkpoint(os.path.join(staging, checkpoint_name or os.path.basename(prefix)), out)
    with open(os.path.join(staging, "bert_config.json"), "w", encoding="utf-8") as f:
      f.write(bert_config_json(config))
    if vocab_file is not None:
      shutil.copyfile(vocab_file, os.path.join(staging, "vocab.txt"))
    write_checksums(staging)
  _print_skipped(skipped, verbose)
  return Report(os.path.abspath(output_dir), None, None, sorted(out), skipped)


# ---------------------------------------------------------------------------------------------------------------
# Command line.
# ---------------------------------------------------------------------------------------------------------------


FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines the command-line flags. Called from `__main__` only, so importing this module defines none."""
  fv = flag_values
  flags.DEFINE_enum("mode", None, ["tf_to_hf", "hf_to_tf", "strip"],
                    "What to do (may also be given as the first positional argument).", flag_values=fv)
  flags.DEFINE_string("init_checkpoint", None, "TF1 checkpoint prefix, e.g. model.ckpt-1000000 (tf_to_hf, strip).",
                      flag_values=fv)
  flags.DEFINE_string("bert_config_file", None,
                      "bert_config.json of the TF1 checkpoint (default: bert_config.json beside it).", flag_values=fv)
  flags.DEFINE_string("vocab_file", None, "vocab.txt of the TF1 checkpoint (default: vocab.txt beside it).",
                      flag_values=fv)
  flags.DEFINE_string("hf_dir", None, "Hugging Face BERT folder to convert (hf_to_tf).", flag_values=fv)
  flags.DEFINE_string("output_dir", None, "Folder to write; must not exist or be empty unless --overwrite.",
                      flag_values=fv)
  flags.DEFINE_enum("task", "auto", list(TASKS),
                    "Head to convert (tf_to_hf): auto = qa if cls/squad exists, pretraining if cls/predictions "
                    "exists, the bare encoder if no head exists; root output_weights (NER or RE) need "
                    "--task=ner or --task=re.", flag_values=fv)
  flags.DEFINE_list("label_names", None,
                    "Comma-separated label names of a NER/RE head in id order (default: run_ner's "
                    "[PAD],B,I,O,X,[CLS],[SEP] for ner, 0,1,... for re).", flag_values=fv)
  flags.DEFINE_boolean("do_lower_case", None,
                       "Recorded in tokenizer_config.json (tf_to_hf). Default: inferred from the vocabulary; a value "
                       "contradicting the vocabulary's case is refused.", flag_values=fv)
  flags.DEFINE_boolean("allow_case_mismatch", False,
                       "Accept a --do_lower_case that contradicts the vocabulary's case.", flag_values=fv)
  flags.DEFINE_string("checkpoint_name", None,
                      "File name prefix of the written TF1 checkpoint (default: bert_model.ckpt for hf_to_tf, the "
                      "input's name for strip).", flag_values=fv)
  flags.DEFINE_boolean("overwrite", False, "Replace a non-empty --output_dir.", flag_values=fv)
  flags.DEFINE_boolean("verbose", False,
                       "Also print each skipped variable as `skipped: <name>` (by default one line sums them up by "
                       "kind).", flag_values=fv)


def main(argv):
  flags_ = FLAGS
  positional = argv[1:]
  mode = flags_.mode
  if positional:
    if len(positional) > 1 or (mode and positional[0] != mode):
      raise errors.UserError("unexpected argument(s): %s" % " ".join(positional))
    mode = positional[0]
  if mode not in ("tf_to_hf", "hf_to_tf", "strip"):
    raise errors.UserError("give the mode: tf_to_hf, hf_to_tf or strip (as --mode or the first argument)")
  if mode == "tf_to_hf":
    report = tf_to_hf(flags_.init_checkpoint, flags_.output_dir, flags_.bert_config_file, flags_.vocab_file,
                      flags_.task, flags_.label_names, flags_.do_lower_case, flags_.allow_case_mismatch,
                      flags_.overwrite, flags_.verbose)
  elif mode == "hf_to_tf":
    if not flags_.hf_dir:
      raise errors.UserError("--hf_dir is required for hf_to_tf")
    report = hf_to_tf(flags_.hf_dir, flags_.output_dir, flags_.checkpoint_name or "bert_model.ckpt",
                      flags_.overwrite, flags_.verbose)
  else:
    report = strip(flags_.init_checkpoint, flags_.output_dir, flags_.bert_config_file, flags_.vocab_file,
                   flags_.checkpoint_name, flags_.overwrite, flags_.verbose)
  head = "; task=%s architecture=%s" % (report.task, report.architecture) if report.task else ""
  print("converted %d variables, skipped %d%s; wrote %s" % (
      len(report.converted), len(report.skipped), head, report.output_dir))
  return 0


if __name__ == "__main__":
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  define_flags()
  errors.run_main(main)
