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
"""Turns run_ner's WordPiece-level predictions back into words, in the CoNLL form conlleval.pl reads.

Inputs (the original's flags):

  --token_test_path  run_ner's token_test.txt: for every sentence of test.tsv, one per line, `[CLS]`, the
                     sentence's WordPiece tokens (cut to max_seq_length - 2 when longer), `[SEP]`.
  --label_test_path  run_ner's label_test.txt: one predicted label per line, line-aligned with token_test.txt.
  --answer_path      the gold test.tsv the predictions were made on.
  --output_dir       where NER_result_conll.txt (and, with --debug, NER_result_sent-debug.txt) is written.
  --do_lower_case    (new; default False, as BioBERT's NER runs) the casing run_ner tokenized with.

Output: `output_dir/NER_result_conll.txt`, one line `"%s %s %s\\n" % (word, gold_tag, predicted_tag)` per gold
word and an empty line after each sentence. A plain label ("B", "I", "O") is written with the original's "-MISC"
suffix ("B-MISC"); a label that already carries a type ("B-Disease") is written as it is, so conlleval.pl reports
each entity type on its own. The printed lines are the original's: `len(bert_pred['toks']):  N len(ans['labels']):
M`, the trimmed-sentence notice for sentences cut by max_seq_length, and "NER detokenize done".

How words are found again. The original glued "##" pieces onto the previous piece and took every other piece as a
new word, then walked that word list beside the gold words with an offset that could only grow. A gold word that
BERT's BasicTokenizer splits at punctuation ("IL-2" -> "IL", "-", "2"), a word that tokenizes to nothing, or a
repeated blank line in test.tsv put the two lists out of step for the rest of the file (and ended in an
IndexError, biobert#109). Here each gold word is matched with its own pieces instead: a word yields exactly one
non-"##" piece per BasicTokenizer token (WordPiece turns every basic token into one head piece plus "##"
continuations, or into one "[UNK]"), so the pieces of a sentence are dealt out word by word from that count. The
word's prediction is the label of its first piece ("[CLS]", "[SEP]", "X" and "[PAD]" read as "O"). Every piece
is also checked against the text of the word it is dealt to, so a token file made from another test.tsv is caught
rather than scored.

Differences from the original, on purpose:

  * Column 1 is the gold word. The original wrote the word rebuilt from BioBERT's pieces, which could be "[UNK]",
    lower-cased, or a fragment of a word split at punctuation. conlleval.pl reads only the last two columns, so
    the scores are the original's wherever the original kept the words in step.
  * Every gold word gets exactly one line, in order: words cut off by max_seq_length and words that tokenize to
    nothing (so BERT never saw them) are written with the prediction "O". A cut sentence prints the original's
    trimmed-sentence notice; vanished words print a notice of their own (the original took them for a cut).
  * The gold label is the last column of test.tsv (the original took the second; the same for 2-column files).
    A line with a word and no label is an error naming the line (the original printed "Exception at line no"
    and went on out of step).
  * test.tsv is read as run_ner reads it: UTF-8 with or without a byte-order mark, "\\n", "\\r\\n" or "\\r" line
    ends, columns separated by tabs or spaces, word = first column, label = last column; a blank line ends a
    sentence, repeated blank lines are one boundary, and a last sentence without a final blank line is kept.
  * Files that do not belong together (another test.tsv, token and label files of different lengths) stop with
    one `error: ...` line naming both files and where they disagree, exit status 2, and nothing is written.
    Output files are written under a temporary name and renamed when complete.
  * Without --answer_path it stops with the original's message and exit status 2 instead of a traceback.

Other code calls the pieces directly, e.g. run_ner to write NER_result_conll.txt in-process: `read_gold`,
`read_predictions`, `detokenize`, `write_conll`, or `run` for the whole job. Only the standard library and the
project's tokenization.py and errors.py are imported: no TensorFlow.
"""

import argparse
import os
import sys
import unicodedata

if __package__ in (None, ""):
  # Run as a script (`python biocodes/ner_detokenize.py`): tokenization.py and errors.py live one folder up.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
import fileio  # pylint: disable=g-import-not-at-top,wrong-import-position
import tokenization  # pylint: disable=g-import-not-at-top,wrong-import-position

CONLL_FILE = "NER_result_conll.txt"
DEBUG_FILE = "NER_result_sent-debug.txt"

_CLS = "[CLS]"
_SEP = "[SEP]"
_UNK = "[UNK]"
# Labels that mark no entity decision of their own; a word predicted with one of them is "O".
_NON_ENTITY_LABELS = frozenset([_CLS, _SEP, "X", "[PAD]"])

# word -> its basic tokens, per casing. Test sets repeat most of their words, so each is tokenized once; the
# memo is forgotten past a bound so that many calls on large sets stay bounded in memory.
_BASIC_TOKENS = {False: {}, True: {}}
_BASIC_TOKENS_LIMIT = 1 << 20

_TRIMMED_NOTICE = ("## The predicted sentence of BioBERT model looks like trimmed. (The Length of the tokenized "
                   "input sequence is longer than max_seq_length); Filling O label instead.")


class GoldSentence(list):
  """The (word, label) pairs of one test.tsv sentence; `line` is the 1-based line of its first word."""

  def __init__(self, pairs=(), line=None):
    super(GoldSentence, self).__init__(pairs)
    self.line = line


# ---------------------------------------------------------------------------------------------------------------
# Reading.


def _read_text(path, what):
  """Returns the text of a UTF-8 file (byte-order mark dropped, line ends turned into "\\n")."""
  if not path:
    raise errors.UserError("%s: no path given" % what)
  if not os.path.exists(path):
    raise errors.UserError("%s %s: not found" % (what, path))
  if os.path.isdir(path):
    raise errors.UserError("%s %s: is a directory" % (what, path))
  try:
    with open(path, "rb") as reader:
      data = reader.read()
  except OSError as e:
    raise errors.UserError("%s %s: cannot read: %s" % (what, path, e.strerror or e)) from e
  try:
    text = data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    raise errors.UserError("%s %s: line %d: not valid UTF-8 (%s)"
                           % (what, path, data[:e.start].count(b"\n") + 1, e.reason)) from e
  # Universal line ends, as Python's text mode reads them: "\r\n" and a lone "\r" both end a line.
  if "\r" in text:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
  return text


def _lines(text):
  """Splits text into lines; what follows the final "\\n" is a line only when it is not empty."""
  lines = text.split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  return lines


def read_gold(path, what="answer file"):
  """Reads the gold test.tsv (or any NER file of BioBERT's) into sentences; run_ner reads its files with it.

  Args:
    path: a CoNLL-style file, one `word<TAB>label` per line (tabs or spaces; word = first column, label = last),
      a blank line between sentences.
    what: how error messages name the file.

  Returns:
    A list of `GoldSentence`s (lists of (word, label) tuples with a `line` attribute). A blank line with no
    pending words (one at the start of the file, or a repeated one) is skipped, as run_ner skips it; a last
    sentence without a final blank line is kept.

  Raises:
    errors.UserError: the file is missing, unreadable or not UTF-8, or a line has a word but no label.
  """
  text = _read_text(path, what)
  sentences = []
  current = None
  for index, line in enumerate(_lines(text)):
    columns = line.replace("\t", " ").split(" ")
    columns = [c for c in columns if c]
    if not columns:
      if current:
        sentences.append(current)
      current = None
      continue
    if len(columns) < 2:
      raise errors.UserError("%s %s: line %d: one column (%r); expected a word and its label"
                             % (what, path, index + 1, columns[0]))
    if current is None:
      current = GoldSentence(line=index + 1)
    current.append((columns[0], columns[-1]))
  if current:
    sentences.append(current)
  return sentences


def read_predictions(token_path, label_path):
  """Reads run_ner's token_test.txt and label_test.txt.

  Returns:
    (tokens, labels): two lists of str of the same length, one entry per line, stripped.

  Raises:
    errors.UserError: a file is missing, unreadable or not UTF-8, the two differ in length, or a line is blank
      (run_ner writes neither blank tokens nor blank labels).
  """
  tokens = [t.strip() for t in _lines(_read_text(token_path, "token file"))]
  labels = [l.strip() for l in _lines(_read_text(label_path, "label file"))]
  if len(tokens) != len(labels):
    raise errors.UserError(
        "token file %s (%d lines) and label file %s (%d lines) differ in length; run_ner writes them line-aligned, "
        "one predicted label per token" % (token_path, len(tokens), label_path, len(labels)))
  for what, path, values in (("token", token_path, tokens), ("label", label_path, labels)):
    if "" in values:
      raise errors.UserError("%s file %s: line %d is blank; run_ner writes one %s per line"
                             % (what, path, values.index("") + 1, what))
  return tokens, labels


def _split_predicted_sentences(tokens, labels, token_path):
  """Cuts the token lines at [CLS] ... [SEP].

  Returns:
    A list of (first_line, pieces, piece_labels) per sentence; first_line is the 1-based line of the sentence's
    [CLS]; pieces and piece_labels hold what lies between [CLS] and [SEP].
  """
  sentences = []
  start = None
  for index, token in enumerate(tokens):
    if token == _CLS:
      if start is not None:
        raise errors.UserError("token file %s: line %d: [CLS] inside sentence %d (opened on line %d, no [SEP])"
                               % (token_path, index + 1, len(sentences) + 1, start + 1))
      start = index
    elif token == _SEP:
      if start is None:
        raise errors.UserError("token file %s: line %d: [SEP] without a [CLS] before it"
                               % (token_path, index + 1))
      sentences.append((start + 1, tokens[start + 1:index], labels[start + 1:index]))
      start = None
    elif start is None:
      raise errors.UserError("token file %s: line %d: token %r outside a [CLS] ... [SEP] sentence"
                             % (token_path, index + 1, token))
  if start is not None:
    raise errors.UserError("token file %s: ends inside sentence %d (opened on line %d, no [SEP])"
                           % (token_path, len(sentences) + 1, start + 1))
  return sentences


# ---------------------------------------------------------------------------------------------------------------
# Alignment.


def _fold(text):
  """Lower-cases and strips accents (NFD, no Mn): compares pieces with words whatever casing run_ner used."""
  text = unicodedata.normalize("NFD", text.lower())
  return "".join(c for c in text if unicodedata.category(c) != "Mn")


def predicted_label(label):
  """The entity label a piece's prediction stands for: [CLS], [SEP], X and [PAD] are "O"."""
  return "O" if label in _NON_ENTITY_LABELS else label


def conll_tag(label):
  """The tag written for `label`: "B" -> "B-MISC" (the original's form); a typed "B-Disease" stays as it is."""
  return label if "-" in label else label + "-MISC"


def _gold_stream(gold_sentences, sentence_index, word_index, count):
  """`count` items of the gold file seen as the original saw it ([CLS] words [SEP] ...), from one word on."""
  out = [w for w, _ in gold_sentences[sentence_index][word_index:word_index + count]]
  if len(out) < count:
    out.append(_SEP)
  s = sentence_index + 1
  while len(out) < count and s < len(gold_sentences):
    out.append(_CLS)
    out.extend(w for w, _ in gold_sentences[s][:count - len(out)])
    if len(out) < count:
      out.append(_SEP)
    s += 1
  return out[:count]


def detokenize(tokens, labels, gold_sentences, do_lower_case=False, notices=None,
               token_path="token_test.txt", answer_path="test.tsv"):
  """Gives every gold word the prediction of its first WordPiece.

  Args:
    tokens: the lines of run_ner's token_test.txt (stripped), e.g. from `read_predictions`.
    labels: the lines of label_test.txt, line-aligned with `tokens`.
    gold_sentences: the sentences of the gold test.tsv, lists of (word, label), e.g. from `read_gold`.
    do_lower_case: the casing run_ner tokenized with; it decides how many basic tokens a word gives (accent
      stripping can empty a token, NFD can turn a symbol into punctuation).
    notices: a list to append the human-readable notices to (trimmed sentences, words that tokenize to
      nothing), or None to drop them.
    token_path, answer_path: the file names error messages use.

  Returns:
    A list with one list per gold sentence of (word, gold_label, predicted_label) tuples, one per gold word in
    order. Words cut off by max_seq_length and words that tokenize to nothing are predicted "O".

  Raises:
    errors.UserError: the pieces do not fit the gold words (another test.tsv, another tokenizer, a different
      number of sentences), naming both files and the first sentence and line where they disagree.
  """
  if len(tokens) != len(labels):
    raise errors.UserError("token file %s (%d lines) and its label file (%d lines) differ in length"
                           % (token_path, len(tokens), len(labels)))
  predicted = _split_predicted_sentences(tokens, labels, token_path)
  basic = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  basic_tokens = _BASIC_TOKENS[bool(do_lower_case)]
  if len(basic_tokens) > _BASIC_TOKENS_LIMIT:
    basic_tokens.clear()
  results = []
  cut_lengths = []  # (sentence number, pieces) of sentences cut by max_seq_length
  longest_whole = (0, 0)  # (pieces, sentence number) of the longest sentence that was not cut

  def disagree(s, sentence_line, k, piece_line, what):
    """The error for sentence s, word k (its line in the answer file where known), piece_line in the tokens."""
    gold_line = sentence_line + k if sentence_line is not None else "? (word %d)" % (k + 1)
    where = "sentence %d (%s line %s, %s line %d)" % (s + 1, answer_path, gold_line, token_path, piece_line)
    return errors.UserError(
        "%s and %s disagree at %s: %s; is --answer_path the test.tsv run_ner predicted on, with the same "
        "--do_lower_case?" % (token_path, answer_path, where, what))

  for s, (gold, (first_line, pieces, piece_labels)) in enumerate(zip(gold_sentences, predicted)):
    sentence_line = getattr(gold, "line", None)
    n = len(pieces)
    pos = 0
    out = []
    vanished = []
    cut_at = None  # index of the first word that got no piece
    for k, (word, gold_label) in enumerate(gold):
      parts = basic_tokens.get(word)
      if parts is None:
        parts = basic_tokens[word] = tuple(basic.tokenize(word))
      if not parts:
        vanished.append((word, sentence_line + k if sentence_line is not None else None))
        out.append((word, gold_label, "O"))
        continue
      if pos >= n:
        if cut_at is None:
          cut_at = k
        out.append((word, gold_label, "O"))
        continue
      label = piece_labels[pos]
      if label in _NON_ENTITY_LABELS:
        label = "O"
      for part in parts:
        if pos >= n:
          # Cut inside the word: it keeps the prediction of its first piece.
          cut_at = k + 1
          break
        h = pos
        head = text = pieces[h]
        pos += 1
        if head[:2] == "##":
          raise disagree(s, sentence_line, k, first_line + 1 + h,
                         "word %r starts with the continuation piece %r" % (word, head))
        if pos < n and pieces[pos][:2] == "##":
          while pos < n and pieces[pos][:2] == "##":
            pos += 1
          text = head + "".join(p[2:] for p in pieces[h + 1:pos])
        elif head == _UNK:
          continue  # run_ner's tokenizer found no pieces for this basic token.
        if text == part:
          continue
        # Not the same text: tell a casing difference (the answer file is right even if --do_lower_case is
        # not) and the sentence's last piece, cut by max_seq_length in the middle of a word, from a wrong file.
        folded_text, folded_part = _fold(text), _fold(part)
        if folded_text == folded_part or (pos == n and folded_part.startswith(folded_text)):
          continue
        raise disagree(s, sentence_line, k, first_line + 1 + h,
                       "word %r gives %r but the pieces read %r" % (word, part, " ".join(pieces[h:pos])))
      out.append((word, gold_label, label))
    if pos < n:
      raise disagree(s, sentence_line, len(gold) - 1, first_line + 1 + pos,
                     "the gold sentence ends (%d words) but the pieces go on with %r"
                     % (len(gold), pieces[pos]))
    if cut_at is not None and cut_at < len(gold):
      cut_lengths.append((s + 1, n))
      if notices is not None:
        notices.append(_TRIMMED_NOTICE)
        notices.append("   -> Showing 10 words near skipped part : %s"
                       % " ".join(_gold_stream(gold_sentences, s, cut_at, 11)))
    elif n > longest_whole[0]:
      longest_whole = (n, s + 1)
    if vanished and notices is not None:
      notices.append("## %d word(s) of sentence %d tokenize to nothing, so BioBERT made no prediction for them; "
                     "Filling O label instead." % (len(vanished), s + 1))
      notices.append("   -> Words : %s" % " ".join(
          "%r (%s line %s)" % (w, answer_path, l if l is not None else "?") for w, l in vanished))
    results.append(out)

  if len(gold_sentences) != len(predicted):
    raise errors.UserError(
        "%s holds %d sentences ([CLS] ... [SEP]) but %s holds %d (the first %d agree); is --answer_path the "
        "test.tsv run_ner predicted on?" % (token_path, len(predicted), answer_path, len(gold_sentences),
                                            min(len(predicted), len(gold_sentences))))
  # run_ner cuts every long sentence to the same max_seq_length - 2 pieces, and leaves shorter ones whole.
  # Sentences cut at different lengths, or a cut one shorter than a whole one, mean the gold side holds words
  # the predictions never had.
  if cut_lengths:
    cut_sentence, cut_length = cut_lengths[0]
    for other_sentence, other_length in cut_lengths[1:]:
      if other_length != cut_length:
        raise errors.UserError(
            "%s and %s disagree: the gold words of sentence %d go on after %d pieces and those of sentence %d "
            "after %d, but run_ner cuts every long sentence at the same length; is --answer_path the test.tsv "
            "run_ner predicted on?" % (token_path, answer_path, cut_sentence, cut_length, other_sentence,
                                       other_length))
    if longest_whole[0] > cut_length:
      raise errors.UserError(
          "%s and %s disagree: the gold words of sentence %d go on after %d pieces although sentence %d holds "
          "%d whole; is --answer_path the test.tsv run_ner predicted on?"
          % (token_path, answer_path, cut_sentence, cut_length, longest_whole[1], longest_whole[0]))
  return results


def rebuild_words(tokens):
  """The words as the original rebuilt them from the pieces (each "##" piece glued onto the one before).

  Returns:
    A list with one list of str per [CLS] ... [SEP] sentence of `tokens`.
  """
  sentences = []
  words = []
  for token in tokens:
    if token == _CLS:
      words = []
    elif token == _SEP:
      sentences.append(words)
      words = []
    elif token.startswith("##") and words:
      words[-1] += token[2:]
    else:
      words.append(token)
  return sentences


def count_line(tokens, gold_sentences):
  """The original's count line: its rebuilt words and gold labels, each with the [CLS] and [SEP] of every sentence."""
  num_pred = sum(1 for t in tokens if not t.startswith("##"))
  num_gold = sum(len(sentence) + 2 for sentence in gold_sentences)
  return "len(bert_pred['toks']):  %d len(ans['labels']):  %d" % (num_pred, num_gold)


# ---------------------------------------------------------------------------------------------------------------
# Writing.


def format_conll(sentences):
  """NER_result_conll.txt's text: `word gold_tag predicted_tag` per word, an empty line after each sentence."""
  out = []
  for sentence in sentences:
    for word, gold_label, pred_label in sentence:
      out.append("%s %s %s\n" % (word, conll_tag(gold_label), conll_tag(pred_label)))
    out.append("\n")
  return "".join(out)


def write_conll(path, sentences):
  """Writes the output of `detokenize` to `path` in the CoNLL form conlleval.pl reads (atomically)."""
  fileio.write_text_atomically(path, format_conll(sentences))


def write_debug(path, gold_sentences, tokens):
  """Writes the original's NER_result_sent-debug.txt: each gold sentence above the words BioBERT rebuilt.

  The original asserted that the two word counts agree, which fails on every sentence cut by max_seq_length or
  split at punctuation; here the counts are only shown.
  """
  out = []
  for gold, words in zip(gold_sentences, rebuild_words(tokens)):
    out.append("ANS (%d): %s\n" % (len(gold), " ".join(w for w, _ in gold)))
    out.append("PRD (%d): %s\n" % (len(words), " ".join(words)))
    out.append("\n")
  fileio.write_text_atomically(path, "".join(out))


def run(token_path, label_path, answer_path, output_dir, do_lower_case=False, debug=False, log=print):
  """The whole job: read, align, write NER_result_conll.txt (and the debug file); returns the sentences.

  Args:
    log: called with each line the original printed (the count line, notices); None prints nothing.
  """
  tokens, labels = read_predictions(token_path, label_path)
  gold = read_gold(answer_path)
  notices = []
  sentences = detokenize(tokens, labels, gold, do_lower_case=do_lower_case, notices=notices,
                         token_path=token_path, answer_path=answer_path)
  log = log or (lambda line: None)
  if debug:
    write_debug(os.path.join(output_dir, DEBUG_FILE), gold, tokens)
  log(count_line(tokens, gold))
  for line in notices:
    log(line)
  write_conll(os.path.join(output_dir, CONLL_FILE), sentences)
  return sentences


# ---------------------------------------------------------------------------------------------------------------
# Command line.


class _Parser(argparse.ArgumentParser):
  """argparse that reports a bad command line as one `error: ...` line with exit status 2."""

  def error(self, message):
    errors.fail(message)


def _parse_bool(value):
  lowered = value.strip().lower()
  if lowered in ("true", "t", "1", "yes"):
    return True
  if lowered in ("false", "f", "0", "no"):
    return False
  raise argparse.ArgumentTypeError("expected true or false, got %r" % value)


def parse_args(argv=None):
  parser = _Parser(description="Turns run_ner's token_test.txt/label_test.txt into NER_result_conll.txt.")
  parser.add_argument("--token_test_path", type=str,
                      help="Path to token_test.txt from output folder. ex) output/token_test.txt")
  parser.add_argument("--label_test_path", type=str,
                      help="Path to label_test.txt from output folder. ex) output/label_test.txt")
  parser.add_argument("--answer_path", type=str, default=None,
                      help="Path to golden dataset. ex) NCBI-disease/test.tsv")
  parser.add_argument("--output_dir", type=str, help="Path to output result will write on. ex) output/")
  # `--debug` alone works as in the original; `--debug=false` too, like the project's other boolean flags.
  parser.add_argument("--debug", type=_parse_bool, nargs="?", const=True, default=False,
                      help="Debug. Outputs NER_result_sent-debug.txt")
  parser.add_argument("--do_lower_case", type=_parse_bool, nargs="?", const=True, default=False,
                      help="The --do_lower_case run_ner tokenized with (BioBERT's NER runs: false).")
  return parser.parse_args(argv)


def main(argv=None):
  args = parse_args(argv)
  try:
    for flag in ("token_test_path", "label_test_path"):
      if not getattr(args, flag):
        raise errors.UserError("--%s is required (run_ner writes it into its --output_dir)" % flag)
    if args.answer_path is None:
      raise errors.UserError("Golden answer not presented! Please use detokenize function.")
    if not args.output_dir:
      raise errors.UserError("--output_dir is required")
    run(args.token_test_path, args.label_test_path, args.answer_path, args.output_dir,
        do_lower_case=args.do_lower_case, debug=args.debug)
  except errors.UserError as e:
    errors.fail(str(e))
  print("NER detokenize done")


if __name__ == "__main__":
  main()
