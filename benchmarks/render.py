"""Rendering benchmark: how long Markdown takes to become the HTML every adapter sends.

Ours (markdown-it-py with our rules, then nh3's sanitiser) against the baseline of a bare
markdown-it-py render with nothing removed, on bodies of 64 KiB, 1 MiB and 4 MiB (the largest
article the API accepts), CJK and Latin prose with emphasis and links. The ratio is the cost
of making any pasted body safe; both must grow linearly (the 4 MiB row ≈ 4 × the 1 MiB row).
Run: .venv/bin/python benchmarks/render.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from markdown_it import MarkdownIt

from contenthub.platforms.render import markdown_to_html

PARAGRAPH = "段落 paragraph with **bold**, `code` and a [link](https://example.com).\n\n"
SIZES = {"64 KiB": 64 * 1024, "1 MiB": 1024 * 1024, "4 MiB": 4 * 1024 * 1024}


def _seconds(render: Callable[[str], str], body: str) -> float:
    started = time.perf_counter()
    render(body)
    return time.perf_counter() - started


def main() -> None:
    bare = MarkdownIt("commonmark").render
    print(f"{'body':>8} | {'ours (s)':>9} | {'bare markdown-it (s)':>20} | {'ours / bare':>11}")
    print(f"{'-' * 8}-+-{'-' * 9}-+-{'-' * 20}-+-{'-' * 11}")
    for label, size in SIZES.items():
        body = (PARAGRAPH * (size // len(PARAGRAPH) + 1))[:size]
        ours = min(_seconds(markdown_to_html, body) for _ in range(3))
        baseline = min(_seconds(bare, body) for _ in range(3))
        print(f"{label:>8} | {ours:9.3f} | {baseline:20.3f} | {ours / baseline:10.2f}×")


if __name__ == "__main__":
    main()
