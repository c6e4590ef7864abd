# coding=utf-8
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
"""Files in and out, the same way in every tool: input patterns, atomic writes, progress bars.

  * `expand_input_files("a.txt,shards/*.txt")`: comma-separated files and globs, each glob's matches in sorted
    order, patterns in the order given; an error names the pattern that matches nothing. The hidden temporary
    files this project writes (`.<name>.partial-*`) never match, so `dir/*` cannot pick up a half-written output.
  * `atomic_output(path)` / `write_text_atomically(path, text)`: a file appears under its name only complete. It
    is written as a hidden temporary file beside the target and renamed over it; on an error the temporary file
    is removed and an existing target is left untouched. The file gets the permissions any other file the user
    writes gets (the umask), not the 0600 of a temporary file.
  * `atomic_folder(target, overwrite)`: the same for a whole folder.
  * `progress_bar(...)`: a tqdm bar on a terminal, a silent stand-in otherwise (logs, CI).

Paths with a scheme (`gs://...`) go through `tf.io.gfile`; TensorFlow is imported only for those, so tools that
do not need it (corpus preparation, the vocabulary builder, the evaluators) stay light.
"""

import contextlib
import glob
import os
import shutil
import sys
import tempfile

import errors

PARTIAL_MARKER = ".partial-"


def is_remote(path):
  """True for paths with a scheme (gs://, hdfs://, ...), which need tf.io.gfile."""
  return "://" in path


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def is_partial_name(path):
  """True for the temporary names of this project's atomic writers (never an input)."""
  name = os.path.basename(path)
  return name.startswith(".") and PARTIAL_MARKER in name


# ----------------------------------------------------------------------------------------------------------------
# Input patterns.


def match_pattern(pattern):
  """The paths (files or folders) a file name or glob names, sorted; [] when none.

  Hidden files are matched by globs too (a user who writes `dir/*` means every shard), except this project's own
  temporary files.
  """
  if is_remote(pattern):
    return sorted(p for p in _gfile().glob(pattern) if not is_partial_name(p))
  if glob.has_magic(pattern):
    return sorted(p for p in glob.glob(pattern, include_hidden=True) if not is_partial_name(p))
  return [pattern] if os.path.exists(pattern) else []


def split_patterns(spec):
  """The non-empty, stripped items of a comma-separated flag value."""
  return [item.strip() for item in (spec or "").split(",") if item.strip()]


def expand_input_files(spec, flag="--input_file"):
  """Comma-separated files and globs -> the list of files they name (see the module docstring).

  Raises:
    errors.UserError: an empty value, a folder given as a file, or a pattern that matches no file (named).
  """
  files = []
  for pattern in split_patterns(spec):
    matches = match_pattern(pattern)
    if not is_remote(pattern):
      if not glob.has_magic(pattern) and os.path.isdir(pattern):
        raise errors.UserError("%s: %s is a directory (give files or a glob such as %s/*)" %
                               (flag, pattern, pattern.rstrip("/")))
      matches = [m for m in matches if os.path.isfile(m)]
    if not matches:
      raise errors.UserError("%s: %s: %s" % (
          flag, pattern, "no file matches this pattern" if glob.has_magic(pattern) else "no such file"))
    files.extend(matches)
  if not files:
    raise errors.UserError("%s is required" % flag)
  return files


# ----------------------------------------------------------------------------------------------------------------
# Atomic writes.


def _umask():
  mask = os.umask(0)
  os.umask(mask)
  return mask


def _os_reason(e):
  return e.strerror or str(e)


def new_partial_file(path):
  """Creates a hidden temporary file beside local `path`; returns (fd, temp_path). Missing folders are made.

  Raises:
    errors.UserError: `path` is a folder, or its folder cannot be written (naming the path and the OS reason).
  """
  if os.path.isdir(path):
    raise errors.UserError("output file %s: is a directory" % path)
  folder = os.path.dirname(os.path.abspath(path))
  try:
    os.makedirs(folder, exist_ok=True)
    return tempfile.mkstemp(prefix="." + os.path.basename(path) + PARTIAL_MARKER, dir=folder)
  except OSError as e:
    raise errors.UserError("output file %s: cannot create it: %s" % (path, _os_reason(e))) from e


def commit_partial_file(temp_path, path):
  """Gives the finished temporary file ordinary permissions and renames it over `path`."""
  if is_remote(path):
    _gfile().rename(temp_path, path, overwrite=True)
    return
  os.chmod(temp_path, 0o666 & ~_umask())
  os.replace(temp_path, path)


def discard_partial_file(temp_path):
  """Removes a temporary file (quietly: it may already be gone)."""
  try:
    if is_remote(temp_path):
      _gfile().remove(temp_path)
    else:
      os.remove(temp_path)
  except Exception:  # pylint: disable=broad-except
    pass


def remote_partial_name(path):
  return "%s%s%d-%s" % (path, PARTIAL_MARKER, os.getpid(), os.urandom(4).hex())


@contextlib.contextmanager
def atomic_output(path, mode="w", encoding="utf-8"):
  """Yields a file object for `path` that appears under its name only when the block ends without error.

  Args:
    path: the target file (local, or with a scheme).
    mode: "w" (text, `encoding`) or "wb".
  Raises:
    errors.UserError: the target cannot be written (naming the path and the OS reason).
  """
  if is_remote(path):
    temp = remote_partial_name(path)
    handle = _gfile().GFile(temp, mode)
  else:
    fd, temp = new_partial_file(path)
    handle = os.fdopen(fd, mode, encoding=None if "b" in mode else encoding)
  try:
    with handle:
      yield handle
    commit_partial_file(temp, path)
  except OSError as e:
    discard_partial_file(temp)
    raise errors.UserError("output file %s: %s" % (path, _os_reason(e))) from e
  except BaseException:
    discard_partial_file(temp)
    raise


def write_text_atomically(path, text):
  """Writes `text` (UTF-8) to `path` so that a reader never sees half a file."""
  with atomic_output(path) as f:
    f.write(text)


class atomic_folder(object):  # pylint: disable=invalid-name
  """Context manager: fills a hidden temporary folder beside `target`, renamed into place only on success.

    with fileio.atomic_folder(output_dir, overwrite=False) as folder:
      ...write files into folder...

  An existing non-empty `target` is an error unless `overwrite`; it is then replaced only once the new folder is
  complete. On an error the temporary folder is removed and `target` is left as it was.
  """

  def __init__(self, target, overwrite=False, flag="--output_dir"):
    if not target:
      raise errors.UserError("%s is required" % flag)
    self.target = os.path.abspath(target)
    self.overwrite = overwrite
    self.flag = flag
    self.path = None

  def __enter__(self):
    if os.path.exists(self.target):
      if not os.path.isdir(self.target):
        raise errors.UserError("%s %s exists and is not a folder" % (self.flag, self.target))
      if os.listdir(self.target) and not self.overwrite:
        raise errors.UserError("%s %s is not empty (pass --overwrite=true to replace it)" % (self.flag, self.target))
    parent = os.path.dirname(self.target)
    try:
      os.makedirs(parent, exist_ok=True)
      self.path = tempfile.mkdtemp(prefix="." + os.path.basename(self.target) + PARTIAL_MARKER, dir=parent)
    except OSError as e:
      raise errors.UserError("%s %s: cannot create it: %s" % (self.flag, self.target, _os_reason(e))) from e
    return self.path

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      shutil.rmtree(self.path, ignore_errors=True)
      return False
    os.chmod(self.path, 0o777 & ~_umask())  # mkdtemp makes it private; an output folder is an ordinary folder
    if os.path.exists(self.target):
      backup = tempfile.mkdtemp(prefix="." + os.path.basename(self.target) + ".old-", dir=os.path.dirname(self.target))
      os.rmdir(backup)
      os.rename(self.target, backup)
      os.rename(self.path, self.target)
      shutil.rmtree(backup, ignore_errors=True)
    else:
      os.rename(self.path, self.target)
    return False


# ----------------------------------------------------------------------------------------------------------------
# Progress.


class _NoProgress(object):
  """What `progress_bar` returns where no bar is shown: the tqdm methods the tools call, doing nothing."""

  def update(self, n=1):
    pass

  def set_postfix_str(self, text, refresh=True):
    pass

  def set_postfix(self, refresh=True, **values):
    pass

  def write(self, text, file=None):
    """Messages still reach the user without a bar."""
    (file or sys.stderr).write(text + "\n")

  def close(self):
    pass

  def __enter__(self):
    return self

  def __exit__(self, *args):
    self.close()
    return False


def progress_bar(total=None, desc=None, unit="it", initial=0, enabled=None, leave=True):
  """A tqdm bar on stderr: by default (`enabled=None`) only when stderr is a terminal; else a silent stand-in.

  The returned object has `update(n)`, `set_postfix_str(text)`, `set_postfix(**values)`, `write(text)` (a message
  printed above the bar, or plainly without one), `close()`, and works as a context manager.
  """
  if enabled is None:
    enabled = sys.stderr.isatty()
  if not enabled:
    return _NoProgress()
  try:
    import tqdm  # pylint: disable=g-import-not-at-top
  except ImportError:
    return _NoProgress()
  return tqdm.tqdm(total=total, initial=initial, desc=desc, unit=unit, leave=leave, dynamic_ncols=True,
                   file=sys.stderr)
