"""Build ``ocr/models/letter_bigrams.txt``: letter-pair counts of French words, for the
e-mail local part's prior (:mod:`ocr.lexicon`).

Source: the names of the 34,969 current French communes in
``../shared/data/geo/communes.csv`` (INSEE Code officiel géographique via
Etalab's ``@etalab/decoupage-administratif`` 6.0.0, MIT; notice copied to
``ocr/models/LICENSE-decoupage-administratif``). They are place names, not
people's names: what they give is French spelling (which letter follows
which), which first and family names share (many family names are place
names: Dubois, Laurent, Martin). Each distinct word counts once (so "saint",
"sur" and "le" do not dominate); accents are dropped, as in addresses;
words are split at spaces, hyphens and apostrophes.

    python scripts/build_letter_bigrams.py [--source ../shared/data/geo/communes.csv]

The output is deterministic: one ``pair count`` line per pair seen, sorted,
``^`` the start of a word and ``$`` its end.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "ocr" / "models" / "letter_bigrams.txt"
SOURCE = ROOT.parent / "shared" / "data" / "geo" / "communes.csv"
_WORD = re.compile(r"[a-z]+")


def ascii_words(name: str) -> list[str]:
    """The lower-case ASCII words of a name: accents dropped, split at non-letters."""
    name = name.lower().replace("œ", "oe").replace("æ", "ae")
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _WORD.findall(plain)


def pair_counts(words: set[str]) -> Counter[str]:
    """Letter pairs of each word, with ``^`` before it and ``$`` after it."""
    out: Counter[str] = Counter()
    for w in words:
        s = f"^{w}$"
        out.update(s[i : i + 2] for i in range(len(s) - 1))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with args.source.open(encoding="utf-8", newline="") as fh:
        words = {w for row in csv.DictReader(fh) for w in ascii_words(row["name"]) if len(w) > 1}
    counts = pair_counts(words)
    lines = [f"# letter pairs of {len(words)} distinct words of French commune names"]
    lines += [f"{pair} {n}" for pair, n in sorted(counts.items())]
    args.out.write_text("\n".join(lines) + "\n", encoding="ascii")
    print(f"wrote {args.out} ({len(counts)} pairs from {len(words)} words)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
