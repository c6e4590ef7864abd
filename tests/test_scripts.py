"""Every shell script (scripts/, bench/): passes shellcheck, and `--help` prints its usage and exits 0 without
running anything. Each script's own behaviour is tested beside the tool it drives."""

import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = sorted(glob.glob(os.path.join(ROOT, "scripts", "*.sh")) + glob.glob(os.path.join(ROOT, "bench", "*.sh")))
# Sourced by the others, never run.
LIBRARIES = {os.path.join(ROOT, "scripts", "common.sh")}


def test_the_scripts_are_found():
  names = {os.path.relpath(p, ROOT) for p in SCRIPTS}
  assert {"scripts/download.sh", "scripts/pretrain.sh", "scripts/ner.sh", "scripts/re_kfold.sh", "scripts/qa.sh",
          "scripts/release.sh", "scripts/reproduce_paper.sh", "scripts/quickstart.sh",
          "bench/gpu_check.sh"} <= names


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: os.path.relpath(p, ROOT))
def test_shellcheck(script, tmp_path):
  # From another folder: the scripts' `source` directives must not depend on the caller's folder.
  run = subprocess.run(["shellcheck", script], capture_output=True, text=True, cwd=str(tmp_path))
  assert run.returncode == 0, run.stdout


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - LIBRARIES), ids=lambda p: os.path.relpath(p, ROOT))
def test_help(script, tmp_path):
  run = subprocess.run(["bash", script, "--help"], capture_output=True, text=True, cwd=str(tmp_path), timeout=60,
                       env=dict(os.environ, BIOBERT_DIR="", DATA_DIR=""))
  assert run.returncode == 0, run.stderr
  assert run.stdout.startswith("Usage:") and "set -" not in run.stdout
  assert not os.listdir(str(tmp_path)), "--help wrote files"
