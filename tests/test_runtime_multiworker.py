"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG, subprocesses) pre-train 10 steps together.

Both end with bit-identical weights (the runtime's weights digest), agree on every logged loss, and only the chief
(worker 0) writes checkpoints, summaries, training_state.json and eval_results.txt. A second pair trains, evaluates
and predicts a small model through the runtime: only the chief evaluates and predicts, the other worker returns
without writing anything.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np

from test_run_pretraining import PREDS, ROOT, SEQ, read_checkpoint, write_config, write_records


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _communicate(workers, timeout=240):
  logs = []
  try:
    for worker in workers:
      logs.append(worker.communicate(timeout=timeout)[0])
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
  return logs


def _start_workers(script, out_dirs):
  cluster = {"worker": ["127.0.0.1:%d" % _free_port() for _ in out_dirs]}
  workers = []
  for index, out in enumerate(out_dirs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT,
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
    workers.append(subprocess.Popen([sys.executable, script, out], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True))
  return workers


# Trains a linear model 4 steps on two workers, then evaluates and predicts; writes outputs where the runtime
# says this worker should (the pattern every runner follows).
_EVAL_PREDICT_SCRIPT = """
import json, os, sys
import numpy as np
import tensorflow as tf
import runtime

tf.compat.v1.disable_eager_execution()
out = sys.argv[1]
x = np.arange(32, dtype=np.float32).reshape(16, 2) / 16.0
y = x @ np.array([[1.0], [-2.0]], np.float32)

def input_fn(params, repeat=True):
  d = tf.data.Dataset.from_tensor_slices({"x": x, "y": y})
  return (d.repeat() if repeat else d).batch(params["batch_size"], drop_remainder=repeat)

def model_fn(features, mode, params):
  w = tf.compat.v1.get_variable("w", [2, 1], initializer=tf.compat.v1.zeros_initializer())
  pred = tf.matmul(features["x"], w)
  loss = tf.reduce_mean(tf.square(pred - features["y"]))
  if mode == runtime.ModeKeys.TRAIN:
    step = tf.compat.v1.train.get_or_create_global_step()
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)
    return runtime.ModelSpec(mode, loss=loss, train_op=optimizer.minimize(loss, global_step=step))
  if mode == runtime.ModeKeys.EVAL:
    return runtime.ModelSpec(mode, loss=loss, eval_metric_ops={"mse": tf.compat.v1.metrics.mean(loss)})
  return runtime.ModelSpec(mode, predictions={"pred": pred[:, 0]})

runner = runtime.Runner(model_fn, runtime.RunConfig(out, save_checkpoints_steps=None, progress_bar=False),
                        train_batch_size=4, eval_batch_size=4, predict_batch_size=4)
runner.train(input_fn, max_steps=4)
results = runner.evaluate(lambda params: input_fn(params, repeat=False))
if results is not None:
  runtime.write_eval_results(out, results)
predictions = list(runner.predict(lambda params: input_fn(params, repeat=False)))
if runner.is_chief:
  with open(os.path.join(out, "predictions.json"), "w") as f:
    json.dump([float(p["pred"]) for p in predictions], f)
print("predicted %d, evaluated %s" % (len(predictions), results is not None))
"""


def test_only_the_chief_evaluates_predicts_and_writes(tmp_path):
  script = tmp_path / "eval_predict.py"
  script.write_text(_EVAL_PREDICT_SCRIPT)
  out_dirs = [str(tmp_path / "out0"), str(tmp_path / "out1")]
  workers = _start_workers(str(script), out_dirs)
  logs = _communicate(workers)
  for worker, log in zip(workers, logs):
    assert worker.returncode == 0, log[-4000:]
  assert "predicted 16, evaluated True" in logs[0]
  assert "predicted 0, evaluated False" in logs[1]
  chief_files = os.listdir(out_dirs[0])
  assert "eval_results.txt" in chief_files and "predictions.json" in chief_files
  assert not os.path.exists(out_dirs[1]) or os.listdir(out_dirs[1]) == []


def test_two_workers_train_in_sync_and_only_the_chief_writes(tmp_path):
  write_config(str(tmp_path / "bert_config.json"))
  for i in range(2):
    write_records(str(tmp_path / ("part-%d.tfrecord" % i)), 32, seed=30 + i)
  cluster = {"worker": ["127.0.0.1:%d" % _free_port() for _ in range(2)]}
  workers = []
  for index in range(2):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT,
               TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
    command = [sys.executable, "run_pretraining.py",
               "--bert_config_file=" + str(tmp_path / "bert_config.json"),
               "--input_file=" + str(tmp_path / "*.tfrecord"), "--output_dir=" + str(tmp_path / ("out%d" % index)),
               "--do_train=true", "--max_seq_length=%d" % SEQ, "--max_predictions_per_seq=%d" % PREDS,
               "--train_batch_size=8", "--num_train_steps=10", "--num_warmup_steps=2", "--learning_rate=1e-3",
               "--save_checkpoints_steps=5", "--save_summary_steps=5", "--do_eval=true", "--max_eval_steps=2"]
    workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True))
  logs = _communicate(workers)
  for worker, log in zip(workers, logs):
    assert worker.returncode == 0, log[-4000:]
    assert "MultiWorkerMirroredStrategy" in log and "2 replicas in sync" in log

  def finished(log):
    return [l for l in log.splitlines() if "Training finished" in l][-1]

  def losses(log):
    return [l.split(" loss = ")[1].split(",")[0] for l in log.splitlines() if "global_step = " in l and
            "examples/sec = " in l]

  assert "global_step = 10" in finished(logs[0]) and "global_step = 10" in finished(logs[1])
  digests = [finished(log).split("weights_sha256 = ")[1].strip() for log in logs]
  assert digests[0] == digests[1]
  assert losses(logs[0]) == losses(logs[1]) and len(losses(logs[0])) == 2

  chief_files = sorted(os.listdir(str(tmp_path / "out0")))
  assert "model.ckpt-10.index" in chief_files and "model.ckpt-5.index" in chief_files
  assert "eval_results.txt" in chief_files and "training_state.json" in chief_files
  assert any(f.startswith("events.out.tfevents") for f in chief_files)
  assert os.listdir(str(tmp_path / "out1")) == []
  weights = read_checkpoint(str(tmp_path / "out0" / "model.ckpt-10"))
  assert int(weights["global_step"]) == 10 and not [n for n in weights if "replica" in n]
  assert all(np.all(np.isfinite(v)) for v in weights.values())
