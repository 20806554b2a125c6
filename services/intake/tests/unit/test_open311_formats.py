"""Open311 answers as XML and JSON: the spec's element names, UTF-8, user text always escaped."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from intake.open311.formats import answer, errors, to_xml


def parsed(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own renderer's output, in a test


def test_lists_take_the_specs_item_names_and_values_their_xml_spelling() -> None:
    text = to_xml("services", [{"service_code": "rac-thai", "metadata": False, "description": None}])
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<services><service>')
    root = parsed(text)
    assert root.findtext("service/service_code") == "rac-thai"
    assert root.findtext("service/metadata") == "false"
    assert root.findtext("service/description") == ""


def test_markup_in_user_text_stays_text() -> None:
    """A description that looks like XML cannot add elements to the answer."""
    evil = '</description><status>closed</status><!-- "&' + "'"
    root = parsed(to_xml("service_requests", [{"description": evil, "status": "open"}]))
    assert root.findtext("request/description") == evil
    assert [e.tag for e in root.find("request") or []] == ["description", "status"]
    assert root.findtext("request/status") == "open"


def test_characters_xml_cannot_carry_are_dropped_not_fatal() -> None:
    root = parsed(to_xml("service_requests", [{"description": "a\x00b\x1bc\ufffed"}]))
    assert root.findtext("request/description") == "abcd"


def test_error_lists_in_both_formats() -> None:
    as_json = errors(403, ["api_key không hợp lệ."], "json")
    assert as_json.status == 403
    assert as_json.text is not None
    assert json.loads(as_json.text) == [{"code": 403, "description": "api_key không hợp lệ."}]
    as_xml = errors(400, ["a", "b"], "xml")
    assert as_xml.content_type == "text/xml"
    assert as_xml.charset == "utf-8"
    assert as_xml.text is not None
    root = parsed(as_xml.text)
    assert [(e.findtext("code"), e.findtext("description")) for e in root] == [("400", "a"), ("400", "b")]
    assert errors(404, ["x"], "yaml").content_type == "application/json"  # an unknown format is answered in JSON


def test_json_keeps_vietnamese_readable() -> None:
    response = answer([{"service_name": "Rác thải"}], "services", "json")
    assert response.text == '[{"service_name": "Rác thải"}]'
