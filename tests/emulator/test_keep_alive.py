"""`kbctl emulator serve` keeps connections open (HTTP/1.1 keep-alive, as the real API does), so
a client's requests share one TCP connection; it still closes when asked, and stops cleanly."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import httpx
import pytest

from kbctl.clock import SystemClock
from kbctl.emulator import EmulatorConfig, EmulatorServer, build_app

KB = "/v1/convai/knowledge-base"
HEADERS = {"xi-api-key": "k"}


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(
        build_app(EmulatorConfig(), SystemClock(), None, ["agent_a"]), port=0
    ) as srv:
        yield srv


def test_requests_share_one_connection(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url, headers=HEADERS) as client:
        for i in range(5):
            r = client.post(f"{KB}/text", json={"text": f"document {i}"})
            assert r.status_code == 200 and r.http_version == "HTTP/1.1"
            assert r.headers.get("connection", "").lower() != "close"
        assert client.get(KB).json()["documents"][0]["name"] == "document 4"
        assert client.get("/v1/convai/agents/nobody").status_code == 404
        assert client.get(KB, headers={"xi-api-key": ""}).status_code == 401
    assert server.connections_accepted == 1
    assert server.app.internal_errors == []


def test_an_unread_body_does_not_leak_into_the_next_request(server: EmulatorServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        # a 405 answers without the handler reading the body; the next request must still parse
        conn.request("PUT", KB, body=b'{"text": "x"}' * 100, headers=HEADERS)
        first = conn.getresponse()
        assert first.status == 405
        first.read()
        conn.request("GET", KB, headers=HEADERS)
        second = conn.getresponse()
        assert second.status == 200 and second.read().startswith(b'{"documents"')
    finally:
        conn.close()
    assert server.connections_accepted == 1


def test_connection_close_and_http_1_0_are_honoured(server: EmulatorServer) -> None:
    with httpx.Client(base_url=server.url, headers={**HEADERS, "Connection": "close"}) as client:
        for _ in range(3):
            assert client.get(KB).status_code == 200
    assert server.connections_accepted == 3
    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn._http_vsn, conn._http_vsn_str = 10, "HTTP/1.0"  # type: ignore[attr-defined]
    conn.request("GET", KB, headers=HEADERS)
    answer = conn.getresponse()
    assert answer.status == 200
    answer.read()
    conn.close()


def test_stop_ends_idle_connections(server: EmulatorServer) -> None:
    client = httpx.Client(base_url=server.url, headers=HEADERS)
    assert client.get(KB).status_code == 200
    server.stop()  # the idle keep-alive connection must not keep serving
    with pytest.raises(httpx.TransportError):
        client.get(KB)
    client.close()


def test_a_body_cut_short_by_a_client_that_went_away_is_not_handled(
    server: EmulatorServer,
) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    body = b'{"name": "a store"}'
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/vector_stores HTTP/1.1\r\nHost: emulator\r\nAuthorization: Bearer k\r\n"
            b"Content-Type: application/json\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        sock.shutdown(socket.SHUT_WR)  # the process died between its headers and its body
        assert sock.recv(1024) == b""  # no answer: the request never arrived whole
    # Handled, the missing body would have read as an empty one: a store without a name.
    assert server.app.openai.world.stores() == []
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer k"}) as client:
        made = client.post("/v1/vector_stores", json={"name": "a store"})
        assert made.status_code == 200
    assert [s["name"] for s in server.app.openai.world.stores()] == ["a store"]
