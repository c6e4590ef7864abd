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
"""The training runtime shared by every run_*.py: train / evaluate / predict in TF1-style graph mode.

This replaces `tf.contrib.tpu.TPUEstimator` (gone from TensorFlow) with the Estimator behaviour the original
scripts rely on:

  * checkpoints `model.ckpt-<step>` in `output_dir`, every `save_checkpoints_steps` and at the end of training,
    at most `keep_checkpoint_max` (5) kept, written by `tf.compat.v1.train.Saver` so the names stay plain
    (`bert/...`, `.../adam_m`, `global_step`) whatever the device setup;
  * restart: the latest checkpoint in `output_dir` is restored and overrides `--init_checkpoint`; training to
    `max_steps` is a no-op once the restored global step has reached it. "Latest" is the newest checkpoint
    that is intact (`choose_checkpoint`): one a full disk or a kill cut short, or one deleted while the
    `checkpoint` file names it, is passed over and said so, never a reason to start again from step 0;
  * warm start from `--init_checkpoint`: every trainable variable whose name is in the checkpoint is loaded and
    listed with `, *INIT_FROM_CKPT*` under `**** Trainable Variables ****`;
  * evaluation results with `loss` (the mean of the per-batch loss) and `global_step`, written by
    `write_eval_results` as `eval_results.txt` ("%s = %s" lines in sorted key order).

and adds what the original lacked: several GPUs (`MirroredStrategy`), several machines
(`MultiWorkerMirroredStrategy` from `TF_CONFIG`), bf16/fp16 compute, gradient accumulation, TensorBoard scalars
(loss, learning rate, examples/sec, gradient norm, loss scale), a progress bar, a stop with a clear message on a
NaN/Inf loss, and runs that resume after a crash exactly where an uninterrupted run would have been.

The model_fn contract
---------------------
`model_fn(features, mode, params) -> ModelSpec`, called in a graph the runtime builds:

  * `features`: the dict of tensors one batch of the input_fn's dataset holds. In TRAIN mode with N replicas the
    model_fn runs once per replica (inside a `tf.distribute` replica context) and sees 1/N of the global batch.
  * `mode`: `ModeKeys.TRAIN`, `ModeKeys.EVAL` or `ModeKeys.PREDICT`.
  * `params`: the dict given to `Runner`, plus `batch_size` (the global batch of this mode), `precision`
    ("fp32"/"bf16"/"fp16"), `use_xla`, `num_accumulation_steps`, `optimizer` ("adamw"/"adamw_bias_corrected"/
    "lamb"), `seed`, `num_replicas` and `mode`.
  * TRAIN: return `loss` (scalar, this replica's mean loss) and `train_op` (from `optimization.create_optimizer`,
    built inside the model_fn so its gradient all-reduce runs in the replica context); the train_op must advance
    `tf.compat.v1.train.get_or_create_global_step()` once per optimizer update. `scalars` (optional): name ->
    scalar tensor shown on TensorBoard (e.g. learning_rate, gradient_norm, loss_scale).
  * EVAL: return `loss` and `eval_metric_ops`: name -> (value_tensor, update_op), e.g. `tf.compat.v1.metrics.*`.
    The runtime adds `loss` (mean over batches) and `global_step`. Evaluation runs on one device.
  * PREDICT: return `predictions`: name -> tensor whose first dimension is the batch. `Runner.predict` yields
    one dict of numpy values per example, in input order; a final partial batch is fine. Runs on one device.

The model_fn does NOT warm-start from a checkpoint itself: the runtime does, after the graph is built.

Input functions
---------------
`input_fn(params) -> tf.data.Dataset` of feature dicts batched to `params["batch_size"]` (the global batch).
With N replicas the runtime splits every batch into N equal parts (so the batch must divide by N; use
drop_remainder=True for training); several workers each read a shard of the data (tf.data auto-sharding).

Determinism and resuming
------------------------
With a `seed` (default 12345) the graph seed is set and the input_fn can seed its shuffles from `params["seed"]`.
The runtime makes a resumed run continue on the same batches and the same dropout masks as an uninterrupted one:
  * `training_state.json` beside the checkpoints records, for each, the global batches trained on when it was
    written (skipped fp16 updates and accumulation included); a resumed run skips that many batches of its input.
    Checkpoints themselves hold only what a Google BERT checkpoint may hold (model variables, optimizer slots,
    `global_step`), so every TF1 BERT reader loads them;
  * the TRAIN model_fn is built inside `modeling.step_seeded_dropout`: `modeling.dropout` draws its masks with
    stateless random ops seeded by (seed, op, replica, batches trained on), so the random numbers are a function
    of the step, not of how long the process has been running. A stateful random op left in the training step
    (other than in variable initializers) is an error, so exactness cannot be lost silently.
`deterministic=True` additionally turns on `tf.config.experimental.enable_op_determinism()`.
"""

import collections
import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import time

from absl import flags
from absl import logging
import numpy as np
import tensorflow as tf

import errors
import fileio
import modeling
import tfrecord_io


class ModeKeys(object):
  """The three modes a model_fn is built for (same strings as tf.estimator.ModeKeys)."""
  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


class ModelSpec(collections.namedtuple(
    "ModelSpec", ["mode", "loss", "train_op", "eval_metric_ops", "predictions", "scalars"])):
  """What a model_fn returns (the `EstimatorSpec` of this runtime). See the module docstring."""

  def __new__(cls, mode, loss=None, train_op=None, eval_metric_ops=None, predictions=None, scalars=None):
    return super(ModelSpec, cls).__new__(cls, mode, loss, train_op, eval_metric_ops, predictions, scalars)


# ----------------------------------------------------------------------------------------------------------------
# Flags.

PRECISIONS = ("fp32", "bf16", "fp16")
OPTIMIZERS = ("adamw", "adamw_bias_corrected", "lamb")
DEFAULT_SEED = 12345


def define_flags(flag_values=flags.FLAGS):
  """Defines the flags this runtime adds to every runner (call once, beside the script's own flags).

  These are new (the original had none of them); the original's own flags keep their names and defaults and are
  defined by each script, or by `define_original_runner_flags`.

  Args:
    flag_values: the absl FlagValues to define them in.
  """
  fv = flag_values
  flags.DEFINE_enum("precision", "fp32", list(PRECISIONS),
                    "Compute precision of the encoder: fp32 (as the original), bf16 (float32 weights, bfloat16 "
                    "matmuls) or fp16 (float32 weights, float16 matmuls, dynamic loss scaling).", flag_values=fv)
  flags.DEFINE_bool("use_xla", False,
                    "XLA-compile the training step: on GPUs the whole graph; on CPUs only its element-wise ops, "
                    "reductions and softmaxes, fused around oneDNN's matrix products (which are faster there "
                    "than XLA's).", flag_values=fv)
  flags.DEFINE_integer("num_accumulation_steps", 1,
                       "Accumulate gradients over this many batches of train_batch_size before each update: "
                       "the effective batch is train_batch_size * num_accumulation_steps, and num_train_steps "
                       "counts updates.", flag_values=fv)
  flags.DEFINE_enum("optimizer", "adamw", list(OPTIMIZERS),
                    "adamw: the original AdamWeightDecay (no bias correction); adamw_bias_corrected: the same "
                    "with Adam's bias correction (as torch's AdamW); lamb: LAMB (layer-wise adaptive, for large "
                    "batches).",
                    flag_values=fv)
  flags.DEFINE_integer("seed", DEFAULT_SEED,
                       "Random seed of the graph (initializers, dropout) and of the input shuffles. A run resumed "
                       "from a checkpoint continues as an uninterrupted run with the same seed would.",
                       flag_values=fv)
  flags.DEFINE_bool("deterministic", False,
                    "Also make every TensorFlow op deterministic (tf.config.experimental.enable_op_determinism); "
                    "slower on GPUs.", flag_values=fv)
  flags.DEFINE_integer("keep_checkpoint_max", 5, "How many recent checkpoints to keep in output_dir.",
                       flag_values=fv)
  flags.DEFINE_integer("save_summary_steps", 100,
                       "Write TensorBoard scalars and log the loss every this many steps.", flag_values=fv)
  flags.DEFINE_integer("num_gpus", -1,
                       "GPUs to train on (MirroredStrategy when more than one); -1 = all visible, 0 = CPU only. "
                       "Several machines: set TF_CONFIG (MultiWorkerMirroredStrategy).", flag_values=fv)
  flags.DEFINE_integer("num_cpu_devices", 1,
                       "Without GPUs: split the CPU into this many devices and train one replica on each (for "
                       "trying multi-replica training on a CPU; not faster).", flag_values=fv)


def define_original_runner_flags(tpu_name_flags=True, flag_values=flags.FLAGS):
  """Defines the run-config flags every original runner had, with their original names and defaults.

  `save_checkpoints_steps` and `iterations_per_loop` (1000 each), `use_tpu` (False), `master`, `num_tpu_cores`
  (8) and, unless `tpu_name_flags` is False, `tpu_name`, `tpu_zone`, `gcp_project`. TPUs are not supported:
  `check_no_tpu` turns `--use_tpu=true` into a clear error; `iterations_per_loop` is accepted and unused.
  """
  fv = flag_values
  flags.DEFINE_integer("save_checkpoints_steps", 1000, "How often to save the model checkpoint.", flag_values=fv)
  flags.DEFINE_integer("iterations_per_loop", 1000,
                       "How many steps to make in each estimator call (TPU only; accepted and unused).",
                       flag_values=fv)
  flags.DEFINE_bool("use_tpu", False, "Whether to use TPU or GPU/CPU (TPUs are not supported).", flag_values=fv)
  if tpu_name_flags:
    flags.DEFINE_string("tpu_name", None, "The Cloud TPU to use for training (TPUs are not supported).",
                        flag_values=fv)
    flags.DEFINE_string("tpu_zone", None, "[Optional] GCE zone where the Cloud TPU is located in (unused).",
                        flag_values=fv)
    flags.DEFINE_string("gcp_project", None, "[Optional] Project name for the Cloud TPU-enabled project (unused).",
                        flag_values=fv)
  flags.DEFINE_string("master", None, "[Optional] TensorFlow master URL (unused; use TF_CONFIG for several "
                      "machines).", flag_values=fv)
  flags.DEFINE_integer("num_tpu_cores", 8, "Only used if `use_tpu` is True. Total number of TPU cores to use.",
                       flag_values=fv)


# The ranges of the flags above and of the original run-config flags, for `errors.check_ranges`.
FLAG_RANGES = {
    "num_accumulation_steps": ">=1", "keep_checkpoint_max": ">=1", "save_summary_steps": ">=0",
    "num_gpus": ">=-1", "num_cpu_devices": ">=1", "save_checkpoints_steps": ">=0", "iterations_per_loop": ">=1",
    "num_tpu_cores": ">=1",
}


def check_flags(flag_values):
  """The checks every runner makes of the runtime's flags: TPUs refused, numeric flags within their ranges."""
  check_no_tpu(getattr(flag_values, "use_tpu", False))
  errors.check_ranges(flag_values, FLAG_RANGES)


def check_no_tpu(use_tpu):
  """Raises a UserError when `--use_tpu` is set: this version runs on CPUs and GPUs only."""
  if use_tpu:
    raise errors.UserError("--use_tpu=true: TPUs are not supported by this version; run on CPUs/GPUs without "
                           "--use_tpu (several GPUs are used automatically, several machines via TF_CONFIG)")


# ----------------------------------------------------------------------------------------------------------------
# Configuration.


class RunConfig(object):
  """Where and how to run: output_dir, checkpointing, precision, devices, seed."""

  def __init__(self,
               output_dir,
               save_checkpoints_steps=1000,
               keep_checkpoint_max=5,
               save_summary_steps=100,
               precision="fp32",
               use_xla=False,
               num_accumulation_steps=1,
               optimizer="adamw",
               seed=DEFAULT_SEED,
               deterministic=False,
               num_gpus=-1,
               num_cpu_devices=1,
               devices=None,
               progress_bar=None):
    """Checks and stores the configuration.

    Args:
      output_dir: folder of checkpoints, summaries and results (created when needed).
      save_checkpoints_steps: checkpoint every this many global steps (and at the end); None or 0: only at the end.
      keep_checkpoint_max: how many recent checkpoints to keep.
      save_summary_steps: TensorBoard scalars and a log line every this many steps.
      precision: "fp32", "bf16" or "fp16" (passed to the model_fn in params).
      use_xla: XLA-compile the training step (the whole graph on GPUs; on CPUs its element-wise ops and
        reductions, see `mark_for_xla_fusion`).
      num_accumulation_steps: batches per optimizer update (passed to the model_fn in params).
      optimizer: "adamw", "adamw_bias_corrected" or "lamb" (passed to the model_fn in params).
      seed: graph seed and params["seed"]; None for unseeded (nondeterministic) runs.
      deterministic: enable TensorFlow op determinism.
      num_gpus: -1 all visible GPUs, 0 CPU only, n the first n.
      num_cpu_devices: without GPUs, split the CPU into this many devices, one replica each.
      devices: explicit list of local device names to mirror over (overrides num_gpus/num_cpu_devices).
      progress_bar: True/False, or None for a bar only when stderr is a terminal.
    """
    if not output_dir:
      raise errors.UserError("--output_dir is required")
    if precision not in PRECISIONS:
      raise errors.UserError("--precision=%s: use one of %s" % (precision, ", ".join(PRECISIONS)))
    if optimizer not in OPTIMIZERS:
      raise errors.UserError("--optimizer=%s: use one of %s" % (optimizer, ", ".join(OPTIMIZERS)))
    if num_accumulation_steps < 1:
      raise errors.UserError("--num_accumulation_steps=%d: must be at least 1" % num_accumulation_steps)
    if keep_checkpoint_max < 1:
      raise errors.UserError("--keep_checkpoint_max=%d: must be at least 1" % keep_checkpoint_max)
    if num_cpu_devices < 1:
      raise errors.UserError("--num_cpu_devices=%d: must be at least 1" % num_cpu_devices)
    self.output_dir = output_dir
    self.save_checkpoints_steps = save_checkpoints_steps or None
    self.keep_checkpoint_max = keep_checkpoint_max
    self.save_summary_steps = max(1, save_summary_steps or 100)
    self.precision = precision
    self.use_xla = use_xla
    self.num_accumulation_steps = num_accumulation_steps
    self.optimizer = optimizer
    self.seed = seed
    self.deterministic = deterministic
    self.num_gpus = num_gpus
    self.num_cpu_devices = num_cpu_devices
    self.devices = list(devices) if devices else None
    self.progress_bar = progress_bar

  @classmethod
  def from_flags(cls, flag_values=None, output_dir=None):
    """A RunConfig from the flags of `define_flags` (and `save_checkpoints_steps`, `output_dir` if defined)."""
    fv = flag_values if flag_values is not None else flags.FLAGS

    def get(name, default):
      return getattr(fv, name) if name in fv else default

    return cls(output_dir=output_dir or get("output_dir", None),
               save_checkpoints_steps=get("save_checkpoints_steps", 1000),
               keep_checkpoint_max=get("keep_checkpoint_max", 5),
               save_summary_steps=get("save_summary_steps", 100),
               precision=get("precision", "fp32"),
               use_xla=get("use_xla", False),
               num_accumulation_steps=get("num_accumulation_steps", 1),
               optimizer=get("optimizer", "adamw"),
               seed=get("seed", DEFAULT_SEED),
               deterministic=get("deterministic", False),
               num_gpus=get("num_gpus", -1),
               num_cpu_devices=get("num_cpu_devices", 1))


# ----------------------------------------------------------------------------------------------------------------
# Devices.


def _tf_config():
  """The parsed TF_CONFIG environment variable ({} when unset)."""
  text = os.environ.get("TF_CONFIG", "")
  if not text.strip():
    return {}
  try:
    value = json.loads(text)
  except ValueError as e:
    raise errors.UserError("TF_CONFIG is not valid JSON: %s" % e)
  if not isinstance(value, dict):
    raise errors.UserError("TF_CONFIG must be a JSON object")
  return value


def _is_multi_worker(tf_config):
  cluster = tf_config.get("cluster") or {}
  return sum(len(cluster.get(job, [])) for job in ("chief", "worker")) > 1


def _count_workers(cluster_spec):
  jobs = cluster_spec.jobs
  return sum(cluster_spec.num_tasks(job) for job in ("chief", "worker") if job in jobs)


def _split_cpu(n):
  """Makes the CPU appear as n logical devices (possible only before TensorFlow initialises its devices)."""
  cpus = tf.config.list_physical_devices("CPU")
  current = tf.config.get_logical_device_configuration(cpus[0])
  if current is not None and len(current) >= n:
    return
  try:
    tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
  except RuntimeError:
    raise errors.UserError("--num_cpu_devices=%d: TensorFlow's devices are already initialised in this process "
                           "with %d CPU device(s)" % (n, len(tf.config.list_logical_devices("CPU"))))


class _Distribution(object):
  """The strategy, session target/config and chief status of this process (built once per Runner)."""

  def __init__(self, config):
    self.server = None
    self.target = ""
    tf_config = _tf_config()
    if _is_multi_worker(tf_config):
      resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
      self.strategy = tf.compat.v1.distribute.experimental.MultiWorkerMirroredStrategy(cluster_resolver=resolver)
      session_config = self.strategy.update_config_proto(_base_session_config(config))
      # Graph mode needs an in-process server; the session talks to it and it runs the collectives.
      self.server = tf.distribute.Server(resolver.cluster_spec(), job_name=resolver.task_type,
                                         task_index=resolver.task_id, config=session_config, start=True)
      self.target = self.server.target
      self.session_config = session_config
      self.is_chief = bool(self.strategy.extended.should_checkpoint)
      self.description = "MultiWorkerMirroredStrategy: task %s:%d of %d workers, %d replicas in sync" % (
          resolver.task_type, resolver.task_id, _count_workers(resolver.cluster_spec()),
          self.strategy.num_replicas_in_sync)
    else:
      devices = config.devices or _local_devices(config)
      if len(devices) > 1:
        self.strategy = tf.compat.v1.distribute.MirroredStrategy(devices)
        self.description = "MirroredStrategy over %s" % ", ".join(devices)
      else:
        self.strategy = tf.compat.v1.distribute.get_strategy()  # the default: one device, no wrapping
        self.description = "one device (%s)" % (devices[0] if devices else "default placement")
      self.session_config = _base_session_config(config)
      self.is_chief = True
    self.on_gpus = _uses_gpus(config)
    if config.precision == "bf16" and not self.on_gpus and cpu_has_native_bf16() is False:
      logging.warning("--precision=bf16 on a CPU without native bfloat16 (no AVX512_BF16 or AMX): it will be "
                      "slower than fp32 here (BERT-base b8 s128 measured 8.9 s/step against 6.8 s in fp32).")
    self.num_replicas = self.strategy.num_replicas_in_sync


def cpu_has_native_bf16(cpuinfo_path="/proc/cpuinfo"):
  """True/False: the CPU has AVX512_BF16 or AMX bf16 instructions; None where that cannot be read (not Linux)."""
  try:
    with open(cpuinfo_path) as f:
      for line in f:
        if line.startswith("flags"):
          flags_ = set(line.split(":", 1)[1].split())
          return bool(flags_ & {"avx512_bf16", "amx_bf16"})
  except OSError:
    return None
  return None


def _local_devices(config):
  gpus = tf.config.list_physical_devices("GPU")
  if gpus and config.num_gpus != 0:
    names = [d.name for d in tf.config.list_logical_devices("GPU")]
    return names if config.num_gpus < 0 else names[:config.num_gpus]
  if config.num_cpu_devices > 1:
    _split_cpu(config.num_cpu_devices)
    return [d.name for d in tf.config.list_logical_devices("CPU")][:config.num_cpu_devices]
  return []


def _uses_gpus(config):
  if config.devices:
    return any("GPU" in d.upper() for d in config.devices)
  return bool(tf.config.list_physical_devices("GPU")) and config.num_gpus != 0


def _base_session_config(config):
  session_config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
  # A session's ConfigProto replaces the context's device setup: ask again for the logical CPU devices.
  num_cpus = len(tf.config.list_logical_devices("CPU"))
  if num_cpus > 1:
    session_config.device_count["CPU"] = num_cpus
  session_config.gpu_options.allow_growth = True
  if config.use_xla:
    session_config.graph_options.optimizer_options.global_jit_level = tf.compat.v1.OptimizerOptions.ON_1
  return session_config


# ----------------------------------------------------------------------------------------------------------------
# Checkpoints.


_TF_MESSAGE_NOISE = re.compile(r"^\s*(Graph execution error|Detected at node|Node:|File \"|\[\[|Original stack|"
                               r"defined at|$)")


def _tf_reason(e):
  """The telling line of a TensorFlow (or other) exception's message (not its op's stack trace)."""
  text = getattr(e, "message", None) or str(e) or type(e).__name__
  lines = text.strip().splitlines()
  telling = [line for line in lines if not _TF_MESSAGE_NOISE.match(line) and not line.startswith("  ")]
  return errors.one_line((telling or lines or [type(e).__name__])[0])[:300]


CHECKPOINT_PREFIX = "model.ckpt"
_STEP_OF_NAME = re.compile(r"-(\d+)$")
_SET_ASIDE_SUFFIX = ".corrupt"


def checkpoint_problem(prefix, expected_step=None):
  """Why the checkpoint `prefix` cannot be resumed from, or None when it is intact.

  Intact: its index reads, every tensor of its data reads back (TensorFlow checks each tensor's CRC-32C, so a
  truncated or bit-flipped data file is found), and its `global_step` is `expected_step` (when given).
  """
  if not tf.io.gfile.exists(prefix + ".index"):
    return "is missing (no %s.index)" % os.path.basename(prefix)
  try:
    reader = tf.train.load_checkpoint(prefix)
    names = sorted(reader.get_variable_to_shape_map())
    for name in names:
      reader.get_tensor(name)
  except Exception as e:  # pylint: disable=broad-except  # OpError, IndexError ("Read less bytes than requested")
    return "cannot be read (%s)" % _tf_reason(e)
  if expected_step is not None and "global_step" in names:
    step = int(reader.get_tensor("global_step"))
    if step != expected_step:
      return "holds global_step %d, not the %d of its name" % (step, expected_step)
  return None


def _named_by_state_file(output_dir):
  """The checkpoint prefixes output_dir/checkpoint names (model_checkpoint_path first), as paths in output_dir."""
  try:
    state = tf.train.get_checkpoint_state(output_dir)
  except Exception:  # pylint: disable=broad-except  # a corrupt state file names nothing
    return []
  if state is None:
    return []
  paths = [state.model_checkpoint_path] + list(state.all_model_checkpoint_paths)
  out = []
  for path in paths:
    if path and not os.path.isabs(path) and "://" not in path:
      path = os.path.join(output_dir, path)
    if path and path not in out:
      out.append(path)
  return out


def _step_of(prefix):
  """The global step of a checkpoint: from its name (`...-<step>`), else from its `global_step`; -1 if unknown."""
  match = _STEP_OF_NAME.search(prefix)
  if match:
    return int(match.group(1))
  try:
    reader = tf.train.load_checkpoint(prefix)
    return int(reader.get_tensor("global_step")) if reader.has_tensor("global_step") else 0
  except Exception:  # pylint: disable=broad-except
    return -1


class CheckpointChoice(collections.namedtuple("CheckpointChoice", ["path", "step", "message", "rejected",
                                                                   "intact"])):
  """The checkpoint of an output_dir to continue from.

  `path`/`step`: the newest intact checkpoint (None/0 when the folder holds none); `message`: one line saying
  which and why; `rejected`: [(prefix, reason)] of the newer ones passed over; `intact`: the intact prefixes
  up to `path`, oldest first (kept by the Saver's max_to_keep as if this process had written them).
  """


def choose_checkpoint(output_dir):
  """The newest checkpoint of `output_dir` that is intact (see `checkpoint_problem`) and agrees with its step.

  The candidates are every `model.ckpt-<step>` in the folder (the checkpoints training writes) and every
  checkpoint its `checkpoint` state file names, newest step first: a checkpoint deleted while the state file still names it, or one whose data was cut
  short by a full disk or a kill, is passed over (and said so) instead of ending the run or sending it back to
  step 0.

  Raises:
    errors.UserError: the folder holds checkpoints but none is intact (training from step 0 would overwrite
      them).
  """
  none = CheckpointChoice(None, 0, None, [], [])
  if not output_dir or not tf.io.gfile.isdir(output_dir):
    return none
  named = _named_by_state_file(output_dir)
  candidates = {}
  for index_file in tf.io.gfile.glob(os.path.join(output_dir, CHECKPOINT_PREFIX + "-*.index")):
    prefix = index_file[:-len(".index")]
    if _STEP_OF_NAME.search(prefix) and not fileio.is_partial_name(prefix):
      candidates[prefix] = _step_of(prefix)
  rejected = []
  for prefix in named:
    if prefix not in candidates:
      if tf.io.gfile.exists(prefix + ".index"):
        candidates[prefix] = _step_of(prefix)
      else:
        rejected.append((prefix, "is named by the `checkpoint` file but missing"))
  if not candidates:
    return none
  state = read_training_state(output_dir)
  ordered = sorted(candidates.items(), key=lambda item: (item[1], item[0]), reverse=True)
  chosen = None
  for prefix, step in ordered:
    problem = checkpoint_problem(prefix, step if _STEP_OF_NAME.search(prefix) else None)
    entry = state.get(os.path.basename(prefix))
    if problem is None and entry is not None and entry.get("global_step") != step:
      problem = "has global step %d but %s records %s for it" % (step, TRAINING_STATE_FILE, entry.get("global_step"))
    if problem is None:
      chosen = (prefix, step)
      break
    rejected.append((prefix, problem))
  if chosen is None:
    raise errors.UserError(
        "--output_dir=%s holds checkpoints but none is intact (%s); training from step 0 would overwrite them: "
        "move them away to start afresh" % (output_dir, "; ".join(
            "%s %s" % (os.path.basename(p), why) for p, why in rejected[:3])))
  path, step = chosen
  intact = [p for p, st in sorted(candidates.items(), key=lambda item: (item[1], item[0]))
            if st <= step and p not in dict(rejected)]
  if rejected:
    message = "Resuming from %s (global step %d), the newest intact checkpoint in %s: %s" % (
        os.path.basename(path), step, output_dir,
        "; ".join("%s %s" % (os.path.basename(p), why) for p, why in rejected))
  else:
    message = "Resuming from %s (global step %d): the newest checkpoint in %s, its index and data intact" % (
        os.path.basename(path), step, output_dir)
  return CheckpointChoice(path, step, message, rejected, intact)


def set_aside(prefix):
  """Renames the files of an unusable checkpoint to `<file>.corrupt`, so that nothing reads or overwrites them."""
  moved = []
  for path in tf.io.gfile.glob(prefix + ".*"):
    if path.endswith(_SET_ASIDE_SUFFIX) or not (path.endswith(".index") or ".data-" in path):
      continue
    try:
      tf.io.gfile.rename(path, path + _SET_ASIDE_SUFFIX, overwrite=True)
      moved.append(path)
    except tf.errors.OpError:
      pass
  return moved


def latest_checkpoint(output_dir):
  """The newest intact checkpoint in output_dir (see `choose_checkpoint`), or None; the choice is logged."""
  choice = choose_checkpoint(output_dir)
  if choice.rejected:
    logging.warning("%s", choice.message)
  return choice.path


def make_output_dir(path, flag="--output_dir"):
  """Creates the folder `path` when needed and checks that files can be written in it.

  Raises:
    errors.UserError: naming the folder and the OS reason (a file in its place, no permission, a read-only disk).
  """
  if not path:
    raise errors.UserError("%s is required" % flag)
  try:
    tf.io.gfile.makedirs(path)
  except (tf.errors.OpError, OSError) as e:
    raise errors.UserError("%s=%s: cannot create the folder: %s" % (flag, path, _tf_reason(e))) from None
  if fileio.is_remote(path):
    return
  if not os.path.isdir(path):
    raise errors.UserError("%s=%s: exists and is not a folder" % (flag, path))
  try:
    fd, probe = tempfile.mkstemp(prefix=".write-check.partial-%d-" % os.getpid(), dir=path)
    os.close(fd)
    os.remove(probe)
  except OSError as e:
    raise errors.UserError("%s=%s: cannot write in this folder: %s" % (flag, path, e.strerror or e)) from None


def _resolve_init_checkpoint(init_checkpoint):
  """Checks that --init_checkpoint names a readable checkpoint; returns its prefix (a folder -> its latest)."""
  path = init_checkpoint
  if tf.io.gfile.isdir(path):
    path = tf.train.latest_checkpoint(path)
    if path is None:
      raise errors.UserError("--init_checkpoint=%s: no checkpoint in this folder" % init_checkpoint)
  try:
    tf.train.load_checkpoint(path)
  except Exception as e:  # pylint: disable=broad-except  # OpError, ValueError, IndexError
    raise errors.UserError("--init_checkpoint=%s: not a readable checkpoint (%s)" %
                           (init_checkpoint, _tf_reason(e)[:200]))
  return path


_CORRUPT_DATA = re.compile(r"Read less bytes|truncated|corrupt|[Cc]hecksum|CRC|bad magic|not an sstable")


def restore(saver, session, path, flag="--init_checkpoint"):
  """`saver.restore(session, path)`, a checkpoint that does not read back being one line naming it."""
  try:
    saver.restore(session, path)
  except (tf.errors.OpError, ValueError, IndexError) as e:
    reason = _tf_reason(e)
    if isinstance(e, (tf.errors.DataLossError, tf.errors.OutOfRangeError, IndexError)) or _CORRUPT_DATA.search(reason):
      raise errors.UserError("%s=%s: cannot be restored: the checkpoint's data is truncated or corrupt (%s)" %
                             (flag, path, reason)) from None
    raise errors.UserError("%s=%s: cannot be restored (%s)" % (flag, path, reason)) from None


def warm_start(session, init_checkpoint, variables=None):
  """Loads every variable whose name is in `init_checkpoint` (the original's init_from_checkpoint) and logs.

  Maps by identical name, as `modeling.get_assignment_map_from_checkpoint` does, over the trainable variables
  (or `variables`). Logs `**** Trainable Variables ****` and one line per variable in the original format,
  `, *INIT_FROM_CKPT*` marking those loaded.

  Raises:
    errors.UserError: unreadable checkpoint, or a variable whose shape differs from the checkpoint's.
  Returns:
    the set of variable names (without ":0") loaded.
  """
  variables = list(tf.compat.v1.trainable_variables() if variables is None else variables)
  loaded = set()
  if init_checkpoint:
    path = _resolve_init_checkpoint(init_checkpoint)
    shapes = tf.train.load_checkpoint(path).get_variable_to_shape_map()
    var_list = {}
    for var in variables:
      name = modeling.variable_name(var)
      if name not in shapes:
        continue
      if list(shapes[name]) != var.shape.as_list():
        raise errors.UserError("--init_checkpoint=%s: variable %s has shape %s there but %s in the model" %
                               (init_checkpoint, name, list(shapes[name]), var.shape.as_list()))
      var_list[name] = var
    if var_list:
      # A list, not a {name: variable} dict: given a dict, Saver restores only the first copy of a mirrored
      # variable; the checkpoint names are the variables' own names anyway.
      restore(tf.compat.v1.train.Saver(var_list=list(var_list.values())), session, path)
    loaded = set(var_list)
  log_trainable_variables(variables, loaded)
  return loaded


def log_trainable_variables(variables, loaded_names=()):
  """The original's listing: `  name = <var.name>, shape = <shape>[, *INIT_FROM_CKPT*]`."""
  logging.info("**** Trainable Variables ****")
  for var in variables:
    init_string = ", *INIT_FROM_CKPT*" if modeling.variable_name(var) in loaded_names else ""
    logging.info("  name = %s, shape = %s%s", var.name, var.shape, init_string)


def log_features(features):
  """The original model_fn's listing of its input features."""
  logging.info("*** Features ***")
  for name in sorted(features.keys()):
    logging.info("  name = %s, shape = %s", name, features[name].shape)


# ----------------------------------------------------------------------------------------------------------------
# Results.


def format_eval_results(results):
  """The original's eval_results.txt text: one `key = value` line per key, keys sorted."""
  return "".join("%s = %s\n" % (key, str(results[key])) for key in sorted(results.keys()))


def write_eval_results(output_dir, results, file_name="eval_results.txt"):
  """Logs `***** Eval results *****` and writes output_dir/eval_results.txt (sorted `key = value` lines)."""
  logging.info("***** Eval results *****")
  for key in sorted(results.keys()):
    logging.info("  %s = %s", key, str(results[key]))
  path = os.path.join(output_dir, file_name)
  fileio.write_text_atomically(path, format_eval_results(results))
  return path


class _Summaries(object):
  """Scalar TensorBoard summaries written from Python values (only where `enabled`, i.e. on the chief).

  TensorBoard's events are a by-product: a write that fails (a full disk) is logged once and the run goes on, so
  that the failure a checkpoint write then meets is the one reported.
  """

  def __init__(self, logdir, enabled, graph=None):
    self._logdir = logdir
    self._writer = None
    if enabled:
      try:
        self._writer = tf.compat.v1.summary.FileWriter(logdir, graph=graph)
      except Exception as e:  # pylint: disable=broad-except
        self._failed(e)

  def _failed(self, e):
    logging.warning("TensorBoard events cannot be written to %s (%s); continuing without them.", self._logdir,
                    _tf_reason(e))
    self._writer = None

  def scalars(self, step, values):
    if self._writer is None:
      return
    summary = tf.compat.v1.Summary(value=[
        tf.compat.v1.Summary.Value(tag=tag, simple_value=float(value)) for tag, value in sorted(values.items())])
    try:
      self._writer.add_summary(summary, step)
    except Exception as e:  # pylint: disable=broad-except
      self._failed(e)

  def close(self):
    if self._writer is not None:
      writer = self._writer
      try:
        writer.close()
      except Exception as e:  # pylint: disable=broad-except
        self._failed(e)


# ----------------------------------------------------------------------------------------------------------------
# Step-dependent randomness.

# Random ops that draw from a generator kept in the session: their numbers depend on how long the process has
# run, so a resumed run would not repeat an uninterrupted one. None may remain in a training step.
STATEFUL_RANDOM_OPS = frozenset([
    "Multinomial", "ParameterizedTruncatedNormal", "RandomGamma", "RandomPoisson", "RandomPoissonV2",
    "RandomShuffle", "RandomStandardNormal", "RandomUniform", "RandomUniformInt", "TruncatedNormal",
])


def _initializer_closure(graph):
  """Ops that variable initializers depend on (their random ops run once, before training, and may stay)."""
  with graph.as_default():
    stack = [v.initializer for v in tf.compat.v1.global_variables() + tf.compat.v1.local_variables()
             if getattr(v, "initializer", None) is not None]
  seen = set()
  while stack:
    op = stack.pop()
    if op is None or op in seen:
      continue
    seen.add(op)
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  return seen


def stateful_random_ops(ops):
  """The ops among `ops` that draw from a session-held generator, variable initializers excepted."""
  candidates = [op for op in ops if op.type in STATEFUL_RANDOM_OPS]
  if not candidates:
    return []
  spared = _initializer_closure(candidates[0].graph)
  # Initial values are built under ".../Initializer/"; on the non-chief workers of a multi-worker run they feed
  # no initializer (the chief's values are broadcast instead), so the closure alone does not find them.
  return [op for op in candidates if op not in spared and "/Initializer/" not in op.name]


def check_step_seeded(ops):
  """Raises ValueError if a training step holds a stateful random op (see `modeling.step_seeded_dropout`)."""
  stateful = stateful_random_ops(ops)
  if stateful:
    raise ValueError(
        "the model_fn created %d stateful random op(s) (%s), whose numbers a resumed run would not repeat: "
        "draw them with modeling.dropout (seeded by the step inside the runtime) or tf.random.stateless_*" %
        (len(stateful), ", ".join("%s (%s)" % (op.name, op.type) for op in stateful[:3])))


# ----------------------------------------------------------------------------------------------------------------
# XLA fusion on CPUs.

# Op types XLA fuses into single passes over memory on CPUs: element-wise math, reductions, softmaxes and the
# reshapes between them. Matrix products are left out (oneDNN's are faster than XLA's on CPUs), and so are random
# ops (XLA draws other numbers) and variable reads and writes.
_CPU_FUSIBLE_OPS = frozenset([
    "Abs", "Add", "AddN", "AddV2", "All", "Any", "BiasAdd", "BiasAddGrad", "Cast", "Div", "DivNoNan", "Equal",
    "Erf", "Exp", "ExpandDims", "Greater", "GreaterEqual", "IsFinite", "L2Loss", "Less", "LessEqual", "Log",
    "LogSoftmax", "LogicalAnd", "LogicalNot", "LogicalOr", "Max", "Maximum", "Mean", "Min", "Minimum", "Mul",
    "Neg", "NotEqual", "OnesLike", "Pow", "RealDiv", "Reciprocal", "Reshape", "Rsqrt", "RsqrtGrad", "Select",
    "SelectV2", "Sigmoid", "SigmoidGrad", "Softmax", "Sqrt", "SqrtGrad", "Square", "SquaredDifference", "Squeeze",
    "StopGradient", "Sub", "Sum", "Tanh", "TanhGrad", "Tile", "Transpose", "ZerosLike",
])


def _fusible_on_cpu(node_def):
  # Initializers run once: compiling them would only cost time.
  return node_def.op in _CPU_FUSIBLE_OPS and "/Initializer/" not in node_def.name


def cpu_xla_fusion_scope():
  """A scope whose fusible ops are compiled by XLA: `tf.xla.experimental.jit_scope` with a per-op predicate.

  TensorFlow compiles each connected group of the marked ops into one kernel: the chains of small ops around
  the matrix products (layer norm, GELU, dropout's masking, softmax, the optimizer's update) each become a single
  pass over memory instead of one pass per op. Used for `--use_xla` on CPUs, where TensorFlow's own
  auto-clustering would also compile the matrix products, with slower kernels than oneDNN's. The gradients of
  marked ops are marked with them.
  """
  return tf.xla.experimental.jit_scope(compile_ops=_fusible_on_cpu, separate_compiled_gradients=False)


def count_xla_marked(ops):
  """How many of `ops` carry XLA's compile mark."""
  return sum(1 for op in ops if "_XlaCompile" in op.node_def.attr and op.node_def.attr["_XlaCompile"].b)


# ----------------------------------------------------------------------------------------------------------------
# Resume bookkeeping.

# Beside the checkpoints: for each kept checkpoint, how many global batches had been trained on when it was
# written (skipped fp16 updates and accumulation included). A resumed run skips that many batches of its input
# and seeds its dropout from there. Kept out of the checkpoint so that checkpoints hold only what a Google BERT
# checkpoint may hold.
TRAINING_STATE_FILE = "training_state.json"


def read_training_state(output_dir):
  """{checkpoint basename: {"global_step": int, "batches_consumed": int}} from output_dir ({} when absent)."""
  path = os.path.join(output_dir, TRAINING_STATE_FILE)
  if not tf.io.gfile.exists(path):
    return {}
  try:
    with tf.io.gfile.GFile(path, "r") as f:
      state = json.loads(f.read())
  except ValueError as e:
    raise errors.UserError("%s is not valid JSON (%s): remove it to resume from the checkpoints' global steps" %
                           (path, e))
  return state.get("checkpoints", {}) if isinstance(state, dict) else {}


def record_training_state(output_dir, checkpoint_name, global_step, batches_consumed):
  """Adds the entry of `checkpoint_name`, drops those of checkpoints no longer on disk; written atomically."""
  state = {name: entry for name, entry in read_training_state(output_dir).items()
           if tf.io.gfile.exists(os.path.join(output_dir, name + ".index"))}
  state[checkpoint_name] = {"global_step": int(global_step), "batches_consumed": int(batches_consumed)}
  fileio.write_text_atomically(os.path.join(output_dir, TRAINING_STATE_FILE),
                               json.dumps({"checkpoints": state}, indent=2, sort_keys=True) + "\n")


def batches_consumed_at(checkpoint_path, global_step, num_accumulation_steps):
  """The global batches trained on when `checkpoint_path` was written (from training_state.json).

  A checkpoint written by other code has no entry: it is then `global_step * num_accumulation_steps`, exact
  unless fp16 loss scaling skipped updates.
  """
  entry = read_training_state(os.path.dirname(checkpoint_path)).get(os.path.basename(checkpoint_path))
  if entry and entry.get("global_step") == global_step:
    return int(entry["batches_consumed"])
  logging.info("No %s entry for %s: taking %d x %d batches as consumed.", TRAINING_STATE_FILE,
               checkpoint_path, global_step, num_accumulation_steps)
  return global_step * num_accumulation_steps


# ----------------------------------------------------------------------------------------------------------------
# The runner.


class _Window(object):
  """Loss and throughput since the last log line."""

  def __init__(self):
    self.start = time.time()
    self.steps = 0
    self.batches = 0
    self.examples = 0
    self.loss_sum = 0.0

  def add_batch(self, loss, examples):
    self.batches += 1
    self.examples += examples
    self.loss_sum += loss

  def values(self):
    elapsed = max(time.time() - self.start, 1e-9)
    return {"loss": self.loss_sum / max(self.batches, 1), "global_step/sec": self.steps / elapsed,
            "examples/sec": self.examples / elapsed}


# InvalidArgumentErrors of a step that come from its input data: an id beyond an embedding table (on CPUs; GPUs
# read zeros instead), a record that is not the Example the parser expects.
_INPUT_ERROR = re.compile(r"indices\[[^\]]*\] = -?\d+ is not in \[0, \d+\)|[Pp]ars(e|ing) (serialized )?[Ee]xample|"
                          r"Could not parse example|is required but could not be found|Feature: \S+ \(data type")


@contextlib.contextmanager
def reported_input_errors(input_fn):
  """Turns a corrupt or unsuitable input record found mid-run into one UserError line.

  TensorFlow's DataLossError names neither the file nor the record; the files the input_fn reads (its
  `input_files` attribute, set by the input_fn builders) are then read in full to name both.
  """
  try:
    yield
  except tf.errors.DataLossError as e:
    files = getattr(input_fn, "input_files", None) or []
    found = tfrecord_io.find_bad_record(files) if files else None
    raise errors.UserError(found or "input data is truncated or corrupt (%s)%s" % (
        _tf_reason(e), "; files: %s" % ", ".join(files) if files else "")) from None
  except tf.errors.InvalidArgumentError as e:
    reason = _tf_reason(e)
    if not _INPUT_ERROR.search(reason):
      raise
    files = getattr(input_fn, "input_files", None) or []
    if "indices[" in reason:
      raise errors.UserError(
          "the input data holds an id beyond the model's embedding table (%s): vocab_size or type_vocab_size in "
          "the BERT config is smaller than the data needs; the data was made for another model" %
          reason) from None
    found = tfrecord_io.find_bad_record(files) if files else None
    raise errors.UserError(found or "input data%s: a record does not parse (%s)" % (
        " (%s)" % ", ".join(files) if files else "", reason)) from None


def _restoring_saver(checkpoint_path, variables):
  """A Saver restoring `variables` from the output_dir checkpoint, with a clear error for missing ones."""
  try:
    names = set(tf.train.load_checkpoint(checkpoint_path).get_variable_to_shape_map())
  except Exception as e:  # pylint: disable=broad-except
    raise errors.UserError("checkpoint %s: cannot be read (%s)" % (checkpoint_path, _tf_reason(e))) from None
  missing = [modeling.variable_name(var) for var in variables if modeling.variable_name(var) not in names]
  if missing:
    raise errors.UserError(
        "the checkpoint %s in --output_dir lacks %d variable(s) of this model (%s%s); it was written with other "
        "options (--optimizer, --num_accumulation_steps, --precision=fp16, another model?): use a fresh "
        "--output_dir" % (checkpoint_path, len(missing), ", ".join(missing[:3]), ", ..." if len(missing) > 3 else ""))
  return tf.compat.v1.train.Saver(var_list=list(variables))  # a list: see warm_start


def weights_digest(session, variables):
  """SHA-256 over the values of `variables` (sorted by name): equal digests mean bit-identical weights."""
  variables = sorted(variables, key=modeling.variable_name)
  values = session.run(variables)
  digest = hashlib.sha256()
  for var, value in zip(variables, values):
    digest.update(modeling.variable_name(var).encode("utf-8"))
    digest.update(np.ascontiguousarray(value).tobytes())
  return digest.hexdigest()


class TrainingDivergedError(errors.UserError):
  """The loss (or a weight) became NaN or infinite; no checkpoint was written for that step."""


class _ResumePoint(collections.namedtuple("_ResumePoint", ["checkpoint", "global_step", "batches_consumed",
                                                           "kept"])):
  """Where training starts: the output_dir checkpoint restored (None: a new run), its counters, and the intact
  checkpoints up to it (oldest first), which the Saver keeps counting towards keep_checkpoint_max."""


class _TrainGraph(collections.namedtuple("_TrainGraph", [
    "graph", "consumed", "train_op", "loss", "scalars", "step_after", "all_finite", "init_op", "iterator",
    "saver", "restore_saver", "trainable"])):
  """The training step and what the loop around it runs: built once per `Runner.train` call.

  `consumed` is the int64 placeholder fed with the number of global batches trained on before each run; the
  dropout masks are seeded by it.
  """


class _TrainingState(object):
  """What the training loop carries from one session run to the next."""

  def __init__(self, step, batches_consumed):
    self.step = step                          # global step (optimizer updates)
    self.batches_consumed = batches_consumed  # global batches trained on, accumulation and skipped updates included
    self.last_saved = step
    self.window = _Window()
    self.last_logged_loss = None
    self.update_losses = []                   # the batch losses of the update in progress
    self.runs_since_update = 0


class Runner(object):
  """Train / evaluate / predict a model_fn (the Estimator replacement). See the module docstring."""

  def __init__(self, model_fn, config, params=None, train_batch_size=None, eval_batch_size=None,
               predict_batch_size=None, inference_needs_all_weights=False):
    self.model_fn = model_fn
    self.inference_needs_all_weights = inference_needs_all_weights
    self.config = config
    self.params = dict(params or {})
    self.train_batch_size = train_batch_size
    self.eval_batch_size = eval_batch_size
    self.predict_batch_size = predict_batch_size
    self._distribution = None
    if config.deterministic:
      tf.config.experimental.enable_op_determinism()

  # -- devices --------------------------------------------------------------------------------------------------

  @property
  def distribution(self):
    if self._distribution is None:
      self._distribution = _Distribution(self.config)
      logging.info("Devices: %s", self._distribution.description)
    return self._distribution

  @property
  def is_chief(self):
    """False on the non-chief workers of a multi-worker run (they write no checkpoints, summaries or results)."""
    return self.distribution.is_chief

  def _params(self, mode, batch_size, num_replicas):
    params = dict(self.params)
    params.update(batch_size=batch_size, precision=self.config.precision, use_xla=self.config.use_xla,
                  num_accumulation_steps=self.config.num_accumulation_steps, optimizer=self.config.optimizer,
                  seed=self.config.seed, num_replicas=num_replicas, mode=mode)
    return params

  def _new_graph(self):
    graph = tf.Graph()
    with graph.as_default():
      if self.config.seed is not None:
        tf.compat.v1.set_random_seed(self.config.seed)
    return graph

  # -- train ----------------------------------------------------------------------------------------------------

  def train(self, input_fn, max_steps, init_checkpoint=None, on_step=None):
    """Trains until the global step reaches `max_steps` (or the input ends); see the module docstring.

    The story: find where to start (the latest checkpoint of output_dir, or a warm start), build the training
    step, restore or initialise its variables, then run steps, logging and checkpointing as they go.

    Args:
      input_fn: `input_fn(params) -> tf.data.Dataset` of global batches.
      max_steps: the global step (optimizer updates) to stop at; None: until the input ends.
      init_checkpoint: warm start from it when output_dir holds no checkpoint.
      on_step: optional `on_step(global_step, loss)` called after every update, `loss` the mean over the
        replicas and accumulated batches of that update.

    Returns:
      dict with `global_step`, `loss` (the mean loss since the last log line; None if no step ran) and
      `weights_sha256` (absent when training was skipped).
    Raises:
      TrainingDivergedError: the loss became NaN/Inf (the message names the step; nothing is saved for it).
      errors.UserError: the checkpoint in output_dir does not fit the model (other options), bad init checkpoint.
    """
    if not self.train_batch_size or self.train_batch_size < 1:
      raise errors.UserError("--train_batch_size=%s: must be >= 1" % self.train_batch_size)
    make_output_dir(self.config.output_dir)
    start = self._resume_point()
    if start.checkpoint and max_steps is not None and start.global_step >= max_steps:
      logging.info("Skipping training: the checkpoint %s is at global step %d >= max_steps %d.",
                   start.checkpoint, start.global_step, max_steps)
      return {"global_step": start.global_step, "loss": None}
    step_graph = self._build_train_graph(input_fn, start)
    dist = self.distribution
    with step_graph.graph.as_default():  # FileWriter refuses to work in eager mode
      summaries = _Summaries(self.config.output_dir, dist.is_chief, graph=step_graph.graph if dist.is_chief else None)
      session = tf.compat.v1.Session(dist.target, graph=step_graph.graph, config=dist.session_config)
      try:
        self._initialize(session, step_graph, start, init_checkpoint)
        step_graph.graph.finalize()
        state = _TrainingState(start.global_step, start.batches_consumed)
        return self._run_steps(session, step_graph, summaries, state, max_steps, on_step, input_fn)
      except KeyboardInterrupt:
        # SIGINT/SIGTERM (errors.Interrupted): a checkpoint being written leaves TensorFlow's temporary files.
        if dist.is_chief:
          fileio.remove_stale_temp_files(self.config.output_dir)
        raise
      finally:
        summaries.close()
        session.close()

  def _resume_point(self):
    """The newest intact checkpoint of output_dir (`choose_checkpoint`), after the chief tidied the folder.

    The chief removes what interrupted runs left (TensorFlow's `*.tempstate*` files of a checkpoint being written,
    the hidden temporary files of dead writers) and sets unusable newer checkpoints aside as `*.corrupt`, so that
    this run neither reads them nor writes over them.
    """
    output_dir = self.config.output_dir
    chief = self.distribution.is_chief
    if chief:
      removed = fileio.remove_stale_temp_files(output_dir)
      if removed:
        logging.warning("Removed %d temporary file(s) an interrupted run left in %s: %s", len(removed), output_dir,
                        ", ".join(os.path.basename(p) for p in removed[:5]) + (", ..." if len(removed) > 5 else ""))
    choice = choose_checkpoint(output_dir)
    if choice.path is None:
      return _ResumePoint(None, 0, 0, [])
    (logging.warning if choice.rejected else logging.info)("%s.", choice.message)
    if chief:
      for prefix, _ in choice.rejected:
        for moved in set_aside(prefix):
          logging.warning("Set aside %s as %s%s.", moved, os.path.basename(moved), _SET_ASIDE_SUFFIX)
    reader = tf.train.load_checkpoint(choice.path)
    step = int(reader.get_tensor("global_step")) if reader.has_tensor("global_step") else choice.step
    return _ResumePoint(choice.path, step, batches_consumed_at(choice.path, step, self.config.num_accumulation_steps),
                        choice.intact)

  def _build_train_graph(self, input_fn, start):
    """The training step over `input_fn`'s batches after the `start.batches_consumed` already trained on."""
    config = self.config
    dist = self.distribution
    strategy = dist.strategy
    if self.train_batch_size % dist.num_replicas:
      raise errors.UserError("--train_batch_size=%d must be a multiple of the %d replicas" %
                             (self.train_batch_size, dist.num_replicas))
    graph = self._new_graph()
    with graph.as_default():
      params = self._params(ModeKeys.TRAIN, self.train_batch_size, dist.num_replicas)
      consumed = tf.compat.v1.placeholder(tf.int64, [], name="batches_consumed")
      with strategy.scope():
        global_step = tf.compat.v1.train.get_or_create_global_step()
        dataset = input_fn(params)
        if start.batches_consumed:
          # The batches the interrupted run already trained on: continue with the next one.
          dataset = dataset.skip(start.batches_consumed)
        iterator = strategy.make_dataset_iterator(dataset)

        def replica_fn(features):
          ops_before = len(graph.get_operations())
          replica_id = tf.distribute.get_replica_context().replica_id_in_sync_group
          seeds = modeling.DropoutSeeds(config.seed, consumed, replica_id)
          fusion = cpu_xla_fusion_scope() if config.use_xla and not dist.on_gpus else contextlib.nullcontext()
          with modeling.step_seeded_dropout(seeds), fusion:
            spec = self.model_fn(features, ModeKeys.TRAIN, params)
          if spec.loss is None or spec.train_op is None:
            raise ValueError("model_fn must return a ModelSpec with loss and train_op in TRAIN mode")
          step_ops = graph.get_operations()[ops_before:]
          check_step_seeded(step_ops)
          logging.info("Seeded %d random op(s) of the model by the count of batches trained on.", seeds.count)
          if config.use_xla and not dist.on_gpus:
            logging.info("XLA: fusing %d element-wise op(s) of the training step.", count_xla_marked(step_ops))
          scalars = {k: tf.cast(v, tf.float32) for k, v in (spec.scalars or {}).items()}
          return spec.train_op, tf.cast(spec.loss, tf.float32), scalars

        train_ops, losses, scalars = strategy.extended.call_for_each_replica(replica_fn, args=(iterator.get_next(),))
        train_op = strategy.group(train_ops)
        loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None)
        scalars = {k: strategy.experimental_local_results(v)[0] for k, v in scalars.items()}
        with tf.control_dependencies([train_op]):
          step_after = tf.identity(global_step.read_value())
        trainable = tf.compat.v1.trainable_variables()
        all_finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(v)) for v in trainable])
        init_op = tf.group(tf.compat.v1.global_variables_initializer(),
                           tf.compat.v1.local_variables_initializer())
        saver = tf.compat.v1.train.Saver(max_to_keep=config.keep_checkpoint_max, save_relative_paths=True)
        if start.kept:
          # As Estimator's SessionManager does: the checkpoints of the interrupted run count towards max_to_keep.
          saver.recover_last_checkpoints(start.kept)
        restore_saver = (_restoring_saver(start.checkpoint, tf.compat.v1.global_variables())
                         if start.checkpoint else None)
    return _TrainGraph(graph, consumed, train_op, loss, scalars, step_after, all_finite, init_op, iterator, saver,
                       restore_saver, trainable)

  def _initialize(self, session, step_graph, start, init_checkpoint):
    """Restores the output_dir checkpoint, or initialises the variables and warm-starts from init_checkpoint."""
    session.run(step_graph.init_op)
    session.run(step_graph.iterator.initializer)
    if start.checkpoint:
      logging.info("Restoring parameters from %s (global step %d)%s.", start.checkpoint, start.global_step,
                   "; it overrides --init_checkpoint" if init_checkpoint else "")
      restore(step_graph.restore_saver, session, start.checkpoint, flag="the checkpoint in --output_dir")
      log_trainable_variables(step_graph.trainable)
    else:
      warm_start(session, init_checkpoint, step_graph.trainable)

  def _run_steps(self, session, step_graph, summaries, state, max_steps, on_step, input_fn=None):
    """Runs the training step until max_steps or the end of the input; the final checkpoint included."""
    dist = self.distribution
    logging.info("Training from global step %d to %s (%d replica(s), batch %d, %d batch(es) per update).",
                 state.step, max_steps if max_steps is not None else "the end of the input", dist.num_replicas,
                 self.train_batch_size, self.config.num_accumulation_steps)
    fetches = {"train_op": step_graph.train_op, "loss": step_graph.loss, "step": step_graph.step_after,
               "scalars": step_graph.scalars}
    bar = fileio.progress_bar(total=max_steps, initial=state.step, desc="train", unit="step",
                              enabled=self.config.progress_bar)
    try:
      while max_steps is None or state.step < max_steps:
        try:
          with reported_input_errors(input_fn):
            out = session.run(fetches, feed_dict={step_graph.consumed: state.batches_consumed})
        except tf.errors.OutOfRangeError:
          logging.info("The input ended at global step %d.", state.step)
          break
        state.batches_consumed += 1
        previous = state.step
        if not self._after_batch(state, out, on_step):
          continue
        bar.update(state.step - previous)
        bar.set_postfix_str("loss=%.4g" % float(out["loss"]), refresh=False)
        if state.step % self.config.save_summary_steps == 0 or (max_steps is not None and state.step >= max_steps):
          self._log_window(state, out["scalars"], summaries)
        if self.config.save_checkpoints_steps and state.step % self.config.save_checkpoints_steps == 0:
          self._save(session, step_graph, state)
      if state.step != state.last_saved:
        self._save(session, step_graph, state)
    finally:
      bar.close()
    if state.window.batches:
      state.last_logged_loss = state.window.values()["loss"]
    digest = weights_digest(session, step_graph.trainable)
    # The last line of a training run: easy to parse, and the digest shows whether two runs (a resumed and an
    # uninterrupted one, two workers) ended with bit-identical weights.
    logging.info("Training finished: global_step = %d, loss = %s, weights_sha256 = %s", state.step,
                 state.last_logged_loss, digest)
    return {"global_step": state.step, "loss": state.last_logged_loss, "weights_sha256": digest}

  def _after_batch(self, state, out, on_step):
    """Books one run's loss; returns True when it completed an update (the global step moved)."""
    value = float(out["loss"])
    if not math.isfinite(value):
      raise TrainingDivergedError(
          "the loss became %s at global step %d; stopping without saving it (the last checkpoint in %s is "
          "from step %d)" % (value, state.step + 1, self.config.output_dir, state.last_saved))
    state.window.add_batch(value, self.train_batch_size)
    state.update_losses.append(value)
    new_step = int(out["step"])
    if new_step == state.step:
      # Accumulating, or an update skipped by fp16 loss scaling.
      state.runs_since_update += 1
      if state.runs_since_update > 100 * self.config.num_accumulation_steps:
        raise RuntimeError("the train_op did not advance the global step in %d runs" % state.runs_since_update)
      return False
    if on_step is not None:
      last = state.update_losses[-self.config.num_accumulation_steps:]
      on_step(new_step, sum(last) / len(last))
    state.update_losses = []
    state.runs_since_update = 0
    state.window.steps += new_step - state.step
    state.step = new_step
    return True

  def _log_window(self, state, scalars, summaries):
    values = state.window.values()
    values.update({k: float(v) for k, v in scalars.items() if k != "applied"})
    state.last_logged_loss = values["loss"]
    summaries.scalars(state.step, values)
    logging.info("global_step = %d, %s", state.step, ", ".join("%s = %.6g" % (k, values[k]) for k in sorted(values)))
    state.window = _Window()

  def _save(self, session, step_graph, state):
    """Writes model.ckpt-<step> (chief only), its training_state.json entry first, after checking the weights."""
    if not session.run(step_graph.all_finite):
      raise TrainingDivergedError(
          "a weight became NaN or infinite at global step %d (the loss was still finite); no checkpoint "
          "written for it; the last checkpoint in %s is from step %d" %
          (state.step, self.config.output_dir, state.last_saved))
    if self.distribution.is_chief:
      output_dir = self.config.output_dir
      name = "%s-%d" % (CHECKPOINT_PREFIX, state.step)
      # The entry goes first: a kill between the two leaves an entry without its checkpoint, which is harmless.
      record_training_state(output_dir, name, state.step, state.batches_consumed)
      try:
        path = step_graph.saver.save(session, os.path.join(output_dir, CHECKPOINT_PREFIX), global_step=state.step,
                                     write_meta_graph=False)
      except (tf.errors.OpError, OSError) as e:
        # A full disk, a folder that is no longer writable: TensorFlow's writer leaves its temporary files.
        fileio.remove_stale_temp_files(output_dir)
        for leftover in tf.io.gfile.glob(os.path.join(output_dir, name + ".*")):
          if not leftover.endswith(_SET_ASIDE_SUFFIX):
            tf.io.gfile.remove(leftover)
        raise errors.UserError("--output_dir=%s: cannot write checkpoint %s: %s (the last checkpoint is from step "
                               "%d)" % (output_dir, name, _tf_reason(e), state.last_saved)) from None
      logging.info("Saved checkpoint %s", path)
    state.last_saved = state.step

  # -- evaluate / predict ---------------------------------------------------------------------------------------

  def _restore_for_inference(self, session, checkpoint_path, init_checkpoint):
    """Latest checkpoint of output_dir (or `checkpoint_path`), else warm start, else fresh initial values.

    With `inference_needs_all_weights` (the fine-tuning runners), a warm start must find every trainable
    variable in `init_checkpoint`: a checkpoint without the task's head is an error, not a random head.
    """
    path = checkpoint_path or latest_checkpoint(self.config.output_dir)
    if path:
      restore(_restoring_saver(path, tf.compat.v1.global_variables()), session, path,
              flag="--init_checkpoint" if checkpoint_path else "the checkpoint in --output_dir")
    elif init_checkpoint:
      trainable = tf.compat.v1.trainable_variables()
      loaded = warm_start(session, init_checkpoint, trainable)
      missing = [modeling.variable_name(v) for v in trainable if modeling.variable_name(v) not in loaded]
      if missing and self.inference_needs_all_weights:
        raise errors.UserError(
            "--init_checkpoint=%s lacks %d variable(s) this model needs for prediction (%s%s): it is not a "
            "checkpoint fine-tuned for this task; train first (--do_train=true) or give the fine-tuned one" %
            (init_checkpoint, len(missing), ", ".join(missing[:3]), ", ..." if len(missing) > 3 else ""))
    elif self.inference_needs_all_weights:
      raise errors.UserError("no checkpoint in --output_dir=%s and no --init_checkpoint: nothing to predict with" %
                             self.config.output_dir)
    else:
      logging.warning("No checkpoint in %s and no --init_checkpoint: using freshly initialised weights.",
                      self.config.output_dir)

  def evaluate(self, input_fn, steps=None, init_checkpoint=None, checkpoint_path=None, name=None):
    """Runs `steps` batches (None: until the input ends) and returns the metrics, `loss` and `global_step`.

    Restores the latest checkpoint of output_dir (or `checkpoint_path`); without one, warm-starts from
    `init_checkpoint` as the original model_fn did. Runs on one device; on a non-chief worker of a multi-worker
    run it does nothing and returns None. Also writes the metrics as TensorBoard scalars to output_dir/eval[_name].
    """
    if not self.is_chief:
      logging.info("Evaluation runs on the chief worker only.")
      return None
    if not self.eval_batch_size:
      raise ValueError("Runner needs eval_batch_size to evaluate")
    graph = self._new_graph()
    with graph.as_default():
      params = self._params(ModeKeys.EVAL, self.eval_batch_size, 1)
      global_step = tf.compat.v1.train.get_or_create_global_step()
      iterator = tf.compat.v1.data.make_initializable_iterator(input_fn(params))
      spec = self.model_fn(iterator.get_next(), ModeKeys.EVAL, params)
      if spec.loss is None:
        raise ValueError("model_fn must return a ModelSpec with loss in EVAL mode")
      metric_ops = dict(spec.eval_metric_ops or {})
      metric_ops["loss"] = tf.compat.v1.metrics.mean(spec.loss)
      update_op = tf.group([update for (_, update) in metric_ops.values()])
      values = {key: value for key, (value, _) in metric_ops.items()}
      init_op = tf.group(tf.compat.v1.global_variables_initializer(), tf.compat.v1.local_variables_initializer())
      with tf.compat.v1.Session(graph=graph, config=_base_session_config(self.config)) as session:
        session.run(init_op)
        session.run(iterator.initializer)
        self._restore_for_inference(session, checkpoint_path, init_checkpoint)
        graph.finalize()
        bar = fileio.progress_bar(total=steps, desc="eval", unit="batch", enabled=self.config.progress_bar)
        done = 0
        try:
          while steps is None or done < steps:
            try:
              with reported_input_errors(input_fn):
                session.run(update_op)
            except tf.errors.OutOfRangeError:
              break
            done += 1
            bar.update(1)
        finally:
          bar.close()
        results = session.run(values)
        results["global_step"] = session.run(global_step)
    logging.info("Evaluation of %d batch(es) at global step %d: %s", done, results["global_step"],
                 ", ".join("%s = %s" % (k, results[k]) for k in sorted(results)))
    with graph.as_default():  # FileWriter refuses to work in eager mode
      summaries = _Summaries(os.path.join(self.config.output_dir, "eval" + ("_" + name if name else "")), True)
      summaries.scalars(int(results["global_step"]),
                        {k: v for k, v in results.items() if k != "global_step" and np.ndim(v) == 0})
      summaries.close()
    return results

  def predict(self, input_fn, init_checkpoint=None, checkpoint_path=None):
    """Yields one dict of numpy values per example, in input order (final partial batch included).

    Restores like `evaluate`; runs on one device. On a non-chief worker of a multi-worker run it yields nothing:
    the chief predicts and writes the outputs.
    """
    if not self.is_chief:
      logging.info("Prediction runs on the chief worker only.")
      return
    if not self.predict_batch_size:
      raise ValueError("Runner needs predict_batch_size to predict")
    graph = self._new_graph()
    with graph.as_default():
      params = self._params(ModeKeys.PREDICT, self.predict_batch_size, 1)
      tf.compat.v1.train.get_or_create_global_step()
      iterator = tf.compat.v1.data.make_initializable_iterator(input_fn(params))
      spec = self.model_fn(iterator.get_next(), ModeKeys.PREDICT, params)
      if not spec.predictions:
        raise ValueError("model_fn must return a ModelSpec with predictions in PREDICT mode")
      predictions = dict(spec.predictions)
      init_op = tf.group(tf.compat.v1.global_variables_initializer(), tf.compat.v1.local_variables_initializer())
      session = tf.compat.v1.Session(graph=graph, config=_base_session_config(self.config))
    try:
      session.run(init_op)
      session.run(iterator.initializer)
      with graph.as_default():
        self._restore_for_inference(session, checkpoint_path, init_checkpoint)
      graph.finalize()
      while True:
        try:
          with reported_input_errors(input_fn):
            batch = session.run(predictions)
        except tf.errors.OutOfRangeError:
          break
        sizes = set(np.shape(v)[0] for v in batch.values())
        if len(sizes) != 1:
          raise ValueError("predictions disagree on the batch size: %s" %
                           {k: np.shape(v) for k, v in batch.items()})
        for i in range(sizes.pop()):
          yield {key: value[i] for key, value in batch.items()}
    finally:
      session.close()
