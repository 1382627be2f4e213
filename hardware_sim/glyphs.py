"""The glyph bank: real UNIPEN handwriting, one consistent hand per writer.

The bank (``hardware_sim/data/glyphs.npz``, built by ``scripts/build_glyph_bank.py``,
provenance in ``hardware_sim/data/GLYPHS.md``) holds, for each kept writer,
a few samples of every character they wrote. Glyph coordinates are in units
of the writer's median digit height (a digit is about 1.0 tall), y pointing
down, origin at the glyph's bounding-box top-left corner; strokes keep their
order and pen-up structure.

*Writers* (:meth:`GlyphBank.writers`) wrote every digit. *Donors* are other
writers of the same contributor (same digitiser) kept only for characters
that none of that contributor's writers wrote. When a writer lacks a
character, :meth:`GlyphBank.glyphs` borrows it from another writer of the same
contributor and says so (:attr:`Glyphs.borrowed`); failing that it raises
:class:`MissingGlyph`. Nothing is read until :meth:`GlyphBank.load` is called.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

#: The bank shipped with the simulator.
DEFAULT_BANK = Path(__file__).resolve().parent / "data" / "glyphs.npz"
#: Bank format versions this module reads.
SUPPORTED_VERSIONS = (1,)

Poly = npt.NDArray[np.float64]


class GlyphBankError(Exception):
    """A glyph bank problem; ``code`` is stable, the message says what to do."""

    code = "G.000"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BankFileError(GlyphBankError):
    """The bank file is missing, unreadable or of an unknown version."""

    code = "G.001"


class UnknownWriter(GlyphBankError):
    """No writer of that id in the bank."""

    code = "G.002"

    def __init__(self, writer: str) -> None:
        super().__init__(f"no writer {writer!r} in the glyph bank; pick one of GlyphBank.writers()")
        self.writer = writer


class MissingGlyph(GlyphBankError):
    """Neither the writer nor any other writer of their contributor wrote ``char``."""

    code = "G.003"

    def __init__(self, writer: str, char: str, contributor: str) -> None:
        super().__init__(
            f"the glyph bank has no {char!r} by writer {writer!r} nor by any other writer "
            f"of contributor {contributor!r}; write another character or pick another writer"
        )
        self.writer = writer
        self.char = char
        self.contributor = contributor


@dataclass(frozen=True, slots=True)
class Glyph:
    """One real sample of a character: strokes in writer units (digit height ~ 1), y down."""

    strokes: tuple[Poly, ...]

    @property
    def width(self) -> float:
        return float(max(s[:, 0].max() for s in self.strokes))

    @property
    def height(self) -> float:
        return float(max(s[:, 1].max() for s in self.strokes))


@dataclass(frozen=True, slots=True)
class Glyphs:
    """The samples of one character for one writer."""

    char: str
    writer: str
    """The writer asked for."""
    source: str
    """The writer whose samples these are."""
    samples: tuple[Glyph, ...]

    @property
    def borrowed(self) -> bool:
        """True when the writer lacked the character and another writer lent it."""
        return self.source != self.writer


@dataclass(frozen=True, eq=False, slots=True)
class GlyphBank:
    """The loaded bank; build it with :meth:`load`."""

    path: Path
    _writers: tuple[str, ...]
    _contributor: dict[str, str]
    _has_digits: dict[str, bool]
    _index: dict[tuple[str, str], tuple[Glyph, ...]]

    @classmethod
    def load(cls, path: Path | None = None) -> GlyphBank:
        """Read a bank file (default: the one shipped); cached per path."""
        return _load(Path(path or DEFAULT_BANK).resolve())

    def writers(self, contributor: str | None = None) -> list[str]:
        """Writers who wrote every digit (optionally of one contributor), sorted."""
        return [
            w
            for w in self._writers
            if self._has_digits[w] and (contributor is None or self._contributor[w] == contributor)
        ]

    def writers_with(self, char: str) -> list[str]:
        """Writers (of :meth:`writers`) who wrote ``char`` themselves, sorted."""
        return [w for w in self.writers() if (w, char) in self._index]

    def contributor(self, writer: str) -> str:
        if writer not in self._contributor:
            raise UnknownWriter(writer)
        return self._contributor[writer]

    def chars(self, writer: str) -> set[str]:
        """The characters this writer wrote themselves."""
        self.contributor(writer)
        return {ch for (w, ch) in self._index if w == writer}

    def glyphs(self, writer: str, char: str) -> Glyphs:
        """The writer's samples of ``char``, else another same-contributor writer's
        (``borrowed`` is then True: writers first, donors after, in id order)."""
        contrib = self.contributor(writer)
        own = self._index.get((writer, char))
        if own:
            return Glyphs(char, writer, writer, own)
        candidates = sorted(
            (w for w in self._writers if self._contributor[w] == contrib and w != writer),
            key=lambda w: (not self._has_digits[w], w),
        )
        for other in candidates:
            lent = self._index.get((other, char))
            if lent:
                return Glyphs(char, writer, other, lent)
        raise MissingGlyph(writer, char, contrib)


@cache
def _load(path: Path) -> GlyphBank:
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise BankFileError(
            f"glyph bank {path} not found; rebuild it with scripts/build_glyph_bank.py"
        ) from None
    except (OSError, ValueError) as exc:
        raise BankFileError(f"glyph bank {path} is unreadable ({exc}); rebuild it") from None
    version = int(arrays.get("version", -1))
    if version not in SUPPORTED_VERSIONS:
        raise BankFileError(
            f"glyph bank {path} has format version {version}; this simulator reads "
            f"{SUPPORTED_VERSIONS}: rebuild it with scripts/build_glyph_bank.py"
        )
    units = float(arrays["units"])
    writers = tuple(str(w) for w in arrays["writers"])
    contributors = [str(c) for c in arrays["contributors"]]
    pts = arrays["points"].astype(np.float64) / units
    stroke_at = arrays["stroke_points"]
    glyph_at = arrays["glyph_strokes"]
    strokes = [pts[stroke_at[i] : stroke_at[i + 1]] for i in range(len(stroke_at) - 1)]
    for s in strokes:
        s.setflags(write=False)
    index: dict[tuple[str, str], list[Glyph]] = {}
    for g, (wi, ch) in enumerate(zip(arrays["glyph_writer"], arrays["glyph_char"], strict=True)):
        glyph = Glyph(tuple(strokes[glyph_at[g] : glyph_at[g + 1]]))
        index.setdefault((writers[int(wi)], str(ch)), []).append(glyph)
    return GlyphBank(
        path=path,
        _writers=writers,
        _contributor=dict(zip(writers, contributors, strict=True)),
        _has_digits={w: bool(h) for w, h in zip(writers, arrays["has_digits"], strict=True)},
        _index={k: tuple(v) for k, v in index.items()},
    )
