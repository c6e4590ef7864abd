"""Tests of run_re.py, biocodes/re_eval.py, biocodes/re_kfold_summary.py and scripts/re_kfold.sh.

  * units: the tasks and their label orders, BioBERT's TSV layouts read with literal quotes, one-line errors
    naming the file and line, the `[CLS] a [SEP] (b [SEP])` features and their truncation;
  * re_eval: hand-computed numbers (binary, chemprot, ddi13, one-class sets, ties), scikit-learn's numbers
    where it is installed, the printed lines, the command's errors;
  * end to end on a slice of GAD fold 1 with a tiny BERT (the CLI): train, eval (on a dev.tsv made here) and
    predict write the original's files; eval_precision/recall/f1 are re_eval's numbers on the same examples;
    a predict-only run from the fine-tuned checkpoint writes the same test_results.tsv; a checkpoint without
    the classifier, --do_eval without a dev.tsv, and bad rows are one-line errors;
  * the k-fold summary on fake fold outputs, and re_kfold.sh's fold loop and skip-if-done logic with a stub
    interpreter (and shellcheck where it is installed).
"""

import csv
import json
import os
import random
import shutil
import statistics
import subprocess
import sys

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

import errors
import finetuning
import modeling
import run_re
import runtime
import tokenization
from biocodes import re_eval
from biocodes import re_kfold_summary
from test_run_pretraining import ROOT, make_init_checkpoint, read_checkpoint, run_script

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _write(path, text):
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(text, encoding="utf-8")
  return str(path)


# ----------------------------------------------------------------------------------------------------------------
# Tasks, files, features.


def test_tasks_and_label_orders():
  expected = {
      "gad": ["0", "1"], "euadr": ["0", "1"], "polysearch": ["0", "1"], "mirnadisease": ["0", "1"],
      "chemprot": ["cpr:3", "cpr:4", "cpr:5", "cpr:6", "cpr:9", "false"],
      "ddi13": ["advise", "effect", "mechanism", "int", "false"],
      "cola": ["0", "1"], "mrpc": ["0", "1"],
      "mnli": ["contradiction", "entailment", "neutral"], "xnli": ["contradiction", "entailment", "neutral"]}
  assert sorted(run_re.PROCESSORS) == sorted(expected)
  for name, labels in expected.items():
    assert run_re.get_processor(name.upper()).get_labels() == labels, name
  # The labels re_eval scores are the ones run_re's eval_precision/recall/f1 score.
  for name, task in (("gad", "binary"), ("chemprot", "chemprot"), ("ddi13", "ddi13")):
    processor = run_re.get_processor(name)
    assert tuple(processor.get_labels()) == re_eval.TASKS[task][0]
    assert tuple(processor.scored_labels) == re_eval.TASKS[task][1]
  with pytest.raises(errors.UserError, match="Task not found: i2b2"):
    run_re.get_processor("i2b2")


def test_flags_and_defaults_are_the_originals():
  fv = flags.FlagValues()
  run_re.define_flags(fv)
  fv(["run_re.py"])
  expected = {"data_dir": None, "bert_config_file": None, "task_name": None, "vocab_file": None, "output_dir": None,
              "init_checkpoint": None, "do_lower_case": True, "max_seq_length": 128, "do_train": False,
              "do_eval": False, "do_predict": False, "train_batch_size": 32, "eval_batch_size": 8,
              "predict_batch_size": 8, "learning_rate": 5e-5, "num_train_epochs": 3.0, "warmup_proportion": 0.1,
              "save_checkpoints_steps": 1000, "iterations_per_loop": 1000, "use_tpu": False, "tpu_name": None,
              "tpu_zone": None, "gcp_project": None, "master": None, "num_tpu_cores": 8}
  assert {name: getattr(fv, name) for name in expected} == expected


def test_biobert_layouts_quotes_literal(tmp_path):
  data = tmp_path / "data"
  # A sentence starting with a quote, and a quoted tab: QUOTE_NONE keeps quotes as characters and splits at
  # every tab, as the original's quotechar=None did. Blank lines are skipped.
  _write(data / "train.tsv", '"rare" alleles of @GENE$ and @DISEASE$.\t1\n\nthe "S" promoter of @GENE$.\t0\n')
  _write(data / "test.tsv", 'index\tsentence\tlabel\n0\t"rare" @GENE$ in @DISEASE$ "\t1\n1\tno @GENE$\t0\n')
  gad = run_re.get_processor("gad")
  train = gad.get_train_examples(str(data))
  assert [(e.text_a, e.text_b, e.label, e.line) for e in train] == [
      ('"rare" alleles of @GENE$ and @DISEASE$.', None, "1", 1), ('the "S" promoter of @GENE$.', None, "0", 3)]
  assert [e.guid for e in train] == ["train-0", "train-1"]
  test = gad.get_test_examples(str(data))
  # The header is skipped; test labels are not read (the original gives every test example "0").
  assert [(e.text_a, e.label, e.guid) for e in test] == [('"rare" @GENE$ in @DISEASE$ "', "0", "test-1"),
                                                          ("no @GENE$", "0", "test-2")]
  _write(data / "test.tsv", "index\tsentence\tlabel\n0\ta @GENE$\tcpr:4\n")
  assert [e.label for e in run_re.get_processor("chemprot").get_test_examples(str(data))] == ["false"]
  assert [e.label for e in run_re.get_processor("ddi13").get_test_examples(str(data))] == ["false"]


def test_bad_rows_name_file_and_line(tmp_path):
  data = tmp_path / "data"
  chemprot = run_re.get_processor("chemprot")
  path = _write(data / "train.tsv", "a @CHEMICAL$ and @GENE$\tcpr:4\nb @CHEMICAL$ @GENE$\tCPR:3\n")
  with pytest.raises(errors.UserError) as e:
    chemprot.get_train_examples(str(data))
  assert str(e.value) == ("train file %s: line 2: label 'CPR:3' is not one of --task_name=chemprot's labels "
                          "(cpr:3, cpr:4, cpr:5, cpr:6, cpr:9, false); chemprot's labels are lower case" % path)
  path = _write(data / "train.tsv", "fine\t1\nno label here\n")
  with pytest.raises(errors.UserError) as e:
    run_re.get_processor("gad").get_train_examples(str(data))
  assert str(e.value) == ("train file %s: line 2: 1 column(s), expected at least 2 (text in column 1, label in "
                          "column 2)" % path)
  path = _write(data / "test.tsv", "0\ta @GENE$ b\t1\n1\tc @DISEASE$\t0\n")
  with pytest.raises(errors.UserError) as e:
    run_re.get_processor("gad").get_test_examples(str(data))
  assert str(e.value) == ("test file %s: line 1: a data row where the header should be; this file starts with a "
                          "header row (BioBERT's test.tsv: index<TAB>sentence<TAB>label)" % path)
  _write(data / "test.tsv", "index\tsentence\tlabel\n")
  with pytest.raises(errors.UserError, match="test file .*test.tsv: holds no example"):
    run_re.get_processor("gad").get_test_examples(str(data))
  with pytest.raises(errors.UserError, match="there is no dev file dev.tsv .*GAD and EU-ADR folds"):
    run_re.get_processor("gad").get_examples(str(data), "dev", needed_by="--do_eval")
  with pytest.raises(errors.UserError, match="--task_name=xnli has no test set"):
    run_re.get_processor("xnli").get_examples(str(data), "test", needed_by="--do_predict")


def test_glue_pair_layouts(tmp_path):
  data = tmp_path / "mrpc"
  _write(data / "train.tsv", "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t7\t8\tHe said so .\tHe did say so .\n")
  example, = run_re.get_processor("mrpc").get_train_examples(str(data))
  assert (example.text_a, example.text_b, example.label, example.guid) == (
      "He said so .", "He did say so .", "1", "train-1")
  xnli = tmp_path / "xnli"
  _write(xnli / "multinli" / "multinli.train.zh.tsv", "premise\thypo\tlabel\n甲\t乙\tcontradictory\n")
  _write(xnli / "xnli.dev.tsv", "language\tgold_label\t2\t3\t4\t5\tsentence1\tsentence2\n"
         "en\tneutral\t\t\t\t\ta\tb\nzh\tentailment\t\t\t\t\t丙\t丁\n")
  processor = run_re.get_processor("xnli")
  assert [(e.text_a, e.text_b, e.label) for e in processor.get_train_examples(str(xnli))] == [
      ("甲", "乙", "contradiction")]
  assert [(e.text_a, e.label) for e in processor.get_dev_examples(str(xnli))] == [("丙", "entailment")]


def test_features_single_and_pair_with_the_original_truncation(tmp_path):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("\n".join(SPECIALS + ["@", "GENE", "$", "binds", "DISEASE", "a", "b", "c", "d", "e"]) + "\n")
  tokenizer = tokenization.FullTokenizer(str(vocab), do_lower_case=False)
  single = run_re.InputExample("train-0", "@GENE$ binds @DISEASE$", None, "1", "train.tsv", 1)
  feature, = run_re.convert_examples([single], ["0", "1"], 8, tokenizer)
  ids = tokenizer.convert_tokens_to_ids(["[CLS]", "@", "GENE", "$", "binds", "@", "DISEASE", "[SEP]"])
  assert feature["input_ids"] == ids and feature["input_mask"] == [1] * 8 and feature["segment_ids"] == [0] * 8
  assert feature["label_ids"] == [1] and feature["is_real_example"] == [1]
  # A single sentence keeps its first max_seq_length - 2 pieces.
  tokens, segments = run_re.example_tokens(list("abcdefgh"), [], 6)
  assert tokens == ["[CLS]", "a", "b", "c", "d", "[SEP]"] and segments == [0] * 6
  # A pair drops pieces from the end of the longer side (b on ties) until it fits with its 3 specials.
  tokens, segments = run_re.example_tokens(["a", "b", "c"], ["d", "e", "f", "g"], 8)
  assert tokens == ["[CLS]", "a", "b", "c", "[SEP]", "d", "e", "[SEP]"]
  assert segments == [0, 0, 0, 0, 0, 1, 1, 1]
  pair = run_re.InputExample("dev-0", "a b", "c d e", "0", "dev.tsv", 1)
  feature, = run_re.convert_examples([pair], ["0", "1"], 12, tokenizer)
  assert feature["segment_ids"] == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]
  assert feature["input_mask"] == [1] * 8 + [0] * 4


# ----------------------------------------------------------------------------------------------------------------
# re_eval.


def _answers(path, labels):
  _write(path, "index\tsentence\tlabel\n" + "".join("%d\ts %d\t%s\n" % (i, i, l) for i, l in enumerate(labels)))
  return str(path)


def _predictions(path, classes, num_labels):
  lines = []
  for c in classes:
    p = np.full(num_labels, 0.1 / max(num_labels - 1, 1), np.float32)
    p[c] = 0.9
    lines.append("\t".join(str(x) for x in p) + "\n")
  _write(path, "".join(lines))
  return str(path)


def _re_eval(*args):
  return subprocess.run([sys.executable, "biocodes/re_eval.py"] + list(args), cwd=ROOT, capture_output=True,
                        text=True, timeout=60)


def test_re_eval_binary_by_hand_and_printed_lines(tmp_path):
  gold = [1, 1, 1, 0, 0]
  predicted = [1, 0, 1, 1, 0]
  answers = _answers(tmp_path / "test.tsv", gold)
  output = _predictions(tmp_path / "test_results.tsv", predicted, 2)
  results = re_eval.evaluate(output, answers)
  # TP 2, FP 1, FN 1, TN 1.
  assert list(results.items()) == [("f1 score", 2 / 3), ("recall", 2 / 3), ("precision", 2 / 3),
                                   ("specificity", 0.5)]
  run = _re_eval("--output_path=" + output, "--answer_path=" + answers)
  assert run.returncode == 0, run.stderr
  assert run.stdout == "f1 score    : 66.67%\nrecall      : 66.67%\nprecision   : 66.67%\nspecificity : 50.00%\n"
  # The README's GAD numbers print in the same layout.
  assert re_eval.format_results({"f1 score": 0.83743, "recall": 0.907514}) == (
      "f1 score    : 83.74%\nrecall      : 90.75%\n")


def test_re_eval_multiclass_one_class_and_ties_by_hand(tmp_path):
  labels = list(re_eval.CHEMPROT_LABELS)
  gold = ["cpr:3", "cpr:4", "cpr:4", "false", "false", "cpr:9"]
  predicted = [0, 1, 5, 1, 5, 4]  # cpr:3 ok, cpr:4 ok, cpr:4 missed, false -> cpr:4, false ok, cpr:9 ok
  results = re_eval.evaluate(_predictions(tmp_path / "c.tsv", predicted, 6), _answers(tmp_path / "ct.tsv", gold),
                             "chemprot")
  # Over the five CPR classes: TP 3, predicted 4, gold 4 (cpr:5 and cpr:6 absent: still scored, as 0 counts).
  assert list(results.items()) == [("f1 score", 0.75), ("recall", 0.75), ("precision", 0.75)]
  assert labels == ["cpr:3", "cpr:4", "cpr:5", "cpr:6", "cpr:9", "false"]
  ddi = re_eval.scores([1, 1, 4, 4], [1, 4, 1, 4], "ddi13")
  assert list(ddi.values()) == [0.5, 0.5, 0.5]

  # One class only: rates that are undefined are 0 (the original raised IndexError here).
  assert list(re_eval.scores([1, 1], [1, 1], "binary").values()) == [1.0, 1.0, 1.0, 0.0]
  assert list(re_eval.scores([0, 0], [0, 0], "binary").values()) == [0.0, 0.0, 0.0, 1.0]
  assert list(re_eval.scores([1, 1], [0, 0], "binary").values()) == [0.0, 0.0, 0.0, 0.0]
  assert list(re_eval.scores([5, 5], [5, 5], "chemprot").values()) == [0.0, 0.0, 0.0]

  # Ties go to the first column, as numpy's argmax.
  _write(tmp_path / "tie.tsv", "0.5\t0.5\n0.25\t0.75\n")
  assert re_eval.read_predictions(str(tmp_path / "tie.tsv"), 2) == [0, 1]


def test_re_eval_equals_scikit_learn(tmp_path):
  """200 random prediction/answer file pairs per task, read from files as run_re writes and reads them."""
  metrics = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed (optional)")
  rng = random.Random(3)
  quoted = ['"@GENE$ is', "'@GENE$ and", '"" @DISEASE$', "@GENE$ \"in\" @DISEASE$", "plain @GENE$"]
  for task, labels, scored in (("binary", ["0", "1"], [1]),
                               ("chemprot", list(re_eval.CHEMPROT_LABELS), [0, 1, 2, 3, 4])):
    absent = {"predictions": 0, "answers": 0}
    for trial in range(200):
      n = rng.randint(1, 40)
      # Some trials draw from fewer classes, so that a class is absent from the answers or the predictions.
      gold_classes = rng.sample(range(len(labels)), rng.randint(1, len(labels)))
      predicted_classes = rng.sample(range(len(labels)), rng.randint(1, len(labels)))
      gold = [rng.choice(gold_classes) for _ in range(n)]
      predicted = [rng.choice(predicted_classes) for _ in range(n)]
      absent["answers"] += any(c not in gold for c in scored)
      absent["predictions"] += any(c not in predicted for c in scored)
      answers = tmp_path / ("%s-%d-test.tsv" % (task, trial))
      _write(answers, "index\tsentence\tlabel\n" + "".join(
          "%d\t%s %d\t%s\n" % (i, rng.choice(quoted), i, labels[g]) for i, g in enumerate(gold)))
      output = _predictions(tmp_path / ("%s-%d-results.tsv" % (task, trial)), predicted, len(labels))
      ours = re_eval.evaluate(output, str(answers), task)
      if task == "binary":
        p, r, f, _ = metrics.precision_recall_fscore_support(gold, predicted, labels=[0, 1], zero_division=0)
        expected = [f[1], r[1], p[1], r[0]]  # specificity: the recall of class 0
      else:
        p, r, f, _ = metrics.precision_recall_fscore_support(gold, predicted, labels=scored, average="micro",
                                                             zero_division=0)
        expected = [f, r, p]
      np.testing.assert_allclose(list(ours.values()), expected, rtol=0, atol=1e-12, err_msg="%s %d" % (task, trial))
    assert absent["answers"] > 20 and absent["predictions"] > 20, absent


def test_re_eval_errors_are_one_line(tmp_path):
  answers = _answers(tmp_path / "test.tsv", [0, 1, 1])
  output = _predictions(tmp_path / "test_results.tsv", [0, 1], 2)
  cases = [
      (["--task=multi"], "--task=multi: not a task; use binary, chemprot, ddi13"),
      ([], "has 2 line(s) but answer file %s has 3 example(s)" % answers),
      (["--task=chemprot"], "test.tsv: line 2: label '0' is not one of cpr:3, cpr:4, cpr:5, cpr:6, cpr:9, false"),
      (["--task=chemprot", "--answer_path=" + _answers(tmp_path / "cp.tsv", ["false", "cpr:3"])],
       "test_results.tsv: line 1: 2 value(s); expected 6 probabilities"),
  ]
  for extra, message in cases:
    run = _re_eval("--output_path=" + output, "--answer_path=" + answers, *extra)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: ") and message in run.stderr, run.stderr
  _write(tmp_path / "nolabel.tsv", "index\tsentence\n0\ta\n")
  run = _re_eval("--output_path=" + output, "--answer_path=" + str(tmp_path / "nolabel.tsv"))
  assert run.returncode == 2 and "line 1: no `label` column in the header" in run.stderr
  _write(tmp_path / "bad.tsv", "index\tsentence\tlabel\n0\ta\t1\n1\tb\tyes\n")
  run = _re_eval("--output_path=" + output, "--answer_path=" + str(tmp_path / "bad.tsv"))
  assert run.returncode == 2 and "bad.tsv: line 3: label 'yes' is not one of 0, 1" in run.stderr
  # A gold sentence that opens with a quote is one row, as run_re reads it (pandas merged such rows).
  _write(tmp_path / "quoted.tsv", 'index\tsentence\tlabel\n0\t"a\t1\n1\tb"\t1\n')
  assert len(re_eval.read_answers(str(tmp_path / "quoted.tsv"), re_eval.BINARY_LABELS)) == 2
  # re_eval imports neither TensorFlow nor pandas nor scikit-learn.
  probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'biocodes'); import re_eval, "
                          "re_kfold_summary; print(sorted(m for m in ('tensorflow', 'pandas', 'sklearn', 'numpy') "
                          "if m in sys.modules))"], cwd=ROOT, capture_output=True, text=True)
  assert probe.stdout.strip() == "[]", probe.stderr


# ----------------------------------------------------------------------------------------------------------------
# End to end on a slice of GAD fold 1.

TRAIN_ROWS = 64
DEV_ROWS = 23  # neither this nor TEST_ROWS is a multiple of the batch size (8)
TEST_ROWS = 41  # the first 21 and last 20 of test.tsv, which is sorted by label: both classes occur


@pytest.fixture(scope="module")
def gad(shared_data, tmp_path_factory):
  """A slice of GAD fold 1 (train, a dev.tsv made from other training rows, test), a cased vocabulary of its
  words, a tiny BERT config and an initial checkpoint."""
  source = os.path.join(shared_data, "RE", "GAD", "1")
  if not os.path.isfile(os.path.join(source, "train.tsv")):
    pytest.skip("GAD fold 1 is absent from ../shared/data/RE")
  root = tmp_path_factory.mktemp("re")
  with open(os.path.join(source, "train.tsv"), encoding="utf-8") as f:
    train = f.read().splitlines(True)
  with open(os.path.join(source, "test.tsv"), encoding="utf-8") as f:
    test = f.read().splitlines(True)
  data = root / "data"
  _write(data / "train.tsv", "".join(train[:TRAIN_ROWS]))
  _write(data / "dev.tsv", "".join(train[TRAIN_ROWS:TRAIN_ROWS + DEV_ROWS]))
  _write(data / "test.tsv", "".join([test[0]] + test[1:22] + test[-20:]))
  # The dev rows as a test set: predictions on them must score as the evaluation did.
  _write(root / "dev_as_test" / "test.tsv", "index\tsentence\tlabel\n" + "".join(
      "%d\t%s" % (i, row) for i, row in enumerate(train[TRAIN_ROWS:TRAIN_ROWS + DEV_ROWS])))
  basic = tokenization.BasicTokenizer(do_lower_case=False)
  words = set()
  for row in train[:TRAIN_ROWS + DEV_ROWS] + test[1:]:
    words.update(basic.tokenize(row))
  vocab = sorted(words)
  _write(root / "vocab.txt", "\n".join(SPECIALS + vocab) + "\n")
  config = {"vocab_size": len(SPECIALS) + len(vocab), "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
            "initializer_range": 0.02}
  _write(root / "bert_config.json", json.dumps(config))
  init = make_init_checkpoint(str(root / "init"), modeling.BertConfig.from_dict(config))
  return root, init, source


def _run_re(root, out, *extra, data=None, init=None, task="gad"):
  """run_re.py on the tiny BERT of `root` (the README's flags, scaled down); returns the CompletedProcess."""
  values = [("task_name", task), ("data_dir", data or root / "data"), ("vocab_file", root / "vocab.txt"),
            ("bert_config_file", root / "bert_config.json"), ("output_dir", out), ("do_lower_case", "false"),
            ("max_seq_length", 48), ("train_batch_size", 8), ("num_train_epochs", 2), ("learning_rate", 1e-3)]
  if init:
    values.append(("init_checkpoint", init))
  return run_script(["run_re.py"] + ["--%s=%s" % item for item in values] + list(extra), timeout=600)


def _read_results(path):
  with open(path) as f:
    return dict(line.rstrip("\n").split(" = ") for line in f)


@pytest.fixture(scope="module")
def trained(gad):
  root, init, _ = gad
  out = root / "out"
  result = _run_re(root, out, "--do_train=true", "--do_eval=true", "--do_predict=true", init=init)
  assert result.returncode == 0, result.stderr[-4000:]
  return root, out, result


def test_train_eval_predict_write_the_original_files(trained):
  root, out, result = trained
  files = set(os.listdir(str(out)))
  for name in ("train.tf_record", "eval.tf_record", "predict.tf_record", "eval_results.txt", "test_results.tsv"):
    assert name in files, name
  assert not [f for f in files if ".partial-" in f]
  results = _read_results(str(out / "eval_results.txt"))
  assert sorted(results) == ["eval_accuracy", "eval_f1", "eval_loss", "eval_precision", "eval_recall",
                             "global_step", "loss"]
  assert int(results["global_step"]) == int(TRAIN_ROWS / 8 * 2)
  lines = open(str(out / "test_results.tsv")).read().split("\n")
  assert lines[-1] == "" and len(lines) - 1 == TEST_ROWS
  for line in lines[:-1]:
    values = line.split("\t")
    assert len(values) == 2
    # Each value is the str() of a float32, as the original wrote them.
    assert [str(np.float32(v)) for v in values] == values
    assert abs(sum(float(v) for v in values) - 1.0) < 1e-5
  # The original's example log: the first five examples, with [CLS] and [SEP].
  assert result.stderr.count("*** Example ***") == 5 * 3
  assert "tokens: [CLS] " in result.stderr and "label: 1 (id = 1)" in result.stderr


def test_eval_scores_are_re_evals_and_predict_only_is_the_same(trained, gad):
  root, out, _ = trained
  _, init, _ = gad
  checkpoint = tf.train.latest_checkpoint(str(out))
  again = root / "predict_only"
  result = _run_re(root, again, "--do_predict=true", init=checkpoint)
  assert result.returncode == 0, result.stderr[-4000:]
  assert open(str(again / "test_results.tsv")).read() == open(str(out / "test_results.tsv")).read()

  # Predictions on the dev rows, scored by re_eval, are the evaluation's numbers.
  on_dev = root / "on_dev"
  result = _run_re(root, on_dev, "--do_predict=true", init=checkpoint, data=root / "dev_as_test")
  assert result.returncode == 0, result.stderr[-4000:]
  answers = str(root / "dev_as_test" / "test.tsv")
  scores = re_eval.evaluate(str(on_dev / "test_results.tsv"), answers)
  results = {k: float(v) for k, v in _read_results(str(out / "eval_results.txt")).items()}
  assert results["eval_precision"] == pytest.approx(scores["precision"], abs=1e-6)
  assert results["eval_recall"] == pytest.approx(scores["recall"], abs=1e-6)
  assert results["eval_f1"] == pytest.approx(scores["f1 score"], abs=1e-6)
  gold = [label for _, label in re_eval.read_answers(answers, re_eval.BINARY_LABELS)]
  predicted = re_eval.read_predictions(str(on_dev / "test_results.tsv"), 2)
  assert results["eval_accuracy"] == pytest.approx(np.mean(np.equal(gold, predicted)), abs=1e-6)

  # The pre-trained checkpoint has no classifier: a clear error, not a randomly initialised head.
  result = _run_re(root, root / "no_head", "--do_predict=true", init=init)
  assert result.returncode == 2
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: --init_checkpoint=") and "output_weights" in last
  assert "Traceback" not in result.stderr


def test_fine_tuned_model_predicts_the_same_in_transformers(trained):
  """convert_checkpoint.py --task=re turns the fine-tuned run into a BertForSequenceClassification that gives
  test_results.tsv's probabilities (the head's names and layout are Google's run_classifier's)."""
  torch = pytest.importorskip("torch", reason="torch is not installed (optional)")
  transformers = pytest.importorskip("transformers", reason="transformers is not installed (optional)")
  root, out, _ = trained
  hf = root / "hf"
  result = run_script(["convert_checkpoint.py", "tf_to_hf", "--task=re", "--output_dir=" + str(hf),
                       "--init_checkpoint=" + tf.train.latest_checkpoint(str(out)),
                       "--bert_config_file=" + str(root / "bert_config.json"),
                       "--vocab_file=" + str(root / "vocab.txt")])
  assert result.returncode == 0, result.stderr[-3000:]
  model = transformers.BertForSequenceClassification.from_pretrained(str(hf)).eval()
  tokenizer = tokenization.FullTokenizer(str(root / "vocab.txt"), do_lower_case=False)
  features = run_re.convert_examples(run_re.get_processor("gad").get_test_examples(str(root / "data")), ["0", "1"],
                                     48, tokenizer)
  inputs = {name: torch.tensor([f[key] for f in features]) for name, key in (
      ("input_ids", "input_ids"), ("attention_mask", "input_mask"), ("token_type_ids", "segment_ids"))}
  with torch.no_grad():
    theirs = model(**inputs).logits.softmax(-1).numpy()
  ours = np.loadtxt(str(out / "test_results.tsv"), delimiter="\t", dtype=np.float64)
  np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-5)


@pytest.mark.parametrize("task", ["chemprot", "ddi13"])
def test_multiclass_tasks_train_predict_and_evaluate(gad, tmp_path, task):
  """A small file in the task's documented format (sentence<TAB>label; test: index<TAB>sentence<TAB>label, a
  header) trains, evaluates and predicts; re_eval --task scores the predictions. 10 test rows at a predict batch
  of 8: one line per example, in input order, the last batch partial."""
  root, init, _ = gad
  labels = run_re.get_processor(task).labels
  entity = "@CHEMICAL$ binds @GENE$" if task == "chemprot" else "@DRUG$ with @DRUG$"
  rows = [("%s in case %d ." % (entity, i), labels[i % len(labels)]) for i in range(34)]
  data = tmp_path / task
  _write(data / "train.tsv", "".join("%s\t%s\n" % row for row in rows[:24]))
  _write(data / "dev.tsv", "".join("%s\t%s\n" % row for row in rows[24:]))
  _write(data / "test.tsv", "index\tsentence\tlabel\n" + "".join(
      "%d\t%s\t%s\n" % (i, sentence, label) for i, (sentence, label) in enumerate(rows[24:])))
  out = tmp_path / "out"
  result = _run_re(root, out, "--do_train=true", "--do_eval=true", "--do_predict=true", data=data, init=init,
                   task=task)
  assert result.returncode == 0, result.stderr[-3000:]
  predictions = open(str(out / "test_results.tsv")).read().splitlines()
  assert len(predictions) == 10 and all(len(line.split("\t")) == len(labels) for line in predictions)
  results = _read_results(str(out / "eval_results.txt"))
  assert {"eval_precision", "eval_recall", "eval_f1", "eval_accuracy"} <= set(results)
  scored = _re_eval("--output_path=%s" % (out / "test_results.tsv"), "--answer_path=%s" % (data / "test.tsv"),
                    "--task=%s" % task)
  assert scored.returncode == 0, scored.stderr
  assert [line.split(":")[0].strip() for line in scored.stdout.splitlines()] == ["f1 score", "recall", "precision"]
  # The dev rows were the test rows: evaluation's micro F1 is re_eval's on the predictions.
  f1 = float(scored.stdout.splitlines()[0].split(":")[1].strip().rstrip("%")) / 100
  assert float(results["eval_f1"]) == pytest.approx(f1, abs=1e-4)


def test_two_replicas_train_like_one_device(gad, tmp_path, monkeypatch):
  """The MEAN loss on 2 replicas (4 examples each) trains as on one device with the batch of 8 (batches cut to
  their longest sentence, as run_re trains)."""
  root, init, _ = gad
  # Without dropout: replicas draw their own masks (as they should), which would make the runs differ.
  monkeypatch.setattr(run_re, "HEAD_DROPOUT_PROB", 0.0)
  config = modeling.BertConfig.from_json_file(str(root / "bert_config.json"))
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
  processor = run_re.get_processor("gad")
  tokenizer = tokenization.FullTokenizer(str(root / "vocab.txt"), do_lower_case=False)
  spec = run_re.feature_spec(48)
  records = str(tmp_path / "train.tf_record")
  spec.write(records, run_re.convert_examples(processor.get_train_examples(str(root / "data")),
                                              processor.get_labels(), 48, tokenizer))
  runs = {}
  for name, devices in (("one", None), ("two", ["/cpu:0", "/cpu:1"])):
    losses = []
    runner = runtime.Runner(run_re.model_fn_builder(config, processor, 1e-3, 6, 1),
                            runtime.RunConfig(str(tmp_path / name), save_checkpoints_steps=None, progress_bar=False,
                                              devices=devices), train_batch_size=8)
    runner.train(finetuning.input_fn_builder(records, spec, True, True, trim_padding=True), max_steps=6,
                 init_checkpoint=init, on_step=lambda step, loss, into=losses: into.append(loss))
    runs[name] = (np.array(losses), read_checkpoint(tf.train.latest_checkpoint(str(tmp_path / name))))
  (one_losses, one), (two_losses, two) = runs["one"], runs["two"]
  np.testing.assert_allclose(two_losses, one_losses, rtol=1e-5, atol=1e-5)
  assert 0.3 < one_losses[0] < 1.5  # a mean over the batch (about ln 2 at the start), not a sum
  assert sorted(one) == sorted(two)
  for name in one:
    np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-5, err_msg=name)


def _fails(result, message):
  assert result.returncode == 2, result.stderr[-3000:]
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith("error: ") and message in lines[-1], lines[-1]
  assert "Traceback" not in result.stderr


def test_eval_without_dev_and_bad_rows_are_one_line_errors(gad, tmp_path):
  root, init, source = gad
  # The real GAD fold: no dev.tsv. Said before anything is trained.
  out = tmp_path / "no_dev"
  result = _run_re(root, out, "--do_train=true", "--do_eval=true", "--do_predict=true", init=init, data=source)
  _fails(result, "--data_dir=%s: there is no dev file dev.tsv (needed by --do_eval)" % source)
  assert not os.path.exists(str(out / "train.tf_record"))

  data = tmp_path / "chemprot"
  _write(data / "train.tsv", "@CHEMICAL$ inhibits @GENE$ .\tcpr:4\n@CHEMICAL$ and @GENE$ .\tCPR:9\n")
  _fails(_run_re(root, tmp_path / "out", "--do_train=true", data=data, task="chemprot"),
         "train file %s: line 2: label 'CPR:9' is not one of --task_name=chemprot's labels" % (data / "train.tsv"))
  _write(data / "test.tsv", "index\tsentence\tlabel\n0\t@CHEMICAL$ and @GENE$ .\tfalse\n1\n")
  _fails(_run_re(root, tmp_path / "out", "--do_predict=true", data=data, task="chemprot", init=init),
         "test file %s: line 3: 1 column(s), expected at least 2" % (data / "test.tsv"))


# ----------------------------------------------------------------------------------------------------------------
# k-fold.


def _fake_folds(tmp_path, folds=("1", "2", "3"), seed=0):
  """RE_DIR with fold folders (train.tsv, test.tsv) and OUTPUT_DIR with each fold's test_results.tsv."""
  rng = random.Random(seed)
  data, out = tmp_path / "GAD", tmp_path / "out"
  for fold in folds:
    n = 30 + int(fold)
    gold = [rng.randint(0, 1) for _ in range(n)]
    _answers(data / fold / "test.tsv", gold)
    _write(data / fold / "train.tsv", "a @GENE$ b @DISEASE$\t1\n")
    _predictions(out / fold / "test_results.tsv", [g if rng.random() < 0.8 else 1 - g for g in gold], 2)
  return data, out


def test_kfold_summary_on_fake_folds(tmp_path):
  data, out = _fake_folds(tmp_path)
  per_fold = [re_eval.evaluate(str(out / f / "test_results.tsv"), str(data / f / "test.tsv")) for f in "123"]
  run = subprocess.run([sys.executable, "biocodes/re_kfold_summary.py", "--output_dir=" + str(out),
                        "--data_dir=" + str(data)], cwd=ROOT, capture_output=True, text=True, timeout=60)
  assert run.returncode == 0, run.stderr
  lines = run.stdout.splitlines()
  assert lines[0] == "| GAD (3 folds) | Precision | Recall | F1 |" and lines[1] == "|---|---:|---:|---:|"
  for fold, results, line in zip("123", per_fold, lines[2:5]):
    assert line == "| fold %s | %.2f | %.2f | %.2f |" % (fold, 100 * results["precision"], 100 * results["recall"],
                                                       100 * results["f1 score"])
  f1 = [100 * r["f1 score"] for r in per_fold]
  assert lines[5].startswith("| mean ± std | ") and lines[5].endswith(
      " | %.2f ± %.2f |" % (statistics.mean(f1), statistics.stdev(f1)))
  assert open(str(out / "kfold_summary.md"), encoding="utf-8").read() == run.stdout
  rows = list(csv.reader(open(str(out / "kfold_summary.csv"))))
  assert rows[0] == ["fold", "precision", "recall", "f1", "specificity"]
  assert [r[0] for r in rows[1:]] == ["1", "2", "3", "mean", "std", "all_positive"]
  assert float(rows[2][3]) == pytest.approx(100 * per_fold[1]["f1 score"], abs=1e-9)
  assert float(rows[4][3]) == pytest.approx(statistics.mean(f1), abs=1e-9)
  assert float(rows[5][3]) == pytest.approx(statistics.stdev(f1), abs=1e-9)
  # The all-positive baseline: recall 100, precision the share of positives, specificity 0.
  positives = [sum(1 for _, label in re_eval.read_answers(str(data / f / "test.tsv"), ["0", "1"]) if label == 1)
               / (30.0 + int(f)) for f in "123"]
  assert float(rows[6][2]) == 100.0 and float(rows[6][4]) == 0.0
  assert float(rows[6][1]) == pytest.approx(100 * statistics.mean(positives), abs=1e-9)
  assert lines[6] == "| all positive (baseline) | %.2f | 100.00 | %.2f |" % (
      100 * statistics.mean(positives), statistics.mean(200 * p / (1 + p) for p in positives))

  # A fold without predictions is named and left out.
  os.remove(str(out / "2" / "test_results.tsv"))
  table = re_kfold_summary.summarize(str(out), str(data))
  assert "| fold 2 |" not in table and "GAD (2 folds)" in table


_STUB = """#!/usr/bin/env bash
# Stands in for python: run_re.py is logged and writes fake predictions; anything else runs on real Python.
set -euo pipefail
if [[ "$1" == *run_re.py ]]; then
  echo "$*" >> "$STUB_LOG"
  out=""; data=""
  for arg in "$@"; do
    case "$arg" in --output_dir=*) out=${arg#*=} ;; --data_dir=*) data=${arg#*=} ;; esac
  done
  n=$(( $(wc -l < "$data/test.tsv") - 1 ))
  for _ in $(seq "$n"); do printf '0.25\\t0.75\\n'; done > "$out/test_results.tsv"
  exit 0
fi
exec "$REAL_PYTHON" "$@"
"""


def test_kfold_script_runs_each_fold_once_and_skips_done_ones(tmp_path):
  data, out = _fake_folds(tmp_path, folds=("1", "2", "10"))
  shutil.rmtree(str(out))
  stub = tmp_path / "python"
  _write(stub, _STUB)
  stub.chmod(0o755)
  log = tmp_path / "calls.log"
  # A cased BioBERT folder as released (the checkpoint's data is never read: run_re.py is a stub here).
  _write(tmp_path / "biobert" / "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nThe\nthe\nGene\n")
  _write(tmp_path / "biobert" / "bert_config.json", "{}")
  _write(tmp_path / "biobert" / "model.ckpt-1000000.index", "")
  env = dict(os.environ, BIOBERT_DIR=str(tmp_path / "biobert"), RE_DIR=str(data), OUTPUT_DIR=str(out),
             TASK_NAME="gad", PYTHON=str(stub), REAL_PYTHON=sys.executable, STUB_LOG=str(log))
  _write(data / "2" / "dev.tsv", "a @GENE$\t0\n")
  script = os.path.join(ROOT, "scripts", "re_kfold.sh")
  run = subprocess.run(["bash", script, "--save_checkpoints_steps=500"], env=env, capture_output=True, text=True,
                       timeout=120)
  assert run.returncode == 0, run.stdout + run.stderr
  calls = log.read_text().splitlines()
  # Folds in numeric order, each into its own folder, with the paper's hyper-parameters and the extra flag.
  assert ["--output_dir=%s/%s" % (out, f) in c for c, f in zip(calls, ("1", "2", "10"))] == [True] * 3
  for flag in ("--max_seq_length=128", "--train_batch_size=32", "--learning_rate=2e-5", "--num_train_epochs=3.0",
               "--do_lower_case=false", "--task_name=gad", "--do_train=true", "--do_predict=true",
               "--save_checkpoints_steps=500", "--init_checkpoint=%s/biobert/model.ckpt-1000000" % tmp_path):
    assert all(flag in c for c in calls), flag
  assert ["--do_eval=true" in c for c in calls] == [False, True, False]  # only fold 2 has a dev.tsv
  assert (out / "10" / "re_eval.txt").read_text().startswith("f1 score    : ")
  assert "| mean ± std |" in run.stdout and (out / "kfold_summary.csv").is_file()

  # Everything done: nothing runs again; a fold whose metrics are gone runs again.
  os.remove(str(out / "2" / "re_eval.txt"))
  run = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=120)
  assert run.returncode == 0, run.stdout + run.stderr
  calls = log.read_text().splitlines()
  assert len(calls) == 4 and "--output_dir=%s/2 " % out in calls[3] + " "
  assert run.stdout.count("done already") == 2

  help_run = subprocess.run(["bash", script, "--help"], capture_output=True, text=True)
  assert help_run.returncode == 0 and "BIOBERT_DIR" in help_run.stdout and "RE_DIR" in help_run.stdout
  missing = subprocess.run(["bash", script], env=dict(env, BIOBERT_DIR=""), capture_output=True, text=True)
  assert missing.returncode == 2 and missing.stderr.startswith("error: re_kfold.sh: set BIOBERT_DIR")
