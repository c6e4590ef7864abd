# coding=utf-8
"""Tests for create_pretraining_data.py and tfrecord_io.py.

Independent references:
  * golden fixtures tests/fixtures/cpd_original_{default,wwm}.json: records written by the ORIGINAL scripts
    (BioBERT's, and Google's later one with --do_whole_word_mask) on a small self-contained input, parsed to JSON
    (bench/create_pretraining_data.py --write_fixtures made them);
  * with BIOBERT_ORIGINAL_DIR / BERT_ORIGINAL_DIR set (folders holding an original create_pretraining_data.py and
    tokenization.py), the original runs beside ours on real MEDLINE text with the MiniLM vocabulary;
  * TensorFlow's own Example serialisation (deterministic), TFRecordWriter, TFRecordDataset and
    parse_single_example, for the file format;
  * the spec's layout and formulas, checked on records read back, against the input text tokenized by the
    tokenizer's reference path.
"""

import collections
import hashlib
import importlib.util
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import create_pretraining_data as cpd
import errors
import tfrecord_io
import tokenization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SAMPLE_TEXT = os.path.join(ROOT, "sample_text.txt")

FEATURE_ORDER = ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
                 "masked_lm_weights", "next_sentence_labels")


def _load_bench():
  spec = importlib.util.spec_from_file_location(
      "bench_create_pretraining_data", os.path.join(ROOT, "bench", "create_pretraining_data.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def run_cpd(args, timeout=300):
  """Runs create_pretraining_data.py in a subprocess; returns the CompletedProcess."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, os.path.join(ROOT, "create_pretraining_data.py")] + list(args),
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def run_ok(args):
  proc = run_cpd(args)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def tf_records(path):
  """Records of a TFRecord file parsed by TensorFlow: [{name: list of values}]."""
  out = []
  for raw in tf.data.TFRecordDataset(path):
    example = tf.train.Example.FromString(raw.numpy())
    record = {}
    for name, feature in example.features.feature.items():
      kind = feature.WhichOneof("kind")
      record[name] = list(getattr(feature, kind).value)
    out.append(record)
  return out


def sha256(path):
  with open(path, "rb") as f:
    return hashlib.sha256(f.read()).hexdigest()


def write_text(path, text):
  with open(path, "w", encoding="utf-8", newline="\n") as f:
    f.write(text)
  return str(path)


def fixture_setup(name, tmp_path):
  """Writes a golden fixture's input and vocabulary; returns (fixture, input path, vocab path, flag args)."""
  with open(os.path.join(FIXTURES, "cpd_original_%s.json" % name), encoding="utf-8") as f:
    fixture = json.load(f)
  input_file = write_text(tmp_path / "input.txt", fixture["input"])
  vocab_file = write_text(tmp_path / "vocab.txt", "\n".join(fixture["vocab"]) + "\n")
  args = ["--%s=%s" % (k, str(v).lower() if isinstance(v, bool) else v) for k, v in sorted(fixture["flags"].items())]
  return fixture, input_file, vocab_file, args


def flag_args(input_file, outputs, vocab_file, extra=()):
  return ["--input_file=%s" % input_file, "--output_file=%s" % ",".join(str(o) for o in outputs),
          "--vocab_file=%s" % vocab_file] + list(extra)


def reference_documents(text, tokenizer):
  """Documents (lists of token-id lists) of a text, with the tokenizer's reference path (not its fast path)."""
  documents = [[]]
  for line in text.split("\n"):
    line = line.strip()
    if not line:
      documents.append([])
      continue
    tokens = tokenizer.tokenize(line)
    if tokens:
      documents[-1].append(tokenizer.convert_tokens_to_ids(tokens))
  return [d for d in documents if d]


def find_span(stream, span):
  """Start index of `span` (a list) in `stream` (a list), or -1."""
  n = len(span)
  first = span[0]
  for start in range(len(stream) - n + 1):
    if stream[start] == first and stream[start:start + n] == span:
      return start
  return -1


# ---------------------------------------------------------------------------------------------------------------
# Golden fixtures: records of the original scripts.


@pytest.mark.parametrize("name", ["default", "wwm"])
def test_matches_golden_records_of_the_original(name, tmp_path):
  fixture, input_file, vocab_file, args = fixture_setup(name, tmp_path)
  outputs = [tmp_path / ("out%d.tfrecord" % i) for i in range(len(fixture["outputs"]))]
  proc = run_ok(flag_args(input_file, outputs, vocab_file, args))
  assert "Wrote %d total instances" % fixture["instances"] in proc.stderr
  for path, expected in zip(outputs, fixture["outputs"]):
    got = tf_records(str(path))
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
      assert g == e, "%s record %d differs" % (path.name, i)


def test_fixture_exercises_whole_words_and_unknown_tokens():
  with open(os.path.join(FIXTURES, "cpd_original_wwm.json"), encoding="utf-8") as f:
    fixture = json.load(f)
  vocab = fixture["vocab"]
  continuation = {i for i, t in enumerate(vocab) if t.startswith("##")}
  unk = vocab.index("[UNK]")
  records = [r for out in fixture["outputs"] for r in out]
  # Some masked position is a "##" piece whose word start is masked too (a whole word was masked).
  whole = 0
  for r in records:
    positions = set(p for p, w in zip(r["masked_lm_positions"], r["masked_lm_weights"]) if w)
    labels = dict(zip(r["masked_lm_positions"], r["masked_lm_ids"]))
    whole += sum(1 for p in positions if labels[p] in continuation and p - 1 in positions)
  assert whole > 5
  assert any(unk in r["input_ids"] or unk in r["masked_lm_ids"] for r in records)


# ---------------------------------------------------------------------------------------------------------------
# Against the original scripts on real text (runs where a copy of the original is available).


def _original_dir(variable):
  path = os.environ.get(variable)
  if not path:
    pytest.skip("set %s to a folder holding the original create_pretraining_data.py and tokenization.py "
                "to compare against it" % variable)
  if not os.path.isfile(os.path.join(path, "create_pretraining_data.py")):
    pytest.skip("%s=%s holds no create_pretraining_data.py" % (variable, path))
  return path


@pytest.mark.parametrize("seed", [12345, 7])
@pytest.mark.parametrize("whole_word", [False, True])
def test_matches_original_script_on_medline(seed, whole_word, tmp_path, shared_data, minilm_dir):
  original = _original_dir("BERT_ORIGINAL_DIR" if whole_word else "BIOBERT_ORIGINAL_DIR")
  bench = _load_bench()
  input_file = str(tmp_path / "medline.txt")
  assert bench.medline_to_text(os.path.join(shared_data, "corpus", "pubmed", "medline16n0902.xml.gz"),
                               input_file) > 400
  vocab_file = os.path.join(minilm_dir, "vocab.txt")
  extra = ["--random_seed=%d" % seed, "--dupe_factor=5", "--do_whole_word_mask=%s" % str(whole_word).lower()]
  theirs = [tmp_path / "orig0.tfrecord", tmp_path / "orig1.tfrecord"]
  ours = [tmp_path / "ours0.tfrecord", tmp_path / "ours1.tfrecord"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(bench.original_command(original, flag_args(input_file, theirs, vocab_file, extra)),
                        env=env, capture_output=True, text=True, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  run_ok(flag_args(input_file, ours, vocab_file, extra))
  for a, b in zip(theirs, ours):
    expected, got = tf_records(str(a)), tf_records(str(b))
    assert len(expected) > 2000
    assert got == expected


# ---------------------------------------------------------------------------------------------------------------
# File format: feature names, dtypes, lengths; deterministic bytes.


def test_features_parse_with_the_spec_schema(tmp_path):
  fixture, input_file, vocab_file, args = fixture_setup("default", tmp_path)
  out = tmp_path / "out.tfrecord"
  run_ok(flag_args(input_file, [out], vocab_file, args))
  seq, pred = fixture["flags"]["max_seq_length"], fixture["flags"]["max_predictions_per_seq"]
  schema = {
      "input_ids": tf.io.FixedLenFeature([seq], tf.int64),
      "input_mask": tf.io.FixedLenFeature([seq], tf.int64),
      "segment_ids": tf.io.FixedLenFeature([seq], tf.int64),
      "masked_lm_positions": tf.io.FixedLenFeature([pred], tf.int64),
      "masked_lm_ids": tf.io.FixedLenFeature([pred], tf.int64),
      "masked_lm_weights": tf.io.FixedLenFeature([pred], tf.float32),
      "next_sentence_labels": tf.io.FixedLenFeature([1], tf.int64),
  }
  count = 0
  for raw in tf.data.TFRecordDataset(str(out)):
    parsed = tf.io.parse_single_example(raw, schema)
    assert set(parsed) == set(FEATURE_ORDER)
    example = tf.train.Example.FromString(raw.numpy())
    assert set(example.features.feature) == set(FEATURE_ORDER)
    # Deterministic serialisation: the bytes are TensorFlow's SerializeToString(deterministic=True).
    assert raw.numpy() == example.SerializeToString(deterministic=True)
    count += 1
  assert count == fixture["instances"]
  # The check run_pretraining uses accepts the file, and names the flag when the length differs.
  assert tfrecord_io.pretraining_features(seq, pred).check(str(out)) == 1
  with pytest.raises(errors.UserError, match="--max_seq_length"):
    tfrecord_io.pretraining_features(seq * 2, pred).check(str(out))
  with pytest.raises(errors.UserError, match="--max_predictions_per_seq"):
    tfrecord_io.pretraining_features(seq, pred + 1).check(str(out))


def test_same_inputs_give_the_same_file(tmp_path):
  _, input_file, vocab_file, args = fixture_setup("default", tmp_path)
  first, second = tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"
  run_ok(flag_args(input_file, [first], vocab_file, args))
  run_ok(flag_args(input_file, [second], vocab_file, args))
  assert sha256(first) == sha256(second)
  # Another seed gives another file.
  third = tmp_path / "c.tfrecord"
  run_ok(flag_args(input_file, [third], vocab_file, args + ["--random_seed=1"]))
  assert sha256(third) != sha256(first)


# ---------------------------------------------------------------------------------------------------------------
# Spec invariants on records read back.


def _sample_vocab(minilm_dir):
  return os.path.join(minilm_dir, "vocab.txt")


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, minilm_dir):
  """One run on sample_text.txt with the MiniLM vocabulary: (records, documents by reference tokenization, vocab)."""
  directory = tmp_path_factory.mktemp("sample")
  out = directory / "out.tfrecord"
  vocab_file = _sample_vocab(minilm_dir)
  run_ok(flag_args(SAMPLE_TEXT, [out], vocab_file, ["--dupe_factor=20", "--max_seq_length=64",
                                                     "--max_predictions_per_seq=12", "--short_seq_prob=0.2"]))
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
  with open(SAMPLE_TEXT, encoding="utf-8") as f:
    documents = reference_documents(f.read(), tokenizer)
  return tf_records(str(out)), documents, tokenizer.vocab


def _unmasked(record):
  """input_ids with the masked positions restored from masked_lm_ids (the text the instance was cut from)."""
  ids = list(record["input_ids"])
  for position, label, weight in zip(record["masked_lm_positions"], record["masked_lm_ids"],
                                     record["masked_lm_weights"]):
    if weight:
      ids[position] = label
  return ids


def test_layout_segments_and_padding(sample_run):
  records, _, vocab = sample_run
  cls, sep = vocab["[CLS]"], vocab["[SEP]"]
  for r in records:
    n = sum(r["input_mask"])
    ids = r["input_ids"]
    assert r["input_mask"] == [1] * n + [0] * (64 - n)
    assert ids[n:] == [0] * (64 - n) and r["segment_ids"][n:] == [0] * (64 - n)
    assert ids[0] == cls and ids[n - 1] == sep
    seps = [i for i in range(n) if ids[i] == sep]
    assert len(seps) == 2
    first_sep = seps[0]
    assert 2 <= first_sep < n - 2  # A and B both non-empty
    assert r["segment_ids"][:first_sep + 1] == [0] * (first_sep + 1)
    assert r["segment_ids"][first_sep + 1:n] == [1] * (n - first_sep - 1)
    assert n <= 64
    assert r["next_sentence_labels"] in ([0], [1])


def test_num_to_predict_formula_and_mask_positions(sample_run):
  records, _, vocab = sample_run
  special = {vocab["[CLS]"], vocab["[SEP]"]}
  for r in records:
    n = sum(r["input_mask"])
    count = int(sum(r["masked_lm_weights"]))
    # Spec: min(max_predictions_per_seq, max(1, int(round(len(tokens) * masked_lm_prob)))), Python 3 round().
    assert count == min(12, max(1, int(round(n * 0.15))))
    assert r["masked_lm_weights"] == [1.0] * count + [0.0] * (12 - count)
    positions = r["masked_lm_positions"][:count]
    assert positions == sorted(set(positions))
    assert r["masked_lm_positions"][count:] == [0] * (12 - count)
    assert r["masked_lm_ids"][count:] == [0] * (12 - count)
    original = _unmasked(r)
    assert all(0 < p < n and original[p] not in special for p in positions)


def test_bankers_rounding_of_num_to_predict(tmp_path, minilm_dir):
  # masked_lm_prob=0.5: an odd length n gives x.5, which Python 3 rounds to even (n=45 -> 22, n=47 -> 24).
  out = tmp_path / "out.tfrecord"
  run_ok(flag_args(SAMPLE_TEXT, [out], _sample_vocab(minilm_dir),
                   ["--dupe_factor=3", "--max_seq_length=64", "--max_predictions_per_seq=64",
                    "--masked_lm_prob=0.5", "--short_seq_prob=0.5"]))
  seen_half = collections.Counter()
  for r in tf_records(str(out)):
    n = sum(r["input_mask"])
    count = int(sum(r["masked_lm_weights"]))
    half_even = n // 2 + (1 if (n % 2 and (n // 2) % 2) else 0)  # round-half-to-even of n/2, written out
    assert count == max(1, half_even), n
    if n % 2:
      seen_half[(n // 2) % 2] += 1
  assert seen_half[0] > 0 and seen_half[1] > 0  # both directions of the tie occurred


def test_masking_statistics(sample_run):
  records, _, vocab = sample_run
  mask = vocab["[MASK]"]
  kinds = collections.Counter()
  for r in records:
    count = int(sum(r["masked_lm_weights"]))
    for position, label in zip(r["masked_lm_positions"][:count], r["masked_lm_ids"][:count]):
      token = r["input_ids"][position]
      kinds["mask" if token == mask else "kept" if token == label else "random"] += 1
  total = sum(kinds.values())
  assert total > 2000
  # 80% [MASK], 10% kept, 10% random (a random replacement equal to the label counts as kept: rare).
  assert abs(kinds["mask"] / total - 0.8) < 0.03
  assert abs(kinds["kept"] / total - 0.1) < 0.025
  assert abs(kinds["random"] / total - 0.1) < 0.025
  labels = [r["next_sentence_labels"][0] for r in records]
  assert 0.4 < sum(labels) / len(labels) < 0.75


def test_segments_come_from_the_documents(sample_run):
  """A is a span of a document; for an actual next (label 0) B follows A in the same document."""
  records, documents, vocab = sample_run
  sep = vocab["[SEP]"]
  streams = [[t for segment in document for t in segment] for document in documents]

  def locate(span):
    for d, stream in enumerate(streams):
      start = find_span(stream, span)
      if start >= 0:
        return d, start
    return None

  for r in records:
    ids = _unmasked(r)
    n = sum(r["input_mask"])
    first_sep = ids.index(sep)
    a, b = ids[1:first_sep], ids[first_sep + 1:n - 1]
    where_a, where_b = locate(a), locate(b)
    assert where_a is not None and where_b is not None
    if r["next_sentence_labels"] == [0]:
      assert where_a[0] == where_b[0]
      assert where_b[1] >= where_a[1] + len(a)


# ---------------------------------------------------------------------------------------------------------------
# --num_workers > 1: per-file streams.


def _two_files(tmp_path):
  with open(SAMPLE_TEXT, encoding="utf-8") as f:
    documents = f.read().strip().split("\n\n")
  first = write_text(tmp_path / "part1.txt", "\n\n".join(documents[:4]) + "\n")
  second = write_text(tmp_path / "part2.txt", "\n\n".join(documents[4:]) + "\n")
  return first, second, documents


def test_num_workers_is_reproducible_and_independent_of_the_worker_count(tmp_path, minilm_dir):
  first, second, _ = _two_files(tmp_path)
  vocab_file = _sample_vocab(minilm_dir)
  extra = ["--dupe_factor=3", "--max_seq_length=64", "--max_predictions_per_seq=10"]
  files = "%s,%s" % (first, second)
  runs = {}
  for name, workers in (("w2a", 2), ("w2b", 2), ("w3", 3)):
    outputs = [tmp_path / ("%s_%d.tfrecord" % (name, i)) for i in range(2)]
    proc = run_ok(flag_args(files, outputs, vocab_file, extra + ["--num_workers=%d" % workers]))
    runs[name] = [sha256(o) for o in outputs]
    total = sum(len(tf_records(str(o))) for o in outputs)
    assert "Wrote %d total instances" % total in proc.stderr
  assert runs["w2a"] == runs["w2b"] == runs["w3"]
  # The per-file stream differs from the original's single stream (documented).
  single = [tmp_path / "single_0.tfrecord", tmp_path / "single_1.tfrecord"]
  run_ok(flag_args(files, single, vocab_file, extra))
  assert [sha256(o) for o in single] != runs["w2a"]


def test_num_workers_draws_random_next_sentences_within_each_file(tmp_path, minilm_dir):
  first, second, _ = _two_files(tmp_path)
  vocab_file = _sample_vocab(minilm_dir)
  out = tmp_path / "out.tfrecord"
  run_ok(flag_args("%s,%s" % (first, second), [out], vocab_file,
                   ["--dupe_factor=4", "--max_seq_length=64", "--num_workers=2"]))
  tokenizer = tokenization.FullTokenizer(vocab_file)
  streams = []
  for file_index, path in enumerate((first, second)):
    with open(path, encoding="utf-8") as f:
      for document in reference_documents(f.read(), tokenizer):
        streams.append((file_index, [t for s in document for t in s]))
  sep = tokenizer.vocab["[SEP]"]
  records = tf_records(str(out))
  file_of_record = []
  for r in records:
    ids = _unmasked(r)
    n = sum(r["input_mask"])
    first_sep = ids.index(sep)
    a, b = ids[1:first_sep], ids[first_sep + 1:n - 1]
    files_a = {f for f, s in streams if find_span(s, a) >= 0}
    files_b = {f for f, s in streams if find_span(s, b) >= 0}
    assert files_a & files_b, "A and B from different input files"
    file_of_record.append(min(files_a))
  # Records are written in input-file order.
  assert file_of_record == sorted(file_of_record) and set(file_of_record) == {0, 1}


# ---------------------------------------------------------------------------------------------------------------
# Bad input: one `error:` line naming the cause, exit status 2, no output file.


@pytest.fixture
def vocab_file(tmp_path):
  with open(os.path.join(FIXTURES, "cpd_original_default.json"), encoding="utf-8") as f:
    vocab = json.load(f)["vocab"]
  return write_text(tmp_path / "vocab.txt", "\n".join(vocab) + "\n")


def _fails(args, *fragments):
  proc = run_cpd(args)
  assert proc.returncode == 2, proc.stderr[-2000:]
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("error: "), last
  for fragment in fragments:
    assert fragment in last, last
  return last


def test_empty_corpus_is_an_error(tmp_path, vocab_file):
  text = write_text(tmp_path / "empty.txt", "\n\n   \n\n")
  out = tmp_path / "out.tfrecord"
  _fails(flag_args(text, [out], vocab_file), "no text")
  assert not os.path.exists(out)


def test_single_document_needs_the_opt_out_flag(tmp_path, vocab_file):
  text = write_text(tmp_path / "one.txt", "The first sentence is here.\nThe second one follows.\nA third.\n")
  out = tmp_path / "out.tfrecord"
  _fails(flag_args(text, [out], vocab_file), "single document", "--allow_single_document")
  assert not os.path.exists(out)
  run_ok(flag_args(text, [out], vocab_file, ["--allow_single_document=true", "--dupe_factor=2"]))
  assert len(tf_records(str(out))) > 0
  # Per-file streams check each file: the error comes back from the worker process, naming the file.
  os.remove(out)
  other = write_text(tmp_path / "two.txt", "One document.\nTwo lines.\n\nAnother document.\nAlso two.\n")
  _fails(flag_args("%s,%s" % (other, text), [out], vocab_file, ["--num_workers=2"]), "one.txt", "single document")
  assert not os.path.exists(out)


def test_vocab_without_mask_token_is_an_error(tmp_path):
  vocab = write_text(tmp_path / "novocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\n")
  out = tmp_path / "out.tfrecord"
  _fails(flag_args(SAMPLE_TEXT, [out], vocab), str(tmp_path / "novocab.txt"), "[MASK]")
  assert not os.path.exists(out)
  # Without [UNK], a word the vocabulary cannot spell is an error naming both files (the original: KeyError).
  vocab = write_text(tmp_path / "nounk.txt", "[PAD]\n[CLS]\n[SEP]\n[MASK]\nthe\n.\n")
  text = write_text(tmp_path / "text.txt", "the the.\nthe.\n\nthe zebra.\nthe.\n")
  _fails(flag_args(text, [out], vocab), str(tmp_path / "nounk.txt"), "[UNK]", "text.txt")
  assert not os.path.exists(out)


def test_missing_input_and_bad_flags(tmp_path, vocab_file):
  out = tmp_path / "out.tfrecord"
  _fails(flag_args(str(tmp_path / "nope-*.txt"), [out], vocab_file), "nope-*.txt", "no file matches")
  _fails(flag_args(str(tmp_path / "missing.txt"), [out], vocab_file), "missing.txt", "no such file")
  _fails(flag_args(SAMPLE_TEXT, [out], vocab_file, ["--max_seq_length=4"]), "--max_seq_length=4")
  _fails(flag_args(SAMPLE_TEXT, [out], vocab_file, ["--dupe_factor=0"]), "--dupe_factor=0")
  _fails(flag_args(SAMPLE_TEXT, [out, out], vocab_file), "given twice")
  config = write_text(tmp_path / "bert_config.json", json.dumps({"max_position_embeddings": 64, "vocab_size": 500}))
  _fails(flag_args(SAMPLE_TEXT, [out], vocab_file, ["--bert_config_file=%s" % config]),
         "--max_seq_length=128", "max_position_embeddings=64")
  assert not os.path.exists(out)


def test_invalid_utf8_names_the_line(tmp_path, vocab_file):
  path = tmp_path / "bad.txt"
  with open(path, "wb") as f:
    f.write(b"A fine line.\nAnother.\n\nThird \xff line.\n")
  _fails(flag_args(str(path), [tmp_path / "out.tfrecord"], vocab_file), str(path), "line 4", "UTF-8")


def test_a_failed_run_leaves_existing_outputs_alone(tmp_path, vocab_file):
  existing = tmp_path / "out.tfrecord"
  with open(existing, "wb") as f:
    f.write(b"previous contents")
  blocked = tmp_path / "a_file"
  write_text(blocked, "x")
  # The second output cannot be created (its folder is a file): nothing is written, the first file is untouched.
  _fails(flag_args(SAMPLE_TEXT, [existing, blocked / "out2.tfrecord"], vocab_file), "cannot create")
  with open(existing, "rb") as f:
    assert f.read() == b"previous contents"
  assert sorted(os.listdir(tmp_path)) == ["a_file", "out.tfrecord", "vocab.txt"]


# ---------------------------------------------------------------------------------------------------------------
# Library level.


def test_inlined_random_draws_match_the_random_module():
  assert cpd._check_inlined_draws()


def test_carriage_returns_are_dropped_like_the_original_reader(tmp_path):
  # TensorFlow's GFile.readline (which the original used) drops every "\r": "a\rb" reads as "ab".
  path = write_text(tmp_path / "crlf.txt", "")
  with open(path, "wb") as f:
    f.write(b"ab\rcd ef\r\n\r\nnext doc\r\nline two")
  lines = [line for _, block in cpd._iter_line_blocks(path) for line in block]
  assert lines == ["abcd ef", "", "next doc", "line two"]


def test_round_robin_writer_is_all_or_nothing(tmp_path):
  paths = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord")]
  with open(paths[0], "wb") as f:
    f.write(b"old")
  with pytest.raises(RuntimeError):
    with tfrecord_io.RoundRobinWriter(paths, batch_size=2) as writer:
      for i in range(7):
        writer.write(b"record %d" % i)
      raise RuntimeError("boom")
  assert sorted(os.listdir(tmp_path)) == ["a.tfrecord"]
  with open(paths[0], "rb") as f:
    assert f.read() == b"old"
  with tfrecord_io.RoundRobinWriter(paths, batch_size=2) as writer:
    for i in range(7):
      writer.write(b"record %d" % i)
  assert [r.numpy() for r in tf.data.TFRecordDataset(paths[0])] == [b"record %d" % i for i in (0, 2, 4, 6)]
  assert [r.numpy() for r in tf.data.TFRecordDataset(paths[1])] == [b"record %d" % i for i in (1, 3, 5)]


def _tf_example(features):
  feature = {}
  for name, (kind, values) in features.items():
    if kind == "int64":
      feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    elif kind == "float":
      feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=values))
    else:
      feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
  return tf.train.Example(features=tf.train.Features(feature=feature))


def _ours(features):
  build = {"int64": tfrecord_io.create_int_feature, "float": tfrecord_io.create_float_feature,
           "bytes": tfrecord_io.create_bytes_feature}
  return tfrecord_io.serialize_example(
      collections.OrderedDict((name, build[kind](values)) for name, (kind, values) in features.items()))


EXAMPLES = [
    {"z": ("int64", [1, 2, 3]), "a": ("int64", []), "m": ("float", [1.0, 0.5, -2.25, 3.4e38, 1e-45]),
     "b": ("bytes", [b"x", b"", b"abc" * 100])},
    {"x": ("int64", [-1, 2 ** 63 - 1, -2 ** 63, 300, 16384, 127, 128, 0, 2 ** 21, 2 ** 35])},
    {"e": ("float", []), "\u00e9t\u00e9": ("bytes", [])},
    {"long": ("int64", list(range(0, 300000, 7)))},
    {},
]


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_example_bytes_equal_tensorflow_deterministic_serialisation(index):
  features = EXAMPLES[index]
  expected = _tf_example(features).SerializeToString(deterministic=True)
  assert _ours(features) == expected
  parsed = tfrecord_io.parse_example(expected)
  want = {k: (kind, list(np.float32(v).tolist()) if kind == "float" else list(v))
          for k, (kind, v) in features.items()}
  assert parsed == want


def test_tfrecord_framing_equals_tensorflow_writer(tmp_path):
  rng = random.Random(3)
  payloads = [_ours(e) for e in EXAMPLES] + [b"", rng.randbytes(5000)] + [
      rng.randbytes(rng.randint(0, 1200)) for _ in range(300)]
  theirs = str(tmp_path / "tf.tfrecord")
  with tf.io.TFRecordWriter(theirs) as writer:
    for p in payloads:
      writer.write(p)
  ours = str(tmp_path / "ours.tfrecord")
  with tfrecord_io.RecordWriter(ours, batch_size=64) as writer:
    for p in payloads:
      writer.write(p)
  with open(theirs, "rb") as a, open(ours, "rb") as b:
    assert a.read() == b.read()
  assert list(tfrecord_io.read_records(ours)) == payloads


def test_crc32c_known_values():
  assert tfrecord_io.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
  assert tfrecord_io.crc32c(b"") == 0
  blobs = [bytes(range(n % 256)) * (n // 50 + 1) for n in range(0, 700, 13)] + [b"", b"\x00" * 9]
  assert tfrecord_io.crc32c_many(blobs) == [tfrecord_io.crc32c(b) for b in blobs]


def test_corrupt_record_is_reported(tmp_path):
  path = str(tmp_path / "x.tfrecord")
  with tfrecord_io.RecordWriter(path) as writer:
    for i in range(5):
      writer.write(b"payload number %d" % i)
  with open(path, "r+b") as f:
    data = bytearray(f.read())
    data[-10] ^= 0xFF  # inside the last payload
    f.seek(0)
    f.write(data)
  with pytest.raises(errors.UserError, match="record 5: corrupt data"):
    list(tfrecord_io.read_records(path))
  with open(path, "r+b") as f:
    f.truncate(len(data) - 3)
  with pytest.raises(errors.UserError, match="record 5: truncated"):
    list(tfrecord_io.read_records(path, verify=False))


@pytest.mark.parametrize("whole_word", [False, True])
def test_inlined_draws_give_the_records_of_random_module_methods(whole_word, tmp_path, monkeypatch):
  """The builder's inlined getrandbits draws against random.Random.shuffle/randrange themselves."""
  fixture, input_file, vocab_file, _ = fixture_setup("wwm", tmp_path)
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
  info = cpd.VocabInfo(tokenizer.vocab, vocab_file)
  documents = cpd.remove_empty_documents(cpd.read_documents([input_file], tokenizer))
  config = cpd.InstanceConfig(48, 0.3, 0.2, 8, whole_word)
  results = []
  for inlined in (True, False):
    monkeypatch.setattr(cpd, "_INLINED_DRAWS_OK", inlined)
    rng = random.Random(99)
    builder = cpd.InstanceBuilder(config, info, rng)
    assert builder.fast is inlined
    results.append(cpd.create_training_records([list(d) for d in documents], builder, 3, rng, show_progress=False))
    results.append(rng.getstate())
  assert results[0] == results[2] and len(results[0]) > 100
  assert results[1] == results[3]


def test_framed_records_written_round_robin_equal_tensorflow_files(tmp_path):
  payloads = [b"payload %d" % i * (i % 7) for i in range(23)]
  paths = [str(tmp_path / "a.tfrecord"), str(tmp_path / "b.tfrecord"), str(tmp_path / "c.tfrecord")]
  framed = tfrecord_io.frame_each(payloads)
  assert [tfrecord_io.unframe(f) for f in framed] == payloads
  with tfrecord_io.RoundRobinWriter(paths) as writer:
    writer.write(payloads[0])
    writer.write_framed_many(framed[1:10])
    writer.write_many(payloads[10:])
  for k, path in enumerate(paths):
    reference = str(tmp_path / ("tf%d.tfrecord" % k))
    with tf.io.TFRecordWriter(reference) as tf_writer:
      for p in payloads[k::3]:
        tf_writer.write(p)
    with open(path, "rb") as a, open(reference, "rb") as b:
      assert a.read() == b.read()
