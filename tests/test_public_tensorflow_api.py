"""The project uses public TensorFlow API only: no private members of TensorFlow objects, no private modules.

The original died because it was built on what TensorFlow later removed; this guard keeps the sources from
growing such a dependency again. It greps every Python file of the project (tests and benchmarks included) for
  * imports from TensorFlow's private packages (`tensorflow.python`, `tensorflow.core`, ...);
  * private members reached on TensorFlow objects: `op._...`, `graph._...`, `tensor._...`, `strategy.extended._...`,
    `tf.<...>._...`, and the members earlier versions of this project used (`_update_input`, `_set_attr`,
    `_control_flow_context`, `_num_workers`).
"""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PRIVATE_MODULE = re.compile(r"^\s*(from|import)\s+tensorflow\.(python|core|compiler|lite|tsl)\b", re.M)
_TF_OBJECTS = (r"op|ops|operation|consumer|graph|g|tensor|t|var|variable|v|strategy|extended|session|sess|"
               r"resolver|cluster_spec|dataset|iterator|reader|saver")
_PRIVATE_MEMBER = re.compile(r"\b(?:%s)\._[A-Za-z]\w*" % _TF_OBJECTS)
_PRIVATE_TF_PATH = re.compile(r"\btf(?:\.\w+)*\._[A-Za-z]\w*")
_KNOWN_PRIVATE = re.compile(r"\b(_update_input|_set_attr|_control_flow_context|_num_workers|_attr_scope|"
                            r"_add_control_input|_apply_op_helper|_get_control_flow_context)\b")


def _python_files():
  for folder, dirs, names in os.walk(ROOT):
    dirs[:] = [d for d in dirs if not d.startswith(".") and d not in ("__pycache__", "node_modules")]
    for name in names:
      if name.endswith(".py"):
        yield os.path.join(folder, name)


def _code_lines(path):
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      code = line.split("#", 1)[0]  # comments may name what is not used
      yield number, code


def _findings():
  found = []
  this_file = os.path.abspath(__file__)
  for path in _python_files():
    if os.path.abspath(path) == this_file:
      continue
    with open(path, encoding="utf-8") as f:
      text = f.read()
    for match in _PRIVATE_MODULE.finditer(text):
      found.append("%s: imports %s" % (os.path.relpath(path, ROOT), match.group(0).strip()))
    for number, code in _code_lines(path):
      for pattern in (_PRIVATE_MEMBER, _PRIVATE_TF_PATH, _KNOWN_PRIVATE):
        for match in pattern.finditer(code):
          found.append("%s:%d: %s" % (os.path.relpath(path, ROOT), number, match.group(0)))
  return found


def test_no_private_tensorflow_members_or_modules():
  assert _findings() == []


def test_the_guard_catches_what_it_is_for(tmp_path, monkeypatch):
  offender = tmp_path / "offender.py"
  offender.write_text("from tensorflow.python.ops import gen_math_ops\n"
                      "op._update_input(0, t)\n"
                      "n = strategy.extended._num_workers\n"
                      "c = op._control_flow_context  # comments do not count: op._set_attr\n"
                      "x = tf.compat.v1._private\n", encoding="utf-8")
  monkeypatch.setattr(__import__(__name__), "ROOT", str(tmp_path))
  found = _findings()
  assert any("imports from tensorflow.python" in f for f in found)
  assert any(":2: op._update_input" in f for f in found)
  assert any(":3: extended._num_workers" in f for f in found)
  assert any(":4: op._control_flow_context" in f for f in found)
  assert not any("_set_attr" in f for f in found)
  assert any(":5: tf.compat.v1._private" in f for f in found)
