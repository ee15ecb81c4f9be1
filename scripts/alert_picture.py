#!/usr/bin/env python3
"""Draws docs/alert.svg, the README's picture of an alert, from the demo's
own output: `cargo run --example demo` prints what it would post, and the
first message is drawn as a chat bubble. Run it again when the rendering of
alerts changes, so that the picture stays true.

Usage (from the repository root): python3 scripts/alert_picture.py
"""

import html
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "alert.svg"

# Lines whose text is bold in the chat (the HTML the crate sends makes the
# heading, the message and the section titles bold).
BOLD_PREFIXES = ("🔴", "🟠", "🔵", "💥", "Fields", "Span trace")


def first_message(output: str) -> list[str]:
    """The lines of message #1 as the demo printed them."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "message #1" in line)
    body = []
    for line in lines[start + 1 :]:
        if line.startswith("────────"):
            break
        body.append(line)
    while body and not body[-1].strip():
        body.pop()
    return body


def svg(lines: list[str]) -> str:
    line_height, pad, width = 22, 18, 640
    height = pad * 2 + line_height * len(lines)
    rows = []
    for number, line in enumerate(lines):
        y = pad + line_height * (number + 1) - 6
        weight = "bold" if line.startswith(BOLD_PREFIXES) or number == 2 else "normal"
        rows.append(
            f'<text x="{pad}" y="{y}" font-weight="{weight}" xml:space="preserve">'
            f"{html.escape(line)}</text>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 20}" height="{height + 20}" '
        f'font-family="-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif" font-size="15">\n'
        f'<rect x="10" y="10" rx="14" width="{width}" height="{height}" fill="#ffffff" stroke="#d0d7de"/>\n'
        f'<g transform="translate(10 10)" fill="#1f2328">\n' + "\n".join(rows) + "\n</g>\n</svg>\n"
    )


def main() -> int:
    demo = subprocess.run(
        ["cargo", "run", "-q", "--example", "demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "MONITORING_"))} | {"NO_COLOR": "1"},
    )
    if demo.returncode != 0:
        sys.stderr.write(demo.stderr)
        return demo.returncode
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(svg(first_message(demo.stdout)), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
