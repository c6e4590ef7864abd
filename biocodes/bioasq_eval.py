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
"""BioASQ Task B, phase B: the official measures of exact answers, in standard-library Python.

    python biocodes/bioasq_eval.py -phaseB -e 5 golden.json BioASQform_BioASQ-answer.json

computes what BioASQ's Java evaluator (BioASQ/Evaluation-Measures, `evaluation.EvaluatorTask1b -phaseB -e 5
golden system`) computes, and prints it the same way: ten numbers on one line, in Java's `Double.toString` form,

    yes/no accuracy, factoid strict accuracy, factoid lenient accuracy, factoid MRR,
    list mean precision, list mean recall, list mean F-measure,
    yes/no macro F1, yes/no F1 of "yes", yes/no F1 of "no"

(BioBERT's README shows `0.0 0.3076923076923077 0.5384615384615384 0.394017094017094 0.0 ...` for a factoid-only
set: no yes/no or list questions, so those fields are 0.0). `-verbose` adds the evaluator's labelled lines;
`--json` prints one JSON object with the ten measures by name and the number of questions of each type instead.

How answers are compared, as the evaluator does (the 5th edition onwards, `-e 5`; `-e 8` is the same for phase B):

  * every exact answer string, golden and submitted, is lower-cased (Java's `toLowerCase`; Python's `str.lower`
    agrees on everything BioASQ answers hold) and nothing else: no trimming, no whitespace or punctuation
    normalisation. "IL-2" matches "il-2" but not "IL-2." or " IL-2";
  * factoid and list answers are lists of lists. A golden inner list holds an answer and its synonyms; of a
    submitted inner list only the FIRST string counts (synonyms in submissions are ignored since BioASQ5). An
    empty inner list is dropped, so it takes no rank and is no false positive;
  * factoid: strict accuracy = the first submitted answer matches some synonym of some golden answer; lenient
    accuracy = any submitted answer does; reciprocal rank = 1 / the rank of the first one that does. Every
    submitted answer counts, however many there are (BioASQ asks for at most 5; the evaluator does not cut);
  * list: a submitted answer that matches a golden entry is a true positive and uses that entry up (a second
    submission of it is a false positive); a golden entry no remaining submitted answer matches is a false
    negative. Precision = TP / (TP + FP), recall = TP / (TP + FN), F = their harmonic mean (0 where either is 0);
    a question submitted without answers scores 0 on all three;
  * yes/no: a string answer is lower-cased and read as "yes" if it contains "yes", else "no" if it contains "no",
    else "none"; accuracy is 1 when golden and submitted readings are equal. F1 of a label = 2TP / (2TP + FP +
    FN) over the yes/no questions whose golden answer is (TP/FP) or is not (TN/FN) that label, 0 when there is no
    such question or nothing to count; macro F1 = the mean of the two;
  * means are over the golden questions of each type. Summary questions and questions of other types count
    nowhere. `-e 3` takes every synonym of a submitted inner list into account; `-e 9` leaves out golden
    questions without a golden exact answer and golden questions the system file does not answer.

Differences from the evaluator, on purpose:

  * With -e 5 (or 3, 8) a golden question missing from the system file is scored as a question submitted without
    an answer (0 on every measure of its type), and a note on stderr says how many there were: the evaluator
    stopped there with a NullPointerException (it leaves such questions out only with -e 9).
  * A file that is missing, not JSON, without a "questions" list, or with an answer in a shape the evaluator would
    stop on with a Java exception (a factoid given as a list of strings, a yes/no answer given as a list, a
    question without an id, ...) is one `error: ...` line naming the file and the question, exit status 2. So is
    a system file that answers none of the golden questions (a file for another question set), on which the
    evaluator stopped with a NullPointerException (with -e 9 it printed zeros).
  * The line of numbers ends with a newline (the evaluator printed none). Only phase B is implemented; `-e`
    defaults to 5 (the evaluator's default, 2, is the BioASQ 1-2 answer format, not supported here).
  * Files are read as UTF-8 (the evaluator used the platform's charset).
  * Numbers are printed in Java's `Double.toString` form using Python's shortest round-trip digits; Java 17
    and earlier occasionally print one more digit, never a different value.

Only the standard library (and the project's errors.py) is imported: no TensorFlow.
"""

import argparse
import collections
import decimal
import json
import os
import sys

if __package__ in (None, ""):
  # Run as a script (`python biocodes/bioasq_eval.py`): errors.py lives one folder up.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position

FACTOID, YESNO, SUMMARY, LIST = 1, 2, 3, 4
_TYPES = {"factoid": FACTOID, "yesno": YESNO, "summary": SUMMARY, "list": LIST}
EDITIONS = (3, 5, 8, 9)

# The ten measures in the evaluator's order: (JSON key, the evaluator's -verbose label).
MEASURES = [
    ("yesno_accuracy", "YesNo Acc"),
    ("factoid_strict_accuracy", "Factoid Strict Acc"),
    ("factoid_lenient_accuracy", "Factoid Lenient Acc"),
    ("factoid_mrr", "Factoid MRR"),
    ("list_precision", "List Prec"),
    ("list_recall", "List Rec"),
    ("list_f1", "List F1"),
    ("yesno_macro_f1", "YesNo macroF1"),
    ("yesno_f1_yes", "YesNo F1 yes"),
    ("yesno_f1_no", "YesNo F1 no"),
]


class ExactAnswer(object):
  """A question's exact answer: `yesno` ("yes", "no" or "none") or `lists` (lists of lower-cased strings)."""

  def __init__(self, yesno=None, lists=None):
    self.yesno = yesno
    self.lists = lists if lists is not None else []

  def matches(self, strings, use_up=False):
    """True if one of `strings` equals some string of some inner list; `use_up` removes that inner list."""
    for i, synonyms in enumerate(self.lists):
      if any(s in strings for s in synonyms):
        if use_up:
          del self.lists[i]
        return True
    return False


class Question(collections.namedtuple("Question", ["id", "type", "exact_answer"])):
  """One question of a Task B file; `exact_answer` is None when the question has none."""


# ---------------------------------------------------------------------------------------------------------------
# Reading.


class _Literal(str):
  """A JSON number kept as the text it was written as (the evaluator's JSON reader returns numbers as strings)."""


def _json_text(value):
  """A JSON string or number as the evaluator's reader gives it (a string), else None."""
  return value if isinstance(value, str) else None


def _yesno_reading(text):
  text = text.lower()
  if "yes" in text:
    return "yes"
  if "no" in text:
    return "no"
  return "none"


def _read_exact_answer(value, first_synonym_only, where):
  if isinstance(value, str) and not isinstance(value, _Literal):
    return ExactAnswer(yesno=_yesno_reading(value))
  if not isinstance(value, list):
    raise errors.UserError("%s: exact_answer must be a string (yes/no) or a list of lists of strings, not %s"
                           % (where, json.dumps(value)[:80]))
  lists = []
  for inner in value:
    strings = inner if isinstance(inner, list) else None
    if strings is None or not all(_json_text(s) is not None for s in strings):
      raise errors.UserError("%s: exact_answer must be a list of lists of strings (one list per answer: the "
                             "answer and its synonyms), found %s" % (where, json.dumps(inner)[:80]))
    strings = [s.lower() for s in strings]
    if strings:  # the evaluator's reader drops an empty inner list
      lists.append(strings[:1] if first_synonym_only else strings)
  return ExactAnswer(lists=lists)


def read_questions(path, is_gold, edition=5):
  """The questions of a golden or submitted Task B file, in file order.

  Raises:
    errors.UserError: the file is missing or not a Task B JSON file, or a question cannot be evaluated.
  """
  what = "golden file" if is_gold else "system file"
  if not os.path.isfile(path):
    raise errors.UserError("%s %s: not found" % (what, path))
  try:
    with open(path, encoding="utf-8-sig") as f:
      data = json.load(f, parse_int=_Literal, parse_float=_Literal)
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.UserError("%s %s: cannot read it as JSON: %s" % (what, path, e)) from e
  if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
    raise errors.UserError("%s %s: expected a JSON object with a \"questions\" list" % (what, path))
  questions = []
  for index, question in enumerate(data["questions"]):
    where = "%s %s: question %d" % (what, path, index + 1)
    if not isinstance(question, dict):
      raise errors.UserError("%s: not a JSON object" % where)
    qid = _json_text(question.get("id"))
    if qid is None:
      raise errors.UserError("%s: no \"id\" string" % where)
    where += " (id %s)" % qid
    type_name = question.get("type")
    if type_name is not None and _json_text(type_name) is None:
      raise errors.UserError("%s: \"type\" must be a string" % where)
    exact = None
    if "exact_answer" in question:
      exact = _read_exact_answer(question["exact_answer"], first_synonym_only=not is_gold and edition != 3,
                                 where=where)
    questions.append(Question(qid, _TYPES.get(type_name, 0), exact))
  return questions


# ---------------------------------------------------------------------------------------------------------------
# Question-level measures.


class _Scores(object):
  """The measures of one golden question against its submission (0 where not set, as the evaluator's)."""

  def __init__(self, qtype):
    self.type = qtype
    self.accuracy = self.strict = self.lenient = self.rr = 0.0
    self.precision = self.recall = self.f1 = 0.0
    self.is_yes = False


def _need_golden(gold, where):
  if gold.exact_answer is None:
    raise errors.UserError("%s: the golden question has no exact_answer" % where)
  return gold.exact_answer


def _score_factoid(gold, system, scores, where):
  if system is None:
    return
  for rank, answer in enumerate(system.lists):
    if _need_golden(gold, where).matches(answer):
      scores.lenient = 1.0
      scores.rr = 1.0 / (rank + 1)
      scores.strict = 1.0 if rank == 0 else 0.0
      return


def _score_list(gold, system, scores, where):
  if system is None or not system.lists:
    return
  golden = _need_golden(gold, where)
  tp = fp = fn = 0.0
  for answer in system.lists:
    if golden.matches(answer, use_up=True):
      tp += 1
    else:
      fp += 1
  for synonyms in golden.lists:
    if not system.matches(synonyms, use_up=True):
      fn += 1
  scores.precision = tp / (tp + fp)
  if fn + tp != 0:
    scores.recall = tp / (tp + fn)
  if scores.precision != 0 and scores.recall != 0:
    scores.f1 = 2 * scores.precision * scores.recall / (scores.precision + scores.recall)


def _score_yesno(gold, system, scores, where):
  golden = gold.exact_answer
  if golden is None or golden.yesno is None:
    raise errors.UserError("%s: a yes/no question needs a golden exact_answer string" % where)
  if system is not None:
    if system.yesno is None:
      raise errors.UserError("%s: the submitted exact_answer of a yes/no question must be a string" % where)
    if golden.yesno == system.yesno:
      scores.accuracy = 1.0
  scores.is_yes = golden.yesno == "yes"


def _has_golden_answer(gold):
  exact = gold.exact_answer
  return exact is not None and (exact.yesno is not None or bool(exact.lists))


def question_scores(golden, system, edition=5, golden_path="golden", system_path="system"):
  """The question-level measures of the golden questions, and how many of them the system file lacks.

  Raises:
    errors.UserError: no golden question is answered (the system file is for another question set), or a pair
      cannot be evaluated.
  """
  if edition not in EDITIONS:
    raise errors.UserError("-e %s: supported editions are %s" % (edition, ", ".join(map(str, EDITIONS))))
  submitted = {}
  for question in system:
    submitted.setdefault(question.id, question)
  if golden and not any(q.id in submitted for q in golden):
    raise errors.UserError(
        "system file %s answers none of the %d questions of golden file %s (it is for another question set?)"
        % (system_path, len(golden), golden_path))
  scored, missing = [], 0
  for gold in golden:
    response = submitted.get(gold.id)
    missing += response is None
    if edition == 9 and (response is None or not _has_golden_answer(gold)):
      continue
    scores = _Scores(gold.type)
    where = "question %s" % gold.id
    scorer = {FACTOID: _score_factoid, LIST: _score_list, YESNO: _score_yesno}.get(gold.type)
    if scorer:
      scorer(gold, response.exact_answer if response is not None else None, scores, where)
    scored.append(scores)
  return scored, missing


# ---------------------------------------------------------------------------------------------------------------
# Set-level measures.


def _mean(values):
  total = 0.0
  count = 0
  for value in values:
    total += value
    count += 1
  return total / count if count else 0.0


def _f1_of_label(yesno, label_is_yes):
  tp = fp = fn = 0
  for s in yesno:
    if s.is_yes == label_is_yes:
      if s.accuracy == 1:
        tp += 1
      else:
        fp += 1
    elif s.accuracy != 1:
      fn += 1
  denominator = 2.0 * tp + fp + fn
  return 2.0 * tp / denominator if yesno and denominator else 0.0


def measures(scored):
  """The ten measures (an ordered dict keyed as MEASURES) of the question-level scores."""
  of_type = lambda t: [s for s in scored if s.type == t]
  factoid, listq, yesno = of_type(FACTOID), of_type(LIST), of_type(YESNO)
  values = collections.OrderedDict()
  values["yesno_accuracy"] = _mean(s.accuracy for s in yesno)
  values["factoid_strict_accuracy"] = _mean(s.strict for s in factoid)
  values["factoid_lenient_accuracy"] = _mean(s.lenient for s in factoid)
  values["factoid_mrr"] = _mean(s.rr for s in factoid)
  values["list_precision"] = _mean(s.precision for s in listq)
  values["list_recall"] = _mean(s.recall for s in listq)
  values["list_f1"] = _mean(s.f1 for s in listq)
  f1_yes, f1_no = _f1_of_label(yesno, True), _f1_of_label(yesno, False)
  values["yesno_macro_f1"] = (f1_yes + f1_no) / 2
  values["yesno_f1_yes"] = f1_yes
  values["yesno_f1_no"] = f1_no
  return values


def java_double(value):
  """`Double.toString(value)`: "0.3076923076923077", "1.0", "5.0E-4", "1.0E7" (shortest round-trip digits)."""
  if value != value:
    return "NaN"
  if value in (float("inf"), float("-inf")):
    return "Infinity" if value > 0 else "-Infinity"
  sign = "-" if str(value).startswith("-") else ""
  if value == 0:
    return sign + "0.0"
  digits_tuple = decimal.Decimal(repr(abs(value))).normalize().as_tuple()
  digits = "".join(map(str, digits_tuple.digits))
  exponent = len(digits) + digits_tuple.exponent - 1  # value = d.ddd x 10^exponent
  if -3 <= exponent < 7:
    if exponent >= 0:
      whole, fraction = digits[:exponent + 1].ljust(exponent + 1, "0"), digits[exponent + 1:]
    else:
      whole, fraction = "0", "0" * (-exponent - 1) + digits
    return "%s%s.%s" % (sign, whole, fraction or "0")
  return "%s%s.%sE%d" % (sign, digits[0], digits[1:] or "0", exponent)


def evaluate(golden_path, system_path, edition=5):
  """(measures, question counts by type, golden questions the system lacks) of a system file against a golden file."""
  golden = read_questions(golden_path, is_gold=True, edition=edition)
  system = read_questions(system_path, is_gold=False, edition=edition)
  if not golden:
    raise errors.UserError("golden file %s: holds no question" % golden_path)
  scored, missing = question_scores(golden, system, edition, golden_path, system_path)
  counts = collections.OrderedDict((name, sum(1 for s in scored if s.type == t))
                                   for name, t in (("yesno", YESNO), ("factoid", FACTOID), ("list", LIST)))
  return measures(scored), counts, missing


def format_line(values):
  """The evaluator's line: the ten measures in order, separated by single spaces."""
  return " ".join(java_double(values[name]) for name, _ in MEASURES)


class _Parser(argparse.ArgumentParser):
  """argparse that reports a bad command line as one `error: ...` line with exit status 2."""

  def error(self, message):
    errors.fail(message)


def main(argv=None):
  parser = _Parser(description="BioASQ Task B phase B measures (the official evaluator's, in Python).")
  parser.add_argument("-phaseB", action="store_true", help="phase B of Task B (the only phase implemented)")
  parser.add_argument("-phaseA", action="store_true", help="phase A of Task B (not implemented)")
  parser.add_argument("-e", type=int, default=5, help="edition of the BioASQ challenge: 5 (default), 8, 9 or 3")
  parser.add_argument("-verbose", action="store_true", help="also print the measures one per line, labelled")
  parser.add_argument("--json", action="store_true", help="print the measures as one labelled JSON object")
  parser.add_argument("golden", help="golden file (BioASQ JSON)")
  parser.add_argument("system", help="system file (BioASQ JSON), e.g. BioASQform_BioASQ-answer.json")
  args = parser.parse_args(argv)
  try:
    if args.phaseA:
      raise errors.UserError("-phaseA: only phase B (exact answers) is implemented")
    values, counts, missing = evaluate(args.golden, args.system, args.e)
  except errors.UserError as e:
    errors.fail(str(e))
  if missing:
    sys.stderr.write("note: %d golden question(s) are not in %s: %s\n" % (
        missing, args.system, "left out of the measures" if args.e == 9 else
        "scored as unanswered (the official evaluator stops on them with a NullPointerException; -e 9 leaves "
        "them out)"))
  if args.json:
    output = collections.OrderedDict(values)
    output["num_questions"] = counts
    print(json.dumps(output, indent=2))
    return
  print(format_line(values))
  if args.verbose:
    for name, label in MEASURES:
      print("%s: %s" % (label, java_double(values[name])))


if __name__ == "__main__":
  main()
