"""The workflow scripts scripts/pretrain.sh, scripts/qa.sh and scripts/release.sh.

Their input checks (which stop before TensorFlow is imported), then one tiny run of each, chained: pretrain.sh on
the built-in PubMed sample with a tiny BERT and a vocabulary built from that sample (both phases, a few steps, short
sequences), rerun to see the finished steps skipped; release.sh on its last checkpoint; qa.sh fine-tuning that
checkpoint on the QA fixture. And failing steps: a corpus no file of which can be read, a text shard that is not
UTF-8.
"""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
TINY_CONFIG = os.path.join(SCRIPTS, "tiny_bert_config.json")
PUBMED_SAMPLE = os.path.join(ROOT, "data", "quickstart", "pubmed_sample.xml")
QA_FIXTURE = os.path.join(ROOT, "tests", "fixtures", "qa", "biomedical_squad.json")

# Every variable the scripts read, so that the caller's environment does not leak into a test.
VARIABLES = [
    "BIOBERT_DIR", "INIT_CHECKPOINT", "VOCAB_FILE", "BERT_CONFIG_FILE", "DO_LOWER_CASE", "CORPUS", "CORPUS_TEXT",
    "OUTPUT_DIR", "JOBS", "STAGES", "SHARD_SIZE_MB", "DUPE_FACTOR", "MASKED_LM_PROB", "RANDOM_SEED", "DO_EVAL",
    "MAX_EVAL_STEPS", "EVAL_BATCH_SIZE", "NUM_GPUS", "PRECISION", "USE_XLA", "NUM_ACCUMULATION_STEPS",
    "SAVE_CHECKPOINTS_STEPS", "TF_CONFIG", "QA_DIR", "TRAIN_FILE", "PREDICT_FILE", "GOLDEN_FILE", "DO_TRAIN",
    "MAX_SEQ_LENGTH", "TRAIN_BATCH_SIZE", "LEARNING_RATE", "DOC_STRIDE", "NUM_TRAIN_EPOCHS", "MAX_QUERY_LENGTH",
    "PREDICT_BATCH_SIZE", "BIOASQ_JAR", "JAVA", "CHECKPOINT", "MODEL_NAME", "OVERWRITE", "SCRIPT", "PYTHON",
    "NER_DIR"]

PHASE1_STEPS, PHASE2_STEPS = 4, 3
TINY_PRETRAINING = dict(
    BERT_CONFIG_FILE=TINY_CONFIG, JOBS="2", SHARD_SIZE_MB="0.008", DUPE_FACTOR="1",
    PHASE1_MAX_SEQ_LENGTH="32", PHASE1_MAX_PREDICTIONS="5", PHASE2_MAX_SEQ_LENGTH="64", PHASE2_MAX_PREDICTIONS="10",
    PHASE1_STEPS=str(PHASE1_STEPS), PHASE2_STEPS=str(PHASE2_STEPS), PHASE1_BATCH_SIZE="8", PHASE2_BATCH_SIZE="8",
    PHASE1_LEARNING_RATE="1e-3", PHASE2_LEARNING_RATE="1e-3", SAVE_CHECKPOINTS_STEPS="2", MAX_EVAL_STEPS="2",
    NUM_GPUS="0")


def run(script, cwd=None, args=(), **env_vars):
  """Runs scripts/<script> with the test's Python first on PATH; returns the CompletedProcess."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2",
             PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
  for name in VARIABLES:
    env.pop(name, None)
  env = {k: v for k, v in env.items() if not k.startswith(("PHASE1_", "PHASE2_"))}
  env.update(env_vars)
  return subprocess.run(["bash", os.path.join(SCRIPTS, script)] + list(args), cwd=cwd or ROOT, env=env,
                        capture_output=True, text=True, timeout=600)


def headers(stdout):
  return [line for line in stdout.splitlines() if re.match(r"^\[\d/\d\] ", line)]


# ----------------------------------------------------------------------------------------------------------------
# Usage and input checks.


@pytest.mark.parametrize("script, variables", [
    ("pretrain.sh", ["BIOBERT_DIR", "CORPUS", "CORPUS_TEXT", "JOBS", "NUM_GPUS", "PRECISION", "USE_XLA", "TF_CONFIG",
                     "PHASE1_STEPS", "PHASE2_MAX_SEQ_LENGTH", "PHASE1_LEARNING_RATE", "SAVE_CHECKPOINTS_STEPS"]),
    ("qa.sh", ["BIOBERT_DIR", "QA_DIR", "OUTPUT_DIR", "TRAIN_FILE", "PREDICT_FILE", "GOLDEN_FILE", "BIOASQ_JAR",
               "LEARNING_RATE", "DOC_STRIDE"]),
    ("release.sh", ["BIOBERT_DIR", "CHECKPOINT", "OUTPUT_DIR", "MODEL_NAME"]),
])
def test_help_lists_the_variables(script, variables):
  proc = run(script, args=["--help"])
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.startswith("Usage: scripts/%s" % script)
  for name in variables:
    assert re.search(r"\b%s\b" % name, proc.stdout), name


@pytest.mark.parametrize("script", ["pretrain.sh", "qa.sh", "release.sh"])
def test_missing_biobert_dir_names_it(script, tmp_path):
  proc = run(script, cwd=str(tmp_path), CORPUS=PUBMED_SAMPLE)
  assert proc.returncode == 2, proc.stderr
  assert proc.stderr.startswith("error: %s: set BIOBERT_DIR" % script), proc.stderr
  assert os.listdir(str(tmp_path)) == []  # nothing written


def fake_model_dir(path):
  """A folder with the files a model folder needs (the checks look at names, not contents)."""
  path.mkdir()
  (path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n")
  (path / "bert_config.json").write_text(open(TINY_CONFIG).read())
  (path / "model.ckpt-7.index").write_text("")
  return path


@pytest.mark.parametrize("script", ["pretrain.sh", "qa.sh", "release.sh"])
def test_a_model_folder_without_its_files_is_named(script, tmp_path):
  model = fake_model_dir(tmp_path / "model")
  (model / "vocab.txt").unlink()
  proc = run(script, cwd=str(tmp_path), BIOBERT_DIR="model", CORPUS=PUBMED_SAMPLE)
  assert proc.returncode == 2, proc.stderr
  assert "BIOBERT_DIR=%s has no vocab.txt" % model in proc.stderr
  (model / "vocab.txt").write_text("[PAD]\n")
  (model / "model.ckpt-7.index").unlink()
  proc = run(script, cwd=str(tmp_path), BIOBERT_DIR="model", CORPUS=PUBMED_SAMPLE)
  assert proc.returncode == 2 and "holds no checkpoint" in proc.stderr, proc.stderr


def test_pretrain_data_checks(tmp_path):
  fake_model_dir(tmp_path / "model")
  proc = run("pretrain.sh", cwd=str(tmp_path), BIOBERT_DIR="model")
  assert proc.returncode == 2 and "set CORPUS to" in proc.stderr, proc.stderr
  (tmp_path / "empty").mkdir()
  proc = run("pretrain.sh", cwd=str(tmp_path), BIOBERT_DIR="model", CORPUS="empty")
  assert proc.returncode == 2, proc.stderr
  assert "CORPUS: the folder %s holds no PubMed/PMC XML" % (tmp_path / "empty") in proc.stderr
  proc = run("pretrain.sh", cwd=str(tmp_path), BIOBERT_DIR="model", CORPUS_TEXT="missing-*.txt")
  assert proc.returncode == 2 and "CORPUS_TEXT: no file %s/missing-*.txt" % tmp_path in proc.stderr, proc.stderr
  # From scratch needs both the config and the vocabulary.
  proc = run("pretrain.sh", cwd=str(tmp_path), BERT_CONFIG_FILE=TINY_CONFIG, CORPUS=PUBMED_SAMPLE)
  assert proc.returncode == 2 and "VOCAB_FILE" in proc.stderr, proc.stderr
  assert sorted(os.listdir(str(tmp_path))) == ["empty", "model"]


def test_pretrain_on_several_machines_needs_the_data_first(tmp_path):
  fake_model_dir(tmp_path / "model")
  tf_config = json.dumps({"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 1}})
  proc = run("pretrain.sh", cwd=str(tmp_path), BIOBERT_DIR="model", CORPUS=PUBMED_SAMPLE, TF_CONFIG=tf_config)
  assert proc.returncode == 2 and "with several workers, prepare it first" in proc.stderr, proc.stderr
  proc = run("pretrain.sh", cwd=str(tmp_path), BIOBERT_DIR="model", CORPUS=PUBMED_SAMPLE, TF_CONFIG="{not json")
  assert proc.returncode == 2 and "TF_CONFIG is not a JSON object" in proc.stderr, proc.stderr
  assert not (tmp_path / "pretraining_output" / "corpus").exists()


def test_qa_data_checks(tmp_path):
  fake_model_dir(tmp_path / "model")
  proc = run("qa.sh", cwd=str(tmp_path), BIOBERT_DIR="model", QA_DIR="no_such_dir")
  assert proc.returncode == 2 and "QA_DIR=%s/no_such_dir is not a folder" % tmp_path in proc.stderr, proc.stderr
  qa_dir = tmp_path / "BioASQ"
  qa_dir.mkdir()
  proc = run("qa.sh", cwd=str(tmp_path), BIOBERT_DIR="model", QA_DIR="BioASQ")
  assert proc.returncode == 2 and "QA_DIR=%s has no BioASQ-train-factoid-4b.json" % qa_dir in proc.stderr
  for name in ("BioASQ-train-factoid-4b.json", "BioASQ-test-factoid-4b-1.json"):
    (qa_dir / name).write_text("{}")
  proc = run("qa.sh", cwd=str(tmp_path), BIOBERT_DIR="model", QA_DIR="BioASQ")
  assert proc.returncode == 2 and "has no 4B1_golden.json" in proc.stderr, proc.stderr  # named after the test file
  (qa_dir / "4B1_golden.json").write_text("{}")
  proc = run("qa.sh", cwd=str(tmp_path), BIOBERT_DIR="model", QA_DIR="BioASQ", BIOASQ_JAR="no.jar")
  assert proc.returncode == 2 and "BIOASQ_JAR=%s/no.jar is not a file" % tmp_path in proc.stderr, proc.stderr
  assert not (tmp_path / "qa_output").exists()


def test_release_refuses_to_replace_an_earlier_release(tmp_path):
  fake_model_dir(tmp_path / "model")
  (tmp_path / "release" / "biobert-pretrained").mkdir(parents=True)
  (tmp_path / "release" / "biobert-pretrained" / "vocab.txt").write_text("kept")
  proc = run("release.sh", cwd=str(tmp_path), BIOBERT_DIR="model")
  assert proc.returncode == 2 and "exists already: set OVERWRITE=true" in proc.stderr, proc.stderr
  assert (tmp_path / "release" / "biobert-pretrained" / "vocab.txt").read_text() == "kept"


def test_ner_trains_on_train_and_devel_where_a_set_has_no_train_dev(tmp_path):
  fake_model_dir(tmp_path / "model")
  data = tmp_path / "JNLPBA"
  data.mkdir()
  (data / "train.tsv").write_text("a\tB\nb\tI\n\n")
  (data / "devel.tsv").write_text("c\tO\n\n")
  (data / "test.tsv").write_text("d\tO\n\n")
  # The fake model makes run_ner fail after the join; the joined folder is what is looked at.
  proc = run("ner.sh", cwd=str(tmp_path), BIOBERT_DIR="model", NER_DIR="JNLPBA", OUTPUT_DIR="out")
  assert "has no train_dev.tsv: training on train.tsv + devel.tsv" in proc.stdout, proc.stdout + proc.stderr
  joined = tmp_path / "out" / "data"
  assert (joined / "train_dev.tsv").read_text() == "a\tB\nb\tI\n\n\nc\tO\n\n"
  assert (joined / "test.tsv").read_text() == "d\tO\n\n" and (joined / "devel.tsv").is_symlink()


# ----------------------------------------------------------------------------------------------------------------
# Failing steps.


@pytest.fixture(scope="module")
def vocab(tmp_path_factory):
  """A WordPiece vocabulary of scripts/tiny_bert_config.json's size, learned from the built-in PubMed sample."""
  root = tmp_path_factory.mktemp("vocab")
  env = dict(os.environ, PYTHONPATH=ROOT)
  subprocess.run([sys.executable, os.path.join(ROOT, "prepare_corpus.py"), "--input_file=" + PUBMED_SAMPLE,
                  "--output_dir=" + str(root / "text"), "--num_workers=1"], check=True, capture_output=True, env=env)
  subprocess.run([sys.executable, os.path.join(ROOT, "build_vocab.py"), "--input_file=" + str(root / "text" / "*.txt"),
                  "--output_file=" + str(root / "vocab.txt"), "--vocab_size=2048", "--do_lower_case=true",
                  "--min_frequency=1", "--num_workers=1"], check=True, capture_output=True, env=env)
  return str(root / "vocab.txt")


def test_pretrain_stops_at_a_failing_prepare_step(tmp_path, vocab):
  (tmp_path / "corrupt.xml").write_bytes(b"<PubmedArticleSet><PubmedArticle>")
  proc = run("pretrain.sh", cwd=str(tmp_path), CORPUS="corrupt.xml", VOCAB_FILE=vocab, OUTPUT_DIR="out",
             **TINY_PRETRAINING)
  assert proc.returncode != 0
  assert "error: pretrain.sh: step 'prepare corpus' failed" in proc.stderr, proc.stderr
  assert "corrupt.xml" in proc.stderr  # the end of prepare_corpus's log names the file
  assert len(headers(proc.stdout)) == 1
  assert os.path.isfile(str(tmp_path / "out" / "logs" / "1-prepare_corpus.log"))


def test_pretrain_stops_at_a_failing_shard_and_keeps_the_others(tmp_path, vocab):
  (tmp_path / "good.txt").write_text("The gene BRCA1 repairs DNA.\nIt acts in human cells.\n\n"
                                     "Aspirin reduces fever.\nIt is an old drug.\n")
  (tmp_path / "bad.txt").write_bytes(b"Caf\xe9 in Latin-1, not UTF-8.\n\nAnother document.\n")
  proc = run("pretrain.sh", cwd=str(tmp_path), CORPUS_TEXT="good.txt,bad.txt", VOCAB_FILE=vocab,
             OUTPUT_DIR="out", **TINY_PRETRAINING)
  assert proc.returncode != 0
  assert "error: pretrain.sh: step 'pre-training data, phase1, bad.txt' failed" in proc.stderr, proc.stderr
  assert "skipped: CORPUS_TEXT gives 2 text shard(s)" in proc.stdout
  assert len(headers(proc.stdout)) == 2  # stopped at phase 1's data
  assert os.listdir(str(tmp_path / "out" / "data" / "phase1")) == ["good.tfrecord"]  # finished and kept
  assert not (tmp_path / "out" / "data" / "phase2").exists()


# ----------------------------------------------------------------------------------------------------------------
# End to end: pre-training, release, QA.


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, vocab):
  """pretrain.sh from scratch on the built-in PubMed sample, run from its output's parent folder: (out, proc)."""
  root = tmp_path_factory.mktemp("pretrain")
  proc = run("pretrain.sh", cwd=str(root), CORPUS=PUBMED_SAMPLE, VOCAB_FILE=vocab, OUTPUT_DIR="out",
             **TINY_PRETRAINING)
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  return root / "out", proc


def test_pretrain_runs_both_phases(pretrained):
  out, proc = pretrained
  lines = proc.stdout.splitlines()
  assert [line[:6] for line in headers(proc.stdout)] == ["[%d/5] " % k for k in range(1, 6)]
  for k, line in enumerate(lines):
    if line in headers(proc.stdout):
      assert lines[k + 1].startswith("      ") and "skipped" not in lines[k + 1], lines[k + 1]
  assert "INFO" not in proc.stdout and len(lines) < 16, proc.stdout
  shards = sorted(os.listdir(str(out / "corpus")))
  assert shards[-1] == "corpus-summary.json" and len(shards) >= 3  # several shards, made in parallel
  for phase in ("phase1", "phase2"):
    assert sorted(os.listdir(str(out / "data" / phase))) == [s.replace(".txt", ".tfrecord") for s in shards[:-1]]
  assert (out / "phase1" / ("model.ckpt-%d.index" % PHASE1_STEPS)).is_file()
  assert (out / "phase2" / ("model.ckpt-%d.index" % PHASE2_STEPS)).is_file()
  for phase in ("phase1", "phase2"):
    assert (out / phase / "vocab.txt").is_file() and (out / phase / "bert_config.json").is_file()
    assert "masked_lm_accuracy = " in (out / phase / "eval_results.txt").read_text()
  # Phase 2 starts from phase 1's last checkpoint, at its own sequence length.
  log = (out / "logs" / "phase2-run_pretraining.log").read_text()
  assert "Restoring parameters from %s" % (out / "phase1" / ("model.ckpt-%d" % PHASE1_STEPS)) in log
  assert "shape = (8, 64)" in log
  assert "phase 1: %d steps at 32 tokens, from scratch" % PHASE1_STEPS in proc.stdout
  assert "pre-trained model: %s" % (out / "phase2" / ("model.ckpt-%d" % PHASE2_STEPS)) in proc.stdout


def test_pretrain_rerun_skips_what_is_done(pretrained):
  out, _ = pretrained
  before = {name: os.path.getmtime(str(out / "phase2" / name)) for name in os.listdir(str(out / "phase2"))}
  proc = run("pretrain.sh", cwd=str(out.parent), CORPUS=PUBMED_SAMPLE, VOCAB_FILE=str(out / "phase1" / "vocab.txt"),
             OUTPUT_DIR="out", **TINY_PRETRAINING)
  assert proc.returncode == 0, proc.stderr[-3000:]
  summaries = [line.strip() for line in proc.stdout.splitlines() if line.startswith("      ")]
  assert len(summaries) == 5 and all(s.startswith("skipped: done already") for s in summaries), proc.stdout
  assert {name: os.path.getmtime(str(out / "phase2" / name)) for name in os.listdir(str(out / "phase2"))} == before


def test_release_strips_and_converts_with_a_model_card(pretrained, tmp_path):
  out, _ = pretrained
  proc = run("release.sh", cwd=str(tmp_path), BIOBERT_DIR=str(out / "phase2"), OUTPUT_DIR="rel",
             MODEL_NAME="tiny-biobert")
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  assert len(headers(proc.stdout)) == 3
  tf1, hf = tmp_path / "rel" / "tiny-biobert", tmp_path / "rel" / "tiny-biobert-hf"
  for name in ("model.ckpt-%d.index" % PHASE2_STEPS, "vocab.txt", "bert_config.json", "SHA256SUMS"):
    assert (tf1 / name).is_file(), name
  for name in ("config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "SHA256SUMS", "README.md"):
    assert (hf / name).is_file(), name
  # Stripped: no optimizer slots, so well under the training checkpoint's size.
  assert (os.path.getsize(str(tf1 / ("model.ckpt-%d.data-00000-of-00001" % PHASE2_STEPS))) <
          0.5 * os.path.getsize(str(out / "phase2" / ("model.ckpt-%d.data-00000-of-00001" % PHASE2_STEPS))))
  assert json.loads((hf / "config.json").read_text())["architectures"] == ["BertForPreTraining"]
  card = (hf / "README.md").read_text()
  front, body = card.split("\n---\n", 1)
  assert front.startswith("---\nlanguage: en\nlicense: ") and "tags:\n- bert" in front
  assert "# tiny-biobert" in body
  assert "2 layers, hidden size 128, 2 attention heads" in body
  assert "2048 WordPiece tokens" in body and "uncased (do_lower_case=true)" in body
  assert "`model.ckpt-%d` (folder `phase2`), global step %d" % (PHASE2_STEPS, PHASE2_STEPS) in body
  for section in ("## Training data", "## Training procedure", "## Evaluation"):
    assert section in body
  # A second run refuses to overwrite, unless asked.
  proc = run("release.sh", cwd=str(tmp_path), BIOBERT_DIR=str(out / "phase2"), OUTPUT_DIR="rel",
             MODEL_NAME="tiny-biobert")
  assert proc.returncode == 2 and "exists already" in proc.stderr


def test_qa_fine_tunes_predicts_and_scores(pretrained, tmp_path):
  out, _ = pretrained
  with open(QA_FIXTURE, encoding="utf-8") as f:
    data = json.load(f)
  golden = {}
  for d in data["data"]:
    for p in d["paragraphs"]:
      for qa in p["qas"]:
        golden.setdefault(qa["id"][:24], {"id": qa["id"][:24], "type": "factoid",
                                          "exact_answer": [[qa["answers"][0]["text"]]]})
  (tmp_path / "golden.json").write_text(json.dumps({"questions": list(golden.values())}))
  proc = run("qa.sh", cwd=str(tmp_path), BIOBERT_DIR=str(out / "phase2"), TRAIN_FILE=QA_FIXTURE,
             PREDICT_FILE=QA_FIXTURE, GOLDEN_FILE="golden.json", OUTPUT_DIR="qa", MAX_SEQ_LENGTH="96",
             DOC_STRIDE="32", MAX_QUERY_LENGTH="24", TRAIN_BATCH_SIZE="16", NUM_TRAIN_EPOCHS="1",
             LEARNING_RATE="1e-3", PREDICT_BATCH_SIZE="32")
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  assert len(headers(proc.stdout)) == 3
  match = re.search(r"^factoid: strict accuracy (\S+), lenient accuracy (\S+), MRR (\S+) \(bioasq_eval\.py",
                    proc.stdout, re.MULTILINE)
  assert match, proc.stdout
  strict, lenient, mrr = (float(x) for x in match.groups())
  assert 0.0 <= strict <= mrr <= lenient <= 1.0
  measures = (tmp_path / "qa" / "bioasq_eval.txt").read_text().split()
  assert len(measures) == 10 and [float(x) for x in measures[1:4]] == [strict, lenient, mrr]
  for name in ("nbest_predictions.json", "BioASQform_BioASQ-answer.json", "logs/1-run_qa.log"):
    assert (tmp_path / "qa" / name).is_file(), name
