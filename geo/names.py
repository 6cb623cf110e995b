"""Vietnamese administrative-name normalisation and matching.

Match codes first; only then names.  Names are compared after removing the
unit prefix (Xã, Phường, Thị trấn, Huyện, Quận, Thị xã, Thành phố, Tỉnh, Đặc
khu), folding diacritics (``unidecode``; đ → d), lower-casing, and unifying a
few spelling variants (Thủy/Thuỷ - the same after folding -, Đắc/Đắk, y/i in
some syllables is *not* unified because it changes names).
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, process
from unidecode import unidecode

_PREFIXES = (
    "thanh pho",
    "thi tran",
    "thi xa",
    "dac khu",
    "phuong",
    "huyen",
    "quan",
    "tinh",
    "xa",
    "tp.",
    "tp",
    "tx.",
    "tx",
    "tt.",
    "tt",
    "p.",
    "h.",
    "q.",
    "x.",
)
_PREFIX_RE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")(?=[\s.]|$)[\s.]*")
_SPACES = re.compile(r"[\s\-_,.']+")
_VARIANTS = (
    (re.compile(r"\bdac\b"), "dak"),
    (re.compile(r"\bkrong\b"), "krong"),
    (re.compile(r"\b0+(?=\d)"), ""),  # zero-padded numbered wards: "Phường 04" = "Phường 4"
)


def fold(text: str) -> str:
    """Fold diacritics and case: ``"Đắk Lắk"`` → ``"dak lak"``.

    Parameters
    ----------
    text : str
        Any Vietnamese text.

    Returns
    -------
    str
        ASCII, lower-case, single-spaced.
    """
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", str(text))
    return _SPACES.sub(" ", unidecode(text).lower()).strip()


def strip_prefix(folded: str) -> str:
    """Remove a leading unit prefix from an already folded name (repeatedly)."""
    previous = None
    out = folded
    while previous != out:
        previous = out
        out = _PREFIX_RE.sub("", out).strip()
    # numbered wards ("phuong 1") keep their number: the prefix is the name
    return out or folded


def normalize_name(text: str) -> str:
    """Return the comparison key of an administrative name.

    ``"Thị trấn Đắc Mil"``, ``"TT. Dak Mil"`` and ``"dak mil"`` all give
    ``"dakmil"``.  Numbered units keep their number: ``"Phường 1"`` → ``"1"``.
    """
    key = strip_prefix(fold(text))
    for pattern, repl in _VARIANTS:
        key = pattern.sub(repl, key)
    return key.replace(" ", "")


def best_match(
    name: str, choices: dict[str, str], score_cutoff: float = 90.0
) -> tuple[str, float] | None:
    """Find the best fuzzy match of ``name`` among ``choices``.

    Parameters
    ----------
    name : str
        Name to look up.
    choices : dict
        ``{key: display_name}``; display names are normalised before matching.
    score_cutoff : float
        Minimum rapidfuzz ``ratio`` (0–100) on normalised names.

    Returns
    -------
    tuple of (key, score) or None
        Exact normalised matches score 100; ``None`` when nothing reaches the cutoff
        or when two different keys tie for the best score (ambiguous).
    """
    target = normalize_name(name)
    normalised = {k: normalize_name(v) for k, v in choices.items()}
    exact = [k for k, v in normalised.items() if v == target]
    if len(exact) == 1:
        return exact[0], 100.0
    if len(exact) > 1:
        return None
    hits = process.extract(
        target, normalised, scorer=fuzz.ratio, score_cutoff=score_cutoff, limit=2
    )
    if not hits:
        return None
    if len(hits) == 2 and hits[0][1] == hits[1][1]:
        return None
    _, score, key = hits[0]
    return key, float(score)
