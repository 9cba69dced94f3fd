"""The docs agree with the code: the settings tables list exactly the variables the code reads,
the README stays short, and every relative link in the docs leads somewhere.

Pure: reads files and imports the settings dataclass; no Redis, no subprocess.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from app.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SETTINGS_PAGE = DOCS / "settings.md"
README = ROOT / "README.md"
README_MAX_BYTES = 12 * 1024

VARIABLE = re.compile(r"JOBGATE_[A-Z0-9_]+")
# Heading of the table of variables jobgate sets for its own pool processes.
INTERNAL_HEADING = "set by jobgate itself"
# Settings fields that are not a JOBGATE_<FIELD> variable: redis_url is read as REDIS_URL.
NOT_JOBGATE_FIELDS = {"redis_url"}


def _code_files() -> list[Path]:
    files = [p for top in ("app", "workers") for p in sorted((ROOT / top).rglob("*.py"))]
    files += [ROOT / "deploy" / "gunicorn.conf.py", ROOT / "Procfile", ROOT / "Makefile"]
    return [p for p in files if p.is_file()]


def _wanted(name: str) -> bool:
    return not name.endswith("_") and not name.startswith("JOBGATE_TEST_")


def variables_read_by_code() -> set[str]:
    names = {"REDIS_URL"}
    for path in _code_files():
        names |= {n for n in VARIABLE.findall(path.read_text()) if _wanted(n)}
    names |= {"JOBGATE_" + f.name.upper() for f in fields(Settings) if f.name not in NOT_JOBGATE_FIELDS}
    return names


def variables_written_by_code() -> set[str]:
    """JOBGATE_* names the Python code assigns into an environment (``environ[NAME] = ...``),
    written literally or through a module constant such as ``ASSIGNMENT_ENV = "JOBGATE_..."``."""
    texts = [p.read_text() for p in _code_files() if p.suffix == ".py"]
    constants = {
        m[0]: m[1]
        for text in texts
        for m in re.findall(r"^\s*([A-Z][A-Z0-9_]*)\s*(?::[^=]+)?=\s*[\"'](JOBGATE_[A-Z0-9_]+)[\"']", text, re.M)
    }
    written = set()
    for text in texts:
        for target in re.findall(r"environ\[\s*([^\]]+?)\s*\]\s*=(?!=)", text):
            literal = re.fullmatch(r"[\"'](JOBGATE_[A-Z0-9_]+)[\"']", target)
            name = literal.group(1) if literal else constants.get(target.rpartition(".")[2])
            if name and _wanted(name):
                written.add(name)
    return written


def documented_variables() -> tuple[list[str], list[str]]:
    """Variables in the first column of the settings page's tables: (main tables, internal table)."""
    main: list[str] = []
    internal: list[str] = []
    heading = ""
    in_code = False
    for line in SETTINGS_PAGE.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if line.startswith("#"):
            heading = line.lstrip("#").strip().lower()
            continue
        if not line.startswith("|"):
            continue
        first = line.strip().strip("|").split("|")[0].strip()
        if first in ("Variable",) or set(first) <= set("-: "):
            continue  # the header row and its separator
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", first)
        assert len(names) == 1, f"docs/settings.md: one variable per row, got {first!r}"
        (internal if INTERNAL_HEADING in heading else main).append(names[0])
    return main, internal


def test_settings_tables_list_exactly_what_the_code_reads() -> None:
    main, internal = documented_variables()
    documented = main + internal
    duplicates = sorted({n for n in documented if documented.count(n) > 1})
    assert not duplicates, f"listed more than once in docs/settings.md: {duplicates}"
    expected = variables_read_by_code()
    missing = sorted(expected - set(documented))
    extra = sorted(set(documented) - expected)
    assert not missing and not extra, f"docs/settings.md is out of step with the code: missing {missing}, extra {extra}"


def test_internal_table_is_what_jobgate_sets_for_itself() -> None:
    _, internal = documented_variables()
    assert internal, "docs/settings.md has no 'Set by jobgate itself' table"
    written = variables_written_by_code()
    assert set(internal) == written, (
        f"'Set by jobgate itself' should list what the code writes into "
        f"the environment: missing {sorted(written - set(internal))}, "
        f"extra {sorted(set(internal) - written)}"
    )


def test_settings_table_columns() -> None:
    headers = [line for line in SETTINGS_PAGE.read_text().splitlines() if line.startswith("| Variable")]
    assert headers and all(
        re.fullmatch(r"\|\s*Variable\s*\|\s*Default\s*\|\s*Meaning\s*\|", h.strip()) for h in headers
    ), headers


def test_readme_is_short() -> None:
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, (
        f"README.md is {size} bytes; keep it under {README_MAX_BYTES} (move detail to docs/)"
    )


LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def _prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are not links."""
    text = re.sub(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def relative_links(path: Path) -> list[str]:
    text = _prose(path.read_text())
    targets = LINK.findall(text) + REFERENCE.findall(text)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I) and not t.startswith("#")]


def test_relative_links_lead_to_files() -> None:
    pages = [README, *sorted(DOCS.glob("*.md"))]
    assert len(pages) > 1, "docs/ has no pages"
    broken = []
    for page in pages:
        for target in relative_links(page):
            local = target.split("#", 1)[0].split("?", 1)[0]
            if not (page.parent / local).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "broken relative links:\n" + "\n".join(broken)
