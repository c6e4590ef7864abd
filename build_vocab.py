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
"""Builds a WordPiece vocabulary (BERT vocab.txt) from prepared text, and compares vocabularies on a corpus.

BioBERT kept BERT's general-domain vocabulary, which splits biomedical terms into many pieces; a vocabulary
learned from PubMed text (as PubMedBERT did) keeps them whole. Build one:

  python build_vocab.py --input_file='pubmed_text/corpus-*.txt' --output_file=vocab.txt --vocab_size=30522 \
      --do_lower_case=true

Words are exactly what our tokenizer feeds WordPiece: `tokenization.BasicTokenizer(do_lower_case)` tokens (cleaned,
lower-cased and accent-stripped when uncased, punctuation split off). WordPiece pieces are learned from their
counts by frequency-ranked merges ("##" continuation pieces; the merges Hugging Face's WordPieceTrainer makes, with
deterministic tie-breaking, so the same text always gives the same file). The file is laid
out like BERT's uncased vocab.txt, so it drops into `--vocab_file` and `bert_config.json` (`vocab_size` = its
number of lines):

  [PAD], [unused0] .. [unused98], [UNK], [CLS], [SEP], [MASK], [unused99] .. (`--num_unused` in all, 994 as in
  BERT), the single characters (the `--max_alphabet` most frequent, in code-point order), the learned words and
  "##" pieces (most useful first), then "##" + every single character.

Every character of the alphabet is there alone and as a "##" continuation, so any word made of known characters
tokenizes without [UNK]. A text too small for the requested size (every word already whole) is reported, and the
file is filled up with further [unusedN] tokens at the end (`--pad_to_size=false`: a shorter file; then use its
line count as `vocab_size`).

Compare vocabularies on a corpus (and optionally on a word list, one word per line):

  python build_vocab.py --input_file='pubmed_text/corpus-*.txt' \
      --compare_vocab_files=bert_uncased/vocab.txt,vocab.txt [--word_list_file=terms.txt] [--report_file=r.json]

For each vocabulary, over the corpus' running words (basic tokens holding a letter or digit): WordPiece tokens per
word, share of words split at all, share split into >= 3 pieces, share that become [UNK]; over the word list (each
word once): the same. `--compare_do_lower_case` gives each vocabulary its own casing (default: --do_lower_case).

The last line on stdout is machine-readable. No TensorFlow is imported.
"""

import collections
import json
import multiprocessing
import os
import re
import sys
import time

from absl import flags

import errors
import fileio
import tokenization

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines the command-line flags. Called from `__main__` only, so importing this module defines none."""
  fv = flag_values
  flags.DEFINE_string("input_file", None, "Comma-separated text files or globs: one sentence per line (blank lines "
                      "between documents are ignored), e.g. the shards of prepare_corpus.py.", flag_values=fv)
  flags.DEFINE_string("output_file", None, "Where to write the new vocab.txt (build mode).", flag_values=fv)
  flags.DEFINE_integer("vocab_size", 30522, "Size of the vocabulary, special and unused tokens included.",
                       flag_values=fv)
  flags.DEFINE_bool("do_lower_case", True, "Lower-case (and strip accents) before learning / tokenizing; must "
                    "match how the vocabulary will be used.", flag_values=fv)
  flags.DEFINE_integer("num_unused", 994, "[unusedN] placeholders (the first 99 before [UNK], the rest after "
                       "[MASK], as in BERT's uncased vocab).", flag_values=fv)
  flags.DEFINE_integer("max_alphabet", 1000, "Most frequent characters kept as single-character tokens; rarer "
                       "ones become [UNK].", flag_values=fv)
  flags.DEFINE_integer("min_frequency", 2, "A pair of pieces must occur this often to be merged into a new token.",
                       flag_values=fv)
  flags.DEFINE_bool("pad_to_size", True, "When the text supports fewer tokens than --vocab_size, fill the file up "
                    "with further [unusedN] tokens (at the end), so it has exactly --vocab_size lines.",
                    flag_values=fv)
  flags.DEFINE_integer("max_lines", 0, "Read at most this many lines (0: all), to learn from a sample of a large "
                       "corpus.", flag_values=fv)
  flags.DEFINE_integer("num_workers", None, "Processes for pre-tokenization (default: the number of CPUs).",
                       flag_values=fv)
  flags.DEFINE_string("compare_vocab_files", None, "Comma-separated vocab.txt files to compare on --input_file "
                      "(compare mode; may include --output_file when both modes run).", flag_values=fv)
  flags.DEFINE_string("compare_do_lower_case", None, "Comma-separated true/false per --compare_vocab_files entry "
                      "(default: --do_lower_case for all).", flag_values=fv)
  flags.DEFINE_string("word_list_file", None, "Optional word list (one per line, e.g. biomedical terms) added to "
                      "the comparison.", flag_values=fv)
  flags.DEFINE_string("report_file", None, "Optional JSON file for the comparison.", flag_values=fv)


SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_UNUSED_BEFORE_UNK = 99  # BERT: [unused0]..[unused98] sit between [PAD] and [UNK]
_ASCII_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WORD_RE = re.compile(r"[^\W_]")  # a basic token counts as a word when it holds a letter or digit


# ---------------------------------------------------------------------------------------------------------------
# Reading text and counting basic tokens.


def iter_lines(files, max_lines=0):
  """Yields the non-blank lines of `files`, stripped; at most `max_lines` when > 0.

  Raises:
    errors.UserError: a file that is not UTF-8 text (a compressed or binary file would teach the vocabulary
      garbage), naming the file and the line.
  """
  count = 0
  for path in files:
    try:
      f = open(path, "rb")
    except OSError as e:
      raise errors.UserError("input file %s: cannot open: %s" % (path, e.strerror or e)) from e
    with f:
      for number, raw in enumerate(f, 1):
        try:
          line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
          raise errors.UserError("input file %s: line %d: not valid UTF-8 (%s); is it a text file?" % (
              path, number, e.reason)) from None
        if "\x00" in line:
          raise errors.UserError("input file %s: line %d: holds a NUL byte; is it a text file?" % (path, number))
        line = line.strip()
        if not line:
          continue
        yield line
        count += 1
        if max_lines and count >= max_lines:
          return


def _chunks(lines, size=20000):
  chunk = []
  for line in lines:
    chunk.append(line)
    if len(chunk) >= size:
      yield chunk
      chunk = []
  if chunk:
    yield chunk


class _BasicCounter(object):
  """Counts BasicTokenizer tokens of lines, doing the per-word work once per distinct whitespace word.

  Same tokens as `BasicTokenizer(do_lower_case).tokenize(line)`: the line is cleaned and CJK-split as a whole
  (those steps are per character), then every later step acts on one whitespace-separated word at a time.
  """

  def __init__(self, do_lower_case):
    self._basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)

  def raw_words(self, line):
    if not line.isascii() or _ASCII_CONTROL_RE.search(line):
      line = self._basic._tokenize_chinese_chars(self._basic._clean_text(line))  # pylint: disable=protected-access
    return line.split()

  def count_raw(self, lines):
    counts = collections.Counter()
    for line in lines:
      counts.update(self.raw_words(line))
    return counts

  def expand(self, raw_counts):
    """Raw whitespace words with counts -> basic tokens with counts."""
    counts = collections.Counter()
    for raw, n in raw_counts.items():
      for token in self._basic.tokenize(raw):
        counts[token] += n
    return counts


def _count_chunk(args):
  lines, do_lower_case = args
  counter = _BasicCounter(do_lower_case)
  return counter.expand(counter.count_raw(lines))


def count_basic_tokens(files, do_lower_case, num_workers=1, max_lines=0):
  """Counter of BasicTokenizer tokens over all lines of `files`."""
  chunks = ((chunk, do_lower_case) for chunk in _chunks(iter_lines(files, max_lines)))
  total = collections.Counter()
  with fileio.progress_bar(unit="chunk", desc="counting words") as progress:
    if num_workers <= 1:
      for args in chunks:
        total.update(_count_chunk(args))
        progress.update(1)
    else:
      with multiprocessing.get_context("fork").Pool(num_workers, initializer=errors.init_worker_process) as pool:
        for counts in pool.imap_unordered(_count_chunk, chunks, chunksize=1):
          total.update(counts)
          progress.update(1)
  return total


# ---------------------------------------------------------------------------------------------------------------
# Building the vocabulary.


def special_layout(num_unused):
  """BERT's uncased layout of the first lines: [PAD], [unused0..98], [UNK], [CLS], [SEP], [MASK], [unused99..]."""
  before = min(num_unused, _UNUSED_BEFORE_UNK)
  layout = ["[PAD]"] + ["[unused%d]" % i for i in range(before)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  layout += ["[unused%d]" % i for i in range(before, num_unused)]
  return layout


def choose_alphabet(word_counts, max_alphabet):
  """The `max_alphabet` most frequent characters (ties: code-point order), in code-point order."""
  chars = collections.Counter()
  for word, n in word_counts.items():
    for ch in word:
      chars[ch] += n
  ranked = sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:max_alphabet]
  return sorted(ch for ch, _ in ranked)


def _merged_name(left, right):
  """The token that joins two adjacent pieces: "immun" + "##ology" -> "immunology"."""
  return left + right[2:]


def learn_wordpieces(word_counts, alphabet, budget, min_frequency=2):
  """Learns up to `budget` multi-character tokens (words and "##" pieces) by frequency-ranked merges.

  Every word (made of `alphabet` characters) starts as its first character followed by "##" + each further
  character; the most frequent adjacent pair (weighted by word counts) is merged into a new token, again and
  again, until `budget` new tokens exist or no pair occurs `min_frequency` times. Ties go to the alphabetically
  first merged token, so the result is the same on every run and machine. (Hugging Face's WordPieceTrainer does
  the same merges but breaks ties in hash order, which changes the vocabulary from run to run.)

  Returns:
    the new tokens in the order they were learned (most useful first).
  """
  import heapq  # pylint: disable=g-import-not-at-top
  if budget <= 0:
    return []
  allowed = set(alphabet)
  names, ids = [], {}

  def token_id(name):
    if name not in ids:
      ids[name] = len(names)
      names.append(name)
    return ids[name]

  words, counts = [], []
  for word in sorted(word_counts):
    if word and set(word) <= allowed:
      words.append([token_id(word[0])] + [token_id("##" + ch) for ch in word[1:]])
      counts.append(word_counts[word])
  known = set(names)
  pair_count = collections.defaultdict(int)
  pair_words = collections.defaultdict(set)
  for index, symbols in enumerate(words):
    for pair in zip(symbols, symbols[1:]):
      pair_count[pair] += counts[index]
      pair_words[pair].add(index)

  def entry(pair):
    return (-pair_count[pair], _merged_name(names[pair[0]], names[pair[1]]), pair)

  heap = [entry(pair) for pair in pair_count]
  heapq.heapify(heap)
  learned = []
  progress = fileio.progress_bar(total=budget, unit="token", desc="learning pieces")
  while heap and len(learned) < budget:
    negative_count, name, pair = heapq.heappop(heap)
    if pair_count.get(pair, 0) != -negative_count:
      continue  # stale entry: the pair's count changed (a fresh entry was pushed) or it was merged
    if -negative_count < min_frequency:
      break
    new = token_id(name)
    if name not in known:
      known.add(name)
      learned.append(name)
      progress.update(1)
    left, right = pair
    touched = set()
    for index in sorted(pair_words.pop(pair)):
      symbols = words[index]
      n = counts[index]
      merged, i = [], 0
      while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
          merged.append(new)
          i += 2
        else:
          merged.append(symbols[i])
          i += 1
      if len(merged) == len(symbols):
        continue  # the word no longer holds the pair (an earlier merge took it)
      for old in zip(symbols, symbols[1:]):
        pair_count[old] -= n
        touched.add(old)
      for fresh in zip(merged, merged[1:]):
        pair_count[fresh] += n
        pair_words[fresh].add(index)
        touched.add(fresh)
      words[index] = merged
    pair_count.pop(pair, None)
    for other in touched:
      if other != pair and pair_count.get(other, 0) > 0:
        heapq.heappush(heap, entry(other))
      elif other != pair and other in pair_count:
        del pair_count[other]
  progress.close()
  return learned


def build_vocab(word_counts, vocab_size, num_unused=994, max_alphabet=1000, min_frequency=2, pad_to_size=True):
  """Returns the vocabulary as a list of tokens in file order (see the module docstring for the layout).

  With pad_to_size, a text too small for `vocab_size` gets further [unusedN] tokens at the end.
  """
  layout = special_layout(num_unused)
  alphabet = choose_alphabet(word_counts, max_alphabet)
  fixed = len(layout) + 2 * len(alphabet)
  if vocab_size < fixed:
    raise errors.UserError(
        "--vocab_size %d is too small: the special/unused tokens and %d characters (alone and as ##pieces) need "
        "%d; lower --num_unused or --max_alphabet" % (vocab_size, len(alphabet), fixed))
  learned = learn_wordpieces(word_counts, alphabet, vocab_size - fixed, min_frequency)
  tokens = layout + alphabet + learned + ["##" + ch for ch in alphabet]
  if pad_to_size and len(tokens) < vocab_size:
    tokens += ["[unused%d]" % i for i in range(num_unused, num_unused + vocab_size - len(tokens))]
  return tokens


def write_vocab(tokens, path):
  """Writes one token per line, atomically."""
  if len(set(tokens)) != len(tokens):
    raise AssertionError("duplicate tokens in the vocabulary")
  with fileio.atomic_output(path) as f:
    for token in tokens:
      f.write(token + "\n")


# ---------------------------------------------------------------------------------------------------------------
# Comparing vocabularies.


def fragmentation(vocab, words, do_lower_case=True):
  """Fragmentation statistics of `vocab` (token -> id) over `words` (Counter of basic tokens -> count).

  Only tokens holding a letter or digit count as words. Returns a dict: words (running count), distinct,
  pieces_per_word, split_rate (share of words in >= 2 pieces), split3_rate (>= 3 pieces), unk_rate (share of
  words that become [UNK]), and the same per distinct word (type_*).
  """
  wordpiece = tokenization.WordpieceTokenizer(vocab=vocab)
  del do_lower_case  # words are already basic tokens of the right casing
  totals = collections.Counter()
  for word, n in words.items():
    if not _WORD_RE.search(word):
      continue
    pieces = wordpiece.tokenize(word)
    k = len(pieces)
    unk = pieces == ["[UNK]"]
    for prefix, weight in (("", n), ("type_", 1)):
      totals[prefix + "words"] += weight
      totals[prefix + "pieces"] += k * weight
      totals[prefix + "split"] += weight if k >= 2 else 0
      totals[prefix + "split3"] += weight if k >= 3 else 0
      totals[prefix + "unk"] += weight if unk else 0
  result = collections.OrderedDict()
  for prefix in ("", "type_"):
    n = max(totals[prefix + "words"], 1)
    result[prefix + "words" if prefix else "words"] = totals[prefix + "words"]
    result[prefix + "pieces_per_word"] = totals[prefix + "pieces"] / n
    result[prefix + "split_rate"] = totals[prefix + "split"] / n
    result[prefix + "split3_rate"] = totals[prefix + "split3"] / n
    result[prefix + "unk_rate"] = totals[prefix + "unk"] / n
  result["distinct"] = result.pop("type_words")
  return result


def read_word_list(path, do_lower_case):
  """Counter of basic tokens of a word list (each listed word counted once)."""
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  words = collections.Counter()
  if not os.path.isfile(path):
    raise errors.UserError("--word_list_file %s: no such file" % path)
  for line in iter_lines([path]):
    for token in basic.tokenize(line):
      if token not in words:
        words[token] = 1
  if not words:
    raise errors.UserError("--word_list_file %s holds no words" % path)
  return words


def compare(vocab_files, lower_flags, files, word_list_file=None, num_workers=1, max_lines=0):
  """Fragmentation of each vocabulary on the corpus (and word list). Returns a list of per-vocab dicts."""
  counts_by_case = {}
  report = []
  for path, lower in zip(vocab_files, lower_flags):
    if lower not in counts_by_case:
      counts_by_case[lower] = count_basic_tokens(files, lower, num_workers, max_lines)
    vocab = tokenization.load_vocab(path)
    tokenization.check_blank_lines(vocab, path)
    if "[UNK]" not in vocab:
      raise errors.UserError("--compare_vocab_files %s has no [UNK] token" % path)
    entry = collections.OrderedDict([("vocab_file", path), ("vocab_size", len(vocab)), ("do_lower_case", lower)])
    entry["corpus"] = fragmentation(vocab, counts_by_case[lower])
    if word_list_file:
      entry["word_list"] = fragmentation(vocab, read_word_list(word_list_file, lower))
    report.append(entry)
  return report


def format_report(report):
  lines = []
  header = "%-44s %7s %8s %7s %7s %7s" % ("vocabulary", "size", "tok/word", "split", ">=3", "[UNK]")
  for section in ("corpus", "word_list"):
    if section not in report[0]:
      continue
    first = report[0][section]
    lines.append("%s: %d running words, %d distinct" % (
        "corpus" if section == "corpus" else "word list", first["words"], first["distinct"]))
    lines.append(header)
    for entry in report:
      stats = entry[section]
      name = entry["vocab_file"] if len(entry["vocab_file"]) <= 44 else "..." + entry["vocab_file"][-41:]
      lines.append("%-44s %7d %8.3f %6.1f%% %6.1f%% %6.2f%%" % (
          name, entry["vocab_size"], stats["pieces_per_word"], 100 * stats["split_rate"],
          100 * stats["split3_rate"], 100 * stats["unk_rate"]))
  return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Command line.


def _parse_bools(spec, n, default):
  if not spec:
    return [default] * n
  values = [v.strip().lower() for v in spec.split(",")]
  if len(values) != n or any(v not in ("true", "false", "1", "0") for v in values):
    raise errors.UserError("--compare_do_lower_case needs %d comma-separated true/false values, got %r" % (n, spec))
  return [v in ("true", "1") for v in values]


# The numeric flags' ranges (errors.check_ranges).
FLAG_RANGES = {
    "vocab_size": ">=1", "num_unused": ">=0", "max_alphabet": ">=1", "min_frequency": ">=1", "max_lines": ">=0",
    "num_workers": ">=1",
}


def main(argv):
  del argv
  errors.check_ranges(FLAGS, FLAG_RANGES)
  if not FLAGS.output_file and not FLAGS.compare_vocab_files:
    raise errors.UserError("give --output_file (build a vocabulary) and/or --compare_vocab_files (compare)")
  files = fileio.expand_input_files(FLAGS.input_file)
  inputs = files + fileio.split_patterns(FLAGS.compare_vocab_files) + [FLAGS.word_list_file]
  for flag in ("output_file", "report_file"):
    if getattr(FLAGS, flag):
      fileio.refuse_overwriting_inputs(getattr(FLAGS, flag), inputs, "--" + flag)
      fileio.check_output_file(getattr(FLAGS, flag), "--" + flag)
  num_workers = FLAGS.num_workers or os.cpu_count() or 1
  if FLAGS.output_file:
    start = time.time()
    counts = count_basic_tokens(files, FLAGS.do_lower_case, num_workers, FLAGS.max_lines)
    if not counts:
      raise errors.UserError("--input_file %s holds no text" % FLAGS.input_file)
    tokens = build_vocab(counts, FLAGS.vocab_size, FLAGS.num_unused, FLAGS.max_alphabet, FLAGS.min_frequency,
                         FLAGS.pad_to_size)
    write_vocab(tokens, FLAGS.output_file)
    stats = fragmentation({t: i for i, t in enumerate(tokens)}, counts)
    padding = sum(1 for t in tokens if t.startswith("[unused")) - FLAGS.num_unused
    if padding > 0:
      sys.stderr.write("warning: the text supports only %d tokens (asked for %d); filled up with %d more "
                       "[unusedN]\n" % (len(tokens) - padding, FLAGS.vocab_size, padding))
    elif len(tokens) < FLAGS.vocab_size:
      sys.stderr.write("warning: the text supports only %d tokens (asked for %d); set vocab_size=%d in "
                       "bert_config.json\n" % (len(tokens), FLAGS.vocab_size, len(tokens)))
    sys.stderr.write("Wrote %s in %.1f s\n" % (FLAGS.output_file, time.time() - start))
    sys.stdout.write("build_vocab: vocab_size=%d non_special=%d padding=%d words=%d distinct=%d pieces_per_word=%.4f "
                     "split3_rate=%.4f unk_rate=%.5f\n" % (
                         len(tokens), len(tokens) - max(padding, 0) - len(special_layout(FLAGS.num_unused)),
                         max(padding, 0), stats["words"], stats["distinct"], stats["pieces_per_word"],
                         stats["split3_rate"], stats["unk_rate"]))
  if FLAGS.compare_vocab_files:
    vocab_files = [v.strip() for v in FLAGS.compare_vocab_files.split(",") if v.strip()]
    for path in vocab_files:
      if not os.path.isfile(path):
        raise errors.UserError("--compare_vocab_files %s: no such file" % path)
    lower = _parse_bools(FLAGS.compare_do_lower_case, len(vocab_files), FLAGS.do_lower_case)
    report = compare(vocab_files, lower, files, FLAGS.word_list_file, num_workers, FLAGS.max_lines)
    print(format_report(report))
    if FLAGS.report_file:
      fileio.write_text_atomically(FLAGS.report_file, json.dumps(report, indent=1) + "\n")
    sys.stdout.write("build_vocab compare: %s\n" % " ".join(
        "%s:pieces_per_word=%.4f,split3_rate=%.4f,unk_rate=%.5f" % (
            os.path.basename(e["vocab_file"]), e["corpus"]["pieces_per_word"], e["corpus"]["split3_rate"],
            e["corpus"]["unk_rate"]) for e in report))


if __name__ == "__main__":
  define_flags()
  errors.run_main(main)
