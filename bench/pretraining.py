# coding=utf-8
"""BERT-base pre-training steps/s: our run_pretraining graph against Hugging Face transformers, in one run.

Run from the project root:

  python bench/pretraining.py [--steps=4] [--warmup=4]
      [--parts=tf_fp32,tf_fp32_xla,tf_bf16,tf_bf16_xla,tf_bf16_grads,hf_fp32,hf_bf16]

What is measured, each part in its own process, one after the other:
  * tf_fp32 / tf_bf16: run_pretraining.py's model_fn (BERT + gathered masked-LM head + NSP head) and optimizer
    (AdamWeightDecay, clipping, warmup/decay schedule) trained through runtime.Runner, as run_pretraining trains
    them, with `--precision fp32|bf16`, on a synthetic batch (the same batch every step); the `_xla` parts add
    `--use_xla` (on a CPU: the element-wise ops XLA-fused around oneDNN's matrix products); the `_grads` parts
    run the same model_fn's forward and backward passes alone (the gradients summed, no optimizer update), in a
    plain Session, to show what the update costs;
  * hf_fp32 / hf_bf16: transformers' BertForPreTraining with the same config and batch (torch CPU; bf16 =
    torch.autocast), forward + backward + clip_grad_norm_(1.0) + torch.optim.AdamW step;
  * a 2048^3 matmul in TensorFlow, float32 and bfloat16, for the machine's attainable GFLOP/s (before and after
    the other parts; the better of the two).
Batch 8, sequence 128, 20 masked positions per sequence, BERT-base (12 layers, hidden 768, 30522-word vocab),
dropout on (training mode) in both. Each part times `--steps` steps after `--warmup` unmeasured ones (both
frameworks need a few steps to reach their steady speed) and reports the best (the machine's speed when no other
job interferes; the ratios use it) and the median step time.

Reported: seconds per step, the speed ratio HF/ours per precision (target >= 2), and the achieved GFLOP/s as a
fraction of the matmul's (FLOPs counted from the shapes: 3 x forward matmul FLOPs; ours projects the 8 x 20
gathered positions onto the vocabulary, HF all 8 x 128). Also the bound the machine sets: the time our step's
matrix products alone take at the matmul's rate, and the ratio HF's measured step would give against it. The
machine is shared with other jobs: numbers are noisy, the ratios less so since both sides run in the same
conditions. The last line is machine-readable JSON.
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
# Parts (each runs in its own process).


def part_tf(precision, steps, warmup, use_xla=False):
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
                               use_xla=use_xla, progress_bar=False)
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

  optimization.create_train_op = gradients_only
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(1)
    features = {k: tf.constant(v) for k, v in synthetic_batch().items()}
    model_fn = run_pretraining.model_fn_builder(modeling.BertConfig.from_dict(CONFIG), 1e-4, 1000, 10)
    gradient_sum = model_fn(features, runtime.ModeKeys.TRAIN, {"precision": precision}).train_op
    init = tf.compat.v1.global_variables_initializer()
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


def run_part(part, args):
  """Runs one part in a fresh process; returns its JSON result."""
  with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
    out = f.name
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  command = [sys.executable, os.path.abspath(__file__), "--part=" + part, "--steps=%d" % args.steps,
             "--warmup=%d" % args.warmup, "--json_out=" + out]
  start = time.time()
  done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
  if done.returncode != 0:
    sys.stderr.write(done.stderr[-4000:])
    raise SystemExit("part %s failed" % part)
  with open(out) as f:
    result = json.load(f)
  os.remove(out)
  result["wall_seconds"] = time.time() - start
  return result


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=4)
  parser.add_argument("--warmup", type=int, default=4)
  parser.add_argument("--parts", default="tf_fp32,tf_fp32_xla,tf_bf16,tf_bf16_xla,tf_bf16_grads,hf_fp32,hf_bf16")
  parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
  parser.add_argument("--json_out", default=None, help=argparse.SUPPRESS)
  args = parser.parse_args()

  if args.part:  # a child process
    kind, _, precision = args.part.partition("_")
    if kind == "tf":
      precision, _, variant = precision.partition("_")
      if variant == "grads":
        result = part_tf_gradients(precision, args.steps, args.warmup)
      else:
        result = part_tf(precision, args.steps, args.warmup, use_xla=(variant == "xla"))
    elif kind == "hf":
      result = part_hf(precision, args.steps, args.warmup)
    else:
      result = part_matmul()
    with open(args.json_out, "w") as f:
      json.dump(result, f)
    return

  parts = [p for p in args.parts.split(",") if p]
  results = {"matmul": run_part("matmul", args)}
  for part in parts:
    results[part] = run_part(part, args)
    print("%-8s best %.3f s/step, median %.3f (steps: %s)" % (
        part, results[part]["seconds_per_step"], results[part]["median"],
        ", ".join("%.2f" % t for t in results[part]["all"])), flush=True)
  # Measured again at the end; the better of the two is the machine's attainable rate.
  again = run_part("matmul", args)
  peak = {name: max(results["matmul"][name], again[name]) for name in ("fp32", "bf16")}
  print("matmul 2048^3: fp32 %.0f GFLOP/s, bf16 %.0f GFLOP/s" % (peak["fp32"], peak["bf16"]))
  ours_flops, hf_flops = training_flops(BATCH * PREDS), training_flops(BATCH * SEQ)
  summary = {"batch": BATCH, "seq": SEQ, "matmul_gflops": peak}
  for precision in ("fp32", "bf16"):
    hf_part = results.get("hf_" + precision)
    if hf_part:
      gflops = hf_flops / hf_part["seconds_per_step"] / 1e9
      summary["hf_" + precision] = {"s_per_step": hf_part["seconds_per_step"], "gflops": gflops,
                                    "fraction_of_matmul": gflops / peak[precision]}
      print("HF   %s: %.2f s/step, %.0f GFLOP/s = %.0f%% of the %s matmul" % (
          precision, hf_part["seconds_per_step"], gflops, 100 * gflops / peak[precision], precision))
    for name in ("tf_" + precision, "tf_%s_xla" % precision):
      tf_part = results.get(name)
      if not tf_part:
        continue
      gflops = ours_flops / tf_part["seconds_per_step"] / 1e9
      summary[name] = {"s_per_step": tf_part["seconds_per_step"], "gflops": gflops,
                       "fraction_of_matmul": gflops / peak[precision]}
      label = "ours %s%s" % (precision, " --use_xla" if name.endswith("_xla") else "")
      print("%s: %.2f s/step, %.0f GFLOP/s = %.0f%% of the %s matmul" % (
          label, tf_part["seconds_per_step"], gflops, 100 * gflops / peak[precision], precision))
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
    if hf_part:
      # Our step cannot be faster than its matrix products at the matmul's rate: that bounds the ratio.
      floor = ours_flops / (peak[precision] * 1e9)
      summary["matmul_bound_" + precision] = {"s_per_step": floor,
                                              "max_speedup": hf_part["seconds_per_step"] / floor}
      print("bound %s: our matrix products alone take %.2f s at the matmul's rate -> at most %.2fx HF's step" % (
          precision, floor, hf_part["seconds_per_step"] / floor))
  print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
  main()
