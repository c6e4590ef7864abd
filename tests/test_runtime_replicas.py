"""Multi-replica training through the runtime equals one device; accumulated batches equal one big batch.

A 2-layer BERT with run_pretraining's model_fn, 20 steps, warm-started from the same checkpoint:
  * MirroredStrategy over the two logical CPU devices (tests/conftest.py) with global batch 8
    == one device with batch 8 (losses and final weights within 1e-5);
  * one device, 4 accumulated batches of 2 == one device with batch 8.
Dropout is off (each replica would draw its own masks) and every instance has the same number of masked
positions (each replica normalises the MLM loss by its own count, as on TPUs).
"""

import numpy as np
import pytest
import tensorflow as tf

import modeling
import run_pretraining
import runtime
from test_run_pretraining import PREDS, SEQ, TINY_CONFIG, make_init_checkpoint, read_checkpoint, write_records

STEPS = 20


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
  root = tmp_path_factory.mktemp("replicas")
  records = [write_records(str(root / ("r%d.tfrecord" % i)), 48, seed=10 + i) for i in range(2)]
  config = modeling.BertConfig.from_dict(dict(TINY_CONFIG, hidden_dropout_prob=0.0,
                                              attention_probs_dropout_prob=0.0))
  init = make_init_checkpoint(str(root / "init"), config)
  return root, records, config, init


def _train(setup, name, batch_size, devices=None, accumulation=1):
  root, records, config, init = setup
  out = str(root / name)
  model_fn = run_pretraining.model_fn_builder(config, 1e-3, STEPS, 3)
  run_config = runtime.RunConfig(out, save_checkpoints_steps=None, devices=devices,
                                 num_accumulation_steps=accumulation)
  runner = runtime.Runner(model_fn, run_config, train_batch_size=batch_size)
  losses = []
  result = runner.train(run_pretraining.input_fn_builder(records, SEQ, PREDS, True), max_steps=STEPS,
                        init_checkpoint=init, on_step=lambda step, loss: losses.append(loss))
  assert result["global_step"] == STEPS and len(losses) == STEPS
  weights = read_checkpoint(tf.train.latest_checkpoint(out))
  return np.array(losses), weights, runner


def _assert_same(a, b):
  (losses_a, weights_a), (losses_b, weights_b) = a, b
  np.testing.assert_allclose(losses_a, losses_b, rtol=0, atol=1e-5)
  assert sorted(weights_a) == sorted(weights_b)
  for name in weights_a:
    np.testing.assert_allclose(weights_a[name], weights_b[name], rtol=0, atol=1e-5, err_msg=name)


def test_two_replicas_equal_one_device_and_accumulation_equals_big_batch(setup):
  one_losses, one_weights, _ = _train(setup, "one", 8)
  two_losses, two_weights, runner = _train(setup, "two", 8, devices=["/cpu:0", "/cpu:1"])
  assert runner.distribution.num_replicas == 2
  # Training moved: the comparison is not between two untouched copies of the initial checkpoint.
  assert one_losses[-1] < one_losses[0] - 0.05
  init = read_checkpoint(setup[3])
  assert np.abs(one_weights["bert/encoder/layer_0/output/dense/kernel"] -
                init["bert/encoder/layer_0/output/dense/kernel"]).max() > 1e-3
  # Plain names, no `/replica_1` copies, the original slot names.
  assert "bert/embeddings/word_embeddings/adam_m" in two_weights
  assert not [n for n in two_weights if "replica" in n]
  _assert_same((one_losses, one_weights), (two_losses, two_weights))

  acc_losses, acc_weights, _ = _train(setup, "accumulated", 2, accumulation=4)
  # 80 batches of 2 instead of 20 of 8; the accumulators are optimizer state of their own.
  acc_weights = {k: v for k, v in acc_weights.items() if "grad_accum" not in k}
  _assert_same((one_losses, one_weights), (acc_losses, acc_weights))
