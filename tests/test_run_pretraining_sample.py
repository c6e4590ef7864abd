"""Google's documented pre-training sample, end to end, warm-started from a real BERT (MiniLM converted HF -> TF1).

create_pretraining_data.py and run_pretraining.py run with the README's flags (spec section 13), except a train
batch of 8 instead of 32 and 5 eval batches instead of 100, to keep the test short on two cores. The documented
sizes are run (and reported) outside the test suite.
"""

import os

import convert_checkpoint
from test_run_pretraining import run_script

EVAL_KEYS = ["global_step", "loss", "masked_lm_accuracy", "masked_lm_loss", "next_sentence_accuracy",
             "next_sentence_loss"]


def test_documented_sample_writes_eval_results(tmp_path, minilm_dir):
  model = str(tmp_path / "minilm_tf")
  report = convert_checkpoint.hf_to_tf(minilm_dir, model)
  examples = str(tmp_path / "tf_examples.tfrecord")
  created = run_script([
      "create_pretraining_data.py", "--input_file=./sample_text.txt", "--output_file=" + examples,
      "--vocab_file=" + os.path.join(model, "vocab.txt"), "--do_lower_case=True", "--max_seq_length=128",
      "--max_predictions_per_seq=20", "--masked_lm_prob=0.15", "--random_seed=12345", "--dupe_factor=5"])
  assert created.returncode == 0, created.stderr[-3000:]

  out = str(tmp_path / "pretraining_output")
  trained = run_script([
      "run_pretraining.py", "--input_file=" + examples, "--output_dir=" + out, "--do_train=True", "--do_eval=True",
      "--bert_config_file=" + os.path.join(model, "bert_config.json"),
      "--init_checkpoint=" + os.path.join(model, "bert_model.ckpt"), "--train_batch_size=8", "--max_seq_length=128",
      "--max_predictions_per_seq=20", "--num_train_steps=20", "--num_warmup_steps=10", "--learning_rate=2e-5",
      "--max_eval_steps=5"], timeout=400)
  log = trained.stderr
  assert trained.returncode == 0, log[-4000:]

  # Every converted encoder variable is warm-started (and listed as such); the pre-training heads are new.
  warm = [l for l in log.splitlines() if l.endswith(", *INIT_FROM_CKPT*")]
  assert len(warm) == len(report.converted) and len(warm) > 100
  assert not [l for l in warm if "name = cls/" in l]

  with open(os.path.join(out, "eval_results.txt")) as f:
    lines = f.read().splitlines()
  assert [l.split(" = ")[0] for l in lines] == EVAL_KEYS
  results = dict(l.split(" = ") for l in lines)
  assert results["global_step"] == "20"
  for key in EVAL_KEYS[1:]:
    assert float(results[key]) >= 0.0
  assert float(results["masked_lm_accuracy"]) <= 1.0 and float(results["next_sentence_accuracy"]) <= 1.0
  assert os.path.exists(os.path.join(out, "model.ckpt-20.index"))
