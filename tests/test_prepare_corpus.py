"""Tests for prepare_corpus.py and sentence_split.py on the real MEDLINE / PMC OA files in ../shared/data/corpus.

Reference counts come from independent passes (plain ElementTree over the XML, hand annotation), not from the code
under test.
"""

import glob
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET

import pytest

import prepare_corpus
import sentence_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
MEDLINE_FILE = "medline16n0902.xml.gz"


# ---------------------------------------------------------------------------------------------------------------
# Sentence splitting.


def _boundaries(sentences):
  """Boundary positions counted in non-space characters, so they do not depend on spacing."""
  positions, total = set(), 0
  for sentence in sentences[:-1]:
    total += len(sentence.replace(" ", ""))
    positions.add(total)
  return positions


def _score(path):
  tp = fp = fn = 0
  with open(path, encoding="utf-8") as f:
    for line in f:
      gold = json.loads(line)["sentences"]
      predicted = sentence_split.split_sentences(" ".join(gold))
      assert "".join(predicted).replace(" ", "") == "".join(gold).replace(" ", "")
      g, p = _boundaries(gold), _boundaries(predicted)
      tp += len(g & p)
      fp += len(p - g)
      fn += len(g - p)
  return tp, fp, fn


@pytest.mark.parametrize("name", ["sentence_boundaries_gold.jsonl", "sentence_boundaries_heldout.jsonl", "both"])
def test_sentence_boundaries_match_hand_annotation(name):
  """Hand-annotated real MEDLINE/PMC paragraphs: boundary precision and recall >= 0.98 (>= 200 boundaries)."""
  names = ["sentence_boundaries_gold.jsonl", "sentence_boundaries_heldout.jsonl"] if name == "both" else [name]
  tp = fp = fn = 0
  for n in names:
    a, b, c = _score(os.path.join(DATA, n))
    tp, fp, fn = tp + a, fp + b, fn + c
  precision, recall = tp / (tp + fp), tp / (tp + fn)
  if name != "sentence_boundaries_heldout.jsonl":
    assert tp + fn >= 200
  assert precision >= 0.98 and recall >= 0.98, (precision, recall, tp, fp, fn)


@pytest.mark.parametrize("text,expected", [
    ("Cells were lysed (e.g. by sonication). The lysate was cleared.",
     ["Cells were lysed (e.g. by sonication).", "The lysate was cleared."]),
    ("We grew E. coli and S. aureus at 37 degrees. Growth was normal.",
     ["We grew E. coli and S. aureus at 37 degrees.", "Growth was normal."]),
    ("As shown by Smith et al. in 2005, levels rose. Levels fell later.",
     ["As shown by Smith et al. in 2005, levels rose.", "Levels fell later."]),
    ("See Fig. 2 and Figs. 3-4 for details. Ratios were 2.5 vs. 3.1 in total.",
     ["See Fig. 2 and Figs. 3-4 for details.", "Ratios were 2.5 vs. 3.1 in total."]),
    ("The difference was significant (p < 0.05). Controls did not change.",
     ["The difference was significant (p < 0.05).", "Controls did not change."]),
    ("The effect was significant, p < 0.05. Controls did not change.",
     ["The effect was significant, p < 0.05.", "Controls did not change."]),
    ("It took approx. 5 min and ca. 30 mg of no. 4 buffer. Then it stopped.",
     ["It took approx. 5 min and ca. 30 mg of no. 4 buffer.", "Then it stopped."]),
    ("The model was proposed by R. A. Fisher. He assumed many traits.",
     ["The model was proposed by R. A. Fisher.", "He assumed many traits."]),
    ("Patients were deficient in vitamin D. The cohort was small.",
     ["Patients were deficient in vitamin D.", "The cohort was small."]),
    ("Aims: 1. to assess safety; 2. to assess efficacy. Both were met.",
     ["Aims: 1. to assess safety; 2. to assess efficacy.", "Both were met."]),
    ("Expression rose. mRNA levels of p53 doubled. p53 protein did not.",
     ["Expression rose.", "mRNA levels of p53 doubled.", "p53 protein did not."]),
    ("Is it safe? Yes, in most cases! It was well tolerated.",
     ["Is it safe?", "Yes, in most cases!", "It was well tolerated."]),
    ("The gene Os.HKT1 and the value 0.25 were used. Nothing else was.",
     ["The gene Os.HKT1 and the value 0.25 were used.", "Nothing else was."]),
    ("The \u03b2-subunit bound Ca\u00b2\u207a. \u0394F508 was absent.",
     ["The \u03b2-subunit bound Ca\u00b2\u207a.", "\u0394F508 was absent."]),
    ("", []),
])
def test_split_sentences_examples(text, expected):
  assert sentence_split.split_sentences(text) == expected


# ---------------------------------------------------------------------------------------------------------------
# Independent references from the XML.


def _open_xml(path):
  with open(path, "rb") as f:
    data = f.read()
  if data[:2] == b"\x1f\x8b":
    data = gzip.decompress(data)
  return ET.fromstring(data)


def _pubmed_reference(paths):
  """PMIDs whose latest record has a non-empty abstract, after DeleteCitation -- a plain ElementTree pass."""
  latest = {}
  for path in paths:
    root = _open_xml(path)
    for child in root:
      if child.tag in ("PubmedArticle", "MedlineCitation"):
        citation = child if child.tag == "MedlineCitation" else child.find("MedlineCitation")
        pmid = citation.find("PMID").text.strip()
        # The English abstract; OtherAbstract (translations, plain-language versions) is not part of it.
        texts = ["".join(t.itertext()).strip() for t in citation.findall("Article/Abstract/AbstractText")]
        latest[pmid] = any(texts)
      elif child.tag == "DeleteCitation":
        for pmid in child.iter("PMID"):
          latest.pop(pmid.text.strip(), None)
  return {pmid for pmid, has_abstract in latest.items() if has_abstract}


def _read_documents(folder, prefix="corpus"):
  """Documents of all shards, as lists of lines; checks the format on the way."""
  documents = []
  names = sorted(n for n in os.listdir(folder) if re.match(r"^%s-\d{5}\.txt$" % prefix, n))
  for name in names:
    with open(os.path.join(folder, name), encoding="utf-8") as f:
      text = f.read()
    assert text.endswith("\n\n"), name
    for block in text.split("\n\n"):
      if block:
        lines = block.split("\n")
        assert all(line and line == line.strip() for line in lines), block[:200]
        documents.append(lines)
  return documents


@pytest.fixture(scope="module")
def corpus_dir(shared_data):
  return os.path.join(shared_data, "corpus")


@pytest.fixture(scope="module")
def converted(corpus_dir, tmp_path_factory):
  """PubMed + PMC converted once (2 workers); returns (output dir, summary)."""
  out = str(tmp_path_factory.mktemp("corpus_out"))
  summary = prepare_corpus.prepare("%s,%s" % (os.path.join(corpus_dir, "pubmed"), os.path.join(corpus_dir, "pmc_oa")),
                                   out, num_workers=2)
  return out, summary


def test_pubmed_document_count_matches_independent_count(corpus_dir, tmp_path):
  pubmed = sorted(glob.glob(os.path.join(corpus_dir, "pubmed", "*.xml*")))
  for paths in ([os.path.join(corpus_dir, "pubmed", MEDLINE_FILE)], pubmed):
    out = str(tmp_path / str(len(paths)))
    summary = prepare_corpus.prepare(",".join(paths), out, num_workers=1)
    expected = _pubmed_reference(paths)
    assert summary["documents"] == len(expected) == len(_read_documents(out))
    deletions = sum(len(d.findall("PMID")) for p in paths for d in _open_xml(p).iter("DeleteCitation"))
    assert summary["deletions_read"] == deletions
  # Every citation with an abstract starts its document with its title, in file order.
  root = _open_xml(os.path.join(corpus_dir, "pubmed", MEDLINE_FILE))
  titles = [" ".join("".join(c.find("Article/ArticleTitle").itertext()).split()) for c in root.iter("MedlineCitation")
            if any("".join(t.itertext()).strip() for t in c.findall("Article/Abstract/AbstractText"))]
  # Translated titles come in brackets, "[Title]."; the brackets are dropped.
  titles = [re.sub(r"^\[([^\[\]]*)\](\.?)$", r"\1\2", t) for t in titles]
  documents = _read_documents(str(tmp_path / "1"))
  assert len(documents) == len(titles)
  for document, title in zip(documents, titles):
    assert title.startswith(document[0]), (document[0], title)  # a title can hold two sentences


def test_output_has_every_abstract_sentence_text(corpus_dir, converted):
  """Each abstract's words all reach the output, in order, and no XML markup does."""
  out, _ = converted
  text = "\n".join("\n".join(d) for d in _read_documents(out))
  flat = " ".join(text.split())
  root = _open_xml(os.path.join(corpus_dir, "pubmed", MEDLINE_FILE))
  checked = 0
  for section in root.findall("MedlineCitation/Article/Abstract/AbstractText"):
    words = " ".join("".join(section.itertext()).split())
    if words:
      assert words in flat, words[:120]
      checked += 1
  assert checked > 1000
  tags = set()
  for path in glob.glob(os.path.join(corpus_dir, "*", "*.*xml*")):
    tags.update(e.tag.rsplit("}", 1)[-1] for e in _open_xml(path).iter() if isinstance(e.tag, str))
  assert len(tags) > 100
  for tag in tags:
    assert not re.search(r"</?%s[\s/>]" % re.escape(tag), text), tag
  assert "&lt;" not in text and "&#" not in text and "&amp;" not in text


def test_unicode_survives(corpus_dir, converted):
  out, _ = converted
  text = "\n".join("\n".join(d) for d in _read_documents(out))
  for path in glob.glob(os.path.join(corpus_dir, "pubmed", "*.xml*")):
    for section in _open_xml(path).iter("AbstractText"):
      for ch in "".join(section.itertext()):
        if ord(ch) > 0x7F and not ch.isspace() and ch not in "\u00ad\u200b\ufeff":
          assert ch in text, repr(ch)
  for ch in "\u03b2\u03bc\u03b1\u00b0\u2264\u00b1":
    assert ch in text, repr(ch)


def _jats_prose_texts(root):
  """Text of every <p> outside tables, figures, reference lists and back matter."""
  excluded = set()
  for tag in ("table-wrap", "fig", "ref-list", "back", "floats-group", "table", "supplementary-material"):
    for elem in root.iter(tag):
      excluded.update(id(e) for e in elem.iter())
  return [" ".join("".join(p.itertext()).split()) for p in root.iter("p") if id(p) not in excluded]


def test_pmc_drops_tables_and_references(corpus_dir, converted):
  out, _ = converted
  text = " ".join(" ".join(" ".join(d) for d in _read_documents(out)).split())
  checked_cells = checked_refs = 0
  for path in sorted(glob.glob(os.path.join(corpus_dir, "pmc_oa", "*.nxml"))):
    root = ET.parse(path).getroot()
    prose = " ".join(_jats_prose_texts(root))
    cells = {" ".join("".join(c.itertext()).split()) for tag in ("td", "th") for c in root.iter(tag)}
    refs = {" ".join("".join(t.itertext()).split()) for r in root.iter("ref-list") for t in r.iter("article-title")}
    for cell in cells:
      if len(cell) >= 20 and cell not in prose:
        assert cell not in text, (path, cell)
        checked_cells += 1
    for title in refs:
      if len(title) >= 30 and title not in prose:
        assert title not in text, (path, title)
        checked_refs += 1
    # The article's own title and abstract are there.
    title = " ".join("".join(root.find("front/article-meta/title-group/article-title").itertext()).split())
    assert title in text, title
  assert checked_cells >= 20 and checked_refs >= 50, (checked_cells, checked_refs)


def test_pmc_citations_removed_but_prose_kept(corpus_dir, tmp_path):
  out = str(tmp_path / "pmc")
  prepare_corpus.prepare(os.path.join(corpus_dir, "pmc_oa"), out)
  text = "\n".join("\n".join(d) for d in _read_documents(out))
  assert not re.search(r"(?<!\w)\[\s*\d+(\s*[,\u2013-]\s*\d+)*\s*\]", text)  # no "[12]" / "[1-5]" left
  assert "(Hites 2004; Law et al. 2003)" not in text  # parenthesised author-year group
  assert "Sella and Hirsh found that mean equilibrium fitness" in text  # name before "[16]" kept
  assert "[their figure five]" in text  # "[[39], their figure five]": only the citation went
  assert "Fig. 1" in text or "Figure 1" in text  # figure references are prose


def test_resolve_citations_rules():
  o, c = prepare_corpus._CITE_OPEN, prepare_corpus._CITE_CLOSE
  cite = lambda t: o + t + c  # pylint: disable=unnecessary-lambda-assignment
  resolve = prepare_corpus._resolve_citations
  assert resolve("as shown [%s]." % cite("12")) == "as shown."
  assert resolve("as shown [%s]\u2013[%s], and" % (cite("1"), cite("5"))) == "as shown, and"
  assert resolve("shown %s%s." % (cite("[3]"), "")) == "shown."
  assert resolve("fish (%s; %s)." % (cite("Hites 2004"), cite("Law et al. 2003"))) == "fish."
  assert resolve("fish (e.g. zebrafish; %s)." % cite("Lema 2007")) == "fish (e.g. zebrafish)."
  assert resolve("as %s showed" % cite("Lema et al. (2007)")) == "as Lema et al. (2007) showed"
  assert resolve("shown (see %s, %s) and" % (cite("1"), cite("2"))) == "shown and"
  assert resolve("shown [[%s], their figure 5]." % cite("39")) == "shown [their figure 5]."
  assert resolve("no citations (n = 5).") == "no citations (n = 5)."


# ---------------------------------------------------------------------------------------------------------------
# De-duplication and deletions on small synthetic files (MEDLINE 2016 and current layouts).


def _citation(pmid, title, abstract=None, version=1, layout="2016"):
  abstract_xml = "<Abstract><AbstractText>%s</AbstractText></Abstract>" % abstract if abstract else ""
  citation = ('<MedlineCitation Owner="NLM" Status="MEDLINE"><PMID Version="%d">%d</PMID><Article>'
              "<ArticleTitle>%s</ArticleTitle>%s</Article></MedlineCitation>" % (version, pmid, title, abstract_xml))
  return citation if layout == "2016" else "<PubmedArticle>%s<PubmedData/></PubmedArticle>" % citation


def _write_set(path, body, layout="2016", gz=True):
  root = "MedlineCitationSet" if layout == "2016" else "PubmedArticleSet"
  data = ('<?xml version="1.0" encoding="UTF-8"?>\n<%s>%s</%s>\n' % (root, body, root)).encode("utf-8")
  with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
    f.write(data)


def test_dedup_keeps_latest_and_honours_deletions(tmp_path):
  src = tmp_path / "in"
  src.mkdir()
  _write_set(str(src / "pubmed24n0001.xml.gz"), "".join([
      _citation(1, "One old.", "Old abstract one."),
      _citation(2, "Two.", "Abstract two."),
      _citation(3, "Three without abstract."),
      _citation(4, "Four v2.", "Version two text.", version=2),
      _citation(4, "Four v1.", "Version one text.", version=1),
      _citation(5, "Five first.", "Five first text."),
      _citation(5, "Five second.", "Five second text."),
  ]))
  _write_set(str(src / "pubmed24n0002.xml.gz"), "".join([
      _citation(1, "One new.", "New abstract one.", layout="current"),
      "<DeleteCitation><PMID Version=\"1\">2</PMID></DeleteCitation>",
      _citation(6, "Six \u03b1-helix.", "Six \u03b2-sheet text.", layout="current"),
  ]), layout="current")
  _write_set(str(src / "pubmed24n0003.xml"), _citation(6, "Six withdrawn.", layout="current"), layout="current",
             gz=False)
  out = str(tmp_path / "out")
  summary = prepare_corpus.prepare(str(src), out, num_workers=2)
  documents = _read_documents(out)
  assert [d[0] for d in documents] == ["Four v2.", "Five second.", "One new."]
  assert documents[2] == ["One new.", "New abstract one."]
  assert summary["documents"] == 3
  assert summary["skipped"]["deleted"] == 1  # PMID 2
  assert summary["skipped"]["no_abstract"] == 2  # PMID 3; PMID 6, whose latest record lost its abstract
  assert summary["skipped"]["superseded"] == 4  # 1 old, 4 v1, 5 first, 6 first
  no_dedup = prepare_corpus.prepare(str(src), str(tmp_path / "out2"), dedup=False)
  assert no_dedup["documents"] == 8
  titles = prepare_corpus.prepare(str(src), str(tmp_path / "out3"), keep_title_only=True)
  assert [d[0] for d in _read_documents(str(tmp_path / "out3"))] == [
      "Three without abstract.", "Four v2.", "Five second.", "One new.", "Six withdrawn."]
  assert titles["skipped"]["no_abstract"] == 0


# ---------------------------------------------------------------------------------------------------------------
# Output shape: shards, parallelism.


def test_shards_and_workers_give_identical_text(corpus_dir, converted, tmp_path):
  out, summary = converted
  inputs = "%s,%s" % (os.path.join(corpus_dir, "pubmed"), os.path.join(corpus_dir, "pmc_oa"))
  small = str(tmp_path / "small")
  small_summary = prepare_corpus.prepare(inputs, small, num_workers=1, shard_size_mb=0.1, output_prefix="pm")
  assert small_summary["shards"] >= 5
  joined = b"".join(open(os.path.join(small, n), "rb").read() for n in small_summary["shard_files"])
  whole = b"".join(open(os.path.join(out, n), "rb").read() for n in summary["shard_files"])
  assert joined == whole
  for name in small_summary["shard_files"][:-1]:
    assert os.path.getsize(os.path.join(small, name)) >= 0.1 * (1 << 20)
  # A second, smaller run into the same folder leaves no stale shards behind.
  again = prepare_corpus.prepare(os.path.join(corpus_dir, "pmc_oa"), small, shard_size_mb=0.1, output_prefix="pm")
  left = sorted(n for n in os.listdir(small) if n.endswith(".txt"))
  assert left == again["shard_files"]
  assert not [n for n in os.listdir(small) if n.startswith(".")]


def test_pmc_tar_package_is_read_member_by_member(corpus_dir, tmp_path):
  package = str(tmp_path / "oa_comm_xml.PMC000xxxxxx.baseline.tar.gz")
  with tarfile.open(package, "w:gz") as tar:
    for name in sorted(os.listdir(os.path.join(corpus_dir, "pmc_oa")))[:3]:
      tar.add(os.path.join(corpus_dir, "pmc_oa", name), arcname="PMC000xxxxxx/" + name)
    junk = b"this is not xml"
    info = tarfile.TarInfo("PMC000xxxxxx/broken.nxml")
    info.size = len(junk)
    tar.addfile(info, io.BytesIO(junk))
  summary = prepare_corpus.prepare(package, str(tmp_path / "out"))
  assert summary["documents"] == 3
  assert [u["path"] for u in summary["unreadable"]] == [package + ":PMC000xxxxxx/broken.nxml"]


def test_pmc_articleset_and_small_xml_files(corpus_dir, tmp_path):
  """An efetch-style <pmc-articleset> and articles saved as .xml (as on the PMC cloud service) are recognised."""
  names = sorted(os.listdir(os.path.join(corpus_dir, "pmc_oa")))
  bodies = []
  for name in names[:2]:
    with open(os.path.join(corpus_dir, "pmc_oa", name), encoding="utf-8") as f:
      bodies.append(re.sub(r"^\s*<!DOCTYPE[^>]*>", "", f.read()))
  (tmp_path / "in").mkdir()
  (tmp_path / "in" / "efetch.xml").write_text("<pmc-articleset>%s</pmc-articleset>" % "".join(bodies),
                                              encoding="utf-8")
  for name in names[2:4]:
    shutil.copyfile(os.path.join(corpus_dir, "pmc_oa", name), str(tmp_path / "in" / (name[:-5] + ".xml")))
  summary = prepare_corpus.prepare(str(tmp_path / "in"), str(tmp_path / "out"))
  assert summary["documents"] == 4 and not summary["unreadable"]


# ---------------------------------------------------------------------------------------------------------------
# Bad input, exit status, no TensorFlow.


def _run_script(*args):
  return subprocess.run([sys.executable, os.path.join(ROOT, "prepare_corpus.py")] + list(args),
                        capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_bad_inputs_are_reported_and_skipped(corpus_dir, tmp_path):
  bad = tmp_path / "bad"
  bad.mkdir()
  with open(os.path.join(corpus_dir, "pubmed", MEDLINE_FILE), "rb") as f:
    data = f.read()
  (bad / "truncated.xml.gz").write_bytes(data[:len(data) // 2])
  (bad / "notxml.xml").write_text("this is not XML at all\n")
  (bad / "other.xml").write_text('<?xml version="1.0"?><rss><channel/></rss>\n')
  (tmp_path / "empty").mkdir()
  good = os.path.join(corpus_dir, "pubmed", "pubmed-29768149.xml")
  out = str(tmp_path / "out")
  result = _run_script("--input_file=%s,%s,%s" % (bad, tmp_path / "empty", good), "--output_dir=" + out,
                       "--num_workers=2")
  assert result.returncode == 0, result.stderr
  assert re.search(r"truncated\.xml\.gz: truncated file", result.stderr)
  assert re.search(r"notxml\.xml: not well-formed XML", result.stderr)
  assert re.search(r"other\.xml: unrecognised XML root element <rss>", result.stderr)
  assert re.search(r"empty: no \*\.xml", result.stderr)
  last = result.stdout.strip().splitlines()[-1]
  assert last.startswith("prepare_corpus: documents=1 ") and "unreadable_files=4" in last, last
  assert len(_read_documents(out)) == 1
  # Nothing convertible: exit 2, one error line naming a file, no output left behind.
  out2 = str(tmp_path / "out2")
  result = _run_script("--input_file=%s" % bad, "--output_dir=" + out2)
  assert result.returncode == 2
  error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(error_lines) == 1 and "no documents could be converted" in error_lines[0], result.stderr
  assert os.listdir(out2) == []
  result = _run_script("--input_file=%s" % (tmp_path / "empty"), "--output_dir=" + out2)
  assert result.returncode == 2 and "no input files found" in result.stderr
  # --strict: one unreadable file is fatal.
  result = _run_script("--input_file=%s,%s" % (bad / "notxml.xml", good), "--output_dir=" + out2, "--strict")
  assert result.returncode == 2 and "notxml.xml" in result.stderr and os.listdir(out2) == []


def test_does_not_import_tensorflow(corpus_dir, tmp_path):
  code = ("import sys, prepare_corpus, sentence_split; "
          "prepare_corpus.prepare(%r, %r); print('tensorflow' in sys.modules)"
          % (os.path.join(corpus_dir, "pmc_oa"), str(tmp_path / "o")))
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip().splitlines()[-1] == "False"


# ---------------------------------------------------------------------------------------------------------------
# The output feeds create_pretraining_data.py unchanged.


def test_output_feeds_create_pretraining_data(converted, minilm_dir, tmp_path):
  script = os.path.join(ROOT, "create_pretraining_data.py")
  if not os.path.exists(script):
    pytest.skip("create_pretraining_data.py is not in the project yet")
  out, summary = converted
  record = str(tmp_path / "pm.tfrecord")
  result = subprocess.run(
      [sys.executable, script, "--input_file=" + os.path.join(out, "corpus-*.txt"), "--output_file=" + record,
       "--vocab_file=" + os.path.join(minilm_dir, "vocab.txt"), "--do_lower_case=true", "--max_seq_length=128",
       "--max_predictions_per_seq=20", "--dupe_factor=1"],
      capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  match = re.search(r"Wrote (\d+) total instances", result.stdout + result.stderr)
  assert match and int(match.group(1)) > summary["documents"]
  assert os.path.getsize(record) > 0
