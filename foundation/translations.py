"""The translation catalogues: compiled from their `.po` files by the install step, with Babel.

Django's own `compilemessages` runs GNU gettext's `msgfmt`, a system package; Babel is a Python
package installed from uv.lock, so `make install` (and a deploy's build step) compiles every
`locale/<language>/LC_MESSAGES/*.po` into the `.mo` Django reads with nothing else installed.
A fuzzy or untranslated entry is left out of the `.mo` (English shows) and `catalog_problems`
names it; the test suite fails on any.

Run as a script: `python -m foundation.translations` compiles the catalogues under `locale/`.
"""

import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def po_files(locale_dir=LOCALE_DIR):
    return sorted(Path(locale_dir).glob("*/LC_MESSAGES/*.po"))


def read_catalog(po_path):
    with open(po_path, "rb") as handle:
        return read_po(handle, locale=None, abort_invalid=True)


def compile_catalogs(locale_dir=LOCALE_DIR, *, only_stale=False):
    """Write each `.po`'s `.mo` beside it; returns the `.mo` files written."""
    written = []
    for po_path in po_files(locale_dir):
        mo_path = po_path.with_suffix(".mo")
        if only_stale and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        catalog = read_catalog(po_path)
        tmp_path = mo_path.with_suffix(".mo.tmp")
        with open(tmp_path, "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        tmp_path.replace(mo_path)
        written.append(mo_path)
    return written


def catalog_problems(po_path):
    """Each entry of a `.po` that would show in English: untranslated, fuzzy, or a plural form
    left empty. One sentence each, naming the line and the message."""
    problems = []
    for message in read_catalog(po_path):
        if not message.id:
            continue  # the header
        msgid = message.id[0] if isinstance(message.id, tuple | list) else message.id
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        where = f"{po_path.name} line {message.lineno}: {msgid!r}"
        if message.fuzzy:
            problems.append(f"{where} is fuzzy")
        elif not all(strings):
            problems.append(f"{where} is not translated")
    return problems


if __name__ == "__main__":
    for path in compile_catalogs(only_stale="--stale" in sys.argv[1:]):
        print(f"compiled {path.relative_to(LOCALE_DIR.parent)}")
