# coding=utf-8
"""Tests for biocodes/conlleval.py.

Reference: the CoNLL-2000 `conlleval.pl` (version 2004-01-26) that BioBERT ships as biocodes/conlleval.pl. Where
the environment variable CONLLEVAL_PL names that script, every case runs through Perl as well and the two must
agree byte for byte on stdout, stderr and exit code. Without it, the same cases are checked against outputs the
script produced once (tests/fixtures/conlleval/, written by tests/fixtures/make_conlleval_reference.py).

The cases: hand-made edge cases (one per rule of the script), 1,000 files from a seeded random generator, and
files built from the real NER test sets (gold tags plus perturbed predictions, in BioBERT's
`word gold-MISC pred-MISC` form).
"""

import concurrent.futures
import functools
import hashlib
import io
import json
import os
import random
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIOCODES = os.path.join(ROOT, "biocodes")
if BIOCODES not in sys.path:
  sys.path.insert(0, BIOCODES)

import conlleval  # pylint: disable=g-import-not-at-top,wrong-import-position

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "conlleval")
SHARED_NER = os.path.join(ROOT, "..", "shared", "data", "NER")
PERL_SCRIPT = os.environ.get("CONLLEVAL_PL")
# The program name the stored outputs were produced under (Perl writes it into some messages).
FIXTURE_PROG = "conlleval.pl"

NUM_RANDOM_CASES = 1000
RANDOM_SEED = 20040126
# Random cases whose complete expected output is stored, not only its digest.
EXACT_RANDOM_CASES = (0, 1, 2, 3, 7, 42, 99, 500, 998, 999)
NER_SETS = ("BC2GM", "BC5CDR-chem", "BC5CDR-disease", "JNLPBA", "NCBI-disease", "linnaeus", "s800")

needs_perl = pytest.mark.skipif(not PERL_SCRIPT, reason="CONLLEVAL_PL does not name the reference conlleval.pl")


# ---------------------------------------------------------------------------------------------------------------
# Cases, shared with tests/fixtures/make_conlleval_reference.py.

def _lines(*lines):
  return "".join(line + "\n" for line in lines).encode("utf-8")


SENTENCES = _lines(
    "Physical O O", "mapping O O", "of O O", "the B-GENE B-GENE", "BRCA1 I-GENE I-GENE", "gene I-GENE O", "", "and O O",
    "p53 B-GENE B-GENE", "binds O O", "Mdm2 B-GENE I-GENE", ". O O", "")

# (name, arguments, stdin bytes). Each case names the rule it exercises.
HAND_MADE_CASES = [
    ("empty_input", [], b""),
    ("empty_input_latex", ["-l"], b""),
    ("only_blank_lines", [], b"\n\n\n"),
    ("two_sentences", [], SENTENCES),
    ("two_sentences_latex", ["-l"], SENTENCES),
    ("i_without_b", [], _lines("a I-PER I-PER", "b I-PER O", "c O I-PER", "d I-LOC I-LOC", "e I-LOC B-LOC")),
    ("type_change_inside_chunk", [], _lines("a B-PER B-PER", "b I-LOC I-PER", "c I-LOC I-LOC", "d B-PER B-LOC",
                                            "e I-PER I-LOC")),
    ("same_type_b_after_b", [], _lines("a B-X B-X", "b B-X I-X", "c I-X B-X", "d O O")),
    ("docstart_lines", [], _lines("-X- O O", "a B-X B-X", "-X- O O", "b I-X I-X", "", "-X- B-X I-X", "c I-X I-X")),
    ("chunk_across_blank_line", [], _lines("a B-X B-X", "", "b I-X I-X", "c I-X O")),
    ("boundary_line_wrong_count", [], _lines("a B-X B-X", "-X-", "b O O")),
    ("first_line_single_boundary", [], _lines("-X-", "a B-X B-X")),
    ("single_boundary_only", [], _lines("-X-", "-X-", "")),
    ("raw_tags", ["-r"], _lines("a PER PER", "b PER O", "c O LOC", "d LOC LOC", "e LOC LOC")),
    ("raw_tags_o_tag", ["-r", "-o", "NONE"], _lines("a PER NONE", "b NONE NONE", "c O O", "d NONE PER", "e O PER")),
    ("o_tag_without_raw", ["-o", "NONE"], _lines("a B-X NONE", "b NONE NONE", "c O O")),
    ("raw_latex", ["-l", "-r"], _lines("a PER PER", "b PER O", "c O LOC")),
    ("options_repeated", ["-r", "-r", "-l", "-l", "-o", "N", "-o", "NONE"], _lines("a PER NONE", "b NONE PER")),
    ("delimiter_tab_regex", ["-d", "\\t"], b"New York\tB-LOC\tB-LOC\ncity\tO\tO\nSan Jose\tB-LOC\tB-PER\n"),
    ("delimiter_literal_tab", ["-d", "\t"], b"New York\tB-LOC\tB-LOC\ncity\tO\tO\n"),
    ("delimiter_whitespace_run", ["-d", "\\s+"], b"a   B-X\tB-X\nb \t I-X  O\n  c O O\n"),
    ("delimiter_class", ["-d", "[,;]"], b"a,B-X;B-X\nb;I-X,I-X\n"),
    ("delimiter_two_spaces", ["-d", "  "], b"a b  B-X  B-X\nc d  O  O\n"),
    ("delimiter_explicit_space", ["-d", " "], _lines("a B-X B-X", "b O O")),
    ("delimiter_alternation_empty", ["-d", "|"], b"aBB\nbOO\n"),
    ("delimiter_empty_string", ["-d", ""], b"xBB\nyBO\n\nzOB\n"),
    ("delimiter_dot_all_boundaries", ["-d", "."], _lines("a B-X B-X", "b O O")),
    ("delimiter_capture_group", ["-d", "( )"], _lines("a B-X B-X", "b I-X O")),
    ("delimiter_optional_empty_match", ["-d", " *"], b"ab B-X  B-X\n"),
    ("delimiter_perl_escape_h", ["-d", "\\h+"], b"a \tB-X\xa0B-X\nb O O\n"),
    ("delimiter_posix_class", ["-d", "[[:space:]]+"], b"a\tB-X  B-X\nb O\x0bO\n"),
    ("delimiter_bad_regex", ["-d", "("], _lines("a B-X B-X")),
    ("delimiter_bad_regex_no_input", ["-d", "("], b""),
    ("delimiter_bad_regex_unmatched_close", ["-d", "a)b"], _lines("a B-X B-X")),
    ("delimiter_bad_regex_quantifier", ["-d", "*"], _lines("a B-X B-X")),
    ("delimiter_bad_regex_trailing_backslash", ["-d", "\\"], _lines("a B-X B-X")),
    ("delimiter_bad_regex_bracket", ["-d", "a[b"], _lines("a B-X B-X")),
    ("delimiter_bad_regex_range", ["-d", "[z-a]"], b"\n" + _lines("a B-X B-X")),
    ("latex_many_types", ["-l"], _lines("a B-PER B-PER", "b B-LOC B-PER", "c B-VeryLongTypeName B-VeryLongTypeName",
                                        "d O B-X", "e B O")),
    ("too_few_fields_first_line", [], _lines("a")),
    ("too_few_fields_zero", [], _lines("0")),
    ("too_few_fields_later", [], _lines("a B-X B-X", "b")),
    ("varying_columns", [], _lines("a x B-X B-X", "b B-X B-X")),
    ("varying_columns_after_blank_start", [], _lines("", "", "a B-X B-X", "b c B-X B-X")),
    ("varying_columns_double_space", [], b"a B-X B-X\nb  O O\n"),
    ("two_fields_warns", [], _lines("B-X B-X", "I-X O", "", "O B-Y")),
    ("two_fields_raw", ["-r"], _lines("X X", "O X")),
    ("many_columns", [], _lines("a NN NP x B-X B-X", "b NN NP y I-X I-X", "c VB VP z O O")),
    ("iobes_tags", [], _lines("a B-X B-X", "b E-X E-X", "c S-X S-X", "d S-X B-X", "e E-Y E-Y", "f I-Y I-Y",
                              "g E-Y E-Y", "h E-Y I-Y", "i O E-Y", "j S-Y S-Y")),
    ("bracket_tags", [], _lines("a [-NP [-NP", "b ]-NP ]-NP", "c [-NP I-NP", "d ]-NP ]-NP", "e .-NP .-NP",
                                "f I-NP ]-NP", "g . .", "h [ [")),
    ("untyped_tags_both_sides", [], _lines("a B B", "b I I", "c O B", "d B O")),
    ("untyped_tags_gold_only", [], _lines("a B B-X", "b I I-X")),
    ("zero_type", [], _lines("a B-0 B-0", "b I-0 B-X", "c B-00 B-00")),
    ("hyphenated_types", [], _lines("a B-A-B B-A-B", "b I-A-B I-A-C", "c B-A- B-A-")),
    ("biobert_o_misc", [], _lines("a B-MISC B-MISC", "b I-MISC O-MISC", "c O-MISC O-MISC", "d B-MISC I-MISC",
                                  "", "e O-MISC B-MISC")),
    ("percent_in_type", [], _lines("a B-50% B-50%", "b B-%d%s B-%d%s")),
    ("long_type_name", [], _lines("a B-AVeryVeryLongTypeName B-AVeryVeryLongTypeName")),
    ("non_ascii_utf8", [], _lines("Gène B-Gène B-Gène", "α I-Gène I-Gène", "βeta B-Protéine O", "中文 O B-中文")),
    ("non_ascii_latin1_and_nul", [], b"caf\xe9 B-T\xe9 B-T\xe9\nx\x00y O O\n\xff\xfe B-\xff O\n"),
    ("crlf_lines", [], b"a B-X B-X\r\nb I-X I-X\r\nc O O\r\n"),
    ("crlf_blank_line", [], b"a B-X B-X\r\n\r\nb B-X B-X\r\n"),
    ("crlf_first_line_blank", [], b"\r\na B-X B-X\r\n"),
    ("cr_only", [], b"a B-X B-X\rb O O\r"),
    ("no_final_newline", [], b"a B-X B-X\nb I-X I-X"),
    ("leading_space", [], b" a B-X B-X\nb B-X B-X\n"),
    ("leading_space_everywhere", [], b" a B-X B-X\n b I-X O\n"),
    ("trailing_spaces", [], b"a B-X B-X   \nb O O\n"),
    ("whitespace_only_line", [], b"a B-X B-X\n   \nb I-X I-X\n"),
    ("tab_inside_field", [], b"a\tB-X B-X\nb\tO O\n"),
    ("rounding", [], _lines(*(["w B-X B-X"] * 1 + ["w B-X O"] * 2 + ["w O B-X"] * 5 + ["w B-Y B-Y"] * 7 +
                              ["w B-Y O"] * 1 + ["w O O"] * 3))),
    ("arg_unknown", ["-x"], _lines("a B-X B-X")),
    ("arg_single_dash", ["-"], _lines("a B-X B-X")),
    ("arg_double_dash", ["--"], _lines("a B-X B-X")),
    ("arg_joined_value", ["-dX"], _lines("a B-X B-X")),
    ("arg_file_path", ["input.txt"], _lines("a B-X B-X")),
    ("arg_option_after_file", ["input.txt", "-l"], _lines("a B-X B-X")),
    ("arg_d_without_value", ["-d"], _lines("a B-X B-X")),
    ("arg_o_without_value", ["-r", "-o"], _lines("a B-X B-X")),
    ("arg_d_value_looks_like_option", ["-d", "-l"], b"a-lB-X-lB-X\n"),
]

_WORDS = ("the", "BRCA1", "gene", "p53", "of", "-", ",", ".", "0", "%", "a-b", "Gène", "α", "IL-2", "x")
_TYPES = ("PER", "LOC", "MISC", "GENE", "A-B", "0", "", "é")


def _random_tag(rng, types, prev_type):
  r = rng.random()
  if r < 0.45:
    return "O"
  type_ = prev_type if prev_type is not None and rng.random() < 0.6 else rng.choice(types)
  r = rng.random()
  if r < 0.02:
    prefix = rng.choice(("[", "]", ".", "X"))
  elif r < 0.05:
    return rng.choice(("B", "I", "E"))  # an untyped tag
  else:
    prefix = rng.choice(("B", "B", "I", "I", "I", "E", "S"))
  return prefix + "-" + type_


def random_case(index):
  """(arguments, stdin bytes) of random case `index`; the same on every machine and Python version."""
  rng = random.Random(RANDOM_SEED * 100003 + index)
  args = []
  raw = rng.random() < 0.1
  o_tag = "O"
  if raw:
    args.append("-r")
    if rng.random() < 0.4:
      o_tag = rng.choice(("NONE", "OUT", "-"))
      args += ["-o", o_tag]
  if rng.random() < 0.1:
    args.append("-l")
  sep_choices = (" ",)
  r = rng.random()
  if r < 0.05:
    args += ["-d", "\\t"]
    sep_choices = ("\t",)
  elif r < 0.08:
    args += ["-d", "\\s+"]
    sep_choices = (" ", "  ", "\t", " \t")
  elif r < 0.10:
    args += ["-d", ","]
    sep_choices = (",",)
  elif r < 0.11:
    args += ["-d", rng.choice(("", "|", "[ ,]"))]
    sep_choices = (" ", ",")
  types = rng.sample(_TYPES, rng.randint(1, 4))
  n_cols = rng.choice((2, 3, 3, 3, 3, 4, 5))
  eol = "\r\n" if rng.random() < 0.05 else "\n"
  p_bad_cols = 0.02 if rng.random() < 0.2 else 0.0
  lines = []
  prev_type = None
  for _ in range(rng.randint(0, 60)):
    r = rng.random()
    if r < 0.1:
      lines.append(rng.choice(("", "", "", " ")))
      prev_type = None
      continue
    if r < 0.13:
      fields = ["-X-"] + ["O"] * (n_cols - 1)
      if rng.random() < 0.3:
        fields[-1] = rng.choice(("B-PER", "I-LOC"))
    else:
      if raw:
        raw_types = [t for t in types if t] or ["PER"]
        gold = rng.choice(raw_types + [o_tag, o_tag, "O"])
        guess = gold if rng.random() < 0.75 else rng.choice(raw_types + [o_tag, "O"])
      else:
        gold = _random_tag(rng, types, prev_type)
        guess = gold if rng.random() < 0.75 else _random_tag(rng, types, prev_type)
        prev_type = gold.partition("-")[2] or None
      fields = [rng.choice(_WORDS) for _ in range(n_cols - 2)] + [gold, guess]
    if rng.random() < p_bad_cols:
      if len(fields) > 1 and rng.random() < 0.5:
        fields.pop(0)
      else:
        fields.insert(0, rng.choice(_WORDS))
    lines.append(rng.choice(sep_choices).join(fields))
  text = eol.join(lines)
  if lines and rng.random() < 0.9:
    text += eol
  return args, text.encode("utf-8")


NER_MAX_LINES = 50000


@functools.lru_cache(maxsize=None)
def ner_case(name, path):
  """BioBERT's detokenized NER output for a real test set: gold labels and seeded, perturbed predictions.

  Sets longer than NER_MAX_LINES lines are cut at the first sentence end past that, to keep the tests quick.
  """
  rng = random.Random("conlleval-ner-" + name)
  out = []
  with open(path, "rb") as f:
    for line in f:
      line = line.rstrip(b"\n")
      if not line:
        out.append(b"\n")
        if len(out) >= NER_MAX_LINES:
          break
        continue
      word, gold = line.split(b"\t")
      pred = gold
      if rng.random() < 0.03:
        pred = rng.choice((b"B", b"I", b"O"))
      out.append(b"%s %s-MISC %s-MISC\n" % (word, gold, pred))
  return b"".join(out)


def ner_paths():
  return [(name, os.path.join(SHARED_NER, name, "test.tsv")) for name in NER_SETS
          if os.path.isfile(os.path.join(SHARED_NER, name, "test.tsv"))]


def outcome_digest(stdout, stderr, returncode):
  return hashlib.sha256(stdout + b"\0" + stderr + b"\0" + str(returncode).encode("ascii")).hexdigest()


def input_digest(args, data):
  return hashlib.sha256(json.dumps(args).encode("utf-8") + b"\0" + data).hexdigest()


def run_perl(script, args, data, cwd=None):
  """(stdout, stderr, exit code) of `perl script args < data`."""
  proc = subprocess.run(["perl", script] + args, input=data, capture_output=True, cwd=cwd, check=False)
  return proc.stdout, proc.stderr, proc.returncode


def run_perl_many(script, cases, cwd=None):
  """run_perl over a list of (args, data), several processes at a time (Perl's start-up dominates)."""
  with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, os.cpu_count() or 1)) as pool:
    return list(pool.map(lambda case: run_perl(script, case[0], case[1], cwd=cwd), cases))


def run_ours(prog, args, data):
  """(stdout, stderr, exit code) of conlleval.main run in-process on `data`, under program name `prog`."""
  stdout, stderr = io.BytesIO(), io.BytesIO()
  code = conlleval.main([prog] + args, io.BytesIO(data), stdout, stderr)
  return stdout.getvalue(), stderr.getvalue(), code


def _as_json(outcome):
  stdout, stderr, code = outcome
  return {"stdout": stdout.decode("latin-1"), "stderr": stderr.decode("latin-1"), "exit_code": code}


def _from_json(entry):
  return entry["stdout"].encode("latin-1"), entry["stderr"].encode("latin-1"), entry["exit_code"]


def _load_fixture(name):
  with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
    return json.load(f)


def _explain(name, ours, expected):
  labels = ("stdout", "stderr", "exit code")
  for label, a, b in zip(labels, ours, expected):
    if a != b:
      return "%s: %s differs\n  ours:     %r\n  expected: %r" % (name, label, a, b)
  return "%s: equal" % name


# ---------------------------------------------------------------------------------------------------------------
# Hand-made cases.

CASE_IDS = [case[0] for case in HAND_MADE_CASES]


def test_case_names_are_unique():
  assert len(set(CASE_IDS)) == len(CASE_IDS)


@needs_perl
@pytest.mark.parametrize("name,args,data", HAND_MADE_CASES, ids=CASE_IDS)
def test_hand_made_case_live(name, args, data):
  expected = run_perl(PERL_SCRIPT, args, data)
  ours = run_ours(PERL_SCRIPT, args, data)
  assert ours == expected, _explain(name, ours, expected)


@pytest.mark.parametrize("name,args,data", HAND_MADE_CASES, ids=CASE_IDS)
def test_hand_made_case_stored(name, args, data):
  stored = _load_fixture("hand_made.json")
  assert name in stored, "fixture lacks %s: rerun tests/fixtures/make_conlleval_reference.py" % name
  entry = stored[name]
  assert entry["input_sha256"] == input_digest(args, data), "case %s changed: regenerate the fixtures" % name
  expected = _from_json(entry)
  ours = run_ours(FIXTURE_PROG, args, data)
  assert ours == expected, _explain(name, ours, expected)


def test_hand_made_cases_cover_every_outcome():
  # The cases exercise all three exit codes and both kinds of Perl-located message.
  stored = _load_fixture("hand_made.json")
  codes = {entry["exit_code"] for entry in stored.values()}
  assert codes == {0, 1, 255}
  stderr = "".join(entry["stderr"] for entry in stored.values())
  assert "Use of uninitialized value $firstItem in string eq at conlleval.pl line 130, <STDIN> line 1." in stderr
  assert "conlleval: -d requires delimiter character at conlleval.pl line 69." in stderr


# ---------------------------------------------------------------------------------------------------------------
# Random cases.

@needs_perl
def test_random_cases_live():
  cases = [random_case(index) for index in range(NUM_RANDOM_CASES)]
  mismatches = []
  for index, ((args, data), expected) in enumerate(zip(cases, run_perl_many(PERL_SCRIPT, cases))):
    ours = run_ours(PERL_SCRIPT, args, data)
    if ours != expected:
      mismatches.append(_explain("random case %d %r" % (index, args), ours, expected))
  assert not mismatches, "%d of %d differ; first: %s" % (len(mismatches), NUM_RANDOM_CASES, mismatches[0])


def test_random_cases_stored():
  stored = _load_fixture("random.json")
  assert stored["num_cases"] == NUM_RANDOM_CASES and stored["seed"] == RANDOM_SEED
  mismatches = []
  for index in range(NUM_RANDOM_CASES):
    args, data = random_case(index)
    ours = run_ours(FIXTURE_PROG, args, data)
    if outcome_digest(*ours) != stored["outcome_sha256"][str(index)]:
      mismatches.append(index)
  assert not mismatches, "%d random cases differ from the stored outputs, first %d" % (len(mismatches), mismatches[0])


@pytest.mark.parametrize("index", EXACT_RANDOM_CASES)
def test_random_case_exact_text(index):
  stored = _load_fixture("random.json")["exact"][str(index)]
  args, data = random_case(index)
  assert stored["input_sha256"] == input_digest(args, data), "random case generator changed: regenerate fixtures"
  expected = _from_json(stored)
  ours = run_ours(FIXTURE_PROG, args, data)
  assert ours == expected, _explain("random case %d" % index, ours, expected)


def test_random_cases_are_varied():
  # The generator reaches every kind of outcome, so the stored digests are not a thousand copies of one path.
  stored = _load_fixture("random.json")
  assert stored["exit_codes"]["0"] >= 500 and stored["exit_codes"]["1"] >= 20
  assert len(set(stored["outcome_sha256"].values())) >= 800
  options = set()
  for index in range(NUM_RANDOM_CASES):
    options.update(a for a in random_case(index)[0] if a.startswith("-"))
  assert options >= {"-r", "-l", "-d", "-o"}


# ---------------------------------------------------------------------------------------------------------------
# Real NER test sets.

def _ner_cases_or_skip():
  cases = ner_paths()
  if not cases:
    pytest.skip("../shared/data/NER/*/test.tsv is absent beside the project root")
  return cases


@needs_perl
def test_ner_sets_live():
  sets = [(name, ner_case(name, path)) for name, path in _ner_cases_or_skip()]
  outcomes = run_perl_many(PERL_SCRIPT, [([], data) for _, data in sets])
  for (name, data), expected in zip(sets, outcomes):
    ours = run_ours(PERL_SCRIPT, [], data)
    assert ours == expected, _explain(name, ours, expected)
    assert expected[2] == 0 and b"accuracy:" in expected[0]


def test_ner_sets_stored():
  stored = _load_fixture("ner.json")
  for name, path in _ner_cases_or_skip():
    if name not in stored:
      continue
    data = ner_case(name, path)
    if hashlib.sha256(data).hexdigest() != stored[name]["input_sha256"]:
      pytest.skip("../shared/data/NER/%s/test.tsv differs from the file the fixtures were made from" % name)
    ours = run_ours(FIXTURE_PROG, [], data)
    assert ours[0].decode("latin-1") == stored[name]["stdout"], name
    assert outcome_digest(*ours) == stored[name]["outcome_sha256"], name


# ---------------------------------------------------------------------------------------------------------------
# The Python interface.

def test_scores_are_the_numbers_the_report_rounds():
  data = SENTENCES + _lines("x B-LOC B-LOC", "y I-LOC B-GENE")
  counts = conlleval.evaluate(data.splitlines(keepends=True))
  result = conlleval.scores(counts)
  assert (counts.token_counter, counts.found_correct, counts.found_guessed, counts.correct_chunk) == (13, 4, 5, 2)
  assert result.overall.precision == 100 * 2 / 5 and result.overall.recall == 100 * 2 / 4
  assert result.accuracy == 100 * 10 / 13
  assert list(result.per_type) == ["GENE", "LOC"]
  lines = conlleval.report(counts).splitlines()
  assert lines[1] == "accuracy: %6.2f%%; precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f" % (
      result.accuracy, result.overall.precision, result.overall.recall, result.overall.f1)
  gene = result.per_type["GENE"]
  assert (gene.found_guessed, gene.found_correct, gene.correct) == (4, 3, 2)
  assert lines[2] == "%17s: precision: %6.2f%%; recall: %6.2f%%; FB1: %6.2f  %d" % (
      "GENE", gene.precision, gene.recall, gene.f1, gene.found_guessed)


def test_evaluate_accepts_str_and_bytes_lines_with_or_without_newlines():
  text = SENTENCES.decode("utf-8")
  reference = conlleval.report(conlleval.evaluate(SENTENCES.splitlines(keepends=True)))
  assert conlleval.report(conlleval.evaluate(text.splitlines())) == reference
  assert conlleval.report(conlleval.evaluate(text.splitlines(keepends=True))) == reference
  assert conlleval.report(conlleval.evaluate(SENTENCES.splitlines())) == reference


def test_scores_without_tokens():
  result = conlleval.scores(conlleval.evaluate([]))
  assert result.accuracy is None and result.overall == conlleval.Score(0.0, 0.0, 0.0, 0, 0, 0)
  assert not result.per_type


def test_evaluate_raises_with_the_original_message_and_exit_code():
  with pytest.raises(conlleval.ConllevalError) as info:
    conlleval.evaluate(["a B-X B-X\n", "b B-X\n"])
  assert info.value.exit_code == 1 and info.value.text() == "unexpected number of features: 2 (3)\n"
  with pytest.raises(conlleval.ConllevalError) as info:
    conlleval.evaluate(["a\n"])
  assert info.value.exit_code == 255
  assert info.value.text() == "conlleval: unexpected number of features in line a\n"
  with pytest.raises(conlleval.ConllevalError) as info:
    conlleval.evaluate(["a B B\n"], delimiter="(")
  assert info.value.text("x.pl") == (
      "Unmatched ( in regex; marked by <-- HERE in m/( <-- HERE / at x.pl line 84, <STDIN> line 1.\n")


def test_evaluate_reports_perl_warnings_through_the_callback():
  seen = []
  conlleval.evaluate(["B-X B-X\n", "\n", "O O\n"], warn=lambda *w: seen.append(w))
  assert seen == [("Use of uninitialized value $firstItem in string eq", 130, 1),
                  ("Use of uninitialized value $firstItem in string ne", 162, 1),
                  ("Use of uninitialized value $firstItem in string eq", 130, 3),
                  ("Use of uninitialized value $firstItem in string ne", 162, 3)]


def test_main_writes_to_text_streams():
  stdout, stderr = io.StringIO(), io.StringIO()
  code = conlleval.main(["conlleval.pl"], io.StringIO(SENTENCES.decode("latin-1")), stdout, stderr)
  assert code == 0 and stderr.getvalue() == ""
  assert stdout.getvalue() == run_ours("conlleval.pl", [], SENTENCES)[0].decode("latin-1")


# ---------------------------------------------------------------------------------------------------------------
# The command line.

SCRIPT = os.path.join("biocodes", "conlleval.py")


def _cli(args, data=None, stdin_path=None):
  if stdin_path is not None:
    with open(stdin_path, "rb") as f:
      proc = subprocess.run([sys.executable, SCRIPT] + args, stdin=f, capture_output=True, cwd=ROOT, check=False)
  else:
    proc = subprocess.run([sys.executable, SCRIPT] + args, input=data, capture_output=True, cwd=ROOT, check=False)
  return proc.stdout, proc.stderr, proc.returncode


def _stored_for_script(name):
  stdout, stderr, code = _from_json(_load_fixture("hand_made.json")[name])
  # Perl names its script in located messages; the Python script names itself the same way.
  stderr = stderr.replace(b" at conlleval.pl line ", b" at " + SCRIPT.encode("ascii") + b" line ")
  return stdout, stderr, code


@pytest.mark.parametrize("name", ["two_sentences", "non_ascii_latin1_and_nul", "two_fields_warns",
                                  "varying_columns", "too_few_fields_later", "arg_d_without_value",
                                  "arg_file_path", "delimiter_tab_regex", "latex_many_types"])
def test_command_line(name, tmp_path):
  _, args, data = HAND_MADE_CASES[CASE_IDS.index(name)]
  expected = _stored_for_script(name)
  assert _cli(args, data=data) == expected, name
  path = tmp_path / "input.txt"
  path.write_bytes(data)
  assert _cli(args, stdin_path=str(path)) == expected, name


def test_command_line_file_argument_is_refused_like_the_original(tmp_path):
  path = tmp_path / "input.txt"
  path.write_bytes(SENTENCES)
  stdout, stderr, code = _cli([str(path)], data=b"")
  assert (stdout, stderr, code) == (b"", b"conlleval: unexpected command line argument\n", 255)


def test_module_does_not_import_tensorflow():
  code = "import sys; sys.path.insert(0, 'biocodes'); import conlleval; print('tensorflow' in sys.modules)"
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, check=True, text=True)
  assert proc.stdout.strip() == "False"


def test_speed_on_a_real_sized_file():
  # 156,000 lines, about the size of the largest NER test set, well within a second or two.
  args, data = [], SENTENCES * 12000
  start = time.time()
  stdout, _, code = run_ours(FIXTURE_PROG, args, data)
  assert code == 0 and stdout.startswith(b"processed 132000 tokens")
  assert time.time() - start < 10
