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
  * `atomic_folder(target, overwrite, inputs)`: the same for a whole folder.
  * Temporary names carry the writer's process id (`.<name>.partial-<pid>-<random>`): `remove_stale_temp_files`
    removes those whose process is gone (left by a kill -9), and TensorFlow's own leftovers (`*.tempstate*` of an
    interrupted checkpoint write, `checkpoint.tmp*`, a sharded write's `model.ckpt-<step>_temp` folder).
  * `refuse_overwriting_inputs(output, inputs)`: an output that is, or contains, one of the run's inputs is an
    error, so that a run never replaces what it reads.
  * A write that fails (a folder that cannot be written, an output name that is a folder, a full disk) is one
    `errors.UserError` naming the path and the OS reason, and leaves nothing behind.
  * `progress_bar(...)`: a tqdm bar on a terminal, a silent stand-in otherwise (logs, CI).

Paths with a scheme (`gs://...`) go through `tf.io.gfile`; TensorFlow is imported only for those, so tools that
do not need it (corpus preparation, the vocabulary builder, the evaluators) stay light.
"""

import contextlib
import glob
import os
import re
import shutil
import sys
import tempfile

import errors

PARTIAL_MARKER = ".partial-"

# Temporary names of other writers: TensorFlow's checkpoint bundles (`<file>.tempstate<n>`) and state files
# (`checkpoint.tmp<uuid>`), and the `<file>.tmp-<pid>` of earlier versions of these tools.
_FOREIGN_TEMP_NAME = re.compile(r"(\.tempstate\d*$|\.tempstate\d*\W|\.tmp[0-9a-f]{32}$|\.tmp-\d+)")
# The folder TensorFlow's sharded checkpoint writer fills (`<prefix>_temp` or `<prefix>_temp_<uuid>`).
_TENSORFLOW_TEMP_FOLDER = re.compile(r"_temp(_[0-9a-f]{32})?$")
# `.<name>.partial-<pid>-<random>` (files) or `.<name>.partial-<pid>` / `.<name>.partial-<pid>-<random>`
# (folders); the pid tells whether the writer still runs.
_PARTIAL_PID = re.compile(r"^\..*\.partial-(\d+)(-|$)")


def is_remote(path):
  """True for paths with a scheme (gs://, hdfs://, ...), which need tf.io.gfile."""
  return "://" in path


def _gfile():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.io.gfile


def is_partial_name(path):
  """True for temporary names (never an input): this project's atomic writers', TensorFlow's checkpoint writer's."""
  name = os.path.basename(path.rstrip("/"))
  return (name.startswith(".") and PARTIAL_MARKER in name) or bool(_FOREIGN_TEMP_NAME.search(name))


def _process_alive(pid):
  if pid == os.getpid():
    return True
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except OSError:
    return True  # another user's process
  return True


def stale_temp_files(folder, tensorflow_temps=True):
  """The temporary files and folders in `folder` whose writer is gone (see the module docstring), sorted.

  `tensorflow_temps`: also TensorFlow's `*.tempstate*` and `checkpoint.tmp*` files, which name no process; only
  the owner of the folder (a training run in its output_dir) should remove those.
  """
  if is_remote(folder) or not os.path.isdir(folder):
    return []
  stale = []
  for name in sorted(os.listdir(folder)):
    match = _PARTIAL_PID.match(name)
    if match:
      if not _process_alive(int(match.group(1))):
        stale.append(os.path.join(folder, name))
    elif name.startswith(".") and PARTIAL_MARKER in name:
      stale.append(os.path.join(folder, name))  # written before names carried the pid
    elif tensorflow_temps and _FOREIGN_TEMP_NAME.search(name):
      stale.append(os.path.join(folder, name))
    elif (tensorflow_temps and _TENSORFLOW_TEMP_FOLDER.search(name) and ".ckpt" in name and
          os.path.isdir(os.path.join(folder, name))):
      stale.append(os.path.join(folder, name))
  return stale


def remove_stale_temp_files(folder, tensorflow_temps=True):
  """Removes `stale_temp_files(folder)`; returns the removed paths."""
  removed = []
  for path in stale_temp_files(folder, tensorflow_temps):
    try:
      if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
      else:
        os.remove(path)
      removed.append(path)
    except OSError:
      pass
  return removed


def _remove_stale_partials_of(path):
  """Removes the temporary files of earlier, killed writers of the same local target `path`."""
  folder = os.path.dirname(os.path.abspath(path))
  prefix = "." + os.path.basename(path) + PARTIAL_MARKER
  for stale in stale_temp_files(folder, tensorflow_temps=False):
    if os.path.basename(stale).startswith(prefix):
      try:
        if os.path.isdir(stale):
          shutil.rmtree(stale)
        else:
          os.remove(stale)
      except OSError:
        pass


def _inside(path, folder):
  return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def refuse_overwriting_inputs(output, inputs, flag="--output_dir"):
  """Raises UserError when the output `output` is, or contains, one of `inputs` (files or folders).

  Args:
    output: the file or folder a tool is about to write (or replace).
    inputs: the paths it reads (None entries are ignored).
    flag: the output's flag, for the message.
  """
  if not output or is_remote(output):
    return
  target = os.path.realpath(output)
  for item in inputs:
    if not item or is_remote(item):
      continue
    source = os.path.realpath(item)
    if _inside(source, target):
      raise errors.UserError("%s=%s %s the input %s; write the output elsewhere" % (
          flag, output, "is" if source == target else "contains", item))


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


def check_output_file(path, flag="--output_file"):
  """Fails early, before any work, where the output file `path` could not be written at the end.

  Missing folders are not created here (the writer creates them); the nearest existing one is tried instead.

  Raises:
    errors.UserError: `path` is a folder, or no file can be created where it goes (naming both and the reason).
  """
  if not path or is_remote(path):
    return
  if os.path.isdir(path):
    raise errors.UserError("%s=%s: is a directory" % (flag, path))
  folder = os.path.dirname(os.path.abspath(path))
  while not os.path.exists(folder):
    folder = os.path.dirname(folder)
  try:
    if not os.path.isdir(folder):
      raise NotADirectoryError(20, "Not a directory", folder)
    probe = tempfile.mkdtemp(prefix=_partial_prefix(path), dir=folder)
    os.rmdir(probe)
  except OSError as e:
    raise errors.UserError("%s=%s: cannot create it: %s%s" % (
        flag, path, "%s: " % folder if folder != os.path.dirname(os.path.abspath(path)) else "",
        _os_reason(e))) from None


def _partial_prefix(path):
  return "." + os.path.basename(path) + PARTIAL_MARKER + "%d-" % os.getpid()


def new_partial_file(path):
  """Creates a hidden temporary file beside local `path`; returns (fd, temp_path). Missing folders are made.

  Temporary files of earlier writers of `path` that were killed are removed first.

  Raises:
    errors.UserError: `path` is a folder, or its folder cannot be written (naming the path and the OS reason).
  """
  if os.path.isdir(path):
    raise errors.UserError("output file %s: is a directory" % path)
  folder = os.path.dirname(os.path.abspath(path))
  try:
    os.makedirs(folder, exist_ok=True)
    _remove_stale_partials_of(path)
    return tempfile.mkstemp(prefix=_partial_prefix(path), dir=folder)
  except OSError as e:
    raise errors.UserError("output file %s: cannot create it: %s" % (path, _os_reason(e))) from e


def commit_partial_file(temp_path, path):
  """Gives the finished temporary file ordinary permissions and renames it over `path`."""
  if is_remote(path):
    _gfile().rename(temp_path, path, overwrite=True)
    return
  try:
    os.chmod(temp_path, 0o666 & ~_umask())
    os.replace(temp_path, path)
  except OSError as e:
    discard_partial_file(temp_path)
    raise errors.UserError("output file %s: %s" % (path, _os_reason(e))) from e


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
    if getattr(e, "filename", None) not in (None, temp, path):
      raise  # about another file (an input read inside the block)
    raise errors.UserError("output file %s: %s" % (path, _os_reason(e))) from e
  except BaseException:
    discard_partial_file(temp)
    raise


def write_text_atomically(path, text):
  """Writes `text` (UTF-8) to `path` so that a reader never sees half a file."""
  with atomic_output(path) as f:
    f.write(text)


def _ordinary_permissions(folder):
  """The umask's permissions for `folder` and everything in it.

  mkdtemp makes the folder private, and some writers (safetensors) create their files 0600; an output folder is
  an ordinary folder of ordinary files.
  """
  mask = _umask()
  os.chmod(folder, 0o777 & ~mask)
  for root, dirs, names in os.walk(folder):
    for name in dirs:
      os.chmod(os.path.join(root, name), 0o777 & ~mask)
    for name in names:
      path = os.path.join(root, name)
      if os.path.isfile(path) and not os.path.islink(path):
        executable = os.stat(path).st_mode & 0o111
        os.chmod(path, (0o777 if executable else 0o666) & ~mask)


class atomic_folder(object):  # pylint: disable=invalid-name
  """Context manager: fills a hidden temporary folder beside `target`, renamed into place only on success.

    with fileio.atomic_folder(output_dir, overwrite=False, inputs=[checkpoint, vocab_file]) as folder:
      ...write files into folder...

  An existing non-empty `target` is an error unless `overwrite`; it is then replaced only once the new folder is
  complete. A `target` that is, or contains, one of `inputs` is an error even with `overwrite`. On an error
  (an OS error inside the block becomes a UserError naming the target) the temporary folder is removed and
  `target` is left as it was.
  """

  def __init__(self, target, overwrite=False, flag="--output_dir", inputs=()):
    if not target:
      raise errors.UserError("%s is required" % flag)
    self.target = os.path.abspath(target)
    self.overwrite = overwrite
    self.flag = flag
    self.inputs = [p for p in inputs if p]
    self.path = None

  def __enter__(self):
    refuse_overwriting_inputs(self.target, self.inputs, self.flag)
    if os.path.exists(self.target):
      if not os.path.isdir(self.target):
        raise errors.UserError("%s %s exists and is not a folder" % (self.flag, self.target))
      if os.listdir(self.target) and not self.overwrite:
        raise errors.UserError("%s %s is not empty (pass --overwrite=true to replace it)" % (self.flag, self.target))
    parent = os.path.dirname(self.target)
    try:
      os.makedirs(parent, exist_ok=True)
      _remove_stale_partials_of(self.target)
      self.path = tempfile.mkdtemp(prefix=_partial_prefix(self.target), dir=parent)
    except OSError as e:
      raise errors.UserError("%s %s: cannot create it: %s" % (self.flag, self.target, _os_reason(e))) from e
    return self.path

  def __exit__(self, exc_type, exc, tb):
    if exc_type is not None:
      shutil.rmtree(self.path, ignore_errors=True)
      if issubclass(exc_type, OSError):
        name = os.path.basename(str(exc.filename)) if getattr(exc, "filename", None) else None
        raise errors.UserError("%s %s: %s%s" % (
            self.flag, self.target, "writing %s: " % name if name else "", _os_reason(exc))) from exc
      return False
    try:
      _ordinary_permissions(self.path)
      if os.path.exists(self.target):
        backup = tempfile.mkdtemp(prefix=_partial_prefix(self.target) + "old-", dir=os.path.dirname(self.target))
        os.rmdir(backup)
        os.rename(self.target, backup)
        os.rename(self.path, self.target)
        shutil.rmtree(backup, ignore_errors=True)
      else:
        os.rename(self.path, self.target)
    except OSError as e:
      shutil.rmtree(self.path, ignore_errors=True)
      raise errors.UserError("%s %s: %s" % (self.flag, self.target, _os_reason(e))) from e
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
