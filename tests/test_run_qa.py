# coding=utf-8
"""Tests of run_qa.py.

  * units with the numbers of the original: windows (n=500, L=384, |q|=20 -> starts 0, 128, 256), max context,
    answer spans (improved to the answer's pieces; a window without the answer trains towards [CLS]), unique ids,
    the n-best filters (question positions, max context, max_answer_length, end before start), the v2 n-best
    holding only the null answer, get_final_text, SQuAD v1.1's exact match and F1;
  * reading: the fixture tests/fixtures/qa/biomedical_squad.json (71 questions on 15 biomedical contexts, some
    longer than max_seq_length, answers occurring more than once, Unicode and U+202F), the original's
    "Could not find answer" skip, bad files as one-line errors;
  * end to end with a tiny BERT through the command line: v2 training and prediction write predictions.json,
    nbest_predictions.json and null_odds.json; a predict-only run from the fine-tuned checkpoint writes the same
    files; a checkpoint without the QA head is an error; run_qa -> transform_nbset2bioasqform -> bioasq_eval
    from the shell.
"""

import collections
import json
import logging as std_logging
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import errors
import modeling
import run_qa
import tokenization
from test_run_pretraining import ROOT, make_init_checkpoint

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "qa", "biomedical_squad.json")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _write_json(path, obj):
  with open(str(path), "w", encoding="utf-8") as f:
    json.dump(obj, f, ensure_ascii=False)
  return str(path)


def _squad(*paragraphs):
  """A SQuAD file of (context, [(id, question, answer text, answer_start)]) paragraphs."""
  return {"data": [{"title": "t", "paragraphs": [
      {"context": context, "qas": [{"id": qid, "question": q, "answers": [{"text": a, "answer_start": s}]}
                                   for qid, q, a, s in qas]} for context, qas in paragraphs]}]}


def _tokenizer(tmp_path, words, lower=True):
  vocab = tmp_path / "vocab.txt"
  vocab.write_text("\n".join(SPECIALS + words) + "\n", encoding="utf-8")
  return tokenization.FullTokenizer(str(vocab), do_lower_case=lower)


# ----------------------------------------------------------------------------------------------------------------
# Windows, answer spans, features.


def test_windows_have_the_originals_numbers():
  spans = run_qa.doc_spans(500, 384, 20, 128)
  assert [(s.start, s.length) for s in spans] == [(0, 361), (128, 361), (256, 244)]
  assert run_qa.doc_spans(361, 384, 20, 128) == [(0, 361)]
  assert run_qa.doc_spans(362, 384, 20, 128) == [(0, 361), (128, 234)]
  assert run_qa.doc_spans(0, 384, 20, 128) == []  # an empty context has no window (and no feature)
  assert run_qa.doc_spans(10, 12, 2, 100) == [(0, 7), (7, 3)]  # stride longer than the window: the window


def test_split_context_and_char_to_word_offset():
  words, offsets = run_qa.split_context(" a\u202fbc\t d/e\n")
  assert words == ["a", "bc", "d/e"]  # "/" is not a separator (BioBERT's replace('/', ' ') had no effect)
  assert offsets == [-1, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
  words, _ = run_qa.split_context("5\u00a0mg")
  assert words == ["5\u00a0mg"]  # NBSP is not one of the original's separators


def test_features_window_positions_and_out_of_span_answers(tmp_path):
  words = "the gene brca1 repairs dna by homologous recombination in human cells".split()
  tokenizer = _tokenizer(tmp_path, words + ["which", "mechanism", "?"])
  context = "The gene BRCA1 repairs DNA by homologous recombination in human cells"
  start = context.index("homologous")
  path = _write_json(tmp_path / "train.json", _squad((context, [("q1", "Which mechanism?", "homologous recombination",
                                                                 start)])))
  examples = run_qa.read_squad_examples(path, is_training=True)
  assert (examples[0].start_position, examples[0].end_position) == (6, 7)
  # max_seq_length 12, question of 3 pieces: windows of 6 pieces, 2 apart: (0,6) (2,6) (4,6) (6,5).
  features = list(run_qa.convert_examples_to_features(examples, tokenizer, 12, 2, 64, is_training=True))
  assert [f.unique_id for f in features] == [1000000000, 1000000001, 1000000002, 1000000003]
  positions = [(f.values["start_positions"][0], f.values["end_positions"][0]) for f in features]
  # Window 0 (pieces 0..5) does not hold pieces 6-7: start = end = 0 ([CLS]); window 1 (2..7) holds them at
  # 6 - 2 + 3 + 2 = 9 and 10, window 2 (4..9) at 7 and 8, window 3 (6..10) at 5 and 6.
  assert positions == [(0, 0), (9, 10), (7, 8), (5, 6)]
  assert features[2].tokens[7:9] == ["homologous", "recombination"]
  assert features[2].tokens[:5] == ["[CLS]", "which", "mechanism", "?", "[SEP]"]
  assert features[0].values["segment_ids"] == [0] * 5 + [1] * 7
  # Each piece is at its max-context window in exactly one window.
  owners = collections.Counter()
  for f in features:
    for position, is_max in f.token_is_max_context.items():
      if is_max:
        owners[f.token_to_orig_map[position]] += 1
  assert sorted(owners) == list(range(len(words))) and set(owners.values()) == {1}
  assert features[1].token_is_max_context[5 + 2] is True  # piece 4: 2 left, 3 right in window 1 (2..7)


def test_improve_answer_span_finds_the_answers_pieces(tmp_path):
  tokenizer = _tokenizer(tmp_path, ["the", "leader", "was", "john", "smith", "(", "1895", "-", "1943", ")", "."])
  pieces = tokenizer.tokenize("The leader was John Smith (1895-1943).")
  start, end = pieces.index("("), len(pieces) - 1
  assert run_qa.improve_answer_span(pieces, start, end, tokenizer, "1895") == (start + 1, start + 1)
  assert run_qa.improve_answer_span(pieces, start, end, tokenizer, "1776") == (start, end)  # kept


def test_could_not_find_answer_is_skipped_with_the_originals_warning(tmp_path, caplog):
  caplog.set_level(std_logging.WARNING)
  context = "IL-2 binds the IL-2 receptor"
  path = _write_json(tmp_path / "train.json", _squad((context, [
      ("q1", "What binds?", "IL-2", 0), ("q2", "Which receptor?", "IL-3 receptor", context.index("IL-2 receptor")),
      ("q3", "Which one?", "IL-2", context.index("IL-2 receptor"))])))
  examples = run_qa.read_squad_examples(path, is_training=True)
  assert [e.qas_id for e in examples] == ["q1", "q3"]
  assert examples[1].start_position == 3  # the second occurrence, where answer_start points
  assert "Could not find answer: 'IL-2 receptor' vs. 'IL-3 receptor'" in caplog.text


def test_reading_the_fixture():
  examples = run_qa.read_squad_examples(FIXTURE, is_training=True)
  assert len(examples) == 71  # none skipped
  for example in examples:
    assert len(example.qas_id) == 28
    words = " ".join(example.doc_tokens[example.start_position:example.end_position + 1])
    assert " ".join(example.orig_answer_text.split()) in words
  with open(FIXTURE, encoding="utf-8") as f:
    data = json.load(f)
  contexts = [p["context"] for d in data["data"] for p in d["paragraphs"]]
  assert len(contexts) == 15 and any("\u202f" in c for c in contexts) and any("α" in c for c in contexts)
  answers = [(p["context"], qa["answers"][0]) for d in data["data"] for p in d["paragraphs"] for qa in p["qas"]]
  assert all(c[a["answer_start"]:a["answer_start"] + len(a["text"])] == a["text"] for c, a in answers)
  assert sum(c.count(a["text"]) > 1 for c, a in answers) >= 5  # answers that occur more than once
  # Several questions of one question id (BioASQ: one id per question and snippet).
  assert len(set(e.qas_id[:24] for e in examples)) < len(examples)


@pytest.mark.parametrize("data, is_training, v2, match", [
    ({"version": "1.1"}, False, False, "no \"data\" list"),
    ({"data": [{"paragraphs": [{"context": "a b", "qas": [{"id": "q1", "question": "?", "answers": [
        {"text": "a", "answer_start": 0}, {"text": "b", "answer_start": 2}]}]}]}]}, True, False,
     "question q1: 2 answers; for training, each question should have exactly 1 answer"),
    (_squad(("a b c", [("q1", "?", "c d", 4)])), True, False, "answer_start=4 and the 3-character text 'c d' "
     "point outside the 5-character context"),
    (_squad(("a b c", [("q1", "?", "a", -1)])), True, False, "point outside"),
    (_squad(("a b c", [("q1", "?", "a", 0)])), True, True, "no \"is_impossible\" true/false"),
    ({"data": [{"paragraphs": [{"qas": []}]}]}, False, False, "data[0].paragraphs[0]: no \"context\" string"),
])
def test_bad_files_are_user_errors(tmp_path, data, is_training, v2, match):
  path = _write_json(tmp_path / "bad.json", data)
  with pytest.raises(errors.UserError) as raised:
    run_qa.read_squad_examples(path, is_training, v2)
  assert match in str(raised.value) and path in str(raised.value)


# ----------------------------------------------------------------------------------------------------------------
# n-best.


def _example_and_feature():
  """One example 'w0 .. w9' in one window after a 2-piece question: positions 4..13 hold words 0..9."""
  words = ["w%d" % i for i in range(10)]
  example = run_qa.SquadExample("q", "x y", words, None, None, None, False, [])
  tokens = ["[CLS]", "x", "y", "[SEP]"] + words + ["[SEP]"]
  token_to_orig = collections.OrderedDict((4 + i, i) for i in range(10))
  max_context = collections.OrderedDict((4 + i, i != 3) for i in range(10))  # word 3 is not at max context
  feature = run_qa.QAFeature(1000000000, 0, 0, tokens, token_to_orig, max_context, {})
  return example, feature


def _logits(high, length=16, low=-10.0):
  values = [low] * length
  for position, value in high.items():
    values[position] = value
  return values


def test_nbest_filters_question_positions_max_context_and_length():
  example, feature = _example_and_feature()
  start = _logits({1: 9.0, 7: 8.0, 5: 7.0, 15: 9.5})  # 1: question; 7: word 3 (not max context); 15: padding
  end = _logits({2: 9.0, 6: 8.5, 13: 8.0, 4: 7.5})
  result = run_qa.RawResult(1000000000, start, end)
  spans = list(run_qa.valid_spans(feature, result, 4, max_answer_length=3))
  # starts ranked 15, 1, 7, 5; ends 2, 6, 13, 4. Only start 5 survives, with end 6 (13 is too long; 4 < 5).
  assert spans == [(5, 6)]
  assert list(run_qa.valid_spans(feature, result, 4, max_answer_length=9)) == [(5, 6), (5, 13)]
  nbest, score_null = run_qa.nbest_predictions(example, [feature], [result], 4, 9, True)
  assert [(e.text, e.start_logit, e.end_logit) for e in nbest] == [("w1 w2", 7.0, 8.5), ("w1 w2 w3 w4 w5 w6 w7 w8 w9",
                                                                                         7.0, 8.0)]
  assert score_null is None
  probabilities = [e["probability"] for e in run_qa.nbest_json(nbest)]
  assert probabilities == run_qa.compute_softmax([15.5, 15.0]) and type(probabilities[0]) is float
  assert run_qa.final_prediction(nbest, None, False, 0.0) == ("w1 w2", None)


def test_nbest_without_valid_span_and_v2_with_only_the_null_answer():
  example, feature = _example_and_feature()
  result = run_qa.RawResult(1000000000, _logits({0: 5.0, 1: 4.0}), _logits({0: 3.0, 2: 4.0}))
  # n_best_size 2: starts 0, 1 and ends 0, 2 are all in the question: no valid span.
  nbest, _ = run_qa.nbest_predictions(example, [feature], [result], 2, 30, True)
  assert [(e.text, e.start_logit, e.end_logit) for e in nbest] == [("empty", 0.0, 0.0)]
  nbest, score_null = run_qa.nbest_predictions(example, [feature], [result], 2, 30, True,
                                               version_2_with_negative=True)
  assert [(e.text, e.start_logit, e.end_logit) for e in nbest] == [("", 5.0, 3.0)] and score_null == 8.0
  # Every n-best text is empty: the prediction is null, not an AttributeError.
  assert run_qa.final_prediction(nbest, score_null, True, 0.0) == ("", 8.0)


def test_v2_null_threshold_and_min_null_over_windows():
  example, feature = _example_and_feature()
  second = feature._replace(unique_id=1000000001, doc_span_index=1)
  results = [run_qa.RawResult(1000000000, _logits({0: 2.0, 6: 3.0}), _logits({0: 2.0, 7: 3.0})),
             run_qa.RawResult(1000000001, _logits({0: 1.0, 6: 0.0}), _logits({0: 0.5, 7: 0.0}))]
  nbest, score_null = run_qa.nbest_predictions(example, [feature, second], results, 3, 30, True,
                                               version_2_with_negative=True)
  assert score_null == 1.5  # the lowest start[0] + end[0] over the windows (the second)
  assert nbest[0].text == "w2 w3" and ("", 1.0, 0.5) in [tuple(e) for e in nbest]
  assert run_qa.final_prediction(nbest, score_null, True, 0.0) == ("w2 w3", 1.5 - 6.0)
  assert run_qa.final_prediction(nbest, score_null, True, -5.0) == ("", 1.5 - 6.0)


def test_get_final_text():
  assert run_qa.get_final_text("steve smith", "Steve Smith's", True) == "Steve Smith"
  assert run_qa.get_final_text("il - 2", "(IL-2)", True) == "IL-2"
  assert run_qa.get_final_text("1895", "(1895-1943).", False) == "1895"
  assert run_qa.get_final_text("xyz", "Steve Smith's", True) == "Steve Smith's"  # not found: the original text
  assert run_qa.get_final_text("naive", "Naïve T cells", True) == "Naïve"
  assert run_qa.get_final_text("naive", "Naïve T cells", False) == "Naïve T cells"  # cased: no match


def test_squad_v11_exact_match_and_f1():
  assert run_qa.normalize_answer("The  Cat, an ANIMAL!") == "cat animal"
  assert run_qa.exact_match_score("the BRCA1 gene.", "BRCA1 gene")
  assert run_qa.f1_score("BRCA1 gene", "the BRCA1") == pytest.approx(2 / 3)
  assert run_qa.f1_score("a", "the") == 0.0
  examples = [run_qa.SquadExample("q1", "", [], None, None, None, False, ["IL-2", "interleukin 2"]),
              run_qa.SquadExample("q2", "", [], None, None, None, False, ["TNF alpha"]),
              run_qa.SquadExample("q3", "", [], None, None, None, False, [])]
  scores = run_qa.squad_scores(examples, {"q1": "Interleukin-2", "q2": "TNF", "q3": "x"})
  # q1: EM 0 (hyphen removed: "interleukin2"), F1 0; q2: F1 2/3; q3 has no answer and is not counted.
  assert scores == {"exact_match": 0.0, "f1": pytest.approx(100 * (2 / 3) / 2), "total": 2}
  assert run_qa.squad_scores(examples[2:], {"q3": "x"}) is None


# ----------------------------------------------------------------------------------------------------------------
# End to end with a tiny BERT.


def _fixture_vocab():
  """The fixture's basic tokens (lower-cased); words over 9 characters as two pieces (exercises "##")."""
  basic = tokenization.BasicTokenizer(do_lower_case=True)
  with open(FIXTURE, encoding="utf-8") as f:
    data = json.load(f)
  texts = [p["context"] for d in data["data"] for p in d["paragraphs"]]
  texts += [qa["question"] for d in data["data"] for p in d["paragraphs"] for qa in p["qas"]]
  vocab = set()
  for text in texts:
    for word in basic.tokenize(text):
      vocab.update([word] if len(word) <= 9 else [word[:6], "##" + word[6:]])
  return sorted(vocab), data


def _v2_fixture(data):
  """The fixture with is_impossible: every question, and each paragraph's first question asked of the next
  paragraph too, impossible there."""
  paragraphs = [p for d in data["data"] for p in d["paragraphs"]]
  out = []
  for i, paragraph in enumerate(paragraphs):
    qas = [dict(qa, is_impossible=False) for qa in paragraph["qas"]]
    borrowed = paragraphs[i - 1]["qas"][0]
    qas.append({"id": "%024x_900" % i, "question": borrowed["question"], "answers": [], "is_impossible": True})
    out.append({"context": paragraph["context"], "qas": qas})
  return {"version": "v2.0", "data": [{"title": "all", "paragraphs": out}]}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  root = tmp_path_factory.mktemp("qa")
  vocab, data = _fixture_vocab()
  (root / "vocab.txt").write_text("\n".join(SPECIALS + vocab) + "\n", encoding="utf-8")
  with open(os.path.join(ROOT, "scripts", "tiny_bert_config.json")) as f:
    config = modeling.BertConfig.from_dict(dict(json.load(f), vocab_size=len(SPECIALS) + len(vocab),
                                                max_position_embeddings=128))
  (root / "bert_config.json").write_text(config.to_json_string())
  init = make_init_checkpoint(str(root / "init"), config)
  _write_json(root / "train_v2.json", _v2_fixture(data))
  return root, init


def _run_qa(root, init, out, *extra):
  command = [sys.executable, "run_qa.py", "--vocab_file=" + str(root / "vocab.txt"),
             "--bert_config_file=" + str(root / "bert_config.json"), "--output_dir=" + str(out),
             "--do_lower_case=true", "--max_seq_length=96", "--doc_stride=32", "--max_query_length=24",
             "--train_batch_size=8", "--predict_batch_size=16", "--learning_rate=1e-3", "--num_train_epochs=2",
             "--save_checkpoints_steps=1000"]
  if init:
    command.append("--init_checkpoint=" + init)
  return subprocess.run(command + list(extra), cwd=ROOT, capture_output=True, text=True, timeout=600,
                        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT))


@pytest.fixture(scope="module")
def trained(tiny):
  """A v2 training and prediction run on the fixture with impossible questions: (root, output_dir, result)."""
  root, init = tiny
  train_file = str(root / "train_v2.json")
  result = _run_qa(root, init, root / "out", "--do_train=true", "--do_predict=true", "--train_file=" + train_file,
                   "--predict_file=" + train_file, "--version_2_with_negative=true")
  assert result.returncode == 0, result.stderr[-4000:]
  return root, root / "out", result


def test_train_and_predict_write_the_original_files(trained):
  root, out, result = trained
  written = set(os.listdir(str(out)))
  assert not {"train.tf_record", "eval.tf_record", "predictions.json", "nbest_predictions.json", "null_odds.json",
              "squad_eval.json"} - written
  assert not [name for name in written if ".partial-" in name]
  with open(str(root / "train_v2.json"), encoding="utf-8") as f:
    ids = [qa["id"] for d in json.load(f)["data"] for p in d["paragraphs"] for qa in p["qas"]]
  for name in ("predictions.json", "nbest_predictions.json", "null_odds.json"):
    text = (out / name).read_text(encoding="utf-8")
    obj = json.loads(text, object_pairs_hook=collections.OrderedDict)
    assert text == json.dumps(obj, indent=4) + "\n"  # the original's layout (ASCII escapes, 4 spaces)
    assert list(obj) == ids
  nbest = json.loads((out / "nbest_predictions.json").read_text())
  predictions = json.loads((out / "predictions.json").read_text())
  odds = json.loads((out / "null_odds.json").read_text())
  for qid, entries in nbest.items():
    assert list(entries[0]) == ["text", "probability", "start_logit", "end_logit"]
    assert abs(sum(e["probability"] for e in entries) - 1.0) < 1e-9
    assert "" in [e["text"] for e in entries] and len(entries) <= 21
    best_non_null = next((e["text"] for e in entries if e["text"]), None)
    assert predictions[qid] == ("" if best_non_null is None or odds[qid] > 0.0 else best_non_null)
  # The features: 2 epochs over the questions (impossible ones included), windows of 96 pieces.
  assert "Num orig examples = 86" in result.stderr
  assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-%d" % int(86 / 8 * 2))
  scores = json.loads((out / "squad_eval.json").read_text())
  assert list(scores) == ["exact_match", "f1", "total"] and scores["total"] == 71
  assert json.dumps(scores) in result.stdout


def test_predict_only_from_the_fine_tuned_checkpoint_gives_the_same_predictions(trained, tiny):
  root, out, _ = trained
  again = root / "predict_only"
  checkpoint = tf.train.latest_checkpoint(str(out))
  result = _run_qa(root, checkpoint, again, "--do_train=false", "--do_predict=true",
                   "--predict_file=" + str(root / "train_v2.json"), "--version_2_with_negative=true")
  assert result.returncode == 0, result.stderr[-4000:]
  for name in ("predictions.json", "nbest_predictions.json", "null_odds.json", "squad_eval.json"):
    assert (again / name).read_text() == (out / name).read_text(), name
  # The pre-trained checkpoint has no QA head: an error, not a random head.
  _, init = tiny
  result = _run_qa(root, init, root / "no_head", "--do_train=false", "--do_predict=true",
                   "--predict_file=" + str(root / "train_v2.json"))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: --init_checkpoint=")
  assert "cls/squad/output" in result.stderr and "Traceback" not in result.stderr


def test_chain_run_qa_transform_bioasq_eval_from_the_shell(trained):
  root, out, _ = trained
  with open(FIXTURE, encoding="utf-8") as f:
    data = json.load(f)
  golden = collections.OrderedDict()
  for d in data["data"]:
    for p in d["paragraphs"]:
      for qa in p["qas"]:
        golden.setdefault(qa["id"][:24], {"id": qa["id"][:24], "type": "factoid", "exact_answer": [
            [qa["answers"][0]["text"]]]})
  _write_json(root / "golden.json", {"questions": list(golden.values())})
  chain = root / "chain"
  script = """set -e
python run_qa.py --do_train=false --do_predict=true --vocab_file={root}/vocab.txt \\
  --bert_config_file={root}/bert_config.json --init_checkpoint={ckpt} --do_lower_case=true \\
  --max_seq_length=96 --doc_stride=32 --max_query_length=24 --predict_file={fixture} --output_dir={chain} 2> {chain}.log
python biocodes/transform_nbset2bioasqform.py --nbest_path={chain}/nbest_predictions.json --output_path={chain}
python biocodes/bioasq_eval.py -phaseB -e 5 {root}/golden.json {chain}/BioASQform_BioASQ-answer.json
""".format(root=root, ckpt=tf.train.latest_checkpoint(str(out)), fixture=FIXTURE, chain=chain)
  result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT,
                                   PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]))
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  squad = json.loads(lines[0])  # run_qa's exact match and F1
  assert squad["total"] == 71
  numbers = [float(x) for x in lines[-1].split()]
  assert len(numbers) == 10
  assert numbers[0] == 0.0 and numbers[4:] == [0.0] * 6  # factoid questions only
  assert 0.0 <= numbers[1] <= numbers[2] <= 1.0 and numbers[1] <= numbers[3] <= numbers[2]
  answers = json.loads((chain / "BioASQform_BioASQ-answer.json").read_text())["questions"]
  assert [q["id"] for q in answers] == list(golden)
  assert all(len(q["exact_answer"]) <= 5 for q in answers)


def test_fine_tuned_model_converts_to_transformers_with_the_same_predictions(trained, tmp_path):
  """convert_checkpoint tf_to_hf --task=qa; BertForQuestionAnswering's logits give run_qa's n-best files."""
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  root, out, _ = trained
  hf_dir = tmp_path / "hf"
  result = subprocess.run([sys.executable, "convert_checkpoint.py", "tf_to_hf",
                           "--init_checkpoint=" + tf.train.latest_checkpoint(str(out)),
                           "--bert_config_file=" + str(root / "bert_config.json"),
                           "--vocab_file=" + str(root / "vocab.txt"), "--output_dir=" + str(hf_dir), "--task=qa"],
                          cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT))
  assert result.returncode == 0, result.stderr[-3000:]
  model = transformers.BertForQuestionAnswering.from_pretrained(str(hf_dir)).eval()
  tokenizer = tokenization.FullTokenizer(str(root / "vocab.txt"), do_lower_case=True)
  examples = run_qa.read_squad_examples(str(root / "train_v2.json"), is_training=False)
  features = list(run_qa.convert_examples_to_features(examples, tokenizer, 96, 32, 24, is_training=False))
  results = []
  for i in range(0, len(features), 32):
    batch = {name: torch.tensor([f.values[key] for f in features[i:i + 32]])
             for name, key in (("input_ids", "input_ids"), ("attention_mask", "input_mask"),
                               ("token_type_ids", "segment_ids"))}
    with torch.no_grad():
      output = model(**batch)
    for f, start, end in zip(features[i:i + 32], output.start_logits, output.end_logits):
      results.append(run_qa.RawResult(f.unique_id, start.tolist(), end.tolist()))
  fv = collections.namedtuple("Flags", ["output_dir", "n_best_size", "max_answer_length", "do_lower_case",
                                        "version_2_with_negative", "verbose_logging", "null_score_diff_threshold"])(
                                            str(tmp_path), 20, 30, True, True, False, 0.0)
  run_qa.write_predictions(examples, features, results, fv)
  ours = json.loads((out / "nbest_predictions.json").read_text())
  theirs = json.loads((tmp_path / "nbest_predictions.json").read_text())
  same_best = sum(ours[q][0]["text"] == theirs[q][0]["text"] for q in ours)
  assert same_best >= 0.97 * len(ours), (same_best, len(ours))
  for qid in ours:
    if [e["text"] for e in ours[qid]] == [e["text"] for e in theirs[qid]]:
      for a, b in zip(ours[qid], theirs[qid]):
        assert a["start_logit"] == pytest.approx(b["start_logit"], abs=1e-4)
        assert a["end_logit"] == pytest.approx(b["end_logit"], abs=1e-4)
