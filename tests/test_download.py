"""scripts/download.sh against a local stand-in for BioBERT's download server and the Hugging Face hub.

The server runs in this process on 127.0.0.1 and serves small archives built here, a sha1sum.html page listing
their sums, and a hub file listing; it answers byte-range requests (206) and can cut a response after a number of
bytes, so that resuming, checksum refusals and the atomic extraction are checked without the network.
"""

import hashlib
import http.server
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from urllib.parse import urlsplit

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "download.sh")
HUB_REPO = "dmis-lab/biobert-base-cased-v1.2"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None or shutil.which("curl") is None,
                                reason="scripts/download.sh needs bash and curl")


def _tarball(members):
  buf = io.BytesIO()
  with tarfile.open(fileobj=buf, mode="w:gz") as tar:
    for name, data in members.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))
  return buf.getvalue()


def _zip(members):
  buf = io.BytesIO()
  with zipfile.ZipFile(buf, "w") as z:
    for name, data in members.items():
      z.writestr(name, data)
  return buf.getvalue()


def sha1(data):
  return hashlib.sha1(data).hexdigest()


def git_blob_sha1(data):
  return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# Random bytes do not compress, so the tarball is large enough to be cut midway.
DATASET_BLOB = os.urandom(96 * 1024)
ARCHIVES = {
    "datasets.tar.gz": _tarball({
        "datasets/NER/X/train.tsv": b"Aspirin\tB\nworks\tO\n",
        "datasets/NER/X/blob.bin": DATASET_BLOB,
        "datasets/RE/Y/train.tsv": b"a\t0\n",
    }),
    "biobert_v1.1_pubmed.tar.gz": _tarball({
        "biobert_v1.1_pubmed/vocab.txt": b"[PAD]\n[UNK]\n",
        "biobert_v1.1_pubmed/bert_config.json": b"{}\n",
        "biobert_v1.1_pubmed/model.ckpt-1000000.index": b"index",
    }),
    "NERdata.zip": _zip({
        "NERdata/BC2GM/train.tsv": b"gene\tB\n",
        "__MACOSX/NERdata/._train.tsv": b"fork",
    }),
}
HUB_FILES = {
    ".gitattributes": b"*.bin filter=lfs diff=lfs merge=lfs -text\n",
    "config.json": b'{"hidden_size": 768}\n',
    "vocab.txt": b"[PAD]\n[UNK]\n[CLS]\n",
    "pytorch_model.bin": os.urandom(8 * 1024),
}
HUB_LFS = {"pytorch_model.bin", "flax_model.msgpack"}


def sha1sum_page(sums):
  """An HTML page listing {file name: sha1} in a table, as a web page might (cells on separate lines)."""
  rows = "".join("<tr>\n  <td><a href='%s'>%s</a></td>\n  <td><code>%s</code></td>\n</tr>\n" % (n, n, s)
                 for n, s in sums.items())
  return ("<html><head><title>SHA1 checksums</title></head><body><h1>BioBERT checksums</h1>\n"
          "<p>Check your download with sha1sum.</p>\n<table>\n<tr><th>File</th><th>SHA1</th></tr>\n%s"
          "</table></body></html>\n" % rows).encode()


def hub_listing(files, wrong=()):
  """The hub's tree JSON for files; the hashes of the names in `wrong` are replaced by wrong ones."""
  entries = []
  for path, data in files.items():
    entry = {"type": "file", "path": path, "size": len(data), "oid": git_blob_sha1(data)}
    if path in HUB_LFS:
      entry["oid"] = sha1(b"pointer " + path.encode())
      entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
    if path in wrong:
      if "lfs" in entry:
        entry["lfs"]["oid"] = "0" * 64
      else:
        entry["oid"] = "0" * 40
    entries.append(entry)
  entries.append({"type": "directory", "path": "onnx", "oid": "1" * 40, "size": 0})
  return json.dumps(entries).encode()


class StandIn(http.server.ThreadingHTTPServer):
  """The download server's state: files by path, redirects, the requests seen and the responses to cut."""

  daemon_threads = True

  def __init__(self):
    super().__init__(("127.0.0.1", 0), Handler)
    self.files = {}
    self.redirects = {}
    self.requests = []
    self.cut_after = {}  # path: the next response for it stops after that many bytes of body
    self.ranges = True  # False: Range headers are ignored, as by a server without resume support

  @property
  def url(self):
    return "http://127.0.0.1:%d" % self.server_address[1]

  def seen(self, path):
    """The Range header (or None) of each request for path."""
    return [rng for p, rng in self.requests if p == path]


class Handler(http.server.BaseHTTPRequestHandler):

  def log_message(self, *args):
    pass

  def do_GET(self):
    state = self.server
    path = urlsplit(self.path).path
    state.requests.append((path, self.headers.get("Range")))
    if path in state.redirects:
      self.send_response(302)
      self.send_header("Location", state.redirects[path])
      self.send_header("Content-Length", "0")
      self.end_headers()
      return
    data = state.files.get(path)
    if data is None:
      self.send_error(404)
      return
    start, status = 0, 200
    match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
    if match and state.ranges:
      start, status = int(match.group(1)), 206
      if start >= len(data):
        self.send_response(416)
        self.send_header("Content-Range", "bytes */%d" % len(data))
        self.send_header("Content-Length", "0")
        self.end_headers()
        return
    body = data[start:]
    self.send_response(status)
    if status == 206:
      self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
    if state.ranges:
      self.send_header("Accept-Ranges", "bytes")
    self.send_header("Content-Length", str(len(body)))
    self.end_headers()
    cut = state.cut_after.pop(path, None)
    if cut is not None:
      self.wfile.write(body[:cut])
      self.wfile.flush()
      self.connection.shutdown(socket.SHUT_RDWR)
      self.close_connection = True
      return
    self.wfile.write(body)


@pytest.fixture
def server():
  srv = StandIn()
  for name, data in ARCHIVES.items():
    srv.files["/" + name] = data
  # The weights tarball is left off the page, for the tests of unlisted archives.
  srv.files["/sha1sum.html"] = sha1sum_page({n: sha1(d) for n, d in ARCHIVES.items()
                                            if n != "biobert_v1.1_pubmed.tar.gz"})
  srv.files["/api/models/%s/tree/main" % HUB_REPO] = hub_listing(dict(HUB_FILES, **{"flax_model.msgpack": b"f"}))
  for name, data in HUB_FILES.items():
    srv.files["/%s/resolve/main/%s" % (HUB_REPO, name)] = data
  # Large files of the hub are served from elsewhere, after a redirect.
  srv.redirects["/%s/resolve/main/pytorch_model.bin" % HUB_REPO] = "/cdn/pytorch_model.bin"
  srv.files["/cdn/pytorch_model.bin"] = HUB_FILES["pytorch_model.bin"]
  thread = threading.Thread(target=srv.serve_forever, daemon=True)
  thread.start()
  yield srv
  srv.shutdown()
  srv.server_close()


def download(server, tmp_path, args=(), **env_vars):
  env = dict(os.environ)
  for name in ("BIOBERT_DATA", "WEIGHTS_DIR", "BASE_URL", "HF_URL", "HF_FILES", "CHECKSUMS", "ALLOW_UNVERIFIED",
               "KEEP_ARCHIVES", "DOWNLOAD_RETRIES", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
    env.pop(name, None)
  env.update(BIOBERT_DATA=str(tmp_path / "data"), WEIGHTS_DIR=str(tmp_path / "weights"), BASE_URL=server.url,
             HF_URL=server.url, PYTHON=sys.executable, DOWNLOAD_RETRIES="2", no_proxy="*", NO_PROXY="*")
  env.update(env_vars)
  return subprocess.run(["bash", SCRIPT] + list(args), cwd=str(tmp_path), env=env, capture_output=True, text=True,
                        timeout=60)


def error_lines(proc):
  return [line for line in proc.stderr.splitlines() if line.startswith("error:")]


def listing(folder):
  """Every path under folder, relative to it."""
  return sorted(os.path.relpath(os.path.join(d, n), folder) for d, dirs, files in os.walk(folder)
                for n in dirs + files)


def test_datasets_are_verified_extracted_and_not_fetched_again(server, tmp_path):
  proc = download(server, tmp_path)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  data = tmp_path / "data"
  assert (data / "datasets/NER/X/train.tsv").read_bytes() == b"Aspirin\tB\nworks\tO\n"
  assert (data / "datasets/NER/X/blob.bin").read_bytes() == DATASET_BLOB
  assert "datasets.tar.gz: verified (sha1 %s)" % sha1(ARCHIVES["datasets.tar.gz"]) in proc.stdout
  assert "extracted to %s" % (data / "datasets") in proc.stdout
  assert "BioBERT dataset download done!" in proc.stdout
  # The archive is gone and nothing temporary is left; only the record of the extraction.
  assert sorted(os.listdir(data)) == [".datasets.tar.gz.extracted", "datasets"]

  before = len(server.requests)
  again = download(server, tmp_path, ["datasets"])
  assert again.returncode == 0, again.stdout + again.stderr
  assert "already extracted" in again.stdout
  assert server.requests[before:] == []


def test_kept_archive_zip_extraction_and_an_existing_folder(server, tmp_path):
  data = tmp_path / "data"
  (data / "NERdata").mkdir(parents=True)
  proc = download(server, tmp_path, ["datasets", "ner"], KEEP_ARCHIVES="1")
  # A folder of the same name is never overwritten; the verified archive stays for the next run.
  assert proc.returncode == 1
  assert len(error_lines(proc)) == 1 and "NERdata already exists" in error_lines(proc)[0]
  assert (data / "NERdata.zip").read_bytes() == ARCHIVES["NERdata.zip"]
  assert os.listdir(data / "NERdata") == []

  (data / "NERdata").rmdir()
  before = len(server.requests)
  proc = download(server, tmp_path, ["datasets", "ner"], KEEP_ARCHIVES="1")
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "NERdata.zip: already downloaded, verified" in proc.stdout
  assert server.seen("/NERdata.zip") == [None]  # the first run's download only
  assert server.requests[before:] == [("/sha1sum.html", None)]
  assert (data / "NERdata/BC2GM/train.tsv").read_bytes() == b"gene\tB\n"
  assert sorted(os.listdir(data)) == [".NERdata.zip.extracted", "NERdata", "NERdata.zip"]  # no __MACOSX


@pytest.mark.parametrize("layout", ["pre", "list"])
def test_other_page_layouts_are_read(server, tmp_path, layout):
  sums = {n: sha1(d) for n, d in ARCHIVES.items()}
  if layout == "pre":  # sha1sum's own output in a <pre> block
    body = "<pre>\n" + "".join("%s  %s\n" % (s, n) for n, s in sums.items()) + "</pre>"
  else:  # one item per file, the sum first, in upper case, the name as a link
    body = "<ul>" + "".join("<li>%s &nbsp; <a href='%s/%s'>%s</a></li>" % (s.upper(), server.url, n, n)
                            for n, s in sums.items()) + "</ul>"
  server.files["/sha1sum.html"] = ("<html><body>%s</body></html>" % body).encode()
  proc = download(server, tmp_path, ["weights"])
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "biobert_v1.1_pubmed.tar.gz: verified (sha1 %s)" % sums["biobert_v1.1_pubmed.tar.gz"] in proc.stdout


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
  server.files["/sha1sum.html"] = sha1sum_page({"datasets.tar.gz": "ab" * 20})
  proc = download(server, tmp_path)
  assert proc.returncode == 1
  errors = error_lines(proc)
  assert len(errors) == 1, proc.stderr
  actual = sha1(ARCHIVES["datasets.tar.gz"])
  assert "datasets.tar.gz" in errors[0] and "ab" * 20 in errors[0] and actual in errors[0]
  assert listing(tmp_path / "data") == []


def test_dropped_connection_is_resumed(server, tmp_path):
  server.cut_after["/datasets.tar.gz"] = 20000
  proc = download(server, tmp_path)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert server.seen("/datasets.tar.gz") == [None, "bytes=20000-"]
  assert "datasets.tar.gz: resumed at 20000 bytes" in proc.stdout
  assert "datasets.tar.gz: verified" in proc.stdout
  assert (tmp_path / "data/datasets/NER/X/blob.bin").read_bytes() == DATASET_BLOB


@pytest.mark.parametrize("have", [30000, len(ARCHIVES["datasets.tar.gz"])])
def test_part_file_of_a_killed_run_is_resumed(server, tmp_path, have):
  # A killed run may have left any part of the file, all of it included (killed before the rename).
  data = tmp_path / "data"
  data.mkdir()
  (data / "datasets.tar.gz.part").write_bytes(ARCHIVES["datasets.tar.gz"][:have])
  proc = download(server, tmp_path)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert server.seen("/datasets.tar.gz") == ["bytes=%d-" % have]
  assert "resumed at %d bytes" % have in proc.stdout
  assert sorted(os.listdir(data)) == [".datasets.tar.gz.extracted", "datasets"]


def test_server_without_ranges_starts_over(server, tmp_path):
  server.ranges = False
  data = tmp_path / "data"
  data.mkdir()
  (data / "datasets.tar.gz.part").write_bytes(b"x" * 1000)
  proc = download(server, tmp_path)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "starting over" in proc.stdout
  assert server.seen("/datasets.tar.gz") == ["bytes=1000-", None]
  assert (data / "datasets/NER/X/blob.bin").read_bytes() == DATASET_BLOB


def test_unlisted_archive_is_refused_unless_allowed(server, tmp_path):
  proc = download(server, tmp_path, ["weights", "v1.1-pubmed"])
  assert proc.returncode == 1
  errors = error_lines(proc)
  assert len(errors) == 1, proc.stderr
  assert "biobert_v1.1_pubmed.tar.gz" in errors[0] and "CHECKSUMS" in errors[0] and "ALLOW_UNVERIFIED=1" in errors[0]
  assert server.seen("/biobert_v1.1_pubmed.tar.gz") == []

  proc = download(server, tmp_path, ["weights"], ALLOW_UNVERIFIED="1")
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "not verified" in proc.stderr and sha1(ARCHIVES["biobert_v1.1_pubmed.tar.gz"]) in proc.stderr
  assert (tmp_path / "weights/biobert_v1.1_pubmed/bert_config.json").read_bytes() == b"{}\n"


def test_checksums_file_takes_precedence(server, tmp_path):
  # The page is wrong about the datasets and silent about the weights; the local list is right about both.
  server.files["/sha1sum.html"] = sha1sum_page({"datasets.tar.gz": "cd" * 20})
  sums = tmp_path / "SHA1SUMS"
  sums.write_text("# local list\n%s  datasets.tar.gz\n%s *some/folder/biobert_v1.1_pubmed.tar.gz\n" % (
      sha1(ARCHIVES["datasets.tar.gz"]), sha1(ARCHIVES["biobert_v1.1_pubmed.tar.gz"]).upper()))
  proc = download(server, tmp_path, ["all"], CHECKSUMS=str(sums))
  assert proc.returncode == 0, proc.stdout + proc.stderr
  assert "datasets.tar.gz: verified" in proc.stdout and "biobert_v1.1_pubmed.tar.gz: verified" in proc.stdout
  assert server.seen("/sha1sum.html") == []
  assert (tmp_path / "data/datasets/RE/Y/train.tsv").is_file()
  assert (tmp_path / "weights/biobert_v1.1_pubmed/vocab.txt").is_file()


def test_hub_model_is_checked_against_the_hub_hashes(server, tmp_path):
  proc = download(server, tmp_path, ["weights", "v1.2"])
  assert proc.returncode == 0, proc.stdout + proc.stderr
  model = tmp_path / "weights/biobert-base-cased-v1.2"
  assert sorted(os.listdir(model)) == ["config.json", "pytorch_model.bin", "vocab.txt"]
  for name in os.listdir(model):
    assert (model / name).read_bytes() == HUB_FILES[name]
  assert os.listdir(tmp_path / "weights") == ["biobert-base-cased-v1.2"]
  assert "pytorch_model.bin: verified (sha256 %s)" % hashlib.sha256(HUB_FILES["pytorch_model.bin"]).hexdigest() \
      in proc.stdout
  assert "config.json: verified (gitsha1 %s)" % git_blob_sha1(HUB_FILES["config.json"]) in proc.stdout
  assert server.seen("/cdn/pytorch_model.bin") == [None]
  assert not [p for p, _ in server.requests if p.endswith((".gitattributes", "flax_model.msgpack"))]

  before = len(server.requests)
  again = download(server, tmp_path, ["weights", "v1.2"])
  assert again.returncode == 0 and "already downloaded" in again.stdout
  assert server.requests[before:] == []


@pytest.mark.parametrize("wrong", ["pytorch_model.bin", "config.json"])
def test_hub_file_with_a_wrong_hash_is_refused(server, tmp_path, wrong):
  server.files["/api/models/%s/tree/main" % HUB_REPO] = hub_listing(HUB_FILES, wrong=[wrong])
  proc = download(server, tmp_path, ["weights", "v1.2"], HF_FILES="config.json pytorch_model.bin")
  assert proc.returncode == 1
  errors = error_lines(proc)
  assert len(errors) == 1 and wrong in errors[0] and "mismatch" in errors[0], proc.stderr
  weights = tmp_path / "weights"
  assert not (weights / "biobert-base-cased-v1.2").exists()
  assert not [p for p in listing(weights) if p.endswith(".part")]


def test_help_and_bad_arguments(server, tmp_path):
  proc = download(server, tmp_path, ["--help"])
  assert proc.returncode == 0 and proc.stdout.startswith("Usage: scripts/download.sh")
  for name in ("BIOBERT_DATA", "WEIGHTS_DIR", "BASE_URL", "HF_URL", "HF_FILES", "CHECKSUMS", "ALLOW_UNVERIFIED",
               "KEEP_ARCHIVES", "DOWNLOAD_RETRIES", "PYTHON"):
    assert re.search(r"^  %s " % name, proc.stdout, re.MULTILINE), name
  assert "[./data]" in proc.stdout and "[./weights]" in proc.stdout and "[0]" in proc.stdout

  for args, env in [(["bogus"], {}), (["--nope"], {}), (["weights", "v9"], {}), (["datasets", "v1.2"], {}),
                    (["all", "v1.2"], {}), (["datasets"], {"ALLOW_UNVERIFIED": "yes"}),
                    (["weights", "v1.2"], {"HF_FILES": "missing.bin"})]:
    proc = download(server, tmp_path, args, **env)
    assert proc.returncode == 2, (args, env, proc.stdout, proc.stderr)
    assert len(error_lines(proc)) == 1 and proc.stderr.count("\n") == 1, (args, proc.stderr)
  # Only the last case asks the hub for its listing, to know which files it has.
  assert [p for p, _ in server.requests] == ["/api/models/%s/tree/main" % HUB_REPO]
