"""Open311 answers and errors as JSON or XML (the spec's element names), UTF-8.

XML is built with xml.etree, never by joining strings: the texts are citizens' and agencies' words."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import partial
from typing import Any
from xml.etree import ElementTree as ET  # only builds XML: nothing is ever parsed with it

from aiohttp import web

FORMATS = frozenset({"json", "xml"})
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'
# a list's element -> the element of each of its items
ITEM_NAMES: Mapping[str, str] = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}
# Characters XML 1.0 cannot carry at all (escaping does not help); our texts are cleaned on the way in, this
# keeps an answer well-formed whatever an older row holds.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for name, inner in value.items():
            _fill(ET.SubElement(element, name), inner)
    elif isinstance(value, list):
        for item in value:
            _fill(ET.SubElement(element, ITEM_NAMES[element.tag]), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value: Any) -> str:
    element = ET.Element(root)
    _fill(element, value)
    return XML_DECLARATION + ET.tostring(element, encoding="unicode")


def answer(value: Any, root: str, fmt: str, status: int = 200) -> web.Response:
    """`value` (lists and dicts of plain values) in `fmt`; `root`: the XML document element."""
    if fmt == "xml":
        return web.Response(text=to_xml(root, value), status=status, content_type="text/xml", charset="utf-8")
    return web.json_response(value, status=status, dumps=partial(json.dumps, ensure_ascii=False))


def errors(status: int, descriptions: list[str], fmt: str) -> web.Response:
    """The spec's error list: [{"code": status, "description": ...}], one per problem."""
    listed = [{"code": status, "description": d} for d in descriptions]
    return answer(listed, "errors", fmt if fmt in FORMATS else "json", status)
