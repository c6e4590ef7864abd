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
"""TFRecord files of `tf.train.Example`s, written and read without importing TensorFlow.

Writing:
  features = collections.OrderedDict()
  features["input_ids"] = create_int_feature(input_ids)      # bytes: one encoded tf.train.Feature
  features["label"] = create_float_feature([0.5])
  with RoundRobinWriter(["a.tfrecord", "b.tfrecord"]) as writer:
    writer.write(serialize_example(features))

Reading:
  for record in read_records("a.tfrecord"):
    example = parse_example(record)    # {"input_ids": ("int64", [...]), "label": ("float", [0.5])}
  check_example_file("a.tfrecord", {"input_ids": ("int64", 128, "--max_seq_length")})

Why not `tf.train.Example` + `tf.io.TFRecordWriter`: importing TensorFlow costs ~5 s, and building one protobuf
message per record in Python is slow. The bytes written here are exactly those of
`tf.train.Example(...).SerializeToString(deterministic=True)` (features in sorted name order, packed repeated
values) framed as `tf.io.TFRecordWriter` frames them; the tests check both against TensorFlow.

Files are written atomically: records go to a temporary file beside the target, which is renamed over the target
only when every record has been written; on any error the temporary file is removed, so a TFRecord file is either
complete or absent. Paths containing "://" (gs://, hdfs://, ...) go through `tf.io.gfile`, imported only then.

TFRecord framing (per record): uint64 length (little-endian), uint32 masked CRC-32C of those 8 bytes, the
payload, uint32 masked CRC-32C of the payload. CRC-32C is computed with NumPy for many records at once (the
records are right-aligned in a zero-padded matrix; a CRC without initial/final inversion does not change under
leading zero bytes, so one column loop serves records of every length).
"""

import os
import struct

import numpy as np

import errors
import fileio

# ---------------------------------------------------------------------------------------------------------------
# Protocol-buffer wire format (the subset tf.train.Example needs).

_VARINT_TABLE_SIZE = 1 << 16


def _encode_varint(value):
  """Returns the base-128 varint encoding of a non-negative int."""
  out = bytearray()
  while value > 0x7F:
    out.append((value & 0x7F) | 0x80)
    value >>= 7
  out.append(value)
  return bytes(out)


# VARINTS[n] is the varint of n for 0 <= n < 65536: a list lookup is the fast way to encode ids and lengths.
VARINTS = ([bytes((n,)) for n in range(128)] +
           [bytes((n & 0x7F | 0x80, n >> 7)) for n in range(128, 1 << 14)] +
           [bytes((n & 0x7F | 0x80, (n >> 7) & 0x7F | 0x80, n >> 14)) for n in range(1 << 14, _VARINT_TABLE_SIZE)])

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def encode_varint(value):
  """Varint of an int64 as protobuf writes it (negative values as their 64-bit two's complement: 10 bytes)."""
  if 0 <= value < _VARINT_TABLE_SIZE:
    return VARINTS[value]
  if value < 0:
    if value < _INT64_MIN:
      raise ValueError("value %d is out of the int64 range" % value)
    value += 1 << 64
  elif value > _INT64_MAX:
    raise ValueError("value %d is out of the int64 range" % value)
  return _encode_varint(value)


def _length_delimited(tag, payload):
  """Field with wire type 2: tag byte, varint length, payload."""
  return tag + encode_varint(len(payload)) + payload


def encode_packed_int64(values):
  """The packed varint payload of an int64 list (no tag, no length)."""
  table = VARINTS
  try:
    return b"".join([table[v] for v in values])
  except (IndexError, TypeError):
    return b"".join([encode_varint(int(v)) for v in values])


# Tags: Feature.bytes_list = 1, float_list = 2, int64_list = 3; BytesList/FloatList/Int64List.value = 1;
# Features.feature (map entry) = 1; map entry key = 1, value = 2; Example.features = 1.
_TAG_1_LEN = b"\x0a"
_TAG_2_LEN = b"\x12"
_TAG_3_LEN = b"\x1a"


def feature_from_packed_int64(packed):
  """An encoded `tf.train.Feature(int64_list=...)` from the packed varint payload of its values."""
  inner = _length_delimited(_TAG_1_LEN, packed) if packed else b""  # An empty packed field is not written.
  return _length_delimited(_TAG_3_LEN, inner)


def create_int_feature(values):
  """Returns the encoded `tf.train.Feature(int64_list=tf.train.Int64List(value=values))` (bytes)."""
  return feature_from_packed_int64(encode_packed_int64(values))


def encode_packed_float(values):
  """The packed float32 payload (little-endian IEEE single) of a float list."""
  values = list(values)
  try:
    return struct.pack("<%df" % len(values), *values)
  except OverflowError:
    # Values beyond float32 become +-inf, as the protobuf runtime converts them.
    with np.errstate(over="ignore"):
      return np.asarray(values, dtype=np.float64).astype("<f4").tobytes()


def feature_from_packed_float(packed):
  """An encoded `tf.train.Feature(float_list=...)` from the packed float32 payload of its values."""
  inner = _length_delimited(_TAG_1_LEN, packed) if packed else b""
  return _length_delimited(_TAG_2_LEN, inner)


def create_float_feature(values):
  """Returns the encoded `tf.train.Feature(float_list=tf.train.FloatList(value=values))` (bytes)."""
  return feature_from_packed_float(encode_packed_float(values))


def create_bytes_feature(values):
  """Returns the encoded `tf.train.Feature(bytes_list=tf.train.BytesList(value=values))`; str is UTF-8 encoded."""
  inner = b"".join(
      _length_delimited(_TAG_1_LEN, v.encode("utf-8") if isinstance(v, str) else bytes(v)) for v in values)
  return _length_delimited(_TAG_1_LEN, inner)


def feature_map_entry(name, feature):
  """The encoded `Features.feature` map entry (field 1 of Features, with its tag) for one name."""
  key = name.encode("utf-8")
  entry = _length_delimited(_TAG_1_LEN, key) + _length_delimited(_TAG_2_LEN, feature)
  return _length_delimited(_TAG_1_LEN, entry)


def serialize_example(features):
  """Returns `tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString(deterministic=True)`.

  Args:
    features: mapping feature name (str) -> encoded Feature (bytes from `create_*_feature`). The order of the
      mapping does not matter: entries are written in sorted name order, as deterministic serialisation does.
  """
  body = b"".join(feature_map_entry(name, features[name]) for name in sorted(features))
  return _length_delimited(_TAG_1_LEN, body)


def _decode_varint(data, pos):
  result = 0
  shift = 0
  while True:
    byte = data[pos]
    pos += 1
    result |= (byte & 0x7F) << shift
    if byte < 0x80:
      return result, pos
    shift += 7
    if shift >= 70:
      raise ValueError("malformed varint")


def _iter_fields(data, start=0, end=None):
  """Yields (field_number, wire_type, value) of one message; value is an int (varint/fixed) or a memoryview."""
  end = len(data) if end is None else end
  pos = start
  while pos < end:
    key, pos = _decode_varint(data, pos)
    field, wire = key >> 3, key & 7
    if wire == 0:
      value, pos = _decode_varint(data, pos)
    elif wire == 2:
      length, pos = _decode_varint(data, pos)
      if pos + length > end:
        raise ValueError("truncated field")
      value = data[pos:pos + length]
      pos += length
    elif wire == 5:
      value = data[pos:pos + 4]
      pos += 4
    elif wire == 1:
      value = data[pos:pos + 8]
      pos += 8
    else:
      raise ValueError("unsupported wire type %d" % wire)
    if pos > end:
      raise ValueError("truncated field")
    yield field, wire, value


def _to_int64(value):
  return value - (1 << 64) if value >= (1 << 63) else value


def _parse_feature(data):
  """Decodes an encoded Feature into (kind, values); kind is "int64", "float", "bytes" or None (no list set)."""
  kind, values = None, []
  for field, _, value in _iter_fields(data):
    if field == 1:
      kind, values = "bytes", [bytes(v) for f, w, v in _iter_fields(value) if f == 1]
    elif field == 2:
      kind, values = "float", []
      for f, w, v in _iter_fields(value):
        if f != 1:
          continue
        if w == 2:  # packed
          values.extend(np.frombuffer(bytes(v), dtype="<f4").tolist())
        else:
          values.append(struct.unpack("<f", bytes(v))[0])
    elif field == 3:
      kind, values = "int64", []
      for f, w, v in _iter_fields(value):
        if f != 1:
          continue
        if w == 2:  # packed
          raw, pos = bytes(v), 0
          while pos < len(raw):
            number, pos = _decode_varint(raw, pos)
            values.append(_to_int64(number))
        else:
          values.append(_to_int64(v))
  return kind, values


def parse_example(record):
  """Decodes a serialized `tf.train.Example` into {name: (kind, values)}, kind in "int64"/"float"/"bytes".

  Raises:
    ValueError: the bytes are not a valid Example.
  """
  data = memoryview(record)
  features = {}
  try:
    for field, wire, value in _iter_fields(data):
      if field != 1 or wire != 2:
        continue
      for f, w, entry in _iter_fields(value):
        if f != 1 or w != 2:
          continue
        name, feature = "", b""
        for ef, ew, ev in _iter_fields(entry):
          if ef == 1 and ew == 2:
            name = bytes(ev).decode("utf-8")
          elif ef == 2 and ew == 2:
            feature = ev
        features[name] = _parse_feature(feature)
  except (IndexError, UnicodeDecodeError) as e:
    raise ValueError("not a serialized tf.train.Example: %s" % e) from e
  return features


# ---------------------------------------------------------------------------------------------------------------
# CRC-32C (Castagnoli), as TFRecord frames use it.

_CRC32C_POLY = 0x82F63B78  # reflected


def _make_byte_table():
  table = []
  for i in range(256):
    crc = i
    for _ in range(8):
      crc = (crc >> 1) ^ (_CRC32C_POLY if crc & 1 else 0)
    table.append(crc)
  return table


_CRC_TABLE = _make_byte_table()
_MASK_DELTA = 0xA282EAD8


def crc32c(data, crc=0):
  """CRC-32C of `data` (bytes-like), continuing from `crc`. Byte-at-a-time: for short inputs and tests."""
  table = _CRC_TABLE
  crc ^= 0xFFFFFFFF
  for byte in bytes(data):
    crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
  return crc ^ 0xFFFFFFFF


def mask_crc(crc):
  """TFRecord's masked CRC: rotate right by 15 bits, add a constant (mod 2**32)."""
  return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


class _BatchCrc(object):
  """CRC-32C of many byte strings at once, four bytes per NumPy step through two 65536-entry tables."""

  def __init__(self):
    t1 = np.array(_CRC_TABLE, dtype=np.uint32)
    # t[k][i]: the CRC contribution of byte value i followed by k-1 zero bytes.
    tables = [t1]
    for _ in range(3):
      prev = tables[-1]
      tables.append((prev >> np.uint32(8)) ^ t1[prev & np.uint32(0xFF)])
    _, t2, t3, t4 = tables
    low = np.arange(1 << 16, dtype=np.uint32)
    lo8, hi8 = low & np.uint32(0xFF), low >> np.uint32(8)
    # After xoring 4 data bytes into the state, its low 16 bits pass 3 and 2 more bytes, its high 16 bits 1 and 0.
    self.table_low = t4[lo8] ^ t3[hi8]
    self.table_high = t2[lo8] ^ t1[hi8]
    # zeros_crc[n] = crc32c(b"\0" * n): the part of a CRC that comes from the initial/final inversion alone.
    self.zeros_crc = [0]
    self._padding = bytes(4096)

  def _zeros_crc(self, n):
    zeros = self.zeros_crc
    if n >= len(zeros):
      table = _CRC_TABLE
      state = zeros[-1] ^ 0xFFFFFFFF
      for _ in range(len(zeros), n + 1):
        state = table[state & 0xFF] ^ (state >> 8)
        zeros.append(state ^ 0xFFFFFFFF)
    return zeros[n]

  def __call__(self, blobs):
    """Returns a list with the CRC-32C (int) of each bytes object in `blobs`."""
    count = len(blobs)
    if count == 0:
      return []
    lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=count)
    width = int(-(-int(lengths.max()) // 4) * 4) or 4
    # Right-align every blob in a zero-padded row: leading zero bytes leave a pure (uninverted) CRC at zero.
    padding = self._padding
    if len(padding) <= width:
      padding = self._padding = bytes(2 * width)
    pieces = []
    for blob in blobs:
      pieces.append(padding[:width - len(blob)])
      pieces.append(blob)
    matrix = np.frombuffer(b"".join(pieces), dtype=np.uint8).reshape(count, width)
    # One contiguous row per 4-byte column, so each step reads memory in order.
    columns = np.ascontiguousarray(matrix.view("<u4").T)
    state = np.zeros(count, dtype=np.uint32)
    low = np.empty(count, dtype=np.uint32)
    high = np.empty(count, dtype=np.uint32)
    table_low, table_high = self.table_low, self.table_high
    mask16, sixteen = np.uint32(0xFFFF), np.uint32(16)
    for column in columns:
      state ^= column
      np.bitwise_and(state, mask16, out=low)
      np.right_shift(state, sixteen, out=high)
      state = table_low.take(low)
      state ^= table_high.take(high)
    zeros_crc = self._zeros_crc
    return [crc ^ zeros_crc(n) for crc, n in zip(state.tolist(), lengths.tolist())]


_batch_crc = None


# Records per NumPy pass: large enough to amortise the per-column calls, small enough to stay in cache.
_CRC_BATCH = 2048


def crc32c_many(blobs):
  """CRC-32C of each bytes object in `blobs` (a list), computed together with NumPy."""
  global _batch_crc
  if _batch_crc is None:
    _batch_crc = _BatchCrc()
  if len(blobs) <= _CRC_BATCH:
    return _batch_crc(blobs)
  out = []
  for start in range(0, len(blobs), _CRC_BATCH):
    out += _batch_crc(blobs[start:start + _CRC_BATCH])
  return out


_LENGTH_HEADERS = {}


def _length_header(length):
  header = _LENGTH_HEADERS.get(length)
  if header is None:
    encoded = struct.pack("<Q", length)
    header = encoded + struct.pack("<I", mask_crc(crc32c(encoded)))
    if len(_LENGTH_HEADERS) < 100000:
      _LENGTH_HEADERS[length] = header
  return header


def frame_records(payloads):
  """Returns the TFRecord file bytes (one bytes object) holding `payloads` (a list of bytes), in order."""
  if not payloads:
    return b""
  crcs = crc32c_many(payloads)
  pack = struct.Struct("<I").pack
  parts = []
  append = parts.append
  for payload, crc in zip(payloads, crcs):
    append(_length_header(len(payload)))
    append(payload)
    append(pack(mask_crc(crc)))
  return b"".join(parts)


def frame_each(payloads):
  """Returns one framed record (bytes: header, payload, CRC) per payload; `unframe` gives the payload back."""
  crcs = crc32c_many(payloads)
  pack = struct.Struct("<I").pack
  return [b"".join((_length_header(len(payload)), payload, pack(mask_crc(crc))))
          for payload, crc in zip(payloads, crcs)]


def unframe(framed):
  """The payload of one framed record from `frame_each` (not checked)."""
  return framed[12:-4]


# ---------------------------------------------------------------------------------------------------------------
# Files.


is_remote = fileio.is_remote


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


class _CommitOrAbort(object):
  """Context manager for writers: `close()` (commit) on a clean exit, `abort()` when an exception leaves the block."""

  def __enter__(self):
    return self

  def __exit__(self, exc_type, exc, tb):
    if exc_type is None:
      self.close()
    else:
      self.abort()
    return False


class RecordWriter(_CommitOrAbort):
  """Writes one TFRecord file atomically: a temporary file beside `path`, renamed over it by `close()`.

  `write(payload)` takes a serialized record; records are framed in batches of `batch_size`. `abort()` (also
  called when the `with` block raises) removes the temporary file and leaves any existing `path` untouched.
  Missing parent folders of a local `path` are created.

  Raises:
    errors.UserError: `path` is a folder, or the temporary file cannot be created (named).
  """

  def __init__(self, path, batch_size=2048):
    self.path = path
    self.batch_size = batch_size
    self._pending = []
    self._count = 0
    self._closed = False
    if is_remote(path):
      self._temp = fileio.remote_partial_name(path)
      self._file = _gfile().GFile(self._temp, "wb")
    else:
      fd, self._temp = fileio.new_partial_file(path)
      self._file = os.fdopen(fd, "wb", buffering=1 << 20)

  @property
  def num_records(self):
    """Records written so far (including those not yet flushed)."""
    return self._count

  def write(self, payload):
    self._pending.append(payload)
    self._count += 1
    if len(self._pending) >= self.batch_size:
      self.flush()

  def _failed(self, e):
    """The UserError of a failed write (a full disk, an I/O error): the temporary file is removed."""
    self.abort()
    return errors.UserError("output file %s: %s" % (self.path, getattr(e, "strerror", None) or e))

  def write_framed(self, data, num_records):
    """Appends already framed bytes (from `frame_records`) holding `num_records` records."""
    self.flush()
    try:
      self._file.write(data)
    except OSError as e:
      raise self._failed(e) from e
    self._count += num_records

  def flush(self):
    if self._pending:
      try:
        self._file.write(frame_records(self._pending))
      except OSError as e:
        raise self._failed(e) from e
      self._pending = []

  def finish(self):
    """Flushes and closes the temporary file (first phase of `close`)."""
    if self._file is not None:
      self.flush()
      try:
        self._file.close()
      except OSError as e:
        self._file = None
        raise self._failed(e) from e
      self._file = None

  def commit(self):
    """Renames the finished temporary file over `path` (second phase of `close`)."""
    if self._closed:
      return
    self.finish()
    fileio.commit_partial_file(self._temp, self.path)
    self._closed = True

  def close(self):
    self.commit()

  def abort(self):
    """Discards everything written: closes and removes the temporary file."""
    if self._closed:
      return
    self._closed = True
    try:
      if self._file is not None:
        try:
          self._file.close()
        except OSError:
          pass  # a full disk refuses the final flush too
        self._file = None
    finally:
      fileio.discard_partial_file(self._temp)

class RoundRobinWriter(_CommitOrAbort):
  """Writes records round-robin over several TFRecord files: record i goes to file i % len(paths).

  All files are committed together by `close()` (after every one has been written completely); on an error
  (`abort()`, or an exception inside the `with` block) none of them is created or changed.
  """

  def __init__(self, paths, batch_size=2048):
    if not paths:
      raise errors.UserError("no output file given")
    self.paths = list(paths)
    self.writers = []
    try:
      for path in self.paths:
        self.writers.append(RecordWriter(path, batch_size=batch_size))
    except BaseException:
      self.abort()
      raise
    self._next = 0

  @property
  def num_records(self):
    return sum(w.num_records for w in self.writers)

  def write(self, payload):
    self.writers[self._next].write(payload)
    self._next = (self._next + 1) % len(self.writers)

  def write_many(self, payloads):
    """Writes a list of records, continuing the round-robin (frames each file's share in one batch)."""
    n = len(self.writers)
    start = self._next
    for k in range(n):
      share = payloads[(k - start) % n::n]
      if share:
        self.writers[k].write_framed(frame_records(share), len(share))
    self._next = (start + len(payloads)) % n

  def write_framed_many(self, framed):
    """Writes records already framed one by one (`frame_each`), continuing the round-robin."""
    n = len(self.writers)
    start = self._next
    for k in range(n):
      share = framed[(k - start) % n::n]
      if share:
        self.writers[k].write_framed(b"".join(share), len(share))
    self._next = (start + len(framed)) % n

  def close(self):
    try:
      for writer in self.writers:
        writer.finish()
      for writer in self.writers:
        writer.commit()
    except BaseException:
      self.abort()
      raise

  def abort(self):
    for writer in self.writers:
      writer.abort()



def _open_for_read(path):
  if is_remote(path):
    return _gfile().GFile(path, "rb")
  return open(path, "rb")


def read_records(path, verify=True, limit=None, batch_size=1024):
  """Yields the payload (bytes) of each record of a TFRecord file.

  Args:
    path: the file.
    verify: check both CRCs of every record (in batches, with NumPy).
    limit: stop after this many records (None: all).

  Raises:
    errors.UserError: the file is missing, truncated or corrupt (named, with the record number).
  """
  try:
    reader = _open_for_read(path)
  except (OSError, IOError) as e:
    raise errors.UserError("TFRecord file %s: cannot open: %s" % (path, getattr(e, "strerror", None) or e)) from e
  with reader:
    index = 0
    batch, batch_crcs = [], []
    while limit is None or index < limit:
      header = reader.read(12)
      if not header:
        break
      if len(header) < 12:
        raise errors.UserError("TFRecord file %s: record %d: truncated header" % (path, index + 1))
      length, length_crc = struct.unpack("<QI", header)
      if verify and mask_crc(crc32c(header[:8])) != length_crc:
        raise errors.UserError("TFRecord file %s: record %d: corrupt length (CRC mismatch); is this a TFRecord file?"
                               % (path, index + 1))
      payload = reader.read(length)
      footer = reader.read(4)
      if len(payload) < length or len(footer) < 4:
        raise errors.UserError("TFRecord file %s: record %d: truncated" % (path, index + 1))
      index += 1
      if not verify:
        yield payload
        continue
      batch.append(payload)
      batch_crcs.append(struct.unpack("<I", footer)[0])
      if len(batch) >= batch_size:
        yield from _verified(path, index - len(batch), batch, batch_crcs)
        batch, batch_crcs = [], []
    if batch:
      yield from _verified(path, index - len(batch), batch, batch_crcs)


def _verified(path, first_index, payloads, expected):
  for k, (crc, want) in enumerate(zip(crc32c_many(payloads), expected)):
    if mask_crc(crc) != want:
      raise errors.UserError("TFRecord file %s: record %d: corrupt data (CRC mismatch)" % (path, first_index + k + 1))
  return payloads


def check_example_file(path, expected, num_records=1, allow_empty=False, limits=None):
  """Checks that the first records of a TFRecord file of Examples have the features a reader expects.

  Args:
    path: the TFRecord file.
    expected: {feature name: (kind, length, hint)}; kind "int64"/"float"/"bytes"; length the number of values
      (None: any); hint the flag that sets the length, named in the error (e.g. "--max_seq_length"), or None.
    num_records: how many records to check.
    allow_empty: a file with no record passes (otherwise it is an error).
    limits: {feature name: (limit, what)}: the feature's values must lie in [0, limit), `what` naming the limit's
      source in the error (e.g. "vocab_size=60 in bert_config.json"); an id beyond a model's embedding table
      fails mid-run on a CPU and is silently read as zeros on a GPU.

  Returns:
    The number of records checked.

  Raises:
    errors.UserError: one line naming the file, the record, the feature and both sides.
  """
  checked = 0
  for record in read_records(path, limit=num_records):
    checked += 1
    try:
      features = parse_example(record)
    except ValueError as e:
      raise errors.UserError("TFRecord file %s: record %d: %s" % (path, checked, e)) from e
    for name, (kind, length, hint) in expected.items():
      if name not in features:
        raise errors.UserError("TFRecord file %s: record %d: no feature %r (the file holds %s)"
                               % (path, checked, name, ", ".join(sorted(features)) or "no features"))
      got_kind, values = features[name]
      if got_kind is not None and got_kind != kind:
        raise errors.UserError("TFRecord file %s: record %d: feature %r holds %s values, expected %s"
                               % (path, checked, name, got_kind, kind))
      if length is not None and len(values) != length:
        if hint:
          raise errors.UserError(
              "TFRecord file %s: record %d: feature %r holds %d values but %s is %d; pass %s=%d (the value the "
              "file was written with) or regenerate the file" % (path, checked, name, len(values), hint, length,
                                                                  hint, len(values)))
        raise errors.UserError("TFRecord file %s: record %d: feature %r holds %d values, expected %d"
                               % (path, checked, name, len(values), length))
    for name, (limit, what) in (limits or {}).items():
      values = features.get(name, (None, []))[1]
      if values and (max(values) >= limit or min(values) < 0):
        bad = max(values) if max(values) >= limit else min(values)
        raise errors.UserError(
            "TFRecord file %s: record %d: feature %r holds %d, outside the model's range [0, %d) set by %s: the "
            "data was made for another model (vocabulary or config)" % (path, checked, name, bad, limit, what))
  if checked == 0 and not allow_empty:
    raise errors.UserError("TFRecord file %s: holds no records" % path)
  return checked


def find_bad_record(paths):
  """Reads every record of `paths` in full: the one-line message of the first truncated, corrupt or unparsable
  record (naming the file and the record), or None when all are sound.

  Used after TensorFlow's reader reported a DataLossError, whose message names neither.
  """
  for path in paths:
    try:
      for index, record in enumerate(read_records(path)):
        try:
          parse_example(record)
        except ValueError as e:
          return "TFRecord file %s: record %d: %s" % (path, index + 1, e)
    except errors.UserError as e:
      return str(e)
  return None


class FeatureSpec(object):
  """The fixed-length features of a TFRecord file of Examples: one description drives writing, checking, parsing.

    spec = FeatureSpec([("input_ids", "int64", 128, "--max_seq_length"), ("label_ids", "int64", 1, None)])
    spec.write("train.tf_record", ({"input_ids": ids, "label_ids": [label]} for ...))
    spec.check("train.tf_record")         # a file written with other lengths: one line naming both
    spec.parse(serialized)                # in a tf.data map: int64 features come back as int32

  Each field is (name, kind, length, hint): kind "int64" or "float", length the number of values, hint the flag
  that sets the length (named in errors) or None.
  """

  def __init__(self, fields):
    self.fields = [tuple(field) for field in fields]
    for name, kind, length, _ in self.fields:
      if kind not in ("int64", "float") or length < 1:
        raise ValueError("feature %s: kind must be int64 or float and length >= 1, got %s, %s" % (name, kind, length))

  @property
  def names(self):
    return [field[0] for field in self.fields]

  def encode(self, features):
    """One serialized Example from a {name: list of values} mapping (lengths checked)."""
    encoded = {}
    for name, kind, length, _ in self.fields:
      values = features[name]
      if len(values) != length:
        raise ValueError("feature %s has %d values, expected %d" % (name, len(values), length))
      encoded[name] = create_int_feature(values) if kind == "int64" else create_float_feature(values)
    return serialize_example(encoded)

  def write(self, path, examples):
    """Writes every {name: values} mapping of `examples` to `path` (atomically); returns the record count."""
    with RecordWriter(path) as writer:
      for features in examples:
        writer.write(self.encode(features))
      return writer.num_records

  def check(self, path, allow_empty=False, limits=None, num_records=1):
    """Checks the first `num_records` records of `path` against the spec (see `check_example_file`)."""
    return check_example_file(path, {name: (kind, length, hint) for name, kind, length, hint in self.fields},
                              num_records=num_records, allow_empty=allow_empty,
                              limits={k: v for k, v in (limits or {}).items() if k in self.names})

  def parse(self, serialized):
    """A dict of tensors from one serialized Example (TensorFlow ops); int64 features are cast to int32."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    parsed = tf.io.parse_single_example(serialized, {
        name: tf.io.FixedLenFeature([length], tf.int64 if kind == "int64" else tf.float32)
        for name, kind, length, _ in self.fields})
    # tf.Example only stores int64, but the TPU-era models (and the original readers) take int32.
    return {name: tf.cast(t, tf.int32) if t.dtype == tf.int64 else t for name, t in parsed.items()}


def pretraining_features(max_seq_length, max_predictions_per_seq):
  """The FeatureSpec of create_pretraining_data.py's records."""
  seq, pred = "--max_seq_length", "--max_predictions_per_seq"
  return FeatureSpec([
      ("input_ids", "int64", max_seq_length, seq),
      ("input_mask", "int64", max_seq_length, seq),
      ("segment_ids", "int64", max_seq_length, seq),
      ("masked_lm_positions", "int64", max_predictions_per_seq, pred),
      ("masked_lm_ids", "int64", max_predictions_per_seq, pred),
      ("masked_lm_weights", "float", max_predictions_per_seq, pred),
      ("next_sentence_labels", "int64", 1, None),
  ])
