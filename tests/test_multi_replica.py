"""create_optimizer under tf.distribute.MirroredStrategy (graph mode) over the two logical CPUs of conftest.

The reference is the same tiny BERT classifier trained on ONE device with the whole batch: N replicas with B/N
examples each must give the same losses and weights (the gradients are averaged across replicas before the
update), every replica must hold the same values, and checkpoints must have plain names.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import modeling
import optimization

GLOBAL_BATCH = 8
SEQ_LENGTH = 8
NUM_LABELS = 3
NUM_STEPS = 10
INIT_LR = 5e-3
CONFIG = modeling.BertConfig(
    vocab_size=40, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, max_position_embeddings=SEQ_LENGTH,
    type_vocab_size=2)
DEVICES = ["/cpu:0", "/cpu:1"]


def _make_data(num_examples, seed=3):
  rng = np.random.RandomState(seed)
  ids = rng.randint(1, 12, size=[num_examples, SEQ_LENGTH]).astype(np.int32)  # small id range: repeated tokens
  lengths = rng.randint(4, SEQ_LENGTH + 1, size=[num_examples])
  mask = (np.arange(SEQ_LENGTH)[None, :] < lengths[:, None]).astype(np.int32)
  ids *= mask
  segments = ((np.arange(SEQ_LENGTH)[None, :] >= lengths[:, None] // 2) * mask).astype(np.int32)
  labels = rng.randint(0, NUM_LABELS, size=[num_examples]).astype(np.int32)
  return ids, mask, segments, labels


DATA = _make_data(GLOBAL_BATCH * NUM_STEPS)


def _classifier_loss(ids, mask, segments, labels, loss_multiplier=None, compute_type=tf.float32):
  """BERT + a classification head on the pooled output, mean cross-entropy (run_classifier's head)."""
  model = modeling.BertModel(config=CONFIG, is_training=True, input_ids=ids, input_mask=mask,
                             token_type_ids=segments, use_one_hot_embeddings=False, compute_type=compute_type)
  pooled = model.get_pooled_output()
  output_weights = tf.compat.v1.get_variable(
      "output_weights", [NUM_LABELS, CONFIG.hidden_size],
      initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.02))
  output_bias = tf.compat.v1.get_variable("output_bias", [NUM_LABELS], initializer=tf.compat.v1.zeros_initializer())
  logits = tf.matmul(pooled, output_weights, transpose_b=True) + output_bias
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
  if loss_multiplier is not None:
    loss *= loss_multiplier
  return loss


def _placeholders(batch):
  return [tf.compat.v1.placeholder(tf.int32, [batch, SEQ_LENGTH], name=n) for n in ("ids", "mask", "segments")] + [
      tf.compat.v1.placeholder(tf.int32, [batch], name="labels")]


def _feed(placeholders, start, size):
  return {p: d[start:start + size] for p, d in zip(placeholders, DATA)}


def _session(grappler=True):
  """A session on the two logical CPUs. `grappler=False` skips graph rewriting: seconds saved per graph here.

  (An explicit ConfigProto replaces the context's, so the CPU split must be requested again: device_count.)
  """
  config = tf.compat.v1.ConfigProto(device_count={"CPU": len(DEVICES)}, intra_op_parallelism_threads=1,
                                    inter_op_parallelism_threads=2)
  config.graph_options.rewrite_options.disable_meta_optimizer = not grappler
  return tf.compat.v1.Session(config=config)


def _build(strategy, call_batch, optimizer_kwargs, with_multiplier=False, compute_type=tf.float32):
  """The training graph: feeds of `call_batch` examples per call, split evenly over the replicas.

  Returns (placeholders, multiplier placeholder or None, train_op, loss, info); the loss is that of the whole
  feed, and the graph collection "replica_losses" holds each replica's own loss.
  """
  placeholders = _placeholders(call_batch)
  multiplier = tf.compat.v1.placeholder(tf.float32, [len(DEVICES)], name="multiplier") if with_multiplier else None

  def step_fn():
    if strategy is None:
      inputs, factor = placeholders, (multiplier[0] if with_multiplier else None)
    else:
      replica = tf.distribute.get_replica_context().replica_id_in_sync_group
      per_replica = call_batch // strategy.num_replicas_in_sync
      inputs = [p[replica * per_replica:(replica + 1) * per_replica] for p in placeholders]
      factor = multiplier[replica] if with_multiplier else None
    loss = _classifier_loss(*inputs, loss_multiplier=factor, compute_type=compute_type)
    train_op, info = optimization.create_optimizer(loss, INIT_LR, NUM_STEPS, 2, False, return_info=True,
                                                   **optimizer_kwargs)
    return train_op, loss, info

  if strategy is None:
    train_op, loss, info = step_fn()
    return placeholders, multiplier, train_op, loss, info
  with strategy.scope():
    train_op, per_replica_loss, info = strategy.extended.call_for_each_replica(step_fn)
    # The loss of the whole batch is the mean of the replicas' means (equal shares).
    loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, per_replica_loss, axis=None)
    for replica_loss in strategy.experimental_local_results(per_replica_loss):
      tf.compat.v1.add_to_collection("replica_losses", replica_loss)
    return placeholders, multiplier, strategy.group(train_op), loss, info


def _all_values(sess, strategy):
  """{name: [value on each replica]} for every global variable."""
  variables = tf.compat.v1.global_variables()
  copies = [strategy.experimental_local_results(v) if strategy else (v,) for v in variables]
  values = sess.run(copies)
  return {v.op.name if strategy is None else v.name[:-2]: list(vals) for v, vals in zip(variables, values)}


def _restore_initial(sess, checkpoint):
  tf.compat.v1.train.Saver(tf.compat.v1.trainable_variables()).restore(sess, checkpoint)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
  """The reference: one device, batch 8, NUM_STEPS updates. Also writes the initial weights for the others."""
  checkpoint = os.path.join(str(tmp_path_factory.mktemp("init")), "init.ckpt")
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(1)
    placeholders, _, train_op, loss, info = _build(None, GLOBAL_BATCH, {})
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      tf.compat.v1.train.Saver(tf.compat.v1.trainable_variables()).save(sess, checkpoint)
      losses, infos, snapshots = [], [], {}
      for step in range(NUM_STEPS):
        _, loss_value, info_value = sess.run([train_op, loss, info],
                                             _feed(placeholders, step * GLOBAL_BATCH, GLOBAL_BATCH))
        losses.append(loss_value)
        infos.append(info_value)
        snapshots[step + 1] = _all_values(sess, None)
  return {"checkpoint": checkpoint, "losses": np.array(losses), "infos": infos, "values": snapshots}


def _assert_same_state(values, reference, atol):
  """Every replica's copy of every reference variable is within `atol` of the reference; replicas identical."""
  for name, ref in reference.items():
    copies = values[name]
    for copy in copies[1:]:
      np.testing.assert_array_equal(copy, copies[0], err_msg="replicas differ: " + name)
    diff = np.abs(np.asarray(copies[0], np.float64) - np.asarray(ref[0], np.float64)).max()
    assert diff <= atol, (name, diff)


def test_two_replicas_match_one_device(one_device):
  strategy = tf.distribute.MirroredStrategy(DEVICES)
  with tf.Graph().as_default():
    placeholders, _, train_op, loss, info = _build(strategy, GLOBAL_BATCH, {})
    replica_losses = tf.compat.v1.get_collection("replica_losses")
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _restore_initial(sess, one_device["checkpoint"])
      losses, infos = [], []
      for step in range(NUM_STEPS):
        _, loss_value, info_value, replica_values = sess.run(
            [train_op, loss, info, replica_losses], _feed(placeholders, step * GLOBAL_BATCH, GLOBAL_BATCH))
        losses.append(loss_value)
        infos.append(info_value)
        # The replicas see different examples (hence different gradients): without the all-reduce they would
        # drift apart, which is what the original per-replica apply_gradients did.
        assert len(replica_values) == 2 and abs(replica_values[0] - replica_values[1]) > 1e-3
      values = _all_values(sess, strategy)

  ref_infos = one_device["infos"]
  assert max(i["grad_norm"] for i in ref_infos) > 1.0  # clipping (by the all-reduced norm) is exercised
  np.testing.assert_allclose(losses, one_device["losses"], rtol=0, atol=1e-5)
  np.testing.assert_allclose([i["grad_norm"] for i in infos], [i["grad_norm"] for i in ref_infos], rtol=1e-5)
  np.testing.assert_allclose([i["learning_rate"] for i in infos], [i["learning_rate"] for i in ref_infos])
  reference = one_device["values"][NUM_STEPS]
  assert set(values) == set(reference)
  _assert_same_state(values, reference, atol=1e-5)
  assert values["global_step"] == [NUM_STEPS, NUM_STEPS]
  initial = one_device["values"][1]
  assert np.abs(reference["output_weights"][0] - initial["output_weights"][0]).max() > 1e-3  # training moved


def test_two_replicas_with_accumulation_match_one_device(one_device):
  # 2 replicas x 2 examples per call x 2 accumulated calls = 8 examples per update, the one-device batch.
  updates = 4
  strategy = tf.distribute.MirroredStrategy(DEVICES)
  with tf.Graph().as_default():
    placeholders, _, train_op, _, info = _build(strategy, GLOBAL_BATCH // 2, {"num_accumulation_steps": 2})
    with _session(grappler=False) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _restore_initial(sess, one_device["checkpoint"])
      infos = []
      for call in range(2 * updates):
        infos.append(sess.run([train_op, info], _feed(placeholders, call * GLOBAL_BATCH // 2, GLOBAL_BATCH // 2))[1])
      values = _all_values(sess, strategy)

  assert [bool(i["applied"]) for i in infos] == [False, True] * updates
  np.testing.assert_allclose([i["grad_norm"] for i in infos[1::2]],
                             [i["grad_norm"] for i in one_device["infos"][:updates]], rtol=1e-5)
  _assert_same_state(values, one_device["values"][updates], atol=1e-5)
  assert values["global_step"] == [updates, updates]
  assert values["grad_accum_step"] == [0, 0]
  np.testing.assert_array_equal(values["output_weights/grad_accum"][0], 0.0)


def test_overflow_on_one_replica_skips_everywhere_and_checkpoint_has_plain_names(one_device, tmp_path):
  # LAMB + accumulation over 2 calls + dynamic loss scaling with a float16 encoder, all under the strategy.
  kwargs = {"optimizer": "lamb", "num_accumulation_steps": 2, "loss_scale": "dynamic", "initial_loss_scale": 256.0,
            "loss_scale_growth_interval": 1}
  strategy = tf.distribute.MirroredStrategy(DEVICES)
  with tf.Graph().as_default():
    placeholders, multiplier, train_op, _, info = _build(strategy, GLOBAL_BATCH, kwargs, with_multiplier=True,
                                                         compute_type=tf.float16)
    with _session(grappler=False) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _restore_initial(sess, one_device["checkpoint"])
      before = _all_values(sess, strategy)

      def run(call, factors):
        feed = _feed(placeholders, call * GLOBAL_BATCH, GLOBAL_BATCH)
        feed[multiplier] = factors
        return sess.run([train_op, info], feed)[1]

      # Only the second replica overflows, in the first micro-batch: the whole update is skipped on both.
      assert not run(0, [1.0, np.inf])["applied"]
      assert not run(1, [1.0, 1.0])["applied"]
      after = _all_values(sess, strategy)
      for name, copies in before.items():
        if name != "loss_scale":
          for b, a in zip(copies, after[name]):
            np.testing.assert_array_equal(a, b, err_msg=name)
      assert after["loss_scale"] == [128.0, 128.0]

      run(2, [1.0, 1.0])
      got = run(3, [1.0, 1.0])
      after = _all_values(sess, strategy)
      path = tf.compat.v1.train.Saver().save(sess, os.path.join(str(tmp_path), "model.ckpt"), global_step=1)
  assert got["applied"] and got["loss_scale"] == 128.0
  assert after["loss_scale"] == [256.0, 256.0] and after["global_step"] == [1, 1]
  for name, copies in after.items():
    np.testing.assert_array_equal(copies[1], copies[0], err_msg=name)
  # The first applied update is step 0 of the warmup (learning rate 0): the moments move, the weights do not.
  assert np.abs(after["output_weights/lamb_m"][0]).max() > 0

  names = {name for name, _ in tf.train.list_variables(path)}
  assert not any("replica" in name for name in names)
  assert {"global_step", "loss_scale", "loss_scale_good_steps", "grad_accum_step",
          "grad_accum_sparse_half_sq"} <= names
  assert {"bert/embeddings/word_embeddings/lamb_m", "output_weights/lamb_v",
          "bert/encoder/layer_1/output/LayerNorm/gamma/grad_accum"} <= names

  # The same graph on one device has exactly these names and restores the mirrored values.
  with tf.Graph().as_default():
    _build(None, GLOBAL_BATCH, kwargs, with_multiplier=True, compute_type=tf.float16)
    with _session(grappler=False) as sess:
      tf.compat.v1.train.Saver().restore(sess, path)
      values = _all_values(sess, None)
  assert set(values) == names
  for name, copies in values.items():
    np.testing.assert_array_equal(copies[0], after[name][0], err_msg=name)


def test_adam_weight_decay_optimizer_class_averages_across_replicas():
  """The class API used the original way (apply_gradients per replica) averages the replicas' gradients too."""
  x = np.array([[0.4, 0.2, -0.5], [1.0, -2.0, 0.5], [0.3, 0.3, 0.3], [-1.0, 0.0, 2.0]], np.float32)

  def train(strategy):
    with tf.Graph().as_default():
      data = tf.constant(x)

      def step_fn():
        w = tf.compat.v1.get_variable("w", [3], initializer=tf.compat.v1.constant_initializer([0.1, -0.2, -0.1]))
        rows = data
        if strategy is not None:
          replica = tf.distribute.get_replica_context().replica_id_in_sync_group
          rows = data[replica * 2:(replica + 1) * 2]
        loss = tf.reduce_mean(tf.square(rows - w))
        optimizer = optimization.AdamWeightDecayOptimizer(learning_rate=0.2, weight_decay_rate=0.01)
        return optimizer.apply_gradients(zip(tf.gradients(loss, [w]), [w]))

      if strategy is None:
        train_op = step_fn()
      else:
        with strategy.scope():
          train_op = strategy.group(strategy.extended.call_for_each_replica(step_fn))
      with _session(grappler=False) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        for _ in range(5):
          sess.run(train_op)
        return _all_values(sess, strategy)["w"]

  reference = train(None)[0]
  copies = train(tf.distribute.MirroredStrategy(DEVICES))
  np.testing.assert_array_equal(copies[0], copies[1])
  np.testing.assert_allclose(copies[0], reference, rtol=0, atol=1e-6)
