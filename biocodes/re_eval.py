# coding=utf-8
# Copyright 2018 DMIS-lab, Korea University.
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
"""Scores of run_re's test_results.tsv against the gold test.tsv (BioBERT's biocodes/re_eval.py).

Command line, as the original:

  python biocodes/re_eval.py --output_path=$OUTPUT_DIR/test_results.tsv --answer_path=$RE_DIR/test.tsv
  python biocodes/re_eval.py ... --task=chemprot

prints, in this order and format ("{:11s} : {:.2%}"):

  f1 score    : 83.74%
  recall      : 90.75%
  precision   : 77.74%
  specificity : 71.15%

  * `--task=binary` (the default; GAD, EU-ADR and the other 0/1 sets): F1, recall and precision of class 1,
    and specificity, the recall of class 0;
  * `--task=chemprot`: F1, recall and precision micro-averaged over the five CPR classes (cpr:3, cpr:4, cpr:5,
    cpr:6, cpr:9; `false` is not scored), no specificity;
  * `--task=ddi13` (new): the same micro average over DDI-2013's four interaction types (advise, effect,
    mechanism, int).

The predicted class of a line is the column of its highest probability (the first one on ties); columns are in
run_re's label-id order. test.tsv needs a header row with a `label` column (BioBERT's `index sentence label`).

Differences from the original, which read both files with pandas and scored them with scikit-learn:
  * both files are read the way run_re reads and writes them: UTF-8, tab-separated, quotes kept literally
    (QUOTE_NONE; pandas' default quoting merged the rows of a sentence starting with a quote and then failed on
    unequal lengths), blank lines skipped (as pandas skipped them);
  * a class that occurs in neither the gold labels nor the predictions is reported with 0 where a rate is
    undefined (the original's binary task raised IndexError when only one class occurred);
  * ChemProt gold labels map to ids in run_re's fixed order `cpr:3 cpr:4 cpr:5 cpr:6 cpr:9 false`; the
    original sorted the labels present in test.tsv, which gives that order only when all six occur;
  * a malformed line, a label outside the task's set, an unknown --task, or files of different lengths are one
    `error:` line naming the file and line, exit status 2 (the original: tracebacks, NameError for a --task).

Only the standard library (and the project's errors.py) is imported: no TensorFlow, pandas or scikit-learn.
Python use: `evaluate(output_path, answer_path, task)` returns the ordered {name: value} the command prints;
`read_tsv` is the reader run_re.py uses for its own data files.
"""

import argparse
import collections
import csv
import io
import os
import sys

if __package__ in (None, ""):
  # Run as a script (`python biocodes/re_eval.py`): errors.py lives one folder up.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position

BINARY_LABELS = ("0", "1")
CHEMPROT_LABELS = ("cpr:3", "cpr:4", "cpr:5", "cpr:6", "cpr:9", "false")
DDI13_LABELS = ("advise", "effect", "mechanism", "int", "false")

# --task -> (labels in run_re's id order, the labels scored). Binary scores class 1 and adds specificity.
TASKS = collections.OrderedDict([
    ("binary", (BINARY_LABELS, ("1",))),
    ("chemprot", (CHEMPROT_LABELS, CHEMPROT_LABELS[:5])),
    ("ddi13", (DDI13_LABELS, DDI13_LABELS[:4])),
])

_FORMAT = "{:11s} : {:.2%}"


# ---------------------------------------------------------------------------------------------------------------
# Reading.


def read_tsv(path, what):
  """The rows of a tab-separated file as run_re reads it: a list of (1-based line number, fields).

  UTF-8 with or without a byte-order mark; quotes are kept literally (csv.QUOTE_NONE, the original's
  quotechar=None); "\\n", "\\r\\n" and "\\r" end a line; empty lines are skipped.

  Raises:
    errors.UserError: the file is missing or unreadable, or a line is not UTF-8 (or longer than csv reads).
  """
  if os.path.isdir(path):
    raise errors.UserError("%s %s: is a directory" % (what, path))
  if not os.path.exists(path):
    raise errors.UserError("%s %s: not found" % (what, path))
  try:
    with open(path, "rb") as f:
      data = f.read()
  except OSError as e:
    raise errors.UserError("%s %s: cannot read: %s" % (what, path, e.strerror or e))
  try:
    text = data.decode("utf-8-sig")
  except UnicodeDecodeError as e:
    # Decoded whole, so the line of the bad byte is known exactly.
    raise errors.UserError("%s %s: line %d: not valid UTF-8 (%s)" %
                           (what, path, data[:e.start].count(b"\n") + 1, e.reason))
  reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
  rows = []
  try:
    for fields in reader:
      if fields:
        rows.append((reader.line_num, fields))
  except csv.Error as e:
    raise errors.UserError("%s %s: line %d: %s" % (what, path, reader.line_num, e))
  return rows


def read_answers(path, labels):
  """The gold labels of test.tsv (header with a `label` column, as pandas' `testdf["label"]` read it).

  Returns:
    a list of (line number, label id) with ids in `labels`' order.
  Raises:
    errors.UserError: no header or no `label` column, a short line, a label outside `labels`.
  """
  rows = read_tsv(path, "answer file")
  if not rows:
    raise errors.UserError("answer file %s: empty; expected a header row with a `label` column" % path)
  header_line, header = rows[0]
  if "label" not in header:
    raise errors.UserError("answer file %s: line %d: no `label` column in the header (%s); BioBERT's test.tsv "
                           "starts with index<TAB>sentence<TAB>label" % (path, header_line, " ".join(header)))
  column = header.index("label")
  ids = {label: i for i, label in enumerate(labels)}
  answers = []
  for line, fields in rows[1:]:
    if len(fields) <= column:
      raise errors.UserError("answer file %s: line %d: %d column(s); the label is column %d" %
                             (path, line, len(fields), column + 1))
    label = fields[column].strip()
    if label not in ids:
      raise errors.UserError("answer file %s: line %d: label %r is not one of %s" %
                             (path, line, label, ", ".join(labels)))
    answers.append((line, ids[label]))
  return answers


def read_predictions(path, num_labels):
  """The predicted class of each line of test_results.tsv: the column of its highest probability (first on ties).

  Raises:
    errors.UserError: a line without `num_labels` numbers.
  """
  classes = []
  for line, fields in read_tsv(path, "prediction file"):
    if len(fields) != num_labels:
      raise errors.UserError("prediction file %s: line %d: %d value(s); expected %d probabilities (one per label, "
                             "as run_re writes them)" % (path, line, len(fields), num_labels))
    try:
      values = [float(x) for x in fields]
    except ValueError:
      raise errors.UserError("prediction file %s: line %d: not a number in %r" % (path, line, "\t".join(fields)))
    classes.append(max(range(num_labels), key=lambda i: (values[i], -i)))
  return classes


# ---------------------------------------------------------------------------------------------------------------
# Scores.


def _ratio(numerator, denominator):
  return numerator / denominator if denominator else 0.0


def counts(gold, predicted, classes):
  """(true positives, predicted, gold) pooled over `classes`: what micro-averaged rates are made of."""
  chosen = set(classes)
  true_positives = sum(1 for g, p in zip(gold, predicted) if g == p and g in chosen)
  return true_positives, sum(1 for p in predicted if p in chosen), sum(1 for g in gold if g in chosen)


def rates(gold, predicted, classes):
  """(precision, recall, F1) pooled over `classes`; 0 where a rate is undefined (scikit-learn's zero_division=0).

  F1 is 2 TP / (predicted + gold), which is 2PR / (P + R) wherever both are defined.
  """
  true_positives, num_predicted, num_gold = counts(gold, predicted, classes)
  return (_ratio(true_positives, num_predicted), _ratio(true_positives, num_gold),
          _ratio(2 * true_positives, num_predicted + num_gold))


def scores(gold, predicted, task):
  """The ordered {name: value} the command prints for `task` (ids as `TASKS[task]`'s labels number them)."""
  labels, scored = TASKS[task]
  precision, recall, f1 = rates(gold, predicted, [labels.index(l) for l in scored])
  results = collections.OrderedDict([("f1 score", f1), ("recall", recall), ("precision", precision)])
  if task == "binary":
    results["specificity"] = rates(gold, predicted, [0])[1]
  return results


def check_task(task):
  if task not in TASKS:
    raise errors.UserError("--task=%s: not a task; use %s" % (task, ", ".join(TASKS)))


def evaluate(output_path, answer_path, task="binary"):
  """Scores of run_re's predictions (`output_path`) against the gold `answer_path`; see `scores`.

  Raises:
    errors.UserError: an unknown task, a malformed file, or files of different lengths.
  """
  check_task(task)
  labels = TASKS[task][0]
  answers = read_answers(answer_path, labels)
  predicted = read_predictions(output_path, len(labels))
  if len(predicted) != len(answers):
    raise errors.UserError("prediction file %s has %d line(s) but answer file %s has %d example(s): they are not "
                           "the predictions of this test set" % (output_path, len(predicted), answer_path,
                                                                 len(answers)))
  return scores([label for _, label in answers], predicted, task)


def format_results(results):
  """The printed lines: "{:11s} : {:.2%}" per name, in order."""
  return "".join(_FORMAT.format(name, value) + "\n" for name, value in results.items())


# ---------------------------------------------------------------------------------------------------------------
# Command line.


def main(argv=None):
  parser = argparse.ArgumentParser(description="Scores run_re's test_results.tsv against test.tsv.")
  # A bad command line is one `error: ...` line with exit status 2, like every other error here.
  parser.error = errors.fail
  parser.add_argument("--output_path", type=str, help="run_re's test_results.tsv")
  parser.add_argument("--answer_path", type=str, help="the gold test.tsv")
  parser.add_argument("--task", type=str, default="binary",
                      help="default:binary, possible other options:{chemprot, ddi13}")
  args = parser.parse_args(argv)
  try:
    check_task(args.task)
    for flag in ("output_path", "answer_path"):
      if not getattr(args, flag):
        raise errors.UserError("--%s is required" % flag)
    results = evaluate(args.output_path, args.answer_path, args.task)
  except errors.UserError as e:
    errors.fail(str(e))
  sys.stdout.write(format_results(results))


if __name__ == "__main__":
  main()
