"""Two MultiWorkerMirroredStrategy workers on 127.0.0.1 (TF_CONFIG, subprocesses) pre-train 10 steps together.

Both end with bit-identical weights (the runtime's weights digest), agree on every logged loss, and only the chief
(worker 0) writes checkpoints and summaries.
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
               "--save_checkpoints_steps=5", "--save_summary_steps=5"]
    workers.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True))
  logs = []
  try:
    for worker in workers:
      logs.append(worker.communicate(timeout=240)[0])
  finally:
    for worker in workers:
      if worker.poll() is None:
        worker.kill()
  for worker, log in zip(workers, logs):
    assert worker.returncode == 0, log[-4000:]
    assert "MultiWorkerMirroredStrategy" in log and "2 replicas in sync" in log

  def finished(log):
    return [l for l in log.splitlines() if "Training finished" in l][-1]

  def losses(log):
    return [l.split("loss = ")[1].split(",")[0] for l in log.splitlines() if "global_step = " in l and
            "loss = " in l and "Training finished" not in l]

  assert "global_step = 10" in finished(logs[0]) and "global_step = 10" in finished(logs[1])
  digests = [finished(log).split("weights_sha256 = ")[1].strip() for log in logs]
  assert digests[0] == digests[1]
  assert losses(logs[0]) == losses(logs[1]) and len(losses(logs[0])) == 2

  chief_files = sorted(os.listdir(str(tmp_path / "out0")))
  assert "model.ckpt-10.index" in chief_files and "model.ckpt-5.index" in chief_files
  assert any(f.startswith("events.out.tfevents") for f in chief_files)
  assert os.listdir(str(tmp_path / "out1")) == []
  weights = read_checkpoint(str(tmp_path / "out0" / "model.ckpt-10"))
  assert int(weights["global_step"]) == 10 and not [n for n in weights if "replica" in n]
  assert all(np.all(np.isfinite(v)) for v in weights.values())
