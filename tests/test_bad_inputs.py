"""Bad inputs to every tool and runner: one `error:` line, exit status 2, nothing left behind, no input touched.

Table-driven. Every case runs a tool's `main` the way its command line does (flags parsed by `errors.parse_flags`,
`main` run under `errors.guarded`, through `errors.main_status`) in this process; the cases where the exit
status, the signal path or a resource limit of a real process is under test run the script in a subprocess.
For each case the test checks

  * the exit status (2 for a usage or data error, 130/143 for SIGINT/SIGTERM, 0 where a warning or an override
    flag lets the run go on);
  * that the error is a single line starting with `error:`, the last line of stderr, naming what the case
    names, and that no traceback is printed;
  * that nothing is left behind: no temporary file anywhere (`.<name>.partial-*`, `*.tempstate*`, ...), no
    output the failed run started, and not one byte of the shared inputs changed.

The classes of bad input (the `cls` column): 1 resume, 2 corrupt data, 3 nonsense flags, 4 mismatches, 5 output
paths and full disks, 6 interrupts, 7 outputs that would replace an input, 8 file modes. Resuming (class 1) has
its own tests at the end: a deleted, a truncated and a half-written latest checkpoint, and a kill -9 while a
checkpoint is being written, each ending with the weights of an uninterrupted run.
"""

import collections
import contextlib
import gzip
import importlib
import json
import os
import random
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

from absl import flags
import numpy as np
import pytest
import tensorflow as tf

import errors
import fileio
from test_run_pretraining import ROOT, make_init_checkpoint, read_checkpoint, write_records

SEQ, PREDS = 32, 5
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ("the of and a in to is was for with on as by at from that this are be an not or we were which has have "
         "gene genes protein cell cells patients disease cancer study results expression human effect treatment "
         "analysis role levels data risk activity model factor clinical increased associated response growth "
         "tumor mice blood signaling pathway receptor binding mutation therapy survival group groups control "
         "significant higher lower between during after before both also may can these than using two three "
         "new type high low time") .split()
PIECES = ["##s", "##ed", "##ing", "##ly", "##er"]
PUNCTUATION = [".", ",", "(", ")", "-", ";", ":", "%"]
VOCAB = (SPECIALS + ["[unused0]", "[unused1]"] + WORDS + PIECES + PUNCTUATION +
         [c for c in "abcdefghijklmnopqrstuvwxyz" if c not in WORDS])
CONFIG = {"vocab_size": len(VOCAB), "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
          "intermediate_size": 64, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 64, "type_vocab_size": 2,
          "initializer_range": 0.02}

# Names temporary files of any writer may have; none may survive a case.
TEMP_NAME = re.compile(r"\.partial-|\.tempstate|\.tmp[0-9a-f]{32}$|\.tmp-\d+")


# ----------------------------------------------------------------------------------------------------------------
# The shared inputs.


def _write(path, text):
  with open(path, "w", encoding="utf-8", newline="\n") as f:
    f.write(text)
  return path


def _sentences(rng, n):
  return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))) + " ." for _ in range(n)]


def _copy_checkpoint(prefix, folder, name="model.ckpt-0"):
  os.makedirs(folder, exist_ok=True)
  for path in tf.io.gfile.glob(prefix + ".*"):
    shutil.copyfile(path, os.path.join(folder, name + path[len(prefix):]))
  for extra in ("bert_config.json", "vocab.txt"):
    source = os.path.join(os.path.dirname(prefix), extra)
    if os.path.exists(source):
      shutil.copyfile(source, os.path.join(folder, extra))
  return os.path.join(folder, name)


def _truncate(path, fraction=0.5):
  size = os.path.getsize(path)
  with open(path, "r+b") as f:
    f.truncate(int(size * fraction))


def _flip_bit(path, fraction=0.9):
  data = bytearray(open(path, "rb").read())
  data[int(len(data) * fraction)] ^= 0x10
  with open(path, "wb") as f:
    f.write(bytes(data))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """Every input the cases read: vocabularies, text, configs, TFRecords, checkpoints, a HF folder, NER data, XML."""
  root = str(tmp_path_factory.mktemp("world"))
  w = {"root": root}
  rng = random.Random(5)
  w["vocab"] = _write(os.path.join(root, "vocab.txt"), "\n".join(VOCAB) + "\n")
  w["cased_vocab"] = _write(os.path.join(root, "cased_vocab.txt"),
                            "\n".join(SPECIALS + [t.capitalize() for t in WORDS] + WORDS + PUNCTUATION) + "\n")
  w["blank_vocab"] = _write(os.path.join(root, "blank_vocab.txt"),
                            "\n".join(VOCAB[:20] + [""] + VOCAB[20:]) + "\n")
  documents = ["\n".join(_sentences(rng, 6)) for _ in range(40)]
  w["text"] = _write(os.path.join(root, "text.txt"), "\n\n".join(documents) + "\n")
  w["pairs"] = _write(os.path.join(root, "pairs.txt"), "the gene is new . ||| the cell was high .\nthe model .\n")

  def config(name, **changes):
    values = dict(CONFIG, **changes)
    for key in [k for k, v in changes.items() if v is None]:
      del values[key]
    return _write(os.path.join(root, name), json.dumps(values))

  w["config"] = config("bert_config.json")
  w["config_small_vocab"] = config("config_small_vocab.json", vocab_size=40)
  w["config_type1"] = config("config_type1.json", type_vocab_size=1)
  w["config_typo"] = config("config_typo.json", num_hidden_layers=None, num_hidden_layer=2)
  w["config_extra"] = config("config_extra.json", note="from our cluster")

  # Pre-training records (ids below 60, segment ids 0 and 1), and broken copies.
  records = os.path.join(root, "records")
  os.makedirs(records)
  for i in range(2):  # the second file long enough that its damage lies beyond the records checked up front
    write_records(os.path.join(records, "part-%d.tfrecord" % i), 48 if i == 0 else 240, seed=30 + i, seq=SEQ,
                  preds=PREDS, vocab=60)
  w["records"] = os.path.join(records, "*.tfrecord")
  for kind, damage in (("truncated", _truncate), ("flipped", _flip_bit)):
    folder = os.path.join(root, "records_" + kind)
    os.makedirs(folder)
    for name in os.listdir(records):
      shutil.copyfile(os.path.join(records, name), os.path.join(folder, name))
    damage(os.path.join(folder, "part-1.tfrecord"), 0.905)  # inside a record
    w["records_" + kind] = os.path.join(folder, "*.tfrecord")

  # A checkpoint with the pre-training heads, its config and vocabulary beside it; broken copies.
  import modeling  # pylint: disable=g-import-not-at-top
  prefix = make_init_checkpoint(os.path.join(root, "init"), modeling.BertConfig.from_dict(CONFIG))
  w["ckpt"] = _copy_checkpoint(prefix, os.path.join(root, "ckpt"))
  shutil.copyfile(w["config"], os.path.join(root, "ckpt", "bert_config.json"))
  shutil.copyfile(w["vocab"], os.path.join(root, "ckpt", "vocab.txt"))
  w["ckpt_dir"] = os.path.join(root, "ckpt")
  w["ckpt_truncated"] = _copy_checkpoint(w["ckpt"], os.path.join(root, "ckpt_truncated"))
  _truncate(w["ckpt_truncated"] + ".data-00000-of-00001", 0.5)
  w["ckpt_badindex"] = _copy_checkpoint(w["ckpt"], os.path.join(root, "ckpt_badindex"))
  _truncate(w["ckpt_badindex"] + ".index", 0.5)

  # A Hugging Face folder of that checkpoint, and one whose config says 1 layer over 2 layers of weights.
  import convert_checkpoint  # pylint: disable=g-import-not-at-top
  w["hf"] = os.path.join(root, "hf")
  convert_checkpoint.tf_to_hf(w["ckpt"], w["hf"])
  w["hf_one_layer"] = os.path.join(root, "hf_one_layer")
  shutil.copytree(w["hf"], w["hf_one_layer"])
  with open(os.path.join(w["hf_one_layer"], "config.json")) as f:
    hf_config = json.load(f)
  hf_config["num_hidden_layers"] = 1
  _write(os.path.join(w["hf_one_layer"], "config.json"), json.dumps(hf_config))

  # NER data, PubMed XML, a binary file.
  ner = os.path.join(root, "ner")
  os.makedirs(ner)
  for name in ("train_dev.tsv", "devel.tsv", "test.tsv"):
    lines = []
    for _ in range(6):
      words = rng.sample(WORDS, 6)
      lines += ["%s\t%s" % (word, rng.choice("BIO")) for word in words] + [""]
    _write(os.path.join(ner, name), "\n".join(lines))
  w["ner"] = ner
  xml = os.path.join(root, "xml")
  os.makedirs(xml)
  citations = "".join(
      '<PubmedArticle><MedlineCitation Owner="NLM" Status="MEDLINE"><PMID Version="1">%d</PMID><Article>'
      "<ArticleTitle>Title %d of the study.</ArticleTitle><Abstract><AbstractText>%s</AbstractText></Abstract>"
      "</Article></MedlineCitation><PubmedData/></PubmedArticle>" % (i, i, " ".join(_sentences(rng, 4)))
      for i in range(1, 6))
  with gzip.open(os.path.join(xml, "pubmed24n0001.xml.gz"), "wb") as f:
    f.write(('<?xml version="1.0" encoding="UTF-8"?>\n<PubmedArticleSet>%s</PubmedArticleSet>\n' % citations)
            .encode("utf-8"))
  w["xml"] = xml
  w["binary"] = os.path.join(root, "binary.txt")
  with open(w["binary"], "wb") as f:
    f.write(gzip.compress(open(w["text"], "rb").read()))
  w["squad"] = _write(os.path.join(root, "squad.json"), json.dumps({"version": "1.1", "data": []}))
  return w


def _snapshot(root):
  """{relative path: (size, mtime_ns)} of every file under root."""
  out = {}
  for folder, _, names in os.walk(root):
    for name in names:
      path = os.path.join(folder, name)
      st = os.lstat(path)
      out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
  return out


def _temp_leftovers(root):
  return sorted(os.path.relpath(os.path.join(folder, name), root)
                for folder, dirs, names in os.walk(root) for name in dirs + names if TEMP_NAME.search(name))


def _unwritable_folder(case_dir):
  """An existing folder this process cannot create files in (root ignores permissions; /sys refuses it too)."""
  if os.geteuid() == 0:
    return "/sys"
  path = os.path.join(case_dir, "read_only")
  os.makedirs(path)
  os.chmod(path, 0o555)
  return path


# ----------------------------------------------------------------------------------------------------------------
# Running a tool in this process.

# tool -> (module, flags its __main__ marks as required).
TOOLS = {
    "create_pretraining_data": ("create_pretraining_data", ("input_file", "output_file", "vocab_file")),
    "run_pretraining": ("run_pretraining", ("input_file", "bert_config_file", "output_dir")),
    "convert_checkpoint": ("convert_checkpoint", ()),
    "extract_features": ("extract_features", ("input_file", "vocab_file", "bert_config_file", "init_checkpoint",
                                              "output_file")),
    "prepare_corpus": ("prepare_corpus", ()),
    "build_vocab": ("build_vocab", ()),
    "run_ner": ("run_ner", ("data_dir", "task_name", "vocab_file", "bert_config_file", "output_dir")),
    "run_re": ("run_re", ("data_dir", "task_name", "vocab_file", "bert_config_file", "output_dir")),
    "run_qa": ("run_qa", ("vocab_file", "bert_config_file", "output_dir")),
}


def run_tool(tool, argv, monkeypatch):
  """Runs `tool`'s main on `argv` as its command line would; returns the exit status."""
  module_name, required = TOOLS[tool]
  module = importlib.import_module(module_name)
  fv = flags.FlagValues()
  module.define_flags(fv)
  for name in required:
    if fv[name].default is None:
      flags.mark_flag_as_required(name, flag_values=fv)
  monkeypatch.setattr(module, "FLAGS", fv)
  # The TF tools switch eager execution off for the whole process; their graphs are explicit, so leave it on.
  monkeypatch.setattr(tf.compat.v1, "disable_eager_execution", lambda: None)
  return errors.main_status(module.main, [tool + ".py"] + list(argv), fv)


def _error_line(stderr):
  """The error line of a failed run, after checking that it is one line, the last, without a traceback."""
  assert "Traceback" not in stderr, stderr[-3000:]
  lines = [line for line in stderr.splitlines() if line.strip()]
  errors_ = [line for line in lines if line.startswith("error: ")]
  assert len(errors_) == 1, stderr[-3000:]
  assert lines[-1] == errors_[0], stderr[-3000:]
  return errors_[0]


# ----------------------------------------------------------------------------------------------------------------
# The table.

Case = collections.namedtuple("Case", ["tool", "cls", "name", "args", "code", "fragments", "setup", "check",
                                       "allowed"])


def case(tool, cls, name, args, code=2, fragments=(), setup=None, check=None, allowed=()):
  """One row: `args` may hold {placeholders} of the world (`{vocab}`, ...) and `{out}` (the case's folder),
  `{ro}` (a folder that cannot be written). `allowed`: globs of files the run may leave in {out}."""
  return Case(tool, cls, name, list(args), code, tuple(fragments), setup, check, tuple(allowed))


def _mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


def _make_folder(name):
  def setup(out, w):
    os.makedirs(os.path.join(out, name))
  return setup


def _make_file(name, text="x"):
  def setup(out, w):
    _write(os.path.join(out, name), text)
  return setup


def _expect_files(*names):
  def check(out, w):
    for name in names:
      assert os.path.isfile(os.path.join(out, name)), (name, os.listdir(out))
  return check


def _expect_gone(name):
  def check(out, w):
    assert not os.path.exists(os.path.join(out, name)), name
  return check


def _expect_mode(name, mode):
  def check(out, w):
    path = os.path.join(out, name)
    assert _mode(path) == mode, (path, oct(_mode(path)))
  return check


CPD = ["--input_file={text}", "--output_file={out}/x.tfrecord", "--vocab_file={vocab}", "--max_seq_length=32",
       "--max_predictions_per_seq=5", "--dupe_factor=1"]
RP = ["--bert_config_file={config}", "--input_file={records}", "--output_dir={out}/run", "--do_train=true",
      "--max_seq_length=32", "--max_predictions_per_seq=5", "--train_batch_size=4", "--num_train_steps=2",
      "--num_warmup_steps=1", "--save_summary_steps=1"]
EF = ["--input_file={text}", "--output_file={out}/features.jsonl", "--vocab_file={vocab}",
      "--bert_config_file={config}", "--init_checkpoint={ckpt}", "--max_seq_length=32", "--layers=-1"]
PC = ["--input_file={xml}", "--output_dir={out}/text", "--num_workers=1"]
BV = ["--input_file={text}", "--output_file={out}/vocab.txt", "--vocab_size=1200", "--num_workers=1"]
NER = ["--task_name=ner", "--data_dir={ner}", "--vocab_file={vocab}", "--bert_config_file={config}",
       "--output_dir={out}/ner", "--do_lower_case=true", "--do_train=true", "--do_eval=false",
       "--do_predict=false", "--max_seq_length=16", "--num_train_epochs=1"]
RE = ["--task_name=gad", "--data_dir={ner}", "--vocab_file={vocab}", "--bert_config_file={config}",
      "--output_dir={out}/re", "--do_train=true", "--max_seq_length=16"]
QA = ["--vocab_file={vocab}", "--bert_config_file={config}", "--output_dir={out}/qa", "--do_predict=true",
      "--predict_file={squad}", "--max_seq_length=48", "--max_query_length=16", "--doc_stride=8"]
RUN_DIR = ("run/events.out.tfevents.*",)


def _with(base, *changes):
  """`base` with the flags of `changes` replaced (same name) or added."""
  names = [c.split("=")[0] for c in changes]
  return [a for a in base if a.split("=")[0] not in names] + list(changes)


def _without(base, name):
  return [a for a in base if a.split("=")[0] != name]


CASES = [
    # -- create_pretraining_data --------------------------------------------------------------------------------
    case("create_pretraining_data", 3, "max_seq_length", _with(CPD, "--max_seq_length=4"), 2,
         ["--max_seq_length=4", ">= 5"]),
    case("create_pretraining_data", 3, "dupe_factor", _with(CPD, "--dupe_factor=0"), 2, ["--dupe_factor=0"]),
    case("create_pretraining_data", 3, "masked_lm_prob", _with(CPD, "--masked_lm_prob=1.5"), 2,
         ["--masked_lm_prob=1.5", "[0,1]"]),
    case("create_pretraining_data", 3, "short_seq_prob", _with(CPD, "--short_seq_prob=-0.1"), 2,
         ["--short_seq_prob=-0.1"]),
    case("create_pretraining_data", 3, "max_predictions", _with(CPD, "--max_predictions_per_seq=-1"), 2,
         ["--max_predictions_per_seq=-1"]),
    case("create_pretraining_data", 3, "num_workers", _with(CPD, "--num_workers=0"), 2, ["--num_workers=0"]),
    case("create_pretraining_data", 3, "not_a_number", _with(CPD, "--dupe_factor=abc"), 2, ["dupe_factor", "abc"]),
    case("create_pretraining_data", 3, "misspelt_flag", CPD + ["--dupe_factr=2"], 2, ["dupe_factr"]),
    case("create_pretraining_data", 3, "missing_required", _without(CPD, "--vocab_file"), 2, ["vocab_file"]),
    case("create_pretraining_data", 4, "case_mismatch", CPD + ["--do_lower_case=false"], 2,
         ["--do_lower_case=false", "uncased", "--allow_case_mismatch"]),
    case("create_pretraining_data", 4, "case_mismatch_allowed",
         CPD + ["--do_lower_case=false", "--allow_case_mismatch=true"], 0, check=_expect_files("x.tfrecord"),
         allowed=["x.tfrecord"]),
    case("create_pretraining_data", 4, "config_vocab_too_small", CPD + ["--bert_config_file={config_small_vocab}"],
         2, ["vocab_size=40", "entries"]),
    case("create_pretraining_data", 4, "config_misspelt_key", CPD + ["--bert_config_file={config_typo}"], 2,
         ["num_hidden_layer", "did you mean", "num_hidden_layers"]),
    case("create_pretraining_data", 4, "blank_vocab_line", _with(CPD, "--vocab_file={blank_vocab}"), 2,
         ["blank_vocab.txt", "line 21 is blank"]),
    case("create_pretraining_data", 4, "binary_input", _with(CPD, "--input_file={binary}"), 2,
         ["binary.txt", "UTF-8"]),
    case("create_pretraining_data", 5, "output_is_a_folder", CPD, 2, ["x.tfrecord", "is a directory"],
         setup=_make_folder("x.tfrecord")),
    case("create_pretraining_data", 5, "output_folder_unwritable", _with(CPD, "--output_file={ro}/x.tfrecord"), 2,
         ["x.tfrecord", "cannot create"]),
    case("create_pretraining_data", 5, "output_under_a_file", _with(CPD, "--output_file={out}/file/x.tfrecord"), 2,
         ["x.tfrecord", "cannot create"], setup=_make_file("file")),
    case("create_pretraining_data", 7, "output_is_the_input", _with(CPD, "--output_file={text}"), 2,
         ["--output_file", "is the input"]),
    case("create_pretraining_data", 7, "output_is_the_vocab", _with(CPD, "--output_file={vocab}"), 2,
         ["is the input", "vocab.txt"]),
    case("create_pretraining_data", 8, "umask", CPD, 0, check=_expect_mode("x.tfrecord", 0o640),
         allowed=["x.tfrecord"]),
    case("create_pretraining_data", 6, "glob_skips_temp_files", _with(CPD, "--input_file={out}/in/*"), 0,
         setup=lambda out, w: (os.makedirs(os.path.join(out, "in")),
                               shutil.copyfile(w["text"], os.path.join(out, "in", "a.txt")),
                               open(os.path.join(out, "in", ".b.txt.partial-1-x"), "wb").write(b"\xff\xfe"),
                               open(os.path.join(out, "in", "c.txt.tmp-77"), "wb").write(b"\xff\xfe")),
         allowed=["x.tfrecord", "in/*"]),

    # -- run_pretraining ----------------------------------------------------------------------------------------
    case("run_pretraining", 3, "learning_rate", RP + ["--learning_rate=-1"], 2, ["--learning_rate=-1", "> 0"]),
    case("run_pretraining", 3, "num_train_steps", RP + ["--num_train_steps=-1"], 2, ["--num_train_steps=-1"]),
    case("run_pretraining", 3, "num_train_steps_zero", RP + ["--num_train_steps=0"], 2, ["--num_train_steps=0"]),
    case("run_pretraining", 3, "max_eval_steps", RP + ["--do_eval=true", "--max_eval_steps=0"], 2,
         ["--max_eval_steps=0"]),
    case("run_pretraining", 3, "train_batch_size", RP + ["--train_batch_size=0"], 2, ["--train_batch_size=0"]),
    case("run_pretraining", 3, "eval_batch_size", RP + ["--eval_batch_size=-8"], 2, ["--eval_batch_size=-8"]),
    case("run_pretraining", 3, "num_warmup_steps", RP + ["--num_warmup_steps=-1"], 2, ["--num_warmup_steps=-1"]),
    case("run_pretraining", 3, "save_checkpoints_steps", RP + ["--save_checkpoints_steps=-5"], 2,
         ["--save_checkpoints_steps=-5"]),
    case("run_pretraining", 3, "keep_checkpoint_max", RP + ["--keep_checkpoint_max=0"], 2,
         ["--keep_checkpoint_max=0"]),
    case("run_pretraining", 3, "num_accumulation_steps", RP + ["--num_accumulation_steps=0"], 2,
         ["--num_accumulation_steps=0"]),
    case("run_pretraining", 3, "num_gpus", RP + ["--num_gpus=-2"], 2, ["--num_gpus=-2"]),
    case("run_pretraining", 3, "not_a_number", RP + ["--learning_rate=fast"], 2, ["learning_rate", "fast"]),
    case("run_pretraining", 3, "misspelt_flag", RP + ["--learnin_rate=1e-4"], 2, ["learnin_rate"]),
    case("run_pretraining", 3, "bad_enum", RP + ["--precision=fp8"], 2, ["precision", "fp8"]),
    case("run_pretraining", 3, "predictions_beyond_length", RP + ["--max_predictions_per_seq=40"], 2,
         ["--max_predictions_per_seq=40", "--max_seq_length=32"]),
    # Damage beyond the first records, found by TensorFlow's reader mid-run: the file and the record are named.
    case("run_pretraining", 2, "truncated_tfrecord",
         _with(RP, "--input_file={records_truncated}", "--num_train_steps=400", "--train_batch_size=8"), 2,
         ["part-1.tfrecord", "record", "truncated"], allowed=RUN_DIR),
    case("run_pretraining", 2, "flipped_bit_tfrecord",
         _with(RP, "--input_file={records_flipped}", "--num_train_steps=400", "--train_batch_size=8"), 2,
         ["part-1.tfrecord", "record", "corrupt"], allowed=RUN_DIR),
    # Damage in the first records, found before training.
    case("run_pretraining", 2, "truncated_tfrecord_found_up_front", _with(RP, "--input_file={out}/r.tfrecord"), 2,
         ["r.tfrecord", "record", "truncated"],
         setup=lambda out, w: (shutil.copyfile(w["records"].replace("*", "part-0"), os.path.join(out, "r.tfrecord")),
                               _truncate(os.path.join(out, "r.tfrecord"), 0.31)), allowed=["r.tfrecord"]),
    case("run_pretraining", 4, "segment_ids_beyond_type_vocab", _with(RP, "--bert_config_file={config_type1}"), 2,
         ["segment_ids", "type_vocab_size=1", "config_type1.json"]),
    case("run_pretraining", 4, "ids_beyond_vocab_size", _with(RP, "--bert_config_file={config_small_vocab}"), 2,
         ["input_ids", "vocab_size=40", "config_small_vocab.json"]),
    case("run_pretraining", 4, "config_misspelt_key", _with(RP, "--bert_config_file={config_typo}"), 2,
         ["num_hidden_layer", "did you mean"]),
    case("run_pretraining", 4, "seq_length_beyond_positions", _with(RP, "--max_seq_length=128"), 2,
         ["--max_seq_length=128", "max_position_embeddings=64"]),
    case("run_pretraining", 5, "output_dir_is_a_file", _with(RP, "--output_dir={out}/run"), 2,
         ["--output_dir", "run"], setup=_make_file("run"), allowed=["run"]),
    case("run_pretraining", 5, "output_dir_unwritable", _with(RP, "--output_dir={ro}"), 2,
         ["--output_dir={ro}", "cannot write"]),
    case("run_pretraining", 8, "umask_and_globs_skip_temp_files",
         _with(RP, "--input_file={out}/in/*", "--do_eval=true", "--max_eval_steps=2"), 0,
         setup=lambda out, w: (os.makedirs(os.path.join(out, "in")),
                               shutil.copyfile(w["records"].replace("*", "part-0"), os.path.join(out, "in", "a")),
                               _write(os.path.join(out, "in", ".b.tfrecord.partial-1-x"), "half a file"),
                               _write(os.path.join(out, "in", "c.tfrecord.tempstate123"), "")),
         check=lambda out, w: [_expect_mode(os.path.join("run", name), 0o640)(out, w) for name in (
             "model.ckpt-2.index", "model.ckpt-2.data-00000-of-00001", "training_state.json", "eval_results.txt",
             "checkpoint")], allowed=["in/*", "run/*", "run/eval/*"]),
    case("run_pretraining", 2, "truncated_init_checkpoint", RP + ["--init_checkpoint={ckpt_truncated}"], 2,
         ["--init_checkpoint", "ckpt_truncated"], allowed=RUN_DIR),

    # -- convert_checkpoint -------------------------------------------------------------------------------------
    case("convert_checkpoint", 2, "tf_to_hf_truncated_data",
         ["tf_to_hf", "--init_checkpoint={ckpt_truncated}", "--output_dir={out}/hf"], 2,
         ["ckpt_truncated", "truncated or corrupt"]),
    case("convert_checkpoint", 2, "strip_truncated_data",
         ["strip", "--init_checkpoint={ckpt_truncated}", "--output_dir={out}/strip"], 2,
         ["ckpt_truncated", "truncated or corrupt"]),
    case("convert_checkpoint", 2, "truncated_index",
         ["tf_to_hf", "--init_checkpoint={ckpt_badindex}", "--output_dir={out}/hf"], 2,
         ["ckpt_badindex", "cannot be read"]),
    case("convert_checkpoint", 2, "truncated_safetensors", ["hf_to_tf", "--hf_dir={out}/hf", "--output_dir={out}/tf"],
         2, ["model.safetensors", "truncated"],
         setup=lambda out, w: (shutil.copytree(w["hf"], os.path.join(out, "hf")),
                               _truncate(os.path.join(out, "hf", "model.safetensors"), 0.7)),
         allowed=["hf/*"]),
    case("convert_checkpoint", 3, "no_mode", ["--init_checkpoint={ckpt}", "--output_dir={out}/hf"], 2,
         ["give the mode"]),
    case("convert_checkpoint", 3, "bad_task", ["tf_to_hf", "--task=pos", "--init_checkpoint={ckpt}",
                                               "--output_dir={out}/hf"], 2, ["task", "pos"]),
    case("convert_checkpoint", 3, "misspelt_flag", ["strip", "--init_checkpiont={ckpt}", "--output_dir={out}/s"], 2,
         ["init_checkpiont"]),
    case("convert_checkpoint", 4, "hf_config_fewer_layers_than_weights",
         ["hf_to_tf", "--hf_dir={hf_one_layer}", "--output_dir={out}/tf"], 2,
         ["2 encoder layers", "num_hidden_layers 1", "hf_one_layer"]),
    case("convert_checkpoint", 4, "tf_config_more_layers_than_weights",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--bert_config_file={out}/c.json", "--output_dir={out}/hf"], 2,
         ["2 encoder layers", "num_hidden_layers 3"],
         setup=lambda out, w: _write(os.path.join(out, "c.json"), json.dumps(dict(CONFIG, num_hidden_layers=3))),
         allowed=["c.json"]),
    case("convert_checkpoint", 4, "case_mismatch",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--do_lower_case=false", "--output_dir={out}/hf"], 2,
         ["--do_lower_case=false", "uncased", "--allow_case_mismatch"]),
    case("convert_checkpoint", 4, "case_mismatch_allowed",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--do_lower_case=false", "--allow_case_mismatch=true",
          "--output_dir={out}/hf"], 0, check=_expect_files("hf/model.safetensors"), allowed=["hf/*"]),
    case("convert_checkpoint", 4, "blank_vocab_line",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--vocab_file={blank_vocab}", "--output_dir={out}/hf"], 2,
         ["blank_vocab.txt", "line 21 is blank"]),
    case("convert_checkpoint", 4, "config_misspelt_key",
         ["strip", "--init_checkpoint={ckpt}", "--bert_config_file={config_typo}", "--output_dir={out}/s"], 2,
         ["num_hidden_layer", "did you mean"]),
    case("convert_checkpoint", 4, "config_unknown_key_warns",
         ["strip", "--init_checkpoint={ckpt}", "--bert_config_file={config_extra}", "--output_dir={out}/s"], 0,
         check=_expect_files("s/model.ckpt-0.index"), allowed=["s/*"]),
    case("convert_checkpoint", 5, "output_dir_is_a_file",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--output_dir={out}/hf"], 2, ["hf", "not a folder"],
         setup=_make_file("hf"), allowed=["hf"]),
    case("convert_checkpoint", 5, "output_dir_unwritable",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--output_dir={ro}/hf"], 2, ["hf", "cannot create"]),
    case("convert_checkpoint", 7, "strip_into_its_own_folder",
         ["strip", "--init_checkpoint={ckpt}", "--output_dir={ckpt_dir}", "--overwrite=true"], 2,
         ["--output_dir", "contains the input", "model.ckpt-0.index"]),
    case("convert_checkpoint", 7, "tf_to_hf_over_a_parent_of_the_input",
         ["tf_to_hf", "--init_checkpoint={ckpt}", "--output_dir={root}", "--overwrite=true"], 2,
         ["contains the input"]),
    case("convert_checkpoint", 7, "hf_to_tf_into_its_own_folder",
         ["hf_to_tf", "--hf_dir={hf}", "--output_dir={hf}", "--overwrite=true"], 2, ["is the input"]),
    case("convert_checkpoint", 8, "umask", ["tf_to_hf", "--init_checkpoint={ckpt}", "--output_dir={out}/hf"], 0,
         check=lambda out, w: (_expect_mode("hf/model.safetensors", 0o640)(out, w),
                               _expect_mode("hf", 0o750)(out, w)), allowed=["hf/*"]),

    # -- extract_features ---------------------------------------------------------------------------------------
    case("extract_features", 2, "truncated_checkpoint", _with(EF, "--init_checkpoint={ckpt_truncated}"), 2,
         ["ckpt_truncated", "truncated or corrupt"]),
    case("extract_features", 3, "batch_size", EF + ["--batch_size=0"], 2, ["--batch_size=0"]),
    case("extract_features", 3, "max_seq_length", _with(EF, "--max_seq_length=2"), 2, ["--max_seq_length=2"]),
    case("extract_features", 3, "layers", _with(EF, "--layers=-1,7"), 2, ["--layers=-1,7", "out of range"]),
    case("extract_features", 3, "misspelt_flag", EF + ["--batchsize=4"], 2, ["batchsize"]),
    case("extract_features", 4, "case_mismatch", _with(EF, "--vocab_file={cased_vocab}"), 2,
         ["--do_lower_case=true", "cased"]),
    case("extract_features", 4, "pairs_without_segment_embedding",
         _with(EF, "--input_file={pairs}", "--bert_config_file={config_type1}"), 2,
         ["line 1", "type_vocab_size=1"]),
    case("extract_features", 4, "vocab_beyond_config", _with(EF, "--bert_config_file={config_small_vocab}"), 2,
         ["entries", "vocab_size=40"]),
    case("extract_features", 5, "output_is_a_folder", EF, 2, ["features.jsonl", "is a directory"],
         setup=_make_folder("features.jsonl")),
    case("extract_features", 5, "output_folder_unwritable", _with(EF, "--output_file={ro}/features.jsonl"), 2,
         ["features.jsonl"]),
    case("extract_features", 8, "umask", _with(EF, "--input_file={pairs}"), 0,
         check=_expect_mode("features.jsonl", 0o640), allowed=["features.jsonl"]),
    case("extract_features", 7, "output_is_the_input", _with(EF, "--output_file={text}"), 2, ["is the input"]),

    # -- prepare_corpus -----------------------------------------------------------------------------------------
    case("prepare_corpus", 3, "shard_size", PC + ["--shard_size_mb=0"], 2, ["--shard_size_mb=0"]),
    case("prepare_corpus", 3, "num_workers", _with(PC, "--num_workers=-3"), 2, ["--num_workers=-3"]),
    case("prepare_corpus", 3, "misspelt_flag", PC + ["--shard_size=4"], 2, ["shard_size"]),
    case("prepare_corpus", 5, "output_dir_is_a_file", PC, 2, ["text", "not a directory"], setup=_make_file("text"),
         allowed=["text"]),
    case("prepare_corpus", 5, "output_dir_unwritable", _with(PC, "--output_dir={ro}/text"), 2, ["text"]),
    case("prepare_corpus", 7, "output_dir_holds_the_input", _with(PC, "--output_dir={xml}"), 2,
         ["--output_dir", "contains the input"]),
    case("prepare_corpus", 1, "stale_work_folder_removed", PC, 0,
         setup=lambda out, w: os.makedirs(os.path.join(out, "text", ".corpus.partial-99999999", "shards")),
         check=lambda out, w: (_expect_files("text/corpus-00000.txt")(out, w),
                               _expect_gone("text/.corpus.partial-99999999")(out, w)), allowed=["text/corpus-*"]),
    case("prepare_corpus", 8, "umask", PC, 0, check=_expect_mode("text/corpus-00000.txt", 0o640),
         allowed=["text/corpus-*"]),

    # -- build_vocab --------------------------------------------------------------------------------------------
    case("build_vocab", 3, "max_lines", BV + ["--max_lines=-5"], 2, ["--max_lines=-5", ">= 0"]),
    case("build_vocab", 3, "vocab_size", _with(BV, "--vocab_size=0"), 2, ["--vocab_size=0"]),
    case("build_vocab", 3, "min_frequency", BV + ["--min_frequency=0"], 2, ["--min_frequency=0"]),
    case("build_vocab", 3, "num_workers", _with(BV, "--num_workers=0"), 2, ["--num_workers=0"]),
    case("build_vocab", 3, "not_a_number", BV + ["--max_alphabet=many"], 2, ["max_alphabet", "many"]),
    case("build_vocab", 3, "misspelt_flag", BV + ["--vocabsize=10"], 2, ["vocabsize"]),
    case("build_vocab", 4, "binary_input", _with(BV, "--input_file={binary}"), 2,
         ["binary.txt", "line 1", "UTF-8"]),
    case("build_vocab", 4, "compare_blank_vocab_line",
         ["--input_file={text}", "--compare_vocab_files={blank_vocab}", "--num_workers=1"], 2,
         ["blank_vocab.txt", "line 21 is blank"]),
    case("build_vocab", 5, "output_is_a_folder", BV, 2, ["vocab.txt", "is a directory"],
         setup=_make_folder("vocab.txt")),
    case("build_vocab", 5, "output_folder_unwritable", _with(BV, "--output_file={ro}/vocab.txt"), 2,
         ["vocab.txt", "cannot create"]),
    case("build_vocab", 7, "output_is_the_input", _with(BV, "--output_file={text}"), 2, ["is the input"]),
    case("build_vocab", 8, "umask", BV, 0, check=_expect_mode("vocab.txt", 0o640), allowed=["vocab.txt"]),

    # -- run_ner --------------------------------------------------------------------------------------------------
    case("run_ner", 3, "learning_rate", NER + ["--learning_rate=-1"], 2, ["--learning_rate=-1"]),
    case("run_ner", 3, "train_batch_size", NER + ["--train_batch_size=0"], 2, ["--train_batch_size=0"]),
    case("run_ner", 3, "num_train_epochs", _with(NER, "--num_train_epochs=-2"), 2, ["--num_train_epochs=-2"]),
    case("run_ner", 3, "warmup_proportion", NER + ["--warmup_proportion=1.5"], 2, ["--warmup_proportion=1.5"]),
    case("run_ner", 3, "window_stride", NER + ["--window_stride=-4"], 2, ["--window_stride=-4"]),
    case("run_ner", 3, "keep_checkpoint_max", NER + ["--keep_checkpoint_max=-1"], 2, ["--keep_checkpoint_max=-1"]),
    case("run_ner", 3, "misspelt_flag", NER + ["--num_train_epoch=2"], 2, ["num_train_epoch"]),
    case("run_ner", 3, "bad_enum", NER + ["--ner_loss=mean"], 2, ["ner_loss", "mean"]),
    case("run_ner", 4, "case_mismatch", _with(NER, "--vocab_file={cased_vocab}"), 2,
         ["--do_lower_case=true", "cased", "--allow_case_mismatch"]),
    case("run_ner", 4, "vocab_beyond_config", _with(NER, "--bert_config_file={config_small_vocab}"), 2,
         ["entries", "vocab_size=40"]),
    case("run_ner", 4, "config_misspelt_key", _with(NER, "--bert_config_file={config_typo}"), 2,
         ["num_hidden_layer", "did you mean"]),
    case("run_ner", 4, "blank_vocab_line", _with(NER, "--vocab_file={blank_vocab}"), 2, ["line 21 is blank"]),
    case("run_ner", 5, "output_dir_is_a_file", NER, 2, ["--output_dir", "ner"], setup=_make_file("ner"),
         allowed=["ner"]),
    case("run_ner", 5, "output_dir_unwritable", _with(NER, "--output_dir={ro}"), 2, ["--output_dir", "cannot write"]),

    # -- run_re, run_qa: the same checks, from finetuning -------------------------------------------------------
    case("run_re", 3, "learning_rate", RE + ["--learning_rate=-1"], 2, ["--learning_rate=-1"]),
    case("run_re", 3, "train_batch_size", RE + ["--train_batch_size=0"], 2, ["--train_batch_size=0"]),
    case("run_re", 3, "misspelt_flag", RE + ["--learnig_rate=1"], 2, ["learnig_rate"]),
    case("run_re", 4, "case_mismatch", _with(RE, "--vocab_file={cased_vocab}"), 2, ["--do_lower_case=true", "cased"]),
    case("run_re", 5, "output_dir_is_a_file", RE, 2, ["--output_dir", "re"], setup=_make_file("re"), allowed=["re"]),
    case("run_qa", 3, "learning_rate", QA + ["--learning_rate=0"], 2, ["--learning_rate=0"]),
    case("run_qa", 3, "predict_batch_size", QA + ["--predict_batch_size=0"], 2, ["--predict_batch_size=0"]),
    case("run_qa", 3, "max_query_length", QA + ["--max_query_length=-1"], 2, ["--max_query_length=-1"]),
    case("run_qa", 3, "doc_stride", QA + ["--doc_stride=0"], 2, ["--doc_stride=0"]),
    case("run_qa", 3, "misspelt_flag", QA + ["--doc_strid=8"], 2, ["doc_strid"]),
    case("run_qa", 4, "case_mismatch", _with(QA, "--vocab_file={cased_vocab}"), 2, ["--do_lower_case=true", "cased"]),
    case("run_qa", 5, "output_dir_is_a_file", QA, 2, ["--output_dir", "qa"], setup=_make_file("qa"), allowed=["qa"]),
]


def _fill(args, w, out, ro):
  values = dict(w, out=out, ro=ro)
  return [a.format(**values) for a in args]


@contextlib.contextmanager
def _umask(mask):
  old = os.umask(mask)
  try:
    yield
  finally:
    os.umask(old)


def _assert_nothing_left(out, before, allowed, temps_before=()):
  leftovers = [p for p in _temp_leftovers(out) if p not in temps_before]
  assert leftovers == [], leftovers
  import fnmatch  # pylint: disable=g-import-not-at-top
  new = [p for p in _snapshot(out) if p not in before and not any(fnmatch.fnmatch(p, g) for g in allowed)]
  assert new == [], new


@pytest.mark.parametrize("row", CASES, ids=["%s-%d-%s" % (c.tool, c.cls, c.name) for c in CASES])
def test_bad_input(row, world, tmp_path, monkeypatch, capfd):
  out = str(tmp_path)
  if row.setup is not None:
    row.setup(out, world)
  ro = _unwritable_folder(out) if any("{ro}" in a for a in row.args) else ""
  before_world, before_out, temps_before = _snapshot(world["root"]), _snapshot(out), _temp_leftovers(out)
  with _umask(0o027):
    code = run_tool(row.tool, _fill(row.args, world, out, ro), monkeypatch)
  captured = capfd.readouterr()
  assert code == row.code, captured.err[-3000:]
  if row.code == 2:
    line = _error_line(captured.err)
    for fragment in row.fragments:
      assert fragment.format(**dict(world, out=out, ro=ro)) in line, line
  else:
    assert "Traceback" not in captured.err, captured.err[-3000:]
  if row.check is not None:
    row.check(out, world)
  # Nothing left behind, no input changed.
  _assert_nothing_left(out, before_out, row.allowed, temps_before)
  assert _snapshot(world["root"]) == before_world
  assert _temp_leftovers(world["root"]) == []
  if ro and ro != "/sys":
    os.chmod(ro, 0o755)


def test_the_table_covers_every_tool_and_runner():
  per_tool = collections.Counter(c.tool for c in CASES)
  assert set(per_tool) == set(TOOLS)
  assert sum(per_tool.values()) + len(PROCESS_CASES) >= 80


def test_warnings_where_harmless(world, tmp_path, capfd):
  """An unknown config key and a blank last vocabulary line are a warning, not an error."""
  import bert_config  # pylint: disable=g-import-not-at-top
  import tokenization  # pylint: disable=g-import-not-at-top
  bert_config.BertConfig.from_json_file(world["config_extra"])
  vocab = _write(str(tmp_path / "vocab.txt"), "\n".join(VOCAB) + "\n\n")
  tokenization.FullTokenizer(vocab)
  err = capfd.readouterr().err
  assert "warning: %s: unknown key(s) 'note' ignored" % world["config_extra"] in err
  assert "warning: vocab file %s: its last line (%d) is blank" % (vocab, len(VOCAB) + 1) in err


# ----------------------------------------------------------------------------------------------------------------
# Cases of a real process: exit status of the script, signals, a full disk (RLIMIT_FSIZE, as `ulimit -f`).


def _env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT, PYTHONDONTWRITEBYTECODE="1")


def _file_size_limit(nbytes):
  def limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
  return limit


ProcessCase = collections.namedtuple("ProcessCase", ["tool", "cls", "name", "args", "code", "fragments", "limit",
                                                     "allowed"])

PROCESS_CASES = [
    ProcessCase("create_pretraining_data", 3, "flag_parse_exit_2", CPD + ["--dupe_factor=abc"], 2,
                ["dupe_factor", "abc"], None, ()),
    ProcessCase("create_pretraining_data", 3, "missing_required_flag", _without(CPD, "--input_file"), 2,
                ["input_file"], None, ()),
    ProcessCase("create_pretraining_data", 5, "full_disk", _with(CPD, "--dupe_factor=3"), 2,
                ["x.tfrecord", "File too large"], 32 << 10, ()),
    ProcessCase("build_vocab", 5, "full_disk", BV, 2, ["vocab.txt", "File too large"], 2 << 10, ()),
    ProcessCase("prepare_corpus", 5, "full_disk", PC, 2, ["--output_dir", "File too large"], 256, ()),
    ProcessCase("convert_checkpoint", 5, "full_disk", ["tf_to_hf", "--init_checkpoint={ckpt}",
                                                       "--output_dir={out}/hf"], 2,
                ["hf", "File too large"], 32 << 10, ()),
    ProcessCase("extract_features", 5, "full_disk", EF, 2, ["features.jsonl", "File too large"], 16 << 10, ()),
    ProcessCase("run_pretraining", 5, "full_disk", RP, 2, ["--output_dir", "File too large"], 256 << 10,
                RUN_DIR + ("run/training_state.json", "run/checkpoint")),
    ProcessCase("run_pretraining", 3, "misspelt_flag_exit_2", RP + ["--num_train_step=3"], 2, ["num_train_step"],
                None, ()),
]


@pytest.mark.parametrize("row", PROCESS_CASES, ids=["%s-%d-%s" % (c.tool, c.cls, c.name) for c in PROCESS_CASES])
def test_bad_input_in_a_process(row, world, tmp_path):
  out = str(tmp_path)
  before_world = _snapshot(world["root"])
  proc = subprocess.run([sys.executable, row.tool + ".py"] + _fill(row.args, world, out, ""), cwd=ROOT, env=_env(),
                        capture_output=True, text=True, timeout=240,
                        preexec_fn=_file_size_limit(row.limit) if row.limit else None)
  assert proc.returncode == row.code, proc.stderr[-3000:]
  line = _error_line(proc.stderr)
  for fragment in row.fragments:
    assert fragment in line, line
  _assert_nothing_left(out, {}, row.allowed)
  assert _snapshot(world["root"]) == before_world


def _start(args, tool, **kwargs):
  proc = subprocess.Popen([sys.executable, tool + ".py"] + args, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kwargs)
  lines = []

  def pump():
    for line in proc.stderr:
      lines.append(line)

  thread = threading.Thread(target=pump, daemon=True)
  thread.start()
  return proc, lines, thread


def _wait_for(predicate, proc, timeout=180):
  deadline = time.time() + timeout
  while not predicate():
    assert proc.poll() is None, "the process ended before the signal could be sent"
    assert time.time() < deadline, "timed out"
    time.sleep(0.01)


def _finish(proc, lines, thread):
  proc.wait(timeout=120)
  thread.join(timeout=10)
  return "".join(lines)


def _interrupt_line(stderr, name):
  assert "Traceback" not in stderr, stderr[-3000:]
  last = [line for line in stderr.splitlines() if line.strip()][-1]
  assert last == "interrupted by %s: stopped; temporary files removed" % name, stderr[-3000:]


def test_sigterm_during_create_pretraining_data_removes_its_temporary_outputs(world, tmp_path):
  """With --num_workers=2 the output files are open while the workers run: SIGTERM leaves none of them."""
  inputs = []
  for i in range(4):
    inputs.append(str(tmp_path / ("in-%d.txt" % i)))
    shutil.copyfile(world["text"], inputs[-1])
  out = str(tmp_path / "out")
  args = _fill(_with(CPD, "--input_file=" + ",".join(inputs), "--output_file={out}/a.tfrecord,{out}/b.tfrecord",
                     "--num_workers=2", "--dupe_factor=40"), world, out, "")
  proc, lines, thread = _start(args, "create_pretraining_data")
  _wait_for(lambda: os.path.isdir(out) and _temp_leftovers(out), proc)
  time.sleep(0.3)
  proc.send_signal(signal.SIGTERM)
  stderr = _finish(proc, lines, thread)
  assert proc.returncode == 143, stderr[-3000:]
  _interrupt_line(stderr, "SIGTERM")
  assert os.listdir(out) == []


def test_sigint_during_create_pretraining_data(world, tmp_path):
  big = str(tmp_path / "big.txt")
  with open(big, "w") as f:
    for _ in range(30):
      f.write(open(world["text"]).read() + "\n")
  out = str(tmp_path / "out")
  args = _fill(_with(CPD, "--input_file=" + big, "--output_file={out}/a.tfrecord", "--dupe_factor=20"), world, out,
               "")
  proc, lines, thread = _start(args, "create_pretraining_data")
  _wait_for(lambda: any("Reading from input files" in line for line in lines), proc)
  proc.send_signal(signal.SIGINT)
  stderr = _finish(proc, lines, thread)
  assert proc.returncode == 130, stderr[-3000:]
  _interrupt_line(stderr, "SIGINT")
  assert not os.path.exists(out) or os.listdir(out) == []


def test_sigterm_during_training(world, tmp_path):
  out = str(tmp_path / "run")
  args = _fill(_with(RP, "--output_dir=" + out, "--num_train_steps=100000", "--save_checkpoints_steps=1"),
               world, out, "")
  proc, lines, thread = _start(args, "run_pretraining")
  _wait_for(lambda: os.path.exists(os.path.join(out, "model.ckpt-3.index")), proc)
  proc.send_signal(signal.SIGTERM)
  stderr = _finish(proc, lines, thread)
  assert proc.returncode == 143, stderr[-3000:]
  _interrupt_line(stderr, "SIGTERM")
  assert _temp_leftovers(out) == []


# ----------------------------------------------------------------------------------------------------------------
# Class 1: resuming picks the newest intact checkpoint and ends with the weights of an uninterrupted run.

STEPS = 8


def _resume_args(world, out):
  return _fill(_with(RP, "--output_dir=" + out, "--num_train_steps=%d" % STEPS, "--save_checkpoints_steps=2",
                     "--num_warmup_steps=2", "--learning_rate=1e-3", "--save_summary_steps=4"), world, out, "")


@pytest.fixture(scope="module")
def uninterrupted(world, tmp_path_factory):
  """An uninterrupted run to STEPS: its folder and its final checkpoint's tensors."""
  out = str(tmp_path_factory.mktemp("uninterrupted") / "run")
  with pytest.MonkeyPatch.context() as monkeypatch:
    assert run_tool("run_pretraining", _resume_args(world, out), monkeypatch) == 0
  return out, read_checkpoint(os.path.join(out, "model.ckpt-%d" % STEPS))


def _assert_same_final_weights(out, reference):
  final = read_checkpoint(os.path.join(out, "model.ckpt-%d" % STEPS))
  assert sorted(final) == sorted(reference)
  for name in reference:
    np.testing.assert_array_equal(final[name], reference[name], err_msg=name)


def _checkpoint_bytes(out, step):
  return {p: open(p, "rb").read() for p in tf.io.gfile.glob(os.path.join(out, "model.ckpt-%d.*" % step))}


@pytest.mark.parametrize("damage", ["deleted", "truncated_data", "truncated_index"])
def test_resume_passes_over_a_broken_latest_checkpoint(damage, world, uninterrupted, tmp_path, monkeypatch, caplog):
  reference_dir, reference = uninterrupted
  out = str(tmp_path / "run")
  shutil.copytree(reference_dir, out)
  latest = os.path.join(out, "model.ckpt-%d" % STEPS)
  if damage == "deleted":  # deleted while `checkpoint` still names it
    for path in tf.io.gfile.glob(latest + ".*"):
      os.remove(path)
  elif damage == "truncated_data":
    _truncate(latest + ".data-00000-of-00001", 0.5)
  else:
    _truncate(latest + ".index", 0.5)
  # What a kill leaves: TensorFlow's 0-byte temporary bundle files, a hidden partial folder of a dead writer.
  open(latest + ".index.tempstate1234567", "wb").close()
  open(latest + ".data-00000-of-00001.tempstate7654321", "wb").close()
  os.makedirs(os.path.join(out, ".eval_results.txt.partial-99999999-abc"))
  older = {step: _checkpoint_bytes(out, step) for step in (2, 4, 6)}
  caplog.set_level("INFO")
  assert run_tool("run_pretraining", _resume_args(world, out), monkeypatch) == 0
  err = caplog.text
  choice = [line for line in err.splitlines() if "Resuming from" in line]
  assert len(choice) == 1, err[-3000:]
  assert "Resuming from model.ckpt-6 (global step 6), the newest intact checkpoint" in choice[0]
  assert ("is named by the `checkpoint` file but missing" if damage == "deleted" else "cannot be read") in choice[0]
  assert "Training from global step 6 to %d" % STEPS in err
  assert "Training from global step 0" not in err
  _assert_same_final_weights(out, reference)
  for step, files in older.items():  # never overwritten
    assert _checkpoint_bytes(out, step) == files
  assert _temp_leftovers(out) == []
  if damage != "deleted":
    assert os.path.exists(latest + (".index" if damage == "truncated_index" else ".data-00000-of-00001") +
                          ".corrupt")


def test_no_intact_checkpoint_is_an_error_not_a_fresh_start(world, uninterrupted, tmp_path, monkeypatch, capfd):
  reference_dir, _ = uninterrupted
  out = str(tmp_path / "run")
  shutil.copytree(reference_dir, out)
  for path in tf.io.gfile.glob(os.path.join(out, "*.data-00000-of-00001")):
    _truncate(path, 0.3)
  before = _snapshot(out)
  capfd.readouterr()
  assert run_tool("run_pretraining", _resume_args(world, out), monkeypatch) == 2
  line = _error_line(capfd.readouterr().err)
  assert "holds checkpoints but none is intact" in line and "model.ckpt-8 cannot be read" in line
  assert _snapshot(out) == before


def _saving(out):
  """Names of TensorFlow's temporary bundle files in `out`: a checkpoint is being written."""
  try:
    return [n for n in os.listdir(out) if ".tempstate" in n]
  except FileNotFoundError:
    return []


def test_kill_while_a_checkpoint_is_written_then_resume(world, uninterrupted, tmp_path, monkeypatch, caplog):
  """kill -9 while TensorFlow writes a checkpoint's files; the rerun resumes from the one before and ends equal."""
  _, reference = uninterrupted
  out = str(tmp_path / "run")
  caught = None
  for _ in range(3):
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "run_pretraining.py"] + _resume_args(world, out), cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
      deadline = time.time() + 180
      first = os.path.join(out, "model.ckpt-2.index")
      while proc.poll() is None and time.time() < deadline:
        if _saving(out) and os.path.exists(first):
          proc.send_signal(signal.SIGSTOP)  # freeze it mid-write, if the write is still going on
          if _saving(out) and not os.path.exists(os.path.join(out, "model.ckpt-%d.index" % STEPS)):
            caught = _saving(out)
            proc.kill()
            break
          proc.send_signal(signal.SIGCONT)
    finally:
      proc.kill()
      proc.wait()
    if caught:
      break
  assert caught, "the run was never caught writing a checkpoint"
  caplog.set_level("INFO")
  assert run_tool("run_pretraining", _resume_args(world, out), monkeypatch) == 0
  err = caplog.text
  assert "Removed" in err and "temporary file(s) an interrupted run left" in err
  assert "Training from global step 0 " not in err
  assert re.search(r"Resuming from model\.ckpt-[2-6] ", err), err[-3000:]
  _assert_same_final_weights(out, reference)
  assert _temp_leftovers(out) == []
