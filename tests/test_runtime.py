"""Tests of runtime.py on a tiny linear model: Estimator semantics, warm start, results, predict, divergence."""

import logging as std_logging
import os

import numpy as np
import pytest
import tensorflow as tf

import errors
import modeling
import runtime

RNG = np.random.RandomState(0)
X = RNG.randn(10, 4).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [3.0], [0.5]], np.float32)).astype(np.float32)


def input_fn(params, repeat=True):
  d = tf.data.Dataset.from_tensor_slices({"x": X, "y": Y})
  if repeat:
    d = d.repeat()
  return d.batch(params["batch_size"], drop_remainder=repeat)


def make_model_fn(learning_rate=0.1, extra_variable=False, blow_up_at=None, w_shape=(4, 1)):
  """Linear regression; plain SGD (one device). blow_up_at: the train op sets w to inf at that global step."""

  def model_fn(features, mode, params):
    w = tf.compat.v1.get_variable("w", list(w_shape), initializer=tf.compat.v1.zeros_initializer())
    pred = tf.matmul(features["x"], w)
    if extra_variable:
      pred += tf.compat.v1.get_variable("b", [1], initializer=tf.compat.v1.zeros_initializer())
    loss = tf.reduce_mean(tf.square(pred - features["y"]))
    if mode == runtime.ModeKeys.TRAIN:
      global_step = tf.compat.v1.train.get_or_create_global_step()
      train_op = tf.compat.v1.train.GradientDescentOptimizer(learning_rate).minimize(loss, global_step=global_step)
      if blow_up_at is not None:
        with tf.control_dependencies([train_op]):
          train_op = tf.cond(tf.equal(global_step, blow_up_at), lambda: tf.group(w.assign(w + np.inf)),
                             lambda: tf.no_op())
      return runtime.ModelSpec(mode, loss=loss, train_op=train_op,
                               scalars={"learning_rate": tf.constant(learning_rate)})
    if mode == runtime.ModeKeys.EVAL:
      return runtime.ModelSpec(mode, loss=loss, eval_metric_ops={
          "mse": tf.compat.v1.metrics.mean_squared_error(features["y"], pred)})
    return runtime.ModelSpec(mode, predictions={"pred": pred[:, 0], "x": features["x"]})

  return model_fn


def make_runner(out, model_fn=None, **config):
  return runtime.Runner(model_fn or make_model_fn(), runtime.RunConfig(str(out), **config),
                        train_batch_size=2, eval_batch_size=4, predict_batch_size=4)


def checkpoint_steps(out):
  return sorted(int(f.split("-")[1].split(".")[0]) for f in os.listdir(str(out)) if f.endswith(".index"))


def weights(path):
  return tf.train.load_checkpoint(path).get_tensor("w")


def save_w(directory, value, name="w"):
  with tf.Graph().as_default():
    v = tf.compat.v1.get_variable(name, initializer=tf.constant(value, tf.float32))
    with tf.compat.v1.Session() as session:
      session.run(v.initializer)
      return tf.compat.v1.train.Saver([v]).save(session, os.path.join(str(directory), "init.ckpt"))


# ----------------------------------------------------------------------------------------------------------------


def test_eval_results_text_is_the_original_format(tmp_path):
  results = {"loss": np.float32(0.0979674), "masked_lm_accuracy": np.float32(0.985479), "global_step": np.int64(20),
             "next_sentence_loss": np.float32(3.45724e-05)}
  path = runtime.write_eval_results(str(tmp_path), results)
  assert path == str(tmp_path / "eval_results.txt")
  with open(path) as f:
    assert f.read() == ("global_step = 20\nloss = 0.0979674\nmasked_lm_accuracy = 0.985479\n"
                        "next_sentence_loss = 3.45724e-05\n")
  assert os.listdir(str(tmp_path)) == ["eval_results.txt"]


def test_restart_semantics_max_steps_and_init_checkpoint_override(tmp_path, caplog):
  caplog.set_level(std_logging.INFO)
  out = tmp_path / "out"
  init = save_w(tmp_path, np.full([4, 1], 100.0, np.float32))
  runner = make_runner(out, save_checkpoints_steps=3)
  assert runner.train(input_fn, max_steps=6)["global_step"] == 6
  assert checkpoint_steps(out) == [3, 6]
  w6 = weights(str(out / "model.ckpt-6"))
  assert not np.allclose(w6, 0.0)

  # max_steps already reached: a no-op, nothing written.
  before = sorted(os.listdir(str(out)))
  assert runner.train(input_fn, max_steps=6, init_checkpoint=init)["global_step"] == 6
  assert sorted(os.listdir(str(out))) == before

  # Continues from step 6; the checkpoint in output_dir wins over --init_checkpoint (w = 100 would show).
  caplog.clear()
  frozen = make_runner(out, model_fn=make_model_fn(learning_rate=0.0), save_checkpoints_steps=3)
  assert frozen.train(input_fn, max_steps=8, init_checkpoint=init)["global_step"] == 8
  assert checkpoint_steps(out) == [3, 6, 8]
  np.testing.assert_array_equal(weights(str(out / "model.ckpt-8")), w6)
  assert "overrides --init_checkpoint" in caplog.text and "*INIT_FROM_CKPT*" not in caplog.text
  # Resume bookkeeping lives beside the checkpoints, not in them; entries of deleted checkpoints are dropped.
  assert "batches_consumed" not in tf.train.load_checkpoint(str(out / "model.ckpt-8")).get_variable_to_shape_map()
  assert runtime.read_training_state(str(out)) == {
      "model.ckpt-3": {"global_step": 3, "batches_consumed": 3},
      "model.ckpt-6": {"global_step": 6, "batches_consumed": 6},
      "model.ckpt-8": {"global_step": 8, "batches_consumed": 8}}


def test_warm_start_logs_each_variable_and_checks_shapes(tmp_path, caplog):
  caplog.set_level(std_logging.INFO)
  init = save_w(tmp_path, np.arange(4, dtype=np.float32).reshape(4, 1))
  runner = make_runner(tmp_path / "out", model_fn=make_model_fn(learning_rate=0.0, extra_variable=True))
  runner.train(input_fn, max_steps=1, init_checkpoint=init)
  assert "**** Trainable Variables ****" in caplog.text
  assert "  name = w:0, shape = (4, 1), *INIT_FROM_CKPT*" in caplog.text
  assert "  name = b:0, shape = (1,)\n" in caplog.text + "\n"
  np.testing.assert_array_equal(weights(str(tmp_path / "out" / "model.ckpt-1")), [[0], [1], [2], [3]])

  bad = make_runner(tmp_path / "out2", model_fn=make_model_fn(w_shape=(4, 2)))
  with pytest.raises(errors.UserError, match=r"variable w has shape \[4, 1\] there but \[4, 2\]"):
    bad.train(input_fn, max_steps=1, init_checkpoint=init)
  with pytest.raises(errors.UserError, match="not a readable checkpoint"):
    make_runner(tmp_path / "out3").train(input_fn, max_steps=1, init_checkpoint=str(tmp_path / "nope.ckpt"))


def test_checkpoint_of_other_options_is_a_clear_error(tmp_path):
  make_runner(tmp_path).train(input_fn, max_steps=2)
  other = make_runner(tmp_path, model_fn=make_model_fn(extra_variable=True))
  with pytest.raises(errors.UserError, match="lacks 1 variable.*b.*fresh --output_dir"):
    other.train(input_fn, max_steps=4)


def test_keep_checkpoint_max_and_final_checkpoint(tmp_path):
  runner = make_runner(tmp_path, save_checkpoints_steps=2, keep_checkpoint_max=2)
  runner.train(input_fn, max_steps=7)
  assert checkpoint_steps(tmp_path) == [6, 7]
  with open(str(tmp_path / "checkpoint")) as f:
    assert f.readline().strip() == 'model_checkpoint_path: "model.ckpt-7"'


def test_training_stops_when_the_input_ends(tmp_path):
  runner = make_runner(tmp_path, save_checkpoints_steps=100)
  result = runner.train(lambda params: input_fn(params, repeat=False), max_steps=50)
  assert result["global_step"] == 5  # 10 examples, batch 2
  assert checkpoint_steps(tmp_path) == [5]
  # Rerun: the 5 batches consumed are skipped, nothing is left of this input.
  assert runner.train(lambda params: input_fn(params, repeat=False), max_steps=50)["global_step"] == 5
  # max_steps=None: until the input ends.
  fresh = make_runner(tmp_path / "none")
  assert fresh.train(lambda params: input_fn(params, repeat=False), max_steps=None)["global_step"] == 5


def test_evaluate_loss_is_the_mean_of_batch_losses_and_predict_keeps_order(tmp_path):
  w = np.array([[0.5], [0.0], [-1.0], [2.0]], np.float32)
  init = save_w(tmp_path, w)
  runner = make_runner(tmp_path / "out")
  results = runner.evaluate(lambda params: input_fn(params, repeat=False), init_checkpoint=init)
  batch_losses = [np.mean((X[i:i + 4] @ w - Y[i:i + 4]) ** 2) for i in (0, 4, 8)]  # batches of 4, 4, 2
  np.testing.assert_allclose(results["loss"], np.mean(batch_losses), rtol=1e-5)
  np.testing.assert_allclose(results["mse"], np.mean((X @ w - Y) ** 2), rtol=1e-5)  # per example
  assert results["global_step"] == 0 and sorted(results) == ["global_step", "loss", "mse"]
  assert runner.evaluate(lambda params: input_fn(params), steps=2, init_checkpoint=init)["global_step"] == 0

  predictions = list(runner.predict(lambda params: input_fn(params, repeat=False), init_checkpoint=init))
  assert len(predictions) == 10  # the final partial batch of 2 included
  np.testing.assert_allclose([p["pred"] for p in predictions], (X @ w)[:, 0], rtol=1e-5)
  np.testing.assert_array_equal(np.stack([p["x"] for p in predictions]), X)


def test_weight_gone_infinite_is_never_saved(tmp_path):
  runner = make_runner(tmp_path, model_fn=make_model_fn(blow_up_at=4), save_checkpoints_steps=2)
  with pytest.raises(runtime.TrainingDivergedError) as e:
    runner.train(input_fn, max_steps=10)
  # Step 4 left an infinite weight behind a finite loss: caught before its checkpoint is written.
  assert "a weight became NaN or infinite at global step 4" in str(e.value)
  assert checkpoint_steps(tmp_path) == [2]
  assert np.all(np.isfinite(weights(str(tmp_path / "model.ckpt-2"))))


def test_step_seeded_dropout_is_a_function_of_the_step():
  def masks(extra_ops, steps, replica=0):
    with tf.Graph().as_default():
      for _ in range(extra_ops):  # ops created before the model shift graph-wide op ids
        tf.constant(0)
      step = tf.compat.v1.placeholder(tf.int64, [])
      w = tf.compat.v1.get_variable("w", [3, 8], initializer=tf.compat.v1.random_uniform_initializer())
      with modeling.step_seeded_dropout(modeling.DropoutSeeds(5, step, replica)) as seeds:
        out = modeling.dropout(tf.ones([3, 8]) * w, 0.5)
      assert seeds.count == 1
      (grad,) = tf.gradients(tf.reduce_sum(out), [w])
      assert not runtime.stateful_random_ops(tf.compat.v1.get_default_graph().get_operations())
      with tf.compat.v1.Session() as session:
        session.run(w.initializer)
        return [session.run([out, grad], {step: s}) for s in steps]

  a = masks(0, [0, 1, 0])
  b = masks(7, [0, 1])
  np.testing.assert_array_equal(a[0][1], a[2][1])  # same step, same mask
  np.testing.assert_array_equal(a[0][1], b[0][1])  # independent of the ops created before
  np.testing.assert_array_equal(a[1][1], b[1][1])
  assert not np.array_equal(a[0][1], a[1][1])  # another step, another mask
  assert not np.array_equal(a[0][1], masks(0, [0], replica=1)[0][1])  # another replica, another mask
  np.testing.assert_array_equal((a[0][0] != 0), (a[0][1] != 0))  # the gradient uses the same mask
  assert set(np.unique(a[0][1])) <= {0.0, 2.0}


def test_a_stateful_random_op_in_the_training_step_is_an_error(tmp_path):
  def noisy_model_fn(features, mode, params):
    spec = make_model_fn()(features, mode, params)
    return spec._replace(loss=spec.loss + 0.0 * tf.random.uniform([]))

  with pytest.raises(ValueError, match="stateful random op"):
    make_runner(tmp_path, model_fn=noisy_model_fn).train(input_fn, max_steps=1)


def test_configuration_errors(monkeypatch):
  with pytest.raises(errors.UserError, match="--output_dir is required"):
    runtime.RunConfig("")
  with pytest.raises(errors.UserError, match="--num_accumulation_steps=0"):
    runtime.RunConfig("x", num_accumulation_steps=0)
  with pytest.raises(errors.UserError, match="TPUs are not supported"):
    runtime.check_no_tpu(True)
  runtime.check_no_tpu(False)
  monkeypatch.setenv("TF_CONFIG", "{not json")
  with pytest.raises(errors.UserError, match="TF_CONFIG is not valid JSON"):
    runtime._Distribution(runtime.RunConfig("x"))  # pylint: disable=protected-access


def test_bf16_on_a_cpu_without_native_bf16_warns(tmp_path, monkeypatch, caplog):
  avx2_only = tmp_path / "cpuinfo_avx2"
  avx2_only.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma\n")
  with_bf16 = tmp_path / "cpuinfo_bf16"
  with_bf16.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
  assert runtime.cpu_has_native_bf16(str(avx2_only)) is False
  assert runtime.cpu_has_native_bf16(str(with_bf16)) is True
  assert runtime.cpu_has_native_bf16(str(tmp_path / "missing")) is None

  monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
  caplog.set_level(std_logging.WARNING)
  runtime._Distribution(runtime.RunConfig(str(tmp_path), precision="bf16"))  # pylint: disable=protected-access
  warnings = [r for r in caplog.records if "without native bfloat16" in r.getMessage()]
  assert len(warnings) == 1 and "slower than fp32" in warnings[0].getMessage()
  caplog.clear()
  runtime._Distribution(runtime.RunConfig(str(tmp_path), precision="fp32"))  # pylint: disable=protected-access
  assert not [r for r in caplog.records if "bfloat16" in r.getMessage()]
