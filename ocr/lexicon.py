"""What a whole field may say: the honest lexical constraints of the field kinds.

- ``postcode``: one of the 6,201 French postcodes in use
  (``models/postcodes.txt``, from the Base Adresse Nationale's ``codes-postaux``
  4.1.2, MIT, via ../shared/data/geo; notice in ``models/LICENSE-codes-postaux``).
- ``phone``: a French number in national form (ten digits, ``0`` then the nine
  of the national number) that the ``phonenumbers`` package (Google's
  libphonenumber metadata, the ARCEP numbering plan) holds valid for France:
  mobiles ``06``/``07`` in their allocated ranges, geographic ``01``-``05``,
  ``08`` special numbers, ``09`` VoIP.
- ``email``: exactly one ``@``; a local part of ``a-z 0-9 . _ - +`` that neither
  starts nor ends with a dot nor holds two in a row; a domain of dot-separated
  labels of ``a-z 0-9 -`` ending in a top-level domain of two or more letters.
  Domains most French voters use are likelier (:data:`COMMON_DOMAINS`), and
  digits inside words rarer (:data:`DIGIT_INSIDE`, once per digit in the
  domain and per digit followed by a letter in the local part), and each
  number in the local part weighs :data:`NUMBER`. The local
  part's spelling is weighed by :func:`spelling_weight`: letter pairs of
  French words (``models/letter_bigrams.txt``, built by
  ``scripts/build_letter_bigrams.py`` from the French commune names of
  ../shared/data/geo, Etalab's ``decoupage-administratif``, MIT, notice in
  ``models/LICENSE-decoupage-administratif``).
- ``name``: capitals, spaces, hyphens and apostrophes: nothing is ruled out; words
  that are none of the names of ``models/names.txt`` weigh :data:`UNKNOWN_WORD`
  (:func:`ocr.address.names_weight`).

A writer can still write something outside these rules (a mistyped code, a
foreign number), so the rules are a prior, never a filter: a reading that
breaks them keeps :data:`INVALID` of its probability and stays among the
alternatives, and a confident reading of an invalid text is not corrected.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import phonenumbers

#: Prior weight of a text that breaks its kind's rules (valid texts weigh 1).
INVALID = 0.01
#: Prior weight of a valid e-mail address whose domain is not a common one.
RARE_DOMAIN = 0.05
#: Prior weight of digits inside a word: in the domain, or followed by a letter in
#: the local part (addresses are names with, at most, a number at the end).
DIGIT_INSIDE = 0.05
#: Prior weight of each number (run of digits) in the local part: most addresses have
#: none, so a bar read ``1`` among letters is likelier an ``l``.
NUMBER = 0.3
#: Prior weight of a letter run of an address's local part that is none of the names of
#: ``models/names.txt`` (nor an initial before one, nor two run together): most
#: addresses are made of their owner's names (:mod:`ocr.address`).
UNKNOWN_WORD = 0.35
#: Mail domains common in France (the large providers and ISPs).
COMMON_DOMAINS = frozenset(
    {
        "gmail.com",
        "orange.fr",
        "wanadoo.fr",
        "free.fr",
        "sfr.fr",
        "neuf.fr",
        "laposte.net",
        "hotmail.fr",
        "hotmail.com",
        "outlook.fr",
        "outlook.com",
        "live.fr",
        "yahoo.fr",
        "yahoo.com",
        "icloud.com",
        "aol.com",
        "bbox.fr",
        "numericable.fr",
        "club-internet.fr",
        "aliceadsl.fr",
        "protonmail.com",
    }
)
POSTCODES_FILE = Path(__file__).resolve().parent / "models" / "postcodes.txt"
BIGRAMS_FILE = Path(__file__).resolve().parent / "models" / "letter_bigrams.txt"
#: A letter pair weighs min(1, SPELLING_SCALE x P(letter | previous)) ** SPELLING_POWER:
#: a pair at least as likely as a uniform choice among the 26 letters weighs 1.
SPELLING_SCALE = 26.0
SPELLING_POWER = 0.5
_DIGITS = re.compile(r"[0-9]*")
#: France's calling code, for numbers checked in national form.
_FR = 33
#: National-number digits that decide validity in the French plan (libphonenumber's
#: patterns end in free digits after at most five): a prefix this long or longer is
#: possible if it is valid completed with zeros (``tests/unit/test_ocr_fields.py``
#: checks the assumption against random completions).
PHONE_DECIDING = 5
_LOCAL = re.compile(r"[a-z0-9_+-]+(\.[a-z0-9_+-]+)*")
_DOMAIN = re.compile(r"([a-z0-9-]+\.)+[a-z]{2,}")
_DIGIT_LETTER = re.compile(r"[0-9][a-z]")
_NUMBER = re.compile(r"[0-9]+")
_EMAIL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-+@")


@cache
def postcodes() -> frozenset[str]:
    """The French postcodes in use."""
    return frozenset(POSTCODES_FILE.read_text(encoding="ascii").split())


@cache
def _pair_probabilities() -> dict[str, dict[str, float]]:
    """P(next | previous) over letters and ``$`` (word end), ``^`` the word start;
    add-half smoothed."""
    counts: dict[str, dict[str, int]] = {}
    for line in BIGRAMS_FILE.read_text(encoding="ascii").splitlines():
        if line and not line.startswith("#"):
            pair, n = line.split()
            counts.setdefault(pair[0], {})[pair[1]] = int(n)
    nexts = [*"abcdefghijklmnopqrstuvwxyz", "$"]
    out = {}
    for prev in ["^", *"abcdefghijklmnopqrstuvwxyz"]:
        row = counts.get(prev, {})
        total = sum(row.values()) + 0.5 * len(nexts)
        out[prev] = {c: (row.get(c, 0) + 0.5) / total for c in nexts}
    return out


@cache
def spelling_weight(prev: str, letter: str) -> float:
    """The weight of ``letter`` (or ``$``, the word's end) after ``prev`` (a letter, or
    ``^`` at a word's start) in the local part of an address: 1 for pairs common in
    French words, less for rare ones (``ii`` 0.05 or so)."""
    p = _pair_probabilities()[prev][letter]
    return float(min(1.0, SPELLING_SCALE * p) ** SPELLING_POWER)


def spelling(local: str) -> float:
    """The product of :func:`spelling_weight` over the words (letter runs) of ``local``."""
    w = 1.0
    for word in re.findall(r"[a-z]+", local):
        prev = "^"
        for c in [*word, "$"]:
            w *= spelling_weight(prev, c)
            prev = c
    return w


@cache
def _postcode_prefixes() -> frozenset[str]:
    return frozenset(code[:i] for code in postcodes() for i in range(6))


def phone_valid(text: str) -> bool:
    """Whether ``text`` is a valid French number written in national form (10 digits)."""
    if len(text) != 10 or not text.isdigit() or text[0] != "0" or text[1] == "0":
        return False
    number = phonenumbers.PhoneNumber(country_code=_FR, national_number=int(text[1:]))
    return bool(phonenumbers.is_valid_number_for_region(number, "FR"))


@cache
def _national_prefix_possible(nsn: str) -> bool:
    """Whether some valid French national number (9 digits) starts with ``nsn``."""
    if nsn.startswith("0"):
        return False  # "00" is the international prefix, not a national number
    if len(nsn) >= PHONE_DECIDING:
        return phone_valid("0" + nsn.ljust(9, "0"))
    return any(_national_prefix_possible(nsn + d) for d in "0123456789")


def prefix_possible(kind: str, prefix: str) -> bool:
    """Whether some valid text of ``kind`` starts with ``prefix``."""
    if kind == "postcode":
        return prefix in _postcode_prefixes()
    if kind == "phone":
        return (
            len(prefix) <= 10
            and _DIGITS.fullmatch(prefix) is not None
            and (prefix == "" or (prefix[0] == "0" and _national_prefix_possible(prefix[1:])))
        )
    if kind == "email":
        return (
            prefix.count("@") <= 1
            and ".." not in prefix
            and not prefix.startswith((".", "@"))
            and ".@" not in prefix
            and "@." not in prefix
            and set(prefix) <= _EMAIL_CHARS
        )
    return True


def prior(kind: str, text: str) -> float:
    """The prior weight of a complete reading: 1 if it keeps the rules, :data:`INVALID`
    if it breaks them (e-mail addresses on an uncommon domain :data:`RARE_DOMAIN`,
    times :data:`DIGIT_INSIDE` per digit inside a word and :data:`NUMBER` per number
    in the local part; the spelling of the local
    part, :func:`spelling`, is not in it)."""
    if kind == "postcode":
        return 1.0 if text in postcodes() else INVALID
    if kind == "phone":
        return 1.0 if phone_valid(text) else INVALID
    if kind == "email":
        local, at, domain = text.partition("@")
        if not at or not _LOCAL.fullmatch(local) or not _DOMAIN.fullmatch(domain):
            return INVALID
        weight = 1.0 if domain in COMMON_DOMAINS else RARE_DOMAIN
        inside = len(_DIGIT_LETTER.findall(local)) + sum(c.isdigit() for c in domain)
        return weight * DIGIT_INSIDE**inside * NUMBER ** len(_NUMBER.findall(local))
    return 1.0
