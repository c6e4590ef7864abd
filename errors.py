"""User-facing errors: one readable line, exit code 2, no traceback noise.

Library code raises `UserError` (a ValueError, so code written against the original, which raised ValueError,
keeps working) with a message that names the file, flag, line or value at fault. Command-line entry points run
through `run_main`, which

  * turns such an error, a flag that does not parse (a misspelt name, `--dupe_factor=abc`) and an OS error that
    escaped the writers into `error: <message>` on stderr and exit status 2;
  * reports an exception that ends a background thread (TensorFlow's event writer on a full disk) in one line;
  * turns SIGINT and SIGTERM into an `Interrupted` exception raised in the main thread, so that every `with`
    block and `finally` clause on the way out runs (the atomic writers remove their temporary files), then
    prints one line and exits with 130 (SIGINT) or 143 (SIGTERM), as a shell reports a process those signals
    killed.

`check_ranges(flag_values, ranges)` range-checks numeric flags from a declarative table, one line per tool.
"""

import signal
import sys
import threading


class UserError(ValueError):
  """A problem the user can fix: a bad flag, a missing or malformed file, a bad line."""


class Interrupted(KeyboardInterrupt):
  """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so `except Exception` clauses let it pass."""

  def __init__(self, signum):
    super(Interrupted, self).__init__(signum)
    self.signum = signum

  @property
  def signal_name(self):
    try:
      return signal.Signals(self.signum).name
    except ValueError:
      return "signal %d" % self.signum

  @property
  def exit_code(self):
    return 128 + self.signum


def one_line(text):
  """`text` with every run of whitespace (newlines included) collapsed to one space."""
  return " ".join(str(text).split())


def fail(message, code=2):
  """Prints `error: message` (one line) to stderr and exits with status `code` (2)."""
  sys.stderr.write("error: %s\n" % one_line(message))
  sys.stderr.flush()
  sys.exit(code)


# ----------------------------------------------------------------------------------------------------------------
# Signals.

_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _raise_interrupted(signum, frame):
  del frame
  # A second signal while the first one unwinds takes the default action (kill) instead of interrupting the
  # clean-up.
  for handled in _HANDLED_SIGNALS:
    signal.signal(handled, signal.SIG_DFL)
  raise Interrupted(signum)


def _report_thread_exception(args):
  """threading.excepthook of a command line: a background thread's failure in one line, not a traceback.

  (TensorFlow's event writer thread, for one, re-raises a full disk's error after logging it.)
  """
  if args.exc_type is SystemExit:
    return
  sys.stderr.write("warning: thread %s stopped: %s: %s\n" % (
      getattr(args.thread, "name", "?"), args.exc_type.__name__, one_line(args.exc_value)))
  sys.stderr.flush()


def install_signal_handlers():
  """Makes SIGINT and SIGTERM raise `Interrupted` in the main thread (no-op outside the main thread)."""
  try:
    for signum in _HANDLED_SIGNALS:
      signal.signal(signum, _raise_interrupted)
  except ValueError:
    pass  # not the main thread


def init_worker_process():
  """Initializer of multiprocessing workers: they leave SIGINT to the parent and die quietly on SIGTERM.

  A Ctrl-C reaches every process of the terminal's process group; the parent alone unwinds (removing the
  temporary files, its workers' included) and terminates the pool, instead of each worker printing a traceback.
  """
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  signal.signal(signal.SIGTERM, signal.SIG_DFL)


def report_interrupt(e):
  """Prints the one line of an interrupted run; returns its exit status (128 + the signal number)."""
  if isinstance(e, Interrupted):
    name, code = e.signal_name, e.exit_code
  else:
    name, code = "SIGINT", 128 + signal.SIGINT
  sys.stderr.write("\ninterrupted by %s: stopped; temporary files removed\n" % name)
  sys.stderr.flush()
  return code


# ----------------------------------------------------------------------------------------------------------------
# Flag ranges.


def _parse_range(spec):
  """">0", ">=1", "<=8", "[0,1]", "(0,1]", "[0,1)" -> (low, low_inclusive, high, high_inclusive, text)."""
  text = spec.replace(" ", "")
  for op in (">=", "<=", ">", "<"):
    if text.startswith(op):
      bound = float(text[len(op):])
      if op[0] == ">":
        return bound, op == ">=", None, False, "%s %s" % (op, text[len(op):])
      return None, False, bound, op == "<=", "%s %s" % (op, text[len(op):])
  if text[:1] in "[(" and text[-1:] in "])" and "," in text:
    low, high = text[1:-1].split(",")
    return float(low), text[0] == "[", float(high), text[-1] == "]", "in %s" % text
  raise ValueError("bad range %r" % spec)


def check_range(name, value, spec):
  """Raises UserError naming `--name=value` when `value` lies outside `spec` (see `check_ranges`)."""
  if value is None:
    return
  low, low_inclusive, high, high_inclusive, text = _parse_range(spec)
  below = low is not None and (value < low or (value == low and not low_inclusive))
  above = high is not None and (value > high or (value == high and not high_inclusive))
  if below or above or value != value:  # value != value: NaN
    raise UserError("--%s=%s: must be %s" % (name, value, text))


def check_ranges(flag_values, ranges):
  """Range-checks numeric flags before anything runs.

  Args:
    flag_values: absl FlagValues (or any object with the flags as attributes).
    ranges: {flag name: range}, a range being ">0", ">=1", ">=-1", "<=8", "[0,1]", "(0,1]" or "[0,1)". Flags
      that are not defined, or are None (unset optional flags), are skipped.
  Raises:
    UserError: `--name=value: must be <range>` for the first flag out of range (in the table's order).
  """
  for name, spec in ranges.items():
    try:
      value = getattr(flag_values, name)
    except AttributeError:
      continue
    check_range(name, value, spec)


# ----------------------------------------------------------------------------------------------------------------
# The entry point.


def parse_flags(argv, flag_values=None):
  """absl's flag parsing (into `flag_values`, default the global FLAGS), a flag error being one `error:` line
  and exit status 2. Returns the positional arguments."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    return (flag_values if flag_values is not None else flags.FLAGS)(argv)
  except flags.Error as e:
    fail("%s (--helpfull lists the flags)" % e)


def guarded(main):
  """`main` wrapped so that a UserError, an interrupt or an OS error ends it with one line and its exit status."""

  def run(args):
    try:
      return main(args)
    except UserError as e:
      fail(str(e))
    except KeyboardInterrupt as e:  # Interrupted included
      sys.exit(report_interrupt(e))
    except OSError as e:
      # A file operation no writer turned into a UserError: still one line, naming the path and the reason.
      where = " ".join(str(p) for p in (e.filename, e.filename2) if p)
      fail("%s%s" % (where + ": " if where else "", e.strerror or e))

  return run


def run_main(main, argv=None):
  """Runs an absl `main` the way `absl.app.run` does, with the behaviour of the module docstring."""
  from absl import app  # pylint: disable=g-import-not-at-top
  install_signal_handlers()
  threading.excepthook = _report_thread_exception
  try:
    app.run(guarded(main), argv=argv, flags_parser=parse_flags)
  except KeyboardInterrupt as e:  # during flag parsing or absl's start-up
    sys.exit(report_interrupt(e))


def main_status(main, argv, flag_values):
  """Parses `argv` into `flag_values` and runs `main` as `run_main` does, in this process: returns the exit
  status (0 when `main` returns) instead of exiting. For running a tool from Python."""
  try:
    result = guarded(main)(parse_flags(argv, flag_values))
  except SystemExit as e:
    return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  return result if isinstance(result, int) else 0
