# coding=utf-8
"""prepare_corpus.py throughput: words per second on a real MEDLINE file, and how workers scale.

Run from the project root:

  python bench/prepare_corpus.py [--input=FILE] [--copies=4] [--repeats=2] [--workers=2]

Input (default): ../shared/data/corpus/pubmed/medline16n0902.xml.gz (604 citations, 526 with an abstract).

Measured, each the best of `--repeats` runs:
  1. the whole conversion of the file, one worker (parse + sentence split + shard writing): words/s;
  2. its parts on the same file: XML parsing only, and sentence splitting only, so a slowdown can be placed;
  3. `--copies` copies of the file (distinct names, --dedup=false so every copy counts), converted with one
     worker and with `--workers` workers, alternating in the same run: words/s of each and their ratio (ideal:
     the number of workers, when that many cores are free -- on a shared machine expect less);
  4. a control measured in the same run: a pure-Python CPU loop, serially vs in `--workers` processes. Its ratio
     is the parallelism the machine actually offered; compare the conversion's speed-up with it.

The last line is machine-readable.
"""

import os
import shutil
import sys
import tempfile
import time

from absl import app
from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
import prepare_corpus  # pylint: disable=g-import-not-at-top,wrong-import-position
import sentence_split  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("input", os.path.join(ROOT, "..", "shared", "data", "corpus", "pubmed", "medline16n0902.xml.gz"),
                    "A PubMed/MEDLINE XML file (.xml or .xml.gz).")
flags.DEFINE_integer("copies", 8, "Copies of the file converted in the scaling comparison.")
flags.DEFINE_integer("repeats", 3, "Runs of each measurement; the best is kept.")
flags.DEFINE_integer("workers", 2, "Worker count compared with one worker.")


def _best_time(fn, repeats):
  best, result = None, None
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
  return best, result


def _burn(n):
  total = 0
  for i in range(n):
    total += i * i
  return total


def _control_ratio(workers, repeats):
  """Serial time / parallel time of the same pure-Python CPU work: the parallelism available right now."""
  import multiprocessing  # pylint: disable=g-import-not-at-top
  jobs = [3000000] * (2 * workers)
  serial, _ = _best_time(lambda: [_burn(n) for n in jobs], repeats)
  with multiprocessing.get_context("fork").Pool(workers) as pool:
    parallel, _ = _best_time(lambda: pool.map(_burn, jobs, chunksize=1), repeats)
  return serial / parallel


def main(argv):
  del argv
  if not os.path.isfile(FLAGS.input):
    raise errors.UserError("--input %s: no such file" % FLAGS.input)
  work = tempfile.mkdtemp(prefix="bench_prepare_corpus_")
  try:
    # 1. Whole conversion, one worker.
    out = os.path.join(work, "single")
    seconds, summary = _best_time(lambda: prepare_corpus.prepare(FLAGS.input, out, num_workers=1), FLAGS.repeats)
    words = summary["words"]
    print("single file, 1 worker: %d documents, %d sentences, %d words in %.3f s: %.0f words/s" % (
        summary["documents"], summary["sentences"], words, seconds, words / seconds))

    # 2. Parts: parsing only; splitting only.
    def parse():
      with open(FLAGS.input, "rb") as raw:
        return list(prepare_corpus.iter_xml_records(prepare_corpus.maybe_gunzip(raw)))

    parse_seconds, records = _best_time(parse, FLAGS.repeats)
    paragraphs = [p for r in records if r.paragraphs for p in r.paragraphs]
    split_seconds, _ = _best_time(lambda: [sentence_split.split_sentences(p) for p in paragraphs], FLAGS.repeats)
    print("  parsing only: %.3f s (%.0f words/s); sentence splitting only: %.3f s (%.0f words/s)" % (
        parse_seconds, words / parse_seconds, split_seconds, words / split_seconds))

    # 3. Scaling over copies of the file.
    copies = os.path.join(work, "copies")
    os.makedirs(copies)
    base = os.path.basename(FLAGS.input)
    for i in range(FLAGS.copies):
      shutil.copyfile(FLAGS.input, os.path.join(copies, "copy%02d-%s" % (i, base)))
    timings = {1: None, FLAGS.workers: None}
    total_words = None
    for _ in range(FLAGS.repeats):
      for workers in (1, FLAGS.workers):
        start = time.perf_counter()
        summary = prepare_corpus.prepare(copies, os.path.join(work, "out%d" % workers), num_workers=workers,
                                         dedup=False)
        elapsed = time.perf_counter() - start
        total_words = summary["words"]
        timings[workers] = elapsed if timings[workers] is None else min(timings[workers], elapsed)
    rate_1 = total_words / timings[1]
    rate_n = total_words / timings[FLAGS.workers]
    print("%d copies (%d words): 1 worker %.3f s (%.0f words/s), %d workers %.3f s (%.0f words/s): "
          "speed-up %.2fx (cores: %d)" % (FLAGS.copies, total_words, timings[1], rate_1, FLAGS.workers,
                                          timings[FLAGS.workers], rate_n, rate_n / rate_1, os.cpu_count() or 0))
    control = _control_ratio(FLAGS.workers, FLAGS.repeats)
    print("control (pure-Python CPU loop, %d processes vs 1): %.2fx" % (FLAGS.workers, control))
    print("bench_prepare_corpus: words_per_s=%.0f parse_words_per_s=%.0f split_words_per_s=%.0f "
          "workers=%d speedup=%.3f control_speedup=%.3f" % (
              words / seconds, words / parse_seconds, words / split_seconds, FLAGS.workers, rate_n / rate_1,
              control))
  finally:
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  errors.run_main(main)
