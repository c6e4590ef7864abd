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
"""Per-fold and mean ± std precision, recall and F1 of a k-fold relation-extraction run (scripts/re_kfold.sh).

  python biocodes/re_kfold_summary.py --output_dir=re_outputs --data_dir=datasets/RE/GAD [--task=binary]

Fold k is `<output_dir>/<k>/test_results.tsv` scored against `<data_dir>/<k>/test.tsv` with re_eval.py's
numbers (unrounded). Prints a Markdown table in the layout of the BioBERT paper's RE table (precision, recall,
F1 in percent, two decimals), one row per fold and a `mean ± std` row (sample standard deviation, n - 1), and
writes it to `<output_dir>/kfold_summary.md`, the unrounded numbers to `<output_dir>/kfold_summary.csv`
(fold, precision, recall, f1 and, for --task=binary, specificity; then the mean and std rows).

The folds are the numbered folders of --data_dir (or --folds=1,2,...); folds without a test_results.tsv are
named on stderr and left out. Standard library only.
"""

import argparse
import csv
import io
import os
import statistics
import sys

if __package__ in (None, ""):
  # Run as a script: re_eval.py is beside this file and errors.py one folder up.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from biocodes import re_eval  # pylint: disable=g-import-not-at-top,wrong-import-position
import errors  # pylint: disable=g-import-not-at-top,wrong-import-position

# (CSV column, re_eval's name, Markdown header): the paper's order, P then R then F.
_COLUMNS = [("precision", "precision", "Precision"), ("recall", "recall", "Recall"), ("f1", "f1 score", "F1")]
SUMMARY_NAME = "kfold_summary"


def numbered_folders(path):
  """The names of the folders of `path` that are whole numbers, in numeric order."""
  if not os.path.isdir(path):
    raise errors.UserError("--data_dir=%s: not a folder" % path)
  return sorted((name for name in os.listdir(path) if name.isdigit() and os.path.isdir(os.path.join(path, name))),
                key=int)


def fold_scores(output_dir, data_dir, task, folds):
  """([(fold, re_eval's results)], [folds without test_results.tsv])."""
  scored, missing = [], []
  for fold in folds:
    predictions = os.path.join(output_dir, fold, "test_results.tsv")
    if not os.path.isfile(predictions):
      missing.append(fold)
      continue
    scored.append((fold, re_eval.evaluate(predictions, os.path.join(data_dir, fold, "test.tsv"), task)))
  return scored, missing


def all_positive(data_dir, folds):
  """re_eval's results for each fold's test set predicted all positive (1): the baseline a binary model must beat.

  On a small training set a model can learn to say 1 to everything (recall 100); its F1 is then this one.
  """
  labels = re_eval.TASKS["binary"][0]
  results = []
  for fold in folds:
    gold = [label for _, label in re_eval.read_answers(os.path.join(data_dir, fold, "test.tsv"), labels)]
    results.append(re_eval.scores(gold, [labels.index("1")] * len(gold), "binary"))
  return results


def mean_std(values):
  """(mean, sample standard deviation or None for a single value)."""
  return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else None


def summary_rows(scored, task, baseline=None):
  """CSV rows (unrounded percentages): a header, one row per fold, `mean`, `std`, and for a binary task the
  all-positive baseline's mean (`all_positive`)."""
  names = [(column, name) for column, name, _ in _COLUMNS]
  if task == "binary":
    names.append(("specificity", "specificity"))
  rows = [["fold"] + [column for column, _ in names]]
  rows.extend([fold] + [100.0 * results[name] for _, name in names] for fold, results in scored)
  stats = [mean_std([100.0 * results[name] for _, results in scored]) for _, name in names]
  rows.append(["mean"] + [m for m, _ in stats])
  rows.append(["std"] + ["" if s is None else s for _, s in stats])
  if baseline:
    rows.append(["all_positive"] + [mean_std([100.0 * results[name] for results in baseline])[0]
                                    for _, name in names])
  return rows


def markdown(scored, title, baseline=None):
  """The Markdown table: precision, recall, F1 per fold (percent, 2 decimals), their mean ± std, and the mean of
  the all-positive baseline when given."""
  lines = ["| %s | %s |" % (title, " | ".join(header for _, _, header in _COLUMNS)),
           "|---|" + "---:|" * len(_COLUMNS)]
  for fold, results in scored:
    lines.append("| fold %s | %s |" % (fold, " | ".join("%.2f" % (100.0 * results[name]) for _, name, _ in _COLUMNS)))
  cells = []
  for _, name, _ in _COLUMNS:
    mean, std = mean_std([100.0 * results[name] for _, results in scored])
    cells.append("%.2f" % mean if std is None else "%.2f ± %.2f" % (mean, std))
  lines.append("| mean ± std | %s |" % " | ".join(cells))
  if baseline:
    lines.append("| all positive (baseline) | %s |" % " | ".join(
        "%.2f" % mean_std([100.0 * results[name] for results in baseline])[0] for _, name, _ in _COLUMNS))
  return "\n".join(lines) + "\n"


def summarize(output_dir, data_dir, task="binary", folds=None, title=None):
  """Scores every fold, writes kfold_summary.md and kfold_summary.csv into output_dir; returns the Markdown."""
  re_eval.check_task(task)
  folds = list(folds) if folds else numbered_folders(data_dir)
  if not folds:
    raise errors.UserError("--data_dir=%s: no numbered fold folders (1, 2, ...)" % data_dir)
  scored, missing = fold_scores(output_dir, data_dir, task, folds)
  if missing:
    sys.stderr.write("folds without %s/<fold>/test_results.tsv, left out: %s\n" % (output_dir, " ".join(missing)))
  if not scored:
    raise errors.UserError("--output_dir=%s: no fold has a test_results.tsv" % output_dir)
  title = title or "%s (%d fold%s)" % (os.path.basename(os.path.normpath(data_dir)), len(scored),
                                       "" if len(scored) == 1 else "s")
  baseline = all_positive(data_dir, [fold for fold, _ in scored]) if task == "binary" else None
  table = markdown(scored, title, baseline)
  text = io.StringIO()
  csv.writer(text, lineterminator="\n").writerows(summary_rows(scored, task, baseline))
  for extension, content in (("md", table), ("csv", text.getvalue())):
    path = os.path.join(output_dir, "%s.%s" % (SUMMARY_NAME, extension))
    # Written beside and renamed, so a summary file is never half-written.
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      f.write(content)
    os.replace(path + ".tmp", path)
  return table


def main(argv=None):
  parser = argparse.ArgumentParser(description="Per-fold and mean ± std P/R/F1 of a k-fold run_re run.")
  # A bad command line is one `error: ...` line with exit status 2, like every other error here.
  parser.error = errors.fail
  parser.add_argument("--output_dir", required=True, help="the folder holding one output folder per fold")
  parser.add_argument("--data_dir", required=True, help="the data set folder holding one folder per fold")
  parser.add_argument("--task", default="binary", help="re_eval.py's --task: binary, chemprot or ddi13")
  parser.add_argument("--folds", default="", help="comma-separated fold names (default: every numbered folder)")
  parser.add_argument("--title", default=None, help="the table's first header cell (default: data set name)")
  args = parser.parse_args(argv)
  try:
    folds = [f.strip() for f in args.folds.split(",") if f.strip()]
    table = summarize(args.output_dir, args.data_dir, args.task, folds, args.title)
  except errors.UserError as e:
    errors.fail(str(e))
  sys.stdout.write(table)


if __name__ == "__main__":
  main()
