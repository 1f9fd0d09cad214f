"""Reading the original FFHQ / CelebA-HQ tfrecords without TensorFlow.

The original score_sde reads these (the progressive-GAN `dataset_tool` format)
with `tf.data.TFRecordDataset`: each record is a `tf.train.Example` with
`shape` (int64 [C, H, W]) and `data` (the raw uint8 bytes, channel-major).
Both layers are simple enough to read directly:

- TFRecord framing: per record, uint64 length (little endian), uint32 masked
  CRC of the length, `length` bytes of payload, uint32 masked CRC of the payload.
- `tf.train.Example`: protobuf messages Example{features=1} ->
  Features{map<string, Feature> feature=1} -> Feature{bytes_list=1 |
  float_list=2 | int64_list=3}, each list a `repeated value = 1`.

`TFRecordFile` scans the framing once (headers only) to index record offsets,
then reads any record by `os.pread`: random access and thread safe, so no
conversion step is needed and the training process never imports TensorFlow.
CRCs are not verified (no crc32c in the standard library); lengths are.
"""
import os
import struct

import numpy as np


class TFRecordFile:
  """Random access to the records of one TFRecord file."""

  def __init__(self, path: str):
    if not os.path.isfile(path):
      raise FileNotFoundError(
          f"config.data.tfrecords_path={path!r} is not a file; point it at the "
          "original tfrecords file (e.g. ffhq-r08.tfrecords for 256x256)")
    self.path = path
    self._fd = os.open(path, os.O_RDONLY)
    self.offsets, self.lengths = self._index()

  def _index(self):
    size = os.fstat(self._fd).st_size
    offsets, lengths = [], []
    pos = 0
    while pos < size:
      header = os.pread(self._fd, 12, pos)
      if len(header) < 12:
        raise ValueError(f"{self.path}: truncated record header at byte {pos}")
      (length,) = struct.unpack('<Q', header[:8])
      if pos + 12 + length + 4 > size:
        raise ValueError(f"{self.path}: record at byte {pos} claims {length} bytes, "
                         f"past the end of the file ({size} bytes)")
      offsets.append(pos + 12)
      lengths.append(length)
      pos += 12 + length + 4
    return np.asarray(offsets, np.int64), np.asarray(lengths, np.int64)

  def __len__(self):
    return len(self.offsets)

  def __getitem__(self, i: int) -> bytes:
    return os.pread(self._fd, int(self.lengths[i]), int(self.offsets[i]))

  def close(self):
    if self._fd is not None:
      os.close(self._fd)
      self._fd = None

  def __del__(self):
    try:
      self.close()
    except (OSError, AttributeError):
      pass


def _varint(buf: bytes, pos: int):
  result = shift = 0
  while True:
    b = buf[pos]
    pos += 1
    result |= (b & 0x7F) << shift
    if not b & 0x80:
      return result, pos
    shift += 7


def _fields(buf: bytes):
  """Yields (field number, wire type, value) of a protobuf message; value is an int or bytes."""
  pos, end = 0, len(buf)
  while pos < end:
    key, pos = _varint(buf, pos)
    field, wire = key >> 3, key & 7
    if wire == 0:
      value, pos = _varint(buf, pos)
    elif wire == 2:
      n, pos = _varint(buf, pos)
      value, pos = buf[pos:pos + n], pos + n
    elif wire == 1:
      value, pos = buf[pos:pos + 8], pos + 8
    elif wire == 5:
      value, pos = buf[pos:pos + 4], pos + 4
    else:
      raise ValueError(f"unsupported protobuf wire type {wire} in a tf.train.Example")
    yield field, wire, value


def _to_int64(u: int) -> int:
  return u - (1 << 64) if u >= 1 << 63 else u


def _feature(buf: bytes):
  for kind, _, payload in _fields(buf):
    if kind == 1:  # BytesList
      return [v for f, _, v in _fields(payload) if f == 1]
    if kind == 2:  # FloatList: packed (wire 2) or one fixed32 per value (wire 5)
      out = []
      for f, wire, v in _fields(payload):
        if f == 1:
          out.extend(np.frombuffer(v, '<f4').tolist() if wire in (2, 5) else [])
      return out
    if kind == 3:  # Int64List: packed varints (wire 2) or one varint per value (wire 0)
      out = []
      for f, wire, v in _fields(payload):
        if f != 1:
          continue
        if wire == 0:
          out.append(_to_int64(v))
        else:
          p = 0
          while p < len(v):
            u, p = _varint(v, p)
            out.append(_to_int64(u))
      return out
  return []


def parse_example(record: bytes) -> dict:
  """A serialized `tf.train.Example` as {name: list of bytes | float | int}."""
  out = {}
  for field, _, features in _fields(record):
    if field != 1:
      continue
    for entry_field, _, entry in _fields(features):
      if entry_field != 1:
        continue
      key, value = None, b''
      for f, _, v in _fields(entry):
        if f == 1:
          key = v.decode('utf-8')
        elif f == 2:
          value = v
      out[key] = _feature(value)
  return out


def decode_image(record: bytes) -> np.ndarray:
  """An original-format record (`shape` [C, H, W], raw `data`) as a uint8 (H, W, C) image."""
  example = parse_example(record)
  if 'shape' not in example or 'data' not in example:
    raise ValueError(f"record has features {sorted(example)}; the FFHQ/CelebA-HQ format "
                     "needs 'shape' (int64 [C, H, W]) and 'data' (raw uint8 bytes)")
  shape = tuple(int(s) for s in example['shape'])
  data = np.frombuffer(example['data'][0], np.uint8)
  if len(shape) != 3 or data.size != np.prod(shape):
    raise ValueError(f"record's shape {shape} does not match its {data.size} data bytes")
  return data.reshape(shape).transpose(1, 2, 0)
