import pytest
from django.db import IntegrityError, transaction

from conversions.models import Conversion
from tests.factories import ProgramFactory

pytestmark = pytest.mark.django_db


def test_one_conversion_per_program_and_order_id():
    program, other = ProgramFactory(), ProgramFactory()
    Conversion.objects.create(program=program, order_id="A-1", status="unattributed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Conversion.objects.create(program=program, order_id="A-1", status="unattributed")
    assert Conversion.objects.create(program=other, order_id="A-1", status="unattributed").pk
