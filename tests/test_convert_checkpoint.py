# coding=utf-8
"""Tests of convert_checkpoint.py: TF1 <-> Hugging Face, strip for release, the allow-list, bad input.

References: transformers' BertModel on the real MiniLM-L6 folder (stored in tests/fixtures/minilm_reference.npz,
recomputed live when transformers is installed), the BERT variable names as our modeling.py creates them, the
Hugging Face parameter names as transformers' Bert* classes define them, and the task-head math of the original
runners written out here.
"""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import convert_checkpoint
import errors
import modeling

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "fixtures"))
import make_minilm_reference  # pylint: disable=g-import-not-at-top,wrong-import-position

FIXTURE = os.path.join(HERE, "fixtures", "minilm_reference.npz")

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["w%d" % i for i in range(95)]
TINY = {
    "vocab_size": len(VOCAB), "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 96, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 40, "type_vocab_size": 2, "initializer_range": 0.02,
}
RE_LABELS = ["cpr:3", "cpr:4", "false"]
BATCH, SEQ, MASKED = 2, 12, 3

# Variables a TF1 run writes beside the model, by optimizer flavour. `{v}` stands for each model variable.
ADAM_SLOTS = ("{v}/adam_m", "{v}/adam_v")                       # Google BERT / BioBERT v1.1 / NVIDIA LAMB
V10_SLOTS = ("{v}/BERTAdam", "{v}/BERTAdam_1")                    # BioBERT v1.0 (tf.train.AdamOptimizer "BERTAdam")
NVIDIA_SLOTS = ("{v}/accum", "{v}/shadow")                        # gradient accumulation, fp32 master copies
V10_SCALARS = ("beta1_power", "beta2_power")
NVIDIA_SCALARS = ("loss_scale", "good_steps", "bad_steps", "local_step", "current_loss_scale")
KERAS_SLOTS = ("{v}/AdamWeightDecayOptimizer", "{v}/AdamWeightDecayOptimizer_1")


# ------------------------------------------------------------------------------------------------------------------
# A small random BERT with each head, built the way the original runners build it.
# ------------------------------------------------------------------------------------------------------------------


def _layer_norm_math(x, gamma, beta):
  mean, var = tf.nn.moments(x, [x.shape.ndims - 1], keepdims=True)
  return (x - mean) * tf.math.rsqrt(var + 1e-12) * gamma + beta


def _build_heads(task, model, config, positions):
  """Creates the head variables under their original names and returns the logits the runners compute."""
  h = config.hidden_size
  seq = model.get_sequence_output()
  pooled = model.get_pooled_output()
  out = {}
  if task == "pretraining":
    # run_pretraining: gather, transform dense(gelu) + LayerNorm, x . E^T + output_bias, NSP pooled . W^T + b.
    with tf.compat.v1.variable_scope("cls/predictions"):
      with tf.compat.v1.variable_scope("transform"):
        kernel = tf.compat.v1.get_variable("dense/kernel", [h, h])
        bias = tf.compat.v1.get_variable("dense/bias", [h])
        gamma = tf.compat.v1.get_variable("LayerNorm/gamma", [h])
        beta = tf.compat.v1.get_variable("LayerNorm/beta", [h])
      output_bias = tf.compat.v1.get_variable("output_bias", [config.vocab_size])
    gathered = tf.gather(seq, positions, batch_dims=1)                       # [B, P, H]
    x = tf.tensordot(gathered, kernel, [[2], [0]]) + bias
    x = x * 0.5 * (1.0 + tf.math.erf(x / np.sqrt(2.0)))
    x = _layer_norm_math(x, gamma, beta)
    out["mlm"] = tf.tensordot(x, model.get_embedding_table(), [[2], [1]]) + output_bias
    with tf.compat.v1.variable_scope("cls/seq_relationship"):
      w = tf.compat.v1.get_variable("output_weights", [2, h])
      b = tf.compat.v1.get_variable("output_bias", [2])
    out["nsp"] = tf.matmul(pooled, w, transpose_b=True) + b
  elif task in ("ner", "re"):
    n = 7 if task == "ner" else len(RE_LABELS)
    w = tf.compat.v1.get_variable("output_weights", [n, h])
    b = tf.compat.v1.get_variable("output_bias", [n])
    x = seq if task == "ner" else pooled
    out["logits"] = tf.tensordot(x, w, [[x.shape.ndims - 1], [1]]) + b
  elif task == "qa":
    w = tf.compat.v1.get_variable("cls/squad/output_weights", [2, h])
    b = tf.compat.v1.get_variable("cls/squad/output_bias", [2])
    logits = tf.tensordot(seq, w, [[2], [1]]) + b
    out["start"], out["end"] = logits[:, :, 0], logits[:, :, 1]
  return out


def _inputs(seed=0):
  rng = np.random.RandomState(seed)
  ids = rng.randint(5, len(VOCAB), size=(BATCH, SEQ)).astype(np.int32)
  ids[:, 0] = 2
  mask = np.ones((BATCH, SEQ), np.int32)
  mask[1, 8:] = 0
  segments = np.zeros((BATCH, SEQ), np.int32)
  segments[:, 6:] = 1
  positions = np.array([[1, 4, 7], [2, 3, 5]], np.int32)
  return ids, mask, segments, positions


def _write_folder(folder, vocab=VOCAB, config=TINY):
  os.makedirs(folder, exist_ok=True)
  with open(os.path.join(folder, "bert_config.json"), "w") as f:
    json.dump(config, f)
  with open(os.path.join(folder, "vocab.txt"), "w") as f:
    f.write("".join(t + "\n" for t in vocab))


def _make_checkpoint(folder, task, slots=ADAM_SLOTS, scalars=("global_step",), seed=1):
  """Builds BertModel + the task's head, randomizes every variable, adds optimizer-style extras, saves.

  Returns (prefix, {model variable: value}, {output name: logits for _inputs()}, [extra variable names]).
  """
  _write_folder(folder)
  config = modeling.BertConfig.from_dict(TINY)
  ids, mask, segments, positions = _inputs()
  rng = np.random.RandomState(seed)
  with tf.Graph().as_default():
    model = modeling.BertModel(config, False, tf.constant(ids), tf.constant(mask), tf.constant(segments),
                               use_one_hot_embeddings=False)
    outputs = _build_heads(task, model, config, tf.constant(positions))
    outputs["sequence"] = model.get_sequence_output()
    model_vars = tf.compat.v1.global_variables()
    extras = []
    for var in model_vars:
      for slot in slots:
        extras.append(tf.compat.v1.get_variable(slot.format(v=var.op.name), var.shape, trainable=False,
                                                initializer=tf.compat.v1.constant_initializer(0.5)))
    for name in scalars:
      dtype = tf.int64 if name in ("global_step", "local_step", "good_steps", "bad_steps") else tf.float32
      extras.append(tf.compat.v1.get_variable(name, [], dtype=dtype, trainable=False,
                                              initializer=tf.compat.v1.zeros_initializer()))
    if "local_step" in scalars:
      extras.append(tf.compat.v1.get_variable("batch_finite", [], dtype=tf.bool, trainable=False,
                                              initializer=tf.compat.v1.ones_initializer()))
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      values = {}
      for var in model_vars:
        value = rng.normal(0.0, 0.3, size=var.shape).astype(np.float32)
        var.load(value, sess)
        values[var.op.name] = value
      logits = sess.run(outputs)
      prefix = os.path.join(folder, "model.ckpt-100")
      saver.save(sess, prefix, write_meta_graph=False)
  return prefix, values, logits, sorted(v.op.name for v in extras)


def _read_checkpoint(prefix):
  reader = tf.train.load_checkpoint(prefix)
  return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def _checkpoint_bytes(prefix):
  folder, base = os.path.split(prefix)
  return sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)
             if n.startswith(base + ".index") or n.startswith(base + ".data-"))


def _load_safetensors(path):
  from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top
  return load_file(path)


def _verify_checksums(folder):
  with open(os.path.join(folder, "SHA256SUMS")) as f:
    lines = f.read().splitlines()
  names = set()
  for line in lines:
    digest, name = line.split("  ", 1)
    with open(os.path.join(folder, name), "rb") as g:
      assert hashlib.sha256(g.read()).hexdigest() == digest, name
    names.add(name)
  assert names == set(os.listdir(folder)) - {"SHA256SUMS"}


def _expected_hf_names(task, layers=2):
  """Parameter names of transformers' Bert* classes (as their state_dict lists them)."""
  names = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
           "embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias",
           "pooler.dense.weight", "pooler.dense.bias"]
  for i in range(layers):
    for sub in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm"):
      names += ["encoder.layer.%d.%s.weight" % (i, sub), "encoder.layer.%d.%s.bias" % (i, sub)]
  names = ["bert." + n for n in names]
  names += {
      "pretraining": ["cls.predictions.bias", "cls.predictions.transform.dense.weight",
                      "cls.predictions.transform.dense.bias", "cls.predictions.transform.LayerNorm.weight",
                      "cls.predictions.transform.LayerNorm.bias", "cls.seq_relationship.weight",
                      "cls.seq_relationship.bias"],
      "ner": ["classifier.weight", "classifier.bias"],
      "re": ["classifier.weight", "classifier.bias"],
      "qa": ["qa_outputs.weight", "qa_outputs.bias"],
  }[task]
  return sorted(names)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
  """One random TF1 checkpoint (with Adam slots and global_step) per head type."""
  made = {}
  for task in ("pretraining", "ner", "re", "qa"):
    made[task] = _make_checkpoint(str(tmp_path_factory.mktemp("tf_" + task)), task)
  return made


# ------------------------------------------------------------------------------------------------------------------
# 2. TF1 -> HF -> TF1, every head.
# ------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["pretraining", "ner", "re", "qa"])
def test_round_trip_is_bit_exact(checkpoints, tmp_path, task):
  prefix, values, _, extras = checkpoints[task]
  hf_dir = str(tmp_path / "hf")
  report = convert_checkpoint.tf_to_hf(prefix, hf_dir, task="auto" if task in ("pretraining", "qa") else task,
                                       label_names=RE_LABELS if task == "re" else None)
  assert report.task == task
  assert sorted(report.skipped) == extras                 # adam_m / adam_v / global_step, nothing else
  assert sorted(os.listdir(hf_dir)) == ["SHA256SUMS", "config.json", "model.safetensors", "tokenizer_config.json",
                                        "vocab.txt"]
  _verify_checksums(hf_dir)
  tensors = _load_safetensors(os.path.join(hf_dir, "model.safetensors"))
  assert sorted(tensors) == _expected_hf_names(task)
  # TF dense kernels are [in, out]; torch Linear weights are [out, in]. Heads' output_weights are [out, in] already.
  np.testing.assert_array_equal(tensors["bert.encoder.layer.1.intermediate.dense.weight"],
                                values["bert/encoder/layer_1/intermediate/dense/kernel"].T)
  np.testing.assert_array_equal(tensors["bert.embeddings.word_embeddings.weight"],
                                values["bert/embeddings/word_embeddings"])

  config = json.load(open(os.path.join(hf_dir, "config.json")))
  assert config["model_type"] == "bert"
  assert config["architectures"] == [{"pretraining": "BertForPreTraining", "ner": "BertForTokenClassification",
                                      "re": "BertForSequenceClassification",
                                      "qa": "BertForQuestionAnswering"}[task]]
  assert config["layer_norm_eps"] == 1e-12 and config["hidden_act"] == "gelu"
  if task == "ner":
    assert config["id2label"] == {str(i): l for i, l in enumerate(["[PAD]", "B", "I", "O", "X", "[CLS]", "[SEP]"])}
  elif task == "re":
    assert config["id2label"] == {"0": "cpr:3", "1": "cpr:4", "2": "false"}
    assert config["label2id"] == {"cpr:3": 0, "cpr:4": 1, "false": 2}
  else:
    assert "id2label" not in config
  assert json.load(open(os.path.join(hf_dir, "tokenizer_config.json")))["do_lower_case"] is True

  tf_dir = str(tmp_path / "tf")
  back = convert_checkpoint.hf_to_tf(hf_dir, tf_dir)
  assert back.skipped == []
  restored = _read_checkpoint(os.path.join(tf_dir, "bert_model.ckpt"))
  assert sorted(restored) == sorted(values)
  for name, value in values.items():
    assert restored[name].dtype == np.float32
    np.testing.assert_array_equal(restored[name], value, err_msg=name)
  assert json.load(open(os.path.join(tf_dir, "bert_config.json"))) == TINY
  assert tf.train.latest_checkpoint(tf_dir) == os.path.join(tf_dir, "bert_model.ckpt")
  _verify_checksums(tf_dir)


# Keys transformers reports for our folders, and why: BertForTokenClassification and BertForQuestionAnswering have
# no pooler, but BERT's TF graph always has one; the folder keeps it so that the round trip is lossless.
DOCUMENTED_UNEXPECTED = {"pretraining": [], "re": [], "ner": ["bert.pooler.dense.bias", "bert.pooler.dense.weight"],
                         "qa": ["bert.pooler.dense.bias", "bert.pooler.dense.weight"]}


@pytest.mark.parametrize("task", ["pretraining", "ner", "re", "qa"])
def test_hf_folder_loads_in_transformers_and_logits_match(checkpoints, tmp_path, task):
  transformers = pytest.importorskip("transformers")
  torch = pytest.importorskip("torch")
  prefix, _, tf_logits, _ = checkpoints[task]
  hf_dir = str(tmp_path / "hf")
  convert_checkpoint.tf_to_hf(prefix, hf_dir, task=task, label_names=RE_LABELS if task == "re" else None)
  cls = getattr(transformers, json.load(open(os.path.join(hf_dir, "config.json")))["architectures"][0])
  model, info = cls.from_pretrained(hf_dir, output_loading_info=True, attn_implementation="eager")
  assert sorted(info["missing_keys"]) == []
  unexpected = sorted(k if k.startswith("bert.") else "bert." + k for k in info["unexpected_keys"])
  assert unexpected == DOCUMENTED_UNEXPECTED[task]
  assert not info["mismatched_keys"]
  model.eval()
  ids, mask, segments, positions = _inputs()
  with torch.no_grad():
    out = model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask, dtype=torch.long),
                token_type_ids=torch.tensor(segments, dtype=torch.long), output_hidden_states=True)
  real = mask.astype(bool)   # padded positions see different (masked) attention sums; compare real tokens
  np.testing.assert_allclose(out.hidden_states[-1].numpy()[real], tf_logits["sequence"][real], atol=1e-5, rtol=0)
  if task == "pretraining":
    mlm = out.prediction_logits.numpy()[np.arange(BATCH)[:, None], positions]
    np.testing.assert_allclose(mlm, tf_logits["mlm"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.seq_relationship_logits.numpy(), tf_logits["nsp"], atol=1e-5, rtol=0)
  elif task == "qa":
    np.testing.assert_allclose(out.start_logits.numpy(), tf_logits["start"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.end_logits.numpy(), tf_logits["end"], atol=1e-5, rtol=0)
  elif task == "ner":
    np.testing.assert_allclose(out.logits.numpy()[real], tf_logits["logits"][real], atol=1e-5, rtol=0)
  else:
    np.testing.assert_allclose(out.logits.numpy(), tf_logits["logits"], atol=1e-5, rtol=0)
  if task in ("ner", "re"):
    assert model.config.id2label[2] == ("I" if task == "ner" else "false")
  tokenizer = transformers.AutoTokenizer.from_pretrained(hf_dir)
  assert tokenizer.tokenize("W1 w2") == ["w1", "w2"]      # do_lower_case recorded and honoured


# ------------------------------------------------------------------------------------------------------------------
# 3. Strip for release.
# ------------------------------------------------------------------------------------------------------------------


def test_strip_drops_optimizer_state_and_loads_as_init_checkpoint(checkpoints, tmp_path):
  prefix, values, _, extras = checkpoints["pretraining"]
  out = str(tmp_path / "release")
  report = convert_checkpoint.strip(prefix, out)
  assert sorted(report.skipped) == extras
  stripped = os.path.join(out, "model.ckpt-100")
  ratio = _checkpoint_bytes(stripped) / float(_checkpoint_bytes(prefix))
  print("stripped checkpoint: %.1f%% of the original" % (100 * ratio))
  assert ratio <= 0.36, ratio
  assert sorted(_read_checkpoint(stripped)) == sorted(values)
  assert sorted(os.listdir(out)) == ["SHA256SUMS", "bert_config.json", "checkpoint", "model.ckpt-100.data-00000-of-00001",
                                     "model.ckpt-100.index", "vocab.txt"]
  _verify_checksums(out)
  if subprocess.run(["which", "sha256sum"], capture_output=True).returncode == 0:
    assert subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=out).returncode == 0

  # As --init_checkpoint: every variable of the pre-training graph loads by name.
  config = modeling.BertConfig.from_json_file(os.path.join(out, "bert_config.json"))
  ids, mask, segments, positions = _inputs()
  with tf.Graph().as_default():
    model = modeling.BertModel(config, True, tf.constant(ids), tf.constant(mask), tf.constant(segments))
    _build_heads("pretraining", model, config, tf.constant(positions))
    tvars = tf.compat.v1.trainable_variables()
    assignment_map, initialized = modeling.get_assignment_map_from_checkpoint(tvars, stripped)
    assert sorted(assignment_map) == sorted(values)
    assert all(v.name in initialized for v in tvars)
    tf.compat.v1.train.init_from_checkpoint(stripped, assignment_map)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for var, value in zip(tvars, sess.run(tvars)):
        np.testing.assert_array_equal(value, values[var.op.name])


# ------------------------------------------------------------------------------------------------------------------
# 4. Every checkpoint flavour: BioBERT v1.0 BERTAdam/_power, NVIDIA accum/shadow/loss scale, Keras-style slots.
# ------------------------------------------------------------------------------------------------------------------


def test_foreign_optimizer_variables_are_skipped_by_name(tmp_path):
  prefix, values, _, extras = _make_checkpoint(
      str(tmp_path / "v10"), "pretraining", slots=V10_SLOTS + NVIDIA_SLOTS + KERAS_SLOTS,
      scalars=("global_step",) + V10_SCALARS + NVIDIA_SCALARS)
  assert "bert/embeddings/word_embeddings/BERTAdam" in extras and "beta1_power" in extras
  assert "bert/encoder/layer_0/output/dense/kernel/accum" in extras and "loss_scale" in extras
  hf_dir = str(tmp_path / "hf")
  report = convert_checkpoint.tf_to_hf(prefix, hf_dir)
  assert report.task == "pretraining"
  assert sorted(report.skipped) == extras
  tensors = _load_safetensors(os.path.join(hf_dir, "model.safetensors"))
  assert sorted(tensors) == _expected_hf_names("pretraining")
  np.testing.assert_array_equal(tensors["cls.predictions.transform.dense.weight"],
                                values["cls/predictions/transform/dense/kernel"].T)
  np.testing.assert_array_equal(tensors["cls.predictions.bias"], values["cls/predictions/output_bias"])
  np.testing.assert_array_equal(tensors["bert.encoder.layer.0.output.LayerNorm.weight"],
                                values["bert/encoder/layer_0/output/LayerNorm/gamma"])
  stripped = convert_checkpoint.strip(prefix, str(tmp_path / "stripped"))
  assert sorted(stripped.skipped) == extras


def test_cli_prints_skipped_names(tmp_path):
  prefix, _, _, extras = _make_checkpoint(str(tmp_path / "ckpt"), "qa", slots=V10_SLOTS, scalars=V10_SCALARS)
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "convert_checkpoint.py"), "tf_to_hf", "--init_checkpoint=" + prefix,
       "--output_dir=" + str(tmp_path / "hf"), "--verbose"], capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr
  printed = sorted(l[len("skipped: "):] for l in result.stdout.splitlines() if l.startswith("skipped: "))
  assert printed == extras
  assert "architecture=BertForQuestionAnswering" in result.stdout.splitlines()[-1]


def test_cli_sums_up_skipped_variables_by_kind(tmp_path, capsys):
  prefix, _, _, extras = _make_checkpoint(
      str(tmp_path / "ckpt"), "pretraining", slots=ADAM_SLOTS + NVIDIA_SLOTS,
      scalars=("global_step",) + V10_SCALARS + NVIDIA_SCALARS + ("ema_decay",))
  n = sum(1 for name in extras if name.endswith("/adam_m"))      # model variables, one slot each
  assert len(extras) == 4 * n + 2 + 1 + 4 + 2 + 1
  expected = ("skipped %d variables: %d optimizer slots (adam_m, adam_v, shadow, beta1_power, beta2_power), "
              "1 step counter (global_step), 4 loss-scale variables (loss_scale, current_loss_scale, good_steps, "
              "bad_steps), %d gradient-accumulation variables (accum, local_step, batch_finite), "
              "1 other (ema_decay)" % (len(extras), 3 * n + 2, n + 2))
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "convert_checkpoint.py"), "tf_to_hf", "--init_checkpoint=" + prefix,
       "--output_dir=" + str(tmp_path / "hf")], capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert not [l for l in lines if l.startswith("skipped: ")]
  assert [l for l in lines if l.startswith("skipped ")] == [expected]
  assert "skipped %d; task=pretraining" % len(extras) in lines[-1]
  # The Python API prints the same line and still returns every name.
  report = convert_checkpoint.strip(prefix, str(tmp_path / "stripped"))
  assert sorted(report.skipped) == extras
  assert [l for l in capsys.readouterr().out.splitlines() if l.startswith("skipped")] == [expected]
  assert convert_checkpoint.skipped_summary(["x"] * 7).endswith("7 others (x, x, x, x, x, ...)")


# ------------------------------------------------------------------------------------------------------------------
# Task selection.
# ------------------------------------------------------------------------------------------------------------------


def test_root_output_weights_need_the_task_flag(checkpoints, tmp_path):
  prefix = checkpoints["ner"][0]
  with pytest.raises(errors.UserError, match="--task=ner or --task=re"):
    convert_checkpoint.tf_to_hf(prefix, str(tmp_path / "out"))
  assert not os.path.exists(str(tmp_path / "out"))
  with pytest.raises(errors.UserError, match="no cls/squad"):
    convert_checkpoint.tf_to_hf(prefix, str(tmp_path / "out"), task="qa")
  with pytest.raises(errors.UserError, match="--label_names has 2 names"):
    convert_checkpoint.tf_to_hf(prefix, str(tmp_path / "out"), task="ner", label_names=["a", "b"])
  # An NER head read as RE gets default label names "0".."6" and the sequence-classification class.
  report = convert_checkpoint.tf_to_hf(prefix, str(tmp_path / "re"), task="re")
  assert report.architecture == "BertForSequenceClassification"


def test_detect_task():
  bert = ["bert/embeddings/word_embeddings"]
  assert convert_checkpoint.detect_task(bert) == "base"
  assert convert_checkpoint.detect_task(bert + ["cls/squad/output_weights"]) == "qa"
  assert convert_checkpoint.detect_task(bert + ["cls/predictions/output_bias"]) == "mlm"
  assert convert_checkpoint.detect_task(
      bert + ["cls/predictions/output_bias", "cls/seq_relationship/output_weights"]) == "pretraining"
  with pytest.raises(errors.UserError):
    convert_checkpoint.detect_task(bert + ["output_weights"])


# ------------------------------------------------------------------------------------------------------------------
# 1. Real weights: MiniLM-L6 converted HF -> TF1 and run through our BertModel.
# ------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_tf(minilm_dir, tmp_path_factory):
  out = str(tmp_path_factory.mktemp("minilm") / "tf")
  report = convert_checkpoint.hf_to_tf(minilm_dir, out)
  assert report.skipped == ["embeddings.position_ids"]      # a buffer, not a weight
  assert len(report.converted) == 5 + 16 * 6 + 2
  assert "bert/pooler/dense/kernel" in report.converted      # MiniLM ships its pooler: pooled outputs are real
  return out


def _minilm_examples(shared_data, minilm_tf):
  """Token ids of the fixture's examples from our tokenizer; checks them against transformers' digests."""
  import tokenization  # pylint: disable=g-import-not-at-top
  reference = np.load(FIXTURE, allow_pickle=False)
  tokenizer = tokenization.FullTokenizer(os.path.join(minilm_tf, "vocab.txt"), do_lower_case=True)
  features = []
  for k, (dataset, a, b) in enumerate(make_minilm_reference.fixture_examples(reference)):
    text = make_minilm_reference.example_text(shared_data, dataset, a, b)
    parts = text.split(" ||| ")
    tokens = ["[CLS]"] + tokenizer.tokenize(parts[0]) + ["[SEP]"]
    segments = [0] * len(tokens)
    if len(parts) == 2:
      tail = tokenizer.tokenize(parts[1]) + ["[SEP]"]
      tokens += tail
      segments += [1] * len(tail)
    ids = tokenizer.convert_tokens_to_ids(tokens)
    assert make_minilm_reference.ids_digest(ids) == reference["ids_sha256"][k], (dataset, a, b, tokens)
    features.append((ids, segments))
  return reference, features


def _run_bert(tf_dir, features):
  """sequence_output [N,S,H] and pooled_output [N,H] of our BertModel on the converted checkpoint."""
  seq_len = max(len(ids) for ids, _ in features)
  ids = np.zeros((len(features), seq_len), np.int32)
  mask = np.zeros_like(ids)
  segments = np.zeros_like(ids)
  for i, (row, seg) in enumerate(features):
    ids[i, :len(row)] = row
    mask[i, :len(row)] = 1
    segments[i, :len(row)] = seg
  config = modeling.BertConfig.from_json_file(os.path.join(tf_dir, "bert_config.json"))
  prefix = os.path.join(tf_dir, "bert_model.ckpt")
  with tf.Graph().as_default():
    model = modeling.BertModel(config, False, tf.constant(ids), tf.constant(mask), tf.constant(segments),
                               use_one_hot_embeddings=False)
    tvars = tf.compat.v1.trainable_variables()
    assignment_map, _ = modeling.get_assignment_map_from_checkpoint(tvars, prefix)
    assert len(assignment_map) == len(tvars)
    tf.compat.v1.train.init_from_checkpoint(prefix, assignment_map)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      seq, pooled = sess.run([model.get_sequence_output(), model.get_pooled_output()])
  return seq, pooled, mask.astype(bool)


def test_minilm_matches_transformers_reference(shared_data, minilm_tf):
  reference, features = _minilm_examples(shared_data, minilm_tf)
  assert len(features) >= 20
  seq, pooled, mask = _run_bert(minilm_tf, features)
  np.testing.assert_array_equal(mask.sum(1), reference["lengths"])
  layer = list(reference["layers"]).index(-1)
  ours = seq[mask][:, reference["hidden_dims"]]                    # real tokens, example by example
  seq_diff = np.abs(ours - reference["hidden"][layer]).max()
  pooled_diff = np.abs(pooled - reference["pooled"]).max()
  full_diff = np.abs(seq[0, :reference["lengths"][0]] - reference["sequence_full"]).max()
  print("MiniLM vs transformers (fixture): sequence %.3g, pooled %.3g, full rows %.3g" % (
      seq_diff, pooled_diff, full_diff))
  assert seq_diff <= 1e-5 and pooled_diff <= 1e-5 and full_diff <= 1e-5
  assert np.abs(reference["pooled"]).max() > 0.1             # a real signal, not zeros


def test_minilm_matches_transformers_live(shared_data, minilm_dir, minilm_tf):
  transformers = pytest.importorskip("transformers")
  torch = pytest.importorskip("torch")
  _, features = _minilm_examples(shared_data, minilm_tf)
  seq, pooled, mask = _run_bert(minilm_tf, features)
  model = transformers.BertModel.from_pretrained(minilm_dir).eval()
  assert "pooler.dense.weight" in _load_safetensors(os.path.join(minilm_dir, "model.safetensors"))
  ids = np.zeros(mask.shape, np.int64)
  segments = np.zeros(mask.shape, np.int64)
  for i, (row, seg) in enumerate(features):
    ids[i, :len(row)] = row
    segments[i, :len(row)] = seg
  with torch.no_grad():
    out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask.astype(np.int64)),
                token_type_ids=torch.tensor(segments))
  seq_diff = np.abs(seq[mask] - out.last_hidden_state.numpy()[mask]).max()
  pooled_diff = np.abs(pooled - out.pooler_output.numpy()).max()
  print("MiniLM vs transformers (live): sequence %.3g, pooled %.3g" % (seq_diff, pooled_diff))
  assert seq_diff <= 1e-5 and pooled_diff <= 1e-5


def test_minilm_round_trip_back_to_hf(minilm_dir, minilm_tf, tmp_path):
  """HF -> TF1 -> HF gives back MiniLM's tensors bit for bit (a bare encoder: no `bert.` prefix, as saved)."""
  out = str(tmp_path / "hf")
  report = convert_checkpoint.tf_to_hf(os.path.join(minilm_tf, "bert_model.ckpt"), out)
  assert report.architecture == "BertModel" and report.skipped == []
  original = _load_safetensors(os.path.join(minilm_dir, "model.safetensors"))
  again = _load_safetensors(os.path.join(out, "model.safetensors"))
  assert sorted(again) == sorted(k for k in original if k != "embeddings.position_ids")
  for name, value in again.items():
    np.testing.assert_array_equal(value, original[name], err_msg=name)


# ------------------------------------------------------------------------------------------------------------------
# Bad input: one clear error, nothing left behind.
# ------------------------------------------------------------------------------------------------------------------


def _hf_folder(tmp_path, config_changes=None, tensors=None):
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  folder = tmp_path / "hf_in"
  folder.mkdir()
  config = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": len(VOCAB), "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 16,
            "max_position_embeddings": 16, "type_vocab_size": 2, "hidden_act": "gelu"}
  config.update(config_changes or {})
  (folder / "config.json").write_text(json.dumps(config))
  (folder / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB))
  if tensors is None:
    tensors = {p.hf_name[len("bert."):]: np.ones([8 if d is None else d for d in
                                                  (p.shape[::-1] if p.transpose else p.shape)], np.float32)
               for p in convert_checkpoint.encoder_params(dict(TINY, hidden_size=8, num_hidden_layers=1,
                                                               intermediate_size=16, max_position_embeddings=16))}
  save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
  return str(folder)


def _assert_user_error(tmp_path, match, fn, *args, **kwargs):
  out = tmp_path / "out"
  with pytest.raises(errors.UserError, match=match) as raised:
    fn(*args, output_dir=str(out), **kwargs)
  assert "\n" not in str(raised.value)
  assert not out.exists()
  assert not [n for n in os.listdir(str(tmp_path)) if n.startswith(".out.")]      # no temp folder left
  return raised.value


def test_hf_folder_errors(tmp_path):
  good = _hf_folder(tmp_path)
  convert_checkpoint.hf_to_tf(good, str(tmp_path / "ok"))                   # the base case converts
  for changes, match in [({"model_type": "roberta"}, "model_type is 'roberta', not 'bert'"),
                         ({"position_embedding_type": "relative_key"}, "position_embedding_type"),
                         ({"hidden_act": "gelu_new"}, "hidden_act 'gelu_new'"),
                         ({"layer_norm_eps": 1e-5}, "layer_norm_eps"),
                         ({"vocab_size": len(VOCAB) - 1}, "100 entries but .* says vocab_size 99"),
                         ({"hidden_size": 16}, "has shape .* but the config implies"),
                         ({"num_hidden_layers": 2}, "lacks .* encoder weight")]:
    config = json.load(open(os.path.join(good, "config.json")))
    config.update(changes)
    bad = tmp_path / ("bad_" + "_".join(changes))
    os.makedirs(str(bad))
    for name in ("vocab.txt", "model.safetensors"):
      with open(os.path.join(good, name), "rb") as src, open(str(bad / name), "wb") as dst:
        dst.write(src.read())
    (bad / "config.json").write_text(json.dumps(config))
    _assert_user_error(tmp_path, match, convert_checkpoint.hf_to_tf, str(bad))

  # Truncated safetensors.
  with open(os.path.join(good, "model.safetensors"), "rb") as f:
    data = f.read()
  with open(os.path.join(good, "model.safetensors"), "wb") as f:
    f.write(data[:len(data) - 100])
  _assert_user_error(tmp_path, "truncated", convert_checkpoint.hf_to_tf, good)
  os.remove(os.path.join(good, "model.safetensors"))
  _assert_user_error(tmp_path, "no model.safetensors", convert_checkpoint.hf_to_tf, good)
  _assert_user_error(tmp_path, "does not exist", convert_checkpoint.hf_to_tf, str(tmp_path / "nowhere"))


def test_tf_checkpoint_errors(checkpoints, tmp_path):
  prefix = checkpoints["qa"][0]
  folder = os.path.dirname(prefix)
  wrong = tmp_path / "wrong"
  wrong.mkdir()
  for changes, match in [({"vocab_size": len(VOCAB) + 4}, "has shape \\[100, 64\\] but the config implies \\[104, 64\\]"),
                         ({"vocab_size": len(VOCAB) - 4}, "100 entries but .* says vocab_size 96"),
                         ({"hidden_size": 32}, "shape"),
                         ({"num_hidden_layers": 1}, "has 2 encoder layers but .* num_hidden_layers 1"),
                         ({"num_hidden_layers": 3}, "has 2 encoder layers but .* num_hidden_layers 3")]:
    config_file = str(wrong / "bert_config.json")
    with open(config_file, "w") as f:
      json.dump(dict(TINY, **changes), f)
    _assert_user_error(tmp_path, match, convert_checkpoint.tf_to_hf, prefix, bert_config_file=config_file)
  _assert_user_error(tmp_path, "no such TF checkpoint", convert_checkpoint.tf_to_hf, prefix + "-999")
  _assert_user_error(tmp_path, "vocab_file: .* does not exist", convert_checkpoint.tf_to_hf, prefix,
                     vocab_file=str(tmp_path / "missing.txt"))
  # A cased vocabulary released with lower-casing on: refused.
  cased = tmp_path / "cased.txt"
  cased.write_text("".join(t + "\n" for t in VOCAB[:5] + ["W%d" % i for i in range(95)]))
  _assert_user_error(tmp_path, "looks cased", convert_checkpoint.tf_to_hf, prefix, vocab_file=str(cased),
                     do_lower_case=True)
  out = str(tmp_path / "cased_ok")
  convert_checkpoint.tf_to_hf(prefix, out, vocab_file=str(cased))
  assert json.load(open(os.path.join(out, "tokenizer_config.json")))["do_lower_case"] is False
  # An existing non-empty output folder is not replaced without --overwrite, and is replaced with it.
  with pytest.raises(errors.UserError, match="not empty"):
    convert_checkpoint.tf_to_hf(prefix, out)
  convert_checkpoint.tf_to_hf(prefix, out, overwrite=True)
  assert json.load(open(os.path.join(out, "tokenizer_config.json")))["do_lower_case"] is True
  assert os.path.isfile(os.path.join(folder, "bert_config.json"))


def test_cli_error_is_one_line_and_exit_2(tmp_path):
  folder = tmp_path / "notbert"
  folder.mkdir()
  (folder / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 10}))
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "convert_checkpoint.py"), "--mode=hf_to_tf", "--hf_dir=" + str(folder),
       "--output_dir=" + str(tmp_path / "out")], capture_output=True, text=True, cwd=ROOT)
  assert result.returncode == 2
  errors_printed = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors_printed) == 1 and "model_type is 'gpt2'" in errors_printed[0]
  assert not (tmp_path / "out").exists()


def _write_bf16_safetensors(path, tensors):
  """A safetensors file with BF16 tensors (written by hand: numpy has no bfloat16)."""
  header, blobs, offset = {}, [], 0
  for name, value in sorted(tensors.items()):
    raw = (np.ascontiguousarray(value, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
    header[name] = {"dtype": "BF16", "shape": list(value.shape), "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
  header["__metadata__"] = {"format": "pt"}
  encoded = json.dumps(header).encode("utf-8")
  encoded += b" " * (-len(encoded) % 8)
  with open(path, "wb") as f:
    f.write(np.uint64(len(encoded)).tobytes() + encoded + b"".join(blobs))


def test_bf16_and_sharded_safetensors(tmp_path):
  folder = _hf_folder(tmp_path)
  tensors = _load_safetensors(os.path.join(folder, "model.safetensors"))
  rng = np.random.RandomState(0)
  # Values a bfloat16 holds exactly (float32 with the low 16 bits zero), so the widening is checkable bit for bit.
  tensors = {k: (rng.normal(size=v.shape).astype(np.float32).view(np.uint32) & 0xFFFF0000).view(np.float32)
             for k, v in tensors.items()}
  _write_bf16_safetensors(os.path.join(folder, "model.safetensors"), tensors)
  convert_checkpoint.hf_to_tf(folder, str(tmp_path / "bf16"))
  restored = _read_checkpoint(str(tmp_path / "bf16" / "bert_model.ckpt"))
  np.testing.assert_array_equal(restored["bert/encoder/layer_0/output/dense/kernel"],
                                tensors["encoder.layer.0.output.dense.weight"].T)
  assert restored["bert/embeddings/word_embeddings"].dtype == np.float32

  # The same weights in two shards named by model.safetensors.index.json.
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top
  os.remove(os.path.join(folder, "model.safetensors"))
  names = sorted(tensors)
  shards = {"model-00001-of-00002.safetensors": names[:10], "model-00002-of-00002.safetensors": names[10:]}
  for shard, shard_names in shards.items():
    save_file({n: tensors[n] for n in shard_names}, os.path.join(folder, shard), metadata={"format": "pt"})
  with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
    json.dump({"weight_map": {n: s for s, ns in shards.items() for n in ns}}, f)
  convert_checkpoint.hf_to_tf(folder, str(tmp_path / "sharded"))
  again = _read_checkpoint(str(tmp_path / "sharded" / "bert_model.ckpt"))
  assert sorted(again) == sorted(restored)
  for name in again:
    np.testing.assert_array_equal(again[name], restored[name])


@pytest.mark.parametrize("task", ["pretraining", "ner", "re", "qa"])
def test_transformers_saved_folder_converts_to_tf(tmp_path, task):
  """A folder written by transformers' save_pretrained -> TF1 -> the runners' head math gives transformers' logits."""
  transformers = pytest.importorskip("transformers")
  torch = pytest.importorskip("torch")
  cls = {"pretraining": transformers.BertForPreTraining, "ner": transformers.BertForTokenClassification,
         "re": transformers.BertForSequenceClassification, "qa": transformers.BertForQuestionAnswering}[task]
  num_labels = {"ner": 7, "re": len(RE_LABELS)}.get(task, 2)
  hf_config = transformers.BertConfig(num_labels=num_labels, layer_norm_eps=1e-12,
                                      **{k: v for k, v in TINY.items() if k != "initializer_range"})
  torch.manual_seed(0)
  model = cls(hf_config).eval()
  with torch.no_grad():
    for param in model.parameters():                    # non-trivial biases and LayerNorm parameters too
      param.copy_(torch.randn_like(param) * 0.3)
  hf_dir = str(tmp_path / "hf")
  model.save_pretrained(hf_dir)
  with open(os.path.join(hf_dir, "vocab.txt"), "w") as f:
    f.write("".join(t + "\n" for t in VOCAB))
  tf_dir = str(tmp_path / "tf")
  report = convert_checkpoint.hf_to_tf(hf_dir, tf_dir)
  assert report.task == task and report.skipped == []
  ids, mask, segments, positions = _inputs()
  with torch.no_grad():
    out = model(input_ids=torch.tensor(ids).long(), attention_mask=torch.tensor(mask).long(),
                token_type_ids=torch.tensor(segments).long())

  prefix = os.path.join(tf_dir, "bert_model.ckpt")
  config = modeling.BertConfig.from_json_file(os.path.join(tf_dir, "bert_config.json"))
  with tf.Graph().as_default():
    bert = modeling.BertModel(config, False, tf.constant(ids), tf.constant(mask), tf.constant(segments),
                              use_one_hot_embeddings=False)
    outputs = _build_heads(task, bert, config, tf.constant(positions))
    tvars = tf.compat.v1.global_variables()
    assignment_map, _ = modeling.get_assignment_map_from_checkpoint(tvars, prefix)
    unloaded = sorted(v.op.name for v in tvars if v.op.name not in assignment_map)
    # Token classification and QA models have no pooler in transformers; TF builds one that they do not use.
    assert unloaded == ([] if task in ("pretraining", "re") else ["bert/pooler/dense/bias", "bert/pooler/dense/kernel"])
    tf.compat.v1.train.init_from_checkpoint(prefix, assignment_map)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      tf_out = sess.run(outputs)
  real = mask.astype(bool)
  if task == "pretraining":
    mlm = out.prediction_logits.numpy()[np.arange(BATCH)[:, None], positions]
    np.testing.assert_allclose(tf_out["mlm"], mlm, atol=1e-5, rtol=0)
    np.testing.assert_allclose(tf_out["nsp"], out.seq_relationship_logits.numpy(), atol=1e-5, rtol=0)
  elif task == "ner":
    np.testing.assert_allclose(tf_out["logits"][real], out.logits.numpy()[real], atol=1e-5, rtol=0)
  elif task == "re":
    np.testing.assert_allclose(tf_out["logits"], out.logits.numpy(), atol=1e-5, rtol=0)
  else:
    np.testing.assert_allclose(tf_out["start"][real], out.start_logits.numpy()[real], atol=1e-5, rtol=0)
    np.testing.assert_allclose(tf_out["end"][real], out.end_logits.numpy()[real], atol=1e-5, rtol=0)
