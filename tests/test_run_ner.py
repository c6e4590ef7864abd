"""Tests of run_ner.py and the fine-tuning layer under it.

  * unit tests of the pieces: windows and their max-context merge, label sets (plain, typed, mixed), features
    (X on continuations, truncation), raw-text words and entity offsets;
  * one end-to-end run on real data (a slice of NCBI-disease) with a tiny BERT: train, eval and predict write
    the original's files; the entity-level numbers run_ner writes equal conlleval's on NER_result_conll.txt
    (conlleval.pl itself where CONLLEVAL_PL names it); ner_detokenize on token_test/label_test gives the same
    NER_result_conll.txt; a predict-only run from the fine-tuned checkpoint writes the same label_test.txt; a
    checkpoint without the NER head is an error;
  * two replicas on 2 logical CPUs train like one device, with the summed and with the mean loss;
  * bad input: one line, exit 2, nothing half-written.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import errors
import finetuning
import modeling
import run_ner
import runtime
import tokenization
from test_run_pretraining import ROOT, make_init_checkpoint

sys.path.insert(0, os.path.join(ROOT, "biocodes"))
import conlleval  # pylint: disable=g-import-not-at-top,wrong-import-position
import ner_detokenize  # pylint: disable=g-import-not-at-top,wrong-import-position

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def sentence(words, labels, guid="test-0"):
  return run_ner.Sentence(guid, list(words), list(labels), 1, "test.tsv")


# ----------------------------------------------------------------------------------------------------------------
# Units.


def test_windows_cover_every_piece_and_merge_by_max_context():
  assert finetuning.window_starts(5, 8, 4) == [(0, 5)]
  assert finetuning.window_starts(20, 8, 4) == [(0, 8), (4, 8), (8, 8), (12, 8)]
  assert finetuning.window_starts(10, 8, 3) == [(0, 8), (3, 7)]
  windows = [run_ner.Window(0, s, l, k == 0, False) for k, (s, l) in enumerate(finetuning.window_starts(20, 8, 4))]
  best = finetuning.best_window_per_piece(list(enumerate(windows)), 20)
  assert best[:4] == [0, 0, 0, 0] and best[-2:] == [3, 3]
  for j, w in enumerate(best):
    window = windows[w]
    assert window.start <= j < window.start + window.length
    # No other window gives the piece more context on its shorter side.
    context = min(j - window.start, window.start + window.length - 1 - j)
    for other in windows:
      if other.start <= j < other.start + other.length:
        assert min(j - other.start, other.start + other.length - 1 - j) <= context


def test_label_sets():
  plain = [[sentence(["a", "b"], ["B", "O"])]]
  assert run_ner.label_list_from_data(plain) == run_ner.ORIGINAL_LABELS
  typed = [[sentence(["a", "b", "c"], ["B-Disease", "I-Disease", "O"])],
           [sentence(["d", "e"], ["S-Chemical", "B-Chemical"])]]
  assert run_ner.label_list_from_data(typed) == ["[PAD]", "O", "B-Chemical", "S-Chemical", "B-Disease",
                                                 "I-Disease", "X", "[CLS]", "[SEP]"]
  with pytest.raises(errors.UserError, match="line 2: label 'B' has no type, while other labels are typed"):
    run_ner.label_list_from_data([[sentence(["a", "b"], ["B-Disease", "B"])]])


def _tokenizer(tmp_path, words, lower=False):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
  return tokenization.FullTokenizer(str(vocab), do_lower_case=lower)


def test_features_label_continuations_x_and_truncate_like_the_original(tmp_path):
  tokenizer = _tokenizer(tmp_path, ["Breast", "cancer", "##s", "IL", "-", "2", "can", "##cer"])
  label_map = {l: i for i, l in enumerate(run_ner.ORIGINAL_LABELS)}
  s = sentence(["Breast", "cancers", "IL-2"], ["B", "I", "O"])
  features, windows, pieces = run_ner.convert_sentences([s], label_map, 16, tokenizer, False, 0)
  assert pieces == [["Breast", "cancer", "##s", "IL", "-", "2"]]
  labels = [run_ner.ORIGINAL_LABELS[i] for i in features[0]["label_ids"][:8]]
  # Every piece after a word's first is X, punctuation splits included ("IL-2" -> IL - 2), as the original.
  assert labels == ["[CLS]", "B", "I", "X", "O", "X", "X", "[SEP]"]
  assert features[0]["label_mask"][:8] == [0, 1, 1, 0, 1, 0, 0, 0]
  assert features[0]["input_mask"] == [1] * 8 + [0] * 8
  # max_seq_length 6: four pieces kept (max_seq_length - 2), as the original truncates.
  features, windows, pieces = run_ner.convert_sentences([s], label_map, 6, tokenizer, False, 0)
  assert len(features) == 1 and pieces == [["Breast", "cancer", "##s", "IL"]]
  # With windows: every piece is in some window, and the merged prediction has one label per piece.
  features, windows, pieces = run_ner.convert_sentences([s], label_map, 6, tokenizer, True, 2)
  assert [(w.start, w.length) for w in windows] == [(0, 4), (2, 4)] and len(pieces[0]) == 6
  predictions = [np.array(f["label_ids"]) for f in features]  # "predict" the gold labels
  merged = run_ner.merge_predictions(windows, predictions, pieces, dict(enumerate(run_ner.ORIGINAL_LABELS)))
  assert merged == [["[CLS]", "B", "I", "X", "O", "X", "X", "[SEP]"]]


def test_raw_words_and_entities_slice_the_text():
  text = "Naïve β-catenin (CTNNB1) mutations in 2-(4-aminophenyl)benzothiazole-treated mice."
  words = run_ner.raw_words(text)
  assert all(text[start:end] == word for word, start, end in words)
  assert [w for w, _, _ in words][:6] == ["Naïve", "β", "-", "catenin", "(", "CTNNB1"]
  labels = ["O", "B-Gene", "I-Gene", "I-Gene", "O", "B-Gene", "O"] + ["O"] * (len(words) - 7)
  entities = run_ner.entities_of(words, labels)
  assert [text[e["start"]:e["end"]] for e in entities] == ["β-catenin", "CTNNB1"]
  assert [e["type"] for e in entities] == ["Gene", "Gene"]


# ----------------------------------------------------------------------------------------------------------------
# End to end on a slice of NCBI-disease.

TRAIN_SENTENCES = 48
TEST_SENTENCES = 24


def _write_sentences(path, sentences):
  with open(path, "w", encoding="utf-8") as f:
    for words, labels in sentences:
      for word, label in zip(words, labels):
        f.write("%s\t%s\n" % (word, label))
      f.write("\n")


@pytest.fixture(scope="module")
def ncbi(shared_data, tmp_path_factory):
  """A slice of NCBI-disease, a cased vocabulary of its words, a tiny BERT config and initial checkpoint."""
  root = tmp_path_factory.mktemp("ner")
  source = os.path.join(shared_data, "NER", "NCBI-disease")
  data = root / "data"
  data.mkdir()
  slices = {"train_dev.tsv": TRAIN_SENTENCES, "devel.tsv": TEST_SENTENCES, "test.tsv": TEST_SENTENCES}
  words = set()
  for name, count in slices.items():
    gold = ner_detokenize.read_gold(os.path.join(source, name))[:count]
    # One long sentence in the test set exercises truncation (max_seq_length 32 below).
    _write_sentences(str(data / name), [([w for w, _ in s], [l for _, l in s]) for s in gold])
    words.update(w for s in gold for w, _ in s)
  vocab = sorted(words)
  (root / "vocab.txt").write_text("\n".join(SPECIALS + vocab) + "\n", encoding="utf-8")
  config = {"vocab_size": len(SPECIALS) + len(vocab), "hidden_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 128, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
            "initializer_range": 0.02}
  (root / "bert_config.json").write_text(json.dumps(config))
  init = make_init_checkpoint(str(root / "init"), modeling.BertConfig.from_dict(config))
  return root, init


def _run_ner(root, init, out, *extra):
  command = [sys.executable, "run_ner.py", "--task_name=NER", "--data_dir=" + str(root / "data"),
             "--vocab_file=" + str(root / "vocab.txt"), "--bert_config_file=" + str(root / "bert_config.json"),
             "--output_dir=" + str(out), "--max_seq_length=32", "--train_batch_size=8", "--num_train_epochs=2",
             "--learning_rate=1e-3", "--save_checkpoints_steps=100"]
  if init:
    command.append("--init_checkpoint=" + init)
  return subprocess.run(command + list(extra), cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT))


def _read_results(path):
  results = {}
  with open(path) as f:
    for line in f:
      key, value = line.rstrip("\n").split(" = ")
      results[key] = value
  return results


@pytest.fixture(scope="module")
def trained(ncbi):
  root, init = ncbi
  out = root / "out"
  result = _run_ner(root, init, out, "--do_train=true", "--do_eval=true", "--do_predict=true")
  assert result.returncode == 0, result.stderr[-4000:]
  return root, out, result


def test_train_eval_predict_writes_the_original_files_and_entity_scores(trained):
  root, out, result = trained
  files = set(os.listdir(str(out)))
  for name in ("eval_results.txt", "token_test.txt", "label_test.txt", "NER_result_conll.txt", "label2id.json",
               "test_results.txt", "conlleval_test.txt", "train.tf_record", "predict.tf_record"):
    assert name in files, name
  assert not [f for f in files if ".partial-" in f]
  assert json.load(open(str(out / "label2id.json"))) == {l: i for i, l in enumerate(run_ner.ORIGINAL_LABELS)}
  eval_results = _read_results(str(out / "eval_results.txt"))
  for key in ("eval_f", "eval_precision", "eval_recall", "loss", "global_step", "entity_f1", "entity_precision",
              "entity_recall", "entity_f1_MISC"):
    assert key in eval_results, key
  assert int(eval_results["global_step"]) == int(TRAIN_SENTENCES / 8 * 2)

  tokens = open(str(out / "token_test.txt")).read().splitlines()
  labels = open(str(out / "label_test.txt")).read().splitlines()
  assert len(tokens) == len(labels) and tokens.count("[CLS]") == TEST_SENTENCES

  # The entity-level numbers run_ner writes are conlleval's on its NER_result_conll.txt.
  conll = open(str(out / "NER_result_conll.txt"), encoding="utf-8").read()
  counts = conlleval.evaluate(conll.splitlines(True))
  assert open(str(out / "conlleval_test.txt")).read() == conlleval.report(counts)
  test_results = _read_results(str(out / "test_results.txt"))
  scores = conlleval.scores(counts)
  assert float(test_results["entity_f1"]) == pytest.approx(scores.overall.f1, abs=1e-9)
  assert float(test_results["entity_precision"]) == pytest.approx(scores.overall.precision, abs=1e-9)
  assert conlleval.report(counts) in result.stdout
  perl_script = os.environ.get("CONLLEVAL_PL")
  if perl_script:
    perl = subprocess.run(["perl", perl_script], input=conll.encode("utf-8"), capture_output=True)
    assert perl.stdout.decode("utf-8") == conlleval.report(counts)

  # The detokenizer, run as the original README says, writes the same NER_result_conll.txt.
  detok = root / "detok"
  run = subprocess.run([sys.executable, "biocodes/ner_detokenize.py", "--token_test_path=" + str(out / "token_test.txt"),
                        "--label_test_path=" + str(out / "label_test.txt"),
                        "--answer_path=" + str(root / "data" / "test.tsv"), "--output_dir=" + str(detok)],
                       cwd=ROOT, capture_output=True, text=True)
  assert run.returncode == 0, run.stderr
  assert open(str(detok / "NER_result_conll.txt"), encoding="utf-8").read() == conll


def test_predict_only_from_the_fine_tuned_checkpoint(trained, ncbi):
  root, out, _ = trained
  checkpoint = tf.train.latest_checkpoint(str(out))
  again = root / "predict_only"
  result = _run_ner(root, checkpoint, again, "--do_train=false", "--do_predict=true")
  assert result.returncode == 0, result.stderr[-4000:]
  assert open(str(again / "label_test.txt")).read() == open(str(out / "label_test.txt")).read()

  # The pre-trained checkpoint has no NER head: a clear error, not a randomly initialised head.
  _, init = ncbi
  bad = root / "no_head"
  result = _run_ner(root, init, bad, "--do_train=false", "--do_predict=true")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: --init_checkpoint=")
  assert "output_bias" in result.stderr and "Traceback" not in result.stderr


# ----------------------------------------------------------------------------------------------------------------
# Replicas.


def _train_in_process(ncbi, out, ner_loss, devices=None, steps=6):
  root, init = ncbi
  tokenizer = tokenization.FullTokenizer(str(root / "vocab.txt"), do_lower_case=False)
  sentences = run_ner.read_sentences(str(root / "data" / "train_dev.tsv"), "train")
  label_map = {l: i for i, l in enumerate(run_ner.ORIGINAL_LABELS)}
  features, _, _ = run_ner.convert_sentences(sentences, label_map, 32, tokenizer, False, 0)
  spec = run_ner.feature_spec(32)
  path = str(out) + ".tf_record"
  spec.write(path, features)
  config = modeling.BertConfig.from_json_file(str(root / "bert_config.json"))
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0.0
  model_fn = run_ner.model_fn_builder(config, run_ner.ORIGINAL_LABELS, 1e-3, steps, 1, ner_loss, False)
  runner = runtime.Runner(model_fn, runtime.RunConfig(str(out), save_checkpoints_steps=None, progress_bar=False,
                                                      devices=devices), train_batch_size=8)
  losses = []
  runner.train(finetuning.input_fn_builder(path, spec, is_training=True, drop_remainder=True), max_steps=steps,
               init_checkpoint=init, on_step=lambda step, loss: losses.append(loss))
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(out)))
  weights = {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}
  return np.array(losses), weights


@pytest.mark.parametrize("ner_loss", ["sum", "mean_first_subtoken"])
def test_two_replicas_train_like_one_device(ncbi, tmp_path, monkeypatch, ner_loss):
  # Without dropout: replicas draw their own masks (as they should), which would make the runs differ.
  monkeypatch.setattr(run_ner, "HEAD_DROPOUT_PROB", 0.0)
  one_losses, one = _train_in_process(ncbi, tmp_path / "one", ner_loss)
  two_losses, two = _train_in_process(ncbi, tmp_path / "two", ner_loss, devices=["/cpu:0", "/cpu:1"])
  # A summed loss is the global batch's sum on both (not halved or doubled by the all-reduce).
  np.testing.assert_allclose(two_losses, one_losses, rtol=1e-5, atol=1e-5)
  if ner_loss == "sum":
    assert one_losses[0] > 50  # a sum over 8 x 32 positions, not a mean
  assert one_losses[-1] < one_losses[0]
  assert sorted(one) == sorted(two)
  for name in one:
    np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-5, err_msg=name)


def test_batches_cut_to_their_longest_and_to_a_multiple_of_16_under_xla(tmp_path):
  # XLA compiles a step per shape: under --use_xla the widths are rounded up, so a run compiles a handful.
  spec = run_ner.feature_spec(64)
  lengths = [5, 9, 17, 3, 40, 33, 64, 2]
  path = str(tmp_path / "records.tf_record")
  spec.write(path, [{name: finetuning.pad_to([1] * n, 64) for name, _, _, _ in spec.fields} for n in lengths])

  def widths(use_xla, sort_by_length):
    input_fn = finetuning.input_fn_builder(path, spec, False, False, trim_padding=True,
                                           sort_by_length=sort_by_length)
    with tf.Graph().as_default():
      batch = tf.compat.v1.data.make_one_shot_iterator(
          input_fn({"batch_size": 2, "use_xla": use_xla})).get_next()
      found = []
      with tf.compat.v1.Session() as session:
        while True:
          try:
            values = session.run(batch)
          except tf.errors.OutOfRangeError:
            return found
          assert {values[name].shape[1] for name, _, _, _ in spec.fields} == {values["input_mask"].shape[1]}
          found.append(values["input_mask"].shape[1])

  assert widths(False, False) == [9, 17, 40, 64]
  assert widths(True, False) == [16, 32, 48, 64]
  assert widths(False, True) == [3, 9, 33, 64]  # sorted: 2 3 | 5 9 | 17 33 | 40 64


def test_length_sorted_prediction_equals_prediction_in_file_order(ncbi, tmp_path, monkeypatch):
  # Sorted within runs of 10 examples, 7 to a batch: windows and batches both end mid-run, the set (the test
  # file's sentences, of many lengths) is not a multiple of either.
  monkeypatch.setattr(finetuning, "SORT_WINDOW", 10)
  root, init = ncbi
  tokenizer = tokenization.FullTokenizer(str(root / "vocab.txt"), do_lower_case=False)
  sentences = run_ner.read_sentences(str(root / "data" / "test.tsv"), "test")
  label_map = {l: i for i, l in enumerate(run_ner.ORIGINAL_LABELS)}
  features, _, _ = run_ner.convert_sentences(sentences, label_map, 32, tokenizer, False, 0)
  assert len(features) % 10 and len(features) % 7
  spec = run_ner.feature_spec(32)
  path = str(tmp_path / "predict.tf_record")
  spec.write(path, features)
  config = modeling.BertConfig.from_json_file(str(root / "bert_config.json"))
  model_fn = finetuning.with_example_index(
      run_ner.model_fn_builder(config, run_ner.ORIGINAL_LABELS, 1e-3, 0, 0, "sum", False))
  runner = runtime.Runner(model_fn, runtime.RunConfig(str(tmp_path / "out"), progress_bar=False),
                          predict_batch_size=7)

  def predict(sort_by_length):
    input_fn = finetuning.input_fn_builder(path, spec, False, False, trim_padding=True,
                                           sort_by_length=sort_by_length)
    predictions = runner.predict(input_fn, init_checkpoint=init)
    return list(finetuning.in_file_order(predictions) if sort_by_length else predictions)

  in_order, by_length = predict(False), predict(True)
  assert len(by_length) == len(in_order) == len(features)
  lengths = [sum(f["input_mask"]) for f in features]
  for k, (a, b) in enumerate(zip(in_order, by_length)):
    assert sorted(b) == sorted(a) == ["input_mask", "predict"]
    assert int(b["input_mask"].sum()) == lengths[k]
    np.testing.assert_array_equal(a["predict"][:lengths[k]], b["predict"][:lengths[k]])


# ----------------------------------------------------------------------------------------------------------------
# Bad input.


def _fails(ncbi, tmp_path, match, files=None, extra=()):
  root, init = ncbi
  data = tmp_path / "data"
  data.mkdir(parents=True, exist_ok=True)
  for name, text in (files or {}).items():
    (data / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
  command_root = tmp_path
  (command_root / "vocab.txt").write_text((root / "vocab.txt").read_text(encoding="utf-8"), encoding="utf-8")
  (command_root / "bert_config.json").write_text((root / "bert_config.json").read_text())
  out = tmp_path / "out"
  result = _run_ner(command_root, init, out, *extra)
  assert result.returncode == 2, result.stderr[-3000:]
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith("error: ") and match in lines[-1], lines[-1]
  assert "Traceback" not in result.stderr
  assert not os.path.exists(str(out)) or not [f for f in os.listdir(str(out)) if f.endswith((".txt", ".tf_record"))]


def test_bad_inputs_are_one_line_errors(ncbi, tmp_path):
  good = "Breast\tB\ncancer\tI\n.\tO\n\n"
  _fails(ncbi, tmp_path / "a", "train_dev.tsv: line 2: one column", {"train_dev.tsv": good.replace("cancer\tI", "cancer")},
         ["--do_train=true", "--do_predict=false"])
  _fails(ncbi, tmp_path / "b", "test.tsv: line 3: label 'Q' is not a NER label",
         {"train_dev.tsv": good, "test.tsv": good.replace(".\tO", ".\tQ")}, ["--do_train=true", "--do_predict=true"])
  _fails(ncbi, tmp_path / "c", "test.tsv: holds no sentence", {"test.tsv": "\n\n"}, ["--do_train=false"])
  _fails(ncbi, tmp_path / "d", "no train_dev.tsv (needed by --do_train)", {}, ["--do_train=true"])
  _fails(ncbi, tmp_path / "e", "looks cased", {"train_dev.tsv": good}, ["--do_lower_case=true"])


def test_crlf_and_byte_order_mark_are_read(tmp_path):
  path = tmp_path / "test.tsv"
  path.write_bytes(b"\xef\xbb\xbfBreast\tB\r\ncancer\tI\r\n\r\n\r\nIL-2\tO\r\n")
  sentences = run_ner.read_sentences(str(path), "test")
  assert [s.words for s in sentences] == [["Breast", "cancer"], ["IL-2"]]
  assert [s.labels for s in sentences] == [["B", "I"], ["O"]] and sentences[1].line == 5


def test_typed_labels_train_and_report_per_type(shared_data, ncbi, tmp_path):
  """BC5CDR-chem and BC5CDR-disease merged into B-Chemical / B-Disease / I-...: per-type entity scores."""
  root, init = ncbi
  merged = []
  chem = ner_detokenize.read_gold(os.path.join(shared_data, "NER", "BC5CDR-chem", "test.tsv"))[:40]
  disease = ner_detokenize.read_gold(os.path.join(shared_data, "NER", "BC5CDR-disease", "test.tsv"))[:40]
  for c, d in zip(chem, disease):
    assert [w for w, _ in c] == [w for w, _ in d]  # the same corpus, annotated twice
    labels = [lc + "-Chemical" if lc != "O" else (ld + "-Disease" if ld != "O" else "O")
              for (_, lc), (_, ld) in zip(c, d)]
    merged.append(([w for w, _ in c], labels))
  data = tmp_path / "data"
  data.mkdir()
  _write_sentences(str(data / "train_dev.tsv"), merged[:32])
  _write_sentences(str(data / "test.tsv"), merged[32:])
  words = sorted(set(w for ws, _ in merged for w in ws) | set(open(str(root / "vocab.txt")).read().split()[5:]))
  (tmp_path / "vocab.txt").write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
  config = json.loads((root / "bert_config.json").read_text())
  config["vocab_size"] = len(SPECIALS) + len(words)
  (tmp_path / "bert_config.json").write_text(json.dumps(config))
  out = tmp_path / "out"
  result = _run_ner(tmp_path, None, out, "--do_train=true", "--do_predict=true", "--num_train_epochs=1")
  assert result.returncode == 0, result.stderr[-3000:]
  label2id = json.load(open(str(out / "label2id.json")))
  assert [l for l, _ in sorted(label2id.items(), key=lambda kv: kv[1])] == [
      "[PAD]", "O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease", "X", "[CLS]", "[SEP]"]
  results = _read_results(str(out / "test_results.txt"))
  for key in ("entity_f1_Chemical", "entity_f1_Disease", "entity_precision_Chemical", "entity_recall_Disease"):
    assert key in results, key
  report = open(str(out / "conlleval_test.txt")).read()
  assert "Chemical: precision:" in report and "Disease: precision:" in report


def test_raw_text_offsets_slice_the_text_and_windows_predict_every_word(trained, tmp_path):
  root, out, _ = trained
  long_sentence = " ".join(["Mutations in BRCA1 cause hereditary breast and ovarian cancer"] * 115)
  text = ("Naïve patients with β-thalassemia and 2-(4-aminophenyl)benzothiazole-induced colitis were treated. "
          "The α-synuclein gene (SNCA) is linked to Parkinson's disease.\n" + long_sentence + ".\n")
  raw = tmp_path / "notes.txt"
  raw.write_text(text, encoding="utf-8")
  result = _run_ner(root, tf.train.latest_checkpoint(str(out)), tmp_path / "raw", "--do_train=false",
                    "--do_predict=false", "--raw_text_file=" + str(raw), "--split_long_sentences=true")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "trimmed" not in result.stdout + result.stderr
  paragraphs = text.splitlines()
  records = [json.loads(l) for l in open(str(tmp_path / "raw" / "raw_predictions.jsonl"), encoding="utf-8")]
  assert [r["text"] for r in records] == paragraphs
  for record in records:
    for entity in record["entities"]:
      assert record["text"][entity["start"]:entity["end"]] == entity["text"] and entity["text"]
  conll = open(str(tmp_path / "raw" / "raw_predictions.conll"), encoding="utf-8").read()
  words = [line.rsplit(" ", 1)[0] for line in conll.splitlines() if line]
  assert words == [w for p in paragraphs for w, _, _ in run_ner.raw_words(p)]
  assert len(run_ner.raw_words(paragraphs[1])) > 1000


def test_fine_tuned_model_converts_to_transformers_with_the_same_predictions(trained, tmp_path):
  """convert_checkpoint tf_to_hf --task=ner; BertForTokenClassification predicts run_ner's labels."""
  pytest.importorskip("torch")
  pytest.importorskip("transformers")
  sys.path.insert(0, os.path.join(ROOT, "bench"))
  import ner_to_transformers  # pylint: disable=g-import-not-at-top
  root, out, _ = trained
  hf_dir = str(tmp_path / "hf")
  ner_to_transformers.convert(str(out), str(root / "vocab.txt"), str(root / "bert_config.json"), hf_dir)
  total, same = ner_to_transformers.agreement(str(out), hf_dir, str(root / "vocab.txt"), do_lower_case=False)
  assert total > 500 and same / total >= 0.999, (same, total)
