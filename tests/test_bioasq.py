# coding=utf-8
"""Tests for biocodes/transform_nbset2bioasqform.py and biocodes/bioasq_eval.py.

bioasq_eval's reference is BioASQ's Java evaluator (BioASQ/Evaluation-Measures, dist/BioASQEvaluation.jar, run as
`java -cp BioASQEvaluation.jar evaluation.EvaluatorTask1b -phaseB -e 5 golden system`). Where the environment
variable BIOASQ_EVAL_JAR names that jar (its dist/lib/ beside it) and `java` is on the PATH, every case runs
through the jar as well and the ten numbers must agree to 1e-9. Without it, the cases are checked against the
numbers the jar printed once (tests/fixtures/bioasq_eval/reference.json, written by
tests/fixtures/make_bioasq_reference.py); a digest of each case's files tells when a case changed and the
fixture must be made again.

The cases (CASES below): hand-made ones, one per rule of the evaluator (missing questions, empty answer lists,
golden synonyms, synonyms in submissions, case, whitespace and punctuation variants, more than 5 factoid
candidates, yes/no sets with one class, list answers used up, ...), and seeded random sets of every question type.
"""

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIOCODES = os.path.join(ROOT, "biocodes")
if BIOCODES not in sys.path:
  sys.path.insert(0, BIOCODES)

import bioasq_eval  # pylint: disable=g-import-not-at-top,wrong-import-position
import transform_nbset2bioasqform as transform  # pylint: disable=g-import-not-at-top,wrong-import-position

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "bioasq_eval", "reference.json")
JAR = os.environ.get("BIOASQ_EVAL_JAR")
needs_jar = pytest.mark.skipif(not JAR or not shutil.which("java"),
                               reason="BIOASQ_EVAL_JAR does not name BioASQEvaluation.jar, or java is absent")


def _run(script, *args, cwd=ROOT):
  return subprocess.run([sys.executable, os.path.join("biocodes", script)] + list(args), cwd=cwd,
                        capture_output=True, text=True, timeout=120)


def _qid(n):
  return "%024x" % (0x55031181e9bde69634000000 + n)


# ---------------------------------------------------------------------------------------------------------------
# Cases, shared with tests/fixtures/make_bioasq_reference.py: (name, golden, system, edition).


def _q(n, qtype, exact=None, **extra):
  question = {"id": _qid(n), "type": qtype, "body": "Question %d?" % n}
  if exact is not None:
    question["exact_answer"] = exact
  question.update(extra)
  return question


def _set(*questions):
  return {"questions": list(questions)}


_GOLD_MIXED = _set(
    _q(1, "factoid", [["IL-2", "interleukin 2"]]),
    _q(2, "yesno", "yes"),
    _q(3, "list", [["a"], ["b", "B2"], ["c"]]),
    _q(4, "factoid", [["TNF"], ["tumour necrosis factor"]]),
    _q(5, "summary", ideal_answer="A summary."),
)

HAND_MADE_CASES = [
    ("mixed", _GOLD_MIXED, _set(
        _q(1, "factoid", [["x"], ["Interleukin 2"]]), _q(2, "yesno", "Yes"), _q(3, "list", [["a"], ["b2"], ["z"]]),
        _q(4, "factoid", [["tnf"]]), _q(5, "summary"))),
    ("missing_questions", _GOLD_MIXED, _set(_q(1, "factoid", [["IL-2"]]), _q(3, "list", [["c"]]))),
    ("empty_answer_lists", _GOLD_MIXED, _set(
        _q(1, "factoid", []), _q(2, "yesno", "no"), _q(3, "list", []), _q(4, "factoid", [[]]), _q(5, "summary"))),
    ("no_exact_answer_key", _GOLD_MIXED, _set(_q(1, "factoid"), _q(2, "yesno"), _q(3, "list"), _q(4, "factoid"))),
    ("golden_synonyms", _set(_q(1, "factoid", [["BRCA1", "breast cancer 1", "RNF53"]]),
                             _q(2, "factoid", [["p53", "TP53"]]), _q(3, "factoid", [["EGFR"]])), _set(
        _q(1, "factoid", [["rnf53"], ["brca1"]]), _q(2, "factoid", [["Tp53"]]), _q(3, "factoid", [["HER1"]]))),
    ("synonyms_in_submission_ignored", _set(_q(1, "factoid", [["BRCA1"]]), _q(2, "list", [["a"], ["b"]])), _set(
        _q(1, "factoid", [["wrong", "BRCA1"]]), _q(2, "list", [["x", "a"], ["b", "zzz"]]))),
    ("case_whitespace_punctuation", _set(*[_q(i, "factoid", [["IL-2"]]) for i in range(1, 9)]), _set(
        _q(1, "factoid", [["il-2"]]), _q(2, "factoid", [["IL-2."]]), _q(3, "factoid", [[" IL-2"]]),
        _q(4, "factoid", [["IL 2"]]), _q(5, "factoid", [["IL2"]]), _q(6, "factoid", [["Il-2"]]),
        _q(7, "factoid", [["IL-2 "]]), _q(8, "factoid", [["(IL-2)"]]))),
    ("more_than_five_candidates", _set(_q(1, "factoid", [["right"]]), _q(2, "factoid", [["r2"]])), _set(
        _q(1, "factoid", [["w%d" % i] for i in range(6)] + [["Right"]]),
        _q(2, "factoid", [["w"]] * 11 + [["R2"]]))),
    ("yesno_only_yes", _set(*[_q(i, "yesno", "yes") for i in range(1, 6)]), _set(
        _q(1, "yesno", "yes"), _q(2, "yesno", "YES"), _q(3, "yesno", "no"), _q(4, "yesno", "Yes, it does."),
        _q(5, "yesno", "maybe"))),
    ("yesno_only_no_all_right", _set(*[_q(i, "yesno", "no") for i in range(1, 4)]), _set(
        *[_q(i, "yesno", "No") for i in range(1, 4)])),
    ("yesno_readings", _set(_q(1, "yesno", "no"), _q(2, "yesno", "yes"), _q(3, "yesno", "No."),
                            _q(4, "yesno", "unknown"), _q(5, "yesno", "yes")), _set(
        _q(1, "yesno", "not known"), _q(2, "yesno", "no, yes"), _q(3, "yesno", "NO"), _q(4, "yesno", "perhaps"),
        _q(5, "yesno", "nope"))),
    ("list_used_up", _set(_q(1, "list", [["a", "alpha"], ["b"], ["c"]]), _q(2, "list", [["x"], ["y"]])), _set(
        _q(1, "list", [["a"], ["alpha"], ["A"], ["b"], ["q"]]), _q(2, "list", [["y"], ["x"], ["x"], ["w"]]))),
    ("list_golden_entries_share_a_synonym", _set(_q(1, "list", [["a", "s"], ["b", "s"], ["c"]])), _set(
        _q(1, "list", [["s"], ["s"], ["s"]]))),
    ("list_only_wrong", _set(_q(1, "list", [["a"], ["b"]]), _q(2, "list", [["c"]])), _set(
        _q(1, "list", [["z"]]), _q(2, "list", [["c"], ["d"]]))),
    ("extra_system_questions", _set(_q(1, "factoid", [["a"]]), _q(2, "list", [["b"]])), _set(
        _q(9, "factoid", [["a"]]), _q(1, "factoid", [["a"]]), _q(2, "list", [["b"]]), _q(10, "yesno", "yes"))),
    ("duplicate_ids", _set(_q(1, "list", [["a"], ["b"]]), _q(1, "list", [["a"], ["b"]]), _q(2, "factoid", [["f"]])),
     _set(_q(1, "list", [["a"], ["c"]]), _q(1, "list", [["b"]]), _q(2, "factoid", [["g"]]),
          _q(2, "factoid", [["f"]]))),
    ("unicode", _set(_q(1, "factoid", [["α-synuclein"]]), _q(2, "factoid", [["CAFÉ"]]),
                     _q(3, "list", [["ΣΟΣ"], ["naïve T cells"]]), _q(4, "factoid", [["β2-microglobulin"]])), _set(
        _q(1, "factoid", [["Α-SYNUCLEIN"]]), _q(2, "factoid", [["café"]]),
        _q(3, "list", [["σος"], ["naive T cells"]]), _q(4, "factoid", [["β2-Microglobulin"]]))),
    ("numbers_as_answers", _set(_q(1, "factoid", [["5"]]), _q(2, "factoid", [[12]]), _q(3, "list", [[1.5], ["2"]])),
     _set(_q(1, "factoid", [[5]]), _q(2, "factoid", [["12"]]), _q(3, "list", [["1.5"], [2]]))),
    ("key_order_and_other_fields", _set(
        {"exact_answer": [["x"]], "id": _qid(1), "documents": ["http://www.ncbi.nlm.nih.gov/pubmed/1"],
         "type": "factoid", "snippets": [{"document": "d", "text": "t", "offsetInBeginSection": 0,
                                          "offsetInEndSection": 1, "beginSection": "sections.0",
                                          "endSection": "sections.0"}]},
        {"type": "yesno", "ideal_answer": ["Yes."], "id": _qid(2), "exact_answer": "yes", "concepts": ["c"]}), _set(
        {"id": _qid(1), "ideal_answer": "Dummy", "exact_answer": [["X"]], "type": "factoid"},
        {"exact_answer": "yes", "id": _qid(2)})),
    ("summary_and_unknown_types", _set(_q(1, "summary"), _q(2, "other", [["a"]]), _q(3, "factoid", [["a"]])), _set(
        _q(1, "summary"), _q(2, "other", [["a"]]), _q(3, "factoid", [["b"], ["a"]]))),
    ("biobert_factoid_only", _set(*[_q(i, "factoid", [["ans%d" % i, "syn%d" % i]]) for i in range(13)]), _set(
        *[_q(i, "factoid", [["x"]] * (i % 3) + [["ANS%d" % i]] if i % 4 else [["y"]]) for i in range(13)])),
    ("edition_3_submitted_synonyms", _set(_q(1, "factoid", [["BRCA1"]]), _q(2, "list", [["a"], ["b"]])), _set(
        _q(1, "factoid", [["wrong", "BRCA1"]]), _q(2, "list", [["x", "a"], ["b", "zzz"]])), 3),
    ("edition_9_without_golden_answers", _set(_q(1, "factoid", []), _q(2, "factoid", [["a"]]), _q(3, "yesno", "yes"),
                                              _q(4, "list", [])), _set(
        _q(1, "factoid", [["a"]]), _q(2, "factoid", [["a"]]), _q(3, "yesno", "yes"), _q(4, "list", [["a"]])), 9),
    ("edition_9_missing_questions", _GOLD_MIXED, _set(_q(1, "factoid", [["il-2"]]), _q(3, "list", [["c"]])), 9),
    ("edition_8", _GOLD_MIXED, _set(
        _q(1, "factoid", [["interleukin 2"]]), _q(2, "yesno", "no"), _q(3, "list", [["B"], ["c"]]),
        _q(4, "factoid", [["a"], ["b"], ["TNF"]])), 8),
]

_ANSWERS = ["IL-2", "il-2", "IL-2.", " IL-2", "interleukin 2", "Interleukin-2", "TNF", "tnf", "TNF-α", "tnf-Α",
            "BRCA1", "brca1", "p53", "TP53", "α-synuclein", "Α-synuclein", "café", "CAFÉ", "EGFR", "her1", "HER1",
            "insulin", "Insulin ", "Parkinson's disease", "parkinson disease", "5", "10 mg", "cystic fibrosis"]
_YESNO = ["yes", "no", "Yes", "NO", "Yes, it does.", "not known", "maybe", "No."]
NUM_RANDOM_CASES = 12


def random_case(seed):
  """A golden and a system file of 30 questions of every type, drawn from a seeded generator; with an odd seed
  the system file lacks about 15% of the questions."""
  rng = random.Random(seed)
  golden, system = [], []
  for n in range(30):
    qtype = rng.choice(["factoid", "factoid", "list", "yesno", "summary"])
    if qtype == "yesno":
      gold_answer = rng.choice(["yes", "no"] if seed % 3 else ["yes"])
      answer = rng.choice(_YESNO)
    elif qtype == "summary":
      gold_answer = answer = None
    else:
      gold_answer = [rng.sample(_ANSWERS, rng.randint(1, 3)) for _ in range(rng.randint(1, 4))]
      answer = [rng.sample(_ANSWERS, rng.randint(0, 2)) for _ in range(rng.randint(0, 8))]
    golden.append(_q(n, qtype, gold_answer))
    if rng.random() >= (0.15 if seed % 2 else 0.0):  # odd seeds leave some questions out
      system.append(_q(n, qtype, answer if rng.random() < 0.95 else None))
  rng.shuffle(system)
  return _set(*golden), _set(*system)


def all_cases():
  """[(name, golden, system, edition)]: the hand-made cases, then the random ones."""
  cases = [(c[0], c[1], c[2], c[3] if len(c) > 3 else 5) for c in HAND_MADE_CASES]
  for seed in range(NUM_RANDOM_CASES):
    golden, system = random_case(seed)
    cases.append(("random_%02d" % seed, golden, system, 5))
  return cases


def case_text(obj):
  return json.dumps(obj, indent=1, ensure_ascii=False)


def case_digest(golden, system, edition):
  return hashlib.sha256(("%s\n%s\n%d" % (case_text(golden), case_text(system), edition)).encode("utf-8")).hexdigest()


def write_case(folder, golden, system):
  os.makedirs(folder, exist_ok=True)
  paths = []
  for name, obj in (("golden.json", golden), ("system.json", system)):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as f:
      f.write(case_text(obj))
    paths.append(path)
  return paths


def run_jar(jar, golden_path, system_path, edition):
  """(exit status, stdout, first line of stderr) of the jar on one pair."""
  result = subprocess.run(["java", "-Dfile.encoding=UTF-8", "-cp", jar, "evaluation.EvaluatorTask1b", "-phaseB",
                           "-e", str(edition), golden_path, system_path], capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
  return result.returncode, result.stdout, (result.stderr.splitlines() or [""])[0]


def with_missing_unanswered(golden, system):
  """`system` plus, for each golden question it lacks, that question without an exact answer.

  With -e 5 the jar stops with a NullPointerException on a golden question missing from the system file;
  bioasq_eval scores such a question as submitted without an answer, which is what the jar computes on this file.
  """
  present = set(q.get("id") for q in system["questions"])
  extra = [{"id": q["id"], "type": q.get("type")} for q in golden["questions"] if q["id"] not in present]
  return _set(*(system["questions"] + extra))


def expected_output(jar, folder, golden, system, edition):
  """What the jar prints for a case: {"stdout"} or, where it stops on missing questions, {"jar_error", "stdout"}
  with the stdout of the pair completed by `with_missing_unanswered`."""
  golden_path, system_path = write_case(folder, golden, system)
  code, stdout, error = run_jar(jar, golden_path, system_path, edition)
  if code == 0 and stdout:
    return {"stdout": stdout}
  golden_path, system_path = write_case(folder, golden, with_missing_unanswered(golden, system))
  code, stdout, second_error = run_jar(jar, golden_path, system_path, edition)
  assert code == 0 and stdout, second_error
  return {"jar_error": error, "stdout": stdout}


def _numbers(line):
  return [float(x) for x in line.split()]


def _load_fixture():
  with open(FIXTURE, encoding="utf-8") as f:
    return json.load(f)


# ---------------------------------------------------------------------------------------------------------------
# bioasq_eval.


def test_there_are_enough_cases_and_the_fixture_covers_them():
  cases = all_cases()
  assert len(cases) >= 20
  fixture = _load_fixture()
  for name, golden, system, edition in cases:
    assert name in fixture, "no stored output for case %s: run tests/fixtures/make_bioasq_reference.py" % name
    assert fixture[name]["input_sha256"] == case_digest(golden, system, edition), (
        "case %s changed since its output was stored: run tests/fixtures/make_bioasq_reference.py" % name)


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c[0])
def test_measures_equal_the_official_evaluator_stored(case, tmp_path):
  name, golden, system, edition = case
  expected = _load_fixture()[name]["stdout"]
  golden_path, system_path = write_case(str(tmp_path), golden, system)
  values, _, _ = bioasq_eval.evaluate(golden_path, system_path, edition)
  line = bioasq_eval.format_line(values)
  assert len(_numbers(expected)) == 10
  assert _numbers(line) == pytest.approx(_numbers(expected), abs=1e-9, rel=0)
  assert line == expected  # Java's Double.toString digits as well


@needs_jar
def test_measures_equal_the_official_evaluator_live(tmp_path):
  for name, golden, system, edition in all_cases():
    folder = tmp_path / name
    folder.mkdir()
    expected = expected_output(JAR, str(folder), golden, system, edition)
    assert ("jar_error" in expected) == ("jar_error" in _load_fixture()[name]), name
    golden_path, system_path = write_case(str(folder), golden, system)
    values, _, _ = bioasq_eval.evaluate(golden_path, system_path, edition)
    assert _numbers(bioasq_eval.format_line(values)) == pytest.approx(_numbers(expected["stdout"]), abs=1e-9,
                                                                      rel=0), name


def test_measures_by_hand():
  """The `mixed` case worked out: the fields are in the evaluator's order."""
  values = dict(zip([n for n, _ in bioasq_eval.MEASURES], _numbers(_load_fixture()["mixed"]["stdout"])))
  assert values["yesno_accuracy"] == 1.0  # "Yes" reads as yes
  assert values["factoid_strict_accuracy"] == 0.5  # q4's first answer (tnf) matches, q1's (x) does not
  assert values["factoid_lenient_accuracy"] == 1.0
  assert values["factoid_mrr"] == 0.75  # (1/2 + 1) / 2
  assert values["list_precision"] == pytest.approx(2 / 3)  # a, b2 right; z wrong
  assert values["list_recall"] == pytest.approx(2 / 3)  # c missed
  assert values["yesno_f1_yes"] == 1.0 and values["yesno_f1_no"] == 0.0 and values["yesno_macro_f1"] == 0.5
  more = dict(zip([n for n, _ in bioasq_eval.MEASURES],
                  _numbers(_load_fixture()["more_than_five_candidates"]["stdout"])))
  assert more["factoid_lenient_accuracy"] == 1.0  # candidates beyond the 5th count
  assert more["factoid_mrr"] == pytest.approx((1 / 7 + 1 / 12) / 2)


def test_java_double_format():
  f = bioasq_eval.java_double
  assert [f(x) for x in (0.0, 1.0, 0.5, 1 / 3, 0.394017094017094, 0.001, 5e-4, 1e7, 123.25, 1e-10)] == [
      "0.0", "1.0", "0.5", "0.3333333333333333", "0.394017094017094", "0.001", "5.0E-4", "1.0E7", "123.25",
      "1.0E-10"]


def test_command_line_line_verbose_and_json(tmp_path):
  golden_path, system_path = write_case(str(tmp_path), _GOLD_MIXED, HAND_MADE_CASES[0][2])
  expected = _load_fixture()["mixed"]["stdout"]
  result = _run("bioasq_eval.py", "-phaseB", "-e", "5", golden_path, system_path)
  assert result.returncode == 0 and result.stdout == expected + "\n" and not result.stderr
  result = _run("bioasq_eval.py", golden_path, system_path, "-verbose")
  lines = result.stdout.splitlines()
  assert lines[0] == expected and lines[1] == "YesNo Acc: 1.0" and lines[4] == "Factoid MRR: 0.75"
  assert len(lines) == 11
  result = _run("bioasq_eval.py", "-phaseB", "-e", "5", "--json", golden_path, system_path)
  output = json.loads(result.stdout)
  assert list(output)[:10] == [n for n, _ in bioasq_eval.MEASURES]
  assert _numbers(expected) == [output[n] for n, _ in bioasq_eval.MEASURES]
  assert output["num_questions"] == {"yesno": 1, "factoid": 2, "list": 1}
  # Golden questions without a submission: left out, with a note on stderr.
  _, system_path = write_case(str(tmp_path), _GOLD_MIXED, HAND_MADE_CASES[1][2])
  result = _run("bioasq_eval.py", golden_path, system_path)
  assert result.returncode == 0 and result.stdout == _load_fixture()["missing_questions"]["stdout"] + "\n"
  assert "3 golden question(s)" in result.stderr


def _eval_fails(tmp_path, golden, system, match, *extra):
  golden_path, system_path = write_case(str(tmp_path), golden, system)
  result = _run("bioasq_eval.py", "-phaseB", "-e", "5", golden_path, system_path, *extra)
  assert result.returncode == 2, result.stdout + result.stderr
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], lines
  assert not result.stdout


def test_bad_inputs_are_one_line_errors(tmp_path):
  other = _set(*[dict(q, id=_qid(100 + i)) for i, q in enumerate(_GOLD_MIXED["questions"])])
  _eval_fails(tmp_path / "a", _GOLD_MIXED, other, "answers none of the 5 questions")
  _eval_fails(tmp_path / "b", _GOLD_MIXED, {"answers": []}, "\"questions\" list")
  _eval_fails(tmp_path / "c", _set(_q(1, "factoid", ["IL-2"])), _set(_q(1, "factoid", [["IL-2"]])),
              "list of lists of strings")
  _eval_fails(tmp_path / "d", _set(_q(1, "yesno", "yes")), _set(_q(1, "yesno", [["yes"]])),
              "must be a string")
  _eval_fails(tmp_path / "e", _set(_q(1, "factoid", [["a"]])), _set({"type": "factoid", "exact_answer": [["a"]]}),
              "no \"id\"")
  _eval_fails(tmp_path / "f", _GOLD_MIXED, _GOLD_MIXED, "only phase B", "-phaseA")
  _eval_fails(tmp_path / "g", _GOLD_MIXED, _GOLD_MIXED, "-e 2: supported editions", "-e", "2")
  os.makedirs(str(tmp_path / "h"))
  result = _run("bioasq_eval.py", str(tmp_path / "h" / "missing.json"), str(tmp_path / "h" / "missing.json"))
  assert result.returncode == 2 and result.stderr.startswith("error: golden file ") and "not found" in result.stderr


# ---------------------------------------------------------------------------------------------------------------
# transform_nbset2bioasqform.


def _entry(text, probability):
  return {"text": text, "probability": probability, "start_logit": 1.0, "end_logit": 0.5}


def _transform(tmp_path, nbest, output=None):
  path = tmp_path / "nbest_predictions.json"
  path.write_text(json.dumps(nbest, indent=4) + "\n", encoding="utf-8")
  out = output or tmp_path
  result = _run("transform_nbset2bioasqform.py", "--nbest_path=" + str(path), "--output_path=" + str(out))
  assert result.returncode == 0, result.stderr
  assert not result.stdout and not result.stderr
  return result


def _read_answers(tmp_path):
  plain = (tmp_path / transform.ANSWER_FILE).read_text(encoding="utf-8")
  with_prob = (tmp_path / transform.WITH_PROB_FILE).read_text(encoding="utf-8")
  return plain, with_prob


def test_transform_groups_sums_and_orders(tmp_path):
  a, b = _qid(1), _qid(2)
  nbest = {
      b + "_001": [_entry("TNF", 0.5), _entry("", 0.3), _entry("tnf-α", 0.2)],
      a + "_001": [_entry("IL-2", 0.4), _entry("x" * 101, 0.35), _entry("interleukin", 0.25)],
      a + "_002": [_entry("il-2", 0.3), _entry("empty", 0.3), _entry("x" * 100, 0.1), _entry("Il-2", 0.2)],
      b + "_002": [_entry("empty", 1.0)],
  }
  _transform(tmp_path, nbest)
  plain_text, with_prob_text = _read_answers(tmp_path)
  plain, with_prob = json.loads(plain_text), json.loads(with_prob_text)
  # Questions in order of first appearance; keys in the original's order.
  assert [q["id"] for q in plain["questions"]] == [b, a]
  assert list(plain["questions"][0]) == ["type", "id", "ideal_answer", "exact_answer"]
  assert plain["questions"][0]["type"] == "factoid" and plain["questions"][0]["ideal_answer"] == "Dummy"
  # b: "empty" kept (1.0), "" dropped; a: IL-2 + il-2 + Il-2 summed under the most probable casing; over 100
  # characters dropped, exactly 100 kept.
  assert with_prob["questions"][0]["exact_answer"] == [["empty", 1.0], ["TNF", 0.5], ["tnf-α", 0.2]]
  assert with_prob["questions"][1]["exact_answer"] == [["IL-2", 0.4 + 0.3 + 0.2], ["empty", 0.3],
                                                       ["interleukin", 0.25], ["x" * 100, 0.1]]
  assert plain["questions"][1]["exact_answer"] == [["IL-2"], ["empty"], ["interleukin"], ["x" * 100]]
  # The original's layout: indent 2, ASCII escapes, no final newline.
  assert plain_text == json.dumps(plain, indent=2) and not plain_text.endswith("\n")
  assert "\\u03b1" in with_prob_text and "α" not in with_prob_text


def test_transform_sums_in_descending_order_and_keeps_file_order_on_ties(tmp_path):
  q = _qid(3)
  nbest = {q + "_001": [_entry("A", 0.1), _entry("b", 0.3)],
           q + "_002": [_entry("a", 0.7), _entry("B", 0.3)],
           q + "_003": [_entry("a", 0.2)]}
  _transform(tmp_path, nbest)
  with_prob = json.loads(_read_answers(tmp_path)[1])
  (first, p_a), (second, p_b) = with_prob["questions"][0]["exact_answer"]
  # float64 sums in descending-probability order: (0.7 + 0.2) + 0.1, not 0.1 + 0.7 + 0.2.
  assert first == "a" and p_a == (0.7 + 0.2) + 0.1 and p_a != 0.1 + 0.7 + 0.2
  # Equal probabilities keep the file's order: "b" (snippet 1) is the casing shown.
  assert second == "b" and p_b == 0.6


def test_transform_top_5_and_top_20_and_file_output_path(tmp_path):
  q = _qid(4)
  nbest = {q + "_001": [_entry("t%02d" % i, 1.0 / (i + 2)) for i in range(25)]}
  out = tmp_path / "answers.json"
  _transform(tmp_path, nbest, output=out)
  plain = json.loads(out.read_text())
  with_prob = json.loads((tmp_path / ("answers.json" + transform.WITH_PROB_SUFFIX)).read_text())
  assert plain["questions"][0]["exact_answer"] == [["t%02d" % i] for i in range(5)]
  assert [t for t, _ in with_prob["questions"][0]["exact_answer"]] == ["t%02d" % i for i in range(20)]


def test_transform_bad_inputs(tmp_path):
  path = tmp_path / "nbest_predictions.json"
  path.write_text(json.dumps({"short_id_001": [_entry("a", 1.0)]}))
  result = _run("transform_nbset2bioasqform.py", "--nbest_path=" + str(path), "--output_path=" + str(tmp_path))
  assert result.returncode == 2 and result.stderr.count("\n") == 1
  assert result.stderr.startswith("error: ") and "'short_id_001' is 12 characters long" in result.stderr
  assert not os.path.exists(str(tmp_path / transform.ANSWER_FILE))
  result = _run("transform_nbset2bioasqform.py", "--nbest_path=" + str(tmp_path / "none.json"),
                "--output_path=" + str(tmp_path))
  assert result.returncode == 2 and "No file exists!" in result.stderr and "Traceback" not in result.stderr
  path.write_text(json.dumps({_qid(1) + "_001": [{"text": "a"}]}))
  result = _run("transform_nbset2bioasqform.py", "--nbest_path=" + str(path), "--output_path=" + str(tmp_path))
  assert result.returncode == 2 and "without a text and a probability" in result.stderr


def test_transform_then_evaluate(tmp_path):
  """transform_nbset2bioasqform's output is what bioasq_eval (and the official evaluator) reads."""
  a, b = _qid(1), _qid(2)
  nbest = {a + "_001": [_entry("Interleukin 2", 0.6), _entry("IL-2", 0.4)],
           b + "_001": [_entry("x", 0.9), _entry("TNF", 0.1)]}
  _transform(tmp_path, nbest)
  golden_path = tmp_path / "golden.json"
  golden_path.write_text(json.dumps(_set(_q(1, "factoid", [["IL-2", "interleukin 2"]]),
                                         _q(2, "factoid", [["tnf"]]))))
  result = _run("bioasq_eval.py", "-phaseB", "-e", "5", str(golden_path), str(tmp_path / transform.ANSWER_FILE))
  assert result.returncode == 0, result.stderr
  assert result.stdout == "0.0 0.5 1.0 0.75 0.0 0.0 0.0 0.0 0.0 0.0\n"
