"""User-facing errors: one readable line, exit code 2, no traceback noise.

Library code raises `UserError` (a ValueError, so code written against the original, which raised ValueError,
keeps working) with a message that names the file, flag, line or value at fault. Command-line entry points run
through `run_main`, which turns such an error into `error: <message>` on stderr and exit status 2.
"""

import sys


class UserError(ValueError):
  """A problem the user can fix: a bad flag, a missing or malformed file, a bad line."""


def fail(message):
  """Prints `error: message` to stderr and exits with status 2."""
  sys.stderr.write("error: %s\n" % message)
  sys.stderr.flush()
  sys.exit(2)


def run_main(main, argv=None):
  """Runs an absl `main` the way `absl.app.run` does, reporting `UserError` as one line and exit status 2."""
  from absl import app  # pylint: disable=g-import-not-at-top

  def guarded(args):
    try:
      return main(args)
    except UserError as e:
      fail(str(e))

  app.run(guarded, argv=argv)
