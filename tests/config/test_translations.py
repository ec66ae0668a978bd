"""The translation catalogues: complete, compiled by the install step with no system gettext."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from foundation.translations import LOCALE_DIR, catalog_problems, compile_catalogs, po_files


def test_every_offered_language_but_english_has_a_catalogue():
    offered = {code for code, _name in settings.LANGUAGES} - {"en"}
    have = {translation.to_language(path.parts[-3]) for path in po_files()}
    assert offered <= have


@pytest.mark.parametrize("po_path", po_files(), ids=lambda path: path.parts[-3])
def test_the_catalogue_has_no_untranslated_or_fuzzy_entry(po_path):
    assert catalog_problems(po_path) == []


def test_catalog_problems_names_untranslated_and_fuzzy_entries(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Copy code"\nmsgstr "复制优惠码"\n\n'
        'msgid "Next"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Previous"\nmsgstr "上一个"\n',
        encoding="utf-8",
    )
    assert catalog_problems(po) == [
        "django.po line 8: 'Next' is not translated",
        "django.po line 12: 'Previous' is fuzzy",
    ]


def test_the_install_step_compiles_with_python_alone(tmp_path):
    """No msgfmt on the PATH: the script compiles from Babel, and Django reads the result."""
    locale = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, locale, ignore=shutil.ignore_patterns("*.mo"))
    written = compile_catalogs(locale)
    assert {path.with_suffix(".po") for path in written} == set(po_files(locale))
    result = subprocess.run(
        [sys.executable, "-m", "foundation.translations"],
        cwd=Path(settings.BASE_DIR),
        env={"PATH": "/nonexistent"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_django_reads_the_compiled_chinese_catalogue():
    with translation.override("zh-hans"):
        assert str(translation.gettext("Referral promo codes")) == "推荐优惠码"
