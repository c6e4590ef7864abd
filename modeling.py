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
"""The BERT model (BioBERT flavour) as a TF1-style graph on TensorFlow 2.

The graph, the variable names and the numbers are those of the original BERT `modeling.py` that BioBERT ships:
exact-erf GELU, LayerNorm with epsilon 1e-12, truncated-normal initializers, `<scope>/dense/kernel|bias` names,
so released BERT/BioBERT checkpoints load by name and checkpoints written here load in the original code.

It is built through `tf.compat.v1` (`get_variable`, `variable_scope`) and uses no Keras: `dense` and
`layer_norm` are small functions written on `get_variable`.

Mixed precision. `BertModel(..., compute_type=...)` takes tf.float32 (the default, identical to the
original), tf.bfloat16 or tf.float16 (or the strings "fp32", "bf16", "fp16"). Variables always stay float32,
so checkpoints stay float32: a custom variable getter creates them as float32 and hands a cast copy to the
matrix multiplications. What stays in float32, for accuracy:
  * the embedding stage (the lookups are selections, not arithmetic; the sum and its LayerNorm are cheap);
  * the attention scores from the mask addition on: mask, softmax and attention dropout;
  * every LayerNorm (statistics and output) and the residual stream between layers, so each layer's
    input and output, and every accessor of `BertModel`, are float32 tensors;
so the only low-precision work is each dense layer (inputs cast down, output in the compute dtype, bias and
activation included) and the two attention matmuls. Task heads can opt into the same casting with
`precision_scope(compute_type)` (or `get_custom_getter`).
"""

import collections
import contextlib
import copy
import json
import math
import os
import re
import threading

import tensorflow as tf

import bert_config
import errors

BertConfig = bert_config.BertConfig  # the original's `modeling.BertConfig`, defined without TensorFlow


# ----------------------------------------------------------------------------------------------------------------
# Compute precision.

_COMPUTE_DTYPE_NAMES = {
    "fp32": tf.float32, "float32": tf.float32,
    "bf16": tf.bfloat16, "bfloat16": tf.bfloat16,
    "fp16": tf.float16, "float16": tf.float16,
}


def compute_dtype(compute_type):
  """Normalises a compute precision to a tf.DType: tf.float32, tf.bfloat16 or tf.float16.

  Args:
    compute_type: a tf/numpy dtype, or one of the strings "fp32"/"float32", "bf16"/"bfloat16",
      "fp16"/"float16" (as the runners' `--precision` flag passes them), or None for float32.

  Raises:
    errors.UserError: for anything else.
  """
  if compute_type is None:
    return tf.float32
  if isinstance(compute_type, str):
    key = compute_type.strip().lower()
    if key not in _COMPUTE_DTYPE_NAMES:
      raise errors.UserError("unsupported compute precision %r (use fp32, bf16 or fp16)" % compute_type)
    return _COMPUTE_DTYPE_NAMES[key]
  try:
    dtype = tf.as_dtype(compute_type).base_dtype
  except TypeError:
    raise errors.UserError("unsupported compute precision %r (use fp32, bf16 or fp16)" % (compute_type,))
  if dtype not in (tf.float32, tf.bfloat16, tf.float16):
    raise errors.UserError("unsupported compute precision %s (use fp32, bf16 or fp16)" % dtype.name)
  return dtype


def get_custom_getter(compute_type):
  """A `variable_scope` custom getter that keeps variables float32 and computes in `compute_type`.

  A `get_variable` call that asks for a 16-bit float dtype (explicitly, or through the scope's `dtype`)
  creates (or reuses) a float32 variable and receives `tf.cast(variable, compute_type)`; every other
  request is passed through untouched. So checkpoints, optimizer slots and gradients stay float32.

  Args:
    compute_type: see `compute_dtype`.

  Returns:
    The getter, or None for float32 (nothing to do).
  """
  compute_type = compute_dtype(compute_type)
  if compute_type == tf.float32:
    return None

  def float32_variable_getter(getter, name, *args, **kwargs):
    requested = kwargs.get("dtype")
    requested = tf.as_dtype(requested).base_dtype if requested is not None else None
    if requested not in (tf.float16, tf.bfloat16):
      return getter(name, *args, **kwargs)
    kwargs["dtype"] = tf.float32
    variable = getter(name, *args, **kwargs)
    return tf.cast(variable, requested)

  return float32_variable_getter


@contextlib.contextmanager
def precision_scope(compute_type):
  """Makes `get_variable` calls inside compute in `compute_type` on float32 variables.

  Re-enters the current variable scope (no new name, no new name scope) with the custom getter of
  `get_custom_getter` and the scope dtype set to `compute_type`, so variable names do not change. Use it
  around a task head so its dense layers run in the same precision as the model:

    with modeling.precision_scope("bf16"):
      logits = modeling.dense(model.get_pooled_output(), num_labels, name="classifier")

  Yields:
    the compute tf.DType.
  """
  compute_type = compute_dtype(compute_type)
  with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(),
                                   custom_getter=get_custom_getter(compute_type),
                                   dtype=compute_type,
                                   auxiliary_name_scope=False):
    yield compute_type


def _to_float32(tensor):
  return tf.cast(tensor, tf.float32) if tensor.dtype.base_dtype != tf.float32 else tensor


# ----------------------------------------------------------------------------------------------------------------
# The model.


class BertModel(object):
  """BERT model ("Bidirectional Encoder Representations from Transformers").

  Example usage:

  ```python
  # Already been converted into WordPiece token ids
  input_ids = tf.constant([[31, 51, 99], [15, 5, 0]])
  input_mask = tf.constant([[1, 1, 1], [1, 1, 0]])
  token_type_ids = tf.constant([[0, 0, 1], [0, 2, 0]])

  config = modeling.BertConfig(vocab_size=32000, hidden_size=512,
    num_hidden_layers=8, num_attention_heads=6, intermediate_size=1024)

  model = modeling.BertModel(config=config, is_training=True,
    input_ids=input_ids, input_mask=input_mask, token_type_ids=token_type_ids)

  label_embeddings = tf.compat.v1.get_variable(...)
  pooled_output = model.get_pooled_output()
  logits = tf.matmul(pooled_output, label_embeddings)
  ...
  ```
  """

  def __init__(self,
               config,
               is_training,
               input_ids,
               input_mask=None,
               token_type_ids=None,
               use_one_hot_embeddings=True,
               scope=None,
               compute_type=tf.float32):
    """Constructor for BertModel.

    Args:
      config: `BertConfig` instance.
      is_training: bool. true for training model, false for eval model. Controls
        whether dropout will be applied.
      input_ids: int32 Tensor of shape [batch_size, seq_length].
      input_mask: (optional) int32 Tensor of shape [batch_size, seq_length].
      token_type_ids: (optional) int32 Tensor of shape [batch_size, seq_length].
      use_one_hot_embeddings: (optional) bool. Whether to use one-hot word
        embeddings or tf.nn.embedding_lookup() for the word embeddings. On the TPU,
        it is much faster if this is True, on the CPU or GPU, it is faster if
        this is False.
      scope: (optional) variable scope. Defaults to "bert".
      compute_type: (optional) precision of the encoder's matrix multiplications: tf.float32 (default),
        tf.bfloat16, tf.float16 or "fp32"/"bf16"/"fp16". Variables stay float32 and all accessors
        return float32 tensors.

    Raises:
      ValueError: The config is invalid or one of the input tensor shapes
        is invalid (errors.UserError, a ValueError, for a sequence longer than
        `max_position_embeddings` or a `hidden_size` not divisible by the heads).
    """
    config = copy.deepcopy(config)
    if not is_training:
      config.hidden_dropout_prob = 0.0
      config.attention_probs_dropout_prob = 0.0
    self.compute_type = compute_dtype(compute_type)

    input_shape = get_shape_list(input_ids, expected_rank=2)
    batch_size = input_shape[0]
    seq_length = input_shape[1]

    if input_mask is None:
      input_mask = tf.ones(shape=[batch_size, seq_length], dtype=tf.int32)

    if token_type_ids is None:
      token_type_ids = tf.zeros(shape=[batch_size, seq_length], dtype=tf.int32)

    with tf.compat.v1.variable_scope(scope, default_name="bert",
                                     custom_getter=get_custom_getter(self.compute_type),
                                     dtype=self.compute_type):
      with tf.compat.v1.variable_scope("embeddings"):
        # Perform embedding lookup on the word ids.
        (self.embedding_output, self.embedding_table) = embedding_lookup(
            input_ids=input_ids,
            vocab_size=config.vocab_size,
            embedding_size=config.hidden_size,
            initializer_range=config.initializer_range,
            word_embedding_name="word_embeddings",
            use_one_hot_embeddings=use_one_hot_embeddings)

        # Add positional embeddings and token type embeddings, then layer
        # normalize and perform dropout.
        self.embedding_output = embedding_postprocessor(
            input_tensor=self.embedding_output,
            use_token_type=True,
            token_type_ids=token_type_ids,
            token_type_vocab_size=config.type_vocab_size,
            token_type_embedding_name="token_type_embeddings",
            use_position_embeddings=True,
            position_embedding_name="position_embeddings",
            initializer_range=config.initializer_range,
            max_position_embeddings=config.max_position_embeddings,
            dropout_prob=config.hidden_dropout_prob)

      with tf.compat.v1.variable_scope("encoder"):
        # This converts a 2D mask of shape [batch_size, seq_length] to a 3D
        # mask of shape [batch_size, seq_length, seq_length] which is used
        # for the attention scores.
        attention_mask = create_attention_mask_from_input_mask(
            input_ids, input_mask)

        # Run the stacked transformer.
        # `sequence_output` shape = [batch_size, seq_length, hidden_size].
        self.all_encoder_layers = transformer_model(
            input_tensor=self.embedding_output,
            attention_mask=attention_mask,
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            intermediate_act_fn=get_activation(config.hidden_act),
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
            initializer_range=config.initializer_range,
            do_return_all_layers=True)

      self.sequence_output = self.all_encoder_layers[-1]
      # The "pooler" converts the encoded sequence tensor of shape
      # [batch_size, seq_length, hidden_size] to a tensor of shape
      # [batch_size, hidden_size]. This is necessary for segment-level
      # (or segment-pair-level) classification tasks where we need a fixed
      # dimensional representation of the segment.
      with tf.compat.v1.variable_scope("pooler"):
        # We "pool" the model by simply taking the hidden state corresponding
        # to the first token. We assume that this has been pre-trained
        first_token_tensor = tf.squeeze(self.sequence_output[:, 0:1, :], axis=1)
        self.pooled_output = _to_float32(dense(
            first_token_tensor,
            config.hidden_size,
            activation=tf.tanh,
            kernel_initializer=create_initializer(config.initializer_range)))

  def get_pooled_output(self):
    """float32 Tensor [batch_size, hidden_size]: tanh(dense(first token's final hidden state))."""
    return self.pooled_output

  def get_sequence_output(self):
    """Gets final hidden layer of encoder.

    Returns:
      float Tensor of shape [batch_size, seq_length, hidden_size] corresponding
      to the final hidden of the transformer encoder.
    """
    return self.sequence_output

  def get_all_encoder_layers(self):
    """List of num_hidden_layers float32 Tensors [batch_size, seq_length, hidden_size]."""
    return self.all_encoder_layers

  def get_embedding_output(self):
    """Gets output of the embedding lookup (i.e., input to the transformer).

    Returns:
      float Tensor of shape [batch_size, seq_length, hidden_size] corresponding
      to the output of the embedding layer, after summing the word
      embeddings with the positional embeddings and the token type embeddings,
      then performing layer normalization. This is the input to the transformer.
    """
    return self.embedding_output

  def get_embedding_table(self):
    """The float32 word embedding variable [vocab_size, hidden_size] (the tied MLM output matrix)."""
    return self.embedding_table


def gelu(input_tensor):
  """Gaussian Error Linear Unit, exact form.

  This is a smoother version of the RELU.
  Original paper: https://arxiv.org/abs/1606.08415

  Args:
    input_tensor: float Tensor to perform activation.

  Returns:
    `input_tensor` with the GELU activation applied: x * 0.5 * (1 + erf(x / sqrt(2))).
  """
  cdf = 0.5 * (1.0 + tf.math.erf(input_tensor / tf.cast(tf.sqrt(2.0), input_tensor.dtype)))
  return input_tensor * cdf


_ACTIVATION_NAMES = bert_config.ACTIVATION_NAMES


def get_activation(activation_string):
  """Maps a string to a Python function, e.g., "relu" => `tf.nn.relu`.

  Args:
    activation_string: String name of the activation function.

  Returns:
    A Python function corresponding to the activation function. If
    `activation_string` is None, empty, or "linear", this will return None.
    If `activation_string` is not a string, it will return `activation_string`.

  Raises:
    ValueError: The `activation_string` does not correspond to a known
      activation.
  """

  # We assume that anything that"s not a string is already an activation
  # function, so we just return it.
  if not isinstance(activation_string, str):
    return activation_string

  if not activation_string:
    return None

  act = activation_string.lower()
  if act == "linear":
    return None
  elif act == "relu":
    return tf.nn.relu
  elif act == "gelu":
    return gelu
  elif act == "tanh":
    return tf.tanh
  else:
    raise errors.UserError("Unsupported activation: %s" % act)


def variable_name(variable_or_name):
  """The checkpoint name of a variable, or of a tensor or variable name: "bert/x:0" -> "bert/x"."""
  name = variable_or_name if isinstance(variable_or_name, str) else variable_or_name.name
  m = re.match("^(.*):\\d+$", name)
  return m.group(1) if m is not None else name


def get_assignment_map_from_checkpoint(tvars, init_checkpoint):
  """Compute the union of the current variables and checkpoint variables.

  Returns:
    (assignment_map, initialized_variable_names): an OrderedDict checkpoint name -> graph name for every
    variable present in both, and a dict with `name` and `name:0` -> 1 for each of them.
  """
  initialized_variable_names = {}

  name_to_variable = collections.OrderedDict()
  for var in tvars:
    name_to_variable[variable_name(var)] = var

  init_vars = tf.train.list_variables(init_checkpoint)

  assignment_map = collections.OrderedDict()
  for x in init_vars:
    (name, var) = (x[0], x[1])
    if name not in name_to_variable:
      continue
    assignment_map[name] = name
    initialized_variable_names[name] = 1
    initialized_variable_names[name + ":0"] = 1

  return (assignment_map, initialized_variable_names)


class DropoutSeeds(object):
  """Seeds for step-dependent dropout: each dropout mask a function of (seed, op, replica, step).

  A stateful random op (what `tf.nn.dropout` creates) draws from a generator that lives in the session and
  restarts with it, so a run resumed from a checkpoint would draw other masks than an uninterrupted one. Inside
  `step_seeded_dropout(seeds)`, `dropout` draws its mask with TensorFlow's stateless random ops instead, seeded
  by `next_seed()`: the run's seed mixed with the op's rank among the dropouts of this model (not graph-wide op
  ids, which depend on how many ops were created before the model), the replica (so replicas and workers draw
  differently) and `step`, the count of batches trained on. The training runtime supplies the step.
  """

  def __init__(self, seed, step, replica_id=0):
    """Args:
      seed: Python int, the run's seed (None: a random one, for unseeded runs).
      step: int64 scalar tensor, the number of batches trained on before this one.
      replica_id: int or int32 scalar tensor, the replica's id in its sync group.
    """
    self.seed = int.from_bytes(os.urandom(4), "little") if seed is None else int(seed)
    self.step = tf.cast(step, tf.int64)
    self.replica_id = tf.cast(replica_id, tf.int64)
    self.count = 0

  def next_seed(self):
    """The [2] int64 seed of the next dropout op."""
    key = (self.seed * 1000003 + self.count * 7919) % (1 << 62)
    self.count += 1
    return tf.stack([tf.constant(key, tf.int64) + self.replica_id * 104729, self.step])


_dropout_seeds = threading.local()  # a MirroredStrategy builds each replica's model in a thread of its own


@contextlib.contextmanager
def step_seeded_dropout(seeds):
  """Makes every `dropout` built inside draw its mask from `seeds` (a `DropoutSeeds`) with stateless ops."""
  previous = getattr(_dropout_seeds, "current", None)
  _dropout_seeds.current = seeds
  try:
    yield seeds
  finally:
    _dropout_seeds.current = previous


def dropout(input_tensor, dropout_prob):
  """Perform dropout.

  Args:
    input_tensor: float Tensor.
    dropout_prob: Python float. The probability of dropping out a value (NOT of
      *keeping* a dimension as in `tf.nn.dropout`).

  Returns:
    A version of `input_tensor` with dropout applied (kept values scaled by 1 / (1 - dropout_prob)): the mask
    is seeded by the step inside `step_seeded_dropout`, else drawn as `tf.nn.dropout` draws it.
  """
  if dropout_prob is None or dropout_prob == 0.0:
    return input_tensor

  seeds = getattr(_dropout_seeds, "current", None)
  if seeds is None:
    # TF2's tf.nn.dropout takes the DROP rate (TF1's second argument was keep_prob).
    return tf.nn.dropout(input_tensor, rate=dropout_prob)
  # The same rule as tf.nn.dropout: keep where uniform [0, 1) >= rate, scale the kept values by 1 / (1 - rate).
  uniform = tf.random.stateless_uniform(tf.shape(input_tensor), seed=seeds.next_seed(), dtype=input_tensor.dtype)
  keep = tf.cast(uniform >= dropout_prob, input_tensor.dtype)
  return input_tensor * (1.0 / (1.0 - dropout_prob)) * keep


def layer_norm(input_tensor, name=None):
  """Run layer normalization on the last dimension of the tensor, in float32.

  Same as the original's `tf.contrib.layers.layer_norm(begin_norm_axis=-1, begin_params_axis=-1)`:
  population mean and variance over the last axis, epsilon 1e-12, variables `<name>/beta` (zeros) and
  `<name>/gamma` (ones), created in that order.

  Args:
    input_tensor: float Tensor [..., width], any float dtype.
    name: scope name; "LayerNorm" when None.

  Returns:
    float32 Tensor of the same shape (float32 whatever the input dtype: the statistics and the
    residual stream are kept in full precision).
  """
  x = _to_float32(input_tensor)
  width = x.shape[-1]
  with tf.compat.v1.variable_scope(name, default_name="LayerNorm"):
    beta = tf.compat.v1.get_variable(
        "beta", shape=[width], dtype=tf.float32, initializer=tf.compat.v1.zeros_initializer())
    gamma = tf.compat.v1.get_variable(
        "gamma", shape=[width], dtype=tf.float32, initializer=tf.compat.v1.ones_initializer())
    mean, variance = tf.nn.moments(x, [x.shape.ndims - 1], keepdims=True)
    return tf.nn.batch_normalization(
        x, mean, variance, offset=beta, scale=gamma, variance_epsilon=1e-12)


def layer_norm_and_dropout(input_tensor, dropout_prob, name=None):
  """Runs layer normalization followed by dropout."""
  output_tensor = layer_norm(input_tensor, name)
  output_tensor = dropout(output_tensor, dropout_prob)
  return output_tensor


def create_initializer(initializer_range=0.02):
  """Creates a `truncated_normal_initializer` with the given range (TF1 form: redrawn beyond 2 stddev)."""
  return tf.compat.v1.truncated_normal_initializer(stddev=initializer_range)


def dense(input_tensor, units, activation=None, name=None, kernel_initializer=None, use_bias=True):
  """A fully connected layer with the variable names of `tf.layers.dense`.

  Creates `<name>/kernel` [in, units] and `<name>/bias` [units] (zeros) in the current variable scope,
  `name` defaulting to "dense" (the original gives every unnamed dense layer its own scope, so its names
  are always `.../dense/kernel`). Inputs of rank > 2 are multiplied on their last axis.

  Under a precision scope (see `precision_scope`) the kernel and bias arrive cast to the compute dtype;
  the input is cast to match, and the output is in that dtype.

  Args:
    input_tensor: float Tensor [..., in].
    units: output width.
    activation: None or a function applied after the bias.
    name: variable scope name.
    kernel_initializer: initializer of the kernel (None: the `get_variable` default, glorot uniform).
    use_bias: whether to add a bias.

  Returns:
    Tensor [..., units].
  """
  input_width = input_tensor.shape[-1]
  if input_width is None:
    raise ValueError("dense: the last dimension of `%s` must be known" % _tensor_name(input_tensor))
  with tf.compat.v1.variable_scope(name or "dense"):
    kernel = tf.compat.v1.get_variable(
        "kernel", shape=[input_width, units], initializer=kernel_initializer)
    x = tf.cast(input_tensor, kernel.dtype) if input_tensor.dtype.base_dtype != kernel.dtype.base_dtype \
        else input_tensor
    if x.shape.ndims == 2:
      output = tf.matmul(x, kernel)
    else:
      output = tf.tensordot(x, kernel, [[x.shape.ndims - 1], [0]])
    if use_bias:
      bias = tf.compat.v1.get_variable(
          "bias", shape=[units], initializer=tf.compat.v1.zeros_initializer())
      output = tf.nn.bias_add(output, bias)
    if activation is not None:
      output = activation(output)
    return output


def embedding_lookup(input_ids,
                     vocab_size,
                     embedding_size=128,
                     initializer_range=0.02,
                     word_embedding_name="word_embeddings",
                     use_one_hot_embeddings=False):
  """Looks up words embeddings for id tensor.

  The table is a float32 variable and the lookup is done in float32 whatever the compute precision
  (a lookup is a selection: nothing to gain from 16 bits, and the table is returned for the tied MLM head).

  Args:
    input_ids: int32 Tensor of shape [batch_size, seq_length] containing word
      ids.
    vocab_size: int. Size of the embedding vocabulary.
    embedding_size: int. Width of the word embeddings.
    initializer_range: float. Embedding initialization range.
    word_embedding_name: string. Name of the embedding table.
    use_one_hot_embeddings: bool. If True, use one-hot method for word
      embeddings. If False, use `tf.nn.embedding_lookup()`.

  Returns:
    (float32 Tensor [batch_size, seq_length, embedding_size], the float32 table variable [vocab_size, embedding_size]).
  """
  # This function assumes that the input is of shape [batch_size, seq_length,
  # num_inputs].
  #
  # If the input is a 2D tensor of shape [batch_size, seq_length], we
  # reshape to [batch_size, seq_length, 1].
  if input_ids.shape.ndims == 2:
    input_ids = tf.expand_dims(input_ids, axis=[-1])

  embedding_table = tf.compat.v1.get_variable(
      name=word_embedding_name,
      shape=[vocab_size, embedding_size],
      dtype=tf.float32,
      initializer=create_initializer(initializer_range))

  if use_one_hot_embeddings:
    flat_input_ids = tf.reshape(input_ids, [-1])
    one_hot_input_ids = tf.one_hot(flat_input_ids, depth=vocab_size)
    output = tf.matmul(one_hot_input_ids, embedding_table)
  else:
    output = tf.nn.embedding_lookup(embedding_table, input_ids)

  input_shape = get_shape_list(input_ids)

  output = tf.reshape(output,
                      input_shape[0:-1] + [input_shape[-1] * embedding_size])
  return (output, embedding_table)


def embedding_postprocessor(input_tensor,
                            use_token_type=False,
                            token_type_ids=None,
                            token_type_vocab_size=16,
                            token_type_embedding_name="token_type_embeddings",
                            use_position_embeddings=True,
                            position_embedding_name="position_embeddings",
                            initializer_range=0.02,
                            max_position_embeddings=512,
                            dropout_prob=0.1):
  """Performs various post-processing on a word embedding tensor (in float32).

  Args:
    input_tensor: float Tensor of shape [batch_size, seq_length,
      embedding_size].
    use_token_type: bool. Whether to add embeddings for `token_type_ids`.
    token_type_ids: (optional) int32 Tensor of shape [batch_size, seq_length].
      Must be specified if `use_token_type` is True.
    token_type_vocab_size: int. The vocabulary size of `token_type_ids`.
    token_type_embedding_name: string. The name of the embedding table variable
      for token type ids.
    use_position_embeddings: bool. Whether to add position embeddings for the
      position of each token in the sequence.
    position_embedding_name: string. The name of the embedding table variable
      for positional embeddings.
    initializer_range: float. Range of the weight initialization.
    max_position_embeddings: int. Maximum sequence length that might ever be
      used with this model. This can be longer than the sequence length of
      input_tensor, but cannot be shorter.
    dropout_prob: float. Dropout probability applied to the final output tensor.

  Returns:
    float32 Tensor with the same shape as `input_tensor`.

  Raises:
    ValueError: One of the tensor shapes or input values is invalid (errors.UserError when the
      sequence is longer than `max_position_embeddings`).
  """
  input_shape = get_shape_list(input_tensor, expected_rank=3)
  batch_size = input_shape[0]
  seq_length = input_shape[1]
  width = input_shape[2]

  output = _to_float32(input_tensor)

  if use_token_type:
    if token_type_ids is None:
      raise ValueError("`token_type_ids` must be specified if"
                       "`use_token_type` is True.")
    token_type_table = tf.compat.v1.get_variable(
        name=token_type_embedding_name,
        shape=[token_type_vocab_size, width],
        dtype=tf.float32,
        initializer=create_initializer(initializer_range))
    # This vocab will be small so we always do one-hot here, since it is always
    # faster for a small vocabulary.
    flat_token_type_ids = tf.reshape(token_type_ids, [-1])
    one_hot_ids = tf.one_hot(flat_token_type_ids, depth=token_type_vocab_size)
    token_type_embeddings = tf.matmul(one_hot_ids, token_type_table)
    token_type_embeddings = tf.reshape(token_type_embeddings,
                                       [batch_size, seq_length, width])
    output += token_type_embeddings

  if use_position_embeddings:
    if isinstance(seq_length, int):
      # Known at graph-build time: fail now, with both numbers, rather than at the first step.
      if seq_length > max_position_embeddings:
        raise errors.UserError(
            "sequence length %d is longer than max_position_embeddings %d of the BERT config "
            "(use a max_seq_length <= %d)" % (seq_length, max_position_embeddings, max_position_embeddings))
      dependencies = []
    else:
      dependencies = [tf.debugging.assert_less_equal(
          seq_length, max_position_embeddings,
          message="sequence length is longer than max_position_embeddings %d" % max_position_embeddings)]
    with tf.control_dependencies(dependencies):
      full_position_embeddings = tf.compat.v1.get_variable(
          name=position_embedding_name,
          shape=[max_position_embeddings, width],
          dtype=tf.float32,
          initializer=create_initializer(initializer_range))
      # Since the position embedding table is a learned variable, we create it
      # using a (long) sequence length `max_position_embeddings`. The actual
      # sequence length might be shorter than this, for faster training of
      # tasks that do not have long sequences.
      #
      # So `full_position_embeddings` is effectively an embedding table
      # for position [0, 1, 2, ..., max_position_embeddings-1], and the current
      # sequence has positions [0, 1, 2, ... seq_length-1], so we can just
      # perform a slice.
      position_embeddings = tf.slice(full_position_embeddings, [0, 0],
                                     [seq_length, -1])
      num_dims = len(output.shape.as_list())

      # Only the last two dimensions are relevant (`seq_length` and `width`), so
      # we broadcast among the first dimensions, which is typically just
      # the batch size.
      position_broadcast_shape = []
      for _ in range(num_dims - 2):
        position_broadcast_shape.append(1)
      position_broadcast_shape.extend([seq_length, width])
      position_embeddings = tf.reshape(position_embeddings,
                                       position_broadcast_shape)
      output += position_embeddings

  output = layer_norm_and_dropout(output, dropout_prob)
  return output


def create_attention_mask_from_input_mask(from_tensor, to_mask):
  """Create 3D attention mask from a 2D tensor mask.

  Args:
    from_tensor: 2D or 3D Tensor of shape [batch_size, from_seq_length, ...].
    to_mask: int32 Tensor of shape [batch_size, to_seq_length].

  Returns:
    float32 Tensor of shape [batch_size, from_seq_length, to_seq_length]: every query row is `to_mask`
    (padding is masked as a key only; padded query positions still get outputs).
  """
  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  batch_size = from_shape[0]
  from_seq_length = from_shape[1]

  to_shape = get_shape_list(to_mask, expected_rank=2)
  to_seq_length = to_shape[1]

  to_mask = tf.cast(
      tf.reshape(to_mask, [batch_size, 1, to_seq_length]), tf.float32)

  # We don't assume that `from_tensor` is a mask (although it could be). We
  # don't actually care if we attend *from* padding tokens (only *to* padding)
  # tokens so we create a tensor of all ones.
  #
  # `broadcast_ones` = [batch_size, from_seq_length, 1]
  broadcast_ones = tf.ones(
      shape=[batch_size, from_seq_length, 1], dtype=tf.float32)

  # Here we broadcast along two dimensions to create the mask.
  mask = broadcast_ones * to_mask

  return mask


def attention_layer(from_tensor,
                    to_tensor,
                    attention_mask=None,
                    num_attention_heads=1,
                    size_per_head=512,
                    query_act=None,
                    key_act=None,
                    value_act=None,
                    attention_probs_dropout_prob=0.0,
                    initializer_range=0.02,
                    do_return_2d_tensor=False,
                    batch_size=None,
                    from_seq_length=None,
                    to_seq_length=None):
  """Performs multi-headed attention from `from_tensor` to `to_tensor`.

  This is an implementation of multi-headed attention based on "Attention
  is all you Need". If `from_tensor` and `to_tensor` are the same, then
  this is self-attention. Each timestep in `from_tensor` attends to the
  corresponding sequence in `to_tensor`, and returns a fixed-with vector.

  This function first projects `from_tensor` into a "query" tensor and
  `to_tensor` into "key" and "value" tensors (dense layers `query`, `key`, `value`). These are
  (effectively) a list of tensors of length `num_attention_heads`, where each
  tensor is of shape [batch_size, seq_length, size_per_head].

  Then, the query and key tensors are dot-producted and scaled by 1/sqrt(size_per_head). These are
  softmaxed (after adding -10000 where `attention_mask` is 0) to obtain attention probabilities. The
  value tensors are then interpolated by these probabilities, then concatenated back to a single
  tensor and returned.

  Precision: projections and the two matmuls run in the scope's compute dtype; the mask addition,
  softmax and dropout in float32.

  Args:
    from_tensor: float Tensor of shape [batch_size, from_seq_length,
      from_width].
    to_tensor: float Tensor of shape [batch_size, to_seq_length, to_width].
    attention_mask: (optional) int32 Tensor of shape [batch_size,
      from_seq_length, to_seq_length]. The values should be 1 or 0. The
      attention scores will effectively be set to -infinity for any positions in
      the mask that are 0, and will be unchanged for positions that are 1.
    num_attention_heads: int. Number of attention heads.
    size_per_head: int. Size of each attention head.
    query_act: (optional) Activation function for the query transform.
    key_act: (optional) Activation function for the key transform.
    value_act: (optional) Activation function for the value transform.
    attention_probs_dropout_prob: (optional) float. Dropout probability of the
      attention probabilities.
    initializer_range: float. Range of the weight initializer.
    do_return_2d_tensor: bool. If True, the output will be of shape [batch_size
      * from_seq_length, num_attention_heads * size_per_head]. If False, the
      output will be of shape [batch_size, from_seq_length, num_attention_heads
      * size_per_head].
    batch_size: (Optional) int. If the input is 2D, this might be the batch size
      of the 3D version of the `from_tensor` and `to_tensor`.
    from_seq_length: (Optional) If the input is 2D, this might be the seq length
      of the 3D version of the `from_tensor`.
    to_seq_length: (Optional) If the input is 2D, this might be the seq length
      of the 3D version of the `to_tensor`.

  Returns:
    float Tensor of shape [batch_size, from_seq_length,
      num_attention_heads * size_per_head] (or 2-D, see `do_return_2d_tensor`), in the compute dtype.

  Raises:
    ValueError: Any of the arguments or tensor shapes are invalid.
  """

  def transpose_for_scores(input_tensor, batch_size, num_attention_heads,
                           seq_length, width):
    output_tensor = tf.reshape(
        input_tensor, [batch_size, seq_length, num_attention_heads, width])

    output_tensor = tf.transpose(a=output_tensor, perm=[0, 2, 1, 3])
    return output_tensor

  from_shape = get_shape_list(from_tensor, expected_rank=[2, 3])
  to_shape = get_shape_list(to_tensor, expected_rank=[2, 3])

  if len(from_shape) != len(to_shape):
    raise ValueError(
        "The rank of `from_tensor` must match the rank of `to_tensor`.")

  if len(from_shape) == 3:
    batch_size = from_shape[0]
    from_seq_length = from_shape[1]
    to_seq_length = to_shape[1]
  elif len(from_shape) == 2:
    if (batch_size is None or from_seq_length is None or to_seq_length is None):
      raise ValueError(
          "When passing in rank 2 tensors to attention_layer, the values "
          "for `batch_size`, `from_seq_length`, and `to_seq_length` "
          "must all be specified.")

  # Scalar dimensions referenced here:
  #   B = batch size (number of sequences)
  #   F = `from_tensor` sequence length
  #   T = `to_tensor` sequence length
  #   N = `num_attention_heads`
  #   H = `size_per_head`

  from_tensor_2d = reshape_to_matrix(from_tensor)
  to_tensor_2d = reshape_to_matrix(to_tensor)

  # `query_layer` = [B*F, N*H]
  query_layer = dense(
      from_tensor_2d,
      num_attention_heads * size_per_head,
      activation=query_act,
      name="query",
      kernel_initializer=create_initializer(initializer_range))

  # `key_layer` = [B*T, N*H]
  key_layer = dense(
      to_tensor_2d,
      num_attention_heads * size_per_head,
      activation=key_act,
      name="key",
      kernel_initializer=create_initializer(initializer_range))

  # `value_layer` = [B*T, N*H]
  value_layer = dense(
      to_tensor_2d,
      num_attention_heads * size_per_head,
      activation=value_act,
      name="value",
      kernel_initializer=create_initializer(initializer_range))

  # `query_layer` = [B, N, F, H]
  query_layer = transpose_for_scores(query_layer, batch_size,
                                     num_attention_heads, from_seq_length,
                                     size_per_head)

  # `key_layer` = [B, N, T, H]
  key_layer = transpose_for_scores(key_layer, batch_size, num_attention_heads,
                                   to_seq_length, size_per_head)

  # Take the dot product between "query" and "key" to get the raw
  # attention scores.
  # `attention_scores` = [B, N, F, T]
  attention_scores = tf.matmul(query_layer, key_layer, transpose_b=True)
  attention_scores = tf.multiply(attention_scores,
                                 tf.cast(1.0 / math.sqrt(float(size_per_head)), attention_scores.dtype))
  # From here to the probabilities: float32 (the -10000 mask and the softmax sum need the range/precision).
  attention_scores = _to_float32(attention_scores)

  if attention_mask is not None:
    # `attention_mask` = [B, 1, F, T]
    attention_mask = tf.expand_dims(attention_mask, axis=[1])

    # Since attention_mask is 1.0 for positions we want to attend and 0.0 for
    # masked positions, this operation will create a tensor which is 0.0 for
    # positions we want to attend and -10000.0 for masked positions.
    adder = (1.0 - tf.cast(attention_mask, tf.float32)) * -10000.0

    # Since we are adding it to the raw scores before the softmax, this is
    # effectively the same as removing these entirely.
    attention_scores += adder

  # Normalize the attention scores to probabilities.
  # `attention_probs` = [B, N, F, T]
  attention_probs = tf.nn.softmax(attention_scores)

  # This is actually dropping out entire tokens to attend to, which might
  # seem a bit unusual, but is taken from the original Transformer paper.
  attention_probs = dropout(attention_probs, attention_probs_dropout_prob)

  # `value_layer` = [B, T, N, H]
  value_layer = tf.reshape(
      value_layer,
      [batch_size, to_seq_length, num_attention_heads, size_per_head])

  # `value_layer` = [B, N, T, H]
  value_layer = tf.transpose(a=value_layer, perm=[0, 2, 1, 3])

  # `context_layer` = [B, N, F, H]
  attention_probs = tf.cast(attention_probs, value_layer.dtype) \
      if value_layer.dtype.base_dtype != tf.float32 else attention_probs
  context_layer = tf.matmul(attention_probs, value_layer)

  # `context_layer` = [B, F, N, H]
  context_layer = tf.transpose(a=context_layer, perm=[0, 2, 1, 3])

  if do_return_2d_tensor:
    # `context_layer` = [B*F, N*H]
    context_layer = tf.reshape(
        context_layer,
        [batch_size * from_seq_length, num_attention_heads * size_per_head])
  else:
    # `context_layer` = [B, F, N*H]
    context_layer = tf.reshape(
        context_layer,
        [batch_size, from_seq_length, num_attention_heads * size_per_head])

  return context_layer


def transformer_model(input_tensor,
                      attention_mask=None,
                      hidden_size=768,
                      num_hidden_layers=12,
                      num_attention_heads=12,
                      intermediate_size=3072,
                      intermediate_act_fn=gelu,
                      hidden_dropout_prob=0.1,
                      attention_probs_dropout_prob=0.1,
                      initializer_range=0.02,
                      do_return_all_layers=False):
  """Multi-headed, multi-layer Transformer from "Attention is All You Need".

  This is almost an exact implementation of the original Transformer encoder.

  See the original paper:
  https://arxiv.org/abs/1706.03762

  Also see:
  https://github.com/tensorflow/tensor2tensor/blob/master/tensor2tensor/models/transformer.py

  Precision: the residual stream (each layer's input and output, the LayerNorms) is float32; the
  dense layers and attention matmuls run in the enclosing scope's compute dtype.

  Args:
    input_tensor: float Tensor of shape [batch_size, seq_length, hidden_size].
    attention_mask: (optional) int32 Tensor of shape [batch_size, seq_length,
      seq_length], with 1 for positions that can be attended to and 0 in
      positions that should not be.
    hidden_size: int. Hidden size of the Transformer.
    num_hidden_layers: int. Number of layers (blocks) in the Transformer.
    num_attention_heads: int. Number of attention heads in the Transformer.
    intermediate_size: int. The size of the "intermediate" (a.k.a., feed
      forward) layer.
    intermediate_act_fn: function. The non-linear activation function to apply
      to the output of the intermediate/feed-forward layer.
    hidden_dropout_prob: float. Dropout probability for the hidden layers.
    attention_probs_dropout_prob: float. Dropout probability of the attention
      probabilities.
    initializer_range: float. Range of the initializer (stddev of truncated
      normal).
    do_return_all_layers: Whether to also return all layers or just the final
      layer.

  Returns:
    float32 Tensor of shape [batch_size, seq_length, hidden_size], the final
    hidden layer of the Transformer (or the list of all layers' outputs if `do_return_all_layers`).

  Raises:
    ValueError: A Tensor shape or parameter is invalid.
  """
  if hidden_size % num_attention_heads != 0:
    raise errors.UserError(
        "The hidden size (%d) is not a multiple of the number of attention "
        "heads (%d)" % (hidden_size, num_attention_heads))

  attention_head_size = int(hidden_size / num_attention_heads)
  input_shape = get_shape_list(input_tensor, expected_rank=3)
  batch_size = input_shape[0]
  seq_length = input_shape[1]
  input_width = input_shape[2]

  # The Transformer performs sum residuals on all layers so the input needs
  # to be the same as the hidden size.
  if input_width != hidden_size:
    raise ValueError("The width of the input tensor (%d) != hidden size (%d)" %
                     (input_width, hidden_size))

  # We keep the representation as a 2D tensor to avoid re-shaping it back and
  # forth from a 3D tensor to a 2D tensor. Re-shapes are normally free on
  # the GPU/CPU but may not be free on the TPU, so we want to minimize them to
  # help the optimizer.
  prev_output = reshape_to_matrix(_to_float32(input_tensor))

  all_layer_outputs = []
  for layer_idx in range(num_hidden_layers):
    with tf.compat.v1.variable_scope("layer_%d" % layer_idx):
      layer_input = prev_output

      with tf.compat.v1.variable_scope("attention"):
        attention_heads = []
        with tf.compat.v1.variable_scope("self"):
          attention_head = attention_layer(
              from_tensor=layer_input,
              to_tensor=layer_input,
              attention_mask=attention_mask,
              num_attention_heads=num_attention_heads,
              size_per_head=attention_head_size,
              attention_probs_dropout_prob=attention_probs_dropout_prob,
              initializer_range=initializer_range,
              do_return_2d_tensor=True,
              batch_size=batch_size,
              from_seq_length=seq_length,
              to_seq_length=seq_length)
          attention_heads.append(attention_head)

        attention_output = None
        if len(attention_heads) == 1:
          attention_output = attention_heads[0]
        else:
          # In the case where we have other sequences, we just concatenate
          # them to the self-attention head before the projection.
          attention_output = tf.concat(attention_heads, axis=-1)

        # Run a linear projection of `hidden_size` then add a residual
        # with `layer_input`.
        with tf.compat.v1.variable_scope("output"):
          attention_output = dense(
              attention_output,
              hidden_size,
              kernel_initializer=create_initializer(initializer_range))
          attention_output = dropout(_to_float32(attention_output), hidden_dropout_prob)
          attention_output = layer_norm(attention_output + layer_input)

      # The activation is only applied to the "intermediate" hidden layer.
      with tf.compat.v1.variable_scope("intermediate"):
        intermediate_output = dense(
            attention_output,
            intermediate_size,
            activation=intermediate_act_fn,
            kernel_initializer=create_initializer(initializer_range))

      # Down-project back to `hidden_size` then add the residual.
      with tf.compat.v1.variable_scope("output"):
        layer_output = dense(
            intermediate_output,
            hidden_size,
            kernel_initializer=create_initializer(initializer_range))
        layer_output = dropout(_to_float32(layer_output), hidden_dropout_prob)
        layer_output = layer_norm(layer_output + attention_output)
        prev_output = layer_output
        all_layer_outputs.append(layer_output)

  if do_return_all_layers:
    final_outputs = []
    for layer_output in all_layer_outputs:
      final_output = reshape_from_matrix(layer_output, input_shape)
      final_outputs.append(final_output)
    return final_outputs
  else:
    final_output = reshape_from_matrix(prev_output, input_shape)
    return final_output


def get_shape_list(tensor, expected_rank=None, name=None):
  """Returns a list of the shape of tensor, preferring static dimensions.

  Args:
    tensor: A tf.Tensor object to find the shape of.
    expected_rank: (optional) int. The expected rank of `tensor`. If this is
      specified and the `tensor` has a different rank, and exception will be
      thrown.
    name: Optional name of the tensor for the error message.

  Returns:
    A list of dimensions of the shape of tensor. All static dimensions will
    be returned as python integers, and dynamic dimensions will be returned
    as tf.Tensor scalars.
  """
  if expected_rank is not None:
    assert_rank(tensor, expected_rank, name)

  shape = tensor.shape.as_list()

  non_static_indexes = []
  for (index, dim) in enumerate(shape):
    if dim is None:
      non_static_indexes.append(index)

  if not non_static_indexes:
    return shape

  dyn_shape = tf.shape(tensor)
  for index in non_static_indexes:
    shape[index] = dyn_shape[index]
  return shape


def reshape_to_matrix(input_tensor):
  """Reshapes a >= rank 2 tensor to a rank 2 tensor (i.e., a matrix)."""
  ndims = input_tensor.shape.ndims
  if ndims < 2:
    raise ValueError("Input tensor must have at least rank 2. Shape = %s" %
                     (input_tensor.shape))
  if ndims == 2:
    return input_tensor

  width = input_tensor.shape[-1]
  output_tensor = tf.reshape(input_tensor, [-1, width])
  return output_tensor


def reshape_from_matrix(output_tensor, orig_shape_list):
  """Reshapes a rank 2 tensor back to its original rank >= 2 tensor."""
  if len(orig_shape_list) == 2:
    return output_tensor

  output_shape = get_shape_list(output_tensor)

  orig_dims = orig_shape_list[0:-1]
  width = output_shape[-1]

  return tf.reshape(output_tensor, orig_dims + [width])


def assert_rank(tensor, expected_rank, name=None):
  """Raises an exception if the tensor rank is not of the expected rank.

  Args:
    tensor: A tf.Tensor to check the rank of.
    expected_rank: Python integer or list of integers, expected rank.
    name: Optional name of the tensor for the error message.

  Raises:
    ValueError: If the expected shape doesn't match the actual shape.
  """
  expected_rank_dict = {}
  if isinstance(expected_rank, int):
    expected_rank_dict[expected_rank] = True
  else:
    for x in expected_rank:
      expected_rank_dict[x] = True

  actual_rank = tensor.shape.ndims
  if actual_rank not in expected_rank_dict:
    if name is None:
      name = _tensor_name(tensor)
    scope_name = tf.compat.v1.get_variable_scope().name
    raise ValueError(
        "For the tensor `%s` in scope `%s`, the actual rank "
        "`%d` (shape = %s) is not equal to the expected rank `%s`" %
        (name, scope_name, actual_rank, str(tensor.shape), str(expected_rank)))


def _tensor_name(tensor):
  """`tensor.name`, or a placeholder where it has none (eager tensors)."""
  try:
    return tensor.name
  except (AttributeError, ValueError):
    return "<tensor>"
