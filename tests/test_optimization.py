"""Tests of optimization.py against the spec's numbers and independent numpy references."""

import os

import numpy as np
import pytest
import tensorflow as tf

import errors
import optimization

BETA_1, BETA_2, EPSILON, WEIGHT_DECAY = 0.9, 0.999, 1e-6, 0.01


# ----------------------------------------------------------------------------------------------------------------
# numpy references (float64), written from the spec, not from the module
# ----------------------------------------------------------------------------------------------------------------

def np_lr(step, init_lr, num_train_steps, num_warmup_steps):
  if num_warmup_steps and step < num_warmup_steps:
    return init_lr * step / num_warmup_steps
  return init_lr * (1.0 - min(step, num_train_steps) / num_train_steps)


def np_clip(dense_grads, norm):
  factor = 1.0 / max(norm, 1.0)
  return {k: g * factor for k, g in dense_grads.items()}


def np_adamw_step(params, grads, m, v, lr, decayed):
  for k in params:
    g = grads[k]
    m[k] = BETA_1 * m[k] + (1 - BETA_1) * g
    v[k] = BETA_2 * v[k] + (1 - BETA_2) * g * g
    u = m[k] / (np.sqrt(v[k]) + EPSILON)
    if k in decayed:
      u = u + WEIGHT_DECAY * params[k]
    params[k] = params[k] - lr * u


def np_bias_corrected_adamw_step(params, grads, m, v, lr, decayed, t):
  """torch.optim.AdamW's update (bias-corrected moments), BERT's epsilon and weight decay."""
  for k in params:
    g = grads[k]
    m[k] = BETA_1 * m[k] + (1 - BETA_1) * g
    v[k] = BETA_2 * v[k] + (1 - BETA_2) * g * g
    u = (m[k] / (1 - BETA_1**t)) / (np.sqrt(v[k] / (1 - BETA_2**t)) + EPSILON)
    if k in decayed:
      u = u + WEIGHT_DECAY * params[k]
    params[k] = params[k] - lr * u


def np_lamb_step(params, grads, m, v, lr, decayed, t):
  for k in params:
    g = grads[k]
    m[k] = BETA_1 * m[k] + (1 - BETA_1) * g
    v[k] = BETA_2 * v[k] + (1 - BETA_2) * g * g
    m_hat = m[k] / (1 - BETA_1**t)
    v_hat = v[k] / (1 - BETA_2**t)
    u = m_hat / (np.sqrt(v_hat) + EPSILON)
    if k in decayed:
      u = u + WEIGHT_DECAY * params[k]
    w_norm, u_norm = np.linalg.norm(params[k]), np.linalg.norm(u)
    ratio = w_norm / u_norm if (w_norm > 0 and u_norm > 0) else 1.0
    params[k] = params[k] - lr * ratio * u


# ----------------------------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------------------------

def _session():
  return tf.compat.v1.Session(config=tf.compat.v1.ConfigProto(
      intra_op_parallelism_threads=1, inter_op_parallelism_threads=1))


def _var(name, value):
  value = np.asarray(value, dtype=np.float32)
  return tf.compat.v1.get_variable(name, shape=value.shape, dtype=tf.float32,
                                   initializer=tf.compat.v1.constant_initializer(value))


def _values_by_name(sess):
  variables = tf.compat.v1.global_variables()
  return {v.op.name: val for v, val in zip(variables, sess.run(variables))}


# A linear loss sum(c * w) over variables named like BERT's, plus an embedding looked up with repeated ids (its
# gradient is an IndexedSlices). The gradient is the constant c, so the reference can compute every step.
_RNG = np.random.RandomState(7)
_LINEAR = {
    "layer_0/LayerNorm/gamma": (_RNG.uniform(0.5, 1.5, [4]), _RNG.uniform(-2, 2, [4])),
    "layer_0/LayerNorm/beta": (_RNG.uniform(-1, 1, [4]), _RNG.uniform(-2, 2, [4])),
    "dense/kernel": (_RNG.uniform(-1, 1, [4, 3]), _RNG.uniform(-2, 2, [4, 3])),
    "dense/bias": (_RNG.uniform(-1, 1, [3]), _RNG.uniform(-2, 2, [3])),
    "output_weights": (_RNG.uniform(-1, 1, [3, 4]), _RNG.uniform(-2, 2, [3, 4])),
    "output_bias": (_RNG.uniform(-1, 1, [3]), _RNG.uniform(-2, 2, [3])),
}
_EMB_NAME = "bert/embeddings/word_embeddings"
_EMB_INIT = _RNG.uniform(-1, 1, [6, 4])
_EMB_IDS = np.array([1, 3, 1, 1, 5])  # id 1 three times
_EMB_COEF = _RNG.uniform(-2, 2, [len(_EMB_IDS), 4])
# Decayed per the spec: everything whose name contains none of LayerNorm / layer_norm / bias.
_DECAYED = {"dense/kernel", "output_weights", _EMB_NAME}


def _build_linear_problem():
  loss = tf.constant(0.0)
  for name, (init, coef) in _LINEAR.items():
    loss += tf.reduce_sum(_var(name, init) * coef.astype(np.float32))
  emb = _var(_EMB_NAME, _EMB_INIT)
  loss += tf.reduce_sum(tf.gather(emb, _EMB_IDS) * _EMB_COEF.astype(np.float32))
  return loss


def _linear_problem_reference_grads():
  """Dense gradients, and the global norm as tf.clip_by_global_norm counts it (IndexedSlices by slices)."""
  grads = {name: coef for name, (_, coef) in _LINEAR.items()}
  emb_grad = np.zeros_like(_EMB_INIT)
  np.add.at(emb_grad, _EMB_IDS, _EMB_COEF)
  grads[_EMB_NAME] = emb_grad
  sq = sum(float(np.sum(coef**2)) for _, coef in _LINEAR.values()) + float(np.sum(_EMB_COEF**2))
  dense_sq = sum(float(np.sum(g**2)) for g in grads.values())
  return grads, np.sqrt(sq), np.sqrt(dense_sq)


def _linear_problem_params():
  params = {name: init.copy() for name, (init, _) in _LINEAR.items()}
  params[_EMB_NAME] = _EMB_INIT.copy()
  return params


# ----------------------------------------------------------------------------------------------------------------
# the original behaviour
# ----------------------------------------------------------------------------------------------------------------

def test_first_step_update_is_3_1622_times_lr():
  # Spec §4: first step with g=1 gives u = 0.1 / (sqrt(0.001) + 1e-6) ~= 3.1622 (no bias correction).
  lr = 0.01
  with tf.Graph().as_default():
    w = _var("w", [0.0, 0.0, 0.0])
    loss = tf.reduce_sum(w)
    opt = optimization.AdamWeightDecayOptimizer(learning_rate=lr)
    train_op = opt.apply_gradients(zip(tf.gradients(loss, [w]), [w]))
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(train_op)
      w_np = sess.run(w)
  np.testing.assert_allclose(-w_np / lr, 3.1622, rtol=1e-4)
  np.testing.assert_allclose(-w_np / lr, 0.1 / (np.sqrt(0.001) + 1e-6), rtol=1e-6)


def test_first_step_update_through_create_optimizer():
  # One scalar with g=1: global norm 1, so clipping leaves it; no warmup: the rate at step 0 is init_lr.
  with tf.Graph().as_default():
    w = _var("w", 0.5)
    train_op = optimization.create_optimizer(w * 1.0, 0.01, 100, 0, False)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(train_op)
      w_np, step = sess.run([w, tf.compat.v1.train.get_global_step()])
  # Decayed (name "w"): u = 3.16218 + 0.01 * 0.5.
  np.testing.assert_allclose(0.5 - w_np, 0.01 * (0.1 / (np.sqrt(0.001) + 1e-6) + 0.01 * 0.5), rtol=1e-6)
  assert step == 1


def test_learning_rate_table_from_spec():
  # Spec §4: init 5e-5, T=1000, W=100 -> 0, 2.5e-5, 4.95e-5, 4.5e-5 (QUIRK: jump down at the boundary), 0.
  expected = {0: 0.0, 50: 2.5e-5, 99: 4.95e-5, 100: 4.5e-5, 1000: 0.0, 1500: 0.0}
  with tf.Graph().as_default():
    w = _var("w", [1.0])
    _, info = optimization.create_optimizer(tf.reduce_sum(w), 5e-5, 1000, 100, False, return_info=True)
    step = tf.compat.v1.train.get_global_step()
    new_step = tf.compat.v1.placeholder(tf.int64, [])
    set_step = step.assign(new_step)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for s, lr in expected.items():
        sess.run(set_step, {new_step: s})
        np.testing.assert_allclose(sess.run(info["learning_rate"]), lr, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(np_lr(s, 5e-5, 1000, 100), lr, rtol=1e-12)


def test_first_update_with_warmup_has_zero_learning_rate():
  # Step 0 of a warmup has rate 0: the weights stay, the moments and the step move.
  with tf.Graph().as_default():
    w = _var("w", [0.3, -0.4])
    train_op, info = optimization.create_optimizer(tf.reduce_sum(w * w), 1e-3, 100, 10, False, return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _, got = sess.run([train_op, info])
      values = _values_by_name(sess)
  assert got["learning_rate"] == 0.0 and got["applied"]
  np.testing.assert_array_equal(values["w"], np.float32([0.3, -0.4]))
  assert np.all(values["w/adam_m"] != 0.0)
  assert values["global_step"] == 1


def test_original_optimization_test():
  # google-research/bert optimization_test.py: lr 0.2, 100 steps of AdamWeightDecayOptimizer reach the target.
  with tf.Graph().as_default():
    w = _var("w", [0.1, -0.2, -0.1])
    x = tf.constant([0.4, 0.2, -0.5])
    loss = tf.reduce_mean(tf.square(x - w))
    tvars = tf.compat.v1.trainable_variables()
    grads = tf.gradients(loss, tvars)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    optimizer = optimization.AdamWeightDecayOptimizer(learning_rate=0.2)
    train_op = optimizer.apply_gradients(zip(grads, tvars), global_step)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(100):
        sess.run(train_op)
      w_np, step = sess.run([w, global_step])
  np.testing.assert_allclose(w_np, [0.4, 0.2, -0.5], rtol=1e-2, atol=1e-2)
  assert step == 0  # apply_gradients ignores global_step, as the original


def test_adamw_decay_exclusions_and_clipping_match_numpy():
  grads, quirk_norm, dense_norm = _linear_problem_reference_grads()
  assert quirk_norm > 1.0 and abs(quirk_norm - dense_norm) > 1e-2  # clipping active; the quirk is visible
  init_lr, total = 0.1, 10
  with tf.Graph().as_default():
    loss = _build_linear_problem()
    train_op, info = optimization.create_optimizer(loss, init_lr, total, 0, False, return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      norms, lrs = [], []
      for _ in range(3):
        _, got = sess.run([train_op, info])
        norms.append(got["grad_norm"])
        lrs.append(got["learning_rate"])
      values = _values_by_name(sess)

  params = _linear_problem_params()
  m = {k: np.zeros_like(p) for k, p in params.items()}
  v = {k: np.zeros_like(p) for k, p in params.items()}
  for step in range(3):
    np_adamw_step(params, np_clip(grads, quirk_norm), m, v, np_lr(step, init_lr, total, 0), _DECAYED)
  np.testing.assert_allclose(norms, [quirk_norm] * 3, rtol=1e-5)
  np.testing.assert_allclose(lrs, [0.1, 0.09, 0.08], rtol=1e-6)
  for name in params:
    np.testing.assert_allclose(values[name], params[name], rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(values[name + "/adam_m"], m[name], rtol=1e-5, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(values[name + "/adam_v"], v[name], rtol=1e-5, atol=1e-9, err_msg=name)
  assert values["global_step"] == 3

  # The reference is sensitive to the exclusions: decaying a LayerNorm or bias variable would show.
  wrong = _linear_problem_params()
  m = {k: np.zeros_like(p) for k, p in wrong.items()}
  v = {k: np.zeros_like(p) for k, p in wrong.items()}
  for step in range(3):
    np_adamw_step(wrong, np_clip(grads, quirk_norm), m, v, np_lr(step, init_lr, total, 0), set(wrong))
  assert np.abs(wrong["output_bias"] - values["output_bias"]).max() > 1e-4
  assert np.abs(wrong["layer_0/LayerNorm/gamma"] - values["layer_0/LayerNorm/gamma"]).max() > 1e-4


def test_clip_to_global_norm_one():
  # Gradient (30, 40): norm 50 -> clipped to (0.6, 0.8); the first Adam step then has u = g/(|g|+eps) elementwise.
  with tf.Graph().as_default():
    a = _var("a_bias", 0.0)
    b = _var("b_bias", 0.0)
    train_op, info = optimization.create_optimizer(30.0 * a + 40.0 * b, 1.0, 10, 0, False, return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _, got = sess.run([train_op, info])
      values = _values_by_name(sess)
  np.testing.assert_allclose(got["grad_norm"], 50.0, rtol=1e-6)
  np.testing.assert_allclose(values["a_bias/adam_m"], 0.1 * 0.6, rtol=1e-6)
  np.testing.assert_allclose(values["b_bias/adam_m"], 0.1 * 0.8, rtol=1e-6)
  np.testing.assert_allclose(values["b_bias/adam_v"], 0.001 * 0.64, rtol=1e-6)


def test_checkpoint_names_and_optimizer_variable_predicate(tmp_path):
  with tf.Graph().as_default():
    loss = _build_linear_problem()
    train_op = optimization.create_optimizer(loss, 0.1, 10, 0, False)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(train_op)
      path = tf.compat.v1.train.Saver().save(sess, os.path.join(str(tmp_path), "model.ckpt"), global_step=1)
  names = {name for name, _ in tf.train.list_variables(path)}
  expected = set(_LINEAR) | {_EMB_NAME}
  expected |= {n + "/adam_m" for n in list(expected)} | {n + "/adam_v" for n in list(expected)}
  expected.add("global_step")
  assert names == expected
  assert not any(optimization.is_optimizer_variable(n) for n in list(_LINEAR) + [_EMB_NAME])
  assert all(optimization.is_optimizer_variable(n) for n in names - set(_LINEAR) - {_EMB_NAME})
  assert optimization.is_optimizer_variable("loss_scale") and optimization.is_optimizer_variable("x/grad_accum:0")


def test_bad_options_are_user_errors():
  with tf.Graph().as_default():
    w = _var("w", [1.0])
    loss = tf.reduce_sum(w)
    for kwargs in ({"optimizer": "sgd"}, {"num_accumulation_steps": 0}, {"num_accumulation_steps": 1.5},
                   {"loss_scale": "static"}, {"loss_scale": -1.0}, {"loss_scale": "dynamic",
                                                                     "loss_scale_growth_interval": 0}):
      with pytest.raises(errors.UserError):
        optimization.create_optimizer(loss, 0.1, 10, 0, False, **kwargs)


# ----------------------------------------------------------------------------------------------------------------
# LAMB
# ----------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, reference_step, slots", [
    ("lamb", np_lamb_step, ("lamb_m", "lamb_v")),
    ("adamw_bias_corrected", np_bias_corrected_adamw_step, ("adam_m", "adam_v")),
])
def test_bias_corrected_optimizers_match_numpy_references(optimizer, reference_step, slots):
  grads, quirk_norm, _ = _linear_problem_reference_grads()
  init_lr, total = 0.05, 10
  with tf.Graph().as_default():
    loss = _build_linear_problem()
    train_op = optimization.create_optimizer(loss, init_lr, total, 0, False, optimizer=optimizer)
    global_step = tf.compat.v1.train.get_or_create_global_step()
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      after = []
      for _ in range(3):
        sess.run(train_op)
        after.append(_values_by_name(sess))
      assert sess.run(global_step) == 3

  params = _linear_problem_params()
  m = {k: np.zeros_like(p) for k, p in params.items()}
  v = {k: np.zeros_like(p) for k, p in params.items()}
  for step, values in enumerate(after):
    reference_step(params, np_clip(grads, quirk_norm), m, v, np_lr(step, init_lr, total, 0), _DECAYED, t=step + 1)
    for name in params:
      np.testing.assert_allclose(values[name], params[name], rtol=1e-5, atol=1e-6, err_msg=name)
      np.testing.assert_allclose(values[name + "/" + slots[0]], m[name], rtol=1e-5, atol=1e-7, err_msg=name)
      np.testing.assert_allclose(values[name + "/" + slots[1]], v[name], rtol=1e-5, atol=1e-9, err_msg=name)
  other_slots = {"lamb_m": "adam_m", "adam_m": "lamb_m"}[slots[0]]
  assert not any(k.endswith(other_slots) for k in after[-1])


def test_bias_corrected_adamw_first_update_is_the_learning_rate():
  # With a constant gradient the first update moves a weight by lr * g / |g| = lr, not BERT's 3.16 lr.
  with tf.Graph().as_default():
    loss = _build_linear_problem()
    train_op = optimization.create_optimizer(loss, 0.05, 10, 0, False, optimizer="adamw_bias_corrected")
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(train_op)
      moved = np.abs(_values_by_name(sess)["output_bias"] - _linear_problem_params()["output_bias"])
  np.testing.assert_allclose(moved, 0.05, rtol=1e-3)


# ----------------------------------------------------------------------------------------------------------------
# gradient accumulation
# ----------------------------------------------------------------------------------------------------------------

_DATA_RNG = np.random.RandomState(11)
_FEATURES = _DATA_RNG.normal(size=[24, 5]).astype(np.float32)
_TOKEN_IDS = _DATA_RNG.randint(0, 4, size=[24, 3]).astype(np.int32)  # few ids: many repeats (IndexedSlices norm)
_LABELS = _DATA_RNG.randint(0, 3, size=[24]).astype(np.int32)
_SMALL_MODEL_INIT = {
    "bert/embeddings/word_embeddings": _DATA_RNG.normal(scale=0.5, size=[10, 8]),
    "dense/kernel": _DATA_RNG.normal(scale=0.5, size=[5, 8]),
    "dense/bias": _DATA_RNG.normal(scale=0.1, size=[8]),
    "LayerNorm/gamma": 1.0 + _DATA_RNG.normal(scale=0.1, size=[8]),
    "LayerNorm/beta": _DATA_RNG.normal(scale=0.1, size=[8]),
    "output_weights": _DATA_RNG.normal(scale=0.5, size=[3, 8]),
    "output_bias": np.zeros([3]),
}


def _small_classifier(batch_size, loss_multiplier=None):
  """A tiny classifier with BERT-like names (embedding lookup, dense, LayerNorm, head); mean cross-entropy."""
  features = tf.compat.v1.placeholder(tf.float32, [batch_size, 5])
  ids = tf.compat.v1.placeholder(tf.int32, [batch_size, 3])
  labels = tf.compat.v1.placeholder(tf.int32, [batch_size])
  v = {name: _var(name, value) for name, value in _SMALL_MODEL_INIT.items()}
  h = tf.matmul(features, v["dense/kernel"]) + v["dense/bias"]
  h += tf.reduce_mean(tf.nn.embedding_lookup(v["bert/embeddings/word_embeddings"], ids), axis=1)
  h = tf.tanh(h)
  mean, variance = tf.nn.moments(h, axes=[-1], keepdims=True)
  h = (h - mean) * tf.math.rsqrt(variance + 1e-12) * v["LayerNorm/gamma"] + v["LayerNorm/beta"]
  logits = tf.matmul(h, v["output_weights"], transpose_b=True) + v["output_bias"]
  loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
  if loss_multiplier is not None:
    loss *= loss_multiplier
  return (features, ids, labels), loss


def _feed(placeholders, start, size):
  features, ids, labels = placeholders
  return {features: _FEATURES[start:start + size], ids: _TOKEN_IDS[start:start + size],
          labels: _LABELS[start:start + size]}


def test_accumulating_4_micro_batches_of_2_equals_one_batch_of_8():
  # The mean of 4 micro-batch means equals the batch mean only up to float32 rounding, and Adam divides by
  # sqrt(v) + 1e-6: a gradient element that nearly cancels over the batch (|g| ~ 1e-5) gets an O(1) update
  # whose relative error is that of g (~1e-4 here). The weight difference is therefore ~lr * 1e-4; the
  # learning rate is chosen so the 1e-6 bound holds, while the gradient norm (rtol 1e-5) and the moments
  # check the averaging itself (a sum instead of a mean would give a 4x norm).
  updates, init_lr = 3, 0.005
  with tf.Graph().as_default():
    placeholders, loss = _small_classifier(8)
    train_op, info = optimization.create_optimizer(loss, init_lr, 10, 0, False, return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      big_norms = []
      for step in range(updates):
        big_norms.append(sess.run([train_op, info], _feed(placeholders, 8 * step, 8))[1]["grad_norm"])
      big = _values_by_name(sess)
  assert max(big_norms) > 1.0  # clipping is part of what is compared

  with tf.Graph().as_default():
    placeholders, loss = _small_classifier(2)
    train_op, info = optimization.create_optimizer(loss, init_lr, 10, 0, False, num_accumulation_steps=4,
                                                   return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      start = _values_by_name(sess)
      for step in range(updates):
        for micro in range(4):
          _, got = sess.run([train_op, info], _feed(placeholders, 8 * step + 2 * micro, 2))
          values = _values_by_name(sess)
          if micro < 3:
            assert not got["applied"] and got["grad_norm"] == 0.0
            assert values["global_step"] == step
            if step == 0:
              for name in _SMALL_MODEL_INIT:
                np.testing.assert_array_equal(values[name], start[name])
          else:
            assert got["applied"] and values["global_step"] == step + 1
            np.testing.assert_allclose(got["grad_norm"], big_norms[step], rtol=1e-5)
      small = _values_by_name(sess)

  for name in _SMALL_MODEL_INIT:
    for suffix, bound in (("", 1e-6), ("/adam_m", 1e-6), ("/adam_v", 1e-9)):
      diff = np.abs(small[name + suffix] - big[name + suffix]).max()
      assert diff <= bound, (name + suffix, diff)
    assert np.abs(small[name] - start[name]).max() > 1e-3  # the weights did move
    np.testing.assert_array_equal(small[name + "/grad_accum"], 0.0)
  assert small["grad_accum_step"] == 0


# ----------------------------------------------------------------------------------------------------------------
# loss scaling (fp16)
# ----------------------------------------------------------------------------------------------------------------

def test_dynamic_loss_scale_skips_overflow_and_grows_after_interval():
  with tf.Graph().as_default():
    multiplier = tf.compat.v1.placeholder(tf.float32, [])
    placeholders, loss = _small_classifier(4, loss_multiplier=multiplier)
    train_op, info = optimization.create_optimizer(loss, 0.05, 10, 0, False, loss_scale="dynamic",
                                                   initial_loss_scale=1024.0, loss_scale_growth_interval=2,
                                                   return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      before = _values_by_name(sess)

      feed = _feed(placeholders, 0, 4)
      feed[multiplier] = np.inf  # every gradient becomes inf or NaN
      _, got = sess.run([train_op, info], feed)
      after = _values_by_name(sess)
      assert not got["applied"] and not np.isfinite(got["grad_norm"]) and got["loss_scale"] == 1024.0
      for name, value in before.items():
        if name not in ("loss_scale",):
          np.testing.assert_array_equal(after[name], value, err_msg=name)  # weights, slots, step untouched
      assert after["loss_scale"] == 512.0

      scales, good = [], []
      for step in range(3):
        feed = _feed(placeholders, 4 * step, 4)
        feed[multiplier] = 1.0
        _, got = sess.run([train_op, info], feed)
        assert got["applied"]
        values = _values_by_name(sess)
        scales.append(values["loss_scale"])
        good.append(values["loss_scale_good_steps"])
      scaled = _values_by_name(sess)
  assert scales == [512.0, 1024.0, 1024.0] and good == [1, 0, 1]
  assert scaled["global_step"] == 3

  # The applied updates are those of the same training without loss scaling (the scale is a power of 2).
  with tf.Graph().as_default():
    placeholders, loss = _small_classifier(4)
    train_op = optimization.create_optimizer(loss, 0.05, 10, 0, False)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for step in range(3):
        sess.run(train_op, _feed(placeholders, 4 * step, 4))
      plain = _values_by_name(sess)
  for name in _SMALL_MODEL_INIT:
    np.testing.assert_allclose(scaled[name], plain[name], rtol=1e-6, atol=1e-7, err_msg=name)


def test_loss_scale_never_drops_below_one_and_fixed_scale_skips_overflow():
  with tf.Graph().as_default():
    w = _var("w", [1.0, 2.0])
    multiplier = tf.compat.v1.placeholder(tf.float32, [])
    train_op, info = optimization.create_optimizer(tf.reduce_sum(w) * multiplier, 0.1, 10, 0, False,
                                                   loss_scale="dynamic", initial_loss_scale=1.0, return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      sess.run(train_op, {multiplier: np.nan})
      values = _values_by_name(sess)
  assert values["loss_scale"] == 1.0 and values["global_step"] == 0
  np.testing.assert_array_equal(values["w"], [1.0, 2.0])

  with tf.Graph().as_default():
    w = _var("w", [1.0, 2.0])
    multiplier = tf.compat.v1.placeholder(tf.float32, [])
    train_op, info = optimization.create_optimizer(tf.reduce_sum(w) * multiplier, 0.1, 10, 0, False,
                                                   loss_scale=128.0, return_info=True)
    with _session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      _, got = sess.run([train_op, info], {multiplier: np.inf})
      assert not got["applied"] and got["loss_scale"] == 128.0
      _, got = sess.run([train_op, info], {multiplier: 1.0})
      values = _values_by_name(sess)
  assert got["applied"] and values["global_step"] == 1 and "loss_scale" not in values
  np.testing.assert_allclose(got["grad_norm"], np.sqrt(2.0), rtol=1e-6)


def test_loss_scaling_rescues_float16_gradients_from_underflow():
  # d(loss)/dw = 1e-4 * 1e-4 = 1e-8 is below float16's smallest subnormal (6e-8): it flushes to 0 unless scaled.
  norms = {}
  for loss_scale in (None, "dynamic"):
    with tf.Graph().as_default():
      w = _var("w", [1.0, 1.0, 1.0, 1.0])
      small = tf.constant(1e-4, tf.float16)
      loss = tf.reduce_sum(tf.cast(w, tf.float16) * small) * small
      _, info = optimization.create_optimizer(loss, 0.1, 10, 0, False, loss_scale=loss_scale, return_info=True)
      with _session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        norms[loss_scale] = sess.run(info["grad_norm"])
  assert norms[None] == 0.0
  np.testing.assert_allclose(norms["dynamic"], 2e-8, rtol=2e-3)
