#!/usr/bin/env bash
# BioBERT's released data sets and pre-trained weights, fetched from the original servers: every archive is checked
# against its published SHA1 before it is used, a broken download continues where it stopped, and what ends in the
# output folders is either complete or absent.
set -euo pipefail
# Most of the work happens in functions called as $(...); a failure there must stop the script too.
shopt -s inherit_errexit

SCRIPT=download.sh
# shellcheck source=SCRIPTDIR/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

usage() {
  cat <<'EOF'
Usage: scripts/download.sh [--help] [datasets|weights|all] [NAME...]

  scripts/download.sh                         the data sets (datasets.tar.gz), as the original download.sh
  scripts/download.sh datasets ner re         only the named task archives
  scripts/download.sh weights                 BioBERT-Base v1.1 (PubMed)
  scripts/download.sh weights v1.0-pmc v1.2   the named versions
  scripts/download.sh weights all             every version
  scripts/download.sh all                     the data sets and BioBERT-Base v1.1 (PubMed)

Data set names (extracted into $BIOBERT_DATA):
  full              every task's data: datasets.tar.gz -> datasets/{NER,RE,QA}/... (default)
  ner | re | qa     one task's archive: NERdata.zip, REdata.zip, QA.zip
Weight names (extracted into $WEIGHTS_DIR):
  v1.1-pubmed       BioBERT-Base v1.1 (+ PubMed 1M), biobert_v1.1_pubmed.tar.gz (default)
  large-v1.1-pubmed BioBERT-Large v1.1 (+ PubMed 1M), biobert_large_v1.1_pubmed.tar.gz
  v1.0-pubmed       BioBERT-Base v1.0 (+ PubMed 200K), biobert_v1.0_pubmed.tar.gz
  v1.0-pmc          BioBERT-Base v1.0 (+ PMC 270K), biobert_v1.0_pmc.tar.gz
  v1.0-pubmed-pmc   BioBERT-Base v1.0 (+ PubMed 200K + PMC 270K), biobert_v1.0_pubmed_pmc.tar.gz
  v1.2              BioBERT-Base v1.2 (+ PubMed 1M), Hugging Face dmis-lab/biobert-base-cased-v1.2 (PyTorch
                    weights) -> $WEIGHTS_DIR/biobert-base-cased-v1.2
  all               every version above

Checksums: an archive is used only once its SHA1 matches the one listed in $CHECKSUMS or, for archives not listed
there, on the page $BASE_URL/sha1sum.html. The Hugging Face files are checked against the hashes the hub lists
for them (SHA256 for large files, the git blob SHA1 for the others). A mismatch deletes the download and stops
(exit status 1). Downloads go to NAME.part first and continue from there after a dropped connection or an
interrupted run; an archive is extracted into a temporary folder beside its destination and then renamed into
place. An archive already extracted (or already downloaded and verified) is not downloaded again.

Variables (environment; defaults in brackets; relative paths are taken from the current folder):
  BIOBERT_DATA      folder the data sets are extracted into [./data]
  WEIGHTS_DIR       folder the weights are extracted into [./weights]
  BASE_URL          where the archives and sha1sum.html are
                    [http://nlp.dmis.korea.edu/projects/biobert-2020-checkpoints]
  HF_URL            the Hugging Face hub, for v1.2 [https://huggingface.co]
  HF_FILES          space-separated files of the v1.2 model to fetch [every file of the model's folder on the
                    hub but .gitattributes and the weights of other frameworks: flax_model.msgpack, tf_model.h5,
                    rust_model.ot]
  CHECKSUMS         a file of `SHA1  FILENAME` lines (sha1sum's format) that takes precedence over the published
                    page [none]
  ALLOW_UNVERIFIED  1: use an archive that no checksum list names, printing its SHA1; 0: refuse it [0]
  KEEP_ARCHIVES     1: keep the archives after extraction; 0: delete them [0]
  DOWNLOAD_RETRIES  attempts after the first when a transfer breaks; each continues the partial file [5]
  PYTHON            the Python interpreter (page and hub listing parsing, .zip extraction) [python]

Exit status: 0 done, 1 a download, checksum or extraction failure, 2 bad arguments or settings.
EOF
}

for arg in "$@"; do
  if help_requested "$arg"; then
    usage
    exit 0
  fi
done

# Failures of the network or of a download exit 1, so that callers can tell them from bad input (die, exit 2).
fail() {
  echo "error: $SCRIPT: $*" >&2
  exit 1
}

HF_REPO=dmis-lab/biobert-base-cased-v1.2
HF_FOLDER=biobert-base-cased-v1.2

weights_archive() {
  case "$1" in
    v1.1-pubmed) echo biobert_v1.1_pubmed.tar.gz ;;
    large-v1.1-pubmed) echo biobert_large_v1.1_pubmed.tar.gz ;;
    v1.0-pubmed) echo biobert_v1.0_pubmed.tar.gz ;;
    v1.0-pmc) echo biobert_v1.0_pmc.tar.gz ;;
    v1.0-pubmed-pmc) echo biobert_v1.0_pubmed_pmc.tar.gz ;;
    v1.2) echo hub ;;
    *) return 1 ;;
  esac
}
ALL_WEIGHTS=(v1.1-pubmed large-v1.1-pubmed v1.0-pubmed v1.0-pmc v1.0-pubmed-pmc v1.2)

dataset_archive() {
  case "$1" in
    full) echo datasets.tar.gz ;;
    ner) echo NERdata.zip ;;
    re) echo REdata.zip ;;
    qa) echo QA.zip ;;
    *) return 1 ;;
  esac
}

# Every archive name the checksum page may list; the parser only trusts lines that name one of them.
ALL_ARCHIVES=(datasets.tar.gz NERdata.zip REdata.zip QA.zip biobert_large_v1.1_pubmed.tar.gz
  biobert_v1.1_pubmed.tar.gz biobert_v1.0_pubmed.tar.gz biobert_v1.0_pmc.tar.gz biobert_v1.0_pubmed_pmc.tar.gz)

# --- arguments: everything is checked before the first byte is fetched ---

for arg in "$@"; do
  [[ "$arg" != -* ]] || die "unknown option $arg (see $SCRIPT --help)"
done
what=${1:-datasets}
[[ $# -eq 0 ]] || shift
DATASETS=()
WEIGHTS=()
case "$what" in
  datasets)
    [[ $# -gt 0 ]] || set -- full
    for name in "$@"; do
      dataset_archive "$name" >/dev/null || die "unknown data set '$name' (known: full ner re qa)"
      DATASETS+=("$name")
    done
    ;;
  weights)
    [[ $# -gt 0 ]] || set -- v1.1-pubmed
    for name in "$@"; do
      if [[ "$name" == all ]]; then
        WEIGHTS+=("${ALL_WEIGHTS[@]}")
        continue
      fi
      weights_archive "$name" >/dev/null || die "unknown weights version '$name' (known: ${ALL_WEIGHTS[*]} all)"
      WEIGHTS+=("$name")
    done
    ;;
  all)
    [[ $# -eq 0 ]] || die "'all' takes no names; use 'datasets NAME...' or 'weights NAME...'"
    DATASETS=(full)
    WEIGHTS=(v1.1-pubmed)
    ;;
  *) die "unknown argument '$what' (expected datasets, weights or all; see $SCRIPT --help)" ;;
esac

BIOBERT_DATA=$(absolute "${BIOBERT_DATA:-./data}")
WEIGHTS_DIR=$(absolute "${WEIGHTS_DIR:-./weights}")
BASE_URL=${BASE_URL:-http://nlp.dmis.korea.edu/projects/biobert-2020-checkpoints}
BASE_URL=${BASE_URL%/}
HF_URL=${HF_URL:-https://huggingface.co}
HF_URL=${HF_URL%/}
HF_FILES=${HF_FILES:-}
CHECKSUMS=$(absolute "${CHECKSUMS:-}")
ALLOW_UNVERIFIED=${ALLOW_UNVERIFIED:-0}
KEEP_ARCHIVES=${KEEP_ARCHIVES:-0}
DOWNLOAD_RETRIES=${DOWNLOAD_RETRIES:-5}

[[ "$ALLOW_UNVERIFIED" == 0 || "$ALLOW_UNVERIFIED" == 1 ]] ||
  die "ALLOW_UNVERIFIED must be 0 or 1, not '$ALLOW_UNVERIFIED'"
[[ "$KEEP_ARCHIVES" == 0 || "$KEEP_ARCHIVES" == 1 ]] || die "KEEP_ARCHIVES must be 0 or 1, not '$KEEP_ARCHIVES'"
[[ "$DOWNLOAD_RETRIES" =~ ^[0-9]+$ ]] || die "DOWNLOAD_RETRIES must be a whole number, not '$DOWNLOAD_RETRIES'"
[[ -z "$CHECKSUMS" || -f "$CHECKSUMS" ]] || die "CHECKSUMS=$CHECKSUMS is not a file"
for tool in curl tar sha1sum sha256sum "$PYTHON"; do
  command -v "$tool" >/dev/null || die "$tool is not installed (or not on PATH); it is needed to download and check"
done

# --- temporary files: removed however the script ends; .part files stay, to be continued ---

WORK=$(mktemp -d "${TMPDIR:-/tmp}/biobert-download.XXXXXX")
CLEANUP=("$WORK")
cleanup() {
  rm -rf "${CLEANUP[@]}"
}
trap cleanup EXIT
# Without these, a Ctrl-C or kill would skip the EXIT trap and leave half-extracted temporary folders behind.
trap 'exit 130' INT
trap 'exit 143' TERM

# The standard library is enough for the page, the hub's JSON and the git blob hash; no dependency is added.
PY_HELPER=$(
  cat <<'PY'
import hashlib, html, json, re, sys

def page_sums(page, names):
  """`sha1  name` for every archive name that one row or line of the page pairs with exactly one SHA1."""
  with open(page, encoding="utf-8", errors="replace") as f:
    text = f.read()
  text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
  # Rows of a table, lines of a <pre> block, list items: each may hold a sum and its file name.
  chunks = re.split(r"(?i)</tr\s*>|<br\s*/?>|</li\s*>|</p\s*>|</div\s*>|</h\d\s*>", text)
  sha1 = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{40}(?![0-9A-Fa-f])")
  patterns = {n: re.compile(r"(?<![\w.-])" + re.escape(n) + r"(?![\w-]|\.\w)") for n in names}
  found = {}
  def take(piece):
    piece = html.unescape(re.sub(r"<[^>]*>", " ", piece))
    sums = sha1.findall(piece)
    hits = [n for n, p in patterns.items() if p.search(piece)]
    if len(sums) == 1 and len(hits) == 1:
      found.setdefault(hits[0], set()).add(sums[0].lower())
      return True
    return False
  for chunk in chunks:
    if not take(chunk):
      for line in chunk.splitlines():
        take(line)
  for name, values in found.items():
    if len(values) == 1:
      print("%s  %s" % (values.pop(), name))
    else:
      print("conflict  %s" % name)

def hub_tree(listing):
  """`path<TAB>sha256|gitsha1<TAB>hash` per file of the hub's tree listing."""
  with open(listing, encoding="utf-8") as f:
    entries = json.load(f)
  for entry in entries:
    if entry.get("type") != "file":
      continue
    lfs = entry.get("lfs")
    if lfs and lfs.get("oid"):
      print("%s\tsha256\t%s" % (entry["path"], lfs["oid"].lower()))
    else:
      print("%s\tgitsha1\t%s" % (entry["path"], entry["oid"].lower()))

def git_sha1(path):
  """The hash git gives the file as a blob: SHA1 of `blob <size>\\0` and the content."""
  h = hashlib.sha1()
  with open(path, "rb") as f:
    f.seek(0, 2)
    h.update(b"blob %d\0" % f.tell())
    f.seek(0)
    for block in iter(lambda: f.read(1 << 20), b""):
      h.update(block)
  print(h.hexdigest())

command, args = sys.argv[1], sys.argv[2:]
{"page": lambda: page_sums(args[0], args[1:]), "tree": lambda: hub_tree(args[0]),
 "gitsha1": lambda: git_sha1(args[0])}[command]()
PY
)
PAGE_SUMS=$WORK/page_sums
py() {
  "$PYTHON" -c "$PY_HELPER" "$@"
}

size_of() {
  local bytes
  bytes=$(wc -c <"$1")
  echo $((bytes))
}

# --- downloads ---

# fetch URL PART LABEL: downloads URL into PART, continuing what PART already holds. A broken transfer is retried
# from where it stopped; a server that ignores byte ranges makes the download start over.
fetch() {
  local url=$1 part=$2 label=$3 attempt=0 rc code have
  local -a progress=(--silent --show-error)
  [[ -t 2 ]] && progress=(--progress-bar)
  while true; do
    have=0
    [[ -f "$part" ]] && have=$(size_of "$part")
    if ((have > 0)); then
      echo "$label: resumed at $have bytes"
    else
      echo "$label: downloading $url"
    fi
    rc=0
    # A stalled connection (under 1 KiB/s for a minute) is dropped and continued rather than waited on forever.
    code=$(curl --fail --location "${progress[@]}" --connect-timeout 30 --speed-limit 1024 --speed-time 60 \
      --continue-at - --output "$part" --write-out '%{http_code}' "$url") || rc=$?
    case "$rc" in
      0) return 0 ;;
      33)
        echo "$label: the server cannot continue a partial download; starting over"
        rm -f "$part"
        ;;
      22)
        # The server refuses a range that starts at the end of the file: an earlier run had it all but was stopped
        # before the rename. The checksum tells whether those bytes are right.
        if [[ "$code" == 416 ]] && ((have > 0)); then
          echo "$label: the partial download is already complete"
          return 0
        fi
        # A client error will not change on a retry; a server error (5xx) may.
        [[ "$code" == 4* && "$code" != 408 && "$code" != 429 ]] && fail "$url: HTTP $code"
        ;;
    esac
    attempt=$((attempt + 1))
    ((attempt <= DOWNLOAD_RETRIES)) ||
      fail "$url: download failed (curl exit status $rc${code:+, HTTP $code}) after $attempt attempts;" \
        "run again to continue from $part"
    sleep "$attempt"
  done
}

# expected_sha1 ARCHIVE: its SHA1 from CHECKSUMS, else from the published page; empty when unknown. It runs in a
# command substitution, so the page's sums are kept in a file, not a variable, to fetch the page once per run.
expected_sha1() {
  local name=$1 sum=""
  if [[ -n "$CHECKSUMS" ]]; then
    # sha1sum's format, `*` marking binary mode; a folder before the name is ignored.
    sum=$(awk -v name="$name" '
      /^[[:space:]]*#/ { next }
      NF >= 2 {
        file = $2; sub(/^\*/, "", file); sub(/.*\//, "", file)
        if (file == name && $1 ~ /^[0-9A-Fa-f]+$/ && length($1) == 40) { print tolower($1); exit }
      }' "$CHECKSUMS")
    if [[ -n "$sum" ]]; then
      echo "$sum"
      return
    fi
  fi
  if [[ ! -f "$PAGE_SUMS" ]]; then
    if curl --fail --location --silent --show-error --connect-timeout 30 --max-time 120 --retry 3 \
      --output "$WORK/sha1sum.html" "$BASE_URL/sha1sum.html"; then
      py page "$WORK/sha1sum.html" "${ALL_ARCHIVES[@]}" >"$PAGE_SUMS"
    else
      echo "warning: could not read the checksum page $BASE_URL/sha1sum.html" >&2
      : >"$PAGE_SUMS"
    fi
  fi
  sum=$(awk -v name="$name" '$2 == name { print $1; exit }' "$PAGE_SUMS")
  [[ "$sum" != conflict ]] ||
    fail "$BASE_URL/sha1sum.html lists different SHA1 sums for $name; put the right one in a CHECKSUMS file"
  echo "$sum"
}

# verify FILE ALGORITHM EXPECTED LABEL: true when FILE's hash is EXPECTED; on a mismatch FILE is deleted and the
# script stops naming both sums.
verify() {
  local file=$1 algorithm=$2 expected=$3 label=$4 actual
  case "$algorithm" in
    sha1) actual=$(sha1sum "$file" | cut -d' ' -f1) ;;
    sha256) actual=$(sha256sum "$file" | cut -d' ' -f1) ;;
    gitsha1) actual=$(py gitsha1 "$file") ;;
  esac
  if [[ "$actual" != "$expected" ]]; then
    rm -f "$file"
    fail "$label: $algorithm mismatch (expected $expected, got $actual);" \
      "the download was deleted, run again to fetch it anew"
  fi
  echo "$label: verified ($algorithm $actual)"
}

# --- archives ---

# extract ARCHIVE DEST: unpacks into a temporary folder in DEST, then renames each top-level entry into DEST, so
# that a stopped extraction never leaves a partial data set where a complete one is expected.
extract() {
  local archive=$1 dest=$2 name tmp entry
  local -a entries=()
  name=$(basename "$archive")
  # A run killed while extracting could not remove its temporary folder.
  rm -rf "$dest/.$name.extract."*
  tmp=$(mktemp -d "$dest/.$name.extract.XXXXXX")
  CLEANUP+=("$tmp")
  case "$name" in
    *.zip) "$PYTHON" -m zipfile -e "$archive" "$tmp" || fail "$archive: cannot extract (a damaged zip file?)" ;;
    *) tar -xzf "$archive" -C "$tmp" || fail "$archive: cannot extract (a damaged tarball?)" ;;
  esac
  # Archives made on macOS carry resource forks that are no part of the data.
  rm -rf "$tmp/__MACOSX"
  while IFS= read -r -d '' entry; do
    entries+=("$(basename "$entry")")
  done < <(find "$tmp" -mindepth 1 -maxdepth 1 -print0 | sort -z)
  ((${#entries[@]} > 0)) || fail "$archive is empty"
  for entry in "${entries[@]}"; do
    [[ ! -e "$dest/$entry" ]] ||
      fail "$dest/$entry already exists; move it away and run again" \
        "(the verified $archive is kept, not downloaded again)"
  done
  for entry in "${entries[@]}"; do
    mv "$tmp/$entry" "$dest/$entry"
    echo "$name: extracted to $dest/$entry"
  done
  printf '%s\n' "${entries[@]}" >"$tmp.done"
  mv "$tmp.done" "$dest/.$name.extracted"
}

# already_extracted DEST NAME: true when an earlier run extracted NAME into DEST and its entries are still there.
already_extracted() {
  local stamp=$1/.$2.extracted entry
  [[ -f "$stamp" ]] || return 1
  while IFS= read -r entry; do
    [[ -e "$1/$entry" ]] || return 1
  done <"$stamp"
  return 0
}

# get_archive NAME DEST: downloads, verifies and extracts one archive of BASE_URL into DEST.
get_archive() {
  local name=$1 dest=$2 archive sum entries
  archive=$dest/$name
  mkdir -p "$dest"
  if already_extracted "$dest" "$name"; then
    entries=$(paste -sd' ' "$dest/.$name.extracted")
    echo "$name: already extracted in $dest ($entries)"
    return
  fi
  sum=$(expected_sha1 "$name")
  if [[ -z "$sum" && "$ALLOW_UNVERIFIED" != 1 ]]; then
    fail "no SHA1 known for $name (not on $BASE_URL/sha1sum.html${CHECKSUMS:+ nor in $CHECKSUMS});" \
      "add a \`SHA1  $name\` line to a file named by CHECKSUMS, or set ALLOW_UNVERIFIED=1 to use it unchecked"
  fi
  if [[ -f "$archive" ]]; then
    if [[ -z "$sum" ]]; then
      echo "$name: already downloaded (unverified: no SHA1 known)"
    elif [[ "$(sha1sum "$archive" | cut -d' ' -f1)" == "$sum" ]]; then
      echo "$name: already downloaded, verified (sha1 $sum)"
    else
      echo "$name: the file present differs from the expected SHA1; downloading it again"
      rm -f "$archive"
    fi
  fi
  if [[ ! -f "$archive" ]]; then
    fetch "$BASE_URL/$name" "$archive.part" "$name"
    if [[ -n "$sum" ]]; then
      verify "$archive.part" sha1 "$sum" "$name"
    else
      sum=$(sha1sum "$archive.part" | cut -d' ' -f1)
      echo "warning: $name is not verified (ALLOW_UNVERIFIED=1); its SHA1 is $sum" >&2
    fi
    mv "$archive.part" "$archive"
  fi
  extract "$archive" "$dest"
  if [[ "$KEEP_ARCHIVES" != 1 ]]; then
    rm -f "$archive"
  fi
}

# --- the v1.2 model on the Hugging Face hub ---

# get_hub_model: fetches the model's files into a staging folder, each checked against the hub's own hash, and
# renames the folder into place once every file is there.
get_hub_model() {
  local final=$WEIGHTS_DIR/$HF_FOLDER staging=$WEIGHTS_DIR/.$HF_FOLDER.partial listing=$WORK/hub_tree.json
  local path algorithm hash file
  local -a wanted=()
  declare -A kinds=() hashes=()
  if [[ -d "$final" ]]; then
    echo "$HF_REPO: already downloaded in $final"
    return
  fi
  curl --fail --location --silent --show-error --connect-timeout 30 --max-time 120 --retry 3 \
    --output "$listing" "$HF_URL/api/models/$HF_REPO/tree/main" ||
    fail "cannot list the files of $HF_REPO at $HF_URL/api/models/$HF_REPO/tree/main"
  py tree "$listing" >"$WORK/hub_files" || fail "$HF_URL/api/models/$HF_REPO/tree/main: not the hub's file listing"
  while IFS=$'\t' read -r path algorithm hash; do
    kinds[$path]=$algorithm
    hashes[$path]=$hash
    if [[ -z "$HF_FILES" ]]; then
      case "$path" in
        .gitattributes | flax_model.msgpack | tf_model.h5 | rust_model.ot) ;;
        *) wanted+=("$path") ;;
      esac
    fi
  done <"$WORK/hub_files"
  if [[ -n "$HF_FILES" ]]; then
    read -r -a wanted <<<"$HF_FILES"
    for path in "${wanted[@]}"; do
      [[ -n "${kinds[$path]:-}" ]] || die "HF_FILES names $path, which $HF_REPO does not have (it has: ${!kinds[*]})"
    done
  fi
  ((${#wanted[@]} > 0)) || fail "$HF_URL lists no files for $HF_REPO"
  mkdir -p "$staging"
  for path in "${wanted[@]}"; do
    file=$staging/$path
    if [[ -f "$file" ]]; then
      echo "$path: already downloaded"
      continue
    fi
    fetch "$HF_URL/$HF_REPO/resolve/main/$path" "$file.part" "$path"
    verify "$file.part" "${kinds[$path]}" "${hashes[$path]}" "$path"
    mv "$file.part" "$file"
  done
  mv "$staging" "$final"
  echo "$HF_REPO: saved to $final"
}

declare -A seen=()
for name in "${DATASETS[@]}"; do
  [[ -z "${seen[data:$name]:-}" ]] || continue
  seen[data:$name]=1
  get_archive "$(dataset_archive "$name")" "$BIOBERT_DATA"
done
for name in "${WEIGHTS[@]}"; do
  [[ -z "${seen[weights:$name]:-}" ]] || continue
  seen[weights:$name]=1
  if [[ "$name" == v1.2 ]]; then
    get_hub_model
  else
    get_archive "$(weights_archive "$name")" "$WEIGHTS_DIR"
  fi
done
if ((${#DATASETS[@]} > 0)); then
  echo "BioBERT dataset download done!"
fi
