"""Safe XML parsing for InkML, noting the source line of every element.

Owns the one call into the XML parser: ``defusedxml`` (no DTD, no entities,
no external references) with a tree-builder target that records each start
tag's line, so :mod:`pen._inkml_reader` can say where a problem is. Errors
become :class:`pen.errors.InkMLError`.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import defusedxml
import defusedxml.ElementTree as safe_et

from pen.errors import InkMLError


class _LineRecorder:
    """Parser target that notes the line of each start tag."""

    def __init__(self) -> None:
        self.builder = TreeBuilder()
        self.lines: dict[Element, int] = {}
        self.expat: object = None

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        element = self.builder.start(tag, attrs)
        self.lines[element] = int(getattr(self.expat, "CurrentLineNumber", 0))
        return element

    def end(self, tag: str) -> Element:
        return self.builder.end(tag)

    def data(self, data: str) -> None:
        self.builder.data(data)

    def close(self) -> Element:
        return self.builder.close()


def parse_with_lines(text: str | bytes) -> tuple[Element, dict[Element, int]]:
    """The root element and the line of each element; InkMLError if not well-formed."""
    recorder = _LineRecorder()
    parser = safe_et.XMLParser(target=recorder)
    recorder.expat = parser.parser
    try:
        parser.feed(text)
        root: Element = parser.close()
    except ParseError as exc:
        line, column = exc.position
        raise InkMLError(f"not well-formed XML: {exc}", f"line {line}, column {column}") from None
    except defusedxml.DefusedXmlException as exc:
        raise InkMLError(
            f"forbidden XML construct ({type(exc).__name__}: {exc}); InkML needs no DTD or entities"
        ) from None
    return root, recorder.lines
