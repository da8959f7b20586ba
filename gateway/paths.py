"""Request-path normalisation, done once before any route is matched.

The gateway matches, authenticates and forwards the same string: the path
returned by :func:`normalise`. An upstream therefore never sees a path that
means something other than what the gateway authorised. Anything ambiguous is
refused with a 400 rather than guessed at:

- ``.`` and ``..`` segments, also when percent-encoded (``%2e%2e``) or followed
  by matrix parameters (``..;x``), and segments that end in a dot (``admin.``),
  which some servers and file systems strip;
- encoded slashes and backslashes (``%2f``, ``%5c``), literal backslashes,
  an encoded percent sign (``%25``, the door to double decoding), malformed
  escapes;
- NUL, control and raw non-ASCII bytes, and paths longer than ``MAX_PATH``.

Doubled slashes are collapsed (``/api//x`` is ``/api/x``), since no route
can be told apart by them. Escapes of unreserved characters are decoded
(``%41`` is ``A``), other escapes are kept with upper-case hex. Matching is
case-sensitive: ``/API/x`` is a different path from ``/api/x``.
"""

from __future__ import annotations

import re

from tawa.errors import TawaError

MAX_PATH = 2048

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_ESCAPE = re.compile(rb"%(..)?")
_UNSAFE_BYTE = re.compile(rb"[^\x21-\x7e]|\\")
_HEX = frozenset(b"0123456789abcdefABCDEF")
# Decoded bytes that must never appear inside a segment.
_FORBIDDEN_DECODED = frozenset([0x2F, 0x5C, *range(0x20), 0x7F])


class BadPath(TawaError):
    """The request path is ambiguous or unsafe; it is refused, never guessed."""

    code = "bad_path"
    status = 400


def normalise(raw: bytes) -> str:
    """The canonical form of a raw request path, or :class:`BadPath`."""
    if len(raw) > MAX_PATH:
        raise BadPath(f"the request path is longer than {MAX_PATH} bytes")
    if not raw.startswith(b"/"):
        raise BadPath("the request path must start with '/'")
    if _UNSAFE_BYTE.search(raw):
        raise BadPath("the request path holds a backslash, a control or a non-ASCII byte")

    segments = [_segment(part) for part in raw.split(b"/") if part]
    path = "/" + "/".join(segments)
    if raw.endswith(b"/") and segments:
        path += "/"
    return path


def _segment(part: bytes) -> str:
    decoded = (_ESCAPE.sub(_unescape, part) if b"%" in part else part).decode("ascii")
    bare = decoded.split(";", 1)[0]
    if bare in (".", "..") or bare.endswith("."):
        raise BadPath("the request path holds a dot segment or a segment ending in a dot")
    return decoded


def _unescape(match: re.Match[bytes]) -> bytes:
    digits = match.group(1)
    if digits is None or not (digits[0] in _HEX and digits[1] in _HEX):
        raise BadPath("the request path holds a malformed percent-escape")
    value = int(digits, 16)
    if value in _FORBIDDEN_DECODED:
        raise BadPath("the request path holds an encoded slash, backslash or control character")
    if value == 0x25:
        raise BadPath("the request path holds a double-encoded character")
    if value in _UNRESERVED:
        return bytes([value])
    return b"%" + digits.upper()
