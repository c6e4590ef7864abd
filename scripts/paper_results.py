# coding=utf-8
"""The paper's data sets and numbers, and the results table of scripts/reproduce_paper.sh.

BioBERT's paper (Lee et al., Bioinformatics 36(4), 2020) reports, for BioBERT v1.1 (+ PubMed):
  Table 6, NER: entity-level F1 (exact match) on the test set;
  Table 7, RE: F1 of the positive class (GAD, EU-ADR: the mean over 10 cross-validation folds; ChemProt: micro
    over the five CPR classes);
  Table 8, QA: BioASQ factoid strict accuracy, lenient accuracy and MRR, the mean over the test batches of a year.
DATASETS lists them in the paper's order, with the folder each is read from in BioBERT's `datasets/` layout.

Commands (run by reproduce_paper.sh; each prints or writes what it says):
  list [--datasets=A,B]        one line per data set: id, task, folder under DATA_DIR, run_re task name
  subset --task --src --dst --size   the first SIZE sentences (NER) or SIZE rows spread over each file (RE,
                               fold 1 only) of a data set
  record --id --task --run_dir --output   a data set's obtained numbers (result.json) from its run's outputs
  unavailable --id --reason --output      result.json for a data set that could not be run
  table --results_dir [--quick]  results.md, results.csv and (with matplotlib) results.png in results_dir
"""

import argparse
import csv
import io
import json
import os
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "biocodes"))

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
import fileio  # pylint: disable=g-import-not-at-top,wrong-import-position


class Dataset(object):
  """One data set of Tables 6-8: where it is read from and the paper's numbers for BioBERT v1.1 (+ PubMed)."""

  def __init__(self, dataset_id, table, task, folder, paper, name=None, re_task=None, qa_year=None):
    self.id = dataset_id
    self.table = table
    self.task = task            # ner, re or qa
    self.folder = folder        # under DATA_DIR (BioBERT's datasets/ layout)
    self.paper = paper          # {metric: value in percent}
    self.name = name or dataset_id
    self.re_task = re_task      # run_re.py --task_name
    self.qa_year = qa_year      # BioASQ 4b, 5b, 6b

  @property
  def metric(self):
    """The metric the table compares: F1 for NER and RE, MRR for QA (the paper's headline QA number)."""
    return "mrr" if self.task == "qa" else "f1"


DATASETS = (
    Dataset("NCBI-disease", 6, "ner", "NER/NCBI-disease", {"f1": 89.71}),
    Dataset("i2b2-2010", 6, "ner", "NER/i2b2", {"f1": 86.73}, name="2010 i2b2/VA"),
    Dataset("BC5CDR-disease", 6, "ner", "NER/BC5CDR-disease", {"f1": 87.15}),
    Dataset("BC5CDR-chem", 6, "ner", "NER/BC5CDR-chem", {"f1": 93.47}),
    Dataset("BC4CHEMD", 6, "ner", "NER/BC4CHEMD", {"f1": 92.36}),
    Dataset("BC2GM", 6, "ner", "NER/BC2GM", {"f1": 84.72}),
    Dataset("JNLPBA", 6, "ner", "NER/JNLPBA", {"f1": 77.49}),
    Dataset("LINNAEUS", 6, "ner", "NER/linnaeus", {"f1": 88.24}),
    Dataset("Species-800", 6, "ner", "NER/s800", {"f1": 74.06}),
    Dataset("GAD", 7, "re", "RE/GAD", {"f1": 79.83}, re_task="gad"),
    Dataset("EU-ADR", 7, "re", "RE/euadr", {"f1": 79.74}, re_task="euadr"),
    Dataset("ChemProt", 7, "re", "RE/ChemProt", {"f1": 76.46}, re_task="chemprot"),
    Dataset("BioASQ-4b", 8, "qa", "QA/BioASQ", {"strict": 27.95, "lenient": 44.10, "mrr": 34.72}, qa_year="4b"),
    Dataset("BioASQ-5b", 8, "qa", "QA/BioASQ", {"strict": 46.00, "lenient": 60.00, "mrr": 51.64}, qa_year="5b"),
    Dataset("BioASQ-6b", 8, "qa", "QA/BioASQ", {"strict": 42.86, "lenient": 57.77, "mrr": 48.43}, qa_year="6b"),
)
BY_ID = {d.id.lower(): d for d in DATASETS}


def select(names):
  """The data sets named in a comma-separated list (case-insensitive), in the paper's order; all for ''."""
  if not names:
    return list(DATASETS)
  wanted = [n.strip().lower() for n in names.split(",") if n.strip()]
  unknown = [n for n in wanted if n not in BY_ID]
  if unknown:
    raise errors.UserError("--datasets: unknown data set(s) %s; known: %s"
                            % (", ".join(unknown), ", ".join(d.id for d in DATASETS)))
  return [d for d in DATASETS if d.id.lower() in wanted]


# ---------------------------------------------------------------------------------------------------------------
# Subsets for --quick.

def _sentences(text):
  """NER file text -> list of sentences, each the list of its lines (a blank line ends a sentence)."""
  sentences, current = [], []
  for line in text.splitlines():
    if line.strip():
      current.append(line)
    elif current:
      sentences.append(current)
      current = []
  if current:
    sentences.append(current)
  return sentences


def _ner_subset(text, size):
  return "".join("\n".join(s) + "\n\n" for s in _sentences(text)[:size])


def _re_subset(text, size, has_header):
  """`size` rows spread evenly over the file (BioBERT's RE files are sorted by label: the first rows would all
  be of one class), in their order, after the header row where there is one."""
  lines = text.splitlines(True)
  head, rows = (lines[:1], lines[1:]) if has_header else ([], lines)
  if len(rows) > size:
    rows = [rows[i * len(rows) // size] for i in range(size)]
  return "".join(head + rows)


def _read_text(path):
  with open(path, encoding="utf-8", newline="") as f:
    return f.read()


def subset(task, src, dst, size):
  """Writes into dst the first `size` sentences (NER) or `size` rows spread over each file (RE fold 1: train,
  dev, test) of the data set src."""
  # (file, has a header row, may be absent): GAD and EU-ADR folds have no dev.tsv.
  if task == "ner":
    # A set without train_dev.tsv (JNLPBA) keeps its train.tsv: scripts/ner.sh joins it with devel.tsv.
    train = "train_dev.tsv"
    if not os.path.exists(os.path.join(src, train)) and os.path.exists(os.path.join(src, "train.tsv")):
      train = "train.tsv"
    files = [(name, False, False) for name in (train, "devel.tsv", "test.tsv")]
  elif task == "re":
    files = [(os.path.join("1", name), name == "test.tsv", name == "dev.tsv")
             for name in ("train.tsv", "dev.tsv", "test.tsv")]
  else:
    raise errors.UserError("subset: --task must be ner or re, not %r" % task)
  with fileio.atomic_folder(dst) as folder:
    for relative, has_header, optional in files:
      path = os.path.join(src, relative)
      if not os.path.exists(path):
        if optional:
          continue
        raise errors.UserError("%s: no such file (the data set folder lacks it)" % path)
      text = _read_text(path)
      part = _ner_subset(text, size) if task == "ner" else _re_subset(text, size, has_header)
      os.makedirs(os.path.dirname(os.path.join(folder, relative)), exist_ok=True)
      with open(os.path.join(folder, relative), "w", encoding="utf-8", newline="") as f:
        f.write(part)


# ---------------------------------------------------------------------------------------------------------------
# Obtained numbers.

def _key_values(path):
  values = {}
  with open(path, encoding="utf-8") as f:
    for line in f:
      key, sep, value = line.partition(" = ")
      if sep:
        values[key.strip()] = value.strip()
  return values


def ner_numbers(run_dir):
  """Entity-level precision, recall and F1 on test.tsv, from run_ner's test_results.txt."""
  values = _key_values(os.path.join(run_dir, "test_results.txt"))
  return {"precision": float(values["entity_precision"]), "recall": float(values["entity_recall"]),
          "f1": float(values["entity_f1"])}


def re_numbers(run_dir):
  """The mean over folds of precision, recall and F1, from re_kfold.sh's kfold_summary.csv (percent)."""
  with open(os.path.join(run_dir, "kfold_summary.csv"), encoding="utf-8", newline="") as f:
    rows = [r for r in csv.DictReader(f) if r.get("fold", "").strip().isdigit()]
  if not rows:
    raise errors.UserError("%s: no fold rows" % os.path.join(run_dir, "kfold_summary.csv"))
  numbers = {k: statistics.mean(float(r[k]) for r in rows) for k in ("precision", "recall", "f1")}
  numbers["folds"] = len(rows)
  return numbers


def qa_numbers(run_dir):
  """Strict and lenient accuracy and MRR (percent), the mean over the batches in run_dir/batch*/.

  Each batch's bioasq_eval.txt holds the evaluator's ten numbers (-phaseB -e 5); the factoid strict accuracy,
  lenient accuracy and MRR are the second to the fourth.
  """
  scores = []
  for batch in sorted(d for d in os.listdir(run_dir) if d.startswith("batch")):
    path = os.path.join(run_dir, batch, "bioasq_eval.txt")
    if os.path.exists(path):
      with open(path, encoding="utf-8") as f:
        numbers = f.read().split()
      if len(numbers) != 10:
        raise errors.UserError("%s: expected the evaluator's 10 numbers, found %d" % (path, len(numbers)))
      scores.append({"strict": float(numbers[1]), "lenient": float(numbers[2]), "mrr": float(numbers[3])})
  if not scores:
    raise errors.UserError("%s: no batch*/bioasq_eval.txt" % run_dir)
  numbers = {k: 100.0 * statistics.mean(s[k] for s in scores) for k in ("strict", "lenient", "mrr")}
  numbers["batches"] = len(scores)
  return numbers


NUMBERS = {"ner": ner_numbers, "re": re_numbers, "qa": qa_numbers}


def write_result(path, result):
  fileio.write_text_atomically(path, json.dumps(result, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------------------------
# The table.

def _read_result(results_dir, dataset):
  path = os.path.join(results_dir, dataset.id, "result.json")
  if not os.path.exists(path):
    return {"status": "not run"}
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def table_rows(results_dir):
  """One row per data set of Tables 6-8: paper number, obtained number, difference, status."""
  rows = []
  for dataset in DATASETS:
    result = _read_result(results_dir, dataset)
    paper = dataset.paper[dataset.metric]
    obtained = result.get("numbers", {}).get(dataset.metric) if result.get("status") == "done" else None
    rows.append({
        "table": dataset.table, "dataset": dataset.name, "metric": dataset.metric.upper()
        if dataset.metric == "mrr" else "F1", "paper_v1.1": "%.2f" % paper,
        "obtained": "" if obtained is None else "%.2f" % obtained,
        "difference": "" if obtained is None else "%+.2f" % (obtained - paper),
        "status": result.get("status", "not run") + (": " + result["reason"] if result.get("reason") else ""),
    })
  return rows


COLUMNS = ("table", "dataset", "metric", "paper_v1.1", "obtained", "difference", "status")


def markdown(rows, quick):
  lines = ["# BioBERT v1.1 (+ PubMed): the paper's numbers and the obtained ones", ""]
  if quick:
    lines += ["Quick run (`--quick`): small subsets and few steps, to check the pipeline; the obtained numbers",
              "are not comparable with the paper's.", ""]
  lines += ["| Table | Data set | Metric | Paper v1.1 | Obtained | Difference | Status |",
            "|---|---|---|---:|---:|---:|---|"]
  for row in rows:
    lines.append("| %s |" % " | ".join(str(row[c]) for c in COLUMNS))
  return "\n".join(lines) + "\n"


def csv_text(rows):
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
  writer.writeheader()
  writer.writerows(rows)
  return out.getvalue()


def chart(rows, path, quick):
  """A bar chart, paper beside obtained, per data set; returns False (and writes nothing) without matplotlib."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  except ImportError:
    return False
  names = ["%s (%s)" % (r["dataset"], r["metric"]) for r in rows]
  paper = [float(r["paper_v1.1"]) for r in rows]
  obtained = [float(r["obtained"]) if r["obtained"] else 0.0 for r in rows]
  figure, axes = plt.subplots(figsize=(11, 5.5))
  positions = range(len(rows))
  axes.bar([p - 0.2 for p in positions], paper, width=0.4, label="paper, BioBERT v1.1 (+ PubMed)", color="#9db4d0")
  axes.bar([p + 0.2 for p in positions], obtained, width=0.4, label="obtained", color="#d0703c")
  for position, row in zip(positions, rows):
    # The obtained value is written over its bar, so that a 0 reads as a result, not as a missing bar.
    label = row["obtained"] or row["status"].split(":")[0]
    height = float(row["obtained"]) if row["obtained"] else 0.0
    axes.text(position + 0.2, height + 1, label, rotation=90, ha="center", va="bottom", fontsize=7)
  axes.set_xticks(list(positions))
  axes.set_xticklabels(names, rotation=40, ha="right", fontsize=8)
  axes.set_ylabel("score (%)")
  axes.set_ylim(0, 100)
  axes.set_title("BioBERT: paper (Tables 6-8) vs obtained" + (" -- quick run, not comparable" if quick else ""))
  axes.legend(loc="upper right", fontsize=8)
  figure.tight_layout()
  with fileio.atomic_output(path, mode="wb") as partial:
    figure.savefig(partial, format="png", dpi=110)
  plt.close(figure)
  return True


def write_table(results_dir, quick):
  rows = table_rows(results_dir)
  text = markdown(rows, quick)
  fileio.write_text_atomically(os.path.join(results_dir, "results.md"), text)
  fileio.write_text_atomically(os.path.join(results_dir, "results.csv"), csv_text(rows))
  print(text, end="")
  if chart(rows, os.path.join(results_dir, "results.png"), quick):
    print("chart: %s" % os.path.join(results_dir, "results.png"))
  else:
    print("chart: skipped (matplotlib is not installed; `pip install matplotlib` to get results.png)")


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  commands = parser.add_subparsers(dest="command", required=True)
  listing = commands.add_parser("list")
  listing.add_argument("--datasets", default="")
  part = commands.add_parser("subset")
  part.add_argument("--task", required=True)
  part.add_argument("--src", required=True)
  part.add_argument("--dst", required=True)
  part.add_argument("--size", type=int, required=True)
  record = commands.add_parser("record")
  record.add_argument("--id", required=True)
  record.add_argument("--run_dir", required=True)
  record.add_argument("--output", required=True)
  record.add_argument("--quick", action="store_true")
  missing = commands.add_parser("unavailable")
  missing.add_argument("--id", required=True)
  missing.add_argument("--reason", required=True)
  missing.add_argument("--output", required=True)
  table = commands.add_parser("table")
  table.add_argument("--results_dir", required=True)
  table.add_argument("--quick", action="store_true")
  args = parser.parse_args(argv)
  try:
    if args.command == "list":
      for d in select(args.datasets):
        print("\t".join((d.id, d.task, d.folder, d.re_task or d.qa_year or "-")))
    elif args.command == "subset":
      subset(args.task, args.src, args.dst, args.size)
    elif args.command == "record":
      dataset = select(args.id)[0]
      write_result(args.output, {"id": dataset.id, "status": "done", "quick": args.quick,
                                 "numbers": NUMBERS[dataset.task](args.run_dir)})
    elif args.command == "unavailable":
      write_result(args.output, {"id": select(args.id)[0].id, "status": "not available", "reason": args.reason})
    else:
      write_table(args.results_dir, args.quick)
  except (errors.UserError, OSError, KeyError, ValueError) as e:
    print("error: paper_results.py %s: %s" % (args.command, e), file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
