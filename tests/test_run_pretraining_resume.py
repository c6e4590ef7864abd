"""kill -9 during pre-training, rerun the same command: it resumes and ends bit-identical to an uninterrupted run.

Dropout is on (0.1): the runtime seeds the dropout masks by the count of batches trained on, and skips the batches
the killed run had consumed, so the resumed run repeats neither masks nor data.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from test_run_pretraining import PREDS, ROOT, SEQ, read_checkpoint, write_config, write_records

STEPS = 200
SAVE_EVERY = 10
KILL_AFTER = 30


def _command(tmp_path, out):
  return [sys.executable, "run_pretraining.py",
          "--bert_config_file=" + str(tmp_path / "bert_config.json"),
          "--input_file=" + str(tmp_path / "*.tfrecord"),
          "--output_dir=" + out, "--do_train=true", "--max_seq_length=%d" % SEQ,
          "--max_predictions_per_seq=%d" % PREDS, "--train_batch_size=4", "--num_train_steps=%d" % STEPS,
          "--num_warmup_steps=10", "--learning_rate=1e-3", "--save_checkpoints_steps=%d" % SAVE_EVERY,
          "--save_summary_steps=50"]


def _env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)


def _checkpoint_step(out):
  """The step of the latest checkpoint named in output_dir/checkpoint (0 if none)."""
  try:
    with open(os.path.join(out, "checkpoint")) as f:
      first = f.readline()
  except IOError:
    return 0
  return int(first.strip().rstrip('"').rsplit("-", 1)[1]) if "model.ckpt-" in first else 0


def _digest(log):
  lines = [l for l in log.splitlines() if "Training finished" in l]
  assert lines, log[-3000:]
  return lines[-1].split("weights_sha256 = ")[1].strip()


def test_kill_and_rerun_equals_uninterrupted_run(tmp_path):
  write_config(str(tmp_path / "bert_config.json"))
  for i in range(2):
    write_records(str(tmp_path / ("part-%d.tfrecord" % i)), 64, seed=20 + i, full=False)
  straight_out, killed_out = str(tmp_path / "straight"), str(tmp_path / "killed")

  straight = subprocess.Popen(_command(tmp_path, straight_out), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
  victim = subprocess.Popen(_command(tmp_path, killed_out), cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  deadline = time.time() + 150
  while _checkpoint_step(killed_out) < KILL_AFTER and victim.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  os.kill(victim.pid, signal.SIGKILL)
  victim.wait()
  killed_at = _checkpoint_step(killed_out)
  assert KILL_AFTER <= killed_at < STEPS, "the run was not killed during training (checkpoint %d)" % killed_at

  rerun = subprocess.run(_command(tmp_path, killed_out), cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=180)
  straight_log = straight.communicate(timeout=180)[0]
  assert rerun.returncode == 0 and straight.returncode == 0, rerun.stderr[-3000:] + straight_log[-3000:]
  log = rerun.stderr
  # The dropouts of a 2-layer BERT: embeddings, then per layer attention probabilities, attention output and
  # feed-forward output: 1 + 3 * 2.
  assert "Seeded 7 random op(s)" in log
  assert "Restoring parameters from" in log and "(global step %d)" % _checkpoint_step_before(log) in log
  assert _checkpoint_step_before(log) >= killed_at
  assert "Training from global step %d to %d" % (_checkpoint_step_before(log), STEPS) in log

  # Same weights, slots and counters as the run that was never interrupted.
  assert _digest(log) == _digest(straight_log)
  final_a = read_checkpoint(os.path.join(straight_out, "model.ckpt-%d" % STEPS))
  final_b = read_checkpoint(os.path.join(killed_out, "model.ckpt-%d" % STEPS))
  assert sorted(final_a) == sorted(final_b)
  for name in final_a:
    np.testing.assert_array_equal(final_a[name], final_b[name], err_msg=name)
  assert int(final_b["global_step"]) == STEPS and "batches_consumed" not in final_b
  with open(os.path.join(killed_out, "training_state.json")) as f:
    assert json.load(f)["checkpoints"]["model.ckpt-%d" % STEPS] == {"global_step": STEPS, "batches_consumed": STEPS}

  # Rerunning a finished run is a no-op (Estimator's max_steps semantics).
  again = subprocess.run(_command(tmp_path, killed_out), cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=120)
  assert again.returncode == 0 and "Skipping training" in again.stderr


def _checkpoint_step_before(log):
  line = [l for l in log.splitlines() if "Restoring parameters from" in l and "global step" in l][0]
  return int(line.split("(global step ")[1].split(")")[0])
