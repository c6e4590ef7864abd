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
"""Turns run_qa's nbest_predictions.json on BioASQ factoid questions into BioASQ's submission format.

Flags (the original's): `--nbest_path` (run_qa's nbest_predictions.json) and `--output_path` (a folder, or a
file name).

BioASQ's SQuAD-form files give every (question, snippet) pair its own id, `<24-character question id>_<3-digit
snippet number>` (28 characters). Per question, in order of first appearance in the n-best file (the predict
file's order):

  1. the n-best lists of all its snippets are concatenated (in the file's order) and sorted by probability,
     highest first;
  2. walking that order, texts that are empty or longer than 100 characters are dropped, and probabilities are
     summed per text compared case-insensitively (`str.lower`); the text shown is the first (most probable)
     casing met. Sums are float64, added in that descending-probability order. The original's fallback text
     "empty" (a snippet without any valid span) is a text like any other and is kept;
  3. the texts are sorted by summed probability, highest first.

Outputs, `{"questions": [...]}` with one entry per question whose keys are, in order, `type` ("factoid"), `id`
(the 24-character id), `ideal_answer` ("Dummy"), `exact_answer`:

  BioASQform_BioASQ-answer.json            `exact_answer` = [[text] for the top 5]: what BioASQ's evaluator reads;
  WithProb_BioASQform_BioASQ-answer.json   `exact_answer` = [[text, summed probability] for the top 20].

When --output_path is not an existing folder, the files are `--output_path` and `--output_path` + "_WithProb".
Both are written as the original wrote them: `json.dump(..., indent=2)`, non-ASCII characters escaped, no newline
at the end. A successful run prints nothing.

Differences from the original, on purpose:

  * Entries of equal probability keep their order in the file (a stable sort). The original sorted with pandas'
    default quicksort, whose order among equal probabilities depends on the number of entries; ties decide which
    casing of a text is shown, the order in which sums are added, and the order of equal sums.
  * A missing --nbest_path, a file that is not an n-best file (not a JSON object of lists of entries with "text"
    and "probability"), or an id that is not 28 characters long stops with one `error: ...` line naming the file
    (and the id) and exit status 2, and nothing is written. The original printed "No file exists!" followed by a
    traceback, or failed an assertion.
  * Files are written under a temporary name and renamed when complete.

Only the standard library (and the project's errors.py and fileio.py) is imported: no TensorFlow, no pandas.
"""

import argparse
import collections
import json
import os
import sys

if __package__ in (None, ""):
  # Run as a script (`python biocodes/transform_nbset2bioasqform.py`): errors.py lives one folder up.
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import errors  # pylint: disable=g-import-not-at-top,wrong-import-position
import fileio  # pylint: disable=g-import-not-at-top,wrong-import-position

QUESTION_ID_LENGTH = 24
SNIPPET_SUFFIX_LENGTH = 4  # "_" and a 3-digit snippet number
ANSWER_FILE = "BioASQform_BioASQ-answer.json"
WITH_PROB_FILE = "WithProb_BioASQform_BioASQ-answer.json"
WITH_PROB_SUFFIX = "_WithProb"
MAX_TEXT_LENGTH = 100
NUM_EXACT_ANSWERS = 5
NUM_WITH_PROB_ANSWERS = 20


def read_nbest(path):
  """The n-best file as an ordered {id: [entries]} mapping; each entry has at least "text" and "probability".

  Raises:
    errors.UserError: the file is missing, unreadable, not JSON or not an n-best file.
  """
  if not path:
    raise errors.UserError("--nbest_path is required (run_qa writes nbest_predictions.json into its --output_dir)")
  if not os.path.isfile(path):
    raise errors.UserError("No file exists! --nbest_path=%s" % path)
  try:
    with open(path, encoding="utf-8-sig") as f:
      nbest = json.load(f, object_pairs_hook=collections.OrderedDict)
  except (OSError, UnicodeDecodeError, ValueError) as e:
    raise errors.UserError("n-best file %s: cannot read it as JSON: %s" % (path, e)) from e
  if not isinstance(nbest, dict):
    raise errors.UserError("n-best file %s: expected a JSON object of id -> n-best list" % path)
  for key, entries in nbest.items():
    if not isinstance(entries, list):
      raise errors.UserError("n-best file %s: id %r: expected a list of n-best entries" % (path, key))
    for entry in entries:
      if (not isinstance(entry, dict) or not isinstance(entry.get("text"), str) or
          isinstance(entry.get("probability"), bool) or not isinstance(entry.get("probability"), (int, float))):
        raise errors.UserError("n-best file %s: id %r: an entry without a text and a probability: %s"
                               % (path, key, json.dumps(entry)[:200]))
  return nbest


def group_by_question(nbest, path="n-best file"):
  """{24-character question id: concatenated n-best entries}, questions in order of first appearance.

  Raises:
    errors.UserError: an id is not 28 characters long (`<question id>_<snippet number>`).
  """
  questions = collections.OrderedDict()
  for key, entries in nbest.items():
    if len(key) != QUESTION_ID_LENGTH + SNIPPET_SUFFIX_LENGTH:
      raise errors.UserError(
          "%s: id %r is %d characters long; BioASQ ids are %d (a %d-character question id, \"_\" and a 3-digit "
          "snippet number)" % (path, key, len(key), QUESTION_ID_LENGTH + SNIPPET_SUFFIX_LENGTH,
                               QUESTION_ID_LENGTH))
    questions.setdefault(key[:-SNIPPET_SUFFIX_LENGTH], []).extend(entries)
  return questions


def summed_answers(entries):
  """[(text, summed probability)] of one question, most probable first (see the module docstring)."""
  ranked = sorted(entries, key=lambda entry: entry["probability"], reverse=True)  # stable: ties keep file order
  sums = collections.OrderedDict()  # lower-cased text -> [shown text, sum]
  for entry in ranked:
    text = entry["text"]
    if not text or len(text) > MAX_TEXT_LENGTH:
      continue
    slot = sums.get(text.lower())
    if slot is None:
      sums[text.lower()] = [text, float(entry["probability"])]
    else:
      slot[1] += entry["probability"]
  return sorted(((text, total) for text, total in sums.values()), key=lambda item: item[1], reverse=True)


def bioasq_entries(questions):
  """The `questions` lists of the two outputs: (top-5 texts, top-20 [text, probability])."""
  plain, with_prob = [], []
  for qid, entries in questions.items():
    answers = summed_answers(entries)
    for target, exact in ((plain, [[text] for text, _ in answers[:NUM_EXACT_ANSWERS]]),
                          (with_prob, [[text, p] for text, p in answers[:NUM_WITH_PROB_ANSWERS]])):
      entry = collections.OrderedDict()
      entry["type"] = "factoid"
      entry["id"] = qid
      entry["ideal_answer"] = "Dummy"
      entry["exact_answer"] = exact
      target.append(entry)
  return plain, with_prob


def output_files(output_path):
  """(answer file, WithProb file) for --output_path: names inside it when it is a folder, else beside it."""
  if not output_path:
    raise errors.UserError("--output_path is required (a folder, or the name of the answer file)")
  if os.path.isdir(output_path):
    return os.path.join(output_path, ANSWER_FILE), os.path.join(output_path, WITH_PROB_FILE)
  return output_path, output_path + WITH_PROB_SUFFIX


def dumps(questions):
  """The text the original wrote: `json.dump({"questions": ...}, f, indent=2)` (ASCII, no final newline)."""
  return json.dumps({"questions": questions}, indent=2)


def run(nbest_path, output_path):
  """Reads the n-best file and writes both BioASQ files; returns their paths."""
  answer_path, with_prob_path = output_files(output_path)
  plain, with_prob = bioasq_entries(group_by_question(read_nbest(nbest_path), "n-best file %s" % nbest_path))
  fileio.write_text_atomically(answer_path, dumps(plain))
  fileio.write_text_atomically(with_prob_path, dumps(with_prob))
  return answer_path, with_prob_path


class _Parser(argparse.ArgumentParser):
  """argparse that reports a bad command line as one `error: ...` line with exit status 2."""

  def error(self, message):
    errors.fail(message)


def main(argv=None):
  parser = _Parser(description="Shape the answer")
  parser.add_argument("--nbest_path", type=str, help="location of nbest_predictions.json")
  parser.add_argument("--output_path", type=str,
                      help="folder for BioASQform_BioASQ-answer.json and WithProb_BioASQform_BioASQ-answer.json, "
                      "or the name of the answer file")
  args = parser.parse_args(argv)
  try:
    run(args.nbest_path, args.output_path)
  except errors.UserError as e:
    errors.fail(str(e))


if __name__ == "__main__":
  main()
