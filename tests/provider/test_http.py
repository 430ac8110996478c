"""ApiClient: auth, retries and backoff on the fake clock, error mapping, redaction, concurrency."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from kbctl.clock import FakeClock
from kbctl.errors import (
    ApiError,
    AuthError,
    NotFoundError,
    PermissionDeniedError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    TransportError,
    UsageError,
)
from kbctl.provider.http import AmbiguousWriteError, ApiClient
from kbctl.provider.http_parts import FilePart
from kbctl.provider.limiter import AUTO_CEILING, AUTO_START, Limiter

from .conftest import KEY

MakeClient = Callable[..., ApiClient]


def ok(body: object = None) -> httpx.Response:
    return httpx.Response(200, json=body if body is not None else {"ok": True})


def problem(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, json={"detail": {"status": code, "message": message}}, headers=headers
    )


class Script:
    """A handler answering from a list (the last answer repeats), recording each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def all_text(err: BaseException) -> Iterator[str]:
    """Every string an exception could show, including chained ones."""
    seen: BaseException | None = err
    while seen is not None:
        yield str(seen)
        yield repr(seen)
        for attr in ("summary", "detail", "hint", "code", "path"):
            value = getattr(seen, attr, None)
            if isinstance(value, str):
                yield value
        seen = seen.__cause__ or seen.__context__


# ------------------------------------------------------------------------------------------
# Auth and headers


def test_sends_key_header_and_parses_json(make_client: MakeClient) -> None:
    script = Script(ok({"a": 1}))
    client = make_client(script)
    assert client.get_json("/v1/x") == {"a": 1}
    request = script.requests[0]
    assert request.headers["xi-api-key"] == KEY
    assert request.headers["user-agent"].startswith("kbctl/")
    assert str(request.url) == "https://api.example.test/v1/x"
    assert client.calls == 1


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_key_fails_before_any_request(make_client: MakeClient, key: str | None) -> None:
    script = Script(ok())
    client = make_client(script, api_key=key, api_key_env="MY_XI_KEY")
    with pytest.raises(AuthError) as info:
        client.get_json("/v1/x")
    assert info.value.summary == "No API key: set MY_XI_KEY"
    assert info.value.detail == (
        "GET /v1/x at https://api.example.test needs one; MY_XI_KEY is unset or empty, "
        "so nothing was sent."
    )
    assert "MY_XI_KEY" in (info.value.hint or "")
    assert script.requests == []
    assert client.calls == 0


def test_key_with_line_break_is_refused_without_showing_it(make_client: MakeClient) -> None:
    script = Script(ok())
    client = make_client(script, api_key="abc\ndef-secret")
    with pytest.raises(AuthError) as info:
        client.get_json("/v1/x")
    assert all("def-secret" not in text for text in all_text(info.value))
    assert script.requests == []


def test_trailing_newline_of_key_is_stripped(make_client: MakeClient) -> None:
    script = Script(ok())
    make_client(script, api_key=KEY + "\n").get_json("/v1/x")
    assert script.requests[0].headers["xi-api-key"] == KEY


def test_rejected_key_is_auth_error_without_retry(make_client: MakeClient) -> None:
    status = 401
    script = Script(problem(status, "invalid_api_key", "Invalid API key"))
    client = make_client(script)
    with pytest.raises(AuthError) as info:
        client.get_json("/v1/x")
    err = info.value
    assert err.summary == "API key rejected"
    assert "ELEVENLABS_API_KEY" in (err.hint or "")
    assert (err.method, err.path, err.status, err.code) == (
        "GET",
        "/v1/x",
        status,
        "invalid_api_key",
    )
    assert "invalid_api_key" in (err.detail or "")
    assert client.calls == 1


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_forbidden_is_a_permission_error_not_a_bad_key(
    make_client: MakeClient, method: str
) -> None:
    script = Script(problem(403, "admin_perms_required", "Admin permissions are required"))
    client = make_client(script)
    with pytest.raises(PermissionDeniedError) as info:
        client.send_json(method, "/v1/convai/agents/a1")
    err = info.value
    assert not isinstance(err, AuthError)
    assert err.summary == f"Permission denied: {method} /v1/convai/agents/a1"
    assert "API key rejected" not in str(err)
    assert "protected branch" in (err.hint or "") and "permission" in (err.hint or "")
    assert (err.status, err.code) == (403, "admin_perms_required")
    assert client.calls == 1  # a refusal is not retried


def test_repr_does_not_show_the_key(make_client: MakeClient) -> None:
    client = make_client(Script(ok()))
    assert KEY not in repr(client)
    assert KEY not in str(vars(client).get("base_url"))


# ------------------------------------------------------------------------------------------
# Redaction


ECHOES: list[Callable[[], httpx.Response]] = [
    lambda: problem(401, "invalid_api_key", f"Key {KEY} is not valid"),
    lambda: problem(400, "bad_request", f"header xi-api-key={KEY}"),
    lambda: problem(404, f"no_{KEY}", "missing"),
    lambda: httpx.Response(422, json={"detail": [{"loc": ["header", KEY], "msg": KEY}]}),
    lambda: httpx.Response(500, text=f"<html>trace: key={KEY}</html>"),
    lambda: httpx.Response(200, text=f"not json {KEY}"),
]


@pytest.mark.parametrize("answer", ECHOES)
def test_key_echoed_by_the_server_is_redacted(
    make_client: MakeClient, answer: Callable[[], httpx.Response]
) -> None:
    client = make_client(lambda request: answer(), max_retries=0)
    with pytest.raises(ApiError) as info:
        client.get_json("/v1/x")
    texts = list(all_text(info.value))
    assert texts
    assert all(KEY not in text for text in texts), texts
    assert any("***" in text for text in texts)


def test_transport_failure_has_no_chained_httpx_exception(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.ReadTimeout("slow")), max_retries=1)
    with pytest.raises(TransportError) as info:
        client.get_json("/v1/x")
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


# ------------------------------------------------------------------------------------------
# Error mapping


def test_not_found(make_client: MakeClient) -> None:
    client = make_client(Script(problem(404, "document_not_found", "Document 'x' was not found.")))
    with pytest.raises(NotFoundError) as info:
        client.get_json("/v1/convai/knowledge-base/x")
    err = info.value
    assert err.status == 404 and err.code == "document_not_found"
    assert "GET /v1/convai/knowledge-base/x → HTTP 404" in (err.detail or "")
    assert client.calls == 1


def test_validation_error_lists_every_problem(make_client: MakeClient) -> None:
    body = {
        "detail": [
            {"loc": ["body", "text"], "msg": "field required", "type": "missing"},
            {"loc": ["query", "page_size"], "msg": "must be <= 100", "type": "value_error"},
        ]
    }
    client = make_client(Script(httpx.Response(422, json=body)))
    with pytest.raises(ApiError) as info:
        client.send_json("POST", "/v1/convai/knowledge-base/text", {"name": "n"})
    err = info.value
    assert type(err) is ApiError
    assert err.status == 422
    assert "body.text: field required" in (err.detail or "")
    assert "query.page_size: must be <= 100" in (err.detail or "")
    assert client.calls == 1  # a 422 is not retried


def test_other_client_error_names_code_and_message(make_client: MakeClient) -> None:
    client = make_client(Script(problem(400, "invalid_kb_id", "Document zz does not exist")))
    with pytest.raises(ApiError) as info:
        client.send_json("PATCH", "/v1/convai/agents/a", {"x": 1})
    err = info.value
    assert type(err) is ApiError
    assert err.code == "invalid_kb_id"
    assert "Document zz does not exist" in err.summary
    assert "\n" not in err.summary
    assert "PATCH /v1/convai/agents/a → HTTP 400" in (err.detail or "")


def test_bare_500_body_is_read(make_client: MakeClient) -> None:
    body = {"status": "internal_server_error", "message": "boom"}
    client = make_client(Script(httpx.Response(500, json=body)), max_retries=0)
    with pytest.raises(ServerError) as info:
        client.get_json("/v1/x")
    assert info.value.code == "internal_server_error"
    assert "boom" in (info.value.detail or "")


def test_malformed_json_is_protocol_error(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.Response(200, text="{not json")))
    with pytest.raises(ProtocolError) as info:
        client.get_json("/v1/x")
    assert info.value.status == 200
    assert "not JSON" in (info.value.detail or "")


@pytest.mark.parametrize(("status", "text"), [(200, ""), (204, ""), (200, "null"), (200, " \n")])
def test_empty_body_reads_as_none(make_client: MakeClient, status: int, text: str) -> None:
    client = make_client(Script(httpx.Response(status, text=text)))
    assert client.send_json("DELETE", "/v1/convai/knowledge-base/x") is None


def test_text_and_bytes_answers(make_client: MakeClient) -> None:
    answer = httpx.Response(200, text="héllo <b>", headers={"content-type": "text/html"})
    client = make_client(Script(answer))
    assert client.get_bytes("/v1/c") == "héllo <b>".encode()


def test_unsupported_base_url_is_refused(clock: FakeClock) -> None:
    with pytest.raises(UsageError):
        ApiClient("ftp://example", KEY, clock)


# ------------------------------------------------------------------------------------------
# Retries, backoff, Retry-After


def test_5xx_is_retried_with_full_jitter_backoff(make_client: MakeClient, clock: FakeClock) -> None:
    script = Script(
        problem(500, "x", "a"), problem(503, "x", "b"), problem(502, "x", "c"), ok({"n": 1})
    )
    client = make_client(script)
    start = clock.monotonic()
    assert client.get_json("/v1/x") == {"n": 1}
    assert client.calls == 4
    slept = clock.monotonic() - start
    assert 0.0 <= slept <= 0.5 + 1.0 + 2.0


def test_backoff_is_deterministic_with_a_seed_and_bounded(clock: FakeClock) -> None:
    a = ApiClient("https://x.test", KEY, clock, seed=3)
    b = ApiClient("https://x.test", KEY, clock, seed=3)
    delays = [a.backoff_delay(n) for n in range(12)]
    assert delays == [b.backoff_delay(n) for n in range(12)]
    for n, delay in enumerate(delays):
        assert 0.0 <= delay <= min(30.0, 0.5 * 2**n)
    a.close()
    b.close()


def test_5xx_gives_up_after_max_retries(make_client: MakeClient) -> None:
    client = make_client(Script(problem(503, "system_busy", "busy")), max_retries=3)
    with pytest.raises(ServerError) as info:
        client.get_json("/v1/x")
    assert client.calls == 4
    assert "Gave up after 4 attempts" in (info.value.detail or "")
    assert info.value.status == 503


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_idempotent_retry_statuses(make_client: MakeClient, status: int) -> None:
    client = make_client(Script(problem(status, "x", "y"), ok({"done": True})))
    assert client.send_json("PATCH", "/v1/a", {"n": 1}) == {"done": True}
    assert client.calls == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 412, 422])
def test_client_errors_are_not_retried(make_client: MakeClient, status: int) -> None:
    client = make_client(Script(problem(status, "x", "y"), ok()))
    with pytest.raises(ApiError):
        client.get_json("/v1/x")
    assert client.calls == 1


def test_conflict_retry_can_be_turned_off(make_client: MakeClient) -> None:
    client = make_client(Script(problem(409, "document_in_use", "in use"), ok()))
    with pytest.raises(ApiError) as info:
        client.send_json("DELETE", "/v1/d", retry_conflict=False)
    assert info.value.status == 409
    assert client.calls == 1


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "1000"}, 60.0),
        ({"retry-after": "Thu, 01 Jan 2026 00:00:12 GMT"}, 12.0),  # FakeClock starts 00:00:00
        ({"retry-after": "Wed, 31 Dec 2025 23:00:00 GMT"}, 0.0),
    ],
)
def test_retry_after_is_honoured(
    make_client: MakeClient, clock: FakeClock, headers: dict[str, str], expected: float
) -> None:
    script = Script(problem(429, "too_many_concurrent_requests", "slow down", **headers), ok())
    client = make_client(script)
    start = clock.monotonic()
    client.get_json("/v1/x")
    assert clock.monotonic() - start == pytest.approx(expected)


def test_retry_after_on_5xx_too(make_client: MakeClient, clock: FakeClock) -> None:
    client = make_client(Script(problem(503, "system_busy", "busy", **{"retry-after": "7"}), ok()))
    client.get_json("/v1/x")
    assert clock.monotonic() == pytest.approx(7.0)


def test_garbage_retry_after_falls_back_to_backoff(
    make_client: MakeClient, clock: FakeClock
) -> None:
    client = make_client(Script(problem(429, "x", "y", **{"retry-after": "soon"}), ok()))
    client.get_json("/v1/x")
    assert 0.0 <= clock.monotonic() <= 0.5


def test_429_after_retries_is_rate_limited(make_client: MakeClient) -> None:
    client = make_client(Script(problem(429, "too_many_concurrent_requests", "x")), max_retries=2)
    with pytest.raises(RateLimitedError) as info:
        client.get_json("/v1/x")
    assert "--concurrency" in (info.value.hint or "")
    assert client.calls == 3


def test_timeouts_are_retried_then_reported(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.ReadTimeout("slow"), ok({"v": 2})))
    assert client.get_json("/v1/x") == {"v": 2}
    failing = make_client(Script(httpx.ReadTimeout("slow")), max_retries=2)
    with pytest.raises(TransportError) as info:
        failing.get_json("/v1/x")
    assert "did not answer in time" in info.value.summary
    assert failing.calls == 3


def test_connection_errors_are_retried_then_reported(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.ConnectError("refused")), max_retries=1)
    with pytest.raises(TransportError) as info:
        client.get_json("/v1/x")
    assert info.value.summary.startswith("Could not connect to the API")
    assert "ELEVENLABS_BASE_URL" in (info.value.hint or "")
    assert client.calls == 2


# ------------------------------------------------------------------------------------------
# Non-idempotent creates


def test_create_is_retried_when_it_surely_did_not_happen(make_client: MakeClient) -> None:
    script = Script(httpx.ConnectError("refused"), problem(429, "x", "y"), ok({"id": "d1"}))
    client = make_client(script)
    assert client.send_json("POST", "/v1/convai/knowledge-base/text", {"text": "t"}) == {"id": "d1"}
    assert client.calls == 3


@pytest.mark.parametrize(
    "answer",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("peer closed"),
        httpx.Response(500, json={"detail": {"status": "x", "message": "y"}}),
        httpx.Response(503, text="busy"),
        httpx.Response(408, text="timeout"),
    ],
)
def test_create_that_may_have_happened_is_ambiguous(
    make_client: MakeClient, answer: httpx.Response | Exception
) -> None:
    client = make_client(Script(answer, ok({"id": "d1"})))
    with pytest.raises(AmbiguousWriteError) as info:
        client.send_json("POST", "/v1/convai/knowledge-base/text", {"text": "t"})
    assert client.calls == 1
    assert isinstance(info.value.cause, ServerError | TransportError | ApiError)
    assert info.value.method == "POST"


def test_multipart_create_is_not_retried_after_5xx(make_client: MakeClient) -> None:
    script = Script(httpx.Response(502, text="bad gateway"), ok({"id": "f"}))
    client = make_client(script)
    with pytest.raises(AmbiguousWriteError) as info:
        client.post_multipart(
            "/v1/convai/knowledge-base/file",
            files={"file": FilePart("a.pdf", b"%PDF", "application/pdf")},
            fields={"name": "n"},
        )
    assert isinstance(info.value.cause, ServerError)
    assert client.calls == 1


def test_idempotent_post_is_retried(make_client: MakeClient) -> None:
    client = make_client(Script(httpx.ReadTimeout("slow"), problem(500, "x", "y"), ok({"s": 1})))
    result = client.send_json("POST", "/v1/d/rag-index", {"model": "m"}, idempotent=True)
    assert result == {"s": 1}
    assert client.calls == 3


def test_multipart_shape(make_client: MakeClient) -> None:
    script = Script(ok({"id": "f1"}))
    client = make_client(script)
    client.post_multipart(
        "/v1/convai/knowledge-base/file",
        files={"file": FilePart("price list.pdf", b"%PDF-1.7 bytes", "application/pdf")},
        fields={"name": "kb · marker"},
    )
    request = script.requests[0]
    assert request.headers["content-type"].startswith("multipart/form-data")
    body = request.read()
    assert b'name="file"; filename="price list.pdf"' in body
    assert b"%PDF-1.7 bytes" in body
    assert b'name="name"' in body
    assert "kb · marker".encode() in body


# ------------------------------------------------------------------------------------------
# Params, counters, concurrency


def test_query_params(make_client: MakeClient) -> None:
    script = Script(ok())
    client = make_client(script)
    client.get_json(
        "/v1/k",
        params={"types": ["text", "url"], "cursor": None, "folders_first": True, "page_size": 100},
    )
    query = script.requests[0].url.params
    assert query.get_list("types") == ["text", "url"]
    assert "cursor" not in query
    assert query["folders_first"] == "true"
    assert query["page_size"] == "100"


def test_json_body(make_client: MakeClient) -> None:
    script = Script(ok())
    make_client(script).send_json("PATCH", "/v1/a", {"name": "n", "x": None})
    assert json.loads(script.requests[0].content) == {"name": "n", "x": None}


def test_route_counter(make_client: MakeClient) -> None:
    client = make_client(Script(problem(500, "x", "y"), ok()))
    client.get_json("/v1/a/1", route="GET /v1/a/{id}")
    client.get_json("/v1/a/2", route="GET /v1/a/{id}")
    client.get_json("/v1/b")
    assert client.route_calls == {"GET /v1/a/{id}": 3, "GET /v1/b": 1}
    assert client.calls == 4


def test_concurrency_is_bounded(make_client: MakeClient) -> None:
    lock = threading.Lock()
    entered = threading.Semaphore(0)
    release = threading.Event()
    in_flight = 0
    peak = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        entered.release()
        release.wait(10)
        with lock:
            in_flight -= 1
        return ok()

    client = make_client(handler, max_concurrency=2)
    threads = [threading.Thread(target=client.get_json, args=("/v1/x",)) for _ in range(6)]
    for thread in threads:
        thread.start()
    assert entered.acquire(timeout=10)
    assert entered.acquire(timeout=10)
    assert not entered.acquire(timeout=0.2)  # a third request would be in flight by now
    release.set()
    for thread in threads:
        thread.join(10)
    assert peak == 2
    assert client.calls == 6


def test_calls_counter_is_thread_safe(make_client: MakeClient) -> None:
    client = make_client(lambda request: ok(), max_concurrency=4)
    threads = [
        threading.Thread(target=lambda: [client.get_json("/v1/x") for _ in range(50)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.calls == 400


def test_context_manager_closes(clock: FakeClock) -> None:
    with ApiClient(
        "https://x.test", KEY, clock, transport=httpx.MockTransport(lambda r: ok())
    ) as client:
        client.get_json("/v1/x")
    with pytest.raises(RuntimeError):
        client.get_json("/v1/x")


def test_limiter_halves_once_per_round_and_creeps_back_only_when_pressed() -> None:
    limiter = Limiter(8)
    rounds = [limiter.acquire() for _ in range(5)]
    assert rounds == [0] * 5
    limiter.release(rounds[0], throttled=True)
    assert limiter.limit == 4
    limiter.release(rounds[1], throttled=True)  # same round: no second cut
    assert limiter.limit == 4
    for epoch in rounds[2:]:
        limiter.release(epoch, throttled=False)
    again = [limiter.acquire() for _ in range(4)]
    assert again == [1] * 4
    limiter.release(again[0], throttled=True)
    assert limiter.limit == 2
    for epoch in again[1:]:
        limiter.release(epoch, throttled=False)
    # One request at a time never reaches a limit of 2: no evidence that more would pass.
    for _ in range(50):
        limiter.release(limiter.acquire(), throttled=False)
    assert limiter.limit == 2
    # Two at once reach it: after 2 * limit successes under pressure, one more slot.
    for _ in range(2):
        held = [limiter.acquire() for _ in range(2)]
        for epoch in held:
            limiter.release(epoch, throttled=False)
    assert limiter.limit == 3
    for _ in range(200):
        held = [limiter.acquire() for _ in range(limiter.limit)]
        for epoch in held:
            limiter.release(epoch, throttled=False)
    assert limiter.limit == 8  # never above the ceiling
    assert (limiter.lowest, limiter.cuts) == (2, 2)


def test_a_concurrency_429_cuts_to_one_below_what_was_in_flight_not_by_half() -> None:
    limiter = Limiter(32, 12)
    held = [limiter.acquire() for _ in range(11)]
    limiter.release(held[0], throttled=True, concurrent=True)  # the server took the other 10
    assert limiter.limit == 10
    for epoch in held[1:]:
        limiter.release(epoch, throttled=False)
    busy = [limiter.acquire() for _ in range(10)]
    limiter.release(busy[0], throttled=True)  # `system_busy` or no reason: halve
    assert limiter.limit == 5
    for epoch in busy[1:]:
        limiter.release(epoch, throttled=False)
    few = [limiter.acquire() for _ in range(3)]  # others use the workspace: 3 get through
    limiter.release(few[0], throttled=True, concurrent=True)
    assert limiter.limit == 2
    for epoch in few[1:]:
        limiter.release(epoch, throttled=False)


def test_auto_concurrency_starts_below_its_ceiling_and_a_number_is_a_hard_cap() -> None:
    auto = Limiter.for_concurrency(None)
    assert (auto.limit, auto.ceiling) == (AUTO_START, AUTO_CEILING)
    assert AUTO_START >= 8  # well above the old fixed default of 4
    for _ in range(200):
        held = [auto.acquire() for _ in range(auto.limit)]
        for epoch in held:
            auto.release(epoch, throttled=False)
    assert auto.limit == AUTO_CEILING
    fixed = Limiter.for_concurrency(3)
    assert (fixed.limit, fixed.ceiling) == (3, 3)


def test_limiter_admits_in_arrival_order() -> None:
    limiter = Limiter(1)
    first = limiter.acquire()
    order: list[int] = []
    threads = []
    for n in range(4):
        ready = threading.Event()

        def wait(n: int = n, ready: threading.Event = ready) -> None:
            ready.set()
            epoch = limiter.acquire()
            order.append(n)
            limiter.release(epoch, throttled=False)

        thread = threading.Thread(target=wait)
        thread.start()
        assert ready.wait(10)
        threading.Event().wait(0.02)  # let it queue before the next one arrives
        threads.append(thread)
    limiter.release(first, throttled=False)
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3]


def test_threads_settle_under_a_server_concurrency_limit(make_client: MakeClient) -> None:
    lock = threading.Lock()
    in_flight = 0
    throttled = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, throttled
        with lock:
            in_flight += 1
            over = in_flight > 2
            throttled += over
        try:
            if over:
                return problem(429, "too_many_concurrent_requests", "plan limit")
            threading.Event().wait(0.005)  # hold the slot, so that requests overlap
            return ok()
        finally:
            with lock:
                in_flight -= 1

    client = make_client(handler, max_concurrency=8, max_retries=12)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(15):
                client.get_json("/v1/x")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert throttled > 0
    assert client.concurrency_limit < 8
