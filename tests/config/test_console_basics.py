"""What every console visit touches: logging in at /admin/login/ lands on the console, and the
browser's icon request is answered."""

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db


def test_logging_in_at_the_login_page_lands_on_the_console(client):
    get_user_model().objects.create_user("pm1", password="a-long-password-1", is_staff=True)
    response = client.post(
        "/admin/login/", {"username": "pm1", "password": "a-long-password-1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/admin/"
    assert response.status_code == 200


def test_the_favicon_is_served_and_named_on_console_pages(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200
    assert b"<svg" in b"".join(response.streaming_content)
    page = client.get("/admin/login/")
    assert 'rel="icon"' in page.content.decode() and "favicon.svg" in page.content.decode()
