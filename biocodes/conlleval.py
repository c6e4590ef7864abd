# coding=utf-8
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
"""Chunk-level evaluation of tagged text, equal byte for byte to CoNLL-2000 `conlleval` (version 2004-01-26).

BioBERT reports NER scores with the `conlleval.pl` script of the CoNLL-2000 shared task. This module is a
standard-library Python implementation of that script: the same command line, the same numbers, the same
layout, the same messages on stderr and the same exit codes, so logs and published tables compare unchanged,
and Python code (run_ner.py) can compute the entity-level scores without spawning Perl.

Input: lines of fields separated by a delimiter (default one space); the last two fields are the gold tag and
the guessed tag, in that order. An empty line, or a line whose first field is `-X-`, is a sentence boundary. A
tag splits at its first '-' into a prefix (B, I, E, O, `[`, `]`, `.`, or anything else) and a type, so
`B-MISC` is prefix B, type MISC, and `O-MISC` is prefix O, type MISC (BioBERT's detokenizer writes the latter).

Command line (all options as in the original):

  python biocodes/conlleval.py [-l] [-r] [-d delimiter] [-o oTag] < file

  -l  LaTeX table instead of the text report.
  -r  raw tags: every tag other than the outside tag is a one-word chunk (a `B-` is prefixed).
  -d  field delimiter, used as a regular expression (the original splits with `split(/$delimiter/, $line)`).
  -o  outside tag for -r (default O).

The input is read from stdin only: like the original, any argument that is not an option is refused with
"conlleval: unexpected command line argument". Input is handled as bytes (decoded as latin-1 internally), so
UTF-8 or any other encoding passes through untouched and field widths count bytes, as Perl does.

Python use:

  counts = conlleval.evaluate(lines, delimiter=" ", o_tag="O", raw=False)
      `lines`: an iterable of str or bytes lines, with or without their trailing "\\n". Returns `Counts`.
      Raises `ConllevalError` (with the original's message and exit code) on malformed input.
  text = conlleval.report(counts, latex=False)
      The exact text the original prints on stdout.
  result = conlleval.scores(counts)
      `Scores(accuracy, overall, per_type)`: accuracy in percent (None when no token was read), `overall` a
      `Score(precision, recall, f1, found_guessed, found_correct, correct)` with the three rates in percent,
      and `per_type` an ordered dict type -> `Score` in report order. These are the numbers the report rounds.
  exit_code = conlleval.main(argv=None, stdin=None, stdout=None, stderr=None)
      The command line. `argv` is a full argument vector (argv[0] is the program name, which appears in the
      messages Perl suffixes with "at <script> line <n>."); streams may be binary or text.

Faithfully reproduced quirks of the original (each one changes output on some input):
  * `-d` is a Perl regular expression, so `-d '|'` or `-d ''` split lines into single characters, `-d .` turns
    every line into a sentence boundary, and capture groups in it add fields. Split keeps a leading empty field
    (" a B B" has four fields) and drops trailing empty ones.
  * The number of fields is fixed by the first non-empty line; a later line with another count stops with
    "unexpected number of features: <found> (<expected>)" and exit code 1, even for a `-X-` line. A line with
    fewer than two fields stops with "conlleval: unexpected number of features in line <line>" and exit 255.
  * Lines with exactly two fields have no first item; Perl, run with -w, warns twice per such line
    ("Use of uninitialized value $firstItem ..."), and the line still counts as a token.
  * Only "\\n" is removed from a line, so with CRLF input the guessed tag ends in "\\r" (a different type), and
    "\\r" alone is not an empty line.
  * A chunk type "0" is read as no type (Perl's truth test), and the empty type is listed twice in the
    per-type report when it occurs on both the gold and the guessed side (a de-duplication that tests truth).
  * The accuracy line is printed only when at least one token (non-boundary line) was read.

Not reproduced: Perl's run-time warnings for fields that are undefined because a capture group of the `-d`
regex did not take part in the match (they are read as empty strings here), and the exact wording of every Perl
regex compilation error (the common ones are reproduced: unmatched brackets, misplaced quantifiers, trailing
backslash, bad ranges). Python's `re` stands in for Perl's engine: syntax shared by both behaves the same, the
Perl-only escapes \\z \\Z \\h \\H \\v \\V \\N \\R and POSIX classes such as [[:space:]] are translated, and a delimiter
that can match the empty string is retried one character further on where Perl would backtrack first.
"""

import collections
import io
import os
import re
import sys

# The original's fixed sentence-boundary marker (first field of a document-start line).
_BOUNDARY = "-X-"

# Line numbers in the reference script, which Perl writes into its warning and error messages.
_PERL_LINE_D_OPTION = 69
_PERL_LINE_O_OPTION = 75
_PERL_LINE_SPLIT = 84
_PERL_LINE_FIRST_ITEM_EQ = 130
_PERL_LINE_FIRST_ITEM_NE = 162

# Exit status of Perl's `die` when errno is 0, which is the case everywhere the original dies.
_DIE_EXIT = 255

Score = collections.namedtuple("Score", ["precision", "recall", "f1", "found_guessed", "found_correct", "correct"])
Scores = collections.namedtuple("Scores", ["accuracy", "overall", "per_type"])


class ConllevalError(Exception):
  """Malformed input or arguments; carries the original's message and exit code.

  `message` is the text Perl prints. Where Perl appends its own location ("at <script> line <n>." and, once
  input was read, ", <STDIN> line <m>"), `script_line` and `input_line` hold the numbers and `text(prog)` builds
  the full line.
  """

  def __init__(self, message, exit_code, script_line=None, input_line=None):
    super().__init__(message)
    self.message = message
    self.exit_code = exit_code
    self.script_line = script_line
    self.input_line = input_line

  def text(self, prog="conlleval.pl"):
    if self.script_line is None:
      return self.message
    return self.message + _perl_location(prog, self.script_line, self.input_line) + "\n"


def _perl_location(prog, script_line, input_line):
  where = " at %s line %d" % (prog, script_line)
  if input_line is not None:
    where += ", <STDIN> line %d" % input_line
  return where + "."


def _perl_true(value):
  # Perl's truth test on a string: only "" and "0" are false.
  return value != "" and value != "0"


class Counts(object):
  """Chunk and token counts after reading a file; the state the report is computed from."""

  def __init__(self):
    self.correct_chunk = 0    # chunks whose gold and guessed extent and type agree
    self.found_correct = 0    # gold chunks
    self.found_guessed = 0    # guessed chunks
    self.correct_tags = 0     # tokens whose gold and guessed tag agree (prefix and type)
    self.token_counter = 0    # tokens, boundary lines excluded
    self.correct_chunk_by_type = {}
    self.found_correct_by_type = {}
    self.found_guessed_by_type = {}

  def report_types(self):
    """Types in report order: byte order, de-duplicated the way the original does it.

    The original drops a repeat only when the previous name is true in Perl's sense, so the empty type, when it
    is counted on both sides, appears twice.
    """
    names = sorted(list(self.found_correct_by_type) + list(self.found_guessed_by_type))
    result = []
    last = None
    for name in names:
      if last is None or not _perl_true(last) or last != name:
        result.append(name)
      last = name
    return result


def _end_of_chunk(prev_tag, tag, prev_type, type_):
  """True when a chunk ended between the previous and the current word."""
  if prev_tag == "B" and (tag == "B" or tag == "O"):
    return True
  if prev_tag == "I" and (tag == "B" or tag == "O"):
    return True
  if prev_tag == "E" and (tag == "E" or tag == "I" or tag == "O"):
    return True
  if prev_tag != "O" and prev_tag != "." and prev_type != type_:
    return True
  # Bracket chunks are one word long.
  return prev_tag == "]" or prev_tag == "["


def _start_of_chunk(prev_tag, tag, prev_type, type_):
  """True when a chunk started between the previous and the current word."""
  if tag == "B" and (prev_tag == "B" or prev_tag == "I" or prev_tag == "O"):
    return True
  if prev_tag == "O" and (tag == "I" or tag == "E"):
    return True
  if prev_tag == "E" and (tag == "E" or tag == "I"):
    return True
  if tag != "O" and tag != "." and prev_type != type_:
    return True
  return tag == "[" or tag == "]"


def _split_tag(tag):
  # The original's /^([^-]*)-(.*)$/: prefix up to the first '-', type after it; no '-' means no type.
  prefix, dash, type_ = tag.partition("-")
  if not dash:
    return tag, ""
  # A type that is false for Perl ("0") is replaced by "".
  return prefix, type_ if _perl_true(type_) else ""


def chunks(tags, o_tag="O"):
  """The chunks conlleval counts in one sentence's tags: a list of (first index, end index, type).

  The same start and end rules as the evaluation (B/I/E/S/O, brackets, a change of type), so the entities a
  tool reports are the phrases conlleval scores. `end` is exclusive.
  """
  found = []
  start = None
  prev_tag, prev_type = "O", ""
  for index, tag in enumerate(list(tags) + [o_tag]):
    tag, type_ = _split_tag(tag)
    if tag == o_tag:
      tag = "O"
    if start is not None and _end_of_chunk(prev_tag, tag, prev_type, type_):
      found.append((start, index, prev_type))
      start = None
    if _start_of_chunk(prev_tag, tag, prev_type, type_):
      start = index
    prev_tag, prev_type = tag, type_
  return found


# ---------------------------------------------------------------------------------------------------------------
# Splitting a line the way Perl's split(/$delimiter/, $line) does.

_REGEX_METACHARS = frozenset("\\^$.|?*+()[]{}")

_POSIX_CLASSES = {
    "alpha": "a-zA-Z", "digit": "0-9", "alnum": "a-zA-Z0-9", "upper": "A-Z", "lower": "a-z",
    "space": " \\t\\n\\r\\f\\v", "blank": " \\t", "word": "a-zA-Z0-9_", "xdigit": "0-9A-Fa-f",
    "punct": "!-/:-@\\[-`{-~", "cntrl": "\\x00-\\x1f\\x7f", "print": " -~", "graph": "!-~",
}

# Perl escapes that Python's re lacks or reads differently, outside and inside a bracketed class. Under Perl's
# rules for byte strings \h also matches NBSP and \v also matches NEL.
_ESCAPES_OUTSIDE = {"z": "\\Z", "Z": "(?=\\n?\\Z)", "h": "[\\t \\xa0]", "H": "[^\\t \\xa0]",
                    "v": "[\\n\\x0b\\f\\r\\x85]", "V": "[^\\n\\x0b\\f\\r\\x85]", "N": "[^\\n]",
                    "R": "(?:\\r\\n|[\\n\\x0b\\f\\r\\x85])"}
_ESCAPES_INSIDE = {"h": "\\t \\xa0", "v": "\\n\\x0b\\f\\r\\x85"}


def _translate_perl_regex(pattern):
  """Rewrites the Perl-only parts of a regex into Python `re` syntax (see the module docstring)."""
  out = []
  i = 0
  n = len(pattern)
  in_class = False
  class_start = 0
  while i < n:
    c = pattern[i]
    if c == "\\" and i + 1 < n:
      escape = pattern[i + 1]
      table = _ESCAPES_INSIDE if in_class else _ESCAPES_OUTSIDE
      if escape == "N" and pattern.startswith("{", i + 2):
        table = {}  # \N{NAME} is a named character, left to Python (which knows the same names)
      out.append(table.get(escape, pattern[i:i + 2]))
      i += 2
      continue
    if in_class:
      if c == "[" and pattern.startswith("[:", i):
        end = pattern.find(":]", i + 2)
        if end >= 0 and pattern[i + 2:end] in _POSIX_CLASSES:
          out.append(_POSIX_CLASSES[pattern[i + 2:end]])
          i = end + 2
          continue
      # A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if c == "]" and i > class_start:
        in_class = False
    elif c == "[":
      in_class = True
      class_start = i + 1
      if pattern.startswith("^", class_start):
        class_start += 1
      out.append(c)
      i += 1
      continue
    out.append(c)
    i += 1
  return "".join(out)


def _here(pattern, pos):
  return "marked by <-- HERE in m/%s <-- HERE %s/" % (pattern[:pos], pattern[pos:])


def _perl_regex_error(pattern, error):
  """Perl's wording for the commonest regex compilation errors, from Python's report of the same error."""
  msg = error.msg
  pos = error.pos if error.pos is not None else 0
  if msg.startswith("missing ), unterminated subpattern"):
    return "Unmatched ( in regex; " + _here(pattern, pos + 1)
  if msg.startswith("unbalanced parenthesis"):
    return "Unmatched ) in regex; " + _here(pattern, pos + 1)
  if msg.startswith("unterminated character set"):
    return "Unmatched [ in regex; " + _here(pattern, pos + 1)
  if msg.startswith("nothing to repeat"):
    return "Quantifier follows nothing in regex; " + _here(pattern, pos + 1)
  if msg.startswith("multiple repeat"):
    return "Nested quantifiers in regex; " + _here(pattern, pos + 1)
  if msg.startswith("bad escape (end of pattern)"):
    return "Trailing \\ in regex m/%s/" % pattern
  if msg.startswith("bad character range "):
    char_range = msg[len("bad character range "):]
    return 'Invalid [] range "%s" in regex; %s' % (char_range, _here(pattern, pos + len(char_range)))
  return "%s in regex; %s" % (msg, _here(pattern, pos))


class _Splitter(object):
  """Perl's split(/$delimiter/, $line) with no limit, compiled on first use as Perl compiles it."""

  def __init__(self, delimiter):
    self.delimiter = delimiter
    self.regex = None
    self.literal = delimiter and not any(c in _REGEX_METACHARS for c in delimiter)

  def split(self, line, input_line):
    if self.literal:
      fields = line.split(self.delimiter)
    else:
      fields = self._split_regex(line, input_line)
    # No limit: trailing empty fields are dropped (an empty line gives no field at all).
    while fields and not fields[-1]:
      fields.pop()
    return fields

  def _compile(self, input_line):
    try:
      # ASCII classes: Perl's \s \w \d on byte strings match ASCII characters only.
      self.regex = re.compile(_translate_perl_regex(self.delimiter), re.ASCII)
    except re.error as e:
      # Report the error at its place in the pattern as given, where Python's re finds it there too.
      try:
        re.compile(self.delimiter)
        error = e
      except re.error as untranslated:
        error = untranslated
      raise ConllevalError(_perl_regex_error(self.delimiter, error), _DIE_EXIT, _PERL_LINE_SPLIT, input_line)

  def _split_regex(self, line, input_line):
    if self.regex is None:
      # Perl compiles the interpolated pattern when split first runs, so a bad -d fails only on input.
      self._compile(input_line)
    regex = self.regex
    fields = []
    start = 0
    n = len(line)
    while start < n:
      match = regex.search(line, start)
      if match is None:
        break
      if match.end() <= start:
        # Perl's split asks for a match ending at least one character past the current field start, so an
        # empty match there does not count; the next possible one is an empty match one character on.
        match = regex.search(line, start + 1)
        if match is None:
          break
      fields.append(line[start:match.start()])
      # Capture groups become fields; one that did not take part is Perl's undef, read as "" downstream.
      fields.extend(g if g is not None else "" for g in match.groups())
      start = match.end()
    if start < n:
      fields.append(line[start:])
    return fields


# ---------------------------------------------------------------------------------------------------------------
# Evaluation.

def _as_text(line):
  if isinstance(line, (bytes, bytearray)):
    return line.decode("latin-1")
  return line


def evaluate(lines, delimiter=" ", o_tag="O", raw=False, warn=None):
  """Counts chunks and tokens in `lines` exactly as the original does.

  Args:
    lines: iterable of str or bytes, one input line each (a trailing "\\n" is removed, nothing else).
    delimiter: the field delimiter, a Perl regular expression (see the module docstring).
    o_tag: the outside tag in raw mode.
    raw: tags carry no B-/I- prefix; every non-outside tag is a one-word chunk.
    warn: optional callable(message, script_line, input_line) receiving the warnings Perl prints under -w
      (message without Perl's location suffix).

  Returns:
    A `Counts`.

  Raises:
    ConllevalError: the input (or the delimiter regex) is malformed; the error holds the original's message and
      exit code, and evaluation stops there as the original does.
  """
  counts = Counts()
  splitter = _Splitter(delimiter)
  expected_last_index = -1   # Perl's $nbrOfFeatures: index of the last field on the first non-empty line
  in_correct = False         # the chunk being read is correct so far
  last_correct, last_correct_type = "O", ""
  last_guessed, last_guessed_type = "O", ""
  correct_by_type = counts.correct_chunk_by_type
  found_correct_by_type = counts.found_correct_by_type
  found_guessed_by_type = counts.found_guessed_by_type

  # Tags and chunk transitions repeat endlessly in real files; both are memoized per distinct value.
  tag_cache = {}
  transitions = {}

  def transition(prev_tag, tag, same_type):
    key = (prev_tag, tag, same_type)
    result = transitions.get(key)
    if result is None:
      prev_type, type_ = ("", "") if same_type else ("", "-")
      result = (_end_of_chunk(prev_tag, tag, prev_type, type_), _start_of_chunk(prev_tag, tag, prev_type, type_))
      transitions[key] = result
    return result

  input_line = 0
  for line in lines:
    input_line += 1
    if line.__class__ is not str:
      line = _as_text(line)
    if line.endswith("\n"):
      line = line[:-1]
    features = splitter.split(line, input_line)
    last_index = len(features) - 1
    if expected_last_index < 0:
      # Set by the first line, and again by the next one while lines are empty.
      expected_last_index = last_index
    elif expected_last_index != last_index and features:
      raise ConllevalError("unexpected number of features: %d (%d)\n" % (last_index + 1, expected_last_index + 1), 1)
    if not features or features[0] == _BOUNDARY:
      features = [_BOUNDARY, "O", "O"]
    if len(features) < 2:
      raise ConllevalError("conlleval: unexpected number of features in line %s\n" % line, _DIE_EXIT)
    guessed_tag = features[-1]
    correct_tag = features[-2]
    if raw:
      if guessed_tag == o_tag:
        guessed_tag = "O"
      if correct_tag == o_tag:
        correct_tag = "O"
      if guessed_tag != "O":
        guessed_tag = "B-" + guessed_tag
      if correct_tag != "O":
        correct_tag = "B-" + correct_tag
    parsed = tag_cache.get(guessed_tag)
    if parsed is None:
      parsed = tag_cache[guessed_tag] = _split_tag(guessed_tag)
    guessed, guessed_type = parsed
    parsed = tag_cache.get(correct_tag)
    if parsed is None:
      parsed = tag_cache[correct_tag] = _split_tag(correct_tag)
    correct, correct_type = parsed

    if len(features) > 2:
      is_boundary = features[0] == _BOUNDARY
    else:
      # Two fields leave no first item: Perl compares undef (as "") and warns at both comparisons.
      if warn is not None:
        warn("Use of uninitialized value $firstItem in string eq", _PERL_LINE_FIRST_ITEM_EQ, input_line)
        warn("Use of uninitialized value $firstItem in string ne", _PERL_LINE_FIRST_ITEM_NE, input_line)
      is_boundary = False
    # Sentence breaks are always outside any chunk.
    if is_boundary:
      guessed = "O"

    # Chunk boundaries depend on the two prefixes and on whether the type changed.
    correct_ends, correct_starts = transition(last_correct, correct, last_correct_type == correct_type)
    guessed_ends, guessed_starts = transition(last_guessed, guessed, last_guessed_type == guessed_type)
    if in_correct:
      if correct_ends and guessed_ends and last_guessed_type == last_correct_type:
        in_correct = False
        counts.correct_chunk += 1
        correct_by_type[last_correct_type] = correct_by_type.get(last_correct_type, 0) + 1
      elif correct_ends != guessed_ends or guessed_type != correct_type:
        in_correct = False

    if correct_starts and guessed_starts and guessed_type == correct_type:
      in_correct = True
    if correct_starts:
      counts.found_correct += 1
      found_correct_by_type[correct_type] = found_correct_by_type.get(correct_type, 0) + 1
    if guessed_starts:
      counts.found_guessed += 1
      found_guessed_by_type[guessed_type] = found_guessed_by_type.get(guessed_type, 0) + 1
    if not is_boundary:
      if correct == guessed and guessed_type == correct_type:
        counts.correct_tags += 1
      counts.token_counter += 1

    last_guessed, last_correct = guessed, correct
    last_guessed_type, last_correct_type = guessed_type, correct_type

  if in_correct:
    counts.correct_chunk += 1
    correct_by_type[last_correct_type] = correct_by_type.get(last_correct_type, 0) + 1
  return counts


def _rates(correct, found_guessed, found_correct):
  # Percentages with the original's order of operations (100*c/n, then 2*p*r/(p+r)); 0 on a zero denominator.
  precision = 100 * correct / found_guessed if found_guessed > 0 else 0.0
  recall = 100 * correct / found_correct if found_correct > 0 else 0.0
  f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
  return precision, recall, f1


def _type_score(counts, name):
  correct = counts.correct_chunk_by_type.get(name, 0)
  found_guessed = counts.found_guessed_by_type.get(name, 0)
  found_correct = counts.found_correct_by_type.get(name, 0)
  precision, recall, f1 = _rates(correct, found_guessed, found_correct)
  return Score(precision, recall, f1, found_guessed, found_correct, correct)


def scores(counts):
  """Accuracy and overall and per-type precision, recall and F1 (all in percent), as the report computes them.

  Returns `Scores(accuracy, overall, per_type)`; `accuracy` is None when no token was read (the report then
  prints no accuracy line), `per_type` is ordered like the report but lists each type once.
  """
  accuracy = None
  if counts.token_counter > 0:
    accuracy = 100 * counts.correct_tags / counts.token_counter
  precision, recall, f1 = _rates(counts.correct_chunk, counts.found_guessed, counts.found_correct)
  overall = Score(precision, recall, f1, counts.found_guessed, counts.found_correct, counts.correct_chunk)
  per_type = collections.OrderedDict()
  for name in counts.report_types():
    if name not in per_type:
      per_type[name] = _type_score(counts, name)
  return Scores(accuracy, overall, per_type)


def report(counts, latex=False):
  """The text the original prints on stdout for `counts` (a LaTeX table body with latex=True)."""
  overall = scores(counts)
  out = []
  if not latex:
    total = overall.overall
    out.append("processed %d tokens with %d phrases; found: %d phrases; correct: %d.\n" % (
        counts.token_counter, counts.found_correct, counts.found_guessed, counts.correct_chunk))
    if overall.accuracy is not None:
      out.append("accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f\n" % (
          overall.accuracy, total.precision, total.recall, total.f1))
    for name in counts.report_types():
      score = overall.per_type[name]
      out.append("%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d\n" % (
          name, score.precision, score.recall, score.f1, score.found_guessed))
  else:
    out.append("        & Precision &  Recall  & F$_{\\beta=1} \\\\\\hline")
    for name in counts.report_types():
      score = overall.per_type[name]
      out.append("\n%-7s &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\" % (name, score.precision, score.recall, score.f1))
    out.append("\\hline\n")
    total = overall.overall
    out.append("Overall &  %6.2f\\%% & %6.2f\\%% & %6.2f \\\\\\hline\n" % (total.precision, total.recall, total.f1))
  return "".join(out)


# ---------------------------------------------------------------------------------------------------------------
# Command line.

class _Output(object):
  """Writes latin-1 text to a binary or text stream, so input bytes come out unchanged."""

  def __init__(self, stream):
    self.stream = stream
    self.binary = isinstance(stream, (io.RawIOBase, io.BufferedIOBase)) or hasattr(stream, "buffer")
    if hasattr(stream, "buffer"):
      self.stream = stream.buffer

  def write(self, text):
    if self.binary:
      self.stream.write(text.encode("latin-1"))
    else:
      self.stream.write(text)
    self.stream.flush()


def _input_lines(stream):
  if hasattr(stream, "buffer"):
    stream = stream.buffer
  # Binary line iteration splits on b"\n" only, like Perl's <STDIN>.
  for line in stream:
    yield line.decode("latin-1") if line.__class__ is bytes else line


def _parse_args(args):
  """The original's option loop: options first, each exactly one of -l -r -d X -o X; nothing may follow."""
  options = {"latex": False, "raw": False, "delimiter": " ", "o_tag": "O"}
  args = list(args)
  while args and args[0].startswith("-"):
    arg = args.pop(0)
    if arg == "-l":
      options["latex"] = True
    elif arg == "-r":
      options["raw"] = True
    elif arg in ("-d", "-o"):
      if not args:
        # Perl's die without a trailing newline: Perl appends its location.
        line = _PERL_LINE_D_OPTION if arg == "-d" else _PERL_LINE_O_OPTION
        raise ConllevalError("conlleval: %s requires delimiter character" % arg, _DIE_EXIT, line)
      options["delimiter" if arg == "-d" else "o_tag"] = args.pop(0)
    else:
      raise ConllevalError("conlleval: unknown argument %s\n" % arg, _DIE_EXIT)
  if args:
    raise ConllevalError("conlleval: unexpected command line argument\n", _DIE_EXIT)
  return options


def main(argv=None, stdin=None, stdout=None, stderr=None):
  """Runs the command line; returns the exit code. Arguments default to sys.argv and the process's streams."""
  argv = sys.argv if argv is None else argv
  stdin = sys.stdin if stdin is None else stdin
  out = _Output(sys.stdout if stdout is None else stdout)
  err = _Output(sys.stderr if stderr is None else stderr)
  prog = argv[0] if argv else "conlleval"
  args = [_as_text(a) for a in argv[1:]]

  def warn(message, script_line, input_line):
    err.write(message + _perl_location(prog, script_line, input_line) + "\n")

  try:
    options = _parse_args(args)
    counts = evaluate(_input_lines(stdin), delimiter=options["delimiter"], o_tag=options["o_tag"],
                      raw=options["raw"], warn=warn)
  except ConllevalError as e:
    err.write(e.text(prog))
    return e.exit_code
  out.write(report(counts, latex=options["latex"]))
  return 0


def _command_line_args():
  # Arguments as the bytes the process was given (decoded as latin-1), like Perl's @ARGV.
  return [os.fsencode(a).decode("latin-1") for a in sys.argv]


if __name__ == "__main__":
  sys.exit(main(_command_line_args()))
