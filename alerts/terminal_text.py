"""Making outside text safe to print on a terminal or write to a log line.

Alert labels, annotations, PagerDuty event types, delivery errors and bodies are chosen
by whoever sent them. A terminal obeys the escape sequences in what it prints: OSC 52
writes the clipboard, CSI 2J clears the screen, others retitle the window or hide what
follows. A log line ends at a newline, so an outside `\\n2026-01-01 ERROR ...` forges a
record. Every control character (C0, DEL, C1) and every invisible format character that
reorders or hides text (bidi overrides, zero-width characters) is therefore shown as a
Python-style escape, so what is printed is visible, one line, and inert.
"""

from __future__ import annotations

import unicodedata


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\n":
        return "\\n"
    if char == "\r":
        return "\\r"
    if char == "\t":
        return "\\t"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _unsafe(char: str) -> bool:
    # Cc: C0 controls, DEL and C1 controls (ESC, CSI, OSC...); Cf: bidi overrides and
    # isolates, zero-width joiners and spaces, the BOM; Zl/Zp: Unicode line breaks, which
    # some terminals and log viewers also end a line at.
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp")


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """`text` with every control or invisible format character shown as an escape.

    `keep_newlines` keeps `\\n` (and only that) for text the bot laid out in lines itself;
    outside values printed within one line are escaped without it.
    """
    if text.isprintable():
        return text  # the common case: no Other (Cc, Cf...) and no Separator but " "
    return "".join(
        _escape(c) if _unsafe(c) and not (keep_newlines and c == "\n") else c for c in text
    )
