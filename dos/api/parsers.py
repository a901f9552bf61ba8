"""JSON parsing for the API: strings must be storable text.

PostgreSQL text cannot hold NUL, and a lone surrogate ("\\ud800" is valid JSON) has no UTF-8 form;
either would otherwise fail deep inside a write as a server error. They are refused here, with the
path of the offending field, as 400 malformed_request.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains invalid Unicode (a lone surrogate)"
    return None


def _check(value, path: str) -> None:
    if isinstance(value, str):
        problem = _bad_text(value)
        if problem:
            raise ParseError(f"The text at '{path or '$'}' {problem}.")
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _bad_text(key):
                raise ParseError(f"A key in '{path or '$'}' {_bad_text(key)}.")
            _check(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check(data, "")
        return data
