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
"""Run masked LM/next sentence masked_lm pre-training for BERT.

Reads the TFRecords of create_pretraining_data.py and trains BERT's two pre-training heads (masked LM on the
gathered masked positions, next-sentence prediction) from a checkpoint, with the original's flags and defaults.
Training and evaluation run through `runtime` (several GPUs or machines, bf16/fp16, gradient accumulation,
restart from the latest checkpoint in --output_dir); `--do_eval` writes output_dir/eval_results.txt with
masked_lm_accuracy, masked_lm_loss, next_sentence_accuracy, next_sentence_loss, loss and global_step.
"""

from absl import flags
from absl import logging
import tensorflow as tf

import errors
import fileio
import modeling
import optimization
import runtime
import tfrecord_io

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines the script's flags: the original's (names, defaults) and the runtime's additions.

  Called from `__main__` only, so importing this module (tests, other tools) defines no flags.
  """
  fv = flag_values
  ## Required parameters
  flags.DEFINE_string(
      "bert_config_file", None,
      "The config json file corresponding to the pre-trained BERT model. "
      "This specifies the model architecture.", flag_values=fv)
  flags.DEFINE_string(
      "input_file", None,
      "Input TF example files (can be a glob or comma separated).", flag_values=fv)
  flags.DEFINE_string(
      "output_dir", None,
      "The output directory where the model checkpoints will be written.", flag_values=fv)

  ## Other parameters
  flags.DEFINE_string(
      "init_checkpoint", None,
      "Initial checkpoint (usually from a pre-trained BERT model).", flag_values=fv)
  flags.DEFINE_integer(
      "max_seq_length", 128,
      "The maximum total input sequence length after WordPiece tokenization. "
      "Sequences longer than this will be truncated, and sequences shorter "
      "than this will be padded. Must match data generation.", flag_values=fv)
  flags.DEFINE_integer(
      "max_predictions_per_seq", 20,
      "Maximum number of masked LM predictions per sequence. "
      "Must match data generation.", flag_values=fv)
  flags.DEFINE_bool("do_train", False, "Whether to run training.", flag_values=fv)
  flags.DEFINE_bool("do_eval", False, "Whether to run eval on the dev set.", flag_values=fv)
  flags.DEFINE_integer("train_batch_size", 32, "Total batch size for training (over all replicas).",
                       flag_values=fv)
  flags.DEFINE_integer("eval_batch_size", 8, "Total batch size for eval.", flag_values=fv)
  flags.DEFINE_float("learning_rate", 5e-5, "The initial learning rate for Adam.", flag_values=fv)
  flags.DEFINE_integer("num_train_steps", 100000, "Number of training steps.", flag_values=fv)
  flags.DEFINE_integer("num_warmup_steps", 10000, "Number of warmup steps.", flag_values=fv)
  flags.DEFINE_integer("max_eval_steps", 100, "Maximum number of eval steps.", flag_values=fv)
  runtime.define_original_runner_flags(flag_values=fv)
  runtime.define_flags(flag_values=fv)


def model_fn_builder(bert_config, learning_rate, num_train_steps, num_warmup_steps, use_one_hot_embeddings=False):
  """Returns the runtime `model_fn` of pre-training (see runtime's module docstring for the contract)."""

  def model_fn(features, mode, params):
    """Builds BERT with the masked-LM and next-sentence heads for TRAIN or EVAL."""
    runtime.log_features(features)

    input_ids = features["input_ids"]
    input_mask = features["input_mask"]
    segment_ids = features["segment_ids"]
    masked_lm_positions = features["masked_lm_positions"]
    masked_lm_ids = features["masked_lm_ids"]
    masked_lm_weights = features["masked_lm_weights"]
    next_sentence_labels = features["next_sentence_labels"]

    is_training = (mode == runtime.ModeKeys.TRAIN)
    compute_type = params.get("precision", "fp32")

    model = modeling.BertModel(
        config=bert_config,
        is_training=is_training,
        input_ids=input_ids,
        input_mask=input_mask,
        token_type_ids=segment_ids,
        use_one_hot_embeddings=use_one_hot_embeddings,
        compute_type=compute_type)

    (masked_lm_loss,
     masked_lm_example_loss, masked_lm_log_probs) = get_masked_lm_output(
         bert_config, model.get_sequence_output(), model.get_embedding_table(),
         masked_lm_positions, masked_lm_ids, masked_lm_weights, compute_type=compute_type)

    (next_sentence_loss, next_sentence_example_loss,
     next_sentence_log_probs) = get_next_sentence_output(
         bert_config, model.get_pooled_output(), next_sentence_labels)

    total_loss = masked_lm_loss + next_sentence_loss

    if mode == runtime.ModeKeys.TRAIN:
      train_op, scalars = optimization.create_train_op(total_loss, learning_rate, num_train_steps,
                                                       num_warmup_steps, params)
      return runtime.ModelSpec(mode=mode, loss=total_loss, train_op=train_op, scalars=scalars)
    elif mode == runtime.ModeKeys.EVAL:
      eval_metric_ops = metric_fn(masked_lm_example_loss, masked_lm_log_probs, masked_lm_ids,
                                  masked_lm_weights, next_sentence_example_loss,
                                  next_sentence_log_probs, next_sentence_labels)
      return runtime.ModelSpec(mode=mode, loss=total_loss, eval_metric_ops=eval_metric_ops)
    else:
      raise ValueError("Only TRAIN and EVAL modes are supported: %s" % (mode))

  return model_fn




def metric_fn(masked_lm_example_loss, masked_lm_log_probs, masked_lm_ids, masked_lm_weights,
              next_sentence_example_loss, next_sentence_log_probs, next_sentence_labels):
  """The original's four streaming metrics: name -> (value, update_op)."""
  masked_lm_log_probs = tf.reshape(masked_lm_log_probs, [-1, masked_lm_log_probs.shape[-1]])
  masked_lm_predictions = tf.argmax(masked_lm_log_probs, axis=-1, output_type=tf.int32)
  masked_lm_example_loss = tf.reshape(masked_lm_example_loss, [-1])
  masked_lm_ids = tf.reshape(masked_lm_ids, [-1])
  masked_lm_weights = tf.reshape(masked_lm_weights, [-1])
  masked_lm_accuracy = tf.compat.v1.metrics.accuracy(
      labels=masked_lm_ids, predictions=masked_lm_predictions, weights=masked_lm_weights)
  masked_lm_mean_loss = tf.compat.v1.metrics.mean(values=masked_lm_example_loss, weights=masked_lm_weights)

  next_sentence_log_probs = tf.reshape(next_sentence_log_probs, [-1, next_sentence_log_probs.shape[-1]])
  next_sentence_predictions = tf.argmax(next_sentence_log_probs, axis=-1, output_type=tf.int32)
  next_sentence_labels = tf.reshape(next_sentence_labels, [-1])
  next_sentence_accuracy = tf.compat.v1.metrics.accuracy(
      labels=next_sentence_labels, predictions=next_sentence_predictions)
  next_sentence_mean_loss = tf.compat.v1.metrics.mean(values=next_sentence_example_loss)

  return {
      "masked_lm_accuracy": masked_lm_accuracy,
      "masked_lm_loss": masked_lm_mean_loss,
      "next_sentence_accuracy": next_sentence_accuracy,
      "next_sentence_loss": next_sentence_mean_loss,
  }


def get_masked_lm_output(bert_config, input_tensor, output_weights, positions, label_ids, label_weights,
                         compute_type=tf.float32):
  """Loss and log probs of the masked LM, computed on the masked positions only.

  Args:
    bert_config: BertConfig.
    input_tensor: float32 [batch_size, seq_length, hidden_size], the sequence output.
    output_weights: float32 [vocab_size, hidden_size], the word embedding table (tied output matrix).
    positions: int32 [batch_size, max_predictions_per_seq].
    label_ids: int32 [batch_size, max_predictions_per_seq].
    label_weights: float32 [batch_size, max_predictions_per_seq], 1.0 for real predictions, 0.0 for padding.
    compute_type: precision of the two matrix multiplications (the log-softmax and the loss stay float32).

  Returns:
    (loss: scalar, per_example_loss: [batch_size * max_predictions_per_seq],
     log_probs: float32 [batch_size * max_predictions_per_seq, vocab_size]).
  """
  # Gathering first projects only max_predictions_per_seq positions per sequence onto the vocabulary.
  input_tensor = gather_indexes(input_tensor, positions)

  with tf.compat.v1.variable_scope("cls/predictions"):
    with modeling.precision_scope(compute_type) as dtype:
      with tf.compat.v1.variable_scope("transform"):
        input_tensor = modeling.dense(
            input_tensor,
            units=bert_config.hidden_size,
            activation=modeling.get_activation(bert_config.hidden_act),
            kernel_initializer=modeling.create_initializer(bert_config.initializer_range))
        input_tensor = modeling.layer_norm(input_tensor)

    output_bias = tf.compat.v1.get_variable(
        "output_bias", shape=[bert_config.vocab_size], initializer=tf.compat.v1.zeros_initializer())
    logits = tf.matmul(tf.cast(input_tensor, dtype), tf.cast(output_weights, dtype), transpose_b=True)
    logits = tf.nn.bias_add(tf.cast(logits, tf.float32), output_bias)
    log_probs = tf.nn.log_softmax(logits, axis=-1)

    label_ids = tf.reshape(label_ids, [-1])
    label_weights = tf.reshape(label_weights, [-1])

    one_hot_labels = tf.one_hot(label_ids, depth=bert_config.vocab_size, dtype=tf.float32)

    # The `positions` tensor might be zero-padded (if the sequence is too short to have the maximum number of
    # predictions); `label_weights` is 0.0 there, so padding adds nothing to the loss.
    per_example_loss = -tf.reduce_sum(log_probs * one_hot_labels, axis=[-1])
    numerator = tf.reduce_sum(label_weights * per_example_loss)
    denominator = tf.reduce_sum(label_weights) + 1e-5
    loss = numerator / denominator

  return (loss, per_example_loss, log_probs)


def get_next_sentence_output(bert_config, input_tensor, labels):
  """Loss and log probs of next-sentence prediction (0 = actual next sentence, 1 = random).

  Args:
    input_tensor: float32 [batch_size, hidden_size], the pooled output.
    labels: int32 [batch_size, 1].
  Returns:
    (loss: scalar, per_example_loss: [batch_size], log_probs: [batch_size, 2]).
  """
  with tf.compat.v1.variable_scope("cls/seq_relationship"):
    output_weights = tf.compat.v1.get_variable(
        "output_weights",
        shape=[2, bert_config.hidden_size],
        initializer=modeling.create_initializer(bert_config.initializer_range))
    output_bias = tf.compat.v1.get_variable(
        "output_bias", shape=[2], initializer=tf.compat.v1.zeros_initializer())

    logits = tf.matmul(input_tensor, output_weights, transpose_b=True)
    logits = tf.nn.bias_add(logits, output_bias)
    log_probs = tf.nn.log_softmax(logits, axis=-1)
    labels = tf.reshape(labels, [-1])
    one_hot_labels = tf.one_hot(labels, depth=2, dtype=tf.float32)
    per_example_loss = -tf.reduce_sum(one_hot_labels * log_probs, axis=-1)
    loss = tf.reduce_mean(per_example_loss)
    return (loss, per_example_loss, log_probs)


def gather_indexes(sequence_tensor, positions):
  """Gathers the vectors at the specific positions over a minibatch.

  Args:
    sequence_tensor: [batch_size, seq_length, width].
    positions: int32 [batch_size, n].
  Returns:
    [batch_size * n, width].
  """
  sequence_shape = modeling.get_shape_list(sequence_tensor, expected_rank=3)
  batch_size = sequence_shape[0]
  seq_length = sequence_shape[1]
  width = sequence_shape[2]

  flat_offsets = tf.reshape(tf.range(0, batch_size, dtype=tf.int32) * seq_length, [-1, 1])
  flat_positions = tf.reshape(positions + flat_offsets, [-1])
  flat_sequence_tensor = tf.reshape(sequence_tensor, [batch_size * seq_length, width])
  output_tensor = tf.gather(flat_sequence_tensor, flat_positions)
  return output_tensor


def input_fn_builder(input_files, max_seq_length, max_predictions_per_seq, is_training, num_cpu_threads=4):
  """Returns the runtime `input_fn` over the pre-training TFRecords.

  Training (as the original): the file list repeated and shuffled, up to 4 files read interleaved, a shuffle
  buffer of 100 records, batches of params["batch_size"] with the remainder dropped. With params["seed"] set the
  shuffles are seeded and the interleave is deterministic, so the batch sequence is a function of the seed and a
  resumed run sees the same batches as an uninterrupted one. Evaluation reads the files in order, repeated.
  """

  def input_fn(params):
    """The actual input function."""
    batch_size = params["batch_size"]
    seed = params.get("seed")
    spec = tfrecord_io.pretraining_features(max_seq_length, max_predictions_per_seq)
    if is_training:
      d = tf.data.Dataset.from_tensor_slices(tf.constant(input_files))
      d = d.repeat()
      d = d.shuffle(buffer_size=len(input_files), seed=seed)

      cycle_length = min(num_cpu_threads, len(input_files))
      d = d.interleave(tf.data.TFRecordDataset, cycle_length=cycle_length, num_parallel_calls=cycle_length,
                       deterministic=seed is not None)
      d = d.shuffle(buffer_size=100, seed=seed)
    else:
      d = tf.data.TFRecordDataset(input_files)
      d = d.repeat()

    d = d.map(spec.parse, num_parallel_calls=num_cpu_threads,
              deterministic=True if seed is not None or not is_training else None)
    d = d.batch(batch_size, drop_remainder=True)
    return d.prefetch(2)

  input_fn.input_files = list(input_files)  # named by the runtime when a record turns out corrupt
  return input_fn


# Records per input file whose ids are checked against the config before training (a data set made for another
# vocabulary or with segment ids the config has no embedding for shows in its first records).
CHECKED_RECORDS = 20

# The numeric flags' ranges (errors.check_ranges); the runtime's are in runtime.FLAG_RANGES.
FLAG_RANGES = {
    "max_seq_length": ">=2", "max_predictions_per_seq": ">=1", "train_batch_size": ">=1", "eval_batch_size": ">=1",
    "learning_rate": ">0", "num_train_steps": ">=1", "num_warmup_steps": ">=0", "max_eval_steps": ">=1",
}


def check_input_files(input_files, max_seq_length, max_predictions_per_seq, bert_config=None,
                      config_source="--bert_config_file"):
  """Checks the first records of every file against the feature lengths the flags expect and the config's ids.

  A file written with another --max_seq_length or --max_predictions_per_seq would otherwise fail deep inside
  training with a parse error that names neither the file nor the lengths; ids beyond the config's vocab_size
  or type_vocab_size would fail mid-run on a CPU and train on zero vectors on a GPU.

  Raises:
    errors.UserError: naming the file, the feature and both sides (or a missing feature, or an empty file).
  """
  spec = tfrecord_io.pretraining_features(max_seq_length, max_predictions_per_seq)
  limits = bert_config.feature_limits(config_source) if bert_config is not None else None
  for path in input_files:
    spec.check(path, limits=limits, num_records=CHECKED_RECORDS if limits else 1)


def check_flags(fv):
  """The checks of the flags and inputs, before anything is built; returns (bert_config, input_files)."""
  runtime.check_flags(fv)
  errors.check_ranges(fv, FLAG_RANGES)
  if not fv.do_train and not fv.do_eval:
    raise errors.UserError("At least one of `do_train` or `do_eval` must be True.")

  bert_config = modeling.BertConfig.from_json_file(fv.bert_config_file)
  bert_config.check_inputs(max_seq_length=fv.max_seq_length, source=fv.bert_config_file)
  if fv.max_predictions_per_seq > fv.max_seq_length:
    raise errors.UserError("--max_predictions_per_seq=%d exceeds --max_seq_length=%d" %
                           (fv.max_predictions_per_seq, fv.max_seq_length))
  input_files = fileio.expand_input_files(fv.input_file)
  logging.info("*** Input Files ***")
  for input_file in input_files:
    logging.info("  %s" % input_file)
  check_input_files(input_files, fv.max_seq_length, fv.max_predictions_per_seq, bert_config, fv.bert_config_file)
  return bert_config, input_files


def run(fv):
  """Pre-trains and/or evaluates as the flags in `fv` say."""
  bert_config, input_files = check_flags(fv)
  tf.compat.v1.disable_eager_execution()
  runtime.make_output_dir(fv.output_dir)

  model_fn = model_fn_builder(
      bert_config=bert_config,
      learning_rate=fv.learning_rate,
      num_train_steps=fv.num_train_steps,
      num_warmup_steps=fv.num_warmup_steps,
      use_one_hot_embeddings=fv.use_tpu)

  runner = runtime.Runner(
      model_fn=model_fn,
      config=runtime.RunConfig.from_flags(fv),
      train_batch_size=fv.train_batch_size,
      eval_batch_size=fv.eval_batch_size)

  def records(is_training):
    return input_fn_builder(input_files=input_files, max_seq_length=fv.max_seq_length,
                            max_predictions_per_seq=fv.max_predictions_per_seq, is_training=is_training)

  if fv.do_train:
    logging.info("***** Running training *****")
    logging.info("  Batch size = %d", fv.train_batch_size)
    runner.train(input_fn=records(True), max_steps=fv.num_train_steps, init_checkpoint=fv.init_checkpoint)

  if fv.do_eval:
    logging.info("***** Running evaluation *****")
    logging.info("  Batch size = %d", fv.eval_batch_size)
    result = runner.evaluate(input_fn=records(False), steps=fv.max_eval_steps, init_checkpoint=fv.init_checkpoint)
    if result is not None:
      runtime.write_eval_results(fv.output_dir, result)


def main(_):
  logging.set_verbosity(logging.INFO)
  run(FLAGS)


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("bert_config_file")
  flags.mark_flag_as_required("output_dir")
  errors.run_main(main)
