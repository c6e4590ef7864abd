"""scripts/reproduce_paper.sh and scripts/paper_results.py: the data set list, quick subsets, the results table
(Markdown, CSV, PNG), and one quick end-to-end run on real NER and RE data with a tiny BERT."""

import csv
import json
import os
import subprocess
import sys

import pytest

import modeling
import tokenization
from test_run_pretraining import ROOT, make_init_checkpoint

SCRIPT = os.path.join(ROOT, "scripts", "reproduce_paper.sh")
TABLE = os.path.join(ROOT, "scripts", "paper_results.py")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _paper_results(*args, env=None):
  return subprocess.run([sys.executable, TABLE] + list(args), capture_output=True, text=True, cwd=ROOT,
                        env=dict(os.environ, **(env or {})), timeout=120)


def _write(path, text):
  os.makedirs(os.path.dirname(str(path)), exist_ok=True)
  with open(str(path), "w", encoding="utf-8") as f:
    f.write(text)


def test_list_is_the_papers_tables_in_order_and_unknown_names_are_refused():
  run = _paper_results("list")
  assert run.returncode == 0, run.stderr
  rows = [line.split("\t") for line in run.stdout.splitlines()]
  assert [r[0] for r in rows][:2] == ["NCBI-disease", "i2b2-2010"] and len(rows) == 15
  assert ["GAD", "re", "RE/GAD", "gad"] in rows and ["BioASQ-6b", "qa", "QA/BioASQ", "6b"] in rows
  # Case-insensitive, paper order whatever the order asked.
  run = _paper_results("list", "--datasets=gad,ncbi-disease")
  assert [line.split("\t")[0] for line in run.stdout.splitlines()] == ["NCBI-disease", "GAD"]
  run = _paper_results("list", "--datasets=NCBI,GAD")
  assert run.returncode == 2 and run.stderr.count("\n") == 1 and "unknown data set(s) ncbi" in run.stderr


def test_quick_subsets_keep_whole_sentences_and_the_test_header(tmp_path):
  ner = tmp_path / "ner"
  for name in ("train_dev.tsv", "devel.tsv", "test.tsv"):
    _write(ner / name, "".join("w%d\tO\nx\tB\n\n" % i for i in range(5)))
  assert _paper_results("subset", "--task=ner", "--src=%s" % ner, "--dst=%s" % (tmp_path / "n2"),
                        "--size=2").returncode == 0
  assert (tmp_path / "n2" / "test.tsv").read_text() == "w0\tO\nx\tB\n\nw1\tO\nx\tB\n\n"
  re_dir = tmp_path / "re"
  _write(re_dir / "1" / "train.tsv", "".join("s%d\t0\n" % i for i in range(5)))
  _write(re_dir / "1" / "test.tsv", "index\tsentence\tlabel\n" + "".join("%d\ts\t1\n" % i for i in range(5)))
  assert _paper_results("subset", "--task=re", "--src=%s" % re_dir, "--dst=%s" % (tmp_path / "r2"),
                        "--size=3").returncode == 0
  # Spread over the file, which BioBERT sorts by label.
  assert (tmp_path / "r2" / "1" / "train.tsv").read_text() == "s0\t0\ns1\t0\ns3\t0\n"
  assert (tmp_path / "r2" / "1" / "test.tsv").read_text().splitlines()[0] == "index\tsentence\tlabel"
  assert len((tmp_path / "r2" / "1" / "test.tsv").read_text().splitlines()) == 4
  # A folder without its files: one line naming the file, nothing written.
  run = _paper_results("subset", "--task=ner", "--src=%s" % (tmp_path / "r2"), "--dst=%s" % (tmp_path / "bad"),
                       "--size=3")
  assert run.returncode == 2 and "train_dev.tsv: no such file" in run.stderr and not (tmp_path / "bad").exists()


def _fake_results(results):
  _write(results / "NCBI-disease" / "result.json", json.dumps(
      {"id": "NCBI-disease", "status": "done", "numbers": {"precision": 80.0, "recall": 90.0, "f1": 84.71}}))
  _write(results / "ChemProt" / "result.json", json.dumps(
      {"id": "ChemProt", "status": "not available", "reason": "no RE/ChemProt/1/train.tsv in DATA_DIR"}))


def test_table_puts_the_papers_numbers_beside_the_obtained_ones(tmp_path):
  _fake_results(tmp_path)
  run = _paper_results("table", "--results_dir=%s" % tmp_path)
  assert run.returncode == 0, run.stderr
  md = (tmp_path / "results.md").read_text()
  assert "| 6 | NCBI-disease | F1 | 89.71 | 84.71 | -5.00 | done |" in md
  assert "| 7 | ChemProt | F1 | 76.46 |  |  | not available: no RE/ChemProt/1/train.tsv in DATA_DIR |" in md
  assert "| 8 | BioASQ-4b | MRR | 34.72 |  |  | not run |" in md
  with open(str(tmp_path / "results.csv"), newline="") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 15 and rows[0]["obtained"] == "84.71" and rows[0]["difference"] == "-5.00"


def test_without_matplotlib_the_chart_is_skipped_with_a_message(tmp_path):
  _fake_results(tmp_path)
  blocker = tmp_path / "block"
  _write(blocker / "matplotlib" / "__init__.py", "raise ImportError('blocked for the test')\n")
  run = _paper_results("table", "--results_dir=%s" % tmp_path, env={"PYTHONPATH": str(blocker)})
  assert run.returncode == 0, run.stderr
  assert "chart: skipped (matplotlib is not installed" in run.stdout and not (tmp_path / "results.png").exists()


def test_with_matplotlib_the_chart_is_a_png(tmp_path):
  pytest.importorskip("matplotlib")
  _fake_results(tmp_path)
  run = _paper_results("table", "--results_dir=%s" % tmp_path, "--quick")
  assert run.returncode == 0, run.stderr
  with open(str(tmp_path / "results.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  assert "not comparable" in (tmp_path / "results.md").read_text()


def _tiny_model(folder, texts):
  """A cased vocabulary of the words in `texts`, a 2-layer BERT config and a random initial checkpoint."""
  basic = tokenization.BasicTokenizer(do_lower_case=False)
  words = set()
  for text in texts:
    words.update(basic.tokenize(text))
  vocab = SPECIALS + sorted(words)
  _write(folder / "vocab.txt", "\n".join(vocab) + "\n")
  config = {"vocab_size": len(vocab), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 128, "type_vocab_size": 2,
            "initializer_range": 0.02}
  _write(folder / "bert_config.json", json.dumps(config))
  make_init_checkpoint(str(folder), modeling.BertConfig.from_dict(config))


def _head(path, lines):
  with open(path, encoding="utf-8") as f:
    return "".join(f.readline() for _ in range(lines))


def test_quick_run_on_real_ner_and_re_data(shared_data, tmp_path):
  ncbi = os.path.join(shared_data, "NER", "NCBI-disease")
  gad = os.path.join(shared_data, "RE", "GAD")
  if not (os.path.isfile(os.path.join(ncbi, "train_dev.tsv")) and os.path.isdir(os.path.join(gad, "1"))):
    pytest.skip("NCBI-disease or GAD is absent from ../shared/data")
  data = tmp_path / "datasets"
  os.makedirs(str(data / "NER"))
  os.makedirs(str(data / "RE"))
  os.symlink(ncbi, str(data / "NER" / "NCBI-disease"))
  os.symlink(gad, str(data / "RE" / "GAD"))
  texts = [_head(os.path.join(ncbi, n), 400) for n in ("train_dev.tsv", "devel.tsv", "test.tsv")]
  texts += [_head(os.path.join(gad, "1", n), 20) for n in ("train.tsv", "test.tsv")]
  _tiny_model(tmp_path / "model", texts)
  out = tmp_path / "results"
  env = dict(os.environ, BIOBERT_DIR=str(tmp_path / "model"), DATA_DIR=str(data), OUTPUT_DIR=str(out),
             QUICK_SIZE="16", TRAIN_BATCH_SIZE="8", MAX_SEQ_LENGTH="64", PYTHON=sys.executable, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
  command = ["bash", SCRIPT, "--quick", "--datasets=NCBI-disease,GAD,ChemProt"]
  run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=str(tmp_path))
  assert run.returncode == 0, run.stdout + run.stderr
  md = (out / "results.md").read_text()
  ncbi_row = [line for line in md.splitlines() if "| NCBI-disease |" in line][0]
  assert ncbi_row.endswith("| done |") and "| 89.71 |" in ncbi_row
  assert [line for line in md.splitlines() if "| GAD |" in line][0].endswith("| done |")
  assert "| ChemProt | F1 | 76.46 |  |  | not available: no RE/ChemProt/1/train.tsv in DATA_DIR |" in md
  result = json.loads((out / "NCBI-disease" / "result.json").read_text())
  assert result["quick"] is True and 0.0 <= result["numbers"]["f1"] <= 100.0
  assert (out / "NCBI-disease" / "run" / "conlleval.txt").is_file()
  assert (out / "GAD" / "run" / "1" / "test_results.tsv").is_file()

  # Done data sets are not rerun, missing ones are looked for again; a full run refuses the quick run's folder.
  rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
  assert rerun.returncode == 0 and rerun.stdout.count("done already") == 2, rerun.stdout + rerun.stderr
  assert "not available: no RE/ChemProt/1/train.tsv" in rerun.stdout  # looked for again
  full = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
  assert full.returncode == 2 and "holds a quick run's results" in full.stderr


def test_bad_input_names_the_variable_or_folder(tmp_path):
  env = dict(os.environ, BIOBERT_DIR="", DATA_DIR=str(tmp_path))
  run = subprocess.run(["bash", SCRIPT, "--quick"], env=env, capture_output=True, text=True, timeout=60)
  assert run.returncode == 2 and "set BIOBERT_DIR" in run.stderr
  model = tmp_path / "model"
  _write(model / "vocab.txt", "[PAD]\n")
  env = dict(env, BIOBERT_DIR=str(model))
  run = subprocess.run(["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
  assert run.returncode == 2 and "BIOBERT_DIR=%s has no bert_config.json" % model in run.stderr
  run = subprocess.run(["bash", SCRIPT, "--fast"], env=env, capture_output=True, text=True, timeout=60)
  assert run.returncode == 2 and "unknown argument --fast" in run.stderr
  run = subprocess.run(["bash", SCRIPT, "--help"], capture_output=True, text=True, timeout=60)
  assert run.returncode == 0 and "--quick" in run.stdout and "DATA_DIR" in run.stdout


def test_bioasq_numbers_are_the_mean_over_batches_of_the_evaluators_fields_2_to_4(tmp_path):
  run = tmp_path / "run"
  _write(run / "batch1" / "bioasq_eval.txt", "0.0 0.3 0.5 0.4 0.0 0.0 0.0 0.0 0.0 0.0\n")
  _write(run / "batch2" / "bioasq_eval.txt", "0.0 0.1 0.3 0.2 0.0 0.0 0.0 0.0 0.0 0.0\n")
  out = tmp_path / "BioASQ-4b" / "result.json"
  done = _paper_results("record", "--id=BioASQ-4b", "--run_dir=%s" % run, "--output=%s" % out)
  assert done.returncode == 0, done.stderr
  numbers = json.loads(out.read_text())["numbers"]
  assert numbers["batches"] == 2 and numbers["strict"] == pytest.approx(20.0)
  assert numbers["lenient"] == pytest.approx(40.0) and numbers["mrr"] == pytest.approx(30.0)
  _write(run / "batch3" / "bioasq_eval.txt", "0.1 0.2\n")
  bad = _paper_results("record", "--id=BioASQ-4b", "--run_dir=%s" % run, "--output=%s" % out)
  assert bad.returncode == 2 and "expected the evaluator's 10 numbers, found 2" in bad.stderr


def test_a_ner_set_without_train_dev_keeps_its_train_file(tmp_path):
  # scripts/ner.sh joins train.tsv and devel.tsv (tests/test_workflow_scripts.py).
  src = tmp_path / "JNLPBA"
  _write(src / "train.tsv", "a\tB\nb\tI\n\n")
  _write(src / "devel.tsv", "c\tO\n\n")
  _write(src / "test.tsv", "d\tO\n\n")
  assert _paper_results("subset", "--task=ner", "--src=%s" % src, "--dst=%s" % (tmp_path / "q"),
                        "--size=5").returncode == 0
  assert sorted(os.listdir(str(tmp_path / "q"))) == ["devel.tsv", "test.tsv", "train.tsv"]
  assert (tmp_path / "q" / "train.tsv").read_text() == "a\tB\nb\tI\n\n"
