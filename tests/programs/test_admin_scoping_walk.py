"""Every admin page, walked as a manager of program Alpha with program Bravo-Secret beside it.

The walk iterates admin.site's registry, so an admin page added later is walked too. It fails
when any page, list filter, form choice, action answer, export, autocomplete or custom view of
an admin shows Bravo-Secret's rows: its program, pools, batch file, codes, participants, orders,
widgets, API keys, alerts, webhook endpoints and deliveries, or audit entries.
"""

import io
import re
import zipfile
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.cache import cache
from django.forms import ModelChoiceField
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse

from codes.models import Batch, PromoCode
from codes.services import (
    codes_top_up,
    pool_create_fuel_tank,
    pool_get_or_create_referral,
    pool_stock_check,
)
from conversions.services import conversion_record
from participants.services import participant_upsert
from programs.admin_scoping import program_path
from programs.models import CodeUsage, Program, RewardKind, Widget
from programs.services import (
    api_key_create,
    program_create,
    program_manager_add,
    program_update,
)
from tests.factories import BatchFactory
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db

# Everything of program B carries one of these (case-insensitive) in its names.
B_MARKERS = ("bravo-secret", "bravosecret", "bravo secret")
PASSWORD = "a-long-manager-password-1"


def seed_program(name, slug, prefix):
    """A program with every kind of row an admin page lists, named after the program."""
    program = program_create(
        slug=slug,
        name=name,
        promo_codes_enabled=True,
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=2,
        low_stock_threshold=100,
        low_stock_recipients=f"{slug}-stock@example.com",
    )
    Widget.objects.filter(program=program).update(name=f"{name} default widget")
    # A webhook endpoint: the events below fill its delivery log.
    endpoint_create(
        program=program, url=f"http://127.0.0.1:9/{slug}-hook", description=f"{name} CRM"
    )
    Widget.objects.create(program=program, name=f"{name} widget")
    pool = pool_get_or_create_referral(program=program)
    batch = BatchFactory(pool=pool, file_name=f"{slug}-batch.csv")
    PromoCode.objects.bulk_create(
        PromoCode(program=program, pool=pool, batch=batch, code=f"{prefix}{i:04d}", usage="single")
        for i in range(6)
    )
    tank = pool_create_fuel_tank(program=program, name=f"{name} tank", low_stock_threshold=10)
    tank_batch = BatchFactory(pool=tank, file_name=f"{slug}-tank.csv")
    PromoCode.objects.bulk_create(
        PromoCode(
            program=program, pool=tank, batch=tank_batch, code=f"{prefix}T{i:03d}", usage="single"
        )
        for i in range(3)
    )
    program = program_update(
        program=program, reward_kind=RewardKind.CREDIT, reward_amount=Decimal("7.00")
    )
    advocate, _ = participant_upsert(
        program=program,
        participant_id=f"{slug}-advocate",
        email=f"{slug}-advocate@example.com",
        first_name=f"{name} first",
    )
    codes_top_up(holder=advocate)
    code = PromoCode.objects.filter(holder=advocate).first()
    conversion_record(
        program=program,
        payload={
            "order_id": f"{slug}-order-1",
            "promo_code": code.code,
            "customer_id": f"{slug}-friend",
            "customer_email": f"{slug}-friend@example.com",
            "order_subtotal": Decimal("50.00"),
            "currency_code": "EUR",
            "items": [
                {
                    "position": 1,
                    "sku": f"{slug}-sku",
                    "name": f"{name} shoe",
                    "quantity": 1,
                    "price": 50,
                }
            ],
        },
    )
    api_key_create(program=program, name=f"{name} key")
    pool_stock_check(pool_id=pool.pk)
    pool_stock_check(pool_id=tank.pk)
    return program


@pytest.fixture
def programs_a_and_b(db):
    alpha = seed_program("Alpha", "alpha", "ALPHA")
    bravo = seed_program("Bravo-Secret", "bravo-secret", "BRAVOSECRET")
    program_manager_add(program=alpha, username="alpha-manager", password=PASSWORD)
    program_manager_add(
        program=bravo,
        username="bravo-secret-manager",
        email="bravo-secret-manager@example.com",
        password=PASSWORD,
    )
    return alpha, bravo


@pytest.fixture
def manager(programs_a_and_b):
    return get_user_model().objects.get(username="alpha-manager")


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    found = []
    for marker in B_MARKERS:
        for match in re.finditer(re.escape(marker), lowered):
            found.append(text[max(0, match.start() - 80) : match.end() + 80])
    return found


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    if content[:2] == b"PK":  # an XLSX export: read every part of the zip
        with zipfile.ZipFile(io.BytesIO(content)) as book:
            return "".join(book.read(name).decode("utf-8", "replace") for name in book.namelist())
    return content.decode("utf-8", "replace")


def assert_no_b(response, where):
    shown = leaks(body_of(response))
    assert not shown, f"{where} shows program B: {shown[:3]}"


def b_rows(model, bravo):
    """Program B's rows of `model` (B's managers for the user model)."""
    path = program_path(model)
    if path is None:
        if model is get_user_model():
            return model.objects.filter(managed_programs=bravo)
        return model.objects.none()
    return model._default_manager.filter(**{path or "pk": bravo.pk})


def manager_request(manager, method="get", path="/admin/", data=None):
    request = getattr(RequestFactory(), method)(path, data or {})
    request.user = manager
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def registered():
    return sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


def admin_url(model, view, *args):
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_the_index_and_app_pages_show_only_alpha(manager_client):
    response = manager_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert_no_b(response, "the admin index")
    for app_label in {model._meta.app_label for model in admin.site._registry}:
        response = manager_client.get(reverse("admin:app_list", args=[app_label]))
        assert response.status_code in (200, 404)
        assert_no_b(response, f"the {app_label} app page")


@pytest.mark.parametrize("search_models", [False, True])
def test_the_consoles_search_finds_nothing_of_b(manager_client, settings, search_models):
    # unfold's command search (its models part on or off: either may be configured).
    settings.UNFOLD = {**settings.UNFOLD, "COMMAND": {"search_models": search_models}}
    cache.clear()  # unfold keeps results five minutes per user and term
    for term in ("bravo", "bravo-sec", "BRAVOSEC", "alpha"):
        response = manager_client.get(reverse("admin:search"), {"s": term, "extended": "1"})
        assert response.status_code == 200
        if not leaks(term):
            assert_no_b(response, f"the console's search for {term!r}")
    # The models part did run when on: it finds Alpha's rows.
    assert ("alpha-advocate" in body_of(response)) == search_models
    cache.clear()


@pytest.mark.parametrize("model", [m for m, _ in registered()], ids=lambda m: m._meta.label)
def test_every_admin_page_shows_only_the_managers_program(
    model, manager_client, manager, programs_a_and_b
):
    _, bravo = programs_a_and_b
    model_admin = admin.site._registry[model]
    label = model._meta.label
    request = manager_request(manager)
    can_view = model_admin.has_view_or_change_permission(request)

    # The list, searched for B, and each of its filters' choices.
    response = manager_client.get(admin_url(model, "changelist"))
    assert response.status_code == (200 if can_view else 403), label
    assert_no_b(response, f"{label} list")
    if not can_view:
        assert not b_rows(model, bravo).exists() or not model_admin.has_module_permission(request)
        return
    # Searched for B's names: no B row is listed (the term itself is echoed in the page, so
    # only terms that are not B's markers are looked for in the page).
    b_pks = set(b_rows(model, bravo).values_list("pk", flat=True))
    for term in ("bravo", "bravo-sec", "BRAVOSEC", "BRAVOSECRET0000", "bravo-secret-advocate"):
        response = manager_client.get(admin_url(model, "changelist"), {"q": term})
        listed = {row.pk for row in response.context["cl"].result_list}
        assert not listed & b_pks, f"{label} list searched for {term!r} lists B's rows"
        if not leaks(term):
            assert_no_b(response, f"{label} list searched for {term!r}")
    # With unfold's "Show counts" (facets): the counts are of Alpha's rows.
    response = manager_client.get(admin_url(model, "changelist"), {"_facets": "True"})
    assert_no_b(response, f"{label} list with counts")
    changelist = model_admin.get_changelist_instance(request)
    assert isinstance(changelist, ChangeList)
    for spec in changelist.filter_specs:
        for choice in spec.choices(changelist):
            assert not leaks(str(choice)), f"{label} filter {spec.title!r} offers B: {choice}"
        related = getattr(getattr(spec, "field", None), "related_model", None)
        if related is not None and hasattr(spec, "lookup_choices"):
            offered = [pk for pk, _ in spec.lookup_choices]
            foreign = b_rows(related, bravo).filter(pk__in=offered)
            assert not foreign.exists(), f"{label} filter {spec.title!r} offers {list(foreign)}"

    # The rows the manager sees are Alpha's, and there are some: the walk is not vacuous.
    visible = model_admin.get_queryset(request)
    if program_path(model) is not None:
        assert visible.exists(), f"{label}: no Alpha rows to walk"
        assert not visible.filter(pk__in=b_rows(model, bravo).values("pk")).exists(), label

    # The add form, and every choice its fields (and its inlines' fields) offer.
    if model_admin.has_add_permission(request):
        response = manager_client.get(admin_url(model, "add"))
        assert response.status_code == 200, label
        assert_no_b(response, f"{label} add form")
        assert_choices_alpha_only(model_admin, request, None, bravo, label)

    # Alpha's object: its page, history and extra views; Bravo's object: none of them.
    a_object = visible.first()
    if a_object is not None:
        for view in ("change", "history", "delete"):
            response = manager_client.get(admin_url(model, view, a_object.pk))
            assert response.status_code in (200, 302, 403), f"{label} {view}"
            assert_no_b(response, f"{label} {view} page of Alpha's {a_object}")
        if model_admin.has_change_permission(request, a_object):
            assert_choices_alpha_only(model_admin, request, a_object, bravo, label)
    b_object = b_rows(model, bravo).first()
    if b_object is not None:
        for view in ("change", "history", "delete"):
            response = manager_client.get(admin_url(model, view, b_object.pk))
            assert response.status_code in (302, 403, 404), f"{label} {view} of B's object"
            assert_no_b(response, f"{label} {view} page of B's object")
        walk_custom_views(model_admin, manager_client, a_object, b_object, label)

    # Actions (exports included), on Alpha's rows, B's rows, and "all" rows.
    walk_actions(model_admin, manager_client, request, a_object, b_object, label)

    # Autocomplete from each of the model's relations into an admin with search fields.
    walk_autocomplete(model, manager_client, label)


def form_choice_fields(model_admin, request, obj):
    form = model_admin.get_form(request, obj, change=obj is not None)
    yield from form.base_fields.items()
    for inline in model_admin.get_inline_instances(request, obj):
        formset = inline.get_formset(request, obj)
        yield from (
            (f"{inline.model._meta.label}.{n}", f) for n, f in formset.form.base_fields.items()
        )


def assert_choices_alpha_only(model_admin, request, obj, bravo, label):
    for name, field in form_choice_fields(model_admin, request, obj):
        if isinstance(field, ModelChoiceField):
            foreign = field.queryset.filter(pk__in=b_rows(field.queryset.model, bravo).values("pk"))
            assert not foreign.exists(), f"{label} form field {name} offers B's {list(foreign)}"


STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change", "autocomplete"}


def walk_custom_views(model_admin, client, a_object, b_object, label):
    """Extra views (upload, stock, audit trail, …): B's object refused, none shows B."""
    opts = model_admin.model._meta
    prefix = f"{opts.app_label}_{opts.model_name}_"
    for pattern in model_admin.get_urls():
        name = getattr(pattern, "name", None) or ""
        if not name.startswith(prefix) or name[len(prefix) :] in STANDARD_VIEWS:
            continue
        if "object_id" in pattern.pattern.regex.groupindex:
            for obj, refused in ((b_object, True), (a_object, False)):
                if obj is None:
                    continue
                url = reverse(f"admin:{name}", args=[obj.pk])
                for method in (client.get, client.post):
                    response = method(url)
                    if refused:
                        assert response.status_code in (302, 403, 404, 405), f"{label} {name}"
                        if response.status_code == 302:
                            assert str(b_object.pk) not in response.url.split("?")[0].split("/")
                    assert_no_b(response, f"{label} {name} for {obj}")
        elif not pattern.pattern.regex.groupindex:
            try:
                url = reverse(f"admin:{name}")
            except NoReverseMatch:
                continue
            assert_no_b(client.get(url), f"{label} {name}")


def walk_actions(model_admin, client, request, a_object, b_object, label):
    url = admin_url(model_admin.model, "changelist")
    for action in model_admin.get_actions(request):
        if action == "delete_selected":
            continue
        selections = [{"select_across": "1", "_selected_action": [a_object.pk if a_object else 0]}]
        if a_object is not None:
            selections.append({"_selected_action": [a_object.pk]})
        if b_object is not None:
            selections.append({"_selected_action": [b_object.pk]})
        for selection in selections:
            response = client.post(url, {"action": action, "index": 0, **selection})
            assert response.status_code in (200, 302, 403), f"{label} action {action}"
            assert_no_b(response, f"{label} action {action} on {selection}")
            if response.status_code == 302:
                assert_no_b(client.get(response.url), f"{label} page after action {action}")


def walk_autocomplete(model, client, label):
    for field in model._meta.get_fields():
        if not (field.is_relation and field.concrete and field.related_model):
            continue
        target = admin.site._registry.get(field.related_model)
        if target is None or not target.search_fields:
            continue
        for term in ("", "bravo", "BRAVOSECRET"):
            response = client.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                    "term": term,
                },
            )
            assert response.status_code in (200, 403), f"{label}.{field.name} autocomplete"
            assert_no_b(response, f"{label}.{field.name} autocomplete for {term!r}")


def test_b_rows_exist_for_every_scoped_admin(programs_a_and_b):
    """The walk above is only as good as its data: B has a row for every program-owned admin."""
    _, bravo = programs_a_and_b
    missing = [
        model._meta.label
        for model, _ in registered()
        if program_path(model) is not None and not b_rows(model, bravo).exists()
    ]
    assert not missing
    assert Program.objects.filter(name="Bravo-Secret").exists()
    assert Batch.objects.filter(file_name="bravo-secret-batch.csv").exists()
