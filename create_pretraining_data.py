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
"""Create masked LM / next sentence prediction TF examples for BERT pre-training.

Input: plain text, one sentence per line, a blank line between documents (file boundaries do NOT separate
documents, as in the original). Output: TFRecord files of `tf.train.Example`s with the features

  input_ids, input_mask, segment_ids      int64[max_seq_length]
  masked_lm_positions, masked_lm_ids      int64[max_predictions_per_seq]
  masked_lm_weights                       float[max_predictions_per_seq]   (1.0 real, 0.0 padding)
  next_sentence_labels                    int64[1]                         (1 = random next, 0 = actual next)

written round-robin over the `--output_file`s.

With the default `--num_workers=1` the records are exactly the original script's: same instances, same order,
same values for the same flags, seed, vocabulary and input (the single `random.Random(random_seed)` is consumed
in the original's order, call for call). `--do_whole_word_mask` is Google's later flag (masks all WordPieces of a
word together); off, it changes nothing. The bytes are `SerializeToString(deterministic=True)`'s (features in
sorted name order), so the same inputs always give the same file. (The original called `SerializeToString()`:
under today's protobuf runtime its feature order, hence its file bytes, changes from run to run; compare the
original's output with ours record by record, as parsed Examples.)

What is different, and why:
  * Speed. Tokenization goes through the tokenizer's memoised batch path; instances are built on tokens held as
    the protobuf varint bytes of their ids, with the random-number calls inlined (the same Mersenne Twister draws
    as `random.shuffle` / `randint`, checked against them at start-up); each instance is serialised straight to
    Example bytes; CRCs are computed for many records at once; TensorFlow is never imported (unless a path is
    remote, "gs://..."). Instances are kept as serialised bytes until the final shuffle, which also uses much less
    memory than the original's objects. `python bench/create_pretraining_data.py --original_dir=...` measures it
    against the original.
  * `--num_workers=N` (N > 1): each input file is processed on its own, in parallel, with its own generator seeded
    from (random_seed, the file's position in the input list). This is a different stream from the default one --
    documents are shuffled and random "next sentences" drawn within a file, instances shuffled within a file --
    but it is reproducible and does not depend on N. Memory is bounded by a few input files (those in flight),
    not the corpus; the default mode, like the original, holds the whole corpus and all its instances. Output
    records are written in input-file order, round-robin over the output files, so give several input shards
    and several output files for a well-mixed result (run_pretraining interleaves files but shuffles records
    only 100 at a time).
  * Glob patterns in `--input_file` are expanded in sorted order (the original took the file system's listing
    order, which differs between machines). Comma-separated files keep the order given.
  * Errors a user can cause are reported in one line: an input file or pattern that matches nothing (the
    original skipped it silently), an empty corpus, a corpus (or, with N > 1, an input file) holding a single
    document (`--allow_single_document` to proceed), text that is not UTF-8, a vocabulary without [CLS]/[SEP]/
    [MASK], flags out of range, and (with the optional `--bert_config_file`) a max_seq_length above the model's
    max_position_embeddings or a vocabulary larger than its vocab_size. Output files are written to temporary
    names and renamed only when complete.

Input quirk kept from the original (it read lines with TensorFlow's GFile): lines are split on "\\n" only and
every "\\r" character is dropped, so "a\\rb" reads as "ab".
"""

import collections
import multiprocessing
import os
import random
from operator import itemgetter

from absl import flags
from absl import logging

import bert_config
import errors
import fileio
import tfrecord_io
import tokenization

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines the script's flags: the original's (names, defaults) and the additions.

  Called from `__main__` only, so importing this module (tests, other tools, worker processes) defines no
  flags.
  """
  fv = flag_values
  flags.DEFINE_string("input_file", None,
                      "Input raw text file (or comma-separated list of files; glob patterns allowed).",
                      flag_values=fv)
  flags.DEFINE_string("output_file", None,
                      "Output TF example file (or comma-separated list of files).", flag_values=fv)
  flags.DEFINE_string("vocab_file", None,
                      "The vocabulary file that the BERT model was trained on.", flag_values=fv)
  flags.DEFINE_bool(
      "do_lower_case", True,
      "Whether to lower case the input text. Should be True for uncased "
      "models and False for cased models.", flag_values=fv)
  flags.DEFINE_bool(
      "do_whole_word_mask", False,
      "Whether to use whole word masking rather than per-WordPiece masking.", flag_values=fv)
  flags.DEFINE_integer("max_seq_length", 128, "Maximum sequence length.", flag_values=fv)
  flags.DEFINE_integer("max_predictions_per_seq", 20,
                       "Maximum number of masked LM predictions per sequence.", flag_values=fv)
  flags.DEFINE_integer("random_seed", 12345, "Random seed for data generation.", flag_values=fv)
  flags.DEFINE_integer(
      "dupe_factor", 10,
      "Number of times to duplicate the input data (with different masks).", flag_values=fv)
  flags.DEFINE_float("masked_lm_prob", 0.15, "Masked LM probability.", flag_values=fv)
  flags.DEFINE_float(
      "short_seq_prob", 0.1,
      "Probability of creating sequences which are shorter than the "
      "maximum length.", flag_values=fv)
  # Additions.
  flags.DEFINE_integer(
      "num_workers", 1,
      "1: the original's single stream over all input files (all documents in memory). N > 1: process each input "
      "file on its own, N files in parallel, with per-file seeds (a different but reproducible stream, independent "
      "of N; memory bounded by a few input files).", flag_values=fv)
  flags.DEFINE_bool(
      "allow_single_document", False,
      "Proceed when the input holds a single document (no blank line between documents). Its next-sentence "
      "negatives would then come from the same document, so this is an error by default.", flag_values=fv)
  flags.DEFINE_string(
      "bert_config_file", None,
      "Optional BERT config JSON: checks max_seq_length <= max_position_embeddings and the vocabulary size.",
      flag_values=fv)
  flags.DEFINE_bool(
      "allow_case_mismatch", False,
      "Accept a --do_lower_case that contradicts the case of --vocab_file (refused by default: keeping the case "
      "for an uncased vocabulary turns every capital into [UNK], lower-casing for a cased one makes every "
      "upper-case piece unreachable).", flag_values=fv)


# The numeric flags' ranges (errors.check_ranges).
FLAG_RANGES = {
    "max_seq_length": ">=5", "max_predictions_per_seq": ">=0", "dupe_factor": ">=1", "masked_lm_prob": "[0,1]",
    "short_seq_prob": "[0,1]", "num_workers": ">=1",
}


_NUM_LOGGED_INSTANCES = 20

# Lines are tokenized in blocks of about this many bytes (bounds the memory of the raw text).
_READ_BLOCK_BYTES = 1 << 22

InstanceConfig = collections.namedtuple(
    "InstanceConfig",
    ["max_seq_length", "short_seq_prob", "masked_lm_prob", "max_predictions_per_seq", "do_whole_word_mask"])


# ---------------------------------------------------------------------------------------------------------------
# Random numbers. The builder draws from `rng.getrandbits` directly, exactly as `random.Random.shuffle`,
# `randint` and `randrange` do internally (k = n.bit_length() bits per try, rejecting values >= n). This is checked
# against the real methods once per process; if a Python version ever draws differently, the real methods are used.


def _check_inlined_draws():
  """True if `_randbelow`-style draws through getrandbits reproduce random.Random's shuffle/randint exactly."""
  reference, inlined = random.Random(20181218), random.Random(20181218)
  getrandbits = inlined.getrandbits

  def randbelow(n):
    k = n.bit_length()
    r = getrandbits(k)
    while r >= n:
      r = getrandbits(k)
    return r

  for n in (1, 2, 3, 5, 63, 64, 65, 127, 128, 129, 300):
    items = list(range(n))
    reference.shuffle(items)
    mine = list(range(n))
    for i in range(n - 1, 0, -1):
      j = randbelow(i + 1)
      mine[i], mine[j] = mine[j], mine[i]
    if items != mine:
      return False
  for n in (1, 2, 3, 7, 100, 30522, 70000, 1 << 20, (1 << 40) + 3):
    for low in (0, 1, 2):
      if reference.randint(low, low + n - 1) != low + randbelow(n):
        return False
  return reference.getstate() == inlined.getstate()


_INLINED_DRAWS_OK = None


def _inlined_draws_ok():
  global _INLINED_DRAWS_OK
  if _INLINED_DRAWS_OK is None:
    _INLINED_DRAWS_OK = _check_inlined_draws()
    if not _INLINED_DRAWS_OK:
      logging.warning("This Python's random module draws differently from the inlined copy; using its methods.")
  return _INLINED_DRAWS_OK


def shuffle(rng, items):
  """`rng.shuffle(items)`, with the draws inlined when they are known to match (same result, faster)."""
  if not _inlined_draws_ok():
    rng.shuffle(items)
    return
  getrandbits = rng.getrandbits
  for i in range(len(items) - 1, 0, -1):
    m = i + 1
    k = m.bit_length()
    j = getrandbits(k)
    while j >= m:
      j = getrandbits(k)
    items[i], items[j] = items[j], items[i]


# ---------------------------------------------------------------------------------------------------------------
# Vocabulary-derived tables.


class VocabInfo(object):
  """What instance building needs from the vocabulary.

  Instances are built on tokens represented by the protobuf varint encoding of their id (a small bytes object,
  one shared object per id): the algorithm only moves and compares tokens, and an instance's `input_ids` /
  `masked_lm_ids` payloads are then plain concatenations.

  Attributes:
    cls_id, sep_id, mask_id: ids of [CLS], [SEP], [MASK].
    vocab_word_ids: the id of each entry of `list(vocab.keys())` (the original's `vocab_words`, from which random
      replacement tokens are drawn: every entry, specials included).
    size: 1 + the largest id.
    token_bytes: id -> varint bytes of the id (the token representation of the builder).
    cls, sep, mask: token_bytes of [CLS], [SEP], [MASK].
    vocab_words: token_bytes of each `vocab_word_ids` entry.
    is_continuation: token bytes -> True if the token starts with "##" (whole-word masking groups those with the
      preceding piece), for every id.
    inv_vocab: id -> token (for logging).
  """

  def __init__(self, vocab, vocab_file="the vocabulary"):
    missing = [t for t in ("[CLS]", "[SEP]", "[MASK]") if t not in vocab]
    if missing:
      raise errors.UserError("vocab file %s: has no %s token%s (BERT pre-training needs [CLS], [SEP] and [MASK])"
                             % (vocab_file, "/".join(missing), "s" if len(missing) > 1 else ""))
    self.vocab_file = vocab_file
    self.cls_id = vocab["[CLS]"]
    self.sep_id = vocab["[SEP]"]
    self.mask_id = vocab["[MASK]"]
    self.vocab_word_ids = [vocab[token] for token in vocab.keys()]
    self.size = max(vocab.values()) + 1
    varints = tfrecord_io.VARINTS
    self.token_bytes = (varints[:self.size] if self.size <= len(varints)
                        else [tfrecord_io.encode_varint(i) for i in range(self.size)])
    self.cls = self.token_bytes[self.cls_id]
    self.sep = self.token_bytes[self.sep_id]
    self.mask = self.token_bytes[self.mask_id]
    self.vocab_words = [self.token_bytes[i] for i in self.vocab_word_ids]
    self.is_continuation = dict.fromkeys(self.token_bytes, False)
    self.inv_vocab = {}
    for token, index in vocab.items():
      self.inv_vocab[index] = token
      if token.startswith("##"):
        self.is_continuation[self.token_bytes[index]] = True

  def to_tokens(self, ids):
    """Token ids -> the builder's token representation (varint bytes)."""
    return list(map(self.token_bytes.__getitem__, ids))


# ---------------------------------------------------------------------------------------------------------------
# Serialisation of one instance straight to `tf.train.Example` bytes (deterministic: sorted feature names).


class _ExampleEncoder(object):
  """Precomputed byte pieces for the seven features; `encode` joins them per instance."""

  def __init__(self, max_seq_length, max_predictions_per_seq, vocab_size):
    io = tfrecord_io
    self.seq = max_seq_length
    self.pred = max_predictions_per_seq
    top = max(vocab_size, max_seq_length, 1 << 14) + 1
    self.varints = io.VARINTS[:top] if top <= len(io.VARINTS) else [io.encode_varint(i) for i in range(top)]
    self.zeros = [b"\x00" * n for n in range(max(max_seq_length, max_predictions_per_seq) + 1)]
    self.positions_are_bytes = max_seq_length <= 128
    self.ones = [b"\x01" * n for n in range(max_seq_length + 1)]

    def prefixes(name, max_packed_len):
      # Entry bytes before the packed payload, for every payload length (an entry's headers depend only on it).
      table = []
      for n in range(max_packed_len + 1):
        entry = io.feature_map_entry(name, io.feature_from_packed_int64(b"\x00" * n))
        assert entry.endswith(b"\x00" * n)
        table.append(entry[:len(entry) - n])
      return table

    # A varint of an int64 id takes at most 10 bytes; ids below 2**21 at most 3.
    max_id_bytes = len(io.encode_varint(max(top, 1)))
    self.ids_prefix = prefixes("input_ids", max_seq_length * max_id_bytes)
    self.lm_ids_prefix = prefixes("masked_lm_ids", max_predictions_per_seq * max_id_bytes)
    self.lm_positions_prefix = prefixes("masked_lm_positions", max_predictions_per_seq * max(
        1, len(io.encode_varint(max_seq_length))))
    self.mask_entries = [
        io.feature_map_entry("input_mask", io.create_int_feature([1] * n + [0] * (max_seq_length - n)))
        for n in range(max_seq_length + 1)]
    self.weight_entries = [
        io.feature_map_entry("masked_lm_weights",
                             io.create_float_feature([1.0] * n + [0.0] * (max_predictions_per_seq - n)))
        for n in range(max_predictions_per_seq + 1)]
    self.nsp_entries = [io.feature_map_entry("next_sentence_labels", io.create_int_feature([label]))
                        for label in (0, 1)]
    segment_entry = io.feature_map_entry("segment_ids", io.create_int_feature([0] * max_seq_length))
    self.segment_prefix = segment_entry[:len(segment_entry) - max_seq_length]
    # Example = field 1 (Features) = concatenated entries: b"\x0a" + varint(len) + entries.
    self.outer = [b"\x0a" + io.encode_varint(n) for n in range(1 << 14)]

  def encode(self, input_tokens, len_a, len_b, positions, label_tokens, is_random_next):
    """Serialised Example of one instance; tokens are varint bytes, the argument lists unpadded."""
    zeros = self.zeros
    n = len(input_tokens)
    pad = self.seq - n
    ids_packed = b"".join(input_tokens) + zeros[pad]
    count = len(positions)
    pred_pad = self.pred - count
    lm_ids_packed = b"".join(label_tokens) + zeros[pred_pad]
    if self.positions_are_bytes:
      lm_positions_packed = bytes(positions) + zeros[pred_pad]  # positions < 128: one-byte varints
    else:
      lm_positions_packed = b"".join([self.varints[i] for i in positions]) + zeros[pred_pad]
    body = b"".join((
        self.ids_prefix[len(ids_packed)], ids_packed,
        self.mask_entries[n],
        self.lm_ids_prefix[len(lm_ids_packed)], lm_ids_packed,
        self.lm_positions_prefix[len(lm_positions_packed)], lm_positions_packed,
        self.weight_entries[count],
        self.nsp_entries[is_random_next],
        self.segment_prefix, zeros[len_a + 2], self.ones[len_b + 1], zeros[pad]))
    size = len(body)
    if size < 16384:
      return self.outer[size] + body
    return b"\x0a" + tfrecord_io.encode_varint(size) + body


# ---------------------------------------------------------------------------------------------------------------
# Instance building: the original's create_instances_from_document / truncate_seq_pair /
# create_masked_lm_predictions, on tokens held as varint bytes, serialising each instance as it is made.


class InstanceBuilder(object):
  """Builds serialised training instances from documents, consuming `rng` exactly as the original does."""

  def __init__(self, config, vocab_info, rng):
    if config.max_seq_length < 5:
      raise errors.UserError("--max_seq_length=%d: must be at least 5 ([CLS] A [SEP] B [SEP] with A and B "
                             "of two tokens at most)" % config.max_seq_length)
    self.config = config
    self.vocab_info = vocab_info
    self.rng = rng
    self.encoder = _ExampleEncoder(config.max_seq_length, config.max_predictions_per_seq, vocab_info.size)
    seq = config.max_seq_length
    # num_to_predict for a sequence of n tokens (specials included); Python 3 round() is banker's rounding.
    self.num_to_predict = [
        min(config.max_predictions_per_seq, max(1, int(round(n * config.masked_lm_prob)))) for n in range(seq + 1)]
    # The steps of random.shuffle on a list of c items: (i, i + 1, bits drawn per try), i = c-1 down to 1.
    self.shuffle_steps = [tuple((m - 1, m, m.bit_length()) for m in range(c, 1, -1)) for c in range(seq + 1)]
    # Per-WordPiece masking keeps only the first num_to_predict candidates of the shuffled list (c candidates,
    # num_to_predict[c + 3]). A step with i >= that count finalises a position nobody reads: it only needs to
    # move x[i] into x[j], not x[j] into x[i]. Same draws, same prefix, fewer stores.
    self.prefix_shuffle_steps = []
    for c in range(seq + 1):
      keep = self.num_to_predict[c + 3] if c + 3 <= seq else c
      steps = self.shuffle_steps[c]
      self.prefix_shuffle_steps.append((steps[:max(0, c - keep)], steps[max(0, c - keep):]))
    self.fast = _inlined_draws_ok()

  def prepare_documents(self, all_documents):
    """Converts documents of token ids, in place (the outer list), to the builder's token representation."""
    to_tokens = self.vocab_info.to_tokens
    for index, document in enumerate(all_documents):
      all_documents[index] = [to_tokens(segment) for segment in document]

  def add_document_instances(self, all_documents, document_index, out):
    """Appends to `out` the serialised instances of one document (the original's create_instances_from_document).

    Args:
      all_documents: list of documents; a document is a list of segments (sentences), a segment a non-empty
        list of tokens in the builder's representation (`prepare_documents`).
      document_index: the document to cut into instances.
      out: list the records (bytes) are appended to.

    Returns:
      The number of instances appended.
    """
    rng = self.rng
    random = rng.random
    getrandbits = rng.getrandbits
    fast = self.fast
    config = self.config
    document = all_documents[document_index]
    num_documents = len(all_documents)
    max_num_tokens = config.max_seq_length - 3

    if fast:
      def randbelow(n):
        k = n.bit_length()
        r = getrandbits(k)
        while r >= n:
          r = getrandbits(k)
        return r
    else:
      randbelow = rng.randrange

    # Mostly fill the sequence; sometimes (short_seq_prob) aim for a shorter one, to look like fine-tuning inputs.
    target_seq_length = max_num_tokens
    if random() < config.short_seq_prob:
      target_seq_length = 2 + randbelow(max_num_tokens - 1)  # randint(2, max_num_tokens)

    appended = 0
    current_chunk = []
    current_length = 0
    i = 0
    last = len(document) - 1
    while i <= last:
      segment = document[i]
      current_chunk.append(segment)
      current_length += len(segment)
      if i == last or current_length >= target_seq_length:
        # `a_end`: how many segments of the chunk go into A.
        chunk_size = len(current_chunk)
        a_end = 1
        if chunk_size >= 2:
          a_end = 1 + randbelow(chunk_size - 1)  # randint(1, chunk_size - 1)
        tokens_a = []
        for j in range(a_end):
          tokens_a += current_chunk[j]

        tokens_b = []
        if chunk_size == 1 or random() < 0.5:
          is_random_next = 1
          target_b_length = target_seq_length - len(tokens_a)
          # Ten tries for a different document; after ten misses the last draw is used, even if it is this one.
          for _ in range(10):
            random_document_index = randbelow(num_documents)  # randint(0, num_documents - 1)
            if random_document_index != document_index:
              break
          random_document = all_documents[random_document_index]
          random_start = randbelow(len(random_document))
          for j in range(random_start, len(random_document)):
            tokens_b += random_document[j]
            if len(tokens_b) >= target_b_length:
              break
          # The segments of the chunk not used for A are "put back" for the next instance.
          i -= chunk_size - a_end
        else:
          is_random_next = 0
          for j in range(a_end, chunk_size):
            tokens_b += current_chunk[j]

        # truncate_seq_pair: drop a token from the longer side (B on ties), from the front (random() < 0.5) or
        # the back. Which side loses each token depends on the lengths only: the longer side until the two are
        # level (A) or A is one longer (B), then B, A, B, ... (A level) or A, B, A, ... (B one shorter). So draw
        # one number per dropped token, in order, and count fronts per side.
        len_a, len_b = len(tokens_a), len(tokens_b)
        excess = len_a + len_b - max_num_tokens
        if excess > 0:
          fronts = [random() < 0.5 for _ in range(excess)]
          if len_a > len_b:
            lead = min(excess, len_a - len_b)  # A's first drops; then B, A, B, ...
            a_drops = fronts[:lead] + fronts[lead + 1::2]
            b_drops = fronts[lead::2]
          else:
            lead = min(excess, len_b - len_a + 1)  # B's first drops; then A, B, A, ...
            b_drops = fronts[:lead] + fronts[lead + 1::2]
            a_drops = fronts[lead::2]
          front_a, front_b = sum(a_drops), sum(b_drops)
          len_a -= len(a_drops)
          len_b -= len(b_drops)
          tokens_a = tokens_a[front_a:front_a + len_a]
          tokens_b = tokens_b[front_b:front_b + len_b]
        assert len_a >= 1 and len_b >= 1

        out.append(self._masked_instance(tokens_a, tokens_b, is_random_next, randbelow))
        appended += 1
        current_chunk = []
        current_length = 0
      i += 1
    return appended

  def _masked_instance(self, tokens_a, tokens_b, is_random_next, randbelow):
    """[CLS] A [SEP] B [SEP], masked as create_masked_lm_predictions does; returns the serialised Example."""
    info = self.vocab_info
    rng = self.rng
    len_a, len_b = len(tokens_a), len(tokens_b)
    tokens = [info.cls]
    tokens += tokens_a
    tokens.append(info.sep)
    tokens += tokens_b
    tokens.append(info.sep)
    n = len(tokens)
    num_to_predict = self.num_to_predict[n]

    # Candidates: every position but [CLS] and the two [SEP]s (text never tokenizes to "[CLS]"/"[SEP]": "[" and
    # "]" are split off as punctuation).
    candidates = list(range(1, len_a + 1))
    candidates += range(len_a + 2, n - 1)
    whole_word = self.config.do_whole_word_mask
    if whole_word:
      # Whole words: a "##" piece joins the group before it -- also across the [SEP] between A and B, as in the
      # original; the first candidate always starts a group. Group g is candidates[starts[g]:starts[g + 1]]; the
      # group numbers are what gets shuffled.
      continuation = itemgetter(*tokens)(self.vocab_info.is_continuation)
      starts = [index for index, position in enumerate(candidates) if not continuation[position]]
      if not starts or starts[0] != 0:
        starts.insert(0, 0)
      starts.append(len(candidates))
      order = list(range(len(starts) - 1))
    else:
      order = candidates

    # rng.shuffle(order)
    if not self.fast:
      rng.shuffle(order)
    elif whole_word:
      getrandbits = rng.getrandbits
      for i, m, k in self.shuffle_steps[len(order)]:
        j = getrandbits(k)
        while j >= m:
          j = getrandbits(k)
        order[i], order[j] = order[j], order[i]
    else:
      getrandbits = rng.getrandbits
      moves, swaps = self.prefix_shuffle_steps[len(order)]
      for i, m, k in moves:
        j = getrandbits(k)
        while j >= m:
          j = getrandbits(k)
        order[j] = order[i]
      for i, m, k in swaps:
        j = getrandbits(k)
        while j >= m:
          j = getrandbits(k)
        order[i], order[j] = order[j], order[i]

    # Which positions get predicted depends on the order and sizes only, not on random draws.
    if whole_word:
      chosen = []
      for group in order:
        if len(chosen) >= num_to_predict:
          break
        start, end = starts[group], starts[group + 1]
        # A whole word that would exceed the budget is skipped (a shorter one later may still fit).
        if len(chosen) + end - start > num_to_predict:
          continue
        chosen += candidates[start:end]
    else:
      chosen = order[:num_to_predict]

    positions = sorted(chosen)
    label_tokens = [tokens[p] for p in positions]
    random = rng.random
    mask = info.mask
    vocab_words = info.vocab_words
    num_words = len(vocab_words)
    for position in chosen:
      if random() < 0.8:  # 80%: [MASK]
        tokens[position] = mask
      elif random() < 0.5:  # 10%: keep the original token
        pass
      else:  # 10%: any vocabulary entry (specials included)
        tokens[position] = vocab_words[randbelow(num_words)]
    return self.encoder.encode(tokens, len_a, len_b, positions, label_tokens, is_random_next)


# ---------------------------------------------------------------------------------------------------------------
# Reading.


def _iter_line_blocks(input_file):
  """Yields (first_line_number, lines) blocks of a text file, lines as the original's GFile.readline gave them.

  Lines are split on "\\n" only and every "\\r" is dropped (TensorFlow's line reader does both).

  Raises:
    errors.UserError: the file cannot be read or is not UTF-8 (naming the line).
  """
  try:
    if tfrecord_io.is_remote(input_file):
      import tensorflow as tf  # pylint: disable=g-import-not-at-top
      reader = tf.io.gfile.GFile(input_file, "rb")
    else:
      reader = open(input_file, "rb")
  except OSError as e:
    raise errors.UserError("input file %s: cannot open: %s" % (input_file, e.strerror or e)) from e
  with reader:
    carry = b""
    line_number = 1
    while True:
      data = reader.read(_READ_BLOCK_BYTES)
      at_end = not data
      data = carry + data
      if not data:
        break
      if at_end:
        cut, carry = len(data), b""
      else:
        cut = data.rfind(b"\n") + 1
        if cut == 0:
          carry = data
          continue
        data, carry = data[:cut], data[cut:]
      if b"\r" in data:
        data = data.replace(b"\r", b"")
      try:
        text = data.decode("utf-8")
      except UnicodeDecodeError as e:
        bad_line = line_number + data.count(b"\n", 0, e.start)
        raise errors.UserError("input file %s: line %d: not valid UTF-8 (%s)" % (input_file, bad_line, e.reason))
      lines = text.split("\n")
      if lines[-1] == "":
        lines.pop()  # The text after the final "\n" is not a line.
      yield line_number, lines
      line_number += len(lines)
      if at_end:
        break


def read_documents(input_files, tokenizer, all_documents=None, progress=None, vocab_file=None):
  """Reads and tokenizes input files into documents, as the original's create_training_instances does.

  A blank line starts a new document; a line that tokenizes to nothing is skipped; file boundaries do not start
  a document. Empty documents are NOT removed here (see `remove_empty_documents`).

  Args:
    input_files: list of paths.
    tokenizer: a tokenization.FullTokenizer (its `tokenize_batch_to_ids` fast path is used).
    all_documents: the list to extend (default: a new `[[]]`).
    progress: optional callable(number of lines read) for a progress bar.
    vocab_file: the vocabulary's path, for error messages.

  Returns:
    all_documents: a list of documents, each a list of segments, each a list of token ids.
  """
  if all_documents is None:
    all_documents = [[]]
  tokenize_to_ids = tokenizer.tokenize_batch_to_ids
  for input_file in input_files:
    for _, lines in _iter_line_blocks(input_file):
      stripped = [line.strip() for line in lines]
      nonempty = [line for line in stripped if line]
      try:
        token_lists = iter(tokenize_to_ids(nonempty))
      except KeyError as e:
        raise errors.UserError("vocab file %s: has no %s token, which the text of input file %s needs"
                               % (vocab_file or "in use", e, input_file)) from e
      current = all_documents[-1]
      for line in stripped:
        if not line:
          current = []
          all_documents.append(current)
          continue
        tokens = next(token_lists)
        if tokens:
          current.append(tokens)
      if progress is not None:
        progress(len(lines))
  return all_documents


def remove_empty_documents(all_documents):
  return [document for document in all_documents if document]


# ---------------------------------------------------------------------------------------------------------------
# The pipeline.


def _progress_bar(total, desc, unit):
  return fileio.progress_bar(total=total, desc=desc, unit=unit, leave=False)


def _check_documents(all_documents, where, allow_single_document):
  """Raises UserError for a corpus with no document, or a single one (unless allowed)."""
  if not all_documents:
    raise errors.UserError("%s: no text (after tokenization there is not a single non-empty line)" % where)
  if len(all_documents) == 1 and not allow_single_document:
    raise errors.UserError(
        "%s: holds a single document (no blank line between documents), so next-sentence negatives would come "
        "from that same document; put a blank line between documents, or pass --allow_single_document" % where)


def create_training_records(all_documents, builder, dupe_factor, rng, show_progress=True):
  """The original's create_training_instances after reading: returns the shuffled list of serialised records.

  `all_documents` (documents of token ids, free of empty documents) is converted in place to the builder's token
  representation and shuffled. Consumes `rng`: shuffle(documents), the instances of every document `dupe_factor`
  times, shuffle(instances).
  """
  builder.prepare_documents(all_documents)
  shuffle(rng, all_documents)
  records = []
  bar = _progress_bar(dupe_factor * len(all_documents), "instances", "doc") if show_progress else None
  add = builder.add_document_instances
  for _ in range(dupe_factor):
    done = 0
    for document_index in range(len(all_documents)):
      add(all_documents, document_index, records)
      done += 1
      if bar is not None and done == 1024:
        bar.update(done)
        done = 0
    if bar is not None:
      bar.update(done)
  if bar is not None:
    bar.close()
  shuffle(rng, records)
  return records


def _log_instance(record, inv_vocab):
  """Logs one record the way the original logged its first instances."""
  features = tfrecord_io.parse_example(record)
  input_ids = features["input_ids"][1]
  num_tokens = sum(features["input_mask"][1])
  tokens = [tokenization.printable_text(inv_vocab.get(i, "[%d]" % i)) for i in input_ids[:num_tokens]]
  logging.info("*** Example ***")
  logging.info("tokens: %s" % " ".join(tokens))
  for name in ("input_ids", "input_mask", "segment_ids", "masked_lm_positions", "masked_lm_ids",
               "masked_lm_weights", "next_sentence_labels"):
    logging.info("%s: %s" % (name, " ".join(str(x) for x in features[name][1])))


def write_records(records, output_files, inv_vocab, show_progress=True):
  """Writes records round-robin over `output_files` (atomically), logging the first 20. Returns the count."""
  for record in records[:_NUM_LOGGED_INSTANCES]:
    _log_instance(record, inv_vocab)
  bar = _progress_bar(len(records), "write", "rec") if show_progress else None
  batch = 8192
  with tfrecord_io.RoundRobinWriter(output_files) as writer:
    for start in range(0, len(records), batch):
      chunk = records[start:start + batch]
      writer.write_many(chunk)
      if bar is not None:
        bar.update(len(chunk))
  if bar is not None:
    bar.close()
  return len(records)


def _file_seed(random_seed, file_index):
  """Seed of the per-file stream (--num_workers > 1): a string, hashed by random.seed (SHA-512), so stable."""
  return "create_pretraining_data:%d:%d" % (random_seed, file_index)


# Per-process state of the --num_workers > 1 workers.
_worker = {}


def _init_worker(vocab_file, do_lower_case, config, random_seed, dupe_factor, allow_single_document):
  errors.init_worker_process()
  tokenizer = tokenization.FullTokenizer(vocab_file=vocab_file, do_lower_case=do_lower_case)
  _worker.update(tokenizer=tokenizer, vocab_file=vocab_file, vocab_info=VocabInfo(tokenizer.vocab, vocab_file),
                 config=config, random_seed=random_seed, dupe_factor=dupe_factor,
                 allow_single_document=allow_single_document)


def process_file(file_index, input_file):
  """Per-file stream: the original's algorithm on one input file, with its own seeded generator.

  Returns:
    (file_index, list of framed records in output order (`tfrecord_io.frame_each`: the CRCs are computed here, in
    the worker), number of documents). A file with no text gives no records (and 0 documents).
  """
  tokenizer = _worker["tokenizer"]
  all_documents = remove_empty_documents(read_documents([input_file], tokenizer, vocab_file=_worker["vocab_file"]))
  if not all_documents:
    return file_index, [], 0
  _check_documents(all_documents, "input file %s" % input_file, _worker["allow_single_document"])
  rng = random.Random(_file_seed(_worker["random_seed"], file_index))
  builder = InstanceBuilder(_worker["config"], _worker["vocab_info"], rng)
  records = create_training_records(all_documents, builder, _worker["dupe_factor"], rng, show_progress=False)
  return file_index, tfrecord_io.frame_each(records), len(all_documents)


def _process_file_star(args):
  return process_file(*args)


def _run_per_file(input_files, output_files, inv_vocab, num_workers, init_args):
  """--num_workers > 1: files in parallel, records written in input-file order, round-robin."""
  total = 0
  logged = 0
  documents = 0
  bar = _progress_bar(len(input_files), "files", "file")
  context = multiprocessing.get_context("spawn")
  workers = min(num_workers, len(input_files))
  with tfrecord_io.RoundRobinWriter(output_files) as writer:
    with context.Pool(workers, initializer=_init_worker, initargs=init_args) as pool:
      for file_index, records, num_documents in pool.imap(
          _process_file_star, list(enumerate(input_files)), chunksize=1):
        if not records:
          logging.warning("input file %s: no text; skipped", input_files[file_index])
        documents += num_documents
        while logged < _NUM_LOGGED_INSTANCES and logged < len(records):
          _log_instance(tfrecord_io.unframe(records[logged]), inv_vocab)
          logged += 1
        writer.write_framed_many(records)
        total += len(records)
        if bar is not None:
          bar.update(1)
    if total == 0:
      raise errors.UserError("--input_file: no text in any of the %d input files" % len(input_files))
  if bar is not None:
    bar.close()
  return total


def _validate_flags():
  errors.check_ranges(FLAGS, FLAG_RANGES)
  output_files = [f.strip() for f in FLAGS.output_file.split(",")]
  if not all(output_files):
    raise errors.UserError("--output_file=%s: holds an empty file name" % FLAGS.output_file)
  seen = set()
  for output_file in output_files:
    key = output_file if tfrecord_io.is_remote(output_file) else os.path.realpath(output_file)
    if key in seen:
      raise errors.UserError("--output_file: %s is given twice" % output_file)
    seen.add(key)
    fileio.check_output_file(output_file)
  return output_files


def main(_):
  logging.set_verbosity(logging.INFO)
  output_files = _validate_flags()

  tokenization.resolve_do_lower_case(FLAGS.do_lower_case, FLAGS.vocab_file, FLAGS.allow_case_mismatch)
  tokenizer = tokenization.FullTokenizer(vocab_file=FLAGS.vocab_file, do_lower_case=FLAGS.do_lower_case)
  vocab_info = VocabInfo(tokenizer.vocab, FLAGS.vocab_file)
  if FLAGS.bert_config_file:
    model_config = bert_config.BertConfig.from_json_file(FLAGS.bert_config_file)
    model_config.check_inputs(max_seq_length=FLAGS.max_seq_length, vocab_size=vocab_info.size,
                              source=FLAGS.bert_config_file)
  config = InstanceConfig(FLAGS.max_seq_length, FLAGS.short_seq_prob, FLAGS.masked_lm_prob,
                          FLAGS.max_predictions_per_seq, FLAGS.do_whole_word_mask)

  input_files = fileio.expand_input_files(FLAGS.input_file)
  for output_file in output_files:
    fileio.refuse_overwriting_inputs(output_file, input_files + [FLAGS.vocab_file, FLAGS.bert_config_file],
                                     "--output_file")
  logging.info("*** Reading from input files ***")
  for input_file in input_files:
    logging.info("  %s", input_file)

  if FLAGS.num_workers > 1:
    logging.info("*** Writing to output files ***")
    for output_file in output_files:
      logging.info("  %s", output_file)
    init_args = (FLAGS.vocab_file, FLAGS.do_lower_case, config, FLAGS.random_seed, FLAGS.dupe_factor,
                 FLAGS.allow_single_document)
    total = _run_per_file(input_files, output_files, vocab_info.inv_vocab, FLAGS.num_workers, init_args)
  else:
    rng = random.Random(FLAGS.random_seed)
    bar = _progress_bar(None, "read", "line")
    all_documents = read_documents(input_files, tokenizer, vocab_file=FLAGS.vocab_file,
                                   progress=bar.update if bar is not None else None)
    if bar is not None:
      bar.close()
    all_documents = remove_empty_documents(all_documents)
    _check_documents(all_documents, "--input_file %s" % FLAGS.input_file, FLAGS.allow_single_document)
    builder = InstanceBuilder(config, vocab_info, rng)
    records = create_training_records(all_documents, builder, FLAGS.dupe_factor, rng)
    del all_documents

    logging.info("*** Writing to output files ***")
    for output_file in output_files:
      logging.info("  %s", output_file)
    total = write_records(records, output_files, vocab_info.inv_vocab)

  logging.info("Wrote %d total instances", total)


if __name__ == "__main__":
  define_flags()
  flags.mark_flag_as_required("input_file")
  flags.mark_flag_as_required("output_file")
  flags.mark_flag_as_required("vocab_file")
  errors.run_main(main)
