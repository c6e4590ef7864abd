# coding=utf-8
"""Tests for tokenization.py.

References: the original tokenizer's own test vectors and BioBERT's control-character rule (both in the spec of
the original behaviour), and the Hugging Face `tokenizers` BertWordPiece pipeline, an independent implementation,
on text where its character definitions and ours agree. The fast batch path is checked token for token against
the reference path on real biomedical text (the NER sets, MEDLINE, PMC) and on an adversarial Unicode set.
"""

import glob
import gzip
import os
import random
import unicodedata
import xml.etree.ElementTree as ET

import pytest

import errors
import tokenization

SPEC_VOCAB = ["[UNK]", "[CLS]", "[SEP]", "want", "##want", "##ed", "wa", "un", "runn", "##ing", ","]


def _write_vocab(directory, tokens, name="vocab.txt"):
  path = os.path.join(str(directory), name)
  with open(path, "w", encoding="utf-8", newline="\n") as f:
    f.write("".join(token + "\n" for token in tokens))
  return path


def _write_bytes(directory, data, name="vocab.txt"):
  path = os.path.join(str(directory), name)
  with open(path, "wb") as f:
    f.write(data)
  return path


@pytest.fixture
def spec_tokenizer(tmp_path):
  return tokenization.FullTokenizer(_write_vocab(tmp_path, SPEC_VOCAB))


# ---------------------------------------------------------------------------------------------------------------
# The original's test vectors (spec §2) and BioBERT's control rule (spec §16 item 1).


def test_full_tokenizer(spec_tokenizer):
  tokens = spec_tokenizer.tokenize(u"UNwant\u00E9d,running")
  assert tokens == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert spec_tokenizer.convert_tokens_to_ids(tokens) == [7, 4, 5, 10, 8, 9]
  assert spec_tokenizer.convert_ids_to_tokens([7, 4, 5, 10, 8, 9]) == tokens
  assert spec_tokenizer.tokenize_batch([u"UNwant\u00E9d,running"]) == [tokens]
  assert spec_tokenizer.tokenize_batch_to_ids([u"UNwant\u00E9d,running"]) == [[7, 4, 5, 10, 8, 9]]


def test_bytes_input_is_utf8(spec_tokenizer):
  text = u"UNwant\u00E9d,running".encode("utf-8") + b"\xff"  # invalid bytes are dropped
  assert spec_tokenizer.tokenize(text) == ["un", "##want", "##ed", ",", "runn", "##ing"]
  assert spec_tokenizer.tokenize_batch([text]) == [["un", "##want", "##ed", ",", "runn", "##ing"]]


def test_chinese():
  tokenizer = tokenization.BasicTokenizer()
  assert tokenizer.tokenize(u"ah\u535A\u63A8zz") == [u"ah", u"\u535A", u"\u63A8", u"zz"]


def test_basic_tokenizer_lower():
  tokenizer = tokenization.BasicTokenizer(do_lower_case=True)
  assert tokenizer.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == ["hello", "!", "how", "are", "you", "?"]
  assert tokenizer.tokenize(u"H\u00E9llo") == ["hello"]


def test_basic_tokenizer_no_lower():
  tokenizer = tokenization.BasicTokenizer(do_lower_case=False)
  assert tokenizer.tokenize(u" \tHeLLo!how  \n Are yoU?  ") == ["HeLLo", "!", "how", "Are", "yoU", "?"]


def test_biobert_drops_every_c_category():
  no_lower = tokenization.BasicTokenizer(do_lower_case=False)
  assert no_lower.tokenize(u"abc \ue000 def") == ["abc", "def"]  # Co (private use); Google's later rule keeps it
  assert no_lower.tokenize(u"x\u0378y") == ["xy"]  # Cn (unassigned)
  assert no_lower.tokenize(u"a\u200Bb") == ["ab"]  # Cf (zero-width space)
  assert no_lower.tokenize(u"a\ud800b") == ["ab"]  # Cs (lone surrogate)
  assert no_lower.tokenize(u"a\U000F0000b\U0010FFFDc") == ["abc"]  # Co, supplementary planes
  assert no_lower.tokenize(u"a\x00b\ufffdc\x7fd") == ["abcd"]  # NUL, U+FFFD, DEL
  assert no_lower.tokenize(u"a\x0bb\x1cc") == ["abc"]  # Cc that Python's str.split() would treat as whitespace


def test_no_special_token_protection():
  assert tokenization.BasicTokenizer(True).tokenize(u"[CLS] x [SEP]") == ["[", "cls", "]", "x", "[", "sep", "]"]


def test_wordpiece_tokenizer():
  vocab = {token: i for i, token in enumerate(SPEC_VOCAB)}
  tokenizer = tokenization.WordpieceTokenizer(vocab=vocab)
  assert tokenizer.tokenize(u"") == []
  assert tokenizer.tokenize(u"unwanted running") == ["un", "##want", "##ed", "runn", "##ing"]
  assert tokenizer.tokenize(u"unwantedX running") == ["[UNK]", "runn", "##ing"]


def test_wordpiece_max_input_chars_per_word():
  tokenizer = tokenization.WordpieceTokenizer(vocab={"a": 0, "##a": 1, "[UNK]": 2})
  assert tokenizer.tokenize(u"a" * 200) == ["a"] + ["##a"] * 199
  assert tokenizer.tokenize(u"a" * 201) == ["[UNK]"]
  # One position without a match makes the whole word [UNK] ("##a" is absent here).
  assert tokenization.WordpieceTokenizer({"a": 0}).tokenize(u"a aa") == ["a", "[UNK]"]
  assert tokenization.WordpieceTokenizer({"a": 0, "##a": 1}, max_input_chars_per_word=3).tokenize(
      u"aaaa aaa") == ["[UNK]", "a", "##a", "##a"]


def test_convert_tokens_to_ids():
  vocab = {token: i for i, token in enumerate(SPEC_VOCAB)}
  assert tokenization.convert_tokens_to_ids(vocab, ["un", "##want", "##ed", "runn", "##ing"]) == [7, 4, 5, 8, 9]
  with pytest.raises(KeyError):
    tokenization.convert_tokens_to_ids(vocab, ["nope"])


def test_is_whitespace():
  for char in (u" ", u"\t", u"\r", u"\n", u"\u00A0", u"\u3000", u"\u2009"):
    assert tokenization._is_whitespace(char)
  for char in (u"A", u"-", u"\u2028", u"\x0b"):
    assert not tokenization._is_whitespace(char)


def test_is_control():
  assert tokenization._is_control(u"\u0005")
  for char in (u"\u200B", u"\u00AD", u"\ue000", u"\U000F0000", u"\u0378", u"\uFFFE", u"\ud800"):  # Cf Co Cn Cs
    assert tokenization._is_control(char), repr(char)
  for char in (u"A", u" ", u"\t", u"\r", u"\n", u"\U0001F4A9"):
    assert not tokenization._is_control(char), repr(char)


def test_is_punctuation():
  for char in (u"-", u"$", u"`", u".", u"+", u"<", u"=", u">", u"^", u"|", u"~", u"\u00BF", u"\u3002", u"\u2013"):
    assert tokenization._is_punctuation(char), repr(char)
  for char in (u"A", u" ", u"\u00B1", u"\u20AC", u"\u00A9"):  # ±, €, © are symbols (S*), not punctuation
    assert not tokenization._is_punctuation(char), repr(char)


def test_whitespace_tokenize_and_unicode_helpers():
  assert tokenization.whitespace_tokenize(u"  a \t b\n") == ["a", "b"]
  assert tokenization.whitespace_tokenize(u"   ") == []
  assert tokenization.convert_to_unicode(b"caf\xc3\xa9\xff") == u"caf\u00e9"
  assert tokenization.printable_text(b"caf\xc3\xa9") == u"caf\u00e9"
  with pytest.raises(ValueError):
    tokenization.convert_to_unicode(3)


def test_validate_case_matches_checkpoint():
  tokenization.validate_case_matches_checkpoint(True, None)
  tokenization.validate_case_matches_checkpoint(False, "biobert_v1.1_pubmed/model.ckpt-1000000")
  tokenization.validate_case_matches_checkpoint(True, "/m/uncased_L-12_H-768_A-12/bert_model.ckpt")
  tokenization.validate_case_matches_checkpoint(False, "/m/cased_L-12_H-768_A-12/bert_model.ckpt")
  with pytest.raises(ValueError, match="--do_lower_case=False"):
    tokenization.validate_case_matches_checkpoint(False, "/m/uncased_L-12_H-768_A-12/bert_model.ckpt")
  with pytest.raises(errors.UserError, match="seems to be a cased model"):
    tokenization.validate_case_matches_checkpoint(True, "/m/multi_cased_L-12_H-768_A-12/bert_model.ckpt")


# ---------------------------------------------------------------------------------------------------------------
# Vocabulary files.


def test_load_vocab_keeps_the_original_line_rules(tmp_path):
  # strip() per line, "\r\n" endings, a blank line is the token "" with its own id, no final newline needed,
  # and only "\n" ends a line (U+2028 inside a token stays).
  path = _write_bytes(tmp_path, u"[PAD]\r\n  a  \n\nb\u2028c\n\u00e9".encode("utf-8"))
  vocab = tokenization.load_vocab(path)
  assert list(vocab.items()) == [("[PAD]", 0), ("a", 1), ("", 2), (u"b\u2028c", 3), (u"\u00e9", 4)]


def test_load_vocab_duplicates_original_behaviour_on_request(tmp_path):
  path = _write_vocab(tmp_path, ["a", "b", "a", "c"])
  vocab = tokenization.load_vocab(path, allow_duplicates=True)
  assert list(vocab.items()) == [("a", 2), ("b", 1), ("c", 3)]


def test_vocab_missing_is_a_user_error(tmp_path):
  path = os.path.join(str(tmp_path), "nope", "vocab.txt")
  with pytest.raises(errors.UserError, match="not found") as e:
    tokenization.FullTokenizer(path)
  assert path in str(e.value) and "\n" not in str(e.value)
  with pytest.raises(errors.UserError, match="directory"):
    tokenization.load_vocab(str(tmp_path))


@pytest.mark.parametrize("content", [b"", b"\n", b" \n\t\n"])
def test_vocab_empty_is_a_user_error(tmp_path, content):
  path = _write_bytes(tmp_path, content)
  with pytest.raises(errors.UserError) as e:
    tokenization.FullTokenizer(path)
  assert path in str(e.value)
  assert "empty" in str(e.value) or "duplicate" in str(e.value)


def test_vocab_duplicate_is_a_user_error(tmp_path):
  path = _write_vocab(tmp_path, ["[PAD]", "[UNK]", "gene", "##s", "gene", "x"])
  with pytest.raises(errors.UserError) as e:
    tokenization.FullTokenizer(path)
  message = str(e.value)
  assert path in message and "'gene'" in message and "line 5" in message and "line 3" in message
  assert "\n" not in message


def test_vocab_not_utf8_is_a_user_error(tmp_path):
  path = _write_bytes(tmp_path, b"a\nb\xff\n")
  with pytest.raises(errors.UserError, match="line 2") as e:
    tokenization.load_vocab(path)
  assert path in str(e.value)


def test_unknown_token_absent_from_vocab_raises_key_error_on_ids(tmp_path):
  tokenizer = tokenization.FullTokenizer(_write_vocab(tmp_path, ["a", "##b"]))
  assert tokenizer.tokenize(u"ab zz") == ["a", "##b", "[UNK]"]
  assert tokenizer.tokenize_batch([u"ab zz"]) == [["a", "##b", "[UNK]"]]
  with pytest.raises(KeyError):
    tokenizer.convert_tokens_to_ids(tokenizer.tokenize(u"ab zz"))
  with pytest.raises(KeyError):
    tokenizer.tokenize_batch_to_ids([u"ab zz"])


# ---------------------------------------------------------------------------------------------------------------
# Fast path == reference path.


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))

_CHARACTER_CLASSES = {
    "Cn": u"\u0378\u0379\u0380\uFFFE\uFFFF\U0001FFFE\U00031350\U000E0080",
    "Co": u"\uE000\uF8FF\U000F0000\U000FFFFD\U00100000\U0010FFFD",
    "Cs": u"\uD800\uDBFF\uDC00\uDFFF",
    "Cf": (u"\u00AD\u0600\u061C\u06DD\u0890\u180E\u200B\u200C\u200D\u200E\u200F\u202A\u202E\u2060\u2066\uFEFF"
           u"\U000110BD\U0001D173\U000E0001\U000E007F"),
    "Cc": u"\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1c\x1d\x1e\x1f\x7f\x80\x85\x9f",
    "spaces": (u" \t\n\r\u00A0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u202F"
               u"\u205F\u3000\u2028\u2029"),
    "marks": u"\u0300\u0301\u0302\u0308\u030A\u0327\u0345\u0489\u20DD\u20E3\u0903\uFE0F\U000E0100",
    "replacement": u"\uFFFD\x00",
    "cased": (u"\u00C0\u00C1\u00C2\u00C3\u00C4\u00C5\u00C6\u00C7\u00C8\u00C9\u00CA\u00CB\u00CC\u00CD\u00CE\u00CF"
              u"\u00D0\u00D1\u00D2\u00D3\u00D4\u00D5\u00D6\u00D8\u00D9\u00DA\u00DB\u00DC\u00DD\u00DE\u00DF"
              u"\u00E0\u00E9\u00EE\u00F5\u00FC\u00E7\u00F1\u0130\u0131\u1E9E\u212A\u212B\u01C4\u01C5\u01C6"
              u"\u03A3\u03C2\uFB01\uFB03\u0149\u1F88\u2126\u0390\u0391\u0392\u0393\u0394\u03A9"),
    "punctuation": (u"_\u203F\u2040-\u2010\u2013\u2014([{)]}\u300C\u300D\u00AB\u00BB\u201C\u201D\u2018\u2019"
                    u"!\"#%&'*,./:;?@\\\u00A1\u00BF\u00A7\u00B6\u00B7\u2032\u2026\u3001\u3002\u055D\u060C"
                    u"\u037E\u1FEF\uFF01\uFF08"),
    "symbols": u"$+<=>^`|~\u00A9\u00AE\u00B0\u00B1\u00D7\u00F7\u20AC\u00A3\u00A5\u2122\u221E\u2211\u00B5\u00B2\u00BD",
    "emoji": u"\U0001F600\U0001F44D\U0001F3FD\U0001F468\U0001F469\U0001F467\U0001F1FA\U0001F1F8\u2764\U0001F4A9",
    "scripts": u"\uAC00\uD55C\u3042\u30AB\u30FC\u0627\u0644\u0915\u093F\u0E01\u0E34\u05D0\u0416\u0436\u10D0\u1100",
    "cjk": u"".join(chr(cp) for lo, hi in _CJK_RANGES for cp in (lo - 1, lo, lo + 1, hi - 1, hi, hi + 1))
           + u"\u535A\u63A8\u3005\u3007\u2E80\u2F00\u31C0\u3280\uFF10\U0002FA1D",
}


def _adversarial_texts():
  """Texts built to hit every branch where a careless reimplementation could differ."""
  texts = []
  for _, chars in sorted(_CHARACTER_CLASSES.items()):
    texts += [chars, u" ".join(chars), u"a".join(chars) + u"a", u"Abc" + chars + u"Xyz def"]
  texts += [
      u"UNwant\u00E9d,running", u" \tHeLLo!how  \n Are yoU?  ", u"H\u00E9llo", u"ah\u535A\u63A8zz",
      u"abc \ue000 def", u"x\u0378y", u"a\u200Bb", u"[CLS] [SEP] [MASK] [UNK] [PAD] ##ing ##", u"", u"   ",
      u"\x00", u"\uFFFD", u"\u0301", u"\u0301abc", u"e\u0301",
      u"\u0130stanbul \u0130\u0130\u0130", u"\u0130" * 150, u"\u0130" * 101,  # lower() makes 2 chars of one
      u"e\u0301" * 101, u"e\u0301" * 150,  # > 200 chars before accent stripping, <= 200 after
      u"\u039F\u0394\u039F\u03A3 \u039F\u0394\u039F\u03A3. \u0391\u03A3-\u0391\u03A3\u0391 \u03A3 \u03A3\u0391",
      u"\U0001F468\u200D\U0001F469\u200D\U0001F467", u"\U0001F44D\U0001F3FD \U0001F1FA\U0001F1F8 \u2764\uFE0F",
      u"IL-2 p53 TNF-\u03B1 Ca2+ 5\u2032-UTR \u03BCg/ml 37\u00B0C", u"\u535A" * 300,
      u"a" * 200 + u"." + u"b" * 201,
  ]
  for n in (1, 99, 100, 101, 199, 200, 201, 202, 250, 400):
    texts += [u"a" * n, u"abc" * (n // 3) + u"a" * (n % 3), u"x" * n + u" tail", u"\u00E9" * n, u"Q" * n]
  rng = random.Random(1234)
  pool = (u"".join(_CHARACTER_CLASSES.values()) +
          u"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" * 3 + u"     ")
  for _ in range(3000):
    texts.append(u"".join(rng.choice(pool) for _ in range(rng.randint(1, 40))))
  return texts


def _medline_texts(shared_data):
  """Titles and abstract paragraphs of the MEDLINE/PubMed XML files (gzipped or not)."""
  texts = []
  for path in sorted(glob.glob(os.path.join(shared_data, "corpus", "pubmed", "*.xml*"))):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
      root = ET.parse(f).getroot()
    for element in root.iter():
      if element.tag in ("ArticleTitle", "AbstractText"):
        text = u"".join(element.itertext())
        if text.strip():
          texts.append(text)
  return texts


def _pmc_texts(shared_data):
  """Every non-blank text node of the PMC Open Access .nxml articles."""
  texts = []
  for path in sorted(glob.glob(os.path.join(shared_data, "corpus", "pmc_oa", "*.nxml"))):
    texts += [text for text in ET.parse(path).getroot().itertext() if text.strip()]
  return texts


def _ner_words_and_sentences(shared_data):
  """(distinct first-column words, a sample of sentences re-joined with spaces) of every NER .tsv file."""
  words, sentences, current = set(), [], []
  for path in sorted(glob.glob(os.path.join(shared_data, "NER", "*", "*.tsv"))):
    with open(path, encoding="utf-8") as f:
      for line in f:
        line = line.rstrip("\n")
        if line.strip():
          word = line.split("\t")[0]
          words.add(word)
          current.append(word)
        elif current:
          sentences.append(u" ".join(current))
          current = []
    if current:
      sentences.append(u" ".join(current))
      current = []
  return sorted(words), sentences[::60]


@pytest.fixture(scope="module")
def real_texts(shared_data):
  words, sentences = _ner_words_and_sentences(shared_data)
  texts = {"ner_words": words, "ner_sentences": sentences, "medline": _medline_texts(shared_data),
           "pmc": _pmc_texts(shared_data)}
  assert len(words) > 50000 and len(sentences) > 2000
  assert len(texts["medline"]) > 1000 and len(texts["pmc"]) > 5000
  return texts


@pytest.fixture(scope="module")
def minilm_vocab(minilm_dir):
  return os.path.join(minilm_dir, "vocab.txt")


@pytest.fixture(scope="module")
def cased_vocab(minilm_vocab, tmp_path_factory):
  """The MiniLM vocabulary plus capitalised/upper-case and accented variants, so that cased text has matches."""
  tokens = list(tokenization.load_vocab(minilm_vocab))
  seen = set(tokens)
  extra = []
  for token in tokens:
    stem = token[2:] if token.startswith("##") else token
    if not stem.isalpha() or token.startswith("["):
      continue
    for variant in (stem.capitalize(), stem.upper()):
      candidate = (u"##" + variant) if token.startswith("##") else variant
      if candidate not in seen:
        seen.add(candidate)
        extra.append(candidate)
  for token in (u"\u00C9", u"##\u00E9", u"caf\u00E9", u"\u03A3", u"##\u03C2", u"\u0130", u"##\u0307", u"\u00DF"):
    if token not in seen:
      seen.add(token)
      extra.append(token)
  return _write_vocab(tmp_path_factory.mktemp("cased"), tokens + extra)


def _assert_fast_equals_reference(tokenizer, texts, label):
  reference = [tokenizer.tokenize(text) for text in texts]
  for attempt in ("cold", "warm"):
    fast = tokenizer.tokenize_batch(texts)
    assert len(fast) == len(texts)
    for text, want, got in zip(texts, reference, fast):
      assert got == want, "%s (%s cache): %r -> fast %r, reference %r" % (label, attempt, text, got, want)
  if tokenizer.wordpiece_tokenizer.unk_token in tokenizer.vocab:
    ids = tokenizer.tokenize_batch_to_ids(texts)
    assert ids == [tokenizer.convert_tokens_to_ids(tokens) for tokens in reference], label
  return reference


@pytest.mark.parametrize("vocab_name", ["minilm", "cased"])
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_fast_path_equals_reference_on_real_text(vocab_name, do_lower_case, real_texts, minilm_vocab, cased_vocab):
  vocab = minilm_vocab if vocab_name == "minilm" else cased_vocab
  tokenizer = tokenization.FullTokenizer(vocab, do_lower_case=do_lower_case)
  total_unk = total = 0
  for label, texts in sorted(real_texts.items()):
    reference = _assert_fast_equals_reference(tokenizer, texts, "%s/%s/lower=%s" % (label, vocab_name, do_lower_case))
    total += sum(len(tokens) for tokens in reference)
    total_unk += sum(tokens.count("[UNK]") for tokens in reference)
  # The vocabulary fits the text: an all-[UNK] run would compare little. (The uncased vocabulary on cased text
  # has no capital letters: ~15% [UNK].)
  assert total > 300000 and total_unk < 0.2 * total


@pytest.mark.parametrize("vocab_name", ["minilm", "cased"])
@pytest.mark.parametrize("do_lower_case", [True, False])
def test_fast_path_equals_reference_on_adversarial_unicode(vocab_name, do_lower_case, minilm_vocab, cased_vocab):
  vocab = minilm_vocab if vocab_name == "minilm" else cased_vocab
  tokenizer = tokenization.FullTokenizer(vocab, do_lower_case=do_lower_case)
  texts = _adversarial_texts()
  _assert_fast_equals_reference(tokenizer, texts, "adversarial/%s/lower=%s" % (vocab_name, do_lower_case))
  # The same texts again as UTF-8 bytes (lone surrogates cannot be encoded, so leave those out).
  encodable = [text for text in texts if not any(0xD800 <= ord(c) <= 0xDFFF for c in text)]
  assert tokenizer.tokenize_batch([text.encode("utf-8") for text in encodable]) == tokenizer.tokenize_batch(encodable)


def test_fast_path_cache_eviction_and_case_change(monkeypatch, minilm_vocab):
  monkeypatch.setattr(tokenization, "_FAST_CACHE_LIMIT", 7)
  tokenizer = tokenization.FullTokenizer(minilm_vocab, do_lower_case=True)
  texts = [u"The BRCA1 gene, and TNF-\u03B1 in c\u00E9lls.", u"Hello World", u"Hello", u"WORLD"] * 5
  _assert_fast_equals_reference(tokenizer, texts, "evicting")
  tokenizer.basic_tokenizer.do_lower_case = False
  _assert_fast_equals_reference(tokenizer, texts, "case changed")
  assert tokenizer.tokenize_batch(iter(texts[:2])) == [tokenizer.tokenize(t) for t in texts[:2]]


# ---------------------------------------------------------------------------------------------------------------
# An independent reference: Hugging Face `tokenizers` (BertNormalizer + BertPreTokenizer + WordPiece).


def _hf_bert_wordpiece(vocab, do_lower_case):
  tokenizers = pytest.importorskip("tokenizers")
  tokenizer = tokenizers.Tokenizer(tokenizers.models.WordPiece(
      dict(vocab), unk_token="[UNK]", max_input_chars_per_word=200))
  tokenizer.normalizer = tokenizers.normalizers.BertNormalizer(
      clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=do_lower_case)
  tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
  return tokenizer


def _hf_comparable(text, do_lower_case):
  """Whether both implementations define every character of `text` the same way.

  Both follow the same rules but disagree where their Unicode data do: `tokenizers` keeps unassigned code points
  (BioBERT deletes every C* category), cannot take lone surrogates, has its own Unicode version, and lower-cases
  a final capital sigma without context. Characters already assigned, with the same category, in Unicode 3.2
  (Python ships that table too) are defined identically by both.
  """
  for char in text:
    category = unicodedata.category(char)
    if category in ("Cn", "Cs") or unicodedata.ucd_3_2_0.category(char) != category:
      return False
    if do_lower_case and char == u"\u03A3":
      return False
  return True


@pytest.mark.parametrize("do_lower_case", [True, False])
def test_reference_path_matches_hf_tokenizers(do_lower_case, real_texts, minilm_vocab):
  ours = tokenization.FullTokenizer(minilm_vocab, do_lower_case=do_lower_case)
  theirs = _hf_bert_wordpiece(ours.vocab, do_lower_case)
  adversarial = [text for text in _adversarial_texts() if _hf_comparable(text, do_lower_case)]
  assert len(adversarial) > 400
  corpora = dict(real_texts, adversarial=adversarial)
  corpora["spec"] = [u"UNwant\u00E9d,running", u" \tHeLLo!how  \n Are yoU?  ", u"H\u00E9llo", u"ah\u535A\u63A8zz"]
  for label, texts in sorted(corpora.items()):
    if label == "ner_words":
      texts = texts[::4]  # every distinct word is compared against the fast path above; a quarter suffices here
    encodings = theirs.encode_batch(texts, add_special_tokens=False)
    for text, encoding in zip(texts, encodings):
      assert ours.tokenize(text) == encoding.tokens, "%s: %r" % (label, text)
