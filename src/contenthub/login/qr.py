"""A login page's QR code: read from its image, drawn again for a terminal.

Decoding uses zxing-cpp; drawing uses segno's module matrix and Unicode half blocks (two
module rows per text row), with the quiet zone of four modules that scanners need."""

from __future__ import annotations

import io

import segno
import zxingcpp
from PIL import Image

QUIET_ZONE = 4
# Black on bright white whatever the terminal's own colours: a phone reads dark-on-light codes.
INK_ON_PAPER = "\x1b[30;107m"
RESET = "\x1b[0m"
_HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def decode(png: bytes) -> str | None:
    """The text of the QR code in an image, or None when none can be read."""
    image = Image.open(io.BytesIO(png))
    image.load()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return found[0].text if found else None


def terminal_drawing(text: str, *, color: bool) -> list[str]:
    """Lines that draw ``text`` as a QR code: each character is two modules, a half block
    for the dark ones. With ``color`` every line is black ink on white paper (right on dark
    and light terminals alike); without, the blocks are the dark modules (right on a light
    background; most phones also read the inverted code a dark background shows)."""
    rows = [
        [bool(module) for module in row]
        for row in segno.make(text, error="m").matrix_iter(scale=1, border=QUIET_ZONE)
    ]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = []
    for top, bottom in zip(rows[::2], rows[1::2], strict=True):
        line = "".join(_HALF_BLOCKS[pair] for pair in zip(top, bottom, strict=True))
        lines.append(f"{INK_ON_PAPER}{line}{RESET}" if color else line)
    return lines
