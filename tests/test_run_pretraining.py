"""Tests of run_pretraining.py: heads against numpy references, input checks, errors, NaN stop, CLI.

The helpers at the top (a tiny BERT config, synthetic pre-training TFRecords written with TensorFlow's own
writer, an initial checkpoint) are shared with the other test_run_pretraining_* / test_runtime_* files.
"""

import json
import math
import os
import subprocess
import sys

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

import errors
import modeling
import run_pretraining
import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TINY_CONFIG = {
    "vocab_size": 60, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
    "intermediate_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
    "initializer_range": 0.02,
}
SEQ, PREDS = 32, 5


def write_config(path, **overrides):
  config = dict(TINY_CONFIG, **overrides)
  with open(path, "w") as f:
    json.dump(config, f)
  return path


def write_records(path, n, seed, seq=SEQ, preds=PREDS, vocab=60, full=True):
  """n pre-training instances in create_pretraining_data.py's format (tf.io.TFRecordWriter + tf.train.Example).

  full=True: every sequence is max length with all `preds` predictions real, so every replica's share of a batch
  has the same number of masked positions (the per-replica normalised MLM loss then averages to the global one).
  """
  rng = np.random.RandomState(seed)

  def ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))

  with tf.io.TFRecordWriter(path) as writer:
    for _ in range(n):
      length = seq if full else rng.randint(preds + 3, seq + 1)
      ids = np.zeros(seq, np.int64)
      ids[:length] = rng.randint(5, vocab, length)
      ids[0], ids[length - 1] = 2, 3
      mask = (np.arange(seq) < length).astype(np.int64)
      segments = ((np.arange(seq) >= length // 2) & (np.arange(seq) < length)).astype(np.int64)
      k = preds if full else rng.randint(1, preds + 1)
      positions = np.zeros(preds, np.int64)
      positions[:k] = np.sort(rng.choice(np.arange(1, length - 1), k, replace=False))
      labels = np.zeros(preds, np.int64)
      labels[:k] = ids[positions[:k]]
      weights = np.zeros(preds, np.float32)
      weights[:k] = 1.0
      masked = ids.copy()
      masked[positions[:k]] = 4
      example = tf.train.Example(features=tf.train.Features(feature={
          "input_ids": ints(masked), "input_mask": ints(mask), "segment_ids": ints(segments),
          "masked_lm_positions": ints(positions), "masked_lm_ids": ints(labels),
          "masked_lm_weights": tf.train.Feature(float_list=tf.train.FloatList(value=weights)),
          "next_sentence_labels": ints([rng.randint(2)])}))
      writer.write(example.SerializeToString())
  return path


def make_init_checkpoint(directory, bert_config, seed=7):
  """A randomly initialised checkpoint of every pre-training variable (as a converted BERT would provide)."""
  os.makedirs(directory, exist_ok=True)
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(seed)
    features = {
        "input_ids": tf.zeros([1, SEQ], tf.int32), "input_mask": tf.ones([1, SEQ], tf.int32),
        "segment_ids": tf.zeros([1, SEQ], tf.int32), "masked_lm_positions": tf.zeros([1, PREDS], tf.int32),
        "masked_lm_ids": tf.zeros([1, PREDS], tf.int32), "masked_lm_weights": tf.ones([1, PREDS]),
        "next_sentence_labels": tf.zeros([1, 1], tf.int32)}
    model_fn = run_pretraining.model_fn_builder(bert_config, 1e-3, 10, 0)
    model_fn(features, runtime.ModeKeys.EVAL, {"precision": "fp32"})
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      return tf.compat.v1.train.Saver().save(session, os.path.join(directory, "init.ckpt"))


def read_checkpoint(path):
  reader = tf.train.load_checkpoint(path)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def run_script(args, env=None, timeout=240):
  """Runs a project script in a subprocess; returns CompletedProcess (stdout+stderr text)."""
  full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
  full_env.update(env or {})
  return subprocess.run([sys.executable] + args, cwd=ROOT, env=full_env, capture_output=True, text=True,
                        timeout=timeout)


def parse_flags(argv):
  fv = flags.FlagValues()
  run_pretraining.define_flags(fv)
  fv(["run_pretraining.py"] + argv)
  return fv


# ----------------------------------------------------------------------------------------------------------------
# Heads against numpy.


def _np_log_softmax(x):
  x = x - x.max(-1, keepdims=True)
  return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_masked_lm_and_next_sentence_heads_match_numpy():
  config = modeling.BertConfig.from_dict(TINY_CONFIG)
  rng = np.random.RandomState(0)
  seq_out = rng.randn(3, 6, 64).astype(np.float32)
  table = rng.randn(60, 64).astype(np.float32) * 0.1
  positions = np.array([[1, 2, 0], [5, 0, 0], [3, 4, 1]], np.int32)
  labels = np.array([[7, 8, 0], [9, 0, 0], [10, 11, 12]], np.int32)
  weights = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1]], np.float32)
  pooled = rng.randn(3, 64).astype(np.float32)
  nsp = np.array([[0], [1], [1]], np.int32)
  with tf.Graph().as_default():
    mlm = run_pretraining.get_masked_lm_output(config, tf.constant(seq_out), tf.constant(table),
                                               tf.constant(positions), tf.constant(labels), tf.constant(weights))
    ns = run_pretraining.get_next_sentence_output(config, tf.constant(pooled), tf.constant(nsp))
    names = sorted(v.op.name for v in tf.compat.v1.global_variables())
    with tf.compat.v1.Session() as session:
      session.run(tf.compat.v1.global_variables_initializer())
      (mlm_v, ns_v) = session.run([mlm, ns])
      params = {v.op.name: session.run(v) for v in tf.compat.v1.global_variables()}
  assert names == ["cls/predictions/output_bias", "cls/predictions/transform/LayerNorm/beta",
                   "cls/predictions/transform/LayerNorm/gamma", "cls/predictions/transform/dense/bias",
                   "cls/predictions/transform/dense/kernel", "cls/seq_relationship/output_bias",
                   "cls/seq_relationship/output_weights"]
  # Reference, float64, from the spec: gather (b*S offsets), dense+gelu, LayerNorm eps 1e-12, tied projection.
  erf = np.vectorize(math.erf)
  x = seq_out.astype(np.float64)[np.arange(3)[:, None], positions].reshape(-1, 64)
  h = x @ params["cls/predictions/transform/dense/kernel"] + params["cls/predictions/transform/dense/bias"]
  h = h * 0.5 * (1.0 + erf(h / np.sqrt(2.0)))
  mu, var = h.mean(-1, keepdims=True), h.var(-1, keepdims=True)
  h = (h - mu) / np.sqrt(var + 1e-12) * params["cls/predictions/transform/LayerNorm/gamma"] + \
      params["cls/predictions/transform/LayerNorm/beta"]
  logp = _np_log_softmax(h @ table.T + params["cls/predictions/output_bias"])
  per_example = -logp[np.arange(9), labels.reshape(-1)]
  loss = (weights.reshape(-1) * per_example).sum() / (weights.sum() + 1e-5)
  np.testing.assert_allclose(mlm_v[0], loss, rtol=1e-5)
  np.testing.assert_allclose(mlm_v[1], per_example, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(mlm_v[2], logp, rtol=1e-4, atol=1e-5)
  ns_logp = _np_log_softmax(pooled @ params["cls/seq_relationship/output_weights"].T +
                            params["cls/seq_relationship/output_bias"])
  np.testing.assert_allclose(ns_v[0], -ns_logp[np.arange(3), nsp[:, 0]].mean(), rtol=1e-5)


# ----------------------------------------------------------------------------------------------------------------
# Input pipeline and input checks.


def test_input_fn_decodes_records_and_is_deterministic(tmp_path):
  paths = [write_records(str(tmp_path / ("%d.tfrecord" % i)), 12, seed=i) for i in range(2)]

  def first_batches(is_training, seed):
    with tf.Graph().as_default():
      d = run_pretraining.input_fn_builder(paths, SEQ, PREDS, is_training)({"batch_size": 4, "seed": seed})
      batch = tf.compat.v1.data.make_one_shot_iterator(d).get_next()
      with tf.compat.v1.Session() as session:
        return [session.run(batch) for _ in range(5)]

  a, b = first_batches(True, 3), first_batches(True, 3)
  for x, y in zip(a, b):
    for k in x:
      np.testing.assert_array_equal(x[k], y[k])
  assert a[0]["input_ids"].dtype == np.int32 and a[0]["masked_lm_weights"].dtype == np.float32
  assert a[0]["input_ids"].shape == (4, SEQ) and a[0]["masked_lm_positions"].shape == (4, PREDS)
  assert a[0]["next_sentence_labels"].shape == (4, 1)
  # Evaluation reads the files in order: the first batch is the first four records of the first file.
  ev = first_batches(False, None)
  expected = [tf.train.Example.FromString(r) for r in
              list(tf.compat.v1.io.tf_record_iterator(paths[0]))[:4]]
  np.testing.assert_array_equal(
      ev[0]["input_ids"], [list(e.features.feature["input_ids"].int64_list.value) for e in expected])


def test_records_with_other_lengths_are_named(tmp_path):
  path = write_records(str(tmp_path / "seq32.tfrecord"), 2, seed=0)
  with pytest.raises(errors.UserError) as e:
    run_pretraining.check_input_files([path], 128, PREDS)
  message = str(e.value)
  assert "seq32.tfrecord" in message and "32" in message and "128" in message and "max_seq_length" in message
  with pytest.raises(errors.UserError) as e:
    run_pretraining.check_input_files([path], SEQ, 20)
  assert "max_predictions_per_seq" in str(e.value) and "20" in str(e.value)
  run_pretraining.check_input_files([path], SEQ, PREDS)


def test_flag_errors(tmp_path):
  config = write_config(str(tmp_path / "bert_config.json"))
  records = write_records(str(tmp_path / "r.tfrecord"), 2, seed=0)
  base = ["--bert_config_file=" + config, "--input_file=" + records, "--output_dir=" + str(tmp_path / "out"),
          "--max_seq_length=%d" % SEQ, "--max_predictions_per_seq=%d" % PREDS]
  with pytest.raises(errors.UserError, match="At least one of `do_train` or `do_eval` must be True"):
    run_pretraining.check_flags(parse_flags(base))
  with pytest.raises(errors.UserError, match="TPUs are not supported"):
    run_pretraining.check_flags(parse_flags(base + ["--do_train=true", "--use_tpu=true"]))
  with pytest.raises(errors.UserError, match="sequence length 128 .* up to sequence length 64"):
    run_pretraining.check_flags(parse_flags(base + ["--do_train=true", "--max_seq_length=128"]))
  with pytest.raises(errors.UserError, match="no file matches this pattern"):
    run_pretraining.check_flags(parse_flags(base + ["--do_eval=true", "--input_file=" + str(tmp_path / "x*")]))
  fv = parse_flags(base + ["--do_eval=true"])
  # The original's defaults stay.
  assert (fv.train_batch_size, fv.eval_batch_size, fv.learning_rate, fv.num_train_steps, fv.num_warmup_steps,
          fv.save_checkpoints_steps, fv.iterations_per_loop, fv.max_eval_steps, fv.num_tpu_cores) == \
      (32, 8, 5e-5, 100000, 10000, 1000, 1000, 100, 8)
  assert run_pretraining.check_flags(fv)[1] == [records]


def test_command_line_error_is_one_line_exit_2(tmp_path):
  config = write_config(str(tmp_path / "bert_config.json"), max_position_embeddings=512)
  records = write_records(str(tmp_path / "r.tfrecord"), 2, seed=0)
  result = run_script(["run_pretraining.py", "--bert_config_file=" + config, "--input_file=" + records,
                       "--output_dir=" + str(tmp_path / "out"), "--do_train=true"])
  assert result.returncode == 2, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and "r.tfrecord" in last and "--max_seq_length" in last, last
  assert not os.path.exists(str(tmp_path / "out"))


# ----------------------------------------------------------------------------------------------------------------
# Divergence.


def test_nan_loss_stops_naming_the_step_without_a_nan_checkpoint(tmp_path):
  records = write_records(str(tmp_path / "r.tfrecord"), 32, seed=0)
  config = modeling.BertConfig.from_dict(dict(TINY_CONFIG, hidden_dropout_prob=0.0,
                                              attention_probs_dropout_prob=0.0))
  out = str(tmp_path / "out")
  # An absurd learning rate: step 1 moves the weights by ~1e30, the next forward pass overflows to inf/NaN.
  model_fn = run_pretraining.model_fn_builder(config, 1e30, 100, 0)
  runner = runtime.Runner(model_fn, runtime.RunConfig(out, save_checkpoints_steps=1), train_batch_size=4)
  with tf.Graph().as_default():
    with pytest.raises(runtime.TrainingDivergedError) as e:
      runner.train(run_pretraining.input_fn_builder([records], SEQ, PREDS, True), max_steps=10)
  message = str(e.value)
  assert "global step" in message and ("nan" in message.lower() or "inf" in message.lower())
  step = int(message.split("global step ")[1].split()[0].rstrip(";"))
  assert 1 <= step <= 3
  latest = tf.train.latest_checkpoint(out)
  saved = int(latest.rsplit("-", 1)[1]) if latest else 0
  assert saved < step
  if latest:
    for name, value in read_checkpoint(latest).items():
      assert np.all(np.isfinite(value)), name


# ----------------------------------------------------------------------------------------------------------------
# The runtime's options reach the model and the optimizer.


def test_precision_optimizer_and_accumulation_options_reach_the_graph(tmp_path):
  records = write_records(str(tmp_path / "r.tfrecord"), 32, seed=0, full=False)
  config = modeling.BertConfig.from_dict(TINY_CONFIG)
  input_fn = run_pretraining.input_fn_builder([records], SEQ, PREDS, True)
  model_fn = run_pretraining.model_fn_builder(config, 1e-3, 10, 2)
  for precision, optimizer, accumulation in (("fp16", "lamb", 2), ("bf16", "adamw", 1)):
    out = str(tmp_path / precision)
    run_config = runtime.RunConfig(out, precision=precision, optimizer=optimizer,
                                   num_accumulation_steps=accumulation)
    result = runtime.Runner(model_fn, run_config, train_batch_size=4).train(input_fn, max_steps=3)
    assert result["global_step"] == 3 and np.isfinite(result["loss"])
    names = set(read_checkpoint(tf.train.latest_checkpoint(out)))
    slot = "bert/encoder/layer_0/output/dense/kernel/%s_m" % ("lamb" if optimizer == "lamb" else "adam")
    assert slot in names
    assert ("loss_scale" in names) == (precision == "fp16")
    assert ("bert/encoder/layer_0/output/dense/kernel/grad_accum" in names) == (accumulation > 1)
    # Variables stay float32 whatever the compute precision.
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(out))
    assert reader.get_variable_to_dtype_map()["bert/embeddings/word_embeddings"] == tf.float32
