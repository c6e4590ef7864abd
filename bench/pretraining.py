# coding=utf-8
"""BERT-base pre-training steps/s: our run_pretraining graph against Hugging Face transformers, in one run.

Run from the project root:

  python bench/pretraining.py [--steps=4] [--warmup=4]
      [--parts=tf_fp32,tf_fp32_xla,tf_bf16,tf_bf16_xla,tf_bf16_grads,hf_fp32,hf_bf16]
      [--batch_size=8] [--bert_config=FILE] [--num_gpus=-1] [--no_matmul] [--keep_going] [--replicas=2]
      [--in_process] [--part_timeout=SECONDS] [--time_budget=SECONDS]

What is measured, each part in its own process, one after the other:
  * tf_fp32 / tf_bf16 / tf_fp16: run_pretraining.py's model_fn (BERT + gathered masked-LM head + NSP head) and
    optimizer (AdamWeightDecay, clipping, warmup/decay schedule) trained through runtime.Runner, as
    run_pretraining trains them, with `--precision fp32|bf16|fp16` (fp16: dynamic loss scaling), on a synthetic
    batch (the same batch every step); the `_xla` parts add
    `--use_xla` (on a CPU: the element-wise ops XLA-fused around oneDNN's matrix products); the `_grads` parts
    run the same model_fn's forward and backward passes alone (the gradients summed, no optimizer update), in a
    plain Session, to show what the update costs;
  * hf_fp32 / hf_bf16: transformers' BertForPreTraining with the same config and batch (torch CPU; bf16 =
    torch.autocast), forward + backward + clip_grad_norm_(1.0) + torch.optim.AdamW step;
  * a 2048^3 matmul in TensorFlow, float32 and bfloat16, for the machine's attainable GFLOP/s (before and after
    the other parts; the better of the two); `--no_matmul` leaves it out (and the fractions of it);
  * replicas (not in the default parts): MirroredStrategy over `--replicas` GPUs (runtime's --num_gpus) against
    one GPU, the same global batch, dropout off, both warm-started from one checkpoint: the losses of a few steps
    and the final weights must agree (without GPUs: over as many logical CPU devices, --num_cpu_devices).
Batch 8 (`--batch_size`), sequence 128, 20 masked positions per sequence, BERT-base (12 layers, hidden 768,
30522-word vocab; `--bert_config` for another, e.g. scripts/tiny_bert_config.json), dropout on (training mode) in
both. The tf parts run on the devices runtime picks (`--num_gpus`: -1 all visible GPUs, 1 one). Each part times
`--steps` steps after `--warmup` unmeasured ones (both frameworks need a few steps to reach their steady speed) and
reports the best (the machine's speed when no other job interferes; the ratios use it) and the median step time.

Reported: seconds per step, the speed ratio HF/ours per precision (target >= 2), and the achieved GFLOP/s as a
fraction of the matmul's (FLOPs counted from the shapes: 3 x forward matmul FLOPs; ours projects the 8 x 20
gathered positions onto the vocabulary, HF all 8 x 128). Also the bound the machine sets: the time our step's
matrix products alone take at the matmul's rate, and the ratio HF's measured step would give against it. The
machine is shared with other jobs: numbers are noisy, the ratios less so since both sides run in the same
conditions. The last line is machine-readable JSON (with sequences/s = batch / best step time per tf part).
With `--keep_going`, a part that fails is reported (its error, and whether TensorFlow lacks the kernels or device
support for it) instead of stopping the run; `--part_timeout` / `--time_budget` bound each part's process and all
of them. `--in_process` runs the parts in this one process instead (TensorFlow starts once: much quicker for small
configs on a CPU, but a part that crashes the process ends the run, and the time limits do not apply).
"""


import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

BATCH, SEQ, PREDS = 8, 128, 20
CONFIG = {
    "vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
    "intermediate_size": 3072, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512, "type_vocab_size": 2,
    "initializer_range": 0.02,
}


def synthetic_batch(seed=0):
  """One pre-training batch as numpy arrays (the same for both frameworks)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(seed)
  input_ids = rng.randint(1000, CONFIG["vocab_size"], size=(BATCH, SEQ)).astype(np.int32)
  input_ids[:, 0] = 101
  input_ids[:, SEQ // 2] = 102
  input_ids[:, -1] = 102
  segment_ids = (np.arange(SEQ)[None, :] > SEQ // 2).astype(np.int32).repeat(BATCH, 0)
  positions = np.stack([np.sort(rng.choice(np.arange(1, SEQ - 1), PREDS, replace=False)) for _ in range(BATCH)])
  labels = np.take_along_axis(input_ids, positions, 1)
  masked = input_ids.copy()
  np.put_along_axis(masked, positions, 103, 1)
  return {
      "input_ids": masked, "input_mask": np.ones((BATCH, SEQ), np.int32), "segment_ids": segment_ids,
      "masked_lm_positions": positions.astype(np.int32), "masked_lm_ids": labels.astype(np.int32),
      "masked_lm_weights": np.ones((BATCH, PREDS), np.float32),
      "next_sentence_labels": rng.randint(0, 2, size=(BATCH, 1)).astype(np.int32),
  }


def training_flops(mlm_positions):
  """FLOPs of one training step (3 x the forward pass's matmul FLOPs) with `mlm_positions` projected to the vocab."""
  h, i, v, layers = CONFIG["hidden_size"], CONFIG["intermediate_size"], CONFIG["vocab_size"], \
      CONFIG["num_hidden_layers"]
  tokens = BATCH * SEQ
  per_token_layer = 4 * h * h + 2 * h * i + 2 * SEQ * h  # Q,K,V,output; feed-forward; QK^T and AV (MACs)
  forward_macs = tokens * layers * per_token_layer
  forward_macs += mlm_positions * (h * h + h * v)  # masked-LM transform + tied output projection
  forward_macs += BATCH * (h * h + 2 * h)  # pooler + NSP
  return 3 * 2 * forward_macs


# ----------------------------------------------------------------------------------------------------------------
# Parts (each runs in its own process, unless --in_process).


def part_tf(precision, steps, warmup, use_xla=False, num_gpus=-1):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import modeling  # pylint: disable=g-import-not-at-top
  import run_pretraining  # pylint: disable=g-import-not-at-top
  import runtime  # pylint: disable=g-import-not-at-top
  from absl import logging  # pylint: disable=g-import-not-at-top
  logging.set_verbosity(logging.INFO)
  tf.compat.v1.disable_eager_execution()
  batch = synthetic_batch()

  def input_fn(params):
    del params
    return tf.data.Dataset.from_tensors(batch).repeat()

  model_fn = run_pretraining.model_fn_builder(modeling.BertConfig.from_dict(CONFIG), 1e-4, 1000, 10)
  times = []

  def on_step(step, loss):
    del step, loss
    times.append(time.time())

  with tempfile.TemporaryDirectory() as out:
    config = runtime.RunConfig(out, save_checkpoints_steps=None, save_summary_steps=1000, precision=precision,
                               use_xla=use_xla, progress_bar=False, num_gpus=num_gpus)
    runner = runtime.Runner(model_fn, config, train_batch_size=BATCH)
    start = time.time()
    runner.train(input_fn, max_steps=warmup + steps, on_step=on_step)
  deltas = [b - a for a, b in zip([start] + times[:-1], times)][warmup:]
  return {"seconds_per_step": min(deltas), "median": statistics.median(deltas), "all": deltas}


def part_tf_gradients(precision, steps, warmup):
  """Forward + backward of the same model_fn without the optimizer update (the gradients are summed)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import modeling  # pylint: disable=g-import-not-at-top
  import optimization  # pylint: disable=g-import-not-at-top
  import run_pretraining  # pylint: disable=g-import-not-at-top
  import runtime  # pylint: disable=g-import-not-at-top
  tf.compat.v1.disable_eager_execution()

  def gradients_only(total_loss, *unused_args):
    grads = tf.gradients(total_loss, tf.compat.v1.trainable_variables())
    return tf.add_n([tf.reduce_sum(g) for g in grads if g is not None]), {}

  create_train_op, optimization.create_train_op = optimization.create_train_op, gradients_only
  graph = tf.Graph()
  try:
    with graph.as_default():
      tf.compat.v1.set_random_seed(1)
      features = {k: tf.constant(v) for k, v in synthetic_batch().items()}
      model_fn = run_pretraining.model_fn_builder(modeling.BertConfig.from_dict(CONFIG), 1e-4, 1000, 10)
      gradient_sum = model_fn(features, runtime.ModeKeys.TRAIN, {"precision": precision}).train_op
      init = tf.compat.v1.global_variables_initializer()
  finally:  # --in_process: the parts after this one train with the real optimizer
    optimization.create_train_op = create_train_op
  deltas = []
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(init)
    for step in range(warmup + steps):
      start = time.time()
      session.run(gradient_sum)
      if step >= warmup:
        deltas.append(time.time() - start)
  return {"seconds_per_step": min(deltas), "median": statistics.median(deltas), "all": deltas}


def part_hf(precision, steps, warmup):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  config = transformers.BertConfig(
      vocab_size=CONFIG["vocab_size"], hidden_size=CONFIG["hidden_size"],
      num_hidden_layers=CONFIG["num_hidden_layers"], num_attention_heads=CONFIG["num_attention_heads"],
      intermediate_size=CONFIG["intermediate_size"], hidden_act="gelu",
      hidden_dropout_prob=CONFIG["hidden_dropout_prob"],
      attention_probs_dropout_prob=CONFIG["attention_probs_dropout_prob"],
      max_position_embeddings=CONFIG["max_position_embeddings"], type_vocab_size=CONFIG["type_vocab_size"],
      initializer_range=CONFIG["initializer_range"])
  model = transformers.BertForPreTraining(config)
  model.train()
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01, eps=1e-6)
  batch = synthetic_batch()
  labels = np.full((BATCH, SEQ), -100, np.int64)
  np.put_along_axis(labels, batch["masked_lm_positions"], batch["masked_lm_ids"], 1)
  inputs = {
      "input_ids": torch.tensor(batch["input_ids"], dtype=torch.long),
      "attention_mask": torch.tensor(batch["input_mask"], dtype=torch.long),
      "token_type_ids": torch.tensor(batch["segment_ids"], dtype=torch.long),
      "labels": torch.tensor(labels),
      "next_sentence_label": torch.tensor(batch["next_sentence_labels"][:, 0], dtype=torch.long),
  }
  deltas = []
  for step in range(warmup + steps):
    start = time.time()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=(precision == "bf16")):
      loss = model(**inputs).loss
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    float(loss)
    if step >= warmup:
      deltas.append(time.time() - start)
  return {"seconds_per_step": min(deltas), "median": statistics.median(deltas), "all": deltas,
          "threads": torch.get_num_threads()}


REPLICA_STEPS, REPLICA_LEARNING_RATE, REPLICA_TOLERANCE = 5, 1e-3, 1e-4


def part_replicas(num_replicas):
  """MirroredStrategy over `num_replicas` devices against one device: losses and weights after REPLICA_STEPS."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import modeling  # pylint: disable=g-import-not-at-top
  import run_pretraining  # pylint: disable=g-import-not-at-top
  import runtime  # pylint: disable=g-import-not-at-top
  tf.compat.v1.disable_eager_execution()
  gpus = len(tf.config.list_physical_devices("GPU"))
  if gpus:
    if gpus < num_replicas:
      raise SystemExit("--replicas=%d: only %d GPU(s)" % (num_replicas, gpus))
    # TF32 matmuls would round each device's share of the batch differently: compare float32 arithmetic.
    tf.config.experimental.enable_tensor_float_32_execution(False)
    many, one = {"num_gpus": num_replicas}, {"num_gpus": 1}
  else:
    many, one = {"num_gpus": 0, "num_cpu_devices": num_replicas}, {"num_gpus": 0}
  # Each replica would draw its own dropout masks: without dropout both runs compute the same function.
  config = modeling.BertConfig.from_dict(dict(CONFIG, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0))
  model_fn = run_pretraining.model_fn_builder(config, REPLICA_LEARNING_RATE, 100, 0)
  batch = synthetic_batch()

  def input_fn(params):
    del params
    # A batched dataset: MirroredStrategy splits each global batch between the replicas.
    return tf.data.Dataset.from_tensor_slices(batch).repeat().batch(BATCH, drop_remainder=True)

  def train(out, init, devices):
    losses = []
    config = runtime.RunConfig(out, save_checkpoints_steps=None, save_summary_steps=1000, progress_bar=False,
                               **devices)
    runner = runtime.Runner(model_fn, config, train_batch_size=BATCH)
    runner.train(input_fn, max_steps=REPLICA_STEPS, init_checkpoint=init,
                 on_step=lambda step, loss: losses.append(loss))
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(out))
    weights = {name: reader.get_tensor(name) for name in tf.train.load_checkpoint(init).get_variable_to_shape_map()}
    return np.array(losses), weights, runner.distribution

  with tempfile.TemporaryDirectory() as out:
    # Both runs must start from the same weights: one seeded initialisation, saved, warm-starts both.
    with tf.Graph().as_default():
      tf.compat.v1.set_random_seed(7)
      features = {k: tf.constant(v) for k, v in batch.items()}
      run_pretraining.model_fn_builder(config, REPLICA_LEARNING_RATE, 100, 0)(
          features, runtime.ModeKeys.EVAL, {"precision": "fp32"})
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        init = tf.compat.v1.train.Saver().save(session, os.path.join(out, "init", "init.ckpt"))
    # The many-device run first: splitting the CPU into logical devices is possible only before TF uses it.
    many_losses, many_weights, many_dist = train(os.path.join(out, "many"), init, many)
    one_losses, one_weights, one_dist = train(os.path.join(out, "one"), init, one)
    initial = {name: tf.train.load_checkpoint(init).get_tensor(name) for name in one_weights}
  loss_diff = float(np.max(np.abs(many_losses - one_losses)))
  weight_diff = max(float(np.max(np.abs(many_weights[n] - one_weights[n]))) for n in one_weights)
  moved = max(float(np.max(np.abs(one_weights[n] - initial[n]))) for n in one_weights)
  return {"replicas": many_dist.num_replicas, "devices": many_dist.description, "reference": one_dist.description,
          "steps": REPLICA_STEPS, "global_batch": BATCH, "losses": many_losses.tolist(),
          "reference_losses": one_losses.tolist(), "max_loss_diff": loss_diff, "max_weight_diff": weight_diff,
          "max_weight_change": moved, "tolerance": REPLICA_TOLERANCE,
          "ok": bool(many_dist.num_replicas == num_replicas and loss_diff <= REPLICA_TOLERANCE and
                     weight_diff <= REPLICA_TOLERANCE and moved > 10 * REPLICA_TOLERANCE)}


def part_matmul(repeats=5):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  result = {}
  n = 2048
  for name, dtype in (("fp32", tf.float32), ("bf16", tf.bfloat16)):
    with tf.Graph().as_default():
      a = tf.Variable(tf.random.normal([n, n], dtype=tf.float32))
      b = tf.Variable(tf.random.normal([n, n], dtype=tf.float32))
      product = tf.reduce_sum(tf.cast(tf.matmul(tf.cast(a, dtype), tf.cast(b, dtype)), tf.float32))
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        session.run(product)
        best = float("inf")
        for _ in range(repeats):
          start = time.time()
          session.run(product)
          best = min(best, time.time() - start)
    result[name] = 2.0 * n ** 3 / best / 1e9
  return result


# ----------------------------------------------------------------------------------------------------------------


def measure(part, args):
  """Runs one part in this process; returns its result."""
  kind, _, precision = part.partition("_")
  if kind == "tf":
    precision, _, variant = precision.partition("_")
    if variant == "grads":
      return part_tf_gradients(precision, args.steps, args.warmup)
    return part_tf(precision, args.steps, args.warmup, use_xla=(variant == "xla"), num_gpus=args.num_gpus)
  if kind == "replicas":
    return part_replicas(args.replicas)
  if kind == "hf":
    return part_hf(precision, args.steps, args.warmup)
  return part_matmul()


# What TensorFlow says when it has no kernel, or no device support, for a configuration (e.g. XLA's fp16 on a
# CPU): such a part is "not supported here" rather than broken.
UNSUPPORTED_MARKERS = ("No registered", "No OpKernel", "not supported", "Unsupported", "unsupported",
                       "Could not find device for node", "no supported kernel", "UNIMPLEMENTED", "Unimplemented")


def _error_line(stderr):
  """The line naming the exception in a child's stderr (its last `...Error:` line), else its last line."""
  lines = [line.strip() for line in stderr.splitlines() if line.strip()]
  errors_ = [line for line in lines if "Error" in line.split(":", 1)[0] or line.startswith("SystemExit")]
  return (errors_ or lines or ["exit status without output"])[-1][:500]


def _error_text(stderr):
  """The child's last traceback and the exception after it (or its last lines): what the failure says.

  The log lines before it are left out: TensorFlow's warnings may say "not supported" about anything.
  """
  start = stderr.rfind("Traceback (most recent call last)")
  return stderr[start:] if start >= 0 else "\n".join(stderr.splitlines()[-20:])


def _failure(error, text, start):
  return {"error": error, "unsupported": any(m in text for m in UNSUPPORTED_MARKERS),
          "wall_seconds": time.time() - start}


def run_part(part, args):
  """Runs one part in a fresh process; returns its JSON result (with --keep_going: the failure, described)."""
  if args.in_process:
    start = time.time()
    try:
      result = measure(part, args)
    except Exception as e:  # pylint: disable=broad-except
      if not args.keep_going:
        raise
      text = "%s: %s" % (type(e).__name__, e)
      sys.stderr.write("\npart %s failed; continuing (--keep_going): %s\n" % (part, text))
      return _failure(text.splitlines()[0][:500], text, start)
    result["wall_seconds"] = time.time() - start
    return result
  with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
    out = f.name
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  command = [sys.executable, os.path.abspath(__file__), "--part=" + part, "--steps=%d" % args.steps,
             "--warmup=%d" % args.warmup, "--json_out=" + out, "--batch_size=%d" % args.batch_size,
             "--num_gpus=%d" % args.num_gpus, "--replicas=%d" % args.replicas]
  if args.bert_config:
    command.append("--bert_config=" + os.path.abspath(args.bert_config))
  start = time.time()
  timeout = args.part_timeout
  if args.deadline is not None:
    if args.deadline - start < 1:
      os.remove(out)
      if not args.keep_going:
        raise SystemExit("part %s: the --time_budget is spent" % part)
      return _failure("not run: the --time_budget of %g s was spent" % args.time_budget, "", start)
    timeout = args.deadline - start if timeout is None else min(timeout, args.deadline - start)
  try:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
  except subprocess.TimeoutExpired:
    os.remove(out)
    if not args.keep_going:
      raise SystemExit("part %s ran past its %.0f s (--part_timeout, --time_budget)" % (part, timeout))
    return _failure("timed out after %.0f s (--part_timeout, --time_budget)" % timeout, "", start)
  if done.returncode != 0:
    sys.stderr.write(done.stderr[-4000:])
    if not args.keep_going:
      raise SystemExit("part %s failed" % part)
    os.remove(out)
    sys.stderr.write("\npart %s failed; continuing (--keep_going)\n" % part)
    return _failure(_error_line(done.stderr), _error_text(done.stderr), start)
  with open(out) as f:
    result = json.load(f)
  os.remove(out)
  result["wall_seconds"] = time.time() - start
  return result


def main():
  global BATCH  # pylint: disable=global-statement
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=4)
  parser.add_argument("--warmup", type=int, default=4)
  parser.add_argument("--parts", default="tf_fp32,tf_fp32_xla,tf_bf16,tf_bf16_xla,tf_bf16_grads,hf_fp32,hf_bf16",
                      help="also: tf_fp16, tf_fp16_xla, tf_fp16_grads, replicas")
  parser.add_argument("--batch_size", type=int, default=BATCH, help="sequences per step (the global batch)")
  parser.add_argument("--bert_config", default=None, help="a bert_config.json (default: BERT-base)")
  parser.add_argument("--num_gpus", type=int, default=-1, help="GPUs of the tf parts: -1 all visible, 0 none")
  parser.add_argument("--no_matmul", action="store_true", help="skip the 2048^3 matmul measurements")
  parser.add_argument("--keep_going", action="store_true", help="report a failed part and run the others")
  parser.add_argument("--replicas", type=int, default=2, help="devices of the replicas part")
  parser.add_argument("--in_process", action="store_true",
                      help="all parts in this process, one after the other (TensorFlow starts once: quicker, less "
                      "isolated; the replicas part first on a CPU)")
  parser.add_argument("--part_timeout", type=float, default=None,
                      help="seconds a part's process may run (with --keep_going: then reported, the run goes on)")
  parser.add_argument("--time_budget", type=float, default=None,
                      help="seconds all the parts' processes may take together (the parts left then are not run)")
  parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--json_out", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()
  args.deadline = None if args.time_budget is None else time.time() + args.time_budget
  BATCH = args.batch_size
  if args.bert_config:
    with open(args.bert_config) as f:
      CONFIG.update(json.load(f))

  if args.part:  # a child process
    result = measure(args.part, args)
    with open(args.json_out, "w") as f:
      json.dump(result, f)
    return

  parts = [p for p in args.parts.split(",") if p]
  results = {} if args.no_matmul else {"matmul": run_part("matmul", args)}
  failed = {}
  for part in parts:
    results[part] = run_part(part, args)
    if "error" in results[part]:
      failed[part] = results.pop(part)
      print("%-8s %s: %s" % (part, "not supported on this device" if failed[part]["unsupported"] else "failed",
                             failed[part]["error"]), flush=True)
    elif part == "replicas":
      replicas = results[part]
      print("replicas %s: %s vs %s, %d steps of batch %d: max |loss diff| %.2g, max |weight diff| %.2g "
            "(tolerance %.0e; weights moved up to %.2g)" % (
                "same" if replicas["ok"] else "DIFFERENT", replicas["devices"], replicas["reference"],
                replicas["steps"], replicas["global_batch"], replicas["max_loss_diff"], replicas["max_weight_diff"],
                replicas["tolerance"], replicas["max_weight_change"]), flush=True)
    else:
      print("%-8s best %.3f s/step, median %.3f (steps: %s)" % (
          part, results[part]["seconds_per_step"], results[part]["median"],
          ", ".join("%.2f" % t for t in results[part]["all"])), flush=True)
  peak = {}
  if not args.no_matmul:
    # Measured again at the end; the better of the two is the machine's attainable rate.
    again = run_part("matmul", args)
    if "error" not in results["matmul"] and "error" not in again:
      peak = {name: max(results["matmul"][name], again[name]) for name in ("fp32", "bf16")}
      print("matmul 2048^3: fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s" % (peak["fp32"], peak["bf16"]))
  ours_flops, hf_flops = training_flops(BATCH * PREDS), training_flops(BATCH * SEQ)
  summary = {"batch": BATCH, "seq": SEQ}
  if peak:
    summary["matmul_gflops"] = peak
  for precision in ("fp32", "bf16", "fp16"):
    hf_part = results.get("hf_" + precision)
    if hf_part:
      gflops = hf_flops / hf_part["seconds_per_step"] / 1e9
      summary["hf_" + precision] = {"s_per_step": hf_part["seconds_per_step"], "gflops": gflops}
      if precision in peak:
        summary["hf_" + precision]["fraction_of_matmul"] = gflops / peak[precision]
        print("HF   %s: %.2f s/step, %.0f GFLOP/s = %.0f%% of the %s matmul" % (
            precision, hf_part["seconds_per_step"], gflops, 100 * gflops / peak[precision], precision))
      else:
        print("HF   %s: %.2f s/step, %.0f GFLOP/s" % (precision, hf_part["seconds_per_step"], gflops))
    for name in ("tf_" + precision, "tf_%s_xla" % precision):
      tf_part = results.get(name)
      if not tf_part:
        continue
      gflops = ours_flops / tf_part["seconds_per_step"] / 1e9
      summary[name] = {"s_per_step": tf_part["seconds_per_step"], "gflops": gflops,
                       "sequences_per_second": BATCH / tf_part["seconds_per_step"]}
      label = "ours %s%s" % (precision, " --use_xla" if name.endswith("_xla") else "")
      if precision in peak:
        summary[name]["fraction_of_matmul"] = gflops / peak[precision]
        print("%s: %.2f s/step, %.0f GFLOP/s = %.0f%% of the %s matmul" % (
            label, tf_part["seconds_per_step"], gflops, 100 * gflops / peak[precision], precision))
      else:
        print("%s: %.2f s/step, %.0f GFLOP/s, %.1f sequences/s" % (
            label, tf_part["seconds_per_step"], gflops, BATCH / tf_part["seconds_per_step"]))
      if hf_part:
        ratio = hf_part["seconds_per_step"] / tf_part["seconds_per_step"]
        median_ratio = hf_part["median"] / tf_part["median"]
        summary["speedup_" + name[3:]] = ratio
        summary["speedup_median_" + name[3:]] = median_ratio
        print("speed-up %s (HF s/step / ours): %.2fx on the best steps, %.2fx on the medians (target >= 2x)" % (
            label, ratio, median_ratio))
    grads_part = results.get("tf_%s_grads" % precision)
    if grads_part:
      summary["tf_%s_grads" % precision] = {"s_per_step": grads_part["seconds_per_step"]}
      print("ours %s forward + backward alone (no optimizer update): %.2f s/step" % (
          precision, grads_part["seconds_per_step"]))
    if hf_part and precision in peak:
      # Our step cannot be faster than its matrix products at the matmul's rate: that bounds the ratio.
      floor = ours_flops / (peak[precision] * 1e9)
      summary["matmul_bound_" + precision] = {"s_per_step": floor,
                                              "max_speedup": hf_part["seconds_per_step"] / floor}
      print("bound %s: our matrix products alone take %.2f s at the matmul's rate -> at most %.2fx HF's step" % (
          precision, floor, hf_part["seconds_per_step"] / floor))
  if "replicas" in results:
    summary["replicas"] = results["replicas"]
  for part, failure in failed.items():
    summary[part] = {"error": failure["error"], "unsupported": failure["unsupported"]}
  print(json.dumps(summary, sort_keys=True))
  if any(not failure["unsupported"] for failure in failed.values()):
    raise SystemExit(1)


if __name__ == "__main__":
  main()
