import pytest
from django.core.management import CommandError, call_command

from programs.models import CodeUsage, Program

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("create_program", *args, stdout=out)
    return out.getvalue()


def test_single_use_program_with_all_options():
    out = run(
        "acme",
        "--name",
        "Acme Shoes",
        "--single-use",
        "--codes-per-advocate",
        "5",
        "--low-stock-threshold",
        "40",
        "--notify",
        "ops@acme.test",
        "stock@acme.test",
    )
    program = Program.objects.get(slug="acme")
    assert (program.name, program.code_usage, program.codes_per_advocate) == (
        "Acme Shoes",
        CodeUsage.SINGLE,
        5,
    )
    assert program.promo_codes_enabled and program.low_stock_threshold == 40
    assert program.recipient_list == ["ops@acme.test", "stock@acme.test"]
    assert out.count("\n") == 1 and "single-use, 5 per advocate" in out


def test_multi_use_flag_turns_promo_codes_on_and_no_flag_leaves_them_off():
    run("multi", "--multi-use")
    run("plain")
    assert Program.objects.get(slug="multi").promo_codes_enabled
    assert not Program.objects.get(slug="plain").promo_codes_enabled


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--single-use", "--codes-per-advocate", "26"], "1 to 25"),
        (["x", "--multi-use", "--codes-per-advocate", "3"], "--single-use programs only"),
        (["x", "--multi-use", "--notify", "nobody"], "Not an e-mail address: nobody"),
        (["x", "--low-stock-threshold", "-1"], "cannot be negative"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Program.objects.filter(slug="x").exists()


def test_an_existing_slug_is_refused():
    run("acme")
    with pytest.raises(CommandError, match="already exists"):
        run("acme", "--single-use")
    assert not Program.objects.get(slug="acme").promo_codes_enabled
