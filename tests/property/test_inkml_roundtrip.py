"""Property: any ink, with fields and metadata, survives InkML export then import."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from pen.ink import Ink, Stroke
from pen.inkml import from_inkml, to_inkml
from pen.page import PART_MAX, SEGMENT_MAX, PageAddress

# Printable text of any script, with the characters XML must escape, and the
# white space that XML parsers would otherwise normalise away.
TEXT = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc", "Cn"),
        include_characters="<>&\"'\t\n\r ",
    ),
    max_size=12,
)

PAGES = st.none() | st.builds(
    PageAddress,
    st.integers(0, SEGMENT_MAX),
    st.integers(0, PART_MAX),
    st.integers(0, PART_MAX),
    st.integers(0, PART_MAX),
)

MM = st.floats(0.0, 300.0, allow_nan=False)


@st.composite
def strokes(draw: st.DrawFn, serials: list[str]) -> Stroke:
    n = draw(st.integers(1, 50))
    xs = draw(st.lists(MM, min_size=n, max_size=n))
    ys = draw(st.lists(MM, min_size=n, max_size=n))
    start = draw(st.floats(1.2e12, 1.4e12))
    steps = draw(st.lists(st.floats(0.0, 500.0), min_size=n, max_size=n))
    ts = start + np.cumsum(steps)
    force = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    raw = unit = None
    if draw(st.booleans()):
        raw = draw(
            st.lists(st.tuples(st.floats(-1e7, 1e7), st.floats(-1e7, 1e7)), min_size=n, max_size=n)
        )
        unit = draw(st.sampled_from([0.0375, 2.371]) | st.floats(1e-4, 10.0))
    return Stroke.from_arrays(
        xs,
        ys,
        ts,
        force,
        pen_serial=draw(st.sampled_from(serials)),
        page=draw(PAGES),
        raw=raw,
        unit_mm=unit,
    )


@st.composite
def documents(draw: st.DrawFn) -> tuple[Ink, dict[str, list[int]], dict[str, str]]:
    serials = draw(st.lists(TEXT, min_size=1, max_size=3))
    ink = Ink(tuple(draw(st.lists(strokes(serials), min_size=1, max_size=10))))
    field_ids = draw(st.lists(TEXT, max_size=4, unique=True))
    fields: dict[str, list[int]] = {fid: [] for fid in field_ids}
    for i in range(len(ink)):
        owner = draw(st.none() | st.sampled_from(field_ids)) if field_ids else None
        if owner is not None:
            fields[owner].append(i)
    metadata = draw(
        st.dictionaries(TEXT.filter(lambda k: k != "plume-inkml-version"), TEXT, max_size=3)
    )
    return ink, fields, metadata


@settings(max_examples=150, deadline=None)
@given(documents())
def test_export_then_import_preserves_ink_fields_and_metadata(
    case: tuple[Ink, dict[str, list[int]], dict[str, str]],
) -> None:
    ink, fields, metadata = case
    doc = from_inkml(to_inkml(ink, fields=fields, metadata=metadata))

    assert len(doc.ink) == len(ink)
    for before, after in zip(ink, doc.ink, strict=True):
        assert len(after) == len(before)
        np.testing.assert_allclose(after.x, before.x, rtol=0, atol=0.01)
        np.testing.assert_allclose(after.y, before.y, rtol=0, atol=0.01)
        np.testing.assert_allclose(after.t, before.t, rtol=0, atol=1.0)
        np.testing.assert_allclose(after.force, before.force, rtol=0, atol=0.001)
        assert after.pen_serial == before.pen_serial
        assert after.page == before.page
        if before.raw is None:
            assert after.raw is None
        else:
            assert after.raw is not None
            np.testing.assert_array_equal(after.raw, before.raw)
        assert after.unit_mm == before.unit_mm
    assert doc.fields == {fid: tuple(sorted(ix)) for fid, ix in fields.items()}
    assert doc.metadata == metadata
