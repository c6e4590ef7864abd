"""The README's first command: scripts/quickstart.sh runs the whole pipeline on the built-in data.

The end-to-end test runs it with a shorter pre-training (QUICKSTART_STEPS) and checks every output it maps, its
step-by-step console output and the entity F1 line; the other tests check its inputs and its failures, which stop
before TensorFlow is imported.
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "quickstart.sh")

EVAL_KEYS = {"global_step", "loss", "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy",
             "next_sentence_loss"}
STEP_NAMES = ["prepare", "vocabulary", "pre-training data", "pre-training", "NER fine-tuning", "WordPiece predictions",
              "entity-level scores", "Hugging Face export", "weights-only release"]
F1_LINE = re.compile(r"^entity F1 on test\.tsv: ([0-9]+\.[0-9]+) \(precision ([0-9.]+), recall ([0-9.]+);",
                     re.MULTILINE)
PRETRAINING_STEPS = 60


def quickstart(args=(), cwd=None, **env_vars):
  """Runs scripts/quickstart.sh with the test's Python first on PATH; returns the CompletedProcess."""
  env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
  for name in ("OUTPUT_DIR", "DATA_DIR", "BIOBERT_DIR", "BIOBERT_CHECKPOINT", "CORPUS", "CORPUS_TEXT",
               "QUICKSTART_STEPS", "NER_EPOCHS", "DO_LOWER_CASE"):
    env.pop(name, None)
  env.update(env_vars)
  return subprocess.run(["bash", SCRIPT] + list(args), cwd=cwd, env=env, capture_output=True, text=True,
                        timeout=900)


def read_results(path):
  """{key: float} of a `key = value` results file."""
  results = {}
  with open(path) as f:
    for line in f:
      key, value = line.rstrip("\n").split(" = ")
      results[key] = float(value)
  return results


def test_quickstart_runs_end_to_end(tmp_path):
  out = tmp_path / "qs"
  proc = quickstart([str(out)], QUICKSTART_STEPS=str(PRETRAINING_STEPS))
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

  # A pipeline on the console: one header per step, in order, each followed by one summary line.
  lines = proc.stdout.splitlines()
  headers = [i for i, line in enumerate(lines) if re.match(r"^\[\d/9\] ", line)]
  assert [lines[i][:6] for i in headers] == ["[%d/9] " % k for k in range(1, 10)]
  for i, name in zip(headers, STEP_NAMES):
    assert lines[i][6:].startswith(name), lines[i]
    assert lines[i + 1].startswith("      ") and not lines[i + 1].strip().startswith("skipped"), lines[i + 1]
  assert headers[-1] + 2 == lines.index(""), "more than one summary line per step:\n" + proc.stdout
  assert len(lines) < 45, proc.stdout
  assert "INFO" not in proc.stdout and "tensorflow" not in proc.stdout.lower()

  match = F1_LINE.search(proc.stdout)
  assert match, proc.stdout
  f1 = float(match.group(1))
  assert f1 > 0, proc.stdout
  test_results = read_results(out / "ner_output" / "test_results.txt")
  assert f1 == pytest.approx(test_results["entity_f1"], abs=0.006)

  for name in ("corpus/corpus-00000.txt", "vocab.txt", "tf_examples.tfrecord",
               "pretraining_output/model.ckpt-%d.index" % PRETRAINING_STEPS, "ner_output/label2id.json",
               "ner_output/eval_results.txt", "ner_output/token_test.txt", "ner_output/label_test.txt",
               "ner_output/NER_result_conll.txt", "ner_result/NER_result_conll.txt", "ner_result/conlleval.txt",
               "hf_model/model.safetensors", "hf_model/vocab.txt", "hf_model/tokenizer_config.json",
               "hf_model/SHA256SUMS", "release/SHA256SUMS", "release/vocab.txt", "release/bert_config.json",
               "release/model.ckpt-%d.index" % PRETRAINING_STEPS):
    assert (out / name).is_file(), name
  for name in re.findall(r"^  (\S+)", proc.stdout, re.MULTILINE):  # the printed map
    assert (out / name).exists(), name
  assert sorted(os.listdir(out / "logs")) == [
      "1-prepare_corpus.log", "2-build_vocab.log", "3-create_pretraining_data.log", "4-run_pretraining.log",
      "5-run_ner.log", "6-ner_detokenize.log", "7-conlleval.log", "8-tf_to_hf.log", "9-strip.log"]

  results = read_results(out / "pretraining_output" / "eval_results.txt")
  assert set(results) == EVAL_KEYS
  assert results["global_step"] == PRETRAINING_STEPS
  assert 0.0 <= results["masked_lm_accuracy"] <= 1.0
  devel = read_results(out / "ner_output" / "eval_results.txt")
  checkpoint = out / "ner_output" / ("model.ckpt-%d.index" % devel["global_step"])
  assert checkpoint.is_file()
  with open(out / "ner_result" / "NER_result_conll.txt") as a, open(out / "ner_output" / "NER_result_conll.txt") as b:
    assert a.read() == b.read()
  with open(out / "hf_model" / "config.json") as f:
    config = json.load(f)
  assert config["model_type"] == "bert" and config["architectures"] == ["BertForPreTraining"]

  # The release is a BIOBERT_DIR: fine-tune it on a NER folder given by a path relative to the caller's folder
  # (a short run: the F1 line only has to be there); the run replaces the first run's folder, marked as its own.
  shutil.copytree(os.path.join(ROOT, "data", "quickstart", "ner"), tmp_path / "ner")
  shutil.copytree(out / "release", tmp_path / "model")
  proc = quickstart(["qs"], cwd=str(tmp_path), BIOBERT_DIR="model", DATA_DIR="ner", NER_EPOCHS="2")
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  lines = proc.stdout.splitlines()
  skipped = [lines[i][:5] for i in range(len(lines) - 1) if lines[i].startswith("[")
             and lines[i + 1].strip().startswith("skipped:")]
  assert skipped == ["[1/9]", "[2/9]", "[3/9]", "[4/9]", "[8/9]", "[9/9]"], proc.stdout
  assert F1_LINE.search(proc.stdout), proc.stdout
  assert "do_lower_case=true" in proc.stdout  # inferred from the model's uncased vocabulary
  assert (out / "ner_result" / "conlleval.txt").is_file() and not (out / "vocab.txt").exists()

  # Any other non-empty folder is refused.
  other = tmp_path / "other"
  other.mkdir()
  (other / "keep.txt").write_text("not a quickstart output\n")
  proc = quickstart([str(other)])
  assert proc.returncode == 2 and "is not empty" in proc.stderr
  assert (other / "keep.txt").is_file()


def test_help():
  proc = quickstart(["--help"])
  assert proc.returncode == 0
  for name in ("OUTPUT_DIR", "DATA_DIR", "BIOBERT_DIR", "QUICKSTART_STEPS", "NER_EPOCHS"):
    assert name in proc.stdout


def test_missing_inputs_are_named_before_anything_runs(tmp_path):
  empty = tmp_path / "empty"
  empty.mkdir()
  proc = quickstart([str(tmp_path / "out")], DATA_DIR=str(empty))
  assert proc.returncode == 2
  assert "DATA_DIR=%s has no train_dev.tsv" % empty in proc.stderr
  assert not (tmp_path / "out").exists()
  proc = quickstart([str(tmp_path / "out")], BIOBERT_DIR=str(empty))
  assert proc.returncode == 2 and "has no vocab.txt" in proc.stderr


def test_a_failing_step_stops_the_run_and_is_named(tmp_path):
  bad = tmp_path / "bad.xml"
  bad.write_text("this is not XML\n")
  proc = quickstart([str(tmp_path / "out")], CORPUS=str(bad))
  assert proc.returncode != 0
  assert "[1/9] prepare" in proc.stdout and "[2/9]" not in proc.stdout
  assert "error: step 1/9 (prepare) failed" in proc.stderr
  assert (tmp_path / "out" / "logs" / "1-prepare_corpus.log").is_file()

