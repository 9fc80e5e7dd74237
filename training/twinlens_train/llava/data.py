"""Readers of the training data of the LLaVA recipe, with a report of the rows they drop.

Three formats become one list of `Example`s (id, image path or None, [(human, gpt), ...] turns):

* LLaVA-Pretrain (stage 1, `blip_laion_cc_sbu_558k.json`) and LLaVA-Instruct (stage 2,
  `llava_v1_5_mix665k.json`) share one layout: a JSON list of
  `{"id", "image": "relative/path.jpg", "conversations": [{"from": "human"|"gpt", "value"}...]}`,
  images relative to an image folder. Rows with no `image` key are text-only (ShareGPT rows in the
  665k mix) and are kept: dropping them would change the recipe.
* Our JSONL suites: one `{"id", "image" (relative to the .jsonl), "question", "answer", ...}` per
  line, read as one single-turn conversation with `<image>` before the question.

A 665k-row file always has a few broken rows (missing or truncated images, two `<image>` tags,
odd roles). A run must not die on row 412,337 after hours, and silently skipping rows hides data
problems, so every dropped row is counted by reason in a `DataReport` that names its file and
index, and the trainer writes that report next to its outputs.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

IMAGE_TOKEN = "<image>"

# Reasons a row is dropped (the keys of DataReport.counts).
UNPARSEABLE = "unparseable_json"
MALFORMED = "malformed_row"
BAD_ROLES = "bad_roles"
IMAGE_MISSING = "image_missing"
IMAGE_UNDECODABLE = "image_undecodable"
NO_IMAGE_TOKEN = "missing_image_token"
MANY_IMAGE_TOKENS = "multiple_image_tokens"
MISPLACED_IMAGE_TOKEN = "misplaced_image_token"  # one <image>, but not in the first human turn
TOKEN_WITHOUT_IMAGE = "image_token_without_image"
DUPLICATE_ID = "duplicate_id"
NO_FEATURES = "no_features"  # used by the trainer: a row the feature shards do not hold


@dataclass
class Example:
    id: str
    image: Optional[str]  # absolute path; None for a text-only row
    turns: List[Tuple[str, str]]  # (human, gpt); the first human value holds "<image>" when image is set
    source: str = ""
    index: int = -1


@dataclass
class DataReport:
    """Per-reason counts of dropped rows and the first few examples of each reason."""
    max_examples: int = 5
    rows: int = 0
    kept: int = 0
    text_only: int = 0
    counts: Dict[str, int] = field(default_factory=dict)
    examples: Dict[str, List[dict]] = field(default_factory=dict)
    files: Dict[str, Dict[str, int]] = field(default_factory=dict)

    def _file(self, path: str) -> Dict[str, int]:
        return self.files.setdefault(path, {"rows": 0, "kept": 0, "bad": 0})

    def keep(self, ex: Example) -> None:
        self.rows += 1
        self.kept += 1
        self.text_only += ex.image is None
        f = self._file(ex.source)
        f["rows"] += 1
        f["kept"] += 1

    def bad(self, reason: str, path: str, index: int, row_id=None, detail: str = "", counted_row: bool = True):
        if counted_row:
            self.rows += 1
            self._file(path)["rows"] += 1
        self._file(path)["bad"] += 1
        self.counts[reason] = self.counts.get(reason, 0) + 1
        ex = self.examples.setdefault(reason, [])
        if len(ex) < self.max_examples:
            ex.append({"file": path, "index": index, "id": row_id, "detail": detail})

    def drop(self, ex: Example, reason: str, detail: str = "") -> None:
        """A row that was read fine but is dropped later (the trainer: no features for it)."""
        self.kept -= 1
        self.text_only -= ex.image is None
        self._file(ex.source)["kept"] -= 1
        self.bad(reason, ex.source, ex.index, ex.id, detail, counted_row=False)

    @property
    def bad_rows(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict:
        return {"rows": self.rows, "kept": self.kept, "textOnly": self.text_only, "bad": self.bad_rows,
                "counts": dict(sorted(self.counts.items())), "examples": self.examples, "files": self.files}

    def summary(self) -> str:
        s = f"{self.kept}/{self.rows} rows kept ({self.text_only} text-only)"
        if self.counts:
            s += "; dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
            first = next(iter(self.examples.values()))[0]
            s += f" (e.g. {first['file']} #{first['index']}: {first['detail']})"
        return s


class ImageChecker:
    """Opens each image once with PIL (rows of the instruct mix share images). mode 'verify' checks
    the file's structure and checksums without decoding pixels (cheap enough for 665k rows);
    'decode' decodes fully; 'exists' only checks the path; 'none' skips the check."""

    def __init__(self, mode: str = "verify"):
        if mode not in ("verify", "decode", "exists", "none"):
            raise ValueError(f"unknown image check mode {mode!r}")
        self.mode = mode
        self.cache: Dict[str, Optional[Tuple[str, str]]] = {}

    def __call__(self, path: str) -> Optional[Tuple[str, str]]:
        """None when fine, else (reason, detail)."""
        if self.mode == "none":
            return None
        if path not in self.cache:
            self.cache[path] = self._check(path)
        return self.cache[path]

    def _check(self, path: str) -> Optional[Tuple[str, str]]:
        if not os.path.isfile(path):
            return IMAGE_MISSING, f"no file {path}"
        if self.mode == "exists":
            return None
        from PIL import Image

        try:
            with Image.open(path) as im:
                if self.mode == "verify":
                    im.verify()
                else:
                    im.load()
        except Exception as e:  # PIL raises many types for broken files (OSError, SyntaxError, ...)
            return IMAGE_UNDECODABLE, f"{os.path.basename(path)}: {type(e).__name__}: {e}"
        return None


def _conversation_turns(conv) -> Optional[List[Tuple[str, str]]]:
    """[(human, gpt)] from LLaVA `conversations`, or None when the roles do not alternate
    human, gpt, human, gpt... (a trailing human turn has no answer to learn from: malformed too)."""
    if not isinstance(conv, list) or not conv or len(conv) % 2:
        return None
    turns = []
    for i in range(0, len(conv), 2):
        h, g = conv[i], conv[i + 1]
        if not (isinstance(h, dict) and isinstance(g, dict)):
            return None
        if h.get("from") != "human" or g.get("from") != "gpt":
            return None
        if not isinstance(h.get("value"), str) or not isinstance(g.get("value"), str):
            return None
        turns.append((h["value"], g["value"]))
    return turns


def _validate(report: DataReport, check: ImageChecker, path: str, index: int, row_id, image: Optional[str],
              turns: List[Tuple[str, str]]) -> bool:
    n_tags = sum(h.count(IMAGE_TOKEN) + g.count(IMAGE_TOKEN) for h, g in turns)
    if image is None:
        if n_tags:
            report.bad(TOKEN_WITHOUT_IMAGE, path, index, row_id, f"{n_tags} {IMAGE_TOKEN} in a text-only row")
            return False
        return True
    if n_tags == 0:
        report.bad(NO_IMAGE_TOKEN, path, index, row_id, f"image row without {IMAGE_TOKEN}")
        return False
    if n_tags > 1:
        report.bad(MANY_IMAGE_TOKENS, path, index, row_id, f"{n_tags} {IMAGE_TOKEN} tags")
        return False
    if IMAGE_TOKEN not in turns[0][0]:
        report.bad(MISPLACED_IMAGE_TOKEN, path, index, row_id, f"{IMAGE_TOKEN} is not in the first human turn")
        return False
    err = check(image)
    if err:
        report.bad(err[0], path, index, row_id, err[1])
        return False
    return True


def read_llava_json(path: str, report: DataReport, image_folder: Optional[str] = None,
                    check: Optional[ImageChecker] = None) -> List[Example]:
    """LLaVA-Pretrain / LLaVA-Instruct JSON list; images relative to image_folder (default: the
    file's folder)."""
    check = check or ImageChecker()
    folder = image_folder or os.path.dirname(os.path.abspath(path))
    try:
        with open(path, "r", encoding="utf-8") as f:
            rows = json.load(f)
    except (OSError, ValueError) as e:
        report.bad(UNPARSEABLE, path, -1, None, f"{type(e).__name__}: {e}")
        return []
    if not isinstance(rows, list):
        report.bad(MALFORMED, path, -1, None, "top level is not a JSON list")
        return []
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "conversations" not in row:
            report.bad(MALFORMED, path, i, None, "not an object with conversations")
            continue
        rid = str(row.get("id", f"{os.path.basename(path)}:{i}"))
        turns = _conversation_turns(row["conversations"])
        if turns is None:
            report.bad(BAD_ROLES, path, i, rid, "conversations do not alternate human/gpt")
            continue
        image = row.get("image")
        if image is not None and not isinstance(image, str):
            report.bad(MALFORMED, path, i, rid, "image is not a string (multi-image rows are not supported)")
            continue
        image = os.path.join(folder, image) if image else None
        if _validate(report, check, path, i, rid, image, turns):
            ex = Example(rid, image, turns, path, i)
            report.keep(ex)
            out.append(ex)
    return out


def read_suite_jsonl(path: str, report: DataReport, check: Optional[ImageChecker] = None) -> List[Example]:
    """Our suite JSONL (one question per line, image relative to the file) as single-turn examples."""
    check = check or ImageChecker()
    folder = os.path.dirname(os.path.abspath(path))
    out = []
    with open(path, "r", encoding="utf-8") as f:
        lines = f.readlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as e:
            report.bad(UNPARSEABLE, path, i, None, f"line {i + 1}: {e}")
            continue
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("question", "answer")):
            report.bad(MALFORMED, path, i, None, "needs string question and answer")
            continue
        rid = str(row.get("id", f"{os.path.basename(path)}:{i}"))
        image = row.get("image")
        turns = [((IMAGE_TOKEN + "\n" if image else "") + row["question"], row["answer"])]
        image = os.path.join(folder, image) if isinstance(image, str) and image else None
        if _validate(report, check, path, i, rid, image, turns):
            ex = Example(rid, image, turns, path, i)
            report.keep(ex)
            out.append(ex)
    return out


def read_datasets(paths: Iterable[str], image_folder: Optional[str] = None, check_images: str = "verify",
                  max_examples: int = 5) -> Tuple[List[Example], DataReport]:
    """Every file (.json = LLaVA list, .jsonl = suite), one report; ids must be unique across files
    because the feature shards are keyed by row id."""
    report = DataReport(max_examples=max_examples)
    check = ImageChecker(check_images)
    out: List[Example] = []
    seen: Dict[str, Tuple[str, int]] = {}
    for p in paths:
        rows = read_suite_jsonl(p, report, check) if p.endswith(".jsonl") else \
            read_llava_json(p, report, image_folder, check)
        for ex in rows:
            if ex.id in seen:
                f, i = seen[ex.id]
                report.drop(ex, DUPLICATE_ID, f"id {ex.id!r} already used by {f} #{i}")
                continue
            seen[ex.id] = (ex.source, ex.index)
            out.append(ex)
    return out, report
