"""Tests of modeling.py: the BERT graph, its variable names, its numbers and its precision options.

References are independent of the code under test: the variable list is written from the original's
names, GELU is checked against math.erf, LayerNorm against numpy, and a real pre-trained BERT (MiniLM)
is run both here and in Hugging Face transformers (PyTorch).
"""

import json
import math
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import errors
import modeling


# ------------------------------------------------------------------------------------------------------------
# Helpers.


def expected_bert_variables(vocab_size, hidden, intermediate, layers, max_positions, type_vocab):
  """The original BERT checkpoint's variable names and shapes, written out from its naming scheme."""
  h, i = hidden, intermediate
  names = {
      "bert/embeddings/word_embeddings": [vocab_size, h],
      "bert/embeddings/token_type_embeddings": [type_vocab, h],
      "bert/embeddings/position_embeddings": [max_positions, h],
      "bert/embeddings/LayerNorm/beta": [h],
      "bert/embeddings/LayerNorm/gamma": [h],
      "bert/pooler/dense/kernel": [h, h],
      "bert/pooler/dense/bias": [h],
  }
  for n in range(layers):
    p = "bert/encoder/layer_%d/" % n
    for proj in ("query", "key", "value"):
      names[p + "attention/self/%s/kernel" % proj] = [h, h]
      names[p + "attention/self/%s/bias" % proj] = [h]
    names[p + "attention/output/dense/kernel"] = [h, h]
    names[p + "attention/output/dense/bias"] = [h]
    names[p + "attention/output/LayerNorm/beta"] = [h]
    names[p + "attention/output/LayerNorm/gamma"] = [h]
    names[p + "intermediate/dense/kernel"] = [h, i]
    names[p + "intermediate/dense/bias"] = [i]
    names[p + "output/dense/kernel"] = [i, h]
    names[p + "output/dense/bias"] = [h]
    names[p + "output/LayerNorm/beta"] = [h]
    names[p + "output/LayerNorm/gamma"] = [h]
  return names


def biobert_base_config():
  # BioBERT-Base v1.1's bert_config.json (BERT-base cased shape).
  return modeling.BertConfig(
      vocab_size=28996, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
      intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
      attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
      initializer_range=0.02)


def tiny_config(**overrides):
  fields = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=37, max_position_embeddings=64, type_vocab_size=3)
  fields.update(overrides)
  return modeling.BertConfig(**fields)


def graph_variables():
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}


def random_inputs(batch, seq, vocab, type_vocab=2, seed=0):
  rng = np.random.RandomState(seed)
  ids = rng.randint(1, vocab, size=(batch, seq)).astype(np.int32)
  mask = np.ones((batch, seq), np.int32)
  for b in range(1, batch):
    mask[b, seq - (b * seq) // (batch + 1):] = 0  # different padding lengths per row
  types = rng.randint(0, type_vocab, size=(batch, seq)).astype(np.int32)
  return ids, mask, types


def relative_error(approx, exact):
  """||approx - exact||_F / ||exact||_F (Frobenius norms over the whole tensor)."""
  return float(np.linalg.norm(approx.astype(np.float64) - exact) / np.linalg.norm(exact.astype(np.float64)))


# ------------------------------------------------------------------------------------------------------------
# (1) Variable names and shapes, and the checkpoint.


def test_bert_base_has_exactly_the_original_199_variables():
  expected = expected_bert_variables(28996, 768, 3072, 12, 512, 2)
  assert len(expected) == 199
  with tf.Graph().as_default():
    input_ids = tf.compat.v1.placeholder(tf.int32, [2, 128])
    modeling.BertModel(biobert_base_config(), is_training=True, input_ids=input_ids)
    got = graph_variables()
    assert got == expected
    assert all(v.dtype.base_dtype == tf.float32 for v in tf.compat.v1.global_variables())
    assert len(tf.compat.v1.trainable_variables()) == 199


def test_bf16_bert_base_checkpoint_has_the_original_float32_names(tmp_path):
  expected = expected_bert_variables(28996, 768, 3072, 12, 512, 2)
  with tf.Graph().as_default():
    input_ids = tf.compat.v1.placeholder(tf.int32, [2, 128])
    model = modeling.BertModel(biobert_base_config(), is_training=True, input_ids=input_ids,
                               use_one_hot_embeddings=False, compute_type="bf16")
    assert graph_variables() == expected
    assert {v.dtype.base_dtype for v in tf.compat.v1.global_variables()} == {tf.float32}
    assert model.get_embedding_table().dtype.base_dtype == tf.float32
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      path = saver.save(sess, str(tmp_path / "model.ckpt"))
  listed = dict(tf.train.list_variables(path))
  assert listed == expected
  for name in listed:
    assert "replica_" not in name and ":" not in name and not name.startswith("keras")
  reader = tf.train.load_checkpoint(path)
  assert set(reader.get_variable_to_dtype_map().values()) == {tf.float32}


# ------------------------------------------------------------------------------------------------------------
# (2) Reduced-precision compute agrees with float32 on the same weights.


def _forward_fp32_and(compute_type, config, batch, seq, seed):
  """Runs one float32 and one `compute_type` model sharing the same (initialized) variables."""
  ids, mask, types = random_inputs(batch, seq, config.vocab_size, config.type_vocab_size, seed)
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(seed)
    args = dict(input_ids=tf.constant(ids), input_mask=tf.constant(mask), token_type_ids=tf.constant(types),
                use_one_hot_embeddings=False, scope="bert")
    reference = modeling.BertModel(config, is_training=False, **args)
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
      low = modeling.BertModel(config, is_training=False, compute_type=compute_type, **args)
    assert len(tf.compat.v1.global_variables()) == 5 + 16 * config.num_hidden_layers + 2
    outputs = [reference.get_sequence_output(), reference.get_pooled_output(),
               low.get_sequence_output(), low.get_pooled_output()]
    assert all(t.dtype == tf.float32 for t in outputs)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return sess.run(outputs)


def test_bf16_bert_base_forward_agrees_with_fp32():
  seq32, pooled32, seq16, pooled16 = _forward_fp32_and("bf16", biobert_base_config(), 2, 64, seed=3)
  # Relative error = ||bf16 - fp32||_F / ||fp32||_F.
  assert relative_error(seq16, seq32) <= 2e-2
  assert relative_error(pooled16, pooled32) <= 2e-2
  assert not np.array_equal(seq16, seq32)  # the bf16 path really ran in reduced precision


def test_fp16_tiny_forward_agrees_with_fp32():
  config = tiny_config(hidden_size=64, intermediate_size=128)
  seq32, pooled32, seq16, pooled16 = _forward_fp32_and(tf.float16, config, 3, 16, seed=4)
  assert relative_error(seq16, seq32) <= 5e-3
  assert relative_error(pooled16, pooled32) <= 5e-3
  assert not np.array_equal(seq16, seq32)


def test_bf16_gradients_reach_float32_variables():
  config = tiny_config()
  with tf.Graph().as_default():
    ids, mask, types = random_inputs(2, 8, config.vocab_size, config.type_vocab_size)
    model = modeling.BertModel(config, True, tf.constant(ids), tf.constant(mask), tf.constant(types),
                               compute_type="bf16")
    with modeling.precision_scope("bf16") as dtype:
      assert dtype == tf.bfloat16
      logits = modeling.dense(model.get_pooled_output(), 3, name="classifier")
      assert logits.dtype == tf.bfloat16
    loss = tf.reduce_sum(tf.cast(logits, tf.float32))
    tvars = tf.compat.v1.trainable_variables()
    assert "classifier/kernel" in [v.op.name for v in tvars]
    grads = tf.compat.v1.gradients(loss, tvars)
    assert all(g is not None and g.dtype == tf.float32 for g in grads)
    assert all(v.dtype.base_dtype == tf.float32 for v in tvars)


@pytest.mark.parametrize("compute_type", ["fp32", "bf16"])
def test_mirrored_replicas_share_the_original_names(tmp_path, compute_type):
  # conftest splits the CPU into two logical devices.
  config = tiny_config(max_position_embeddings=16)
  ids, mask, types = random_inputs(2, 8, config.vocab_size, config.type_vocab_size)
  with tf.Graph().as_default():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])

    def replica_fn():
      model = modeling.BertModel(config, False, tf.constant(ids), tf.constant(mask), tf.constant(types),
                                 compute_type=compute_type)
      with modeling.precision_scope(compute_type):
        logits = modeling.dense(model.get_pooled_output(), 2, name="classifier")
      return tf.reduce_sum(tf.cast(logits, tf.float32) ** 2)

    with strategy.scope():
      per_replica = strategy.extended.call_for_each_replica(replica_fn)
      saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      first, second = sess.run(strategy.experimental_local_results(per_replica))
      path = saver.save(sess, str(tmp_path / "model.ckpt"))
  assert first == second  # same inputs, same (shared) weights
  expected = expected_bert_variables(config.vocab_size, 32, 37, 2, 16, config.type_vocab_size)
  expected.update({"classifier/kernel": [32, 2], "classifier/bias": [2]})
  assert dict(tf.train.list_variables(path)) == expected


def test_compute_dtype_names():
  assert modeling.compute_dtype("fp32") == tf.float32
  assert modeling.compute_dtype("BF16") == tf.bfloat16
  assert modeling.compute_dtype("fp16") == tf.float16
  assert modeling.compute_dtype(tf.bfloat16) == tf.bfloat16
  assert modeling.compute_dtype(None) == tf.float32
  assert modeling.get_custom_getter("fp32") is None
  with pytest.raises(errors.UserError, match="fp8"):
    modeling.compute_dtype("fp8")
  with pytest.raises(errors.UserError, match="int32"):
    modeling.compute_dtype(tf.int32)


# ------------------------------------------------------------------------------------------------------------
# (3) A real pre-trained BERT against Hugging Face transformers.


def _hf_name_to_ours(name):
  """`encoder.layer.0.attention.self.query.weight` -> (`bert/encoder/layer_0/attention/self/query/kernel`, transpose)."""
  if name.startswith("bert."):
    name = name[len("bert."):]
  name = re.sub(r"layer\.(\d+)\.", r"layer_\1.", name).replace(".", "/")
  if "/LayerNorm/" in name:
    return "bert/" + name.replace("/weight", "/gamma").replace("/bias", "/beta"), False
  if name.startswith("embeddings/"):
    return "bert/" + name[:-len("/weight")], False
  if name.endswith("/weight"):
    return "bert/" + name[:-len("/weight")] + "/kernel", True
  return "bert/" + name, False


def test_minilm_weights_match_transformers(minilm_dir):
  torch = pytest.importorskip("torch")
  transformers = pytest.importorskip("transformers")
  safetensors_numpy = pytest.importorskip("safetensors.numpy")
  tokenizers = pytest.importorskip("tokenizers")

  tokenizer = tokenizers.BertWordPieceTokenizer(os.path.join(minilm_dir, "vocab.txt"), lowercase=True)
  pairs = [("Mutations in the BRCA1 gene increase the risk of breast cancer.", None),
           ("Aspirin inhibits cyclooxygenase.", "Ibuprofen is another NSAID."),
           ("The patient was treated with 5-fluorouracil and leucovorin for metastatic colorectal "
            "adenocarcinoma; no grade 3 toxicity was observed.", None)]
  encodings = [tokenizer.encode(a, b) if b else tokenizer.encode(a) for a, b in pairs]
  seq = max(len(e.ids) for e in encodings)
  ids = np.zeros((len(pairs), seq), np.int32)
  mask = np.zeros_like(ids)
  types = np.zeros_like(ids)
  for row, e in enumerate(encodings):
    ids[row, :len(e.ids)] = e.ids
    mask[row, :len(e.ids)] = 1
    types[row, :len(e.ids)] = e.type_ids
  assert types.max() == 1 and mask.min() == 0  # a segment-B row and a padded row are exercised

  hf = transformers.BertModel.from_pretrained(minilm_dir, attn_implementation="eager").float().eval()
  with torch.no_grad():
    out = hf(input_ids=torch.from_numpy(ids.astype(np.int64)),
             attention_mask=torch.from_numpy(mask.astype(np.int64)),
             token_type_ids=torch.from_numpy(types.astype(np.int64)))
  hf_sequence = out.last_hidden_state.numpy()
  hf_pooled = out.pooler_output.numpy()

  weights = safetensors_numpy.load_file(os.path.join(minilm_dir, "model.safetensors"))
  ours = {}
  for name, value in weights.items():
    if name.endswith("position_ids"):
      continue  # a buffer, not a weight
    target, transpose = _hf_name_to_ours(name)
    ours[target] = value.T if transpose else value

  config = modeling.BertConfig.from_json_file(os.path.join(minilm_dir, "config.json"))
  assert config.layer_norm_eps == 1e-12  # an unknown key, kept
  with tf.Graph().as_default():
    model = modeling.BertModel(config, is_training=False, input_ids=tf.constant(ids),
                               input_mask=tf.constant(mask), token_type_ids=tf.constant(types),
                               use_one_hot_embeddings=False)
    variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
    assert set(variables) == set(ours)
    with tf.compat.v1.Session() as sess:
      for name, variable in variables.items():
        assert variable.shape.as_list() == list(ours[name].shape), name
        sess.run(variable.initializer, {variable.initial_value: ours[name]})
      sequence, pooled = sess.run([model.get_sequence_output(), model.get_pooled_output()])

  assert np.abs(sequence - hf_sequence).max() <= 1e-5
  assert np.abs(pooled - hf_pooled).max() <= 1e-5


# ------------------------------------------------------------------------------------------------------------
# (4) The original's modeling tests and the numeric details.


def test_output_shapes_and_reachability():
  # The original modeling_test's setup: batch 13, seq 7, vocab 99, hidden 32, 5 layers, 4 heads, 37 inner.
  config = modeling.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=5, num_attention_heads=4,
                               intermediate_size=37, max_position_embeddings=512, type_vocab_size=16)
  with tf.Graph().as_default():
    ids, mask, types = random_inputs(13, 7, 99, 16)
    model = modeling.BertModel(config, True, tf.constant(ids), tf.constant(mask), tf.constant(types),
                               scope="bert")
    outputs = {
        "embedding_output": model.get_embedding_output(),
        "sequence_output": model.get_sequence_output(),
        "pooled_output": model.get_pooled_output(),
        "all_encoder_layers": model.get_all_encoder_layers(),
    }
    # Every op of the graph is reachable from the outputs (no dangling computation), as the original checks
    # (before the initializer op exists).
    graph = tf.compat.v1.get_default_graph()
    reached = set()
    stack = [t.op for t in tf.nest.flatten(outputs)]
    while stack:
      op = stack.pop()
      if op.name in reached:
        continue
      reached.add(op.name)
      stack.extend(t.op for t in op.inputs)
      stack.extend(op.control_inputs)
      for consumer in op.outputs:
        stack.extend(c for c in consumer.consumers())
    unreachable = [op.name for op in graph.get_operations() if op.name not in reached]
    assert not unreachable
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      values = sess.run(outputs)
    assert values["embedding_output"].shape == (13, 7, 32)
    assert values["sequence_output"].shape == (13, 7, 32)
    assert values["pooled_output"].shape == (13, 32)
    assert len(values["all_encoder_layers"]) == 5
    assert all(v.shape == (13, 7, 32) for v in values["all_encoder_layers"])
    np.testing.assert_array_equal(values["all_encoder_layers"][-1], values["sequence_output"])
    assert np.all(np.abs(values["pooled_output"]) <= 1.0)  # tanh
    assert model.get_embedding_table().shape.as_list() == [99, 32]


def test_config_json_round_trip_keeps_unknown_keys(tmp_path):
  config = modeling.BertConfig.from_dict({"vocab_size": 99, "hidden_size": 37, "new_field": [1, 2]})
  obj = json.loads(config.to_json_string())
  assert obj["vocab_size"] == 99 and obj["hidden_size"] == 37 and obj["new_field"] == [1, 2]
  # Unset fields keep the constructor defaults of the original.
  assert obj["num_hidden_layers"] == 12 and obj["type_vocab_size"] == 16 and obj["hidden_act"] == "gelu"
  assert obj["initializer_range"] == 0.02 and obj["max_position_embeddings"] == 512

  text = biobert_base_config().to_json_string()
  assert text.endswith("}\n") and text.startswith('{\n  "attention_probs_dropout_prob": 0.1,\n')
  assert list(json.loads(text)) == sorted([
      "attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob", "hidden_size", "initializer_range",
      "intermediate_size", "max_position_embeddings", "num_attention_heads", "num_hidden_layers",
      "type_vocab_size", "vocab_size"])
  path = tmp_path / "bert_config.json"
  path.write_text(config.to_json_string().replace("37", "36"))  # 36 heads-divisible for validation
  again = modeling.BertConfig.from_json_file(str(path))
  assert again.to_dict() == dict(config.to_dict(), hidden_size=36)


def _run(tensors, feed=None):
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    return sess.run(tensors, feed)


def test_gelu_is_the_exact_erf_form():
  xs = np.array([-6.0, -3.0, -1.5, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 1.5, 3.0, 6.0])
  with tf.Graph().as_default():
    got = _run(modeling.gelu(tf.constant(xs, tf.float32)))
  exact = np.array([x * 0.5 * (1.0 + math.erf(x / math.sqrt(2.0))) for x in xs])
  np.testing.assert_allclose(got, exact, rtol=1e-6, atol=1e-7)
  tanh_approx = 0.5 * xs * (1 + np.tanh(math.sqrt(2 / math.pi) * (xs + 0.044715 * xs ** 3)))
  assert np.abs(got - tanh_approx).max() > 1e-4  # distinguishes erf from the tanh approximation


def test_get_activation():
  assert modeling.get_activation("gelu") is modeling.gelu
  assert modeling.get_activation("GELU") is modeling.gelu
  assert modeling.get_activation("relu") is tf.nn.relu
  assert modeling.get_activation("tanh") is tf.tanh
  assert modeling.get_activation("linear") is None
  assert modeling.get_activation("") is None
  assert modeling.get_activation(None) is None
  assert modeling.get_activation(tf.sigmoid) is tf.sigmoid
  with pytest.raises(ValueError, match="swish"):
    modeling.get_activation("swish")


def test_layer_norm_epsilon_is_1e_12():
  rng = np.random.RandomState(0)
  # Rows with a tiny variance (~1e-10): epsilon 1e-12 barely matters, epsilon 1e-3 (Keras) or 1e-6 would.
  x = (rng.randn(4, 16) * 1e-5).astype(np.float32)
  x[3] = 0.25  # a constant row: zero variance, output = beta
  gamma = rng.uniform(0.5, 1.5, 16).astype(np.float32)
  beta = rng.randn(16).astype(np.float32)
  with tf.Graph().as_default():
    out = modeling.layer_norm(tf.constant(x))
    names = {v.op.name: v for v in tf.compat.v1.global_variables()}
    assert sorted(names) == ["LayerNorm/beta", "LayerNorm/gamma"]
    with tf.compat.v1.Session() as sess:
      sess.run(names["LayerNorm/gamma"].initializer, {names["LayerNorm/gamma"].initial_value: gamma})
      sess.run(names["LayerNorm/beta"].initializer, {names["LayerNorm/beta"].initial_value: beta})
      got = sess.run(out)

  def reference(eps):
    x64 = x.astype(np.float64)
    mean = x64.mean(-1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(-1, keepdims=True)  # population variance
    return (x64 - mean) / np.sqrt(var + eps) * gamma + beta

  np.testing.assert_allclose(got[:3], reference(1e-12)[:3], rtol=1e-3, atol=1e-4)
  assert np.abs(got[:3] - reference(1e-6)[:3]).max() > 0.1
  # A constant row normalises to beta, up to the float32 cancellation of the original's formula
  # x * (gamma / sqrt(var + eps)) + (beta - mean * gamma / sqrt(var + eps)), whose terms are ~1e6 here.
  np.testing.assert_allclose(got[3], beta, atol=0.05)


def test_initializer_is_tf1_truncated_normal():
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    values = _run(modeling.create_initializer(0.02)([400, 500]))
  assert np.abs(values).max() <= 0.04  # truncated at 2 standard deviations
  # The standard deviation of a normal truncated at +-2 sigma is 0.8796 sigma.
  assert abs(values.std() - 0.02 * 0.8796) < 2e-4


def test_one_hot_and_gather_embeddings_are_identical():
  config = tiny_config()
  ids, mask, types = random_inputs(3, 9, config.vocab_size, config.type_vocab_size)
  with tf.Graph().as_default():
    args = dict(input_ids=tf.constant(ids), input_mask=tf.constant(mask), token_type_ids=tf.constant(types),
                scope="bert")
    one_hot = modeling.BertModel(config, False, use_one_hot_embeddings=True, **args)
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
      gather = modeling.BertModel(config, False, use_one_hot_embeddings=False, **args)
    a, b = _run([one_hot.get_sequence_output(), gather.get_sequence_output()])
  np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_padding_is_masked_as_key_only():
  config = tiny_config()
  ids, _, types = random_inputs(2, 10, config.vocab_size, config.type_vocab_size)
  mask = np.ones_like(ids)
  mask[:, 6:] = 0
  changed = ids.copy()
  changed[:, 6:] = (changed[:, 6:] + 7) % config.vocab_size  # different tokens under the padding
  with tf.Graph().as_default():
    attention_mask = modeling.create_attention_mask_from_input_mask(tf.constant(ids), tf.constant(mask))
    ids_in = tf.compat.v1.placeholder(tf.int32, [2, 10])
    model = modeling.BertModel(config, False, ids_in, tf.constant(mask), tf.constant(types))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      mask3 = sess.run(attention_mask)
      first = sess.run(model.get_sequence_output(), {ids_in: ids})
      second = sess.run(model.get_sequence_output(), {ids_in: changed})
  # Every query row (padded queries included) sees exactly the input mask over keys.
  np.testing.assert_array_equal(mask3, np.broadcast_to(mask[:, None, :], (2, 10, 10)).astype(np.float32))
  # Real positions do not see what is under the padding ...
  np.testing.assert_allclose(first[:, :6], second[:, :6], rtol=0, atol=1e-6)
  # ... but padded positions are still computed (they attend to the real tokens).
  assert np.abs(first[:, 6:] - second[:, 6:]).max() > 1e-3


def test_no_dropout_when_not_training():
  config = tiny_config(hidden_dropout_prob=0.5, attention_probs_dropout_prob=0.5)
  ids, mask, types = random_inputs(2, 8, config.vocab_size, config.type_vocab_size)
  with tf.Graph().as_default():
    args = dict(input_ids=tf.constant(ids), input_mask=tf.constant(mask), token_type_ids=tf.constant(types),
                scope="bert")
    evaluation = modeling.BertModel(config, is_training=False, **args)
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
      training = modeling.BertModel(config, is_training=True, **args)
    assert config.hidden_dropout_prob == 0.5  # the caller's config is not modified
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      e1, e2 = sess.run(evaluation.get_sequence_output()), sess.run(evaluation.get_sequence_output())
      t1, t2 = sess.run(training.get_sequence_output()), sess.run(training.get_sequence_output())
  np.testing.assert_array_equal(e1, e2)
  assert np.abs(t1 - t2).max() > 1e-2


def test_dropout_takes_the_drop_probability():
  with tf.Graph().as_default():
    tf.compat.v1.set_random_seed(0)
    x = tf.ones([200, 500])
    dropped, unchanged = _run([modeling.dropout(x, 0.9), modeling.dropout(x, 0.0)])
  kept = dropped != 0
  assert abs(kept.mean() - 0.1) < 0.01  # 90% dropped, not 90% kept
  np.testing.assert_allclose(dropped[kept], 10.0, rtol=1e-5)  # inverted scaling 1 / (1 - p)
  np.testing.assert_array_equal(unchanged, 1.0)


def test_dense_names_and_math():
  rng = np.random.RandomState(0)
  x = rng.randn(2, 3, 5).astype(np.float32)
  with tf.Graph().as_default():
    with tf.compat.v1.variable_scope("output"):
      y = modeling.dense(tf.constant(x), 4, activation=tf.tanh,
                         kernel_initializer=modeling.create_initializer(0.5))
    names = {v.op.name: v for v in tf.compat.v1.global_variables()}
    assert sorted(names) == ["output/dense/bias", "output/dense/kernel"]
    got, kernel, bias = _run([y, names["output/dense/kernel"], names["output/dense/bias"]])
  assert kernel.shape == (5, 4)
  np.testing.assert_array_equal(bias, 0.0)
  np.testing.assert_allclose(got, np.tanh(x @ kernel + bias), rtol=1e-5, atol=1e-6)


def test_shape_helpers():
  with tf.Graph().as_default():
    x = tf.compat.v1.placeholder(tf.float32, [None, 7, 32])
    shape = modeling.get_shape_list(x, expected_rank=3)
    assert isinstance(shape[0], tf.Tensor) and shape[1:] == [7, 32]
    matrix = modeling.reshape_to_matrix(x)
    assert matrix.shape.as_list() == [None, 32]
    back = modeling.reshape_from_matrix(matrix, shape)
    assert back.shape.as_list()[1:] == [7, 32]
    with tf.compat.v1.variable_scope("somewhere"):
      with pytest.raises(ValueError, match=r"expected rank `2`.*|scope `somewhere`"):
        modeling.assert_rank(x, 2)
      with pytest.raises(ValueError, match="scope `somewhere`"):
        modeling.assert_rank(x, [2, 4], name="my_tensor")
    modeling.assert_rank(x, [2, 3])


def test_assignment_map_from_checkpoint(tmp_path):
  config = tiny_config()
  with tf.Graph().as_default():
    modeling.BertModel(config, False, tf.zeros([1, 4], tf.int32))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
  with tf.Graph().as_default():
    modeling.BertModel(config, True, tf.zeros([1, 4], tf.int32))
    extra = tf.compat.v1.get_variable("output_weights", [2, config.hidden_size])
    tvars = tf.compat.v1.trainable_variables()
    assignment_map, initialized = modeling.get_assignment_map_from_checkpoint(tvars, path)
  bert_names = [v.op.name for v in tvars if v.op.name.startswith("bert/")]
  assert list(assignment_map) == sorted(bert_names)  # checkpoint order (sorted), names only
  assert all(k == v for k, v in assignment_map.items())
  assert "output_weights" not in assignment_map and extra.op.name == "output_weights"
  assert set(initialized) == set(bert_names) | {n + ":0" for n in bert_names}


# ------------------------------------------------------------------------------------------------------------
# (5) Bad input.


def _write(tmp_path, name, text):
  path = tmp_path / name
  path.write_text(text)
  return str(path)


def test_config_file_missing(tmp_path):
  path = str(tmp_path / "nowhere" / "bert_config.json")
  with pytest.raises(errors.UserError, match=re.escape(path) + ".*not found"):
    modeling.BertConfig.from_json_file(path)


def test_config_file_not_json(tmp_path):
  path = _write(tmp_path, "bert_config.json", '{"vocab_size": 10,\n "hidden_size": }')
  with pytest.raises(errors.UserError) as info:
    modeling.BertConfig.from_json_file(path)
  message = str(info.value)
  assert path in message and "JSON" in message and "line 2" in message and "\n" not in message


def test_config_file_missing_vocab_size(tmp_path):
  path = _write(tmp_path, "bert_config.json", json.dumps({"hidden_size": 64, "num_attention_heads": 4}))
  with pytest.raises(errors.UserError, match=re.escape(path) + ".*'vocab_size' is missing"):
    modeling.BertConfig.from_json_file(path)


def test_config_file_hidden_size_not_divisible(tmp_path):
  path = _write(tmp_path, "bert_config.json",
                json.dumps({"vocab_size": 100, "hidden_size": 100, "num_attention_heads": 12}))
  with pytest.raises(errors.UserError, match=re.escape(path) + ".*'hidden_size' \\(100\\).*'num_attention_heads' \\(12\\)"):
    modeling.BertConfig.from_json_file(path)
  # Built directly (no file), the model itself refuses too, as the original did.
  with tf.Graph().as_default():
    with pytest.raises(ValueError, match="100.*12"):
      modeling.BertModel(tiny_config(hidden_size=100, num_attention_heads=12), False, tf.zeros([1, 4], tf.int32))


def test_config_file_bad_field_values(tmp_path):
  path = _write(tmp_path, "bert_config.json", json.dumps({"vocab_size": "30522"}))
  with pytest.raises(errors.UserError, match=re.escape(path) + ".*'vocab_size'"):
    modeling.BertConfig.from_json_file(path)
  path = _write(tmp_path, "bert_config2.json", json.dumps({"vocab_size": 10, "hidden_act": "swish"}))
  with pytest.raises(errors.UserError, match=re.escape(path) + ".*'hidden_act'.*swish"):
    modeling.BertConfig.from_json_file(path)


def test_sequence_longer_than_max_position_embeddings():
  config = tiny_config(max_position_embeddings=16)
  with tf.Graph().as_default():
    with pytest.raises(errors.UserError, match=r"sequence length 20 .*max_position_embeddings 16"):
      modeling.BertModel(config, False, tf.zeros([2, 20], tf.int32))
  # With a dynamic length the check happens when the graph runs.
  with tf.Graph().as_default():
    ids = tf.compat.v1.placeholder(tf.int32, [None, None])
    model = modeling.BertModel(config, False, ids)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      assert sess.run(model.get_sequence_output(), {ids: np.ones([2, 16])}).shape == (2, 16, 32)
      with pytest.raises(tf.errors.InvalidArgumentError, match="max_position_embeddings 16"):
        sess.run(model.get_sequence_output(), {ids: np.ones([2, 17])})
