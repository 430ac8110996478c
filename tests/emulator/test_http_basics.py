"""Auth, routing precedence, error bodies and the no-traceback guarantee."""

from __future__ import annotations

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.emulator import EmulatorApp, EmulatorConfig, World
from tests.emulator.conftest import AGENTS, KB, create_text, make_client


def test_missing_api_key_is_401_with_detail(app: EmulatorApp) -> None:
    with make_client(app, api_key=None) as c:
        r = c.get(KB)
    assert r.status_code == 401
    assert r.json()["detail"]["status"] == "invalid_api_key"
    assert isinstance(r.json()["detail"]["message"], str)


def test_any_non_empty_key_is_accepted_by_default(app: EmulatorApp) -> None:
    with make_client(app, api_key="whatever") as c:
        assert c.get(KB).status_code == 200


def test_configured_key_rejects_others(clock: FakeClock) -> None:
    app = EmulatorApp(World(EmulatorConfig(api_key="secret"), clock))
    with make_client(app, api_key="wrong") as c:
        r = c.get(KB)
    assert r.status_code == 401
    assert r.json() == {"detail": {"status": "invalid_api_key", "message": "Invalid API key."}}
    with make_client(app, api_key="secret") as c:
        assert c.get(KB).status_code == 200


def test_unknown_route_is_json_404(client: httpx.Client) -> None:
    r = client.get("/v1/nothing/here")
    assert r.status_code == 404
    assert r.json()["detail"]["status"] == "not_found"


def test_known_path_other_method_is_405(client: httpx.Client) -> None:
    r = client.put(f"{KB}/text", json={})
    assert r.status_code == 405
    assert r.json()["detail"]["status"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("method", "path", "expected_key"),
    [
        ("GET", f"{KB}/rag-index", "total_max_bytes"),
        ("GET", f"{KB}/summaries?document_ids=nope", "nope"),
        ("GET", f"{KB}/search?query=lake", "results"),
        ("GET", f"{AGENTS}/summaries?agent_ids=nope", "nope"),
    ],
)
def test_literal_routes_win_over_parameters(
    client: httpx.Client, method: str, path: str, expected_key: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == 200, r.text
    assert expected_key in r.json()


def test_literal_post_routes_win(client: httpx.Client) -> None:
    doc = create_text(client)
    r = client.post(f"{KB}/dependent-agents", json={"document_ids": [doc]})
    assert r.status_code == 200
    assert r.json()["agents"] == []
    r = client.post(
        f"{KB}/rag-index",
        json={
            "items": [
                {"document_id": doc, "create_if_missing": False, "model": "e5_mistral_7b_instruct"}
            ]
        },
    )
    assert r.status_code == 200
    assert r.json()[doc]["status"] == "failure"


def test_parameter_route_still_reached(client: httpx.Client) -> None:
    r = client.get(f"{KB}/doesnotexist")
    assert r.status_code == 404
    assert r.json()["detail"]["status"] == "document_not_found"


def test_422_missing_body_field(client: httpx.Client) -> None:
    r = client.post(f"{KB}/text", json={"name": "x"})
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "text"]
    assert err["type"] == "missing"
    assert err["msg"] == "Field required"


def test_422_lists_every_problem(client: httpx.Client) -> None:
    r = client.get(KB, params={"page_size": 101, "types": ["text", "pdf"], "sort_by": "colour"})
    assert r.status_code == 422
    locs = [e["loc"] for e in r.json()["detail"]]
    assert ["query", "page_size"] in locs
    assert ["query", "types", 1] in locs
    assert ["query", "sort_by"] in locs
    size_err = next(e for e in r.json()["detail"] if e["loc"] == ["query", "page_size"])
    assert size_err["type"] == "less_than_equal"


def test_422_on_invalid_json_and_wrong_types(client: httpx.Client) -> None:
    r = client.post(
        f"{KB}/text", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"
    r = client.post(f"{KB}/text", json={"text": 5})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "string_type"
    r = client.post(f"{KB}/text", json=["a"])
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body"]


def test_422_page_size_not_an_integer(client: httpx.Client) -> None:
    r = client.get(KB, params={"page_size": "many"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "int_parsing"


def test_null_fields_count_as_absent(client: httpx.Client) -> None:
    r = client.post(f"{KB}/text", json={"text": "hello", "name": None, "parent_folder_id": None})
    assert r.status_code == 200
    assert r.json()["name"] == "hello"


def test_unexpected_exception_is_json_500_without_traceback(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr(world, "overview", boom)
    app = EmulatorApp(world)
    with make_client(app) as c:
        r = c.get(f"{KB}/rag-index")
    assert r.status_code == 500
    assert r.json()["detail"]["status"] == "internal_server_error"
    assert "kaboom" not in r.text and "Traceback" not in r.text
    assert len(app.internal_errors) == 1 and "kaboom" in app.internal_errors[0]


def test_calls_are_counted_by_route_template(client: httpx.Client, world: World) -> None:
    doc = create_text(client)
    client.get(f"{KB}/{doc}")
    client.get(f"{KB}/{doc}")
    client.get(KB)
    assert world.calls[f"GET {KB}/{{documentation_id}}"] == 2
    assert world.calls[f"GET {KB}"] == 1
    assert world.calls[f"POST {KB}/text"] == 1
    assert world.total_calls == 4
