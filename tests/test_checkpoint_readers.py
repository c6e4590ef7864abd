"""A raw training checkpoint of run_pretraining.py (not stripped) loads wherever a Google BERT checkpoint loads.

Readers of Google's checkpoints (convert_checkpoint's allow-list, Hugging Face's `load_tf_weights_in_bert`, the
original code's `--init_checkpoint`) expect the BERT variables, their optimizer slots and `global_step`, and
nothing else: `load_tf_weights_in_bert`, for one, walks every name into the model and fails on a name it does
not know. So:

  * always: every variable of each checkpoint of a few steps of run_pretraining.py (the default AdamW, and LAMB
    with gradient accumulation) is an allow-listed BERT variable, optimizer state of one
    (optimization.is_optimizer_variable), or a root counter of the optimizer such as `global_step`; the runtime's
    own bookkeeping stays out of checkpoints;
  * where torch and a transformers 4.x (which still reads TF checkpoints) are installed: `load_tf_weights_in_bert`
    reads the raw checkpoint of the default optimizer, and gives the MLM and NSP logits of our own `tf_to_hf`
    export of it.

`load_tf_weights_in_bert` skips only Google's slot names (adam_m, adam_v, AdamWeightDecayOptimizer*) and
global_step: LAMB slots (lamb_m, lamb_v) and accumulators (grad_accum, grad_accum_step) are walked into the model,
overwrite biases, LayerNorm weights and square kernels with optimizer state, and fail on the others. Those
checkpoints are for `convert_checkpoint.py strip` or `tf_to_hf` first, as Google's would be.

The pre-training data are create_pretraining_data.py's records of the golden fixture's text and vocabulary; the
runs are shared by the tests of this file (module-scoped fixtures).
"""

import os

import numpy as np
import pytest
import tensorflow as tf

import convert_checkpoint
import optimization
from test_create_pretraining_data import fixture_setup, flag_args, run_ok, tf_records
from test_run_pretraining import run_script, write_config

STEPS, SAVE_EVERY = 3, 2
BATCH = 4
# (--optimizer, --num_accumulation_steps) of each training run: the default, and LAMB with accumulation.
VARIANTS = {"adamw": ("adamw", 1), "lamb_accumulation": ("lamb", 2)}
SLOT_SUFFIXES = {"adamw": optimization.ADAMW_SLOT_SUFFIXES, "lamb": optimization.LAMB_SLOT_SUFFIXES}


@pytest.fixture(scope="module")
def pretraining_data(tmp_path_factory):
  """create_pretraining_data.py on the golden fixture: (folder, records, bert_config.json, vocab.txt, flags)."""
  folder = tmp_path_factory.mktemp("checkpoint_readers")
  fixture, input_file, vocab_file, args = fixture_setup("default", folder)
  records = str(folder / "examples.tfrecord")
  run_ok(flag_args(input_file, [records], vocab_file, args))
  flags = fixture["flags"]
  config = write_config(str(folder / "bert_config.json"), vocab_size=len(fixture["vocab"]),
                        max_position_embeddings=64)
  return folder, records, config, vocab_file, flags


class _TrainingRuns(object):
  """run_pretraining.py runs of STEPS steps, one per variant, trained on first use and then reused."""

  def __init__(self, data):
    self._folder, self.records, self.config, self.vocab_file, self._flags = data
    self._done = {}

  def checkpoints(self, variant):
    """The checkpoint prefixes (oldest first) that the variant's run left in its output_dir."""
    if variant not in self._done:
      optimizer, accumulation = VARIANTS[variant]
      out = str(self._folder / ("out_" + variant))
      result = run_script([
          "run_pretraining.py", "--bert_config_file=" + self.config, "--input_file=" + self.records,
          "--output_dir=" + out, "--do_train=true", "--max_seq_length=%d" % self._flags["max_seq_length"],
          "--max_predictions_per_seq=%d" % self._flags["max_predictions_per_seq"],
          "--train_batch_size=%d" % BATCH, "--num_train_steps=%d" % STEPS, "--num_warmup_steps=1",
          "--learning_rate=1e-3", "--save_checkpoints_steps=%d" % SAVE_EVERY, "--optimizer=" + optimizer,
          "--num_accumulation_steps=%d" % accumulation])
      assert result.returncode == 0, result.stderr[-3000:]
      state = tf.train.get_checkpoint_state(out)
      assert state is not None, "no checkpoint in %s" % out
      self._done[variant] = list(state.all_model_checkpoint_paths)
    return self._done[variant]


@pytest.fixture(scope="module")
def training_runs(pretraining_data):
  """The training runs on `pretraining_data`, shared by the tests of this file."""
  return _TrainingRuns(pretraining_data)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_raw_checkpoints_hold_only_bert_variables_optimizer_state_and_global_step(training_runs, variant):
  """Each checkpoint holds the pre-training BERT, its slots and root optimizer counters: nothing else."""
  prefixes = training_runs.checkpoints(variant)
  assert [os.path.basename(p) for p in prefixes] == ["model.ckpt-%d" % SAVE_EVERY, "model.ckpt-%d" % STEPS]
  config = convert_checkpoint.read_bert_config(training_runs.config)
  allow_list = set(p.tf_name for p in convert_checkpoint.all_params(config))
  heads = convert_checkpoint.head_params(config)
  pretraining_model = set(p.tf_name for p in convert_checkpoint.encoder_params(config) + heads["mlm"] + heads["nsp"])
  optimizer, accumulation = VARIANTS[variant]
  slots = SLOT_SUFFIXES[optimizer] + ((optimization.ACCUMULATOR_SUFFIX,) if accumulation > 1 else ())

  for prefix in prefixes:
    names = [name for name, _ in tf.train.list_variables(prefix)]
    model = set(names) & allow_list
    # Optimizer state belongs to a BERT variable (its slots) or is a root counter (global_step, grad_accum_step).
    state = [n for n in names if n not in model and optimization.is_optimizer_variable(n) and
             ("/" not in n or n.rsplit("/", 1)[0] in model)]
    others = sorted(set(names) - model - set(state))
    assert not others, "%s holds variables that are neither BERT's nor optimizer state: %s" % (prefix, others)
    assert model == pretraining_model
    assert "global_step" in names
    expected_slots = set("%s/%s" % (v, s) for v in model for s in slots)
    assert expected_slots <= set(state), sorted(expected_slots - set(state))[:5]


def _load_tf_weights_in_bert():
  """transformers' load_tf_weights_in_bert, or a skip where torch or a transformers that has it is absent."""
  pytest.importorskip("torch", reason="torch is not installed")
  transformers = pytest.importorskip("transformers", reason="transformers is not installed")
  load = getattr(transformers, "load_tf_weights_in_bert", None)
  if load is None:
    try:
      from transformers.models.bert import modeling_bert  # pylint: disable=g-import-not-at-top
    except ImportError:
      modeling_bert = None
    load = getattr(modeling_bert, "load_tf_weights_in_bert", None)
  if load is None:
    pytest.skip("transformers %s has no load_tf_weights_in_bert (TF checkpoint loading was removed in 5.x)" %
                transformers.__version__)
  return transformers, load


def test_transformers_load_tf_weights_in_bert_reads_a_raw_checkpoint(training_runs, tmp_path):
  """load_tf_weights_in_bert on each raw checkpoint gives the logits of our tf_to_hf export of it."""
  transformers, load_tf_weights_in_bert = _load_tf_weights_in_bert()
  import torch  # pylint: disable=g-import-not-at-top
  records = tf_records(training_runs.records)[:4]
  inputs = {key: torch.tensor([r[name] for r in records], dtype=torch.long)
            for key, name in (("input_ids", "input_ids"), ("attention_mask", "input_mask"),
                              ("token_type_ids", "segment_ids"))}
  config = transformers.BertConfig.from_json_file(training_runs.config)

  # Google's AdamW slot names only: LAMB's and the accumulators are not skipped by this reader (module docstring).
  for prefix in training_runs.checkpoints("adamw"):
    direct = load_tf_weights_in_bert(transformers.BertForPreTraining(config), config, prefix)
    hf_dir = str(tmp_path / os.path.basename(prefix))
    convert_checkpoint.tf_to_hf(prefix, hf_dir, bert_config_file=training_runs.config,
                                vocab_file=training_runs.vocab_file)
    exported = transformers.BertForPreTraining.from_pretrained(hf_dir)
    outputs = []
    for model in (direct, exported):
      model.eval()
      with torch.no_grad():
        outputs.append(model(**inputs))
    for logits in ("prediction_logits", "seq_relationship_logits"):
      a, b = (getattr(o, logits).numpy() for o in outputs)
      assert a.shape == b.shape
      assert np.abs(a - b).max() <= 1e-5, (prefix, logits, np.abs(a - b).max())
