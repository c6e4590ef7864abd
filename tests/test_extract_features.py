# coding=utf-8
"""Tests of extract_features.py (spec section 11).

References: transformers' hidden states of the real MiniLM-L6 (tests/fixtures/minilm_reference.npz, recomputed live
when transformers is installed), the spec's output format and truncation rules, and our BertModel run directly on
the same checkpoint.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import convert_checkpoint
import errors
import extract_features
import modeling

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "fixtures"))
import make_minilm_reference  # pylint: disable=g-import-not-at-top,wrong-import-position

FIXTURE = os.path.join(HERE, "fixtures", "minilm_reference.npz")
LAYERS = [-1, -2, -3, -4]


# ------------------------------------------------------------------------------------------------------------------
# 5. Real weights: MiniLM-L6 converted HF -> TF1, features against transformers' hidden states.
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_features(minilm_dir, shared_data, tmp_path_factory):
  """Runs the extract_features command on the fixture's examples with the converted MiniLM checkpoint."""
  work = tmp_path_factory.mktemp("minilm_features")
  tf_dir = str(work / "tf")
  convert_checkpoint.hf_to_tf(minilm_dir, tf_dir)
  reference = np.load(FIXTURE, allow_pickle=False)
  lines = [make_minilm_reference.example_text(shared_data, *e)
           for e in make_minilm_reference.fixture_examples(reference)]
  input_file = str(work / "input.txt")
  with open(input_file, "w", encoding="utf-8") as f:
    f.write("".join(line + "\n" for line in lines))
  output_file = str(work / "features.jsonl")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "extract_features.py"), "--input_file=" + input_file,
       "--output_file=" + output_file, "--vocab_file=" + os.path.join(tf_dir, "vocab.txt"),
       "--bert_config_file=" + os.path.join(tf_dir, "bert_config.json"),
       "--init_checkpoint=" + os.path.join(tf_dir, "bert_model.ckpt"), "--layers=-1,-2,-3,-4",
       "--max_seq_length=128", "--batch_size=10", "--do_lower_case=true"],
      capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.splitlines()[-1] == "wrote %d lines to %s" % (len(lines), output_file)
  with open(output_file, encoding="utf-8") as f:
    records = [json.loads(line) for line in f]
  vocab = {}
  with open(os.path.join(tf_dir, "vocab.txt"), encoding="utf-8") as f:
    for i, token in enumerate(f):
      vocab[token.rstrip("\n")] = i
  return reference, records, lines, vocab


def _values(record, layer):
  """[tokens, hidden] array of one layer of one output line."""
  rows = []
  for feature in record["features"]:
    (entry,) = [l for l in feature["layers"] if l["index"] == layer]
    rows.append(entry["values"])
  return np.array(rows, np.float64)


def test_minilm_features_match_transformers_reference(minilm_features):
  reference, records, lines, vocab = minilm_features
  assert len(records) == len(lines) >= 20
  offsets = np.concatenate([[0], np.cumsum(reference["lengths"])])
  worst = 0.0
  for k, record in enumerate(records):
    assert list(record) == ["linex_index", "features"] and record["linex_index"] == k
    tokens = [f["token"] for f in record["features"]]
    assert make_minilm_reference.ids_digest([vocab[t] for t in tokens]) == reference["ids_sha256"][k]
    for feature in record["features"]:
      assert list(feature) == ["token", "layers"]
      assert [l["index"] for l in feature["layers"]] == LAYERS
      assert all(len(l["values"]) == 384 for l in feature["layers"])
    for j, layer in enumerate(reference["layers"]):
      ours = _values(record, int(layer))[:, reference["hidden_dims"]]
      theirs = reference["hidden"][j, offsets[k]:offsets[k + 1]]
      worst = max(worst, np.abs(ours - theirs).max())
  full = np.abs(_values(records[0], -1) - reference["sequence_full"]).max()
  print("extract_features vs transformers (fixture): %.3g, full rows %.3g" % (worst, full))
  assert worst <= 1e-5 and full <= 1e-5


def test_minilm_features_match_transformers_live(minilm_features, minilm_dir):
  transformers = pytest.importorskip("transformers")
  torch = pytest.importorskip("torch")
  _, records, lines, _ = minilm_features
  tokenizer = transformers.BertTokenizer.from_pretrained(minilm_dir, do_lower_case=True)
  model = transformers.BertModel.from_pretrained(minilm_dir, attn_implementation="eager").eval()
  worst = 0.0
  for record, line in zip(records, lines):
    parts = line.split(" ||| ")
    encoded = tokenizer(*parts, return_tensors="pt")
    assert tokenizer.convert_ids_to_tokens(encoded["input_ids"][0]) == [f["token"] for f in record["features"]]
    with torch.no_grad():
      hidden = model(**encoded, output_hidden_states=True).hidden_states
    for layer in LAYERS:
      diff = np.abs(_values(record, layer) - hidden[layer][0].numpy())
      if diff.max() > worst:
        worst, where = diff.max(), (record["linex_index"], layer, np.unravel_index(diff.argmax(), diff.shape),
                                    float(hidden[layer][0].numpy().flat[diff.argmax()]))
  print("extract_features vs transformers (live): %.3g at (line, layer, (token, dim), value) %s" % (worst, where))
  assert worst <= 1e-5


# ------------------------------------------------------------------------------------------------------------------
# Format, truncation, pairs and layer selection on a small random BERT.
# ------------------------------------------------------------------------------------------------------------------

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["w%d" % i for i in range(40)]
CONFIG = {"vocab_size": len(VOCAB), "hidden_size": 32, "num_hidden_layers": 4, "num_attention_heads": 4,
          "intermediate_size": 48, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
          "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 128, "type_vocab_size": 2,
          "initializer_range": 0.02}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
  """A fine-tuning-style checkpoint: random BERT + a root output_weights head + Adam slots + global_step."""
  folder = str(tmp_path_factory.mktemp("tiny"))
  with open(os.path.join(folder, "bert_config.json"), "w") as f:
    json.dump(CONFIG, f)
  with open(os.path.join(folder, "vocab.txt"), "w") as f:
    f.write("".join(t + "\n" for t in VOCAB))
  rng = np.random.RandomState(3)
  with tf.Graph().as_default():
    ids = tf.zeros([1, 4], tf.int32)
    modeling.BertModel(modeling.BertConfig.from_dict(CONFIG), False, ids)
    tf.compat.v1.get_variable("output_weights", [7, CONFIG["hidden_size"]])
    tf.compat.v1.get_variable("output_bias", [7])
    model_vars = tf.compat.v1.global_variables()
    for var in model_vars:
      for slot in ("adam_m", "adam_v"):
        tf.compat.v1.get_variable(var.op.name + "/" + slot, var.shape, initializer=tf.compat.v1.zeros_initializer())
    tf.compat.v1.train.get_or_create_global_step()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for var in model_vars:
        var.load(rng.normal(0.0, 0.2, size=var.shape).astype(np.float32), sess)
      tf.compat.v1.train.Saver().save(sess, os.path.join(folder, "model.ckpt-7"), write_meta_graph=False)
  return folder


def _extract(folder, tmp_path, lines, **kwargs):
  input_file = str(tmp_path / "in.txt")
  with open(input_file, "w", encoding="utf-8") as f:
    f.write(lines)
  output_file = str(tmp_path / "out.jsonl")
  count = extract_features.extract_features(
      input_file, output_file, os.path.join(folder, "bert_config.json"), os.path.join(folder, "model.ckpt-7"),
      os.path.join(folder, "vocab.txt"), **kwargs)
  with open(output_file, encoding="utf-8") as f:
    text = f.read()
  assert text.count("\n") == count
  return [json.loads(line) for line in text.splitlines()], text


def _direct_layers(folder, tokens, type_ids, seq_length):
  """All encoder layers of our BertModel for one example, padded to seq_length as the original pads."""
  ids = [VOCAB.index(t) for t in tokens]
  pad = seq_length - len(ids)
  with tf.Graph().as_default():
    model = modeling.BertModel(modeling.BertConfig.from_dict(CONFIG), False,
                               tf.constant([ids + [0] * pad]), tf.constant([[1] * len(ids) + [0] * pad]),
                               tf.constant([type_ids + [0] * pad]), use_one_hot_embeddings=False)
    prefix = os.path.join(folder, "model.ckpt-7")
    tvars = tf.compat.v1.trainable_variables()
    assignment_map, _ = modeling.get_assignment_map_from_checkpoint(tvars, prefix)
    tf.compat.v1.train.init_from_checkpoint(prefix, assignment_map)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return [layer[0, :len(ids)] for layer in sess.run(model.get_all_encoder_layers())]


def test_format_pairs_truncation_and_layer_order(tiny, tmp_path):
  words = " ".join("w%d" % i for i in range(1, 21))
  lines = ("w1 w2 w3\n"                            # single sentence
           "w4 w5 ||| w6\n"                        # pair: type ids 0 ... then 1
           "\n"                                    # an empty line is an example: [CLS] [SEP]
           "w7 ||| w8 ||| w9\n"                    # greedy: text_a = "w7 ||| w8", text_b = "w9"
           + words + "\n"                          # truncated to max_seq_length - 2 tokens
           + words + " ||| w30 w31\n")             # pair truncation pops from the longer side
  records, text = _extract(tiny, tmp_path, lines, layers="0,-1,1", max_seq_length=10, batch_size=4)
  assert [r["linex_index"] for r in records] == list(range(6))
  assert text.startswith('{"linex_index": 0, "features": [{"token": "[CLS]", "layers": [{"index": 0, "values": [')
  tokens = [[f["token"] for f in r["features"]] for r in records]
  assert tokens[0] == ["[CLS]", "w1", "w2", "w3", "[SEP]"]
  assert tokens[1] == ["[CLS]", "w4", "w5", "[SEP]", "w6", "[SEP]"]
  assert tokens[2] == ["[CLS]", "[SEP]"]
  assert tokens[3] == ["[CLS]", "w7", "[UNK]", "[UNK]", "[UNK]", "w8", "[SEP]", "w9", "[SEP]"]
  assert tokens[4] == ["[CLS]"] + ["w%d" % i for i in range(1, 9)] + ["[SEP]"]
  assert tokens[5] == ["[CLS]"] + ["w%d" % i for i in range(1, 6)] + ["[SEP]", "w30", "w31", "[SEP]"]
  type_ids = {0: [0] * 5, 1: [0] * 4 + [1] * 2, 2: [0] * 2, 3: [0] * 7 + [1] * 2, 4: [0] * 10, 5: [0] * 7 + [1] * 3}
  for k, record in enumerate(records):
    for feature in record["features"]:
      assert [l["index"] for l in feature["layers"]] == [0, -1, 1]
      for layer in feature["layers"]:
        assert len(layer["values"]) == CONFIG["hidden_size"]
        assert all(v == round(v, 6) for v in layer["values"])
    direct = _direct_layers(tiny, tokens[k], type_ids[k], 10)
    for position, layer_index in enumerate([0, -1, 1]):
      ours = np.array([f["layers"][position]["values"] for f in record["features"]])
      np.testing.assert_allclose(ours, direct[layer_index], atol=5e-7 + 1e-6, rtol=0)


def test_batch_size_and_sequence_length_do_not_change_values(tiny, tmp_path):
  lines = "w1 w2 w3 w4\nw5 ||| w6 w7\nw8\n"
  a, _ = _extract(tiny, tmp_path, lines, max_seq_length=8, batch_size=1)
  b, _ = _extract(tiny, tmp_path, lines, max_seq_length=20, batch_size=32)
  for ra, rb in zip(a, b):
    for fa, fb in zip(ra["features"], rb["features"]):
      assert fa["token"] == fb["token"]
      for la, lb in zip(fa["layers"], fb["layers"]):
        np.testing.assert_allclose(la["values"], lb["values"], atol=2e-6, rtol=0)


def test_bad_input_is_one_error_and_no_output(tiny, tmp_path):
  cases = [({"layers": "-1,4"}, "index 4 is out of range for a model with 4 layers"),
           ({"layers": "last"}, "--layers=last"),
           ({"max_seq_length": 129}, "max_position_embeddings=128")]
  for kwargs, match in cases:
    with pytest.raises(errors.UserError, match=match):
      _extract(tiny, tmp_path, "w1\n", **kwargs)
    assert os.listdir(str(tmp_path)) == ["in.txt"]
  # A checkpoint that lacks variables of the configured model (here: one layer more than it holds).
  bigger = tmp_path / "bigger"
  bigger.mkdir()
  (bigger / "bert_config.json").write_text(json.dumps(dict(CONFIG, num_hidden_layers=5)))
  with pytest.raises(errors.UserError, match="lacks 16 variable"):
    extract_features.extract_features(str(tmp_path / "in.txt"), str(tmp_path / "out.jsonl"),
                                      str(bigger / "bert_config.json"), os.path.join(tiny, "model.ckpt-7"),
                                      os.path.join(tiny, "vocab.txt"))
  assert sorted(os.listdir(str(tmp_path))) == ["bigger", "in.txt"]
  with pytest.raises(errors.UserError, match="no such file"):
    extract_features.extract_features(str(tmp_path / "nothing.txt"), str(tmp_path / "out.jsonl"),
                                      os.path.join(tiny, "bert_config.json"), os.path.join(tiny, "model.ckpt-7"),
                                      os.path.join(tiny, "vocab.txt"))


def test_cli_error_exit_2(tiny, tmp_path):
  (tmp_path / "in.txt").write_text("w1\n")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "extract_features.py"), "--input_file=" + str(tmp_path / "in.txt"),
       "--output_file=" + str(tmp_path / "out.jsonl"), "--vocab_file=" + os.path.join(tiny, "vocab.txt"),
       "--bert_config_file=" + os.path.join(tiny, "bert_config.json"),
       "--init_checkpoint=" + os.path.join(tiny, "model.ckpt-7"), "--layers=5"],
      capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2
  printed = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(printed) == 1 and "--layers=5" in printed[0]
  assert not (tmp_path / "out.jsonl").exists()
