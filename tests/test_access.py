"""Join codes, the portal's directory and the printed handouts.

The QR codes are checked the way a phone would read them: each card is rendered by
headless Chromium and decoded by zbar (Debian's zbar-tools; .ci/run installs it).
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from access import codes, directory, handouts
from handlers import portal

BROWSER = handouts.chromium()
ZBARIMG = shutil.which("zbarimg")
needs_tools = pytest.mark.skipif(
    BROWSER is None or ZBARIMG is None,
    reason="needs chromium and zbarimg: `apt-get install chromium zbar-tools` (.ci/run does)")
HOSTILE = "<script>alert('x')</script>, \"Zoë\" O'Brien; =cmd"


# --- codes ---------------------------------------------------------------------------------

def test_codes_carry_at_least_128_bits_and_never_repeat():
    made = {codes.new_code() for _ in range(2000)}
    assert len(made) == 2000
    for code in made:
        assert codes.CODE_PATTERN.match(code)
        # token_urlsafe: 6 bits per character; 22 characters hold the 16 random bytes.
        assert len(code) * 6 >= 128


def test_the_organizer_side_hashes_with_the_portals_function():
    assert codes.code_hash is portal.code_hash


def test_rotating_changes_one_code_and_keeps_the_others():
    before = codes.missing({}, ["ada", "ada-lovelace", "bob"])
    after = codes.rotate(before, "ada")
    assert after["ada"] != before["ada"]
    assert {k: v for k, v in after.items() if k != "ada"} == {
        k: v for k, v in before.items() if k != "ada"}
    with pytest.raises(KeyError, match="no join code for 'eve'"):
        codes.rotate(before, "eve")


def test_missing_codes_are_added_and_existing_ones_kept():
    existing = {"ada": codes.new_code()}
    filled = codes.missing(existing, ["ada", "bob"])
    assert filled["ada"] == existing["ada"] and set(filled) == {"ada", "bob"}


def test_code_problems_are_all_reported_without_showing_a_code():
    shared = codes.new_code()
    found = codes.problems({"ada": shared, "bob": shared, "eve": "short", "ghost": codes.new_code()},
                           ["ada", "bob", "eve", "cy"])
    text = "\n".join(found)
    assert "'cy' has no join code" in text and "'ghost' is not in the roster" in text
    assert "'eve' is not 22-128" in text and "'ada' and 'bob' have the same join code" in text
    assert shared not in text


# --- the directory -------------------------------------------------------------------------

def record(pid, **extra):
    return {"id": pid, "name": pid.title(), "notebook": f"e-{pid}-notebook",
            "endpoint": f"e-{pid}-endpoint", "bucket": f"e-{pid}-samples-x",
            "inference_url": f"https://api.example.com/{pid}/liveinference",
            "region": "us-east-1", "console_role_arn": f"arn:aws:iam::1:role/e-{pid}-console",
            "leaderboard_url": "https://board.example.com/", **extra}


def test_the_directory_holds_hashes_not_codes_and_the_portal_finds_each_record():
    records = {"ada": record("ada"), "ada-lovelace": record("ada-lovelace", account=None)}
    join = codes.missing({}, records)
    text = directory.directory_document(records, join)
    for code in join.values():
        assert code not in text
    document = json.loads(text)
    assert portal.directory_problems(document) == []

    class S3:
        def get_object(self, **kwargs):
            return {"Body": type("B", (), {"read": staticmethod(lambda: text.encode())})()}

    found = portal.Directory(S3(), "b", "k", 60)
    assert found.find(join["ada"])["id"] == "ada"
    assert found.find(join["ada-lovelace"])["id"] == "ada-lovelace"
    assert "account" not in found.find(join["ada-lovelace"])  # None is left out
    assert found.find(codes.new_code()) is None


def test_the_directory_refuses_what_the_portal_would_reject():
    with pytest.raises(ValueError, match="no join code for: bob"):
        directory.directory_document({"bob": record("bob")}, {})
    with pytest.raises(ValueError, match="missing or empty notebook"):
        directory.directory_document({"bob": {**record("bob"), "notebook": ""}},
                                     {"bob": codes.new_code()})
    with pytest.raises(ValueError, match="differs from their key: bob"):
        directory.directory_document({"bob": record("rob")}, {"bob": codes.new_code()})


# --- handouts ------------------------------------------------------------------------------

def people(n=3, base="https://abcdef.lambda-url.eu-west-1.on.aws/p/"):
    names = [HOSTILE, "Ada Lovelace", "Grace, \"Amazing\" Hopper"] + [f"P{i}" for i in range(n)]
    return [{"id": f"p{i}", "name": names[i], "email": f"p{i}@example.com",
             "link": base + codes.new_code()} for i in range(n)]


def test_bad_entries_are_all_reported_naming_each():
    with pytest.raises(handouts.HandoutError) as error:
        handouts.parse([{"id": "a", "name": "A", "link": "http://evil.example/p/x"},
                        {"id": "b", "link": "https://x/p/y", "colour": "red"},
                        "nonsense",
                        {"id": "a", "name": "A2", "link": "https://x/p/z"}])
    text = str(error.value)
    assert "entry 1 ('a'): link 'http://evil.example/p/x'... is not an https://" in text
    assert "entry 2 ('b'): unknown key 'colour'" in text and "entry 2 ('b'): 'name'" in text
    assert "entry 3: must be an object" in text and "entry 4 ('a'): id appears twice" in text


class Cards(HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self._field = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("class") == "card":
            self.cards.append({"id": attrs["data-participant"], "tags": []})
        elif self.cards:
            self.cards[-1]["tags"].append(tag)
            if tag == "img":
                self.cards[-1]["qr"] = attrs["src"]
            self._field = attrs.get("class")

    def handle_data(self, data):
        if self.cards and self._field in ("name", "link", "notes"):
            self.cards[-1][self._field] = self.cards[-1].get(self._field, "") + data


def test_names_are_escaped_and_each_card_shows_name_link_and_notes():
    given = handouts.parse(people())
    page = handouts.page_html(given, "aim<368>", wifi="Net & \"Guest\"", agenda="9:00 <Lab 1>")
    assert HOSTILE not in page and "<script>" not in page
    parser = Cards()
    parser.feed(page)
    assert [c["id"] for c in parser.cards] == ["p0", "p1", "p2"]
    for card, handout in zip(parser.cards, given):
        assert card["name"] == handout.name and card["link"] == handout.link
        assert card["notes"] == "Wi-Fi: Net & \"Guest\"\n9:00 <Lab 1>"
        assert card["tags"].count("script") == 0


def test_the_csv_round_trips_names_with_commas_and_quotes(tmp_path):
    given = handouts.parse(people())
    handouts.write_csv(given, tmp_path / "h.csv")
    with (tmp_path / "h.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert rows == [{"name": h.name, "email": h.email, "link": h.link} for h in given]


def test_the_command_reports_a_bad_file_without_a_traceback(tmp_path, capsys):
    bad = tmp_path / "links.json"
    bad.write_text(json.dumps([{"id": "a", "name": "A"}]))
    assert handouts.main([str(bad), "--out", str(tmp_path / "out"), "--no-pdf"]) == 2
    assert "entry 1 ('a'): has no link" in capsys.readouterr().err


def decode(png):
    result = subprocess.run([ZBARIMG, "--quiet", "--raw", str(png)], capture_output=True,
                            text=True, timeout=60, check=False)
    return [line for line in result.stdout.splitlines() if line]


def screenshot(html_path, png, tmp_path, size="800,1200"):
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / ('profile-' + png.stem)}",
                    f"--window-size={size}", f"--screenshot={png}", html_path.as_uri()],
                   capture_output=True, timeout=120, check=True)


@needs_tools
def test_every_qr_code_decodes_to_that_participants_link_and_the_pdf_has_its_pages(tmp_path):
    given = handouts.parse(people(8))
    written = handouts.write(given, tmp_path / "handouts", "aim368", wifi="aim368-guest",
                             agenda="Lab 1 at 9:00")
    parser = Cards()
    parser.feed(written["html"].read_text(encoding="utf-8"))
    assert len(parser.cards) == 8
    # Each card's QR code on its own, exactly as the page embeds it.
    for card, handout in zip(parser.cards[:3], given[:3]):
        single = tmp_path / f"{card['id']}.html"
        single.write_text(f'<!DOCTYPE html><body style="margin:20px;background:#fff">'
                          f'<img src="{card["qr"]}" width="240" height="240"></body>')
        screenshot(single, tmp_path / f"{card['id']}.png", tmp_path, "300,300")
        assert decode(tmp_path / f"{card['id']}.png") == [handout.link]
    # And every code on the page as printed, all at once.
    screenshot(written["html"], tmp_path / "page.png", tmp_path, "900,4000")
    assert sorted(decode(tmp_path / "page.png")) == sorted(h.link for h in given)
    pdf = written["pdf"].read_bytes()
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))
    assert pages == handouts.pages_expected(8) == 2
