"""The README's main-job command: scripts/quickstart.sh runs end to end on the built-in sample text."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EVAL_KEYS = {"global_step", "loss", "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy",
             "next_sentence_loss"}


def test_quickstart_runs_end_to_end(tmp_path):
  out = tmp_path / "qs"
  env = dict(os.environ, QUICKSTART_STEPS="30", PATH=os.path.dirname(sys.executable) + os.pathsep +
             os.environ.get("PATH", ""))
  proc = subprocess.run(["bash", os.path.join(ROOT, "scripts", "quickstart.sh"), str(out)], env=env,
                        capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]

  results = {}
  with open(out / "pretraining_output" / "eval_results.txt") as f:
    for line in f:
      key, value = line.rstrip("\n").split(" = ")
      results[key] = float(value)
  assert set(results) == EVAL_KEYS
  assert results["global_step"] == 30
  assert 0.0 <= results["masked_lm_accuracy"] <= 1.0

  with open(out / "hf_model" / "config.json") as f:
    config = json.load(f)
  assert config["model_type"] == "bert" and config["architectures"] == ["BertForPreTraining"]
  for name in ("model.safetensors", "vocab.txt", "tokenizer_config.json", "SHA256SUMS"):
    assert (out / "hf_model" / name).is_file(), name
  assert (out / "release" / "SHA256SUMS").is_file()
