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
"""BERT's optimizer: Adam with decoupled weight decay (or LAMB), the warmup/decay schedule, clipping, accumulation
and loss scaling, in TF1-style graph mode (tf.compat.v1, no Keras).

Called the original way, `create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu)` builds the same
update as google-research/bert's optimization.py:

  * learning rate: `init_lr * (1 - min(step, num_train_steps) / num_train_steps)` (linear decay to 0 on the RAW global
    step), replaced by `init_lr * step / num_warmup_steps` while `step < num_warmup_steps`.
    QUIRK (kept): the decay does not start after the warmup, so the rate jumps down at the boundary. With init 5e-5,
    1000 steps, 100 warmup: step 0 -> 0, 50 -> 2.5e-5, 99 -> 4.95e-5, 100 -> 4.5e-5, 1000 -> 0. The very first update
    therefore uses a learning rate of 0 whenever there is a warmup (only the moments move).
  * gradients: `tf.gradients(loss, tf.compat.v1.trainable_variables())`, variables without a gradient are skipped,
    then clipped to a global norm of 1.0.
    QUIRK (kept): like `tf.clip_by_global_norm`, a gradient that comes as `tf.IndexedSlices` (an embedding looked up
    with `tf.gather`) counts in the norm by its slices, so a token that occurs k times in the batch contributes k
    squared rows instead of the square of their sum. This holds across replicas and accumulated micro-batches too.
  * `AdamWeightDecayOptimizer`: beta1 0.9, beta2 0.999, epsilon 1e-6, weight decay 0.01 added to the update (not to
    the loss) except for variables whose name `re.search`-matches "LayerNorm", "layer_norm" or "bias"; NO bias
    correction. Per variable: m <- b1*m + (1-b1)*g; v <- b2*v + (1-b2)*g^2; u = m/(sqrt(v)+eps) [+ wd*w];
    w <- w - lr*u.
  * `global_step` (`tf.compat.v1.train.get_or_create_global_step()`) is incremented by the train op. The learning
    rate of a call is read from the step BEFORE the increment (the original left this ordering to chance).
  * `use_tpu` is accepted for compatibility and ignored: there is no TPU path; the cross-replica averaging that
    `CrossShardOptimizer` did is done under any `tf.distribute` strategy (below).

Additive keyword options (defaults give the original):

  * `optimizer="lamb"`: LAMB (You et al. 2019, as in NVIDIA's BERT): Adam moments WITH bias correction
    (t = global_step + 1), u = m_hat/(sqrt(v_hat)+eps) [+ wd*w, same exclusions], then the layer-wise trust ratio
    r = ||w|| / ||u|| (1 where either norm is 0), w <- w - lr*r*u. Applied to every variable.
  * `optimizer="adamw_bias_corrected"`: the same AdamW with Adam's bias correction (t = global_step + 1):
    u = m_hat/(sqrt(v_hat)+eps) [+ wd*w], w <- w - lr*u, as torch.optim.AdamW and Keras' AdamW update. Same
    slots (`adam_m`, `adam_v`), weight decay, exclusions and epsilon as "adamw". Without the correction the early
    steps are larger (by (1-b1^t)/sqrt(1-b2^t): 3.2x at t=100, 1.5x at t=600), which is what separates BERT's
    fine-tuning from transformers' recipes at the same learning rate.
  * `num_accumulation_steps=N`: each call of the train op computes the gradients of one micro-batch and adds them to
    accumulators; every N-th call applies ONE update with their MEAN (so N micro-batches of b == one batch of N*b for
    a loss that is a mean over the batch), clipping the accumulated mean. `global_step` counts UPDATES: it moves on
    the N-th call only, so `num_train_steps`/`num_warmup_steps` are in updates, and a training loop runs
    N * num_train_steps calls.
  * `loss_scale="dynamic"` or a number (for `--precision fp16`): the loss is multiplied by the scale before
    `tf.gradients` and the gradients divided by it. If the (unscaled, all-reduced, accumulated) gradient has any
    inf/NaN -- detected through its global norm -- the update is SKIPPED: no variable, slot or `global_step` changes
    (so `global_step` still counts applied updates), accumulators are emptied. A dynamic scale is then halved (never
    below 1); after `loss_scale_growth_interval` applied updates in a row it is doubled. A fixed number never
    changes, but non-finite updates are still skipped. `loss_scale=None` (default) scales nothing and checks
    nothing, like the original. The loss may be float16; the variables stay float32.
  * `return_info=True`: returns `(train_op, info)`, `info` a dict of scalar tensors for summaries:
      "learning_rate"  float32, the rate of this call's update (from the step before it);
      "grad_norm"      float32, global norm of the gradient of this call's update BEFORE clipping (unscaled,
                       all-reduced, accumulated mean); inf/NaN on a skipped overflow; 0 on calls that only accumulate;
      "loss_scale"     float32, the scale this call's loss was multiplied by (1.0 without loss scaling);
      "applied"        bool, whether this call changed the variables (False on accumulation-only calls and on skipped
                       overflows). Write per-update summaries only where it is True.

Variables (all float32 unless said; saved by `tf.compat.v1.train.Saver` under exactly these names):
  `<var>/adam_m`, `<var>/adam_v`     AdamW moments (as in the original checkpoints)
  `<var>/lamb_m`, `<var>/lamb_v`     LAMB moments (different names, so a LAMB run cannot silently resume as AdamW)
  `<var>/grad_accum`                 gradient accumulators (only with num_accumulation_steps > 1)
  `grad_accum_step` (int64)          micro-batches accumulated since the last update
  `grad_accum_sparse_half_sq`        accumulated sum(slices^2)/2 of IndexedSlices gradients (for the norm QUIRK)
  `loss_scale`, `loss_scale_good_steps` (int64)   dynamic loss scale and its count of good updates
  `global_step` (int64)
`is_optimizer_variable(name)` says whether a checkpoint name is optimizer state (to strip it for release).

Multi-device contract (tf.distribute.MirroredStrategy / MultiWorkerMirroredStrategy, graph mode):
  * Build the model, the loss and call `create_optimizer` INSIDE the replica function, i.e. inside
    `strategy.extended.call_for_each_replica(fn)` (under `strategy.scope()`); the loss must be the replica's own
    mean loss. Do not call it under `strategy.scope()` in cross-replica context (ValueError).
  * Inside, each replica computes its gradients; one `merge_call` then all-reduces them (MEAN over replicas, so N
    replicas with B/N examples each == one device with B) BEFORE anything else, and builds the identical update on
    every device from the reduced values: clipping by the all-reduced norm, the overflow decision and the
    accumulation are therefore the same on all replicas and the replicas stay bit-identical. (The original's
    per-replica `apply_gradients` never averaged and let replicas drift apart.)
  * Optimizer state is created in cross-replica context as mirrored variables, so the Saver writes plain names (no
    `/replica_1`). With accumulation the gradients are all-reduced on every micro-batch (one all-reduce per call) so
    the accumulators are mirrored and a checkpoint taken at any call is consistent.
  * `call_for_each_replica` returns the same train op (and the same info tensors, those of the first device) from
    every replica; run `strategy.group(train_op)` (or the op itself) in the Session. Reduce the loss yourself
    (`strategy.reduce(MEAN, per_replica_loss, axis=None)`) for logging.
  * Without a strategy (or with the default one) everything runs on the current device, as the original.
"""

import collections
import contextlib
import numbers
import re

import tensorflow as tf

import errors
import modeling

OPTIMIZERS = ("adamw", "adamw_bias_corrected", "lamb")
ADAMW_SLOT_SUFFIXES = ("adam_m", "adam_v")
LAMB_SLOT_SUFFIXES = ("lamb_m", "lamb_v")
ACCUMULATOR_SUFFIX = "grad_accum"
ACCUMULATION_STEP_NAME = "grad_accum_step"
ACCUMULATED_SPARSE_NAME = "grad_accum_sparse_half_sq"
LOSS_SCALE_NAME = "loss_scale"
LOSS_SCALE_GOOD_STEPS_NAME = "loss_scale_good_steps"
DEFAULT_INITIAL_LOSS_SCALE = 2.0**15
DEFAULT_LOSS_SCALE_GROWTH_INTERVAL = 2000
CLIP_NORM = 1.0
EXCLUDE_FROM_WEIGHT_DECAY = ["LayerNorm", "layer_norm", "bias"]

_OPTIMIZER_STATE_RE = re.compile(
    r"(^|/)(%s)$" % "|".join(ADAMW_SLOT_SUFFIXES + LAMB_SLOT_SUFFIXES + (ACCUMULATOR_SUFFIX,)))
_OPTIMIZER_STATE_NAMES = frozenset([
    "global_step", ACCUMULATION_STEP_NAME, ACCUMULATED_SPARSE_NAME, LOSS_SCALE_NAME, LOSS_SCALE_GOOD_STEPS_NAME])


def is_optimizer_variable(name):
  """True if checkpoint variable `name` is optimizer state (slots, accumulators, loss scale, global_step)."""
  name = modeling.variable_name(name)
  return name in _OPTIMIZER_STATE_NAMES or _OPTIMIZER_STATE_RE.search(name) is not None


def learning_rate_schedule(global_step, init_lr, num_train_steps, num_warmup_steps):
  """The original's learning rate at `global_step` (a scalar tensor), as a float32 scalar tensor.

  Linear decay from `init_lr` to 0 over `num_train_steps` on the raw step, and linear warmup from 0 while
  `global_step < num_warmup_steps` (QUIRK: a discontinuity at the boundary, see the module docstring).
  """
  # Same arithmetic as tf.train.polynomial_decay(power=1.0, end_learning_rate=0.0, cycle=False), in float32.
  step = tf.cast(global_step, tf.float32)
  decay_steps = tf.cast(num_train_steps, tf.float32)
  init = tf.constant(init_lr, dtype=tf.float32, shape=[])
  done = tf.minimum(step, decay_steps) / decay_steps
  learning_rate = init * tf.pow(1.0 - done, 1.0)

  if num_warmup_steps:
    global_steps_int = tf.cast(global_step, tf.int32)
    warmup_steps_int = tf.constant(num_warmup_steps, dtype=tf.int32)
    warmup_percent_done = (tf.cast(global_steps_int, tf.float32) / tf.cast(warmup_steps_int, tf.float32))
    warmup_learning_rate = init_lr * warmup_percent_done
    is_warmup = tf.cast(global_steps_int < warmup_steps_int, tf.float32)
    learning_rate = ((1.0 - is_warmup) * learning_rate + is_warmup * warmup_learning_rate)
  return learning_rate


def create_optimizer(loss, init_lr, num_train_steps, num_warmup_steps, use_tpu,
                     optimizer="adamw",
                     num_accumulation_steps=1,
                     loss_scale=None,
                     initial_loss_scale=DEFAULT_INITIAL_LOSS_SCALE,
                     loss_scale_growth_interval=DEFAULT_LOSS_SCALE_GROWTH_INTERVAL,
                     return_info=False):
  """Creates the training op (see the module docstring for the semantics and the multi-device contract).

  Args:
    loss: scalar loss tensor of this replica (a mean over its examples when replicas or micro-batches are used).
    init_lr: peak learning rate (float).
    num_train_steps: number of optimizer UPDATES; the rate decays linearly to 0 over them.
    num_warmup_steps: number of warmup updates (0/None: no warmup).
    use_tpu: accepted for compatibility, ignored.
    optimizer: "adamw" (the original), "adamw_bias_corrected" or "lamb".
    num_accumulation_steps: micro-batches per update (1: the original).
    loss_scale: None (no scaling), "dynamic", or a positive number (fixed scale).
    initial_loss_scale: start value of a dynamic scale.
    loss_scale_growth_interval: applied updates in a row after which a dynamic scale doubles.
    return_info: also return the dict of summary tensors.

  Returns:
    `train_op`, or `(train_op, info)` with `return_info=True`.

  Raises:
    errors.UserError: for an unknown optimizer, a bad accumulation count or a bad loss scale.
    ValueError: when called under a distribution strategy outside its replica function.
  """
  del use_tpu  # No TPU path; replicas are averaged under any strategy.
  config = _TrainConfig(init_lr, num_train_steps, num_warmup_steps, optimizer, num_accumulation_steps, loss_scale,
                        initial_loss_scale, loss_scale_growth_interval)
  if tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context():
    raise ValueError("create_optimizer must be called inside the replica function "
                     "(strategy.extended.call_for_each_replica), not in cross-replica context")

  global_step = tf.compat.v1.train.get_or_create_global_step()
  tvars = tf.compat.v1.trainable_variables()

  # The scale read here (per replica) is the one this call's loss is multiplied by.
  scale_var = None
  if config.loss_scale == "dynamic":
    with _root_variable_scope():
      scale_var = tf.compat.v1.get_variable(
          LOSS_SCALE_NAME, shape=[], dtype=tf.float32, trainable=False,
          initializer=tf.compat.v1.constant_initializer(config.initial_loss_scale))
    scale = tf.identity(scale_var)
  elif config.loss_scale is not None:
    scale = tf.constant(config.loss_scale, dtype=tf.float32)
  else:
    scale = None

  scaled_loss = loss if scale is None else loss * tf.cast(scale, loss.dtype)
  raw_grads = tf.gradients(scaled_loss, tvars)

  grads, variables, is_sparse, sparse_half_sq = [], [], [], []
  for grad, var in zip(raw_grads, tvars):
    if grad is None:
      continue
    dense, half_sq = _unscale_and_densify(grad, scale)
    grads.append(dense)
    variables.append(var)
    is_sparse.append(half_sq is not None)
    if half_sq is not None:
      sparse_half_sq.append(half_sq)
  if not variables:
    raise ValueError("the loss has no gradient with respect to any trainable variable")
  sparse_total = tf.add_n(sparse_half_sq) if sparse_half_sq else tf.constant(0.0)
  scale_read = scale if scale is not None else tf.constant(1.0)

  builder = _UpdateBuilder(config, variables, is_sparse, global_step, scale_var)
  if tf.distribute.has_strategy():
    train_op, info = tf.distribute.get_replica_context().merge_call(
        builder.build_distributed, args=(grads, sparse_total, scale_read))
  else:
    train_op, info = builder.build_local(grads, sparse_total, scale_read)
  if return_info:
    return train_op, info
  return train_op


def create_train_op(total_loss, learning_rate, num_train_steps, num_warmup_steps, params):
  """`create_optimizer` with the runtime's options in a model_fn's `params`; returns (train_op, scalars).

  The options: params["optimizer"], params["num_accumulation_steps"], and dynamic loss scaling for
  params["precision"] == "fp16". The scalars (learning rate, gradient norm, loss scale) are for TensorBoard.
  """
  precision = params.get("precision", "fp32")
  train_op, info = create_optimizer(
      total_loss, learning_rate, num_train_steps, num_warmup_steps, False,
      optimizer=params.get("optimizer", "adamw"),
      num_accumulation_steps=params.get("num_accumulation_steps", 1),
      # float16 gradients underflow without a loss scale; bfloat16 has float32's range and needs none.
      loss_scale="dynamic" if precision == "fp16" else None,
      return_info=True)
  scalars = {"learning_rate": info["learning_rate"], "gradient_norm": info["grad_norm"]}
  if precision == "fp16":
    scalars["loss_scale"] = info["loss_scale"]
  return train_op, scalars


class AdamWeightDecayOptimizer(tf.compat.v1.train.Optimizer):
  """A basic Adam optimizer that includes "correct" L2 weight decay (no bias correction), as in BERT.

  `apply_gradients(grads_and_vars, global_step=None, name=None)` updates the variables and their slots
  `<var>/adam_m`, `<var>/adam_v`; like the original it ignores `global_step` (it does not increment it). Inside a
  `tf.distribute` replica function it all-reduces (MEAN) the gradients before the update instead of updating each
  replica with its own gradients.
  """

  slot_suffixes = ADAMW_SLOT_SUFFIXES

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               name="AdamWeightDecayOptimizer"):
    """Constructs a AdamWeightDecayOptimizer."""
    super(AdamWeightDecayOptimizer, self).__init__(False, name)

    self.learning_rate = learning_rate
    self.weight_decay_rate = weight_decay_rate
    self.beta_1 = beta_1
    self.beta_2 = beta_2
    self.epsilon = epsilon
    self.exclude_from_weight_decay = exclude_from_weight_decay

  def apply_gradients(self, grads_and_vars, global_step=None, name=None):
    """Applies one update; `global_step` is only read (LAMB's bias correction), never incremented."""
    pairs = [(g, v) for (g, v) in grads_and_vars if g is not None and v is not None]
    grads = [_unscale_and_densify(g, None)[0] for (g, _) in pairs]
    variables = [v for (_, v) in pairs]
    if not variables:
      return tf.no_op(name=name)

    def apply_on_devices(strategy, grads):
      if strategy is not None:
        grads = strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.MEAN, list(zip(grads, variables)))
      slots = self.create_slots(variables)
      step = self._bias_correction_step(global_step)
      updates = []
      for device in range(_num_local_devices(strategy, variables)):
        with _on_local_device(strategy, variables[0], device):
          local_step = None if step is None else tf.identity(_local(strategy, step, device))
          for grad, var, var_slots in zip(grads, variables, slots):
            updates.extend(self.apply_update(
                _local(strategy, grad, device), _local(strategy, var, device),
                [_local(strategy, s, device) for s in var_slots], self.learning_rate, modeling.variable_name(var.name),
                local_step))
      return tf.group(*updates, name=name)

    if tf.distribute.has_strategy() and not tf.distribute.in_cross_replica_context():
      return tf.distribute.get_replica_context().merge_call(apply_on_devices, args=(grads,))
    return apply_on_devices(None, grads)

  def create_slots(self, variables):
    """Creates (or, under a reusing scope, finds) the slot variables of each variable, at the graph root."""
    slots = []
    with _root_variable_scope():
      for var in variables:
        param_name = self._get_variable_name(var.name)
        slots.append([
            tf.compat.v1.get_variable(
                name=param_name + "/" + suffix,
                shape=var.shape.as_list(),
                dtype=tf.float32,
                trainable=False,
                initializer=tf.compat.v1.zeros_initializer()) for suffix in self.slot_suffixes])
    return slots

  def apply_update(self, grad, param, slots, learning_rate, param_name, step):
    """Returns the assign ops of one variable's update on one device (plain, non-distributed variables)."""
    m, v = slots
    next_m, next_v = self._next_moments(grad, m, v)
    update = self._with_weight_decay(self._direction(next_m, next_v, step), param, param_name)
    next_param = param - learning_rate * update
    return [param.assign(next_param), m.assign(next_m), v.assign(next_v)]

  def _next_moments(self, grad, m, v):
    next_m = (tf.multiply(self.beta_1, m) + tf.multiply(1.0 - self.beta_1, grad))
    next_v = (tf.multiply(self.beta_2, v) + tf.multiply(1.0 - self.beta_2, tf.square(grad)))
    return next_m, next_v

  def _direction(self, next_m, next_v, step):
    del step  # No bias correction in BERT's Adam.
    return next_m / (tf.sqrt(next_v) + self.epsilon)

  def _with_weight_decay(self, update, param, param_name):
    # Decoupled weight decay: added to the update, so it does not pass through the Adam moments.
    if self._do_use_weight_decay(param_name):
      update += self.weight_decay_rate * param
    return update

  def _bias_correction_step(self, global_step):
    del global_step
    return None

  def _do_use_weight_decay(self, param_name):
    """Whether to use L2 weight decay for `param_name`."""
    if not self.weight_decay_rate:
      return False
    if self.exclude_from_weight_decay:
      for r in self.exclude_from_weight_decay:
        if re.search(r, param_name) is not None:
          return False
    return True

  def _get_variable_name(self, param_name):
    """Get the variable name from the tensor name."""
    return modeling.variable_name(param_name)

  # The v1 Optimizer's slot machinery is not used (apply_gradients is overridden); these satisfy its interface.
  def _apply_dense(self, grad, var):
    raise NotImplementedError("use apply_gradients")

  def _resource_apply_dense(self, grad, handle):
    raise NotImplementedError("use apply_gradients")

  def _apply_sparse(self, grad, var):
    raise NotImplementedError("use apply_gradients")

  def _resource_apply_sparse(self, grad, handle, indices):
    raise NotImplementedError("use apply_gradients")


class BiasCorrectedAdamWeightDecayOptimizer(AdamWeightDecayOptimizer):
  """AdamWeightDecayOptimizer with Adam's bias correction, t = step + 1 (`global_step` read, not incremented).

  Slots `<var>/adam_m`, `<var>/adam_v`, as BERT's: the moments are the same, only the update differs.
  """

  def __init__(self, learning_rate, weight_decay_rate=0.0, beta_1=0.9, beta_2=0.999, epsilon=1e-6,
               exclude_from_weight_decay=None, name="BiasCorrectedAdamWeightDecayOptimizer"):
    super(BiasCorrectedAdamWeightDecayOptimizer, self).__init__(
        learning_rate, weight_decay_rate, beta_1, beta_2, epsilon, exclude_from_weight_decay, name)

  def _direction(self, next_m, next_v, step):
    t = tf.cast(step, tf.float32) + 1.0
    next_m_unbiased = next_m / (1.0 - tf.pow(self.beta_1, t))
    next_v_unbiased = next_v / (1.0 - tf.pow(self.beta_2, t))
    return next_m_unbiased / (tf.sqrt(next_v_unbiased) + self.epsilon)

  def _bias_correction_step(self, global_step):
    if global_step is None:
      global_step = tf.compat.v1.train.get_or_create_global_step()
    return global_step


class LAMBOptimizer(BiasCorrectedAdamWeightDecayOptimizer):
  """LAMB: bias-corrected Adam direction (+ decoupled weight decay) scaled by the trust ratio ||w|| / ||u||.

  Slots `<var>/lamb_m`, `<var>/lamb_v`. The bias correction uses t = step + 1, where step is the `global_step`
  passed to `apply_gradients` (default: the graph's global step), which is read, not incremented.
  """

  slot_suffixes = LAMB_SLOT_SUFFIXES

  def __init__(self,
               learning_rate,
               weight_decay_rate=0.0,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=None,
               name="LAMBOptimizer"):
    super(LAMBOptimizer, self).__init__(learning_rate, weight_decay_rate, beta_1, beta_2, epsilon,
                                        exclude_from_weight_decay, name)

  def apply_update(self, grad, param, slots, learning_rate, param_name, step):
    m, v = slots
    next_m, next_v = self._next_moments(grad, m, v)
    update = self._with_weight_decay(self._direction(next_m, next_v, step), param, param_name)

    # Layer-wise trust ratio; 1 where either norm is 0 (fresh zero-initialized biases, zero updates).
    w_norm = tf.norm(param, ord=2)
    u_norm = tf.norm(update, ord=2)
    ratio = tf.where(w_norm > 0.0, tf.where(u_norm > 0.0, w_norm / u_norm, 1.0), 1.0)

    next_param = param - ratio * learning_rate * update
    return [param.assign(next_param), m.assign(next_m), v.assign(next_v)]


_LocalState = collections.namedtuple(
    "_LocalState", ["params", "slots", "accumulators", "accumulation_step", "accumulated_sparse", "scale_var",
                    "good_steps", "global_step"])


class _TrainConfig(object):
  """Validated options of create_optimizer."""

  def __init__(self, init_lr, num_train_steps, num_warmup_steps, optimizer, num_accumulation_steps, loss_scale,
               initial_loss_scale, loss_scale_growth_interval):
    self.init_lr = init_lr
    self.num_train_steps = num_train_steps
    self.num_warmup_steps = num_warmup_steps

    if optimizer not in OPTIMIZERS:
      raise errors.UserError("--optimizer must be one of %s, got %r" % ("/".join(OPTIMIZERS), optimizer))
    self.optimizer = optimizer

    if (isinstance(num_accumulation_steps, bool) or not isinstance(num_accumulation_steps, numbers.Integral)
        or num_accumulation_steps < 1):
      raise errors.UserError("--num_accumulation_steps must be an integer >= 1, got %r" % (num_accumulation_steps,))
    self.num_accumulation_steps = int(num_accumulation_steps)

    if loss_scale is None or loss_scale == "dynamic":
      self.loss_scale = loss_scale
    elif (isinstance(loss_scale, numbers.Real) and not isinstance(loss_scale, bool) and loss_scale > 0
          and loss_scale != float("inf")):
      self.loss_scale = float(loss_scale)
    else:
      raise errors.UserError("loss scale must be None, 'dynamic' or a positive finite number, got %r" % (loss_scale,))

    if not (isinstance(initial_loss_scale, numbers.Real) and 0 < initial_loss_scale < float("inf")):
      raise errors.UserError("initial loss scale must be a positive finite number, got %r" % (initial_loss_scale,))
    self.initial_loss_scale = float(initial_loss_scale)
    if (isinstance(loss_scale_growth_interval, bool) or not isinstance(loss_scale_growth_interval, numbers.Integral)
        or loss_scale_growth_interval < 1):
      raise errors.UserError("loss scale growth interval must be an integer >= 1, got %r"
                             % (loss_scale_growth_interval,))
    self.loss_scale_growth_interval = int(loss_scale_growth_interval)

  def make_optimizer(self):
    cls = {"adamw": AdamWeightDecayOptimizer, "adamw_bias_corrected": BiasCorrectedAdamWeightDecayOptimizer,
           "lamb": LAMBOptimizer}[self.optimizer]
    # The learning rate is computed per device from its own copy of global_step (see _UpdateBuilder).
    return cls(learning_rate=None,
               weight_decay_rate=0.01,
               beta_1=0.9,
               beta_2=0.999,
               epsilon=1e-6,
               exclude_from_weight_decay=list(EXCLUDE_FROM_WEIGHT_DECAY))


class _UpdateBuilder(object):
  """Builds create_optimizer's update from (all-reduced) gradients, once per device."""

  def __init__(self, config, variables, is_sparse, global_step, scale_var):
    self.config = config
    self.variables = variables
    self.is_sparse = is_sparse
    self.global_step = global_step
    self.scale_var = scale_var
    self.optimizer = config.make_optimizer()

  def build_local(self, grads, sparse_total, scale_read):
    """No strategy: the update on the current device."""
    state = self._create_state()
    return self._build_device_step(_select_local(None, state, 0), grads, sparse_total, scale_read)

  def build_distributed(self, strategy, grads, sparse_total, scale_read):
    """merge_call body (cross-replica context): all-reduce, then the same update on every local device."""
    num_replicas = strategy.num_replicas_in_sync
    grads = strategy.extended.batch_reduce_to(tf.distribute.ReduceOp.MEAN, list(zip(grads, self.variables)))
    if any(self.is_sparse):
      # Slices of all replicas, each divided by N by the mean: sum over replicas of sum(slices^2)/2, over N^2.
      sparse_total = strategy.extended.reduce_to(tf.distribute.ReduceOp.SUM, sparse_total, self.variables[0])
    state = self._create_state()
    updates, infos = [], []
    for device in range(_num_local_devices(strategy, self.variables)):
      with _on_local_device(strategy, self.variables[0], device):
        local_sparse = _local(strategy, sparse_total, device)
        if any(self.is_sparse):
          local_sparse = local_sparse / float(num_replicas * num_replicas)
        update, info = self._build_device_step(
            _select_local(strategy, state, device), [_local(strategy, g, device) for g in grads], local_sparse,
            # The loss scale is identical on all replicas; the first device reports it.
            strategy.experimental_local_results(scale_read)[0])
      updates.append(update)
      infos.append(info)
    return tf.group(*updates), infos[0]

  def _create_state(self):
    """Creates the optimizer's variables (mirrored under a strategy: we are in cross-replica context)."""
    config = self.config
    slots = self.optimizer.create_slots(self.variables)
    accumulators, accumulation_step, accumulated_sparse, good_steps = [], None, None, None
    with _root_variable_scope():
      if config.num_accumulation_steps > 1:
        for var in self.variables:
          accumulators.append(tf.compat.v1.get_variable(
              modeling.variable_name(var.name) + "/" + ACCUMULATOR_SUFFIX, shape=var.shape.as_list(), dtype=tf.float32,
              trainable=False, initializer=tf.compat.v1.zeros_initializer()))
        accumulation_step = tf.compat.v1.get_variable(
            ACCUMULATION_STEP_NAME, shape=[], dtype=tf.int64, trainable=False,
            initializer=tf.compat.v1.zeros_initializer())
        if any(self.is_sparse):
          accumulated_sparse = tf.compat.v1.get_variable(
              ACCUMULATED_SPARSE_NAME, shape=[], dtype=tf.float32, trainable=False,
              initializer=tf.compat.v1.zeros_initializer())
      if self.scale_var is not None:
        good_steps = tf.compat.v1.get_variable(
            LOSS_SCALE_GOOD_STEPS_NAME, shape=[], dtype=tf.int64, trainable=False,
            initializer=tf.compat.v1.zeros_initializer())
    return _LocalState(self.variables, slots, accumulators, accumulation_step, accumulated_sparse, self.scale_var,
                       good_steps, self.global_step)

  def _build_device_step(self, state, grads, sparse_total, scale_read):
    """The whole step on one device, from gradients identical on every device. Returns (op, info)."""
    config = self.config
    step = state.global_step.read_value()
    learning_rate = learning_rate_schedule(step, config.init_lr, config.num_train_steps, config.num_warmup_steps)

    if config.num_accumulation_steps == 1:
      applied, grad_norm = self._clip_and_apply(state, grads, sparse_total, learning_rate, step)
    else:
      n = config.num_accumulation_steps
      new_sums = [acc.assign_add(g, read_value=True) for acc, g in zip(state.accumulators, grads)]
      new_sparse = (state.accumulated_sparse.assign_add(sparse_total, read_value=True)
                    if state.accumulated_sparse is not None else sparse_total)
      count = state.accumulation_step.assign_add(1, read_value=True)

      def update():
        mean_grads = [s / float(n) for s in new_sums]
        mean_sparse = new_sparse / float(n * n)
        applied, grad_norm = self._clip_and_apply(state, mean_grads, mean_sparse, learning_rate, step)
        with tf.control_dependencies([applied, grad_norm]):
          resets = [acc.assign(tf.zeros_like(acc)) for acc in state.accumulators]
          resets.append(state.accumulation_step.assign(tf.constant(0, tf.int64)))
          if state.accumulated_sparse is not None:
            resets.append(state.accumulated_sparse.assign(0.0))
        with tf.control_dependencies(resets):
          return tf.identity(applied), tf.identity(grad_norm)

      def accumulate_only():
        return tf.constant(False), tf.constant(0.0)

      applied, grad_norm = tf.cond(count >= n, update, accumulate_only)

    info = {"learning_rate": learning_rate, "grad_norm": grad_norm,
            "loss_scale": tf.cast(scale_read, tf.float32), "applied": applied}
    return tf.group(applied, grad_norm), info

  def _clip_and_apply(self, state, grads, sparse_total, learning_rate, step):
    """Clips by the global norm and applies (or skips, on overflow). Returns (applied, norm before clipping)."""
    config = self.config
    grad_norm = _global_norm(grads, self.is_sparse, sparse_total)
    (clipped, _) = tf.clip_by_global_norm(grads, clip_norm=CLIP_NORM, use_norm=grad_norm)

    def apply():
      updates = []
      for grad, param, slots, var in zip(clipped, state.params, state.slots, self.variables):
        updates.extend(self.optimizer.apply_update(grad, param, slots, learning_rate, modeling.variable_name(var.name),
                                                   step))
      # Incremented after the update ops, which read `step` (and hence the learning rate) first.
      with tf.control_dependencies(updates):
        increment = state.global_step.assign_add(tf.constant(1, tf.int64))
      with tf.control_dependencies([increment]):
        return tf.constant(True)

    if config.loss_scale is None:
      return apply(), grad_norm

    finite = tf.math.is_finite(grad_norm)
    applied = tf.cond(finite, apply, lambda: tf.constant(False))
    if state.scale_var is None:
      return applied, grad_norm
    with tf.control_dependencies([applied]):
      scale_updates = _update_dynamic_loss_scale(state.scale_var, state.good_steps, finite,
                                                 config.loss_scale_growth_interval)
    with tf.control_dependencies(scale_updates):
      return tf.identity(applied), grad_norm


def _update_dynamic_loss_scale(scale_var, good_steps, finite, growth_interval):
  """Halves the scale (not below 1) on overflow; doubles it after `growth_interval` good updates in a row."""
  scale = scale_var.read_value()
  good = good_steps.read_value()
  new_good = tf.where(finite, good + 1, tf.zeros_like(good))
  grow = tf.logical_and(finite, new_good >= growth_interval)
  doubled = scale * 2.0
  doubled = tf.where(tf.math.is_finite(doubled), doubled, scale)
  new_scale = tf.where(finite, tf.where(grow, doubled, scale), tf.maximum(scale / 2.0, 1.0))
  new_good = tf.where(grow, tf.zeros_like(new_good), new_good)
  return [scale_var.assign(new_scale), good_steps.assign(new_good)]


def _global_norm(grads, is_sparse, sparse_half_sq_total):
  """tf.linalg.global_norm, with IndexedSlices gradients counted by their slices (given as sum(slices^2)/2)."""
  half_squared_norms = [tf.nn.l2_loss(g) for g, sparse in zip(grads, is_sparse) if not sparse]
  if any(is_sparse):
    half_squared_norms.append(sparse_half_sq_total)
  if not half_squared_norms:
    return tf.constant(0.0)
  return tf.sqrt(tf.reduce_sum(tf.stack(half_squared_norms)) * 2.0)


def _unscale_and_densify(grad, scale):
  """Divides by the loss scale; IndexedSlices become dense. Returns (dense, sum(slices^2)/2 or None)."""
  if isinstance(grad, tf.IndexedSlices):
    values = grad.values if scale is None else grad.values / tf.cast(scale, grad.values.dtype)
    half_sq = tf.cast(tf.nn.l2_loss(values), tf.float32)
    dense = tf.convert_to_tensor(tf.IndexedSlices(values, grad.indices, grad.dense_shape))
    return tf.cast(dense, tf.float32), half_sq
  if scale is not None:
    grad = grad / tf.cast(scale, grad.dtype)
  return tf.cast(grad, tf.float32), None


def _root_variable_scope():
  """The root variable scope with the caller's reuse flag (replicas after the first reuse the first's variables)."""
  reuse = tf.compat.v1.get_variable_scope().reuse
  return tf.compat.v1.variable_scope(tf.compat.v1.VariableScope(reuse=reuse, name=""))


def _num_local_devices(strategy, variables):
  if strategy is None or not variables:
    return 1
  return len(strategy.experimental_local_results(variables[0]))


def _local(strategy, value, device):
  """The copy of a (mirrored) variable or value on local device number `device`."""
  if strategy is None or value is None:
    return value
  return strategy.experimental_local_results(value)[device]


def _on_local_device(strategy, variable, device):
  """Places ops on local device number `device` of a strategy; no placement without one (as the original)."""
  if strategy is None:
    return contextlib.nullcontext()
  return tf.device(_local(strategy, variable, device).device)


def _select_local(strategy, state, device):
  """`state` with every variable replaced by its copy on local device number `device`."""
  def local(x):
    return _local(strategy, x, device)
  return _LocalState(
      params=[local(v) for v in state.params],
      slots=[[local(s) for s in slots] for slots in state.slots],
      accumulators=[local(a) for a in state.accumulators],
      accumulation_step=local(state.accumulation_step),
      accumulated_sparse=local(state.accumulated_sparse),
      scale_var=local(state.scale_var),
      good_steps=local(state.good_steps),
      global_step=local(state.global_step))
