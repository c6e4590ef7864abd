"""Tests for build_vocab.py: BERT's vocab.txt layout, round trip through our FullTokenizer, fragmentation against
MiniLM's general-domain (BERT uncased) vocabulary, and the end-to-end use as --vocab_file.

References are independent of the code under test: the MiniLM vocab.txt for the layout, tokenization.FullTokenizer
run line by line for token counts, biomedical words taken from the entity annotations of the NER sets.
"""

import collections
import glob
import os
import re
import subprocess
import sys

import pytest

import build_vocab
import prepare_corpus
import tokenization

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def medline_text(shared_data, tmp_path_factory):
  """The MEDLINE sample file prepared by prepare_corpus.py; returns the shard paths."""
  out = str(tmp_path_factory.mktemp("medline_text"))
  summary = prepare_corpus.prepare(os.path.join(shared_data, "corpus", "pubmed", "medline16n0902.xml.gz"), out)
  return [os.path.join(out, name) for name in summary["shard_files"]]


@pytest.fixture(scope="module")
def medline_lines(medline_text):
  lines = []
  for path in medline_text:
    with open(path, encoding="utf-8") as f:
      lines.extend(line.strip() for line in f if line.strip())
  return lines


@pytest.fixture(scope="module")
def built(medline_text, tmp_path_factory):
  """A 30522-line uncased vocabulary built from the MEDLINE text with the default settings, via the CLI."""
  path = str(tmp_path_factory.mktemp("vocab") / "vocab.txt")
  result = subprocess.run([sys.executable, os.path.join(ROOT, "build_vocab.py"), "--input_file=" + medline_text[0],
                           "--output_file=" + path, "--vocab_size=30522", "--num_workers=2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().splitlines()[-1].startswith("build_vocab: vocab_size=30522 ")
  return path


def _lines(path):
  with open(path, encoding="utf-8") as f:
    return f.read().split("\n")[:-1]


def test_layout_matches_bert_uncased(built, minilm_dir):
  ours, bert = _lines(built), _lines(os.path.join(minilm_dir, "vocab.txt"))
  assert len(ours) == 30522 and len(set(ours)) == len(ours)
  first = bert.index("!")  # BERT uncased: specials and [unusedN] up to line 999, then the characters
  assert ours[:first] == bert[:first]
  rest = ours[first:]
  # Then: single characters (code-point order), learned tokens, "##" + each character, and -- the sample is too
  # small for 30522 tokens -- further [unusedN] filling the file up.
  n_pad = sum(t.startswith("[unused") for t in rest)
  body, padding = rest[:len(rest) - n_pad], rest[len(rest) - n_pad:]
  assert padding == ["[unused%d]" % i for i in range(994, 994 + n_pad)]
  singles = [t for t in body if len(t) == 1]
  continuations = [t for t in body if t.startswith("##") and len(t) == 3]
  assert body[:len(singles)] == sorted(singles)
  assert body[len(body) - len(continuations):] == sorted(continuations)
  assert {t[2:] for t in continuations} == set(singles)  # every character also as a "##" piece
  learned = body[len(singles):len(body) - len(continuations)]
  assert len(learned) > 10000 and all(len(t[2:] if t.startswith("##") else t) >= 2 for t in learned)


def test_pre_tokenization_is_basic_tokenizer(medline_lines, medline_text):
  """The word counts equal BasicTokenizer(do_lower_case).tokenize over every line, for both casings."""
  for lower in (True, False):
    basic = tokenization.BasicTokenizer(do_lower_case=lower)
    expected = collections.Counter()
    for line in medline_lines:
      expected.update(basic.tokenize(line))
    assert build_vocab.count_basic_tokens(medline_text, lower, num_workers=2) == expected
  # Non-ASCII and control characters go through the tokenizer's own cleaning.
  odd = ["Na\u00efve T\u2009cells\x1ewere \u00c9TUDI\u00c9es; \u535a\u63a8 x\u200by"]
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  counter = build_vocab._BasicCounter(True)  # pylint: disable=protected-access
  assert counter.expand(counter.count_raw(odd)) == collections.Counter(basic.tokenize(odd[0]))


def test_round_trip_with_full_tokenizer(built, medline_lines):
  tokenizer = tokenization.FullTokenizer(built, do_lower_case=True)
  tokens = [t for line in medline_lines for t in tokenizer.tokenize(line)]
  assert tokens.count("[UNK]") / len(tokens) < 1e-3
  ids = tokenizer.convert_tokens_to_ids(tokens)
  assert max(ids) < 30522 and min(ids) >= 0


def _fragmentation_by_full_tokenizer(vocab_file, words):
  """(pieces per word, share of words in >= 3 pieces) over `words` (a list, with repeats), by FullTokenizer."""
  tokenizer = tokenization.FullTokenizer(vocab_file, do_lower_case=True)
  pieces = [len(tokenizer.tokenize(w)) for w in words]
  return sum(pieces) / len(pieces), sum(p >= 3 for p in pieces) / len(pieces)


def _ner_entity_words(shared_data):
  """Lower-cased alphabetic words (>= 5 letters) tagged B/I (inside an entity) in the NER training sets."""
  words = set()
  for path in glob.glob(os.path.join(shared_data, "NER", "*", "train.tsv")):
    with open(path, encoding="utf-8") as f:
      for line in f:
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 2 and parts[1][:1] in ("B", "I") and re.match(r"^[A-Za-z]{5,}$", parts[0]):
          words.add(parts[0].lower())
  return words


def test_new_vocab_fragments_biomedical_words_less_than_bert(built, minilm_dir, medline_lines, shared_data):
  general = os.path.join(minilm_dir, "vocab.txt")
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  running = [t for line in medline_lines for t in basic.tokenize(line) if re.search(r"[^\W_]", t)]
  # All running words of the text.
  ours, theirs = _fragmentation_by_full_tokenizer(built, running), _fragmentation_by_full_tokenizer(general, running)
  assert ours[0] < theirs[0] - 0.1 and ours[1] < theirs[1] / 2, (ours, theirs)
  # Biomedical words of the same text: its words that the NER sets annotate inside entities.
  entity_words = _ner_entity_words(shared_data)
  biomedical = [w for w in running if w in entity_words]
  assert len(set(biomedical)) > 300
  ours, theirs = (_fragmentation_by_full_tokenizer(built, biomedical),
                  _fragmentation_by_full_tokenizer(general, biomedical))
  assert ours[0] < theirs[0] - 0.3 and ours[1] < theirs[1] / 2, (ours, theirs)
  # The report's own numbers agree with the FullTokenizer count.
  report = build_vocab.compare([general, built], [True, True], [_write(medline_lines)], num_workers=1)
  assert report[1]["corpus"]["pieces_per_word"] == pytest.approx(
      _fragmentation_by_full_tokenizer(built, running)[0], rel=1e-9)
  assert report[0]["corpus"]["split3_rate"] == pytest.approx(
      _fragmentation_by_full_tokenizer(general, running)[1], rel=1e-9)


def _write(lines, _cache={}):  # pylint: disable=dangerous-default-value
  key = id(lines)
  if key not in _cache:
    import tempfile  # pylint: disable=g-import-not-at-top
    handle, path = tempfile.mkstemp(suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as f:
      f.write("\n".join(lines) + "\n")
    _cache[key] = path
  return _cache[key]


def test_same_text_gives_same_vocab_and_cased_vocab_keeps_case(medline_text, medline_lines, tmp_path):
  counts = build_vocab.count_basic_tokens(medline_text, False)
  first = build_vocab.build_vocab(counts, 8000, num_unused=10, pad_to_size=False)
  second = build_vocab.build_vocab(collections.Counter(dict(reversed(list(counts.items())))), 8000, num_unused=10,
                                   pad_to_size=False)
  assert first == second and len(first) == 8000
  assert first[:15] == ["[PAD]"] + ["[unused%d]" % i for i in range(10)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  assert "The" in first and "DNA" in first
  path = str(tmp_path / "cased.txt")
  build_vocab.write_vocab(first, path)
  tokenizer = tokenization.FullTokenizer(path, do_lower_case=False)
  tokens = [t for line in medline_lines[:2000] for t in tokenizer.tokenize(line)]
  assert tokens.count("[UNK]") / len(tokens) < 1e-3


def test_compare_cli_and_errors(built, minilm_dir, medline_text, tmp_path):
  words = tmp_path / "terms.txt"
  words.write_text("immunohistochemistry\nglucocorticoid\nhepatocellular\nacetyltransferase\n")
  report = str(tmp_path / "report.json")
  script = os.path.join(ROOT, "build_vocab.py")
  result = subprocess.run([sys.executable, script, "--input_file=" + medline_text[0],
                           "--compare_vocab_files=%s,%s" % (os.path.join(minilm_dir, "vocab.txt"), built),
                           "--word_list_file=" + str(words), "--report_file=" + report, "--num_workers=1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr
  assert "word list: 4 running words" in result.stdout
  assert result.stdout.strip().splitlines()[-1].startswith("build_vocab compare: ")
  assert os.path.getsize(report) > 0
  for args, message in (
      (["--input_file=/nonexistent/x.txt", "--output_file=" + str(tmp_path / "v.txt")], "no such file"),
      (["--input_file=" + medline_text[0], "--output_file=" + str(tmp_path / "v.txt"), "--vocab_size=500"],
       "too small"),
      (["--input_file=" + medline_text[0]], "--output_file"),
  ):
    result = subprocess.run([sys.executable, script] + args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 2 and message in result.stderr and result.stderr.startswith("error:"), result.stderr
  assert not os.path.exists(tmp_path / "v.txt")


def test_does_not_import_tensorflow():
  code = "import sys, build_vocab; print('tensorflow' in sys.modules)"
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.stdout.strip() == "False", result.stderr


def test_new_vocab_works_as_vocab_file_end_to_end(built, medline_text, tmp_path):
  script = os.path.join(ROOT, "create_pretraining_data.py")
  if not os.path.exists(script):
    pytest.skip("create_pretraining_data.py is not in the project yet")
  record = str(tmp_path / "medline.tfrecord")
  result = subprocess.run(
      [sys.executable, script, "--input_file=" + medline_text[0], "--output_file=" + record,
       "--vocab_file=" + built, "--do_lower_case=true", "--max_seq_length=128", "--max_predictions_per_seq=20",
       "--dupe_factor=1"], capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  match = re.search(r"Wrote (\d+) total instances", result.stdout + result.stderr)
  assert match and int(match.group(1)) > 500
