"""Small builders for test inputs, and a record of every path a piece of code opens."""

from __future__ import annotations

import os
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

_recorders: list[list[str]] = []
_hook_lock = threading.Lock()
_hooked = False
# What reads a file or a folder: io.open / pathlib / os.open raise "open"; listing a folder
# raises "os.scandir" or "os.listdir" (https://docs.python.org/3/library/audit_events.html).
_READ_EVENTS = {"open", "os.scandir", "os.listdir"}


def _audit(event: str, args: tuple) -> None:
    if _recorders and event in _READ_EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.fsdecode(args[0])
        for recorder in _recorders:
            recorder.append(path)


@contextmanager
def paths_opened() -> Iterator[list[str]]:
    """Every path opened or listed by this process while inside (absolute, as opened), from the
    interpreter's audit events: whatever the code uses to read, it cannot go unrecorded."""
    global _hooked
    with _hook_lock:
        if not _hooked:  # an audit hook cannot be removed: it is added once, and records only inside
            sys.addaudithook(_audit)
            _hooked = True
    opened: list[str] = []
    _recorders.append(opened)
    try:
        yield opened
    finally:
        _recorders.remove(opened)


def minimal_pdf(lines: list[str], compress: bool = False) -> bytes:
    """A valid one-page PDF showing `lines` in Helvetica (no PDF library needed to write it);
    with `compress`, its page is a Flate stream, as most PDFs have it (far smaller than its text)."""
    body = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*" for line in lines
    ) + " ET"
    if compress:
        stream = zlib.compress(body.encode("latin-1")).decode("latin-1")
        content = f"<< /Length {len(stream)} /Filter /FlateDecode >>\nstream\n{stream}\nendstream"
    else:
        content = f"<< /Length {len(body)} >>\nstream\n{body}\nendstream"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        content,
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
