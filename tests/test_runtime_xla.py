"""`--use_xla` on CPUs: the training step's element-wise ops are XLA-compiled, with the same training results.

  * inside `runtime.cpu_xla_fusion_scope` (public `tf.xla.experimental.jit_scope` with a per-op predicate) the
    marked ops really run as compiled XLA clusters (seen in the session's step statistics), the matrix
    products and random ops stay with TensorFlow's kernels, and variable initializers are left alone;
  * a 2-layer BERT trained 10 steps through run_pretraining's model_fn ends with the same losses and weights
    (within 1e-5) with and without the flag (dropout off: XLA's and TensorFlow's kernels round differently, not
    randomly);
  * with dropout on and bf16, two runs with the flag are bit-identical (what resuming relies on); 2 replicas,
    fp16 with loss scaling, accumulation and LAMB train too.
"""

import re

import numpy as np
import pytest
import tensorflow as tf

import modeling
import run_pretraining
import runtime
from test_run_pretraining import PREDS, SEQ, TINY_CONFIG, make_init_checkpoint, read_checkpoint, write_records

STEPS = 10


def _compiled_op_types(session, fetch):
  metadata = tf.compat.v1.RunMetadata()
  session.run(fetch, options=tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE),
              run_metadata=metadata)
  return {node.timeline_label.split("(")[0].split(" = ")[-1].strip()
          for dev in metadata.step_stats.dev_stats for node in dev.node_stats}


def test_marked_ops_run_as_xla_clusters():
  graph = tf.Graph()
  with graph.as_default():
    ops_before = len(graph.get_operations())
    with runtime.cpu_xla_fusion_scope():
      x = tf.compat.v1.get_variable("x", [64, 32], initializer=tf.compat.v1.truncated_normal_initializer(seed=1))
      w = tf.compat.v1.get_variable("w", [32, 16], initializer=tf.compat.v1.truncated_normal_initializer(seed=2))
      hidden = tf.matmul(tf.tanh(x * 2.0 + 1.0), w)
      noise = tf.random.uniform([64, 16], seed=3)
      out = tf.reduce_sum(tf.nn.softmax(hidden) * noise)
    new_ops = graph.get_operations()[ops_before:]
    init = tf.compat.v1.global_variables_initializer()
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(init)
    plain_value = session.run(out, feed_dict={noise: np.ones([64, 16], np.float32)})

  fusible = ("Mul", "AddV2", "Tanh", "Softmax", "Sum")
  initializer_ops = [op for op in new_ops if "/Initializer/" in op.name]
  model_ops = [op for op in new_ops if op not in initializer_ops]
  assert runtime.count_xla_marked(new_ops) == sum(op.type in fusible for op in model_ops) >= 5
  for op in model_ops:
    assert (runtime.count_xla_marked([op]) == 1) == (op.type in fusible), op.type
  # The initializers' ops (random draws and their scaling) run once and stay with TensorFlow.
  assert initializer_ops and runtime.count_xla_marked(initializer_ops) == 0
  assert any(op.type == "Mul" for op in initializer_ops)

  with tf.compat.v1.Session(graph=graph) as session:
    session.run(init)
    xla_value = session.run(out, feed_dict={noise: np.ones([64, 16], np.float32)})
    types = _compiled_op_types(session, out)
  assert "_XlaRun" in types or "XlaLaunch" in types, sorted(types)
  assert "MatMul" in types or "_MklMatMul" in types or "_MklNativeFusedMatMul" in types, sorted(types)
  np.testing.assert_allclose(xla_value, plain_value, rtol=1e-6)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  root = tmp_path_factory.mktemp("xla")
  records = [write_records(str(root / ("r%d.tfrecord" % i)), 48, seed=20 + i) for i in range(2)]
  init = make_init_checkpoint(str(root / "init"), modeling.BertConfig.from_dict(TINY_CONFIG))
  return root, records, init


def _train(setup, name, use_xla, dropout=True, **run_options):
  root, records, init = setup
  overrides = {} if dropout else {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
  config = modeling.BertConfig.from_dict(dict(TINY_CONFIG, **overrides))
  out = str(root / name)
  run_config = runtime.RunConfig(out, save_checkpoints_steps=None, use_xla=use_xla, progress_bar=False,
                                 **run_options)
  runner = runtime.Runner(run_pretraining.model_fn_builder(config, 1e-3, STEPS, 2), run_config,
                          train_batch_size=8)
  losses = []
  runner.train(run_pretraining.input_fn_builder(records, SEQ, PREDS, True), max_steps=STEPS, init_checkpoint=init,
               on_step=lambda step, loss: losses.append(loss))
  assert len(losses) == STEPS
  return np.array(losses), read_checkpoint(tf.train.latest_checkpoint(out))


def test_xla_training_matches_plain_training(setup, caplog):
  plain_losses, plain_weights = _train(setup, "plain", use_xla=False, dropout=False)
  assert "XLA: fusing" not in caplog.text
  with caplog.at_level("INFO"):
    xla_losses, xla_weights = _train(setup, "xla", use_xla=True, dropout=False)
  fused = [int(m) for m in re.findall(r"XLA: fusing (\d+) element-wise op", caplog.text)]
  assert len(fused) == 1 and fused[0] > 100, caplog.text[-2000:]
  kernel = "bert/encoder/layer_0/output/dense/kernel"
  assert np.abs(plain_weights[kernel] - read_checkpoint(setup[2])[kernel]).max() > 1e-3  # training moved
  np.testing.assert_allclose(xla_losses, plain_losses, rtol=0, atol=1e-5)
  assert sorted(xla_weights) == sorted(plain_weights)
  for name in plain_weights:
    np.testing.assert_allclose(xla_weights[name], plain_weights[name], rtol=0, atol=1e-5, err_msg=name)


def test_xla_training_with_dropout_is_reproducible_and_runs_with_every_option(setup):
  first_losses, first = _train(setup, "bf16_a", use_xla=True, precision="bf16")
  second_losses, second = _train(setup, "bf16_b", use_xla=True, precision="bf16")
  np.testing.assert_array_equal(first_losses, second_losses)
  for name in first:
    np.testing.assert_array_equal(first[name], second[name], err_msg=name)

  replica_losses, replica_weights = _train(setup, "replicas", use_xla=True, devices=["/cpu:0", "/cpu:1"])
  assert np.all(np.isfinite(replica_losses))
  assert sorted(replica_weights) == sorted(first)
  # fp16 loss scaling and accumulation put the update inside conditionals (left to TensorFlow's kernels).
  fp16_losses, fp16_weights = _train(setup, "fp16", use_xla=True, precision="fp16", num_accumulation_steps=2,
                                     optimizer="lamb")
  assert np.all(np.isfinite(fp16_losses)) and fp16_weights["global_step"] == STEPS
