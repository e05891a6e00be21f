"""Printable handouts: one card per participant with their name, join link and its QR code.

    python -m access.handouts join-links.json [--event NAME] [--wifi TEXT] [--agenda TEXT]
                              [--out out/handouts] [--no-pdf]

join-links.json is a list of {"id", "name", "email" (optional), "link"}. Writes, in --out:
  handouts.html  A4 sheets of CARDS_PER_PAGE cards (print CSS; QR codes as inline SVG)
  handouts.pdf   the same, printed by headless Chromium (skipped with --no-pdf)
  handouts.csv   name, email, link: for a mail merge

The QR codes come from segno (error correction M). Every string from the roster is escaped.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import math
import shutil
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import segno

CARDS_PER_PAGE = 6  # 2 x 3 on A4: big enough to cut apart and to scan from a phone
CSV_FIELDS = ("name", "email", "link")
ENTRY_KEYS = ("id", "name", "email", "link")


@dataclass(frozen=True)
class Handout:
    id: str
    name: str
    link: str
    email: str | None = None


class HandoutError(ValueError):
    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("cannot write handouts:\n" + "\n".join(f"  - {p}" for p in problems))


def _link_problem(link: object) -> str | None:
    if not isinstance(link, str) or not link:
        return "has no link"
    parts = urllib.parse.urlsplit(link)
    local = parts.scheme == "http" and parts.hostname == "127.0.0.1"  # the rehearsal's portal
    if not (parts.scheme == "https" or local) or not parts.netloc:
        return f"link {link[:40]!r}... is not an https:// address"
    return None


def parse(entries: object) -> list[Handout]:
    """Handouts from a list of mappings; reports every problem at once, naming the entry."""
    if not isinstance(entries, list) or not entries:
        raise HandoutError(["expected a non-empty list of {id, name, email, link}"])
    problems, handouts, seen = [], [], set()
    for position, entry in enumerate(entries, start=1):
        label = f"entry {position}"
        if not isinstance(entry, dict):
            problems.append(f"{label}: must be an object with id, name and link")
            continue
        label += f" ({entry.get('id')!r})"
        before = len(problems)
        problems += [f"{label}: unknown key {k!r}" for k in entry if k not in ENTRY_KEYS]
        for key in ("id", "name"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                problems.append(f"{label}: '{key}' is required text")
        if entry.get("email") is not None and not isinstance(entry["email"], str):
            problems.append(f"{label}: 'email' must be text")
        link_problem = _link_problem(entry.get("link"))
        if link_problem:
            problems.append(f"{label}: {link_problem}")
        if entry.get("id") in seen:
            problems.append(f"{label}: id appears twice")
        seen.add(entry.get("id"))
        if len(problems) == before:
            handouts.append(Handout(entry["id"], entry["name"].strip(), entry["link"],
                                    entry.get("email")))
    if problems:
        raise HandoutError(problems)
    return handouts


STYLE = """
@page{size:A4;margin:10mm}
*{box-sizing:border-box}
body{margin:0;font:11pt/1.35 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#000;background:#fff}
.sheet{display:grid;grid-template-columns:1fr 1fr;grid-auto-rows:90mm;gap:0;width:190mm;break-after:page;page-break-after:always}
.sheet:last-child{break-after:auto;page-break-after:auto}
.card{border:1px dashed #999;padding:6mm;display:flex;flex-direction:column;align-items:center;justify-content:space-between;break-inside:avoid;overflow:hidden}
.event{font-size:9pt;color:#444;text-transform:uppercase;letter-spacing:.05em}
.name{font-size:15pt;font-weight:700;text-align:center;overflow-wrap:anywhere;margin:1mm 0}
.qr{width:42mm;height:42mm;image-rendering:pixelated}
.link{font:8pt/1.2 ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere;text-align:center}
.notes{font-size:8pt;color:#333;text-align:center;white-space:pre-line}
@media screen{body{background:#eee}.sheet{background:#fff;margin:5mm auto}}
"""


def qr_data_uri(link: str) -> str:
    return segno.make(link, error="m", micro=False).svg_data_uri(scale=4, border=4)


def card_html(handout: Handout, event: str, notes: str) -> str:
    e = html.escape
    return (f'<div class="card" data-participant="{e(handout.id)}">'
            f'<div class="event">{e(event)} workshop</div>'
            f'<div class="name">{e(handout.name)}</div>'
            f'<img class="qr" alt="QR code of your join link" src="{qr_data_uri(handout.link)}">'
            f'<div class="link">{e(handout.link)}</div>'
            + (f'<div class="notes">{e(notes)}</div>' if notes else "")
            + "</div>")


def notes_text(wifi: str | None, agenda: str | None) -> str:
    return "\n".join(t for t in (f"Wi-Fi: {wifi}" if wifi else "", agenda or "") if t)


def page_html(handouts: Sequence[Handout], event: str, wifi: str | None = None,
              agenda: str | None = None) -> str:
    notes = notes_text(wifi, agenda)
    sheets = [handouts[i:i + CARDS_PER_PAGE] for i in range(0, len(handouts), CARDS_PER_PAGE)]
    body = "".join('<section class="sheet">' + "".join(card_html(h, event, notes) for h in sheet)
                   + "</section>" for sheet in sheets)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(event)} handouts</title><style>{STYLE}</style></head>"
            f"<body>{body}</body></html>")


def pages_expected(count: int) -> int:
    return math.ceil(count / CARDS_PER_PAGE)


def write_csv(handouts: Sequence[Handout], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_FIELDS)
        for h in handouts:
            writer.writerow([h.name, h.email or "", h.link])


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def print_pdf(html_path: Path, pdf_path: Path, browser: str) -> None:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", f"--user-data-dir={profile}",
             "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()],
            capture_output=True, text=True, timeout=180, check=False)
    if result.returncode != 0 or not pdf_path.exists():
        raise RuntimeError(f"chromium could not print {html_path}: {result.stderr[-500:]}")


def write(handouts: Sequence[Handout], out: Path, event: str, wifi: str | None = None,
          agenda: str | None = None, pdf: bool = True) -> dict[str, Path]:
    """Write the handouts; returns {"html", "csv", "pdf"?: path}."""
    out.mkdir(parents=True, exist_ok=True)
    written = {"html": out / "handouts.html", "csv": out / "handouts.csv"}
    written["html"].write_text(page_html(handouts, event, wifi, agenda), encoding="utf-8")
    write_csv(handouts, written["csv"])
    if pdf:
        browser = chromium()
        if browser is None:
            raise RuntimeError("no chromium to print the PDF: `apt-get install chromium`, "
                               "or pass --no-pdf and print handouts.html from a browser")
        written["pdf"] = out / "handouts.pdf"
        print_pdf(written["html"], written["pdf"], browser)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m access.handouts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("links", type=Path, help="JSON list of {id, name, email, link}")
    parser.add_argument("--event", default="aim368", help="event name printed on each card")
    parser.add_argument("--wifi", help="Wi-Fi text printed on each card")
    parser.add_argument("--agenda", help="agenda text printed on each card")
    parser.add_argument("--out", type=Path, default=Path("out/handouts"))
    parser.add_argument("--no-pdf", action="store_true", help="write only the HTML and CSV")
    args = parser.parse_args(argv)
    try:
        handouts = parse(json.loads(args.links.read_text(encoding="utf-8")))
        written = write(handouts, args.out, args.event, args.wifi, args.agenda,
                        pdf=not args.no_pdf)
    except (OSError, ValueError, RuntimeError) as error:
        print(error, file=sys.stderr)
        return 2
    for kind, path in written.items():
        print(f"{kind}: {path}")
    print(f"{len(handouts)} cards on {pages_expected(len(handouts))} A4 page(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
