# coding=utf-8
# Copyright 2018 The Google AI Language Team Authors and DMIS-lab, Korea University.
#
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
"""Turns PubMed/MEDLINE XML and PMC Open Access full texts into BERT pre-training text.

Output: one sentence per line, a blank line between documents, in shards `<output_prefix>-00000.txt`, ... of about
`--shard_size_mb` each -- the input format of create_pretraining_data.py.

Inputs (`--input_file`: comma-separated files, directories and globs; directories are searched recursively):
  * PubMed/MEDLINE XML, plain or gzipped (`.xml`, `.xml.gz`; baseline and update files; the 2016
    `MedlineCitationSet` and the current `PubmedArticleSet` layouts). One document per citation: the title, then
    the abstract; a structured abstract's sections become "LABEL: text", each section starting a new sentence.
    Citations without an abstract are skipped (`--keep_title_only` keeps them). `DeleteCitation` removes every
    earlier record of its PMIDs. Each PMID yields one document, from its latest record: the highest `Version`,
    then the later file (files are taken in name order -- NCBI numbers update files after the baseline files), then
    the later record within a file.
  * PMC Open Access JATS XML (`.nxml`, a `pmc-articleset` of `article`s, or `.tar.gz` bulk packages of `.nxml`
    files, read member by member): the article title, abstract(s) and body paragraphs in document order. Section
    titles, tables, figures, formulas (an inline formula keeps its MathML text), footnotes, supplementary material,
    reference lists and all back matter are dropped, as are bibliographic citations: "[12]", superscript numbers,
    and parenthesised author-year groups "(Smith et al. 2005; ...)"; an author-year citation that is part of the
    running sentence ("as Smith et al. 2005 showed") keeps its text. Figure and table references ("Fig. 2") are
    prose and stay. Each PMCID yields one document (the latest, as above).

The format is recognised from the XML root element, not the file name. A file that cannot be read (truncated gzip,
not XML, XML of another schema) is reported on stderr with its name and skipped; the other files are still
converted and the summary counts what was skipped. Exit status: 0 when at least one document was written
(`--strict` makes any unreadable file an error instead), 2 with one `error:` line when nothing could be converted
or the flags are wrong. No shard is left half-written: shards are assembled under a temporary folder in
`--output_dir` and renamed at the end.

Memory: each worker streams its file (`iterparse`, clearing every finished citation), so it holds one citation
(or one article) at a time. The main process keeps ~20 bytes per record for de-duplication (about 0.7 GB for the
whole PubMed baseline; `--dedup=false` drops it).

The last line on stdout is a summary a script can parse:
  `prepare_corpus: documents=N sentences=N words=N shards=N skipped: ...`
"""

import collections
import glob
import gzip
import io
import json
import multiprocessing
import os
import re
import shutil
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
import zlib

from absl import flags
import numpy as np

import errors
import fileio
import sentence_split

FLAGS = flags.FLAGS


def define_flags(flag_values=FLAGS):
  """Defines the command-line flags. Called from `__main__` only, so importing this module defines none."""
  fv = flag_values
  flags.DEFINE_string(
      "input_file", None,
      "Comma-separated PubMed/MEDLINE XML (.xml, .xml.gz), PMC OA JATS (.nxml, .tar.gz bulk packages) files, "
      "directories (searched recursively for those extensions) or globs.", flag_values=fv)
  flags.DEFINE_string("output_dir", None, "Folder for the text shards (created if missing).", flag_values=fv)
  flags.DEFINE_string("output_prefix", "corpus", "Shards are named <output_prefix>-00000.txt, -00001.txt, ...",
                      flag_values=fv)
  flags.DEFINE_float(
      "shard_size_mb", 32.0,
      "Approximate size of one output shard in MB of UTF-8 text (a shard ends at the first document boundary past "
      "it). create_pretraining_data.py holds a whole input file in memory, so keep shards moderate.",
      flag_values=fv)
  flags.DEFINE_integer("num_workers", None, "Parallel worker processes (default: the number of CPUs).",
                       flag_values=fv)
  flags.DEFINE_bool("dedup", True, "Write one document per PMID / PMCID, from its latest record.", flag_values=fv)
  flags.DEFINE_bool("keep_title_only", False, "Also write PubMed citations that have a title but no abstract.",
                    flag_values=fv)
  flags.DEFINE_bool("strict", False, "Fail (exit 2, no output) if any input file cannot be read.", flag_values=fv)


# Record sources (namespaces for the de-duplication key).
SOURCE_PUBMED = 0
SOURCE_PMC = 1

# File names picked up when searching a directory.
_INPUT_SUFFIXES = (".xml", ".xml.gz", ".nxml", ".nxml.gz", ".tar.gz", ".tgz")
# Small files (single PMC articles) are converted in batches, so that a million of them do not make a million tasks.
_BATCH_FILE_MAX_BYTES = 2 << 20
_BATCH_MAX_FILES = 64
_BATCH_MAX_BYTES = 16 << 20
_TASKS_PER_WORKER = 4


class InputFileError(Exception):
  """An input file that cannot be converted (bad gzip, not XML, another schema); the message says why."""


def _local_name(tag):
  """`{namespace}name` -> `name`; processing instructions and comments have non-string tags."""
  if not isinstance(tag, str):
    return ""
  return tag.rsplit("}", 1)[-1]


# ---------------------------------------------------------------------------------------------------------------
# Text clean-up shared by both formats.

# Characters with no visible width that only get in the way of sentence splitting and tokenization.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"), None)
_WHITESPACE_RE = re.compile(r"\s+")


def normalize_text(text):
  """Collapses every run of whitespace (including no-break and thin spaces) to one space; drops soft hyphens."""
  return _WHITESPACE_RE.sub(" ", text.translate(_INVISIBLE)).strip()


def element_text(elem):
  """All text under `elem` (inline markup such as <sub>, <i> contributes its text), normalised."""
  if elem is None:
    return ""
  return normalize_text("".join(elem.itertext()))


# ---------------------------------------------------------------------------------------------------------------
# PubMed / MEDLINE.

_UNLABELLED = ("UNLABELLED", "UNASSIGNED", "UNLABELED")


def _pubmed_title(elem):
  """ArticleTitle text; a translated title comes in brackets ("[Title in English]."), which are removed."""
  title = element_text(elem)
  match = re.match(r"^\[(.*)\](\.?)$", title)
  if match and "[" not in match.group(1) and "]" not in match.group(1):
    title = match.group(1) + match.group(2)
  return title


def _pubmed_abstract_paragraphs(abstract):
  """One paragraph per AbstractText; a labelled section (structured abstract) becomes "LABEL: text"."""
  paragraphs = []
  if abstract is None:
    return paragraphs
  for section in abstract.findall("AbstractText"):
    text = element_text(section)
    if not text:
      continue
    label = normalize_text(section.get("Label") or "").rstrip(":").strip()
    if label and label.upper() not in _UNLABELLED:
      text = "%s: %s" % (label, text)
    paragraphs.append(text)
  return paragraphs


def _pmid_and_version(pmid_elem):
  """(PMID, Version) of a <PMID Version="n"> element; raises InputFileError when it is not a number."""
  if pmid_elem is None:
    raise InputFileError("a citation has no PMID")
  text = (pmid_elem.text or "").strip()
  version = (pmid_elem.get("Version") or "1").strip()
  if not text.isdigit() or not version.isdigit():
    raise InputFileError("bad PMID %r (Version %r)" % (text, version))
  return int(text), int(version)


Record = collections.namedtuple("Record", ["source", "key", "version", "paragraphs", "skip_reason"])
"""One citation or article. paragraphs: list of str (title first), or None with skip_reason set.
key: PMID / PMCID, or -1 when the article has no id (never de-duplicated). A deletion has paragraphs None and
skip_reason "delete"."""


def _citation_record(citation, keep_title_only):
  """Record for a MedlineCitation element."""
  pmid, version = _pmid_and_version(citation.find("PMID"))
  article = citation.find("Article")
  if article is None:
    return Record(SOURCE_PUBMED, pmid, version, None, "no_abstract")
  return _title_abstract_record(pmid, version, article.find("ArticleTitle"), article.find("Abstract"),
                                keep_title_only)


def _book_record(book_article, keep_title_only):
  """Record for a PubmedBookArticle (NCBI Bookshelf chapter or book)."""
  document = book_article.find("BookDocument")
  if document is None:
    raise InputFileError("a PubmedBookArticle has no BookDocument")
  pmid, version = _pmid_and_version(document.find("PMID"))
  title = document.find("ArticleTitle")
  if title is None:
    title = document.find("Book/BookTitle")
  return _title_abstract_record(pmid, version, title, document.find("Abstract"), keep_title_only)


def _title_abstract_record(pmid, version, title_elem, abstract_elem, keep_title_only):
  abstract = _pubmed_abstract_paragraphs(abstract_elem)
  if not abstract and not keep_title_only:
    return Record(SOURCE_PUBMED, pmid, version, None, "no_abstract")
  title = _pubmed_title(title_elem)
  paragraphs = ([title] if title else []) + abstract
  if not paragraphs:
    return Record(SOURCE_PUBMED, pmid, version, None, "no_abstract")
  return Record(SOURCE_PUBMED, pmid, version, paragraphs, None)


# ---------------------------------------------------------------------------------------------------------------
# PMC Open Access (JATS).

# Elements whose whole content is dropped (the tail text after them is kept).
_JATS_DROP = frozenset([
    "table-wrap", "table-wrap-group", "table", "fig", "fig-group", "graphic", "inline-graphic", "media",
    "disp-formula", "disp-formula-group", "chem-struct-wrap", "chem-struct", "tex-math", "alternatives-graphic",
    "supplementary-material", "ref-list", "ref", "fn-group", "fn", "table-wrap-foot", "back", "floats-group",
    "title", "label", "caption", "preformat", "code", "array", "glossary", "def-list", "sub-article", "response",
    "ack", "app-group", "notes", "object-id", "permissions", "attrib", "private-char", "processing-meta"])
# Elements that end the current paragraph before and after them.
_JATS_BLOCK = frozenset([
    "p", "sec", "list", "list-item", "disp-quote", "boxed-text", "statement", "speech", "verse-group",
    "verse-line", "abstract", "body", "trans-abstract"])
# xrefs whose text is not prose: footnote and affiliation markers.
_XREF_DROP = frozenset(["fn", "table-fn", "aff", "corresp", "author-notes", "other"])
# Abstracts that are not the article's summary in prose.
_ABSTRACT_TYPES_SKIPPED = frozenset(["graphical", "teaser", "toc", "web-summary"])
# Body sections that are not article prose.
_SEC_TYPES_SKIPPED = frozenset(["supplementary-material", "display-objects", "COI-statement", "author-contributions",
                                "funding-information", "data-availability", "ethics-statement", "abbreviations"])
_SEC_TITLES_SKIPPED = re.compile(
    r"^\s*(supplementary (materials?|information|data|files?)|supporting information|funding( sources?)?|"
    r"disclosures?|(statement of )?(competing|conflicts?|declaration) (of )?interests?( statement)?|"
    r"conflicts? of interest( statement)?|acknowledge?ments?|author(s'|'s|s)? contributions?|abbreviations|"
    r"authors'? information|availability of (data|supporting data)( and materials?)?|"
    r"data availability( statement)?|ethics statement|electronic supplementary material)\s*:?\s*$",
    re.IGNORECASE)

# Bibliographic citations are marked while rendering and resolved once the paragraph's text is known.
_CITE_OPEN = "\ue000"
_CITE_CLOSE = "\ue001"
_CITE_SPAN = _CITE_OPEN + "[^" + _CITE_CLOSE + "]*" + _CITE_CLOSE
# A run of citations joined by separators: "[1]-[5]", "1, 3", "Smith 2001; Jones 2002".
_CITE_RUN_RE = re.compile(_CITE_SPAN + r"(?:(?:\s*(?:[,;\u2013\u2014\-]|and|&)\s*)*" + _CITE_SPAN + ")*")
# Bracketed numeric citations joined by separators: "[1]-[5]", "[2], [3]" (removed as one).
_CITE_ITEM = r"(?:\[\s*" + _CITE_SPAN + r"\s*\]|" + _CITE_SPAN + ")"
_CITE_ITEM_RUN_RE = re.compile(r"\s*" + _CITE_ITEM + r"(?:(?:\s*(?:[,;\u2013\u2014\-]|and|&)\s*)*" + _CITE_ITEM + ")+")
# A bracketed group with no brackets inside.
_BRACKET_GROUP_RE = re.compile(r"\s*[\(\[][^\(\)\[\]]*[\)\]]")
# What may stay in a bracket group around citations for the whole group to count as a citation.
_CITE_FILLER_RE = re.compile(
    r"^(?:[\s,;:.\u2013\u2014\-]|\b(?:see|e\.g\.|cf\.|i\.e\.|and|reviewed in|for (?:a )?reviews?(?: see)?|"
    r"references?|refs?\.|ref|also|for example|among others)\b)*$", re.IGNORECASE)
_HAS_LETTER_RE = re.compile(r"[^\W\d_]")


def _resolve_citations(text):
  """Removes the bibliographic citations marked in `text`; keeps author-year ones that carry the sentence.

  A bracket group that holds nothing but citations (and words like "see", "e.g.") disappears with its leading
  space: "shown (Smith 2001; Jones 2002)." -> "shown.", "shown [1]-[3]." -> "shown.". Inside a group that also
  holds prose, the citations go: "(e.g. zebrafish; Lema 2007)" -> "(e.g. zebrafish)". Outside brackets numeric
  citations go ("Hartl and Taubes [9] found" -> "Hartl and Taubes found") and author-year ones stay as text.
  """
  if _CITE_OPEN not in text:
    return text

  def resolve_group(match):
    group = match.group(0)
    if _CITE_OPEN not in group:
      return group
    residual = _CITE_RUN_RE.sub("", group.strip()[1:-1])
    if _CITE_FILLER_RE.match(residual):
      return ""
    inner = _CITE_RUN_RE.sub("", group)
    inner = re.sub(r"([\(\[])\s*[,;]+\s*", r"\1", inner)
    inner = re.sub(r"\s*[,;]+\s*([\)\]])", r"\1", inner)
    return re.sub(r"\s+([,;])", r"\1", inner)

  def resolve_item_run(match):
    content = match.group(0).replace(_CITE_OPEN, "").replace(_CITE_CLOSE, "")
    # An empty marker stays, so that "(see [1]-[3])" is still recognised as a citation group below.
    return match.group(0) if _HAS_LETTER_RE.search(content) else _CITE_OPEN + _CITE_CLOSE

  text = _CITE_ITEM_RUN_RE.sub(resolve_item_run, text)
  # Innermost groups first, so "(see [1], [2])" is seen as one citation group once [1] and [2] are gone.
  previous = None
  while previous != text:
    previous = text
    text = _BRACKET_GROUP_RE.sub(resolve_group, text)

  def resolve_run(match):
    content = match.group(1).replace(_CITE_OPEN, "").replace(_CITE_CLOSE, "")
    if _HAS_LETTER_RE.search(re.sub(r"\band\b", "", content)):
      return match.group(0)  # author-year citation carrying the sentence: its text stays
    return ""

  text = re.sub(r"\s*(" + _CITE_RUN_RE.pattern + ")", resolve_run, text)
  text = text.replace(_CITE_OPEN, "").replace(_CITE_CLOSE, "")
  # Separators and brackets left over once citations are gone: "[[1], their figure 5]" -> "[their figure 5]".
  text = re.sub(r"([\(\[])\s*[,;]+\s*", r"\1", text)
  text = re.sub(r"\s*[,;]+\s*([\)\]])", r"\1", text)
  text = re.sub(r"\s*(?:\(\s*\)|\[\s*\])", "", text)
  return re.sub(r",\s*,", ",", text)


def _inline_formula_text(elem):
  """MathML text of an inline formula ("p<0.05"); TeX and images give nothing."""
  for node in elem.iter():
    if _local_name(node.tag) == "math":
      return "".join(node.itertext())
  if any(_local_name(node.tag) in ("tex-math", "inline-graphic", "graphic") for node in elem.iter()):
    return ""
  return "".join(elem.itertext())


class _ParagraphCollector(object):
  """Renders a JATS subtree into paragraphs of plain text (see _JATS_DROP / _JATS_BLOCK)."""

  def __init__(self):
    self.paragraphs = []
    self._buffer = []

  def flush(self):
    text = normalize_text(_resolve_citations("".join(self._buffer)))
    self._buffer = []
    if text and any(ch.isalnum() for ch in text):
      self.paragraphs.append(text)

  def render(self, elem):
    """Adds the text of `elem` (not its tail)."""
    tag = _local_name(elem.tag)
    if not tag or tag in _JATS_DROP:
      return
    if tag == "sec" and _skipped_section(elem):
      return
    if tag == "xref":
      self._render_xref(elem)
      return
    if tag == "inline-formula":
      self._buffer.append(_inline_formula_text(elem))
      return
    if tag == "break":
      self._buffer.append(" ")
      return
    block = tag in _JATS_BLOCK
    if block:
      self.flush()
    if elem.text:
      self._buffer.append(elem.text)
    for child in elem:
      self.render(child)
      if child.tail:
        self._buffer.append(child.tail)
    if block:
      self.flush()

  def _render_xref(self, elem):
    ref_type = elem.get("ref-type")
    if ref_type in _XREF_DROP:
      return
    text = "".join(elem.itertext())
    if ref_type == "bibr":
      self._buffer.append(_CITE_OPEN + text.replace(_CITE_OPEN, "").replace(_CITE_CLOSE, "") + _CITE_CLOSE)
    else:
      self._buffer.append(text)


def _skipped_section(sec):
  if (sec.get("sec-type") or "") in _SEC_TYPES_SKIPPED:
    return True
  title = sec.find("title")
  return title is not None and bool(_SEC_TITLES_SKIPPED.match("".join(title.itertext())))


def _jats_abstract_paragraphs(abstract):
  """Paragraphs of one <abstract>; a section's first paragraph is prefixed with its title ("Background: ...")."""
  sections = [child for child in abstract if _local_name(child.tag) == "sec"]
  if not sections:
    collector = _ParagraphCollector()
    collector.render(abstract)
    return collector.paragraphs
  paragraphs = []
  for child in abstract:
    collector = _ParagraphCollector()
    collector.render(child)
    if not collector.paragraphs:
      continue
    label = element_text(child.find("title")) if _local_name(child.tag) == "sec" else ""
    label = label.rstrip(":").strip()
    if label:
      collector.paragraphs[0] = "%s: %s" % (label, collector.paragraphs[0])
    paragraphs.extend(collector.paragraphs)
  return paragraphs


def _pmcid(article_meta):
  for article_id in article_meta.findall("article-id"):
    if article_id.get("pub-id-type") in ("pmc", "pmcid"):
      digits = re.sub(r"^PMC", "", (article_id.text or "").strip(), flags=re.IGNORECASE)
      if digits.isdigit():
        return int(digits)
  return -1


def article_record(article):
  """Record for a JATS <article> element: title, abstract(s), body paragraphs."""
  meta = article.find("front/article-meta")
  if meta is None:
    raise InputFileError("a JATS <article> has no front/article-meta")
  paragraphs = []
  title = element_text(meta.find("title-group/article-title"))
  subtitle = element_text(meta.find("title-group/subtitle"))
  if title and subtitle:
    title = "%s: %s" % (title.rstrip(":"), subtitle)
  if title:
    paragraphs.append(title)
  for abstract in meta.findall("abstract"):
    if (abstract.get("abstract-type") or "") not in _ABSTRACT_TYPES_SKIPPED:
      paragraphs.extend(_jats_abstract_paragraphs(abstract))
  body = article.find("body")
  if body is not None:
    collector = _ParagraphCollector()
    collector.render(body)
    paragraphs.extend(collector.paragraphs)
  key = _pmcid(meta)
  if len(paragraphs) <= (1 if title else 0):
    return Record(SOURCE_PMC, key, 1, None, "no_text")
  return Record(SOURCE_PMC, key, 1, paragraphs, None)


# ---------------------------------------------------------------------------------------------------------------
# Reading one input file.

_PUBMED_ROOTS = ("MedlineCitationSet", "PubmedArticleSet", "PubmedBookArticleSet")


def maybe_gunzip(raw):
  """`raw` (a buffered binary stream), gunzipped on the fly when it starts with the gzip magic number."""
  if raw.peek(2)[:2] == b"\x1f\x8b":
    return gzip.GzipFile(fileobj=raw, mode="rb")
  return raw


def iter_xml_records(stream, keep_title_only=False):
  """Yields Records from one XML stream (PubMed/MEDLINE set, JATS article or pmc-articleset).

  Streams with iterparse and clears each finished top-level element, so memory stays at one citation/article.
  Raises InputFileError for XML of another schema; ET.ParseError / EOFError / OSError come through from reading.
  """
  depth = 0
  root = None
  kind = None
  for event, elem in ET.iterparse(stream, events=("start", "end")):
    if event == "start":
      if root is None:
        root = elem
        name = _local_name(elem.tag)
        if name in _PUBMED_ROOTS:
          kind = "pubmed"
        elif name == "article":
          kind = "article"
        elif name == "pmc-articleset":
          kind = "articleset"
        else:
          raise InputFileError(
              "unrecognised XML root element <%s> (expected MedlineCitationSet or PubmedArticleSet for "
              "PubMed, article or pmc-articleset for PMC JATS)" % name)
      depth += 1
      continue
    depth -= 1
    if kind == "article":
      if depth == 0:
        yield article_record(elem)
      continue
    if depth != 1:
      continue
    name = _local_name(elem.tag)
    if kind == "articleset":
      if name == "article":
        yield article_record(elem)
    elif name == "PubmedArticle":
      citation = elem.find("MedlineCitation")
      if citation is None:
        raise InputFileError("a PubmedArticle has no MedlineCitation")
      yield _citation_record(citation, keep_title_only)
    elif name == "MedlineCitation":
      yield _citation_record(elem, keep_title_only)
    elif name == "PubmedBookArticle":
      yield _book_record(elem, keep_title_only)
    elif name in ("DeleteCitation", "DeleteDocument"):
      for pmid_elem in elem.iter("PMID"):
        pmid, version = _pmid_and_version(pmid_elem)
        yield Record(SOURCE_PUBMED, pmid, version, None, "delete")
    root.clear()  # the finished citation and everything before it
  if root is None:
    raise InputFileError("empty file")


def _describe_read_error(exc):
  """One readable phrase for an exception raised while reading an input file."""
  if isinstance(exc, InputFileError):
    return str(exc)
  if isinstance(exc, ET.ParseError):
    return "not well-formed XML (%s)" % exc
  if isinstance(exc, EOFError):
    return "truncated file (%s)" % (exc or "unexpected end of data")
  if isinstance(exc, (gzip.BadGzipFile, zlib.error)):
    return "corrupt gzip data (%s)" % exc
  if isinstance(exc, tarfile.TarError):
    return "corrupt tar archive (%s)" % exc
  if isinstance(exc, UnicodeError):
    return "undecodable text (%s)" % exc
  return "%s: %s" % (type(exc).__name__, exc)


_READ_ERRORS = (InputFileError, ET.ParseError, EOFError, OSError, zlib.error, tarfile.TarError, UnicodeError)


# ---------------------------------------------------------------------------------------------------------------
# Converting one task (one large file, or a batch of single-article files) into a temporary text file.

# Codes in the per-record `doc` column: a document ordinal (>= 0) in the task's text file, or one of these.
_NO_TEXT = -1
_DELETE = -2
_SKIP_REASONS = ("no_abstract", "no_text")

Task = collections.namedtuple("Task", ["index", "paths", "text_path", "keep_title_only"])

TaskResult = collections.namedtuple("TaskResult", ["index", "text_path", "columns", "unreadable"])
"""columns: dict of numpy arrays, one row per record in file order (source, key, version, doc, sentences, words,
reason); unreadable: list of (path, reason) for inputs whose records were all discarded."""


def document_lines(paragraphs):
  """The output lines of one document: the sentences of each paragraph, in order."""
  lines = []
  for paragraph in paragraphs:
    lines.extend(sentence_split.split_sentences(paragraph))
  return lines


def _archive_members(path):
  """Yields (member name, binary stream) for the XML members of a .tar.gz/.tgz/.tar PMC package, streaming."""
  with tarfile.open(path, mode="r|*") as archive:
    for member in archive:
      if member.isfile() and member.name.endswith((".nxml", ".xml", ".nxml.gz", ".xml.gz")):
        yield member.name, archive.extractfile(member)


def _is_archive(path):
  return path.endswith((".tar.gz", ".tgz", ".tar"))


class _TaskWriter(object):
  """Writes documents to a task's text file and keeps one row of bookkeeping per record."""

  def __init__(self, out, keep_title_only):
    self._out = out
    self._keep_title_only = keep_title_only
    self.rows = []  # (source, key, version, doc, sentences, words, reason)
    self.documents = 0

  def mark(self):
    return self._out.tell(), len(self.rows), self.documents

  def rollback(self, mark):
    """Forgets everything written since `mark` (a file that turned out to be unreadable)."""
    position, rows, documents = mark
    self._out.seek(position)
    self._out.truncate()
    del self.rows[rows:]
    self.documents = documents

  def add_stream(self, stream):
    for record in iter_xml_records(maybe_gunzip(stream), self._keep_title_only):
      self.add(record)

  def add(self, record):
    if record.skip_reason == "delete":
      self.rows.append((record.source, record.key, record.version, _DELETE, 0, 0, 0))
      return
    lines = document_lines(record.paragraphs) if record.paragraphs else []
    if not lines:
      reason = record.skip_reason or ("no_abstract" if record.source == SOURCE_PUBMED else "no_text")
      self.rows.append((record.source, record.key, record.version, _NO_TEXT, 0, 0, _SKIP_REASONS.index(reason)))
      return
    words = sum(len(line.split()) for line in lines)
    self._out.write(("\n".join(lines) + "\n\n").encode("utf-8"))
    self.rows.append((record.source, record.key, record.version, self.documents, len(lines), words, 0))
    self.documents += 1


def convert_task(task):
  """Converts every input of `task` into `task.text_path`; returns a TaskResult. Runs in a worker process."""
  unreadable = []
  with open(task.text_path, "wb") as out:
    writer = _TaskWriter(out, task.keep_title_only)
    for path in task.paths:
      mark = writer.mark()
      try:
        if _is_archive(path):
          for name, member in _archive_members(path):
            member_mark = writer.mark()
            try:
              writer.add_stream(member if hasattr(member, "peek") else io.BufferedReader(member))
            except _READ_ERRORS as e:
              if isinstance(e, (EOFError, tarfile.TarError)):
                raise  # the archive itself is broken
              writer.rollback(member_mark)
              unreadable.append(("%s:%s" % (path, name), _describe_read_error(e)))
        else:
          with open(path, "rb") as raw:
            writer.add_stream(raw)
      except _READ_ERRORS as e:
        writer.rollback(mark)
        unreadable.append((path, _describe_read_error(e)))
  rows = writer.rows
  columns = {
      "source": np.array([r[0] for r in rows], dtype=np.uint8),
      "key": np.array([r[1] for r in rows], dtype=np.int64),
      "version": np.array([r[2] for r in rows], dtype=np.int32),
      "doc": np.array([r[3] for r in rows], dtype=np.int32),
      "sentences": np.array([r[4] for r in rows], dtype=np.int32),
      "words": np.array([r[5] for r in rows], dtype=np.int32),
      "reason": np.array([r[6] for r in rows], dtype=np.uint8),
  }
  return TaskResult(task.index, task.text_path, columns, unreadable)


# ---------------------------------------------------------------------------------------------------------------
# De-duplication: which documents survive.

_WRITTEN, _SUPERSEDED, _DELETED, _WITHOUT_TEXT, _DELETION = range(5)


def resolve_records(results, dedup=True):
  """Decides the fate of every record of every task (in task order).

  A DeleteCitation removes every earlier record of its PMID. Of the records left for a PMID/PMCID, the one with
  the highest version wins, then the later one (later task, later in the file). A winner without text writes
  nothing. Records without an id (key < 0) are never de-duplicated.

  Returns:
    (statuses, offsets): statuses is one int8 array over all records (task after task) of _WRITTEN,
    _SUPERSEDED, _DELETED, _WITHOUT_TEXT or _DELETION; offsets[i] is where task i's records start in it.
  """
  counts = [len(result.columns["doc"]) for result in results]
  offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
  total = int(offsets[-1])

  def column(name):
    if not results:
      return np.zeros(0, dtype=np.int64)
    return np.concatenate([result.columns[name] for result in results])

  source, key, version, doc = column("source"), column("key"), column("version"), column("doc")
  task = np.repeat(np.arange(len(results), dtype=np.int64), counts)
  position = (task << 32) + (np.arange(total, dtype=np.int64) - offsets[task])
  deletion = doc == _DELETE

  status = np.where(doc >= 0, _WRITTEN, _WITHOUT_TEXT).astype(np.int8)
  status[deletion] = _DELETION
  keyed = np.flatnonzero(key >= 0) if dedup else np.zeros(0, dtype=np.int64)
  if dedup and keyed.size:
    order = keyed[np.lexsort((position[keyed], key[keyed], source[keyed]))]
    s_source, s_key, s_pos, s_del = source[order], key[order], position[order], deletion[order]
    starts = np.flatnonzero(np.concatenate([[True], (s_source[1:] != s_source[:-1]) | (s_key[1:] != s_key[:-1])]))
    is_start = np.zeros(order.size, dtype=bool)
    is_start[starts] = True
    group = np.cumsum(is_start) - 1
    last_deletion = np.maximum.reduceat(np.where(s_del, s_pos, -1), starts)[group]
    records = ~s_del
    killed = records & (s_pos < last_deletion)
    status[order[killed]] = _DELETED
    alive = np.flatnonzero(records & ~killed)
    if alive.size:
      # The winner of each group: the highest version, then the latest position.
      ranked = alive[np.lexsort((s_pos[alive], version[order[alive]], group[alive]))]
      is_last = np.concatenate([group[ranked][1:] != group[ranked][:-1], [True]])
      losers = order[ranked[~is_last]]
      status[losers] = _SUPERSEDED
  return status, offsets


# ---------------------------------------------------------------------------------------------------------------
# Writing the shards.


class _ShardWriter(object):
  """Writes documents into <prefix>-00000.txt, ... under `folder`, starting a new shard past `max_bytes`."""

  def __init__(self, folder, prefix, max_bytes):
    self._folder = folder
    self._prefix = prefix
    self._max_bytes = max_bytes
    self._out = None
    self._bytes = 0
    self.names = []

  def write(self, document):
    if self._out is None or self._bytes >= self._max_bytes:
      self._start_shard()
    self._out.write(document)
    self._bytes += len(document)

  def _start_shard(self):
    if self._out is not None:
      self._out.close()
    name = "%s-%05d.txt" % (self._prefix, len(self.names))
    self.names.append(name)
    self._out = open(os.path.join(self._folder, name), "wb")
    self._bytes = 0

  def close(self):
    if self._out is not None:
      self._out.close()
      self._out = None


def _iter_documents(text_path):
  """Yields the documents of a task's text file (bytes, each ending with its blank line), in order."""
  lines = []
  with open(text_path, "rb") as f:
    for line in f:
      if line == b"\n":
        if lines:
          lines.append(line)
          yield b"".join(lines)
          lines = []
      else:
        lines.append(line)
  if lines:
    yield b"".join(lines) + b"\n"


def write_shards(results, status, offsets, folder, prefix, max_bytes):
  """Copies the surviving documents of every task, in task order, into shards; returns the shard names."""
  shards = _ShardWriter(folder, prefix, max_bytes)
  try:
    for i, result in enumerate(results):
      task_status = status[offsets[i]:offsets[i + 1]]
      docs = result.columns["doc"]
      keep = np.zeros(int(docs.max()) + 1 if docs.size and docs.max() >= 0 else 0, dtype=bool)
      written = docs[task_status == _WRITTEN]
      keep[written] = True
      for ordinal, document in enumerate(_iter_documents(result.text_path)):
        if keep[ordinal]:
          shards.write(document)
  finally:
    shards.close()
  return shards.names


# ---------------------------------------------------------------------------------------------------------------
# Inputs and the command line.


def _natural_key(path):
  """Sort key: file name with embedded numbers compared as numbers, then the full path."""
  name = os.path.basename(path)
  return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)], path


def _has_input_suffix(name):
  return name.endswith(_INPUT_SUFFIXES)


def expand_inputs(spec):
  """Comma-separated files / directories / globs -> (sorted unique file paths, list of (item, problem))."""
  files = set()
  problems = []
  for item in fileio.split_patterns(spec):
    matches = fileio.match_pattern(item)
    if not matches:
      problems.append((item, "no such file or directory" if not glob.has_magic(item) else "the pattern matches "
                       "nothing"))
      continue
    found = 0
    for match in matches:
      if os.path.isdir(match):
        for root, dirs, names in os.walk(match):
          dirs.sort()
          for name in names:
            if _has_input_suffix(name) and not name.startswith("."):
              files.add(os.path.join(root, name))
              found += 1
      else:
        files.add(match)
        found += 1
    if not found:
      problems.append((item, "no %s files in it" % "/".join("*" + suffix for suffix in _INPUT_SUFFIXES)))
  return sorted(files, key=_natural_key), problems


def make_tasks(paths, work_dir, keep_title_only, num_workers=1):
  """Groups the inputs (in order) into tasks: each large file or package alone, runs of small files in batches.

  Batches save the per-task overhead on many tiny files (PMC articles), but are kept small enough that there are
  several tasks per worker, so a handful of small files still spreads over all workers.
  """
  tasks = []
  batch, batch_bytes = [], 0
  files_per_batch = max(1, min(_BATCH_MAX_FILES, len(paths) // (_TASKS_PER_WORKER * max(1, num_workers))))

  def add(group):
    index = len(tasks)
    tasks.append(Task(index, tuple(group), os.path.join(work_dir, "task-%07d.txt" % index), keep_title_only))

  for path in paths:
    size = os.path.getsize(path) if os.path.exists(path) else 0
    if not _is_archive(path) and size <= _BATCH_FILE_MAX_BYTES:
      if batch and (len(batch) >= files_per_batch or batch_bytes + size > _BATCH_MAX_BYTES):
        add(batch)
        batch, batch_bytes = [], 0
      batch.append(path)
      batch_bytes += size
    else:
      if batch:
        add(batch)
        batch, batch_bytes = [], 0
      add([path])
  if batch:
    add(batch)
  return tasks


def _run_tasks(tasks, num_workers):
  """Runs convert_task over `tasks` (in a process pool when num_workers > 1); returns results in task order."""
  results = [None] * len(tasks)
  documents = 0
  progress = fileio.progress_bar(total=len(tasks), unit="task", desc="prepare_corpus")

  def collect(result):
    nonlocal documents
    results[result.index] = result
    documents += int((result.columns["doc"] >= 0).sum())
    for path, reason in result.unreadable:
      progress.write("warning: skipped %s: %s" % (path, reason), file=sys.stderr)
    progress.set_postfix(documents=documents, refresh=False)
    progress.update(1)

  try:
    if num_workers <= 1 or len(tasks) <= 1:
      for task in tasks:
        collect(convert_task(task))
    else:
      with multiprocessing.get_context("fork").Pool(min(num_workers, len(tasks)),
                                                    initializer=errors.init_worker_process) as pool:
        for result in pool.imap_unordered(convert_task, tasks, chunksize=1):
          collect(result)
  finally:
    progress.close()
  return results


def summarize(results, status, offsets, shard_names, input_problems):
  """Counts for the summary line and the summary JSON."""
  sentences = np.concatenate([r.columns["sentences"] for r in results]) if results else np.zeros(0)
  words = np.concatenate([r.columns["words"] for r in results]) if results else np.zeros(0)
  reason = np.concatenate([r.columns["reason"] for r in results]) if results else np.zeros(0)
  written = status == _WRITTEN
  without_text = status == _WITHOUT_TEXT
  unreadable = [(path, why) for r in results for path, why in r.unreadable] + list(input_problems)
  return collections.OrderedDict([
      ("documents", int(written.sum())),
      ("sentences", int(sentences[written].sum())),
      ("words", int(words[written].sum())),
      ("shards", len(shard_names)),
      ("skipped", collections.OrderedDict([
          ("no_abstract", int((without_text & (reason == _SKIP_REASONS.index("no_abstract"))).sum())),
          ("no_text", int((without_text & (reason == _SKIP_REASONS.index("no_text"))).sum())),
          ("deleted", int((status == _DELETED).sum())),
          ("superseded", int((status == _SUPERSEDED).sum())),
          ("unreadable_files", len(unreadable)),
      ])),
      ("deletions_read", int((status == _DELETION).sum())),
      ("unreadable", [collections.OrderedDict([("path", p), ("reason", why)]) for p, why in unreadable]),
      ("shard_files", shard_names),
  ])


def summary_line(summary):
  skipped = " ".join("%s=%d" % item for item in summary["skipped"].items())
  return "prepare_corpus: documents=%d sentences=%d words=%d shards=%d skipped: %s deletions_read=%d" % (
      summary["documents"], summary["sentences"], summary["words"], summary["shards"], skipped,
      summary["deletions_read"])


def prepare(input_spec, output_dir, output_prefix="corpus", shard_size_mb=32.0, num_workers=1, dedup=True,
            keep_title_only=False, strict=False):
  """Runs the whole conversion; returns the summary dict. Raises errors.UserError when nothing can be written."""
  if not re.match(r"^[\w.\-]+$", output_prefix or ""):
    raise errors.UserError("--output_prefix must be a plain file-name prefix, got %r" % output_prefix)
  errors.check_range("shard_size_mb", shard_size_mb, ">0")
  errors.check_range("num_workers", num_workers, ">=1")
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise errors.UserError("--output_dir %s exists and is not a directory" % output_dir)
  paths, problems = expand_inputs(input_spec)
  fileio.refuse_overwriting_inputs(output_dir, paths)
  for item, why in problems:
    sys.stderr.write("warning: --input_file item %s: %s\n" % (item, why))
  if not paths:
    raise errors.UserError("--input_file %s: no input files found (%s)" % (
        input_spec, "; ".join("%s: %s" % p for p in problems) or "empty list"))
  if strict and problems:
    raise errors.UserError("--input_file item %s: %s (--strict)" % problems[0])

  try:
    os.makedirs(output_dir, exist_ok=True)
    fileio.remove_stale_temp_files(output_dir, tensorflow_temps=False)  # the work folders of killed runs
    work_dir = os.path.join(output_dir, ".%s.partial-%d" % (output_prefix, os.getpid()))
    shard_dir = os.path.join(work_dir, "shards")
    os.makedirs(shard_dir)
  except OSError as e:
    raise errors.UserError("--output_dir %s: cannot write there: %s" % (output_dir, e.strerror or e)) from None
  try:
    return _prepare_in(work_dir, shard_dir, paths, problems, input_spec, output_dir, output_prefix, shard_size_mb,
                       num_workers, dedup, keep_title_only, strict)
  except OSError as e:
    # A full disk or a folder that stopped being writable: one line; the work folder goes below.
    if getattr(e, "filename", None) in paths:
      raise errors.UserError("input file %s: %s" % (e.filename, e.strerror or e)) from None
    raise errors.UserError("--output_dir %s: cannot write the shards: %s" % (output_dir, e.strerror or e)) from None
  finally:
    shutil.rmtree(work_dir, ignore_errors=True)


def _prepare_in(work_dir, shard_dir, paths, problems, input_spec, output_dir, output_prefix, shard_size_mb,
                num_workers, dedup, keep_title_only, strict):
  """`prepare` inside its work folder: convert, resolve, write the shards there, then publish them."""
  tasks = make_tasks(paths, work_dir, keep_title_only, num_workers)
  results = _run_tasks(tasks, num_workers)
  unreadable = [item for r in results for item in r.unreadable]
  if strict and unreadable:
    raise errors.UserError("%s: %s (--strict)" % unreadable[0])
  status, offsets = resolve_records(results, dedup=dedup)
  shard_names = write_shards(results, status, offsets, shard_dir, output_prefix,
                             int(shard_size_mb * (1 << 20)))
  summary = summarize(results, status, offsets, shard_names, problems)
  if not shard_names:
    what = "; ".join("%s: %s" % item for item in (unreadable + problems)[:3])
    raise errors.UserError("no documents could be converted from --input_file %s%s" % (
        input_spec, " (" + what + ")" if what else " (no record has text)"))
  summary_path = os.path.join(shard_dir, "%s-summary.json" % output_prefix)
  with open(summary_path, "w", encoding="utf-8") as f:
    json.dump(summary, f, indent=1, ensure_ascii=False)
    f.write("\n")
  # Publish: shards first, then the summary; then drop stale shards of an earlier, larger run.
  for name in shard_names + ["%s-summary.json" % output_prefix]:
    os.replace(os.path.join(shard_dir, name), os.path.join(output_dir, name))
  stale_re = re.compile(r"^%s-(\d{5,})\.txt$" % re.escape(output_prefix))
  for name in os.listdir(output_dir):
    match = stale_re.match(name)
    if match and int(match.group(1)) >= len(shard_names):
      os.remove(os.path.join(output_dir, name))
  return summary


def main(argv):
  del argv
  for name in ("input_file", "output_dir"):
    if not getattr(FLAGS, name):
      raise errors.UserError("--%s is required" % name)
  errors.check_ranges(FLAGS, {"shard_size_mb": ">0", "num_workers": ">=1"})
  num_workers = FLAGS.num_workers or os.cpu_count() or 1
  start = time.time()
  summary = prepare(FLAGS.input_file, FLAGS.output_dir, FLAGS.output_prefix, FLAGS.shard_size_mb, num_workers,
                    FLAGS.dedup, FLAGS.keep_title_only, FLAGS.strict)
  elapsed = time.time() - start
  sys.stderr.write("Wrote %d shard(s) to %s in %.1f s (%.0f words/s)\n" % (
      summary["shards"], FLAGS.output_dir, elapsed, summary["words"] / max(elapsed, 1e-9)))
  sys.stdout.write(summary_line(summary) + "\n")
  sys.stdout.flush()


if __name__ == "__main__":
  define_flags()
  errors.run_main(main)
