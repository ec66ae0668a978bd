"""Chunked bodies as gunicorn hands them over (a real server: the de-chunking is its own): a
malformed chunk is a 400 and a chunk announced past the body limit a 413, at once, never a 500
or a worker held until the client gives up."""

import http.client
import json
import socket
import time

import pytest

from tests.config.processes import clean_env, free_port, start, stop, wait_until_serving

PATH = "/api/v1/programs/shoes/conversions"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    env = clean_env(
        tmp_path_factory.mktemp("chunked"), GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}"
    )
    process = start("gunicorn -c gunicorn.conf.py config.wsgi", env)
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", process)
        yield port
    finally:
        stop(process)


def send(port, body, *, close_after=False):
    """Send a chunked POST whose body is `body` (the raw chunks), keep the connection open (or
    stop sending when `close_after`), and return (seconds until the answer, status, JSON)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(30)
        sock.sendall(
            f"POST {PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
            + body
        )
        if close_after:
            sock.shutdown(socket.SHUT_WR)
        started = time.monotonic()
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = response.read()
    return time.monotonic() - started, response.status, json.loads(payload)


def test_a_chunk_size_that_is_not_hexadecimal_is_a_400_naming_it(server):
    _, status, body = send(server, b"ZZ\r\n{}\r\n0\r\n\r\n")
    assert status == 400, body
    assert body["error"]["code"] == "malformed_request"
    assert "chunk" in body["error"]["message"] and "ZZ" in body["error"]["message"]


def test_a_chunk_announced_past_the_limit_is_refused_at_once(server):
    # The client announces 2**72 bytes, sends three and waits: the answer comes without them.
    seconds, status, body = send(server, b"ffffffffffffffffff\r\nabc")
    assert status == 413, body
    assert body["error"]["code"] == "too_large"
    assert seconds < 5


def test_a_body_cut_short_is_a_400(server):
    _, status, body = send(server, b"5\r\nab", close_after=True)
    assert status == 400, body
    assert body["error"]["code"] == "malformed_request"


def test_a_well_formed_chunked_body_still_reaches_the_view(server):
    # No API key: the view's 401 shows the body was read and the request went on.
    _, status, body = send(server, b"2\r\n{}\r\n0\r\n\r\n")
    assert status == 401, body
