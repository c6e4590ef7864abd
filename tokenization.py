# coding=utf-8
# Copyright 2018 The Google AI Language Team Authors and DMIS-lab, Korea University.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""Tokenization classes: BERT's BasicTokenizer + WordPiece, with BioBERT's control-character rule.

Behaviour is the original's (BioBERT's copy of google-research/bert's tokenizer, Dec 2018):

  * cleaning drops NUL, U+FFFD and every character whose Unicode category starts with "C" (Cc, Cf, Cn, Co, Cs;
    Google's later versions drop only Cc/Cf), and turns whitespace (" ", \\t, \\n, \\r, category Zs) into " ";
  * CJK ideographs become single tokens; with `do_lower_case` each whitespace token is lower-cased and its accents
    (NFD, category Mn) are stripped; punctuation (ASCII symbols and category P*) is split off;
  * WordPiece is greedy longest-match-first, "##" on continuation pieces, a whole word becomes "[UNK]" when any
    part of it has no match or when it is longer than 200 characters;
  * there is no special-token protection ("[CLS]" in raw text becomes "[", "cls", "]").

`FullTokenizer.tokenize` is that algorithm written out plainly; it is the reference.

Fast path (`FullTokenizer.tokenize_batch`, `tokenize_batch_to_ids`): the same algorithm, restructured so that the
per-word work is done once per distinct word. Every step after cleaning acts on one whitespace-separated word at a
time, independently of its neighbours, so a word's final WordPiece tokens can be memoised under the cleaned word.
Real text is dominated by repeated words (Zipf), so nearly all words are dictionary hits. Cleaning is one
`str.translate` through a lazily-filled per-code-point table (drop / space / pad a CJK ideograph / keep), skipped
for ASCII text that holds no control characters. Cache misses run an equivalent per-word pipeline (ASCII
punctuation split by a regular expression; WordPiece candidates no longer than the longest vocabulary entry).

Why not Hugging Face `tokenizers` (BertWordPiece): it differs from this algorithm at the edges. It keeps
unassigned code points (Cn, e.g. U+0378, U+FFFE) that BioBERT deletes, its Unicode tables are older than Python's
(U+0890, a format character to Python 3.11, is kept), it rejects lone surrogates, and it lower-cases character by
character (Python's `str.lower` maps a word-final capital sigma to "ς", Rust to "σ"). Using it exactly would need a
Python-side guard that inspects every character anyway. The memoised path is exact by construction and, measured
on MEDLINE abstracts and the NER sets (`python bench/tokenization.py`), several times faster than `tokenizers`' own
`encode_batch` (which also builds offsets and masks we do not need).

The vocabulary is read with plain `open()` (paths containing "://" go through `tf.io.gfile`, imported only then).
Unlike the original, a vocabulary file that is missing, empty or holds the same token twice is rejected with an
`errors.UserError` naming the file (the original silently let a later duplicate overwrite the earlier id);
`load_vocab(path, allow_duplicates=True)` restores the original's behaviour.
"""

import collections
import os
import re
import sys
import unicodedata

import errors

_UNK_TOKEN = "[UNK]"
_MAX_INPUT_CHARS_PER_WORD = 200

# The fast path forgets its memo past this many distinct words, so corpus-scale runs stay bounded in memory.
_FAST_CACHE_LIMIT = 1 << 20


def vocab_looks_cased(vocab_file):
  """True when the vocabulary has upper-case word pieces (a cased model), False for an uncased one.

  An uncased vocabulary has (almost) no entries with upper-case letters besides the bracketed specials; a cased
  one has thousands. Lower-casing text for a cased vocabulary makes every upper-case piece unreachable.
  """
  tokens = [line.strip() for line in _read_vocab_bytes(vocab_file).decode("utf-8", "ignore").split("\n")]
  special = re.compile(r"^\[[A-Za-z0-9_]+\]$")
  upper = sum(1 for t in tokens if not special.match(t) and any(c.isupper() for c in t))
  return upper > 0.01 * max(len(tokens), 1)


def resolve_do_lower_case(do_lower_case, vocab_file, allow_case_mismatch=False):
  """Checks --do_lower_case against the case of the vocabulary (None: inferred from it, and said); returns it.

  Refuses BioBERT's best-known pitfall: lower-casing text for a cased vocabulary makes every upper-case piece
  unreachable, and keeping the case for an uncased one turns every capital into [UNK]; both train without error.

  Raises:
    errors.UserError: the flag contradicts the vocabulary and `allow_case_mismatch` is not set.
  """
  cased = vocab_looks_cased(vocab_file)
  if do_lower_case is None:
    print("do_lower_case: %s (inferred: the vocabulary is %s; pass --do_lower_case to set it)" % (
        str(not cased).lower(), "cased" if cased else "uncased"))
    return not cased
  if bool(do_lower_case) == cased and not allow_case_mismatch:
    raise errors.UserError(
        "--do_lower_case=%s but vocab_file %s looks %s; pass --do_lower_case=%s, or --allow_case_mismatch=true "
        "if this is intended" % (str(bool(do_lower_case)).lower(), vocab_file, "cased" if cased else "uncased",
                                 str(cased is False).lower()))
  return bool(do_lower_case)


def validate_case_matches_checkpoint(do_lower_case, init_checkpoint):
  """Checks whether the casing flag is consistent with a Google BERT checkpoint's directory name.

  Only paths like `.../uncased_L-12_H-768_A-12/bert_model.ckpt` are checked; BioBERT checkpoints
  (`model.ckpt-1000000`) never match and pass.

  Raises:
    errors.UserError (a ValueError): a known uncased model with do_lower_case=False, or a known cased one with True.
  """
  if not init_checkpoint:
    return
  match = re.match("^.*?([A-Za-z0-9_-]+)/bert_model.ckpt", init_checkpoint)
  if match is None:
    return
  model_name = match.group(1)

  uncased_models = ("uncased_L-24_H-1024_A-16", "uncased_L-12_H-768_A-12",
                    "multilingual_L-12_H-768_A-12", "chinese_L-12_H-768_A-12")
  cased_models = ("cased_L-12_H-768_A-12", "cased_L-24_H-1024_A-16",
                  "multi_cased_L-12_H-768_A-12")

  if model_name in uncased_models and not do_lower_case:
    actual_flag, case_name, opposite_flag = "False", "lowercased", "True"
  elif model_name in cased_models and do_lower_case:
    actual_flag, case_name, opposite_flag = "True", "cased", "False"
  else:
    return
  raise errors.UserError(
      "You passed in `--do_lower_case=%s` with `--init_checkpoint=%s`. "
      "However, `%s` seems to be a %s model, so you should pass in `--do_lower_case=%s` so that the fine-tuning "
      "matches how the model was pre-training. If this error is wrong, please just comment out this check."
      % (actual_flag, init_checkpoint, model_name, case_name, opposite_flag))


def convert_to_unicode(text):
  """Returns `text` as str; bytes are decoded as UTF-8, silently dropping invalid sequences."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % (type(text)))


def printable_text(text):
  """Returns `text` as a str suitable for printing or logging (same conversion as `convert_to_unicode`)."""
  if isinstance(text, str):
    return text
  if isinstance(text, bytes):
    return text.decode("utf-8", "ignore")
  raise ValueError("Unsupported string type: %s" % (type(text)))


def _read_vocab_bytes(vocab_file):
  """Returns the raw bytes of a vocabulary file, or raises UserError naming it."""
  if "://" in vocab_file:
    # Remote file systems (gs://, hdfs://, ...) as the original supported through gfile.
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if not tf.io.gfile.exists(vocab_file):
      raise errors.UserError("vocab file %s: not found" % vocab_file)
    with tf.io.gfile.GFile(vocab_file, "rb") as reader:
      return reader.read()
  if not os.path.exists(vocab_file):
    raise errors.UserError("vocab file %s: not found" % vocab_file)
  if os.path.isdir(vocab_file):
    raise errors.UserError("vocab file %s: is a directory" % vocab_file)
  try:
    with open(vocab_file, "rb") as reader:
      return reader.read()
  except OSError as e:
    raise errors.UserError("vocab file %s: cannot read: %s" % (vocab_file, e.strerror or e)) from e


def load_vocab(vocab_file, allow_duplicates=False):
  """Loads a vocabulary file (one token per line) into an OrderedDict token -> id.

  The id of a token is its 0-based line number. Lines are split on "\\n" only and `str.strip()`-ed, so a
  blank line becomes the token "" (and still takes an id).

  Args:
    vocab_file: path of a UTF-8 text file.
    allow_duplicates: False (default) rejects a token that appears twice. True keeps the original's behaviour:
      the later line's id overwrites the earlier one and the earlier id has no token.

  Returns:
    collections.OrderedDict mapping token (str) -> id (int).

  Raises:
    errors.UserError: the file is missing or unreadable, is not UTF-8, holds no token, or holds a duplicate.
  """
  data = _read_vocab_bytes(vocab_file)
  lines = data.split(b"\n")
  if lines[-1] == b"":
    lines.pop()  # What follows the final newline is not a line.
  vocab = collections.OrderedDict()
  first_line = {}
  for index, raw_line in enumerate(lines):
    try:
      token = raw_line.decode("utf-8").strip()
    except UnicodeDecodeError as e:
      raise errors.UserError("vocab file %s: line %d: not valid UTF-8 (%s)" % (vocab_file, index + 1, e.reason))
    if token in vocab and not allow_duplicates:
      raise errors.UserError(
          "vocab file %s: line %d: duplicate token %s (first on line %d)"
          % (vocab_file, index + 1, "'' (blank line)" if not token else repr(token), first_line[token]))
    first_line.setdefault(token, index + 1)
    vocab[token] = index
  if not any(vocab):
    raise errors.UserError("vocab file %s: empty (no tokens)" % vocab_file)
  return vocab


def check_blank_lines(vocab, vocab_file):
  """A blank line inside a vocabulary is an error; a blank last line is a warning.

  The original reader gives a blank line an id of its own (the token ""), so one inserted by an edit moves every
  later token to the next row of the model's embedding table, silently. A blank last line moves nothing.

  Raises:
    errors.UserError: naming the file, the line and the token after it.
  """
  if "" not in vocab:
    return
  index = vocab[""]
  after = [token for token, i in vocab.items() if i == index + 1]
  if not after:
    sys.stderr.write("warning: vocab file %s: its last line (%d) is blank; it takes an id but shifts no token\n" %
                     (vocab_file, index + 1))
    return
  raise errors.UserError(
      "vocab file %s: line %d is blank, so every later token gets an id one higher than without it (%r on line %d "
      "gets id %d); delete the line, or, if the model was trained with this very file, put a placeholder token "
      "(such as [unused_blank]) on it" % (vocab_file, index + 1, after[0], index + 2, index + 1))


def convert_by_vocab(vocab, items):
  """Maps each item through `vocab` (a plain lookup: an unknown item raises KeyError)."""
  return [vocab[item] for item in items]


def convert_tokens_to_ids(vocab, tokens):
  return convert_by_vocab(vocab, tokens)


def convert_ids_to_tokens(inv_vocab, ids):
  return convert_by_vocab(inv_vocab, ids)


def whitespace_tokenize(text):
  """Strips `text` and splits it on (Python's notion of) whitespace."""
  text = text.strip()
  if not text:
    return []
  return text.split()


class FullTokenizer(object):
  """Runs end-to-end tokenization: BasicTokenizer, then WordPiece on each basic token.

  `tokenize` is the reference implementation. `tokenize_batch` / `tokenize_batch_to_ids` give exactly the same
  tokens much faster on bulk text; they memoise per word, so treat `vocab`, `wordpiece_tokenizer` and
  `basic_tokenizer` as read-only once they are in use (changing `basic_tokenizer.do_lower_case` is noticed).
  """

  def __init__(self, vocab_file, do_lower_case=True):
    self.vocab = load_vocab(vocab_file)
    check_blank_lines(self.vocab, vocab_file)
    self.inv_vocab = {v: k for k, v in self.vocab.items()}
    self.basic_tokenizer = BasicTokenizer(do_lower_case=do_lower_case)
    self.wordpiece_tokenizer = WordpieceTokenizer(vocab=self.vocab)
    self._fast = None

  def tokenize(self, text):
    """Returns the list of WordPiece tokens (str) of `text` (str, or UTF-8 bytes)."""
    split_tokens = []
    for token in self.basic_tokenizer.tokenize(text):
      split_tokens.extend(self.wordpiece_tokenizer.tokenize(token))
    return split_tokens

  def convert_tokens_to_ids(self, tokens):
    return convert_by_vocab(self.vocab, tokens)

  def convert_ids_to_tokens(self, ids):
    return convert_by_vocab(self.inv_vocab, ids)

  def _fast_path(self):
    if self._fast is None or self._fast.do_lower_case != self.basic_tokenizer.do_lower_case:
      self._fast = _FastWordPiece(self.vocab, self.basic_tokenizer.do_lower_case,
                                  self.wordpiece_tokenizer.unk_token,
                                  self.wordpiece_tokenizer.max_input_chars_per_word)
    return self._fast

  def tokenize_batch(self, texts):
    """Tokenizes many texts; same result as `[self.tokenize(t) for t in texts]`, much faster.

    Args:
      texts: an iterable of str (or UTF-8 bytes).

    Returns:
      a list with one list of WordPiece tokens (str) per text.
    """
    fast = self._fast_path()
    return fast.run(texts, fast.pieces_cache, fast.pieces_miss)

  def tokenize_batch_to_ids(self, texts):
    """Like `tokenize_batch`, but returns vocabulary ids: `[self.convert_tokens_to_ids(self.tokenize(t)) ...]`.

    Raises:
      KeyError: a token has no id (only possible when the vocabulary lacks the unknown token "[UNK]").
    """
    fast = self._fast_path()
    return fast.run(texts, fast.ids_cache, fast.ids_miss)


class BasicTokenizer(object):
  """Runs basic tokenization (cleaning, CJK splitting, lower casing and accent stripping, punctuation splitting)."""

  def __init__(self, do_lower_case=True):
    """Constructs a BasicTokenizer.

    Args:
      do_lower_case: Whether to lower case the input (and strip accents).
    """
    self.do_lower_case = do_lower_case

  def tokenize(self, text):
    """Returns the list of basic tokens (str) of `text`."""
    text = convert_to_unicode(text)
    text = self._clean_text(text)
    # Applied to every model, as in the original: English vocabularies hold a few CJK characters too.
    text = self._tokenize_chinese_chars(text)

    split_tokens = []
    for token in whitespace_tokenize(text):
      if self.do_lower_case:
        token = token.lower()
        token = self._run_strip_accents(token)
      split_tokens.extend(self._run_split_on_punc(token))
    return whitespace_tokenize(" ".join(split_tokens))

  def _run_strip_accents(self, text):
    """Drops non-spacing marks (category Mn) from the NFD form of `text`."""
    text = unicodedata.normalize("NFD", text)
    return "".join(char for char in text if unicodedata.category(char) != "Mn")

  def _run_split_on_punc(self, text):
    """Splits `text` into runs of non-punctuation and single punctuation characters."""
    output = []
    word_start = None
    for i, char in enumerate(text):
      if _is_punctuation(char):
        if word_start is not None:
          output.append(text[word_start:i])
          word_start = None
        output.append(char)
      elif word_start is None:
        word_start = i
    if word_start is not None:
      output.append(text[word_start:])
    return output

  def _tokenize_chinese_chars(self, text):
    """Adds whitespace around any CJK ideograph."""
    output = []
    for char in text:
      if _is_chinese_char(ord(char)):
        output.append(" ")
        output.append(char)
        output.append(" ")
      else:
        output.append(char)
    return "".join(output)

  def _is_chinese_char(self, cp):
    """Checks whether code point `cp` is a CJK ideograph."""
    return _is_chinese_char(cp)

  def _clean_text(self, text):
    """Removes NUL, U+FFFD and control characters; turns whitespace into " "."""
    output = []
    for char in text:
      cp = ord(char)
      if cp == 0 or cp == 0xFFFD or _is_control(char):
        continue
      output.append(" " if _is_whitespace(char) else char)
    return "".join(output)


class WordpieceTokenizer(object):
  """Runs WordPiece tokenization."""

  def __init__(self, vocab, unk_token=_UNK_TOKEN, max_input_chars_per_word=_MAX_INPUT_CHARS_PER_WORD):
    self.vocab = vocab
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word

  def tokenize(self, text):
    """Tokenizes a piece of text into its word pieces.

    Greedy longest-match-first against the vocabulary; pieces after the first carry the "##" prefix.
    For example "unaffable" -> ["un", "##aff", "##able"].

    Args:
      text: a single token or whitespace-separated tokens, normally already passed through `BasicTokenizer`.

    Returns:
      A list of wordpiece tokens. A token longer than `max_input_chars_per_word` characters, or one with any
      position that matches no vocabulary entry, becomes a single `unk_token`.
    """
    text = convert_to_unicode(text)
    output_tokens = []
    for token in whitespace_tokenize(text):
      if len(token) > self.max_input_chars_per_word:
        output_tokens.append(self.unk_token)
        continue
      sub_tokens = []
      start = 0
      while start < len(token):
        end = len(token)
        match = None
        while start < end:
          candidate = token[start:end]
          if start > 0:
            candidate = "##" + candidate
          if candidate in self.vocab:
            match = candidate
            break
          end -= 1
        if match is None:
          sub_tokens = [self.unk_token]
          break
        sub_tokens.append(match)
        start = end
      output_tokens.extend(sub_tokens)
    return output_tokens


def _is_chinese_char(cp):
  """Checks whether code point `cp` is in one of the CJK Unified/Compatibility Ideographs blocks.

  Hangul, Hiragana and Katakana are not included: those scripts separate words with spaces.
  """
  return ((0x4E00 <= cp <= 0x9FFF) or (0x3400 <= cp <= 0x4DBF) or
          (0x20000 <= cp <= 0x2A6DF) or (0x2A700 <= cp <= 0x2B73F) or
          (0x2B740 <= cp <= 0x2B81F) or (0x2B820 <= cp <= 0x2CEAF) or
          (0xF900 <= cp <= 0xFAFF) or (0x2F800 <= cp <= 0x2FA1F))


def is_whitespace(char):
  """True for the characters BERT splits words at (see `_is_whitespace`)."""
  return _is_whitespace(char)


def is_punctuation(char):
  """True for the characters BERT makes words of their own (see `_is_punctuation`)."""
  return _is_punctuation(char)


def _is_whitespace(char):
  """Checks whether `char` is whitespace: space, \\t, \\n, \\r or category Zs."""
  if char in (" ", "\t", "\n", "\r"):
    return True
  return unicodedata.category(char) == "Zs"


def _is_control(char):
  """Checks whether `char` is a control character: any category "C*" (BioBERT's rule), except \\t, \\n, \\r."""
  if char in ("\t", "\n", "\r"):
    return False  # Technically Cc, but treated as whitespace.
  return unicodedata.category(char).startswith("C")


def _is_punctuation(char):
  """Checks whether `char` is punctuation: any non-alphanumeric printable ASCII character, or category "P*"."""
  cp = ord(char)
  # "^", "$", "`" etc. are not Unicode punctuation, but all ASCII symbols count, for consistency.
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(char).startswith("P")


# ---------------------------------------------------------------------------------------------------------------
# Fast path.

# ASCII characters that cleaning changes in a way `str.split()` does not already do: controls other than \t\n\r
# (\x0b, \x0c and \x1c-\x1f are whitespace to `str.split()` but are deleted by cleaning).
_ASCII_NEEDS_CLEANING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]").search

# One ASCII word -> its punctuation split (each ASCII symbol alone, runs of letters/digits together).
_ASCII_PUNCTUATION_SPLIT = re.compile(r"[!-/:-@\[-`{-~]|[^!-/:-@\[-`{-~]+").findall


class _CleaningTable(dict):
  """`str.translate` table doing `_clean_text` then `_tokenize_chinese_chars`, filled on first sight of a code point."""

  def __missing__(self, cp):
    char = chr(cp)
    if cp == 0 or cp == 0xFFFD or _is_control(char):
      value = None
    elif _is_whitespace(char):
      value = " "
    elif _is_chinese_char(cp):
      value = " " + char + " "
    else:
      value = cp
    self[cp] = value
    return value


_CLEANING_TABLE = _CleaningTable()


class _FastWordPiece(object):
  """Memoised per-word tokenization for one (vocabulary, do_lower_case) pair."""

  def __init__(self, vocab, do_lower_case, unk_token, max_input_chars_per_word):
    self.vocab = vocab
    self.do_lower_case = do_lower_case
    self.unk_token = unk_token
    self.max_input_chars_per_word = max_input_chars_per_word
    # A candidate piece longer than the longest vocabulary entry cannot match; never try one.
    self.max_piece_chars = max(len(token) for token in vocab) if vocab else 0
    self.basic = BasicTokenizer(do_lower_case)
    self.pieces_cache = {}
    self.ids_cache = {}

  def run(self, texts, cache, miss):
    """Tokenizes each text with `cache` (cleaned word -> tuple of results), calling `miss` on unknown words."""
    results = []
    append = results.append
    get = cache.get
    needs_cleaning = _ASCII_NEEDS_CLEANING
    table = _CLEANING_TABLE
    for text in texts:
      if text.__class__ is not str:
        text = convert_to_unicode(text)
      # Cleaning + CJK padding in one pass. Printable ASCII needs neither, and ASCII holding only \t \n \r
      # besides needs none either: turning those into " " changes nothing for `str.split()`.
      if not text.isascii() or (not text.isprintable() and needs_cleaning(text)):
        text = text.translate(table)
      out = []
      for word in text.split():
        found = get(word)
        out += found if found is not None else miss(word)
      append(out)
    return results

  def pieces_miss(self, word):
    cache = self.pieces_cache
    if len(cache) >= _FAST_CACHE_LIMIT:
      cache.clear()
    pieces = tuple(self._word_to_pieces(word))
    cache[word] = pieces
    return pieces

  def ids_miss(self, word):
    cache = self.ids_cache
    if len(cache) >= _FAST_CACHE_LIMIT:
      cache.clear()
    pieces = self.pieces_cache.get(word)
    if pieces is None:
      pieces = self.pieces_miss(word)
    vocab = self.vocab
    ids = tuple([vocab[piece] for piece in pieces])
    cache[word] = ids
    return ids

  def _word_to_pieces(self, word):
    """The reference pipeline for one cleaned whitespace-free word (lower/accents, punctuation, WordPiece)."""
    if self.do_lower_case:
      word = word.lower()
      if not word.isascii():
        word = self.basic._run_strip_accents(word)  # pylint: disable=protected-access
    if word.isascii():
      parts = _ASCII_PUNCTUATION_SPLIT(word)
    else:
      # Lower-casing or NFD could in principle produce whitespace; split on it as the reference does.
      parts = [p for part in self.basic._run_split_on_punc(word) for p in part.split()]  # pylint: disable=protected-access
    pieces = []
    for part in parts:
      pieces.extend(self._wordpiece(part))
    return pieces

  def _wordpiece(self, token):
    """WordPiece of one whitespace-free token; same result as `WordpieceTokenizer.tokenize`."""
    vocab = self.vocab
    n = len(token)
    if n > self.max_input_chars_per_word:
      return [self.unk_token]
    if token in vocab:
      return [token]
    pieces = []
    start = 0
    longest = self.max_piece_chars
    while start < n:
      end = min(n, start + longest)
      while start < end:
        candidate = token[start:end]
        if start > 0:
          candidate = "##" + candidate
        if candidate in vocab:
          break
        end -= 1
      else:
        return [self.unk_token]
      pieces.append(candidate)
      start = end
    return pieces
