"""bench/gpu_check.sh on a machine without GPUs: it says so, measures on the CPU and exits 0.

The end-to-end test runs it with the tiny BERT config, one step after one warm-up and batch 2 (GPUs hidden from
TensorFlow, so that it takes the CPU path everywhere) and checks the table's 6 precision x XLA rows and the final
JSON line. fp16 may lack CPU kernels in some TensorFlow builds: there, and only there, "not supported on this
device" stands in for a number. The other tests check --help and a bad setting, which stop before TensorFlow
starts.
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "bench", "gpu_check.sh")
VARIABLES = ("STEPS", "WARMUP", "BATCH_SIZE", "BERT_CONFIG", "PYTHON", "OUTPUT")
UNSUPPORTED = "not supported on this device"
ROW = re.compile(r"^(?P<config>\S.*?)\s+(?P<precision>fp32|fp16|bf16)\s+(?P<xla>yes|no)\s+(?P<value>\S.*?)\s*$")


def gpu_check(args=(), **env_vars):
  env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
  for name in VARIABLES + ("TIME_BUDGET", "PART_TIMEOUT"):
    env.pop(name, None)
  env.update(env_vars)
  return subprocess.run(["bash", SCRIPT] + list(args), cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=600)


def test_cpu_only_machine_measures_six_configurations_on_the_cpu(tmp_path):
  output = tmp_path / "results" / "gpu_check.json"
  done = gpu_check(BERT_CONFIG="scripts/tiny_bert_config.json", STEPS="1", WARMUP="1", BATCH_SIZE="2",
                   OUTPUT=str(output))
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  assert "No GPU: TensorFlow" in done.stdout
  assert "Multi-GPU check: skipped" in done.stdout

  rows = {}
  for line in done.stdout.splitlines():
    match = ROW.match(line)
    if match:
      key = (match["precision"], match["xla"] == "yes")
      assert key not in rows, line
      assert match["config"].startswith("tiny_bert_config L2 H128 s128 b2"), line
      rows[key] = match["value"]
  assert sorted(rows) == sorted((p, x) for p in ("fp32", "fp16", "bf16") for x in (False, True)), done.stdout
  for (precision, _), value in rows.items():
    if value == UNSUPPORTED:
      assert precision == "fp16", done.stdout
    else:
      assert float(value) > 0, done.stdout

  last = done.stdout.strip().splitlines()[-1]
  summary = json.loads(last)
  assert output.read_text().strip() == last
  assert summary["gpus"] == [] and summary["device"] == "CPU"
  assert summary["batch_size"] == 2 and summary["seq_length"] == 128 and summary["steps"] == 1
  assert summary["multi_gpu"]["status"].startswith("skipped")
  measurements = summary["measurements"]
  assert len(measurements) == 6
  assert {(m["precision"], m["xla"]) for m in measurements} == set(rows)
  for m in measurements:
    if m["status"] == UNSUPPORTED:
      assert m["precision"] == "fp16" and rows[(m["precision"], m["xla"])] == UNSUPPORTED
    else:
      assert m["status"] == "ok" and m["sequences_per_second"] > 0, m
      assert m["sequences_per_second"] == summary["sequences_per_second"][
          m["precision"] + ("_xla" if m["xla"] else "")]
      assert abs(m["sequences_per_second"] * m["s_per_step"] - 2) < 1e-6  # batch / step time


def test_help_names_the_variables_and_exits_0():
  done = gpu_check(["--help"])
  assert done.returncode == 0, done.stderr
  for name in VARIABLES:
    assert name in done.stdout


def test_bad_setting_stops_before_tensorflow_starts():
  done = gpu_check(STEPS="two")
  assert done.returncode == 2
  assert "error: gpu_check.sh: STEPS=two: must be a whole number >= 1" in done.stderr
