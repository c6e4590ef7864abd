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
"""Rule-based sentence splitter for biomedical prose (PubMed abstracts, PMC full texts). No dependencies.

`split_sentences(paragraph)` returns the sentences of one paragraph; paragraph ends are always sentence ends, so
callers split each paragraph (abstract section, body <p>) separately.

A sentence may end only at a space that follows ".", "?" or "!" (possibly followed by closing quotes or brackets),
and only outside an open parenthesis or bracket (citations like "[Fisher, J. F. (2005) Chem. Rev. 105, 395]" stay
whole). Whether it does end there depends on the word before the period and on the token after the space:

  * "?" / "!": a boundary unless the next token starts in lower case.
  * Abbreviations that are never sentence-final in this prose ("e.g.", "i.e.", "vs.", "cf.", "et al.", "Fig.",
    "No.", "approx.", "ca.", "Dr.", "St.", ...): never a boundary.
  * Abbreviations that may end a sentence ("etc.", "spp.", "sp.", "Inc.", "Ltd.", dotted lower-case forms such as
    "s.l.", "a.m."): a boundary only before a capitalised word ("Leishmania spp. The" splits, "Leishmania spp.
    DNA was" -- an acronym after a taxon -- and "Co. (St. Louis" do not).
  * A single capital letter ("E.", "J."): before a lower-case word it is a genus or initial ("E. coli"); before a
    capitalised word it ends the sentence ("vitamin D. The", "Escherichia coli C. We", "257.76 N. Flexing")
    unless it is one of a run of initials ("R. A. Fisher"), opens a name after a heading or "by"
    ("SETTING: S. Fyodorov Eye ..."), is a middle initial (a capitalised word before that is not a label like
    "Group"/"Hepatitis", a capitalised word after that is not a usual sentence opener: "John A. Moran"), or
    precedes a parenthesised subgenus ("S. (Chirostilbia)").
  * Upper-case dotted initials ("G.B. Bietti") are not sentence ends; "U.S." and "U.K." may be.
  * A list number at the start of a paragraph or after ":", ";" or a sentence end ("5. Specific complaints") is
    not a sentence end; a number after "Fig."/"Table" or inside a sentence ("was 25. The", "~ 0.2. 200 uL") is.
  * Any other word: a boundary before a capitalised word, a digit ("A550 ~ 0.2. 200 uL of cells"), or a
    lower-case-initial biomedical token carrying capitals or digits ("mRNA", "p53", "mpMRI", "qPCR"); not before
    an ordinary lower-case word ("E. coli. coli" cannot happen; "approx. mRNA" is an abbreviation).

Measured against a hand-annotated sample of real MEDLINE abstracts and PMC paragraphs
(tests/data/sentence_boundaries_gold.jsonl, 427 boundaries): see tests/test_prepare_corpus.py.
"""

import re

# Never the last word of a sentence in scientific prose (compared lower-cased, without the final period).
_NON_FINAL_ABBREVIATIONS = frozenset("""
e.g eg i.e ie vs v cf c.f viz al approx ca circa fig figs eq eqs ref refs no nos nr vol vols p pp tab tabs
suppl supp chap sect wt mol dr drs mr mrs ms prof st mt jan feb apr jun jul aug sept oct incl cit op
""".split())
# May end a sentence: a boundary only before a capitalised word.
_MAY_END_ABBREVIATIONS = frozenset("""
etc spp sp ssp subsp var cv inc ltd co corp jr sr u.s u.k u.s.a ed eds
""".split())
# Taxon abbreviations, after which an acronym ("spp. DNA") continues the sentence.
_TAXON_ABBREVIATIONS = frozenset(["spp", "sp", "ssp", "subsp", "var", "cv"])
# Abbreviations that introduce a number: "Fig. 3. The" ends a sentence even though "3." looks like a list item.
_NUMBER_INTRODUCERS = frozenset(["fig", "figs", "no", "nos", "eq", "eqs", "ref", "refs", "vol", "p", "pp", "tab",
                                 "table", "figure", "step", "group", "chapter", "section", "lane", "day", "week",
                                 "experiment", "patient", "case", "type", "grade", "stage", "phase", "class"])
# Words after which a single capital letter is an initial of a name.
_NAME_INTRODUCERS = frozenset(["by", "dr.", "prof.", "mr.", "mrs.", "ms.", "drs."])
# Capitalised words that a single letter labels ("Group B", "Hepatitis C", "Protein C"): not first names.
_LETTER_LABELLED = frozenset("""
group groups type types class grade stage phase arm panel lane figure fig table vitamin hepatitis protein
kinase factor complex region zone area site point site cohort phase chain strain line form influenza subtype
serotype serogroup genotype domain loop helix segment level category score trial study section part appendix
""".split())
# Words that commonly open a sentence; after "Name X." they signal a boundary, not a surname.
_SENTENCE_OPENERS = frozenset("""
the this these that those there their they then thus therefore however in on at as an a our we it its of for
from to with without when while where whereas although though because since after before during both each all
most many several some no none one two three four five six seven eight nine ten further furthermore moreover
additionally also finally first second third here similarly overall taken using based compared patients
results data mice cells such only other another if given despite between among following increased decreased
no not neither either nevertheless nonetheless hence consequently accordingly indeed notably interestingly
importantly collectively together conversely instead likewise subsequently recently previously currently
""".split())
# Company-name endings after "Co.", "Inc." that continue the name ("GmbH and Co. KG").
_COMPANY_SUFFIXES = frozenset(["kg", "kgaa", "llc", "lp", "ag", "gmbh", "ltd", "inc", "plc", "sa", "bv", "nv"])
_COMPANY_ABBREVIATIONS = frozenset(["co", "inc", "ltd", "corp"])

_OPENERS = "([{\"'\u201c\u2018\u00ab"
_CLOSERS = ")]}\"'\u201d\u2019\u00bb"
_OPEN_BRACKETS = "(["
_CLOSE_BRACKETS = ")]"

# A space after terminal punctuation (and any closing quotes/brackets, and a period after them).
_CANDIDATE_RE = re.compile(r"[.?!][" + re.escape(_CLOSERS) + r"]*\.?(?= )")
_BRACKET_RE = re.compile(r"[\(\)\[\]]")
# A lower-case-initial token that is a biomedical name rather than an ordinary word: mRNA, p53, iNOS, mpMRI.
_LOWER_BIOMED_RE = re.compile(r"^[^\W\d_](?:[^\W_]|-)*?[A-Z0-9]")
_SMALL_NUMBER_RE = re.compile(r"^\d{1,2}$")
_INITIAL_RE = re.compile(r"^[^\W\d_]\.$")
_UPPER_DOTTED_RE = re.compile(r"^(?:[A-Z]\.)+[A-Z]$")
_LOWER_DOTTED_RE = re.compile(r"^(?:[a-z]{1,3}\.)+[a-z]{1,3}$")
_ALL_CAPS_RE = re.compile(r"^[A-Z0-9\-]{2,}$")
# An unclosed bracket further back than this is taken for a stray one and no longer blocks boundaries.
_MAX_BRACKET_SPAN = 400


def split_sentences(text):
  """Splits one paragraph (whitespace already collapsed to single spaces) into a list of sentences."""
  text = text.strip()
  if not text:
    return []
  sentences = []
  start = 0
  open_brackets = []  # positions of unclosed "(" / "["
  scanned = 0
  for match in _CANDIDATE_RE.finditer(text):
    end = match.end()  # the space after the candidate token
    for bracket in _BRACKET_RE.finditer(text, scanned, end):
      if bracket.group() in _OPEN_BRACKETS:
        open_brackets.append(bracket.start())
      elif open_brackets:
        open_brackets.pop()
    scanned = end
    if open_brackets and end - open_brackets[-1] < _MAX_BRACKET_SPAN:
      continue
    token_start = text.rfind(" ", 0, end) + 1
    before = None
    if token_start > 0:
      before = text[text.rfind(" ", 0, token_start - 1) + 1:token_start - 1]
    next_end = text.find(" ", end + 1)
    following = text[end + 1:next_end if next_end >= 0 else len(text)]
    if _is_boundary(text[token_start:end], before, following):
      sentences.append(text[start:end])
      start = end + 1
  sentences.append(text[start:])
  return [s for s in sentences if s]


def _starts_capitalised(token):
  """True for "The", "(A", "\u201cWhich", "\u03a6X174": a capital letter after any opening quotes/brackets."""
  core = token.lstrip(_OPENERS)
  return bool(core) and core[0].isalpha() and core[0].isupper()


def _starts_with_digit(token):
  core = token.lstrip(_OPENERS)
  return bool(core) and core[0].isdigit()


def _is_boundary(token, before, following):
  """Whether a sentence ends after `token` (which ends in . ? ! plus closers) and before `following`.

  before: the token preceding `token` (None at the paragraph start).
  """
  if not following:
    return False
  next_lower = following.lstrip(_OPENERS)[:1].islower()
  next_capital = _starts_capitalised(following)
  next_digit = _starts_with_digit(following)
  next_biomed = next_lower and bool(_LOWER_BIOMED_RE.match(following.lstrip(_OPENERS)))

  base = token.rstrip(_CLOSERS)  # "below.)" -> "below."; "Inc.)." stays
  if not base.endswith("."):
    # "?" or "!" (possibly inside quotes): ends a sentence unless the sentence visibly goes on.
    return not next_lower or next_biomed
  stem = base[:-1]
  if stem.rstrip(_CLOSERS)[-1:] in ("?", "!", ".") and stem.rstrip(_CLOSERS) != stem:
    # A terminal mark inside quotes or brackets, then a period: '...this moment?".', '(Inc.).'
    return not next_lower or next_biomed
  bare = stem.lstrip(_OPENERS)
  word = bare.lower()
  closed_after_period = base != token  # "below.)": the period sits inside a closing bracket or quote

  if word in _NON_FINAL_ABBREVIATIONS or word.rstrip(".") in _NON_FINAL_ABBREVIATIONS:
    return False
  if word in _MAY_END_ABBREVIATIONS or _LOWER_DOTTED_RE.match(bare):
    if not next_capital or following.startswith("("):
      return False
    if word in _TAXON_ABBREVIATIONS and _ALL_CAPS_RE.match(following.rstrip(",;:.")):
      return False  # "Leishmania spp. DNA was detected"
    if word in _COMPANY_ABBREVIATIONS and following.rstrip(",;:.").lower() in _COMPANY_SUFFIXES:
      return False  # "GmbH and Co. KG"
    return True
  if _UPPER_DOTTED_RE.match(bare):
    return False  # dotted initials: "G.B. Bietti"
  if len(bare) == 1 and bare.isalpha() and bare.isupper() and not closed_after_period:
    return _single_capital_is_boundary(before, following, next_capital, next_digit)
  if len(bare) == 1 and bare.isalpha() and bare.islower():
    return next_capital and not following.startswith("(") and not _INITIAL_RE.match(following)
  if _SMALL_NUMBER_RE.match(bare) and bare == stem and _is_list_position(before):
    return False  # "5. Specific complaints ...", "aims: 1. to assess"
  return next_capital or next_digit or next_biomed


def _single_capital_is_boundary(before, following, next_capital, next_digit):
  """After a lone capital letter + period: "vitamin D. The" ends a sentence, "R. A. Fisher" does not."""
  if not (next_capital or next_digit):
    return False  # "E. coli"
  if next_digit:
    return True
  if _INITIAL_RE.match(following) or following.startswith("("):
    return False  # "R. A. Fisher", "S. (Chirostilbia) species"
  if before is None:
    return False  # a name at the start of the paragraph
  if _INITIAL_RE.match(before) or before.endswith(":") or before.lower() in _NAME_INTRODUCERS:
    return False  # second initial, "SETTING: S. Fyodorov", "by J. Smith"
  if (_starts_capitalised(before) and before.lower() not in _LETTER_LABELLED and before[-1:].isalpha()
      and following.lstrip(_OPENERS).rstrip(",;:.").lower() not in _SENTENCE_OPENERS):
    return False  # a middle initial: "John A. Moran Eye Center" (but "Group B. The", "Hepatitis C. Patients")
  return True


def _is_list_position(before):
  """A bare number is a list marker at the paragraph start or after ":", ";" or a sentence end."""
  if before is None:
    return True
  if not before.endswith((":", ";", ".")):
    return False
  if before.endswith(".") and before[:-1].lstrip(_OPENERS).lower() in _NUMBER_INTRODUCERS:
    return False  # "Fig. 3. The"
  return True
