"""Platform exports read right: Shopify, WooCommerce, Stripe and Voucherify files built with their
real column names give exactly their usable codes, the rest skipped and counted by reason; the
header priority; choosing the codes' column (--column, --no-header) and the refusal of a file
whose first row names no code column."""

import csv
import datetime
import io

import pytest
from django.core.management import CommandError, call_command

from codes.models import Batch, PromoCode
from codes.parsing import NoCodeColumn, read_rows
from codes.services import pool_get_or_create_referral
from tests.codes import files
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
PAST = "2020-01-01"
PAST_EPOCH = "1577836800"  # 2020-01-01T00:00:00Z
FUTURE_EPOCH = "4102444800"  # 2100-01-01T00:00:00Z


def table(rows):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


# Shopify's discount-code export: Code, Status (Active, Expired, Scheduled…), Usage count.
SHOPIFY = table(
    [
        ["Code", "Title", "Status", "Usage count", "Starts at", "Ends at"],
        ["SHOP-A", "Friends 10%", "Active", "0", "2024-01-01", ""],
        ["SHOP-B", "Friends 10%", "Active", "1", "2024-01-01", ""],
        ["SHOP-C", "Friends 10%", "Expired", "0", "2024-01-01", "2024-02-01"],
        ["SHOP-D", "Friends 10%", "Active", "0", "2024-01-01", PAST],
        ["SHOP-E", "Friends 10%", "Scheduled", "0", "2099-01-01", "2099-12-31"],
        ["SHOP-F", "Friends 10%", "Disabled", "0", "2024-01-01", ""],
    ]
)
# WooCommerce's coupons (shop_coupon posts): post_title is the code, only `publish` is live,
# date_expires in Unix seconds.
WOOCOMMERCE = table(
    [
        [
            "ID",
            "post_title",
            "post_excerpt",
            "post_status",
            "discount_type",
            "coupon_amount",
            "usage_count",
            "usage_limit",
            "date_expires",
        ],
        ["11", "woo-a", "Friends", "publish", "percent", "10", "0", "1", ""],
        ["12", "woo-b", "Friends", "draft", "percent", "10", "0", "1", ""],
        ["13", "woo-c", "Friends", "publish", "percent", "10", "1", "1", ""],
        ["14", "woo-d", "Friends", "publish", "percent", "10", "0", "1", PAST_EPOCH],
        ["15", "woo-e", "Friends", "publish", "percent", "10", "0", "", FUTURE_EPOCH],
        ["16", "woo-f", "Friends", "trash", "percent", "10", "0", "1", ""],
    ]
)
# Stripe's promotion codes (the API object): `code` is the code, `coupon` the coupon's id.
STRIPE_HEADER = "id,object,active,code,coupon,created,customer,expires_at,livemode,"
STRIPE_HEADER += "max_redemptions,times_redeemed"


def stripe(n, active, redeemed, expires=""):
    head = [f"promo_{n}", "promotion_code", active, f"STRIPE{n}", "25OFF", "1678040164", ""]
    return [*head, expires, "false", "1", redeemed]


STRIPE = table(
    [
        STRIPE_HEADER.split(","),
        stripe(1, "true", "0"),
        stripe(2, "false", "0"),
        stripe(3, "true", "1"),
        stripe(4, "true", "0", PAST_EPOCH),
        stripe(5, "true", "0", FUTURE_EPOCH),
    ]
)


# Voucherify's voucher export.
def voucherify(code, active, redeemed, expires=""):
    start = "2024-01-01T00:00:00.000Z"
    return [code, "DISCOUNT_VOUCHER", "10", "Spring", start, expires, "1", redeemed, active]


VOUCHERIFY = table(
    [
        [
            "Code",
            "Voucher Type",
            "Value",
            "Campaign",
            "Start Date",
            "Expiration Date",
            "Redemption Limit",
            "Redeemed Quantity",
            "Active",
        ],
        voucherify("VF-1", "true", "0"),
        voucherify("VF-2", "false", "0"),
        voucherify("VF-3", "true", "1"),
        voucherify("VF-4", "true", "0", "2020-01-01T00:00:00.000Z"),
        voucherify("VF-5", "true", "0", "2099-06-30T12:00:00.000Z"),
    ]
)

LAYOUTS = {
    "shopify": (
        SHOPIFY,
        "Shopify discount codes",
        {"SHOP-A": None, "SHOP-E": datetime.datetime(2100, 1, 1, tzinfo=UTC)},
        {"expired": 2, "used": 1, "inactive": 1},
    ),
    "woocommerce": (
        WOOCOMMERCE,
        "WooCommerce coupons",
        {"WOO-A": None, "WOO-E": datetime.datetime(2100, 1, 1, tzinfo=UTC)},
        {"inactive": 2, "used": 1, "expired": 1},
    ),
    "stripe": (
        STRIPE,
        "Stripe promotion codes",
        {"STRIPE1": None, "STRIPE5": datetime.datetime(2100, 1, 1, tzinfo=UTC)},
        {"inactive": 1, "used": 1, "expired": 1},
    ),
    "voucherify": (
        VOUCHERIFY,
        "Voucherify vouchers",
        {"VF-1": None, "VF-5": datetime.datetime(2099, 6, 30, 12, tzinfo=UTC)},
        {"inactive": 1, "used": 1, "expired": 1},
    ),
}


@pytest.fixture
def program():
    program = ProgramFactory(slug="shop")
    pool_get_or_create_referral(program=program)
    return program


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("name", LAYOUTS)
def test_a_platform_export_gives_exactly_its_usable_codes(program, tmp_path, capsys, name):
    data, platform, usable, skipped = LAYOUTS[name]
    layout = {}
    rows = list(read_rows(io.BytesIO(data), "csv", layout=layout))
    assert layout["platform"] == platform
    assert [r.code for r in rows] == list(usable)
    assert dict(layout["skipped"]) == skipped

    call_command("import_codes", "--program", "shop", write(tmp_path, f"{name}.csv", data))
    out = capsys.readouterr().out
    assert dict(PromoCode.objects.values_list("code", "expires_at")) == usable
    batch = Batch.objects.get()
    assert batch.skipped == skipped
    assert batch.rows_read == len(usable) + sum(skipped.values())
    assert batch.invalid_rows == 0
    if "expired" in skipped:
        assert f"{skipped['expired']} skipped: expired in the file" in out
    assert f"{skipped['used']} skipped: already used, per the file" in out


def test_a_platform_export_as_a_spreadsheet_reads_its_typed_cells(program):
    data = files.xlsx(
        [
            ("Code", "Voucher Type", "Expiration Date", "Redeemed Quantity", "Active"),
            ("vf-1", "DISCOUNT_VOUCHER", None, 0, True),
            ("vf-2", "DISCOUNT_VOUCHER", None, 0, False),
            ("vf-3", "DISCOUNT_VOUCHER", datetime.datetime(2020, 1, 1), 0, True),
            ("vf-4", "DISCOUNT_VOUCHER", datetime.datetime(2099, 1, 1), 2, True),
        ]
    )
    layout = {}
    assert [r.code for r in read_rows(io.BytesIO(data), "xlsx", layout=layout)] == ["VF-1"]
    assert dict(layout["skipped"]) == {"inactive": 1, "expired": 1, "used": 1}


def test_a_platform_export_with_every_row_skipped_is_read_not_refused(program, tmp_path):
    data = table(
        [["Code", "Status", "Usage count"], ["OLD1", "Expired", "0"], ["OLD2", "Active", "3"]]
    )
    call_command("import_codes", "--program", "shop", write(tmp_path, "s.csv", data))
    batch = Batch.objects.get()
    assert (batch.codes_added, batch.rows_read) == (0, 2)
    assert batch.skipped == {"expired": 1, "used": 1}


@pytest.mark.parametrize(
    ("header", "read"),
    [
        (["id", "coupon", "code"], "code"),
        (["coupon", "promo code"], "promo code"),
        (["Coupon", "Discount Code"], "Discount Code"),
        (["voucher", "Voucher Code"], "Voucher Code"),
        (["coupon", "redeem_code"], "redeem_code"),
        (["ID", "discount_code"], "discount_code"),
        (["id", "coupon"], "coupon"),
    ],
)
def test_header_priority(header, read):
    values = {name: f"{name.replace(' ', '').replace('_', '')}1" for name in header}
    data = table([header, [values[name] for name in header]])
    layout = {}
    [row] = read_rows(io.BytesIO(data), "csv", layout=layout)
    assert layout["header"] == read
    assert row.code == values[read].upper()


TITLED = files.text(["Title,Note", "abc1,first", "abc2,second"])


def test_a_first_row_naming_no_code_column_is_refused_with_the_way_out(program, tmp_path):
    path = write(tmp_path, "t.csv", TITLED)
    with pytest.raises(CommandError) as refused:
        call_command("import_codes", "--program", "shop", path)
    message = str(refused.value)
    assert "No code column: the first row (Title, Note) is not a code" in message
    assert "--column NAME or --column NUMBER" in message
    assert "(the columns are 1 “Title”, 2 “Note”)" in message
    assert "or pass --no-header if the first row is a code. Nothing was imported." in message
    assert not Batch.objects.exists()
    with pytest.raises(NoCodeColumn):
        list(read_rows(io.BytesIO(files.text(["Title", "abc1"])), "txt"))


@pytest.mark.parametrize("column", ["Title", "title", "1"])
def test_column_by_name_or_number(program, tmp_path, column):
    path = write(tmp_path, "t.csv", TITLED)
    call_command("import_codes", "--program", "shop", "--column", column, path)
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["ABC1", "ABC2"]


def test_column_number_two_reads_the_second_column(program, tmp_path):
    path = write(tmp_path, "t.csv", files.text(["code,alt", "abc1,xyz1", "abc2,xyz2"]))
    call_command("import_codes", "--program", "shop", "--column", "2", path)
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["XYZ1", "XYZ2"]


def test_no_header_reads_the_first_row_as_a_code(program, tmp_path):
    path = write(tmp_path, "t.txt", files.text(["Title", "abc1"]))
    call_command("import_codes", "--program", "shop", "--no-header", path)
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == ["ABC1", "TITLE"]


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ("Promo", "No column named “Promo”: the columns are 1 “Title”, 2 “Note”."),
        ("3", "No column 3: the file has 2 columns (1 “Title”, 2 “Note”)."),
        ("0", "--column 0: columns are numbered from 1."),
    ],
)
def test_a_bad_column_is_a_clear_error_listing_the_columns(program, tmp_path, column, message):
    path = write(tmp_path, "t.csv", TITLED)
    with pytest.raises(CommandError) as refused:
        call_command("import_codes", "--program", "shop", "--column", column, path)
    assert message in str(refused.value)
    assert not Batch.objects.exists()
