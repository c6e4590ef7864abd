# coding=utf-8
# Copyright 2018 The Google AI Language Team Authors and DMIS-lab, Korea University.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.
"""BioBERT question answering: SQuAD v1.1 / v2.0 fine-tuning and prediction (BioBERT's run_qa.py).

Input (`--train_file`, `--predict_file`): SQuAD-form JSON, `{"data": [{"paragraphs": [{"context": str, "qas":
[{"id": str, "question": str, "answers": [{"text": str, "answer_start": int}], "is_impossible": bool}]}]}]}`;
only "data" is read. BioASQ's factoid sets (BioASQ-train-factoid-4b.json, ...) are in this form, with one
paragraph per (question, snippet) and ids `<24-character question id>_<3-digit snippet number>`.

The original's algorithms, step for step:
  * a context is split into words at " ", "\\t", "\\r", "\\n" and U+202F (narrow no-break space), with a
    character-to-word map; BioBERT's `paragraph_text.replace('/', ' ')`, whose result was discarded, has no
    effect here either;
  * training questions need exactly one answer (v2: unless `is_impossible`); an answer whose words, joined by
    single spaces, do not contain the whitespace-normalised answer text is skipped with the original's warning
    "Could not find answer"; the examples are shuffled with random.Random(12345) before conversion;
  * the question is cut to --max_query_length WordPieces; the context's pieces go through windows of
    max_seq_length - |question| - 3 pieces, --doc_stride apart (the last one ending at the last piece), each
    `[CLS] question [SEP] window [SEP]`; a piece's "max context" window is the one where min(left, right
    context) + 0.01 * window length is highest (the first on ties); features are numbered from 1000000000;
  * the answer's piece span is improved to the first sub-span whose pieces spell the tokenized answer
    (`_improve_answer_span`); a window that does not hold the whole answer, and an impossible question, train
    towards [CLS] (start = end = 0);
  * the head: `cls/squad/output_weights` [2, hidden] and `cls/squad/output_bias` [2] on the sequence output,
    without dropout; loss = (mean cross-entropy of the start + mean cross-entropy of the end) / 2, over all
    max_seq_length positions;
  * prediction: per feature the --n_best_size best starts and ends; a pair is dropped when either index is past
    the tokens, outside the context, the start is not at its max-context window, the end precedes the start or
    the span is longer than --max_answer_length; spans are scored by start + end logit, mapped back to the
    original words (`get_final_text`), deduplicated by text, and given probabilities by a softmax (float64,
    `math.exp`) over the n-best scores. v2 adds the null answer "" with the lowest [CLS] score over the windows
    and predicts "" when that score minus the best non-null score exceeds --null_score_diff_threshold.

Outputs in output_dir: train.tf_record, eval.tf_record, checkpoints; predictions.json (id -> text),
nbest_predictions.json (id -> [{text, probability, start_logit, end_logit}]) and, with v2, null_odds.json, each
written as `json.dumps(obj, indent=4) + "\\n"` like the original (so biocodes/transform_nbset2bioasqform.py reads
them).

Beyond the original:
  * when the predict file has answers, SQuAD v1.1's official exact match and F1 (answers normalised: lower case,
    punctuation, the articles a/an/the and extra whitespace removed; the best over a question's answers; in
    percent) are printed and written to squad_eval.json, over the questions that have answers;
  * with v2, a question whose n-best holds only the null answer is predicted "" (the original stopped with an
    AttributeError); its null_odds.json value is its null score;
  * predict-only runs from a fine-tuned checkpoint (`--do_train=false --do_predict=true
    --init_checkpoint=<model.ckpt-N>`); a checkpoint without the QA head is an error;
  * bad input stops with one `error: ...` line: a file without "data", a training question without exactly one
    answer, an answer whose answer_start and text point outside its context, and the like.
"""

import collections
import json
import math
import random
import re
import string

from absl import flags
from absl import logging
import tensorflow as tf

import errors
import fileio
import finetuning
import modeling
import optimization
import runtime
import tfrecord_io
import tokenization

FLAGS = flags.FLAGS

NUM_LOGGED_EXAMPLES = 20
FIRST_UNIQUE_ID = 1000000000
SHUFFLE_SEED = 12345
PREDICTIONS_FILE = "predictions.json"
NBEST_FILE = "nbest_predictions.json"
NULL_ODDS_FILE = "null_odds.json"
SQUAD_EVAL_FILE = "squad_eval.json"


def define_flags(flag_values=FLAGS):
  """Defines the flags. Called from `__main__` only, so importing this module defines none."""
  fv = flag_values
  finetuning.define_flags(defaults={"max_seq_length": 384}, data_dir=False, flag_values=fv)
  flags.DEFINE_string("train_file", None, "SQuAD json for training. E.g., train-v1.1.json", flag_values=fv)
  flags.DEFINE_string("predict_file", None, "SQuAD json for predictions. E.g., dev-v1.1.json or test-v1.1.json",
                      flag_values=fv)
  flags.DEFINE_integer("doc_stride", 128, "When splitting up a long document into chunks, how much stride to take "
                       "between chunks.", flag_values=fv)
  flags.DEFINE_integer("max_query_length", 64, "The maximum number of tokens for the question. Questions longer "
                       "than this will be truncated to this length.", flag_values=fv)
  flags.DEFINE_integer("n_best_size", 20, "The total number of n-best predictions to generate in the "
                       "nbest_predictions.json output file.", flag_values=fv)
  flags.DEFINE_integer("max_answer_length", 30, "The maximum length of an answer that can be generated. This is "
                       "needed because the start and end predictions are not conditioned on one another.",
                       flag_values=fv)
  flags.DEFINE_bool("verbose_logging", False, "If true, all of the warnings related to data processing will be "
                    "printed. A number of warnings are expected for a normal SQuAD evaluation.", flag_values=fv)
  flags.DEFINE_bool("version_2_with_negative", False, "If true, the SQuAD examples contain some that do not have "
                    "an answer.", flag_values=fv)
  flags.DEFINE_float("null_score_diff_threshold", 0.0, "If null_score - best_non_null is greater than the "
                     "threshold predict null.", flag_values=fv)


# ----------------------------------------------------------------------------------------------------------------
# Reading SQuAD files.


class SquadExample(collections.namedtuple("SquadExample", [
    "qas_id", "question_text", "doc_tokens", "orig_answer_text", "start_position", "end_position",
    "is_impossible", "answers"])):
  """One question on one context: the context's words and, for training, the answer's first and last word.

  `answers` holds every answer text the file gives (for the exact-match and F1 scores of a predict file).
  """


def is_context_whitespace(char):
  """The original's word separators: space, tab, CR, LF and U+202F."""
  return char in " \t\r\n\u202f"


def split_context(text):
  """(words, char_to_word_offset): the words of a context and, per character, the index of its word.

  A separator maps to the word before it (-1 before the first word), as in the original.
  """
  words = []
  char_to_word = []
  in_word = False
  for char in text:
    if is_context_whitespace(char):
      in_word = False
    elif in_word:
      words[-1] += char
    else:
      words.append(char)
      in_word = True
    char_to_word.append(len(words) - 1)
  return words, char_to_word


def _load_data(path):
  try:
    with open(path, encoding="utf-8-sig") as f:
      data = json.load(f)
  except FileNotFoundError as e:
    raise errors.UserError("QA file %s: not found" % path) from e
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.UserError("QA file %s: cannot read it as JSON: %s" % (path, e)) from e
  if not isinstance(data, dict) or not isinstance(data.get("data"), list):
    raise errors.UserError("QA file %s: no \"data\" list; a SQuAD-format file is {\"data\": [{\"paragraphs\": "
                           "[{\"context\": ..., \"qas\": [...]}]}]}" % path)
  return data["data"]


def _paragraphs(path, entries):
  """Yields (context, qas, where) for every paragraph of the file's "data", checking the shapes."""
  for i, entry in enumerate(entries):
    paragraphs = entry.get("paragraphs") if isinstance(entry, dict) else None
    if not isinstance(paragraphs, list):
      raise errors.UserError("QA file %s: data[%d] has no \"paragraphs\" list" % (path, i))
    for j, paragraph in enumerate(paragraphs):
      where = "QA file %s: data[%d].paragraphs[%d]" % (path, i, j)
      if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str):
        raise errors.UserError("%s: no \"context\" string" % where)
      if not isinstance(paragraph.get("qas"), list):
        raise errors.UserError("%s: no \"qas\" list" % where)
      yield paragraph["context"], paragraph["qas"], where


def _answer_span(qa, context, char_to_word, where):
  """(text, first word, last word) of a training question's single answer."""
  answer = qa["answers"][0]
  text = answer.get("text") if isinstance(answer, dict) else None
  start = answer.get("answer_start") if isinstance(answer, dict) else None
  if not isinstance(text, str) or isinstance(start, bool) or not isinstance(start, int):
    raise errors.UserError("%s: the answer needs a \"text\" string and an \"answer_start\" number" % where)
  if not text or start < 0 or start + len(text) > len(context):
    raise errors.UserError("%s: answer_start=%d and the %d-character text %r point outside the %d-character "
                           "context" % (where, start, len(text), text[:40], len(context)))
  return text, char_to_word[start], char_to_word[start + len(text) - 1]


def read_squad_examples(path, is_training, version_2_with_negative=False):
  """The SquadExamples of a SQuAD-format file, in file order (see the module docstring).

  Raises:
    errors.UserError: the file is missing or not SQuAD-shaped, or a training question is not usable.
  """
  examples = []
  for context, qas, where in _paragraphs(path, _load_data(path)):
    doc_tokens, char_to_word = split_context(context)
    for k, qa in enumerate(qas):
      if not isinstance(qa, dict) or not isinstance(qa.get("id"), str) or not isinstance(qa.get("question"), str):
        raise errors.UserError("%s.qas[%d]: needs an \"id\" and a \"question\" string" % (where, k))
      qwhere = "QA file %s: question %s" % (path, qa["id"])
      answers = qa.get("answers") or []
      if not isinstance(answers, list):
        raise errors.UserError("%s: \"answers\" is not a list" % qwhere)
      texts = [a.get("text") for a in answers if isinstance(a, dict) and isinstance(a.get("text"), str)]
      example = SquadExample(qa["id"], qa["question"], doc_tokens, None, None, None, False, texts)
      if is_training:
        example = _training_example(example, qa, context, char_to_word, version_2_with_negative, qwhere)
        if example is None:
          continue
      examples.append(example)
  return examples


def _training_example(example, qa, context, char_to_word, version_2_with_negative, where):
  """The example with its answer's words, or None where the original skipped it ("Could not find answer")."""
  is_impossible = False
  if version_2_with_negative:
    is_impossible = qa.get("is_impossible")
    if not isinstance(is_impossible, bool):
      raise errors.UserError("%s: no \"is_impossible\" true/false (needed with --version_2_with_negative)" % where)
  if is_impossible:
    return example._replace(orig_answer_text="", start_position=-1, end_position=-1, is_impossible=True)
  if len(qa.get("answers") or []) != 1:
    raise errors.UserError("%s: %d answers; for training, each question should have exactly 1 answer"
                           % (where, len(qa.get("answers") or [])))
  text, first, last = _answer_span(qa, context, char_to_word, where)
  actual = " ".join(example.doc_tokens[first:last + 1])
  cleaned = " ".join(tokenization.whitespace_tokenize(text))
  if actual.find(cleaned) == -1:
    logging.warning("Could not find answer: '%s' vs. '%s'", actual, cleaned)
    return None
  return example._replace(orig_answer_text=text, start_position=first, end_position=last)


# ----------------------------------------------------------------------------------------------------------------
# Features.


class QAFeature(collections.namedtuple("QAFeature", [
    "unique_id", "example_index", "doc_span_index", "tokens", "token_to_orig_map", "token_is_max_context",
    "values"])):
  """One window of one example: its tokens, their words, their max-context flags, and the TFRecord values."""


DocSpan = collections.namedtuple("DocSpan", ["start", "length"])


def feature_specs(max_seq_length):
  """(training file spec, what training reads of it, prediction file spec)."""
  seq = "--max_seq_length"
  common = [("unique_ids", "int64", 1, None), ("input_ids", "int64", max_seq_length, seq),
            ("input_mask", "int64", max_seq_length, seq), ("segment_ids", "int64", max_seq_length, seq)]
  positions = [("start_positions", "int64", 1, None), ("end_positions", "int64", 1, None)]
  # is_impossible is written, as by the original, and not read.
  return (tfrecord_io.FeatureSpec(common + positions + [("is_impossible", "int64", 1, None)]),
          tfrecord_io.FeatureSpec(common + positions), tfrecord_io.FeatureSpec(common))


def doc_spans(num_doc_tokens, max_seq_length, num_query_tokens, doc_stride):
  """The windows (DocSpan(start, length)) over a context of `num_doc_tokens` pieces; none for an empty one."""
  if not num_doc_tokens:
    return []
  size = max_seq_length - num_query_tokens - 3  # [CLS], [SEP], [SEP]
  return [DocSpan(s, n) for s, n in finetuning.window_starts(num_doc_tokens, size, doc_stride)]


def improve_answer_span(doc_tokens, input_start, input_end, tokenizer, orig_answer_text):
  """The first (start, end) inside [input_start, input_end], latest end first, whose pieces spell the answer."""
  wanted = " ".join(tokenizer.tokenize(orig_answer_text))
  for start in range(input_start, input_end + 1):
    for end in range(input_end, start - 1, -1):
      if " ".join(doc_tokens[start:end + 1]) == wanted:
        return start, end
  return input_start, input_end


def answer_token_span(example, orig_to_tok_index, num_pieces, pieces, tokenizer):
  """The (start, end) piece span of a training example's answer; (-1, -1) for an impossible one."""
  if example.is_impossible:
    return -1, -1
  start = orig_to_tok_index[example.start_position]
  if example.end_position < len(example.doc_tokens) - 1:
    end = orig_to_tok_index[example.end_position + 1] - 1
  else:
    end = num_pieces - 1
  return improve_answer_span(pieces, start, end, tokenizer, example.orig_answer_text)


def train_positions(span, answer, num_query_tokens, is_impossible):
  """(start, end) positions a training window learns: [CLS] (0, 0) when it does not hold the whole answer."""
  if is_impossible or not (answer[0] >= span.start and answer[1] <= span.start + span.length - 1):
    return 0, 0
  offset = num_query_tokens + 2 - span.start
  return answer[0] + offset, answer[1] + offset


def _log_feature(feature, example, is_training, positions):
  values = feature.values
  fields = [("unique_id", feature.unique_id), ("example_index", feature.example_index),
            ("doc_span_index", feature.doc_span_index), ("tokens", feature.tokens),
            ("token_to_orig_map", " ".join("%d:%d" % kv for kv in feature.token_to_orig_map.items())),
            ("token_is_max_context", " ".join("%d:%s" % kv for kv in feature.token_is_max_context.items())),
            ("input_ids", values["input_ids"]), ("input_mask", values["input_mask"]),
            ("segment_ids", values["segment_ids"])]
  if is_training and not example.is_impossible:
    start, end = positions
    fields += [("start_position", start), ("end_position", end),
               ("answer", tokenization.printable_text(" ".join(feature.tokens[start:end + 1])))]
  finetuning.log_example(fields)
  if is_training and example.is_impossible:
    logging.info("impossible example")


def convert_examples_to_features(examples, tokenizer, max_seq_length, doc_stride, max_query_length, is_training):
  """Yields the QAFeatures of the examples, in order, numbered from FIRST_UNIQUE_ID."""
  unique_id = FIRST_UNIQUE_ID
  for example_index, example in enumerate(examples):
    query = tokenizer.tokenize(example.question_text)[:max_query_length]
    pieces, tok_to_orig, orig_to_tok = [], [], []
    for i, word_pieces in enumerate(tokenizer.tokenize_batch(example.doc_tokens)):
      orig_to_tok.append(len(pieces))
      pieces.extend(word_pieces)
      tok_to_orig.extend([i] * len(word_pieces))
    answer = answer_token_span(example, orig_to_tok, len(pieces), pieces, tokenizer) if is_training else None
    spans = doc_spans(len(pieces), max_seq_length, len(query), doc_stride)
    best_span = finetuning.best_window_per_piece(list(enumerate(spans)), len(pieces))
    for span_index, span in enumerate(spans):
      tokens = ["[CLS]"] + query + ["[SEP]"] + pieces[span.start:span.start + span.length] + ["[SEP]"]
      first = len(query) + 2
      token_to_orig_map = collections.OrderedDict(
          (first + i, tok_to_orig[span.start + i]) for i in range(span.length))
      token_is_max_context = collections.OrderedDict(
          (first + i, best_span[span.start + i] == span_index) for i in range(span.length))
      segment_ids = [0] * first + [1] * (span.length + 1)
      values = {"unique_ids": [unique_id],
                "input_ids": finetuning.pad_to(tokenizer.convert_tokens_to_ids(tokens), max_seq_length),
                "input_mask": finetuning.pad_to([1] * len(tokens), max_seq_length),
                "segment_ids": finetuning.pad_to(segment_ids, max_seq_length)}
      positions = None
      if is_training:
        positions = train_positions(span, answer, len(query), example.is_impossible)
        values.update(start_positions=[positions[0]], end_positions=[positions[1]],
                      is_impossible=[int(example.is_impossible)])
      feature = QAFeature(unique_id, example_index, span_index, tokens, token_to_orig_map, token_is_max_context,
                          values)
      if example_index < NUM_LOGGED_EXAMPLES:
        _log_feature(feature, example, is_training, positions)
      yield feature
      unique_id += 1


# ----------------------------------------------------------------------------------------------------------------
# The model.


def create_model(bert_config, is_training, features, compute_type):
  """BERT + the SQuAD span head (no dropout, as the original); -> (start_logits, end_logits), each [B, S]."""
  sequence = modeling.BertModel(
      config=bert_config, is_training=is_training, input_ids=features["input_ids"],
      input_mask=features["input_mask"], token_type_ids=features["segment_ids"], use_one_hot_embeddings=False,
      compute_type=compute_type).get_sequence_output()
  width = sequence.shape[-1]
  weights = tf.compat.v1.get_variable("cls/squad/output_weights", [2, width],
                                      initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.02))
  bias = tf.compat.v1.get_variable("cls/squad/output_bias", [2], initializer=tf.compat.v1.zeros_initializer())
  logits = tf.einsum("bsh,kh->bsk", sequence, weights) + bias
  return logits[:, :, 0], logits[:, :, 1]


def span_loss(logits, positions):
  """The mean over the batch of the cross-entropy of `positions` under a softmax over every position."""
  log_probs = tf.nn.log_softmax(logits, axis=-1)
  picked = tf.gather(log_probs, tf.reshape(positions, [-1]), axis=1, batch_dims=1)
  return -tf.reduce_mean(picked)


def model_fn_builder(bert_config, learning_rate, num_train_steps, num_warmup_steps):
  """The runtime model_fn of SQuAD (TRAIN and PREDICT only, as the original)."""

  def model_fn(features, mode, params):
    runtime.log_features(features)
    is_training = mode == runtime.ModeKeys.TRAIN
    start_logits, end_logits = create_model(bert_config, is_training, features, params.get("precision", "fp32"))
    if is_training:
      total_loss = (span_loss(start_logits, features["start_positions"]) +
                    span_loss(end_logits, features["end_positions"])) / 2.0
      train_op, scalars = optimization.create_train_op(total_loss, learning_rate, num_train_steps,
                                                       num_warmup_steps, params)
      return runtime.ModelSpec(mode, loss=total_loss, train_op=train_op, scalars=scalars)
    if mode == runtime.ModeKeys.PREDICT:
      return runtime.ModelSpec(mode, predictions={"unique_ids": tf.reshape(features["unique_ids"], [-1]),
                                                  "start_logits": start_logits, "end_logits": end_logits})
    raise ValueError("Only TRAIN and PREDICT modes are supported: %s" % mode)

  return model_fn


# ----------------------------------------------------------------------------------------------------------------
# Predictions.


RawResult = collections.namedtuple("RawResult", ["unique_id", "start_logits", "end_logits"])
PrelimPrediction = collections.namedtuple("PrelimPrediction", [
    "feature_index", "start_index", "end_index", "start_logit", "end_logit"])
NbestPrediction = collections.namedtuple("NbestPrediction", ["text", "start_logit", "end_logit"])


def best_indexes(logits, n_best_size):
  """The indexes of the `n_best_size` largest logits, largest first (a stable sort: the lower index on ties)."""
  ranked = sorted(range(len(logits)), key=lambda i: logits[i], reverse=True)
  return ranked[:n_best_size]


def compute_softmax(scores):
  """The softmax of a list of Python floats, in float64 with math.exp after subtracting the maximum."""
  if not scores:
    return []
  top = max(scores)
  exps = [math.exp(score - top) for score in scores]
  total = 0.0
  for value in exps:
    total += value
  return [value / total for value in exps]


def valid_spans(feature, result, n_best_size, max_answer_length):
  """The (start, end) index pairs of one feature that survive the original's filters, in its order."""
  for start in best_indexes(result.start_logits, n_best_size):
    for end in best_indexes(result.end_logits, n_best_size):
      if start >= len(feature.tokens) or end >= len(feature.tokens):
        continue
      if start not in feature.token_to_orig_map or end not in feature.token_to_orig_map:
        continue  # in the question, or a special token
      if not feature.token_is_max_context.get(start, False):
        continue
      if end < start or end - start + 1 > max_answer_length:
        continue
      yield start, end


def _strip_spaces(text):
  """(text without its spaces, {index in that text: index in `text`})."""
  kept = [i for i, char in enumerate(text) if char != " "]
  return "".join(text[i] for i in kept), dict(enumerate(kept))


_BASIC_TOKENIZERS = {}


def get_final_text(pred_text, orig_text, do_lower_case, verbose_logging=False):
  """The part of `orig_text` (original words) that the normalised `pred_text` (joined pieces) stands for.

  `orig_text` is basic-tokenized like the pieces were; where `pred_text` is found in it and the two agree
  character for character once spaces are removed, the characters are mapped back. Otherwise `orig_text`.
  """
  if do_lower_case not in _BASIC_TOKENIZERS:
    _BASIC_TOKENIZERS[do_lower_case] = tokenization.BasicTokenizer(do_lower_case=do_lower_case)
  tok_text = " ".join(_BASIC_TOKENIZERS[do_lower_case].tokenize(orig_text))
  start = tok_text.find(pred_text)
  if start == -1:
    if verbose_logging:
      logging.info("Unable to find text: '%s' in '%s'", pred_text, orig_text)
    return orig_text
  end = start + len(pred_text) - 1
  orig_ns_text, orig_ns_to_s = _strip_spaces(orig_text)
  tok_ns_text, tok_ns_to_s = _strip_spaces(tok_text)
  if len(orig_ns_text) != len(tok_ns_text):
    if verbose_logging:
      logging.info("Length not equal after stripping spaces: '%s' vs '%s'", orig_ns_text, tok_ns_text)
    return orig_text
  tok_s_to_ns = {s: ns for ns, s in tok_ns_to_s.items()}
  mapped = []
  for position, name in ((start, "start"), (end, "end")):
    ns = tok_s_to_ns.get(position)
    if ns is None or ns not in orig_ns_to_s:
      if verbose_logging:
        logging.info("Couldn't map %s position", name)
      return orig_text
    mapped.append(orig_ns_to_s[ns])
  return orig_text[mapped[0]:mapped[1] + 1]


def span_text(example, feature, start, end, do_lower_case, verbose_logging=False):
  """The answer text of a predicted span: its pieces joined back and projected onto the original words."""
  pieces = " ".join(feature.tokens[start:end + 1]).replace(" ##", "").replace("##", "")
  pred_text = " ".join(pieces.strip().split())
  words = example.doc_tokens[feature.token_to_orig_map[start]:feature.token_to_orig_map[end] + 1]
  return get_final_text(pred_text, " ".join(words), do_lower_case, verbose_logging)


def nbest_predictions(example, features, results, n_best_size, max_answer_length, do_lower_case,
                      version_2_with_negative=False, verbose_logging=False):
  """(n-best list of NbestPrediction, the lowest null score) of one example over its features' results.

  `results[i]` is the RawResult of `features[i]`. The null score is None without version_2_with_negative.
  """
  prelims = []
  score_null, null_feature, null_start, null_end = 1000000, 0, 0, 0  # the original's initial values
  for feature_index, (feature, result) in enumerate(zip(features, results)):
    if version_2_with_negative:
      score = result.start_logits[0] + result.end_logits[0]
      if score < score_null:
        score_null, null_feature = score, feature_index
        null_start, null_end = result.start_logits[0], result.end_logits[0]
    for start, end in valid_spans(feature, result, n_best_size, max_answer_length):
      prelims.append(PrelimPrediction(feature_index, start, end, result.start_logits[start],
                                      result.end_logits[end]))
  if version_2_with_negative:
    prelims.append(PrelimPrediction(null_feature, 0, 0, null_start, null_end))
  prelims.sort(key=lambda p: p.start_logit + p.end_logit, reverse=True)

  nbest, seen = [], set()
  for prelim in prelims:
    if len(nbest) >= n_best_size:
      break
    text = ""
    if prelim.start_index > 0:
      text = span_text(example, features[prelim.feature_index], prelim.start_index, prelim.end_index,
                       do_lower_case, verbose_logging)
      if text in seen:
        continue
    seen.add(text)
    nbest.append(NbestPrediction(text, prelim.start_logit, prelim.end_logit))
  if version_2_with_negative and "" not in seen:
    nbest.append(NbestPrediction("", null_start, null_end))
  if not nbest:  # no valid span at all: the original's nonce prediction
    nbest.append(NbestPrediction("empty", 0.0, 0.0))
  return nbest, (score_null if version_2_with_negative else None)


def nbest_json(nbest):
  """The n-best list as nbest_predictions.json holds it: text, probability, start_logit, end_logit."""
  probabilities = compute_softmax([entry.start_logit + entry.end_logit for entry in nbest])
  return [collections.OrderedDict([("text", entry.text), ("probability", p), ("start_logit", entry.start_logit),
                                   ("end_logit", entry.end_logit)])
          for entry, p in zip(nbest, probabilities)]


def final_prediction(nbest, score_null, version_2_with_negative, null_score_diff_threshold):
  """(predicted text, null odds or None): v1 the best entry; v2 "" when null beats the best non-null answer."""
  if not version_2_with_negative:
    return nbest[0].text, None
  best_non_null = next((entry for entry in nbest if entry.text), None)
  if best_non_null is None:  # only the null answer: null (the original stopped with an AttributeError)
    return "", score_null
  diff = score_null - best_non_null.start_logit - best_non_null.end_logit
  return ("" if diff > null_score_diff_threshold else best_non_null.text), diff


def write_predictions(examples, features, results, fv):
  """Writes predictions.json, nbest_predictions.json (and null_odds.json with v2); returns the predictions."""
  by_example = collections.defaultdict(list)
  for feature in features:
    by_example[feature.example_index].append(feature)
  result_of = {result.unique_id: result for result in results}
  predictions = collections.OrderedDict()
  all_nbest = collections.OrderedDict()
  null_odds = collections.OrderedDict()
  v2 = fv.version_2_with_negative
  for index, example in enumerate(examples):
    example_features = by_example[index]
    example_results = [result_of[f.unique_id] for f in example_features]
    nbest, score_null = nbest_predictions(example, example_features, example_results, fv.n_best_size,
                                          fv.max_answer_length, fv.do_lower_case, v2, fv.verbose_logging)
    text, odds = final_prediction(nbest, score_null, v2, fv.null_score_diff_threshold)
    predictions[example.qas_id] = text
    all_nbest[example.qas_id] = nbest_json(nbest)
    if v2:
      null_odds[example.qas_id] = odds
  outputs = [(PREDICTIONS_FILE, predictions), (NBEST_FILE, all_nbest)] + ([(NULL_ODDS_FILE, null_odds)] if v2 else [])
  for name, obj in outputs:
    path = finetuning.output_path(fv, name)
    logging.info("Writing %s", path)
    fileio.write_text_atomically(path, json.dumps(obj, indent=4) + "\n")
  return predictions


# ----------------------------------------------------------------------------------------------------------------
# SQuAD v1.1's exact match and F1.

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
  """SQuAD v1.1's normalisation: lower case, no punctuation, no articles, single spaces."""
  text = "".join(char for char in text.lower() if char not in _PUNCTUATION)
  return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_score(prediction, ground_truth):
  return normalize_answer(prediction) == normalize_answer(ground_truth)


def f1_score(prediction, ground_truth):
  """Token-level F1 of the normalised texts (0 when they share no token)."""
  predicted = normalize_answer(prediction).split()
  gold = normalize_answer(ground_truth).split()
  common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
  if common == 0:
    return 0.0
  precision, recall = common / len(predicted), common / len(gold)
  return 2 * precision * recall / (precision + recall)


def squad_scores(examples, predictions):
  """{"exact_match", "f1"} in percent over the examples with answers, and "total", their number; or None."""
  scored = [e for e in examples if e.answers]
  if not scored:
    return None
  exact = f1 = 0.0
  for example in scored:
    prediction = predictions[example.qas_id]
    exact += max(exact_match_score(prediction, answer) for answer in example.answers)
    f1 += max(f1_score(prediction, answer) for answer in example.answers)
  return collections.OrderedDict([("exact_match", 100.0 * exact / len(scored)), ("f1", 100.0 * f1 / len(scored)),
                                  ("total", len(scored))])


# ----------------------------------------------------------------------------------------------------------------
# The run.


# The QA flags the original did not check (a zero stride looped forever).
QA_FLAG_RANGES = {"doc_stride": ">=1", "max_query_length": ">=1", "n_best_size": ">=1", "max_answer_length": ">=1"}


def check_qa_flags(fv):
  """The original's checks of the QA flags (and the stride and sizes it did not check)."""
  if fv.do_train and not fv.train_file:
    raise errors.UserError("If `do_train` is True, then `train_file` must be specified.")
  if fv.do_predict and not fv.predict_file:
    raise errors.UserError("If `do_predict` is True, then `predict_file` must be specified.")
  if fv.max_seq_length <= fv.max_query_length + 3:
    raise errors.UserError("The max_seq_length (%d) must be greater than max_query_length (%d) + 3"
                           % (fv.max_seq_length, fv.max_query_length))


class QARun(object):
  """One run_qa invocation: the examples, the tokenizer and the driver."""

  def __init__(self, fv, bert_config):
    self.fv = fv
    self.tokenizer = tokenization.FullTokenizer(vocab_file=fv.vocab_file, do_lower_case=fv.do_lower_case)
    self.train_write_spec, self.train_spec, self.predict_spec = feature_specs(fv.max_seq_length)
    self.driver = finetuning.Driver(fv, lambda steps, warmup: model_fn_builder(
        bert_config, fv.learning_rate, steps, warmup))
    # Both files are read first, so that a bad predict file stops the run before training.
    v2 = fv.version_2_with_negative
    self.train_examples = read_squad_examples(fv.train_file, True, v2) if fv.do_train else None
    self.predict_examples = read_squad_examples(fv.predict_file, False, v2) if fv.do_predict else None

  def features(self, examples, is_training):
    fv = self.fv
    return convert_examples_to_features(examples, self.tokenizer, fv.max_seq_length, fv.doc_stride,
                                        fv.max_query_length, is_training)

  def train(self):
    examples = list(self.train_examples)
    random.Random(SHUFFLE_SEED).shuffle(examples)  # the original's pre-shuffle
    path = finetuning.output_path(self.fv, "train.tf_record")
    count = finetuning.write_features(path, self.train_write_spec,
                                      (f.values for f in self.features(examples, is_training=True)))
    logging.info("  Num orig examples = %d", len(examples))
    logging.info("  Num split examples = %d", count)
    self.driver.train(path, self.train_spec, len(examples))

  def predict(self):
    if not self.driver.is_chief:
      return
    fv = self.fv
    examples = self.predict_examples
    features = list(self.features(examples, is_training=False))
    path = finetuning.output_path(fv, "eval.tf_record")
    finetuning.write_features(path, self.predict_spec, (f.values for f in features))
    logging.info("  Num orig examples = %d", len(examples))
    logging.info("  Num split examples = %d", len(features))
    # All max_seq_length positions, as the original: the n-best starts and ends are chosen among them.
    results = [RawResult(int(p["unique_ids"]), p["start_logits"].tolist(), p["end_logits"].tolist())
               for p in self.driver.predict(path, self.predict_spec, len(features), trim_padding=False)]
    if len(results) != len(features):
      raise RuntimeError("%d predictions for %d features" % (len(results), len(features)))
    predictions = write_predictions(examples, features, results, fv)
    scores = squad_scores(examples, predictions)
    if scores is not None:
      logging.info("***** SQuAD v1.1 exact match and F1 (%d questions with answers) *****", scores["total"])
      text = json.dumps(scores)
      print(text)
      fileio.write_text_atomically(finetuning.output_path(fv, SQUAD_EVAL_FILE), text + "\n")


def main(_):
  logging.set_verbosity(logging.INFO)
  fv = FLAGS
  check_qa_flags(fv)
  bert_config = finetuning.check_flags(fv, do_flags=("do_train", "do_predict"), ranges=QA_FLAG_RANGES)
  run = QARun(fv, bert_config)
  if fv.do_train:
    run.train()
  if fv.do_predict:
    run.predict()


if __name__ == "__main__":
  define_flags()
  for name in ("vocab_file", "bert_config_file", "output_dir"):
    flags.mark_flag_as_required(name)
  errors.run_main(main)
