"""The OpenAI Files and Vector Stores endpoints kbctl uses, through one `ApiClient`.

Owns paths, bodies, full pagination (`after` cursors until `has_more` is false) and the recovery
of an ambiguous create (a timeout or 5xx on `POST /files` or `POST /vector_stores`: the object is
looked for by name before anything is sent again, so no duplicate is made). Must not decide what
to create, attach, detach or delete (the planner and executor do).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Mapping, Sequence
from typing import Final, TypeVar

from kbctl.chunking import Chunking, MetadataValue
from kbctl.errors import ApiError, NotFoundError
from kbctl.provider.base import DeleteOutcome
from kbctl.provider.http import AmbiguousWriteError, ApiClient
from kbctl.provider.http_parts import FilePart, Params
from kbctl.provider.openai import shapes
from kbctl.provider.openai.shapes import Batch, FileInfo, Hit, Store, StoreFile, reading

T = TypeVar("T")

#: Largest page of vector stores and vector-store files (reference §2.1).
PAGE: Final = 100
#: Largest page of the Files listing.
FILES_PAGE: Final = 10_000
#: The API's most search results per request.
MAX_SEARCH_RESULTS: Final = 50
#: Tries of an ambiguous create (looking for the object between them).
CREATE_TRIES: Final = 3


class OpenAIApi:
    """Files, vector stores and their files."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        #: `GET /files/{id}/content` answered 400 (the File's purpose is not downloadable).
        self.downloads_refused = False

    # ------------------------------------------------------------------------------- listing

    def _all(
        self, path: str, parse: Callable[[object, str], T], params: Params, limit: int
    ) -> list[T]:
        out: list[T] = []
        after: str | None = None
        while True:
            query: dict[str, str | int | None] = {**params, "limit": limit, "after": after}  # type: ignore[dict-item]
            answer = self._client.get_json(path, params=query, route=f"GET {path}")
            with reading("GET", path):
                items, more = shapes.page(answer, path)
                parsed = [parse(item, f"{path}.data[{i}]") for i, item in enumerate(items)]
            out.extend(parsed)
            if not more or not items:
                return out
            last = items[-1]
            after = last.get("id") if isinstance(last, dict) else None
            if not isinstance(after, str):
                return out

    def stores(self) -> list[Store]:
        """Every vector store the key can see."""
        return self._all("/vector_stores", shapes.store, {"order": "asc"}, PAGE)

    def files(self) -> list[FileInfo]:
        """Every File of purpose `assistants`."""
        params = {"purpose": "assistants", "order": "asc"}
        return self._all("/files", shapes.file_info, params, FILES_PAGE)

    def store_files(self, store_id: str) -> list[StoreFile]:
        """Every file attached to a store, oldest first."""
        path = f"/vector_stores/{store_id}/files"
        return self._all(path, shapes.store_file, {"order": "asc"}, PAGE)

    # -------------------------------------------------------------------------------- stores

    def store(self, store_id: str) -> Store:
        path = f"/vector_stores/{store_id}"
        answer = self._client.get_json(path, route="GET /vector_stores/{id}")
        with reading("GET", path):
            return shapes.store(answer, path)

    def create_store(self, name: str) -> Store:
        """Create an empty store named `name`; after an ambiguous failure, find it by name."""
        path = "/vector_stores"
        for attempt in range(CREATE_TRIES):
            try:
                answer = self._client.send_json("POST", path, {"name": name}, route=f"POST {path}")
            except AmbiguousWriteError:
                found = [s for s in self.stores() if s.name == name]
                if found:
                    return found[0]
                if attempt + 1 == CREATE_TRIES:
                    raise
                self._client.wait_before_retry(attempt, method="POST", path=path)
                continue
            with reading("POST", path):
                return shapes.store(answer, path)
        raise AssertionError("unreachable")

    def rename_store(self, store_id: str, name: str) -> None:
        path = f"/vector_stores/{store_id}"
        self._client.send_json(
            "POST", path, {"name": name}, idempotent=True, route="POST /vector_stores/{id}"
        )

    def delete_store(self, store_id: str) -> DeleteOutcome:
        path = f"/vector_stores/{store_id}"
        try:
            self._client.send_json("DELETE", path, route="DELETE /vector_stores/{id}")
        except NotFoundError:
            return DeleteOutcome.GONE
        return DeleteOutcome.DELETED

    def search(
        self, store_id: str, query: str, limit: int, filters: Mapping[str, object] | None = None
    ) -> list[Hit]:
        """The store's search, best first (several hits may come from one file)."""
        path = f"/vector_stores/{store_id}/search"
        body: dict[str, object] = {
            "query": query,
            "max_num_results": max(1, min(limit, MAX_SEARCH_RESULTS)),
            "rewrite_query": False,
        }
        if filters is not None:
            body["filters"] = dict(filters)
        answer = self._client.send_json(
            "POST", path, body, idempotent=True, route="POST /vector_stores/{id}/search"
        )
        with reading("POST", path):
            items, _ = shapes.page(answer, path)
            return [shapes.hit(item, f"{path}.data[{i}]") for i, item in enumerate(items)]

    # --------------------------------------------------------------------------------- files

    def file(self, file_id: str) -> FileInfo:
        path = f"/files/{file_id}"
        answer = self._client.get_json(path, route="GET /files/{id}")
        with reading("GET", path):
            return shapes.file_info(answer, path)

    def upload(self, filename: str, content: bytes) -> str:
        """Upload a File (purpose `assistants`); after an ambiguous failure, find it by name."""
        path = "/files"
        ctype = mimetypes.guess_type(filename)[0] or "text/plain"
        part = FilePart(filename, content, ctype)
        for attempt in range(CREATE_TRIES):
            try:
                answer = self._client.post_multipart(
                    path,
                    files={"file": part},
                    fields={"purpose": "assistants"},
                    route="POST /files",
                )
            except AmbiguousWriteError:
                found = [f for f in self.files() if f.filename == filename]
                if found:
                    return found[-1].id
                if attempt + 1 == CREATE_TRIES:
                    raise
                self._client.wait_before_retry(attempt, method="POST", path=path)
                continue
            with reading("POST", path):
                return shapes.file_info(answer, path).id
        raise AssertionError("unreachable")

    def delete_file(self, file_id: str) -> DeleteOutcome:
        path = f"/files/{file_id}"
        try:
            self._client.send_json("DELETE", path, route="DELETE /files/{id}")
        except NotFoundError:
            return DeleteOutcome.GONE
        return DeleteOutcome.DELETED

    def content(self, file_id: str) -> bytes:
        """The File's bytes (the live API refuses purpose `assistants` with a 400)."""
        path = f"/files/{file_id}/content"
        return self._client.get_bytes(path, route="GET /files/{id}/content")

    def readable(self, store_id: str | None, file_id: str) -> bytes:
        """The File's bytes as uploaded or, where the API keeps them to itself (the live API
        answers 400 for purpose `assistants`), the text `store_id` parsed from it (UTF-8; for
        a text file, its text). After one refusal only the parsed text is asked for."""
        if not self.downloads_refused:
            try:
                return self.content(file_id)
            except ApiError as err:
                if err.status != 400:
                    raise
                self.downloads_refused = True
        if store_id is None:
            raise NotFoundError(f"File {file_id} is in no vector store kbctl can read")
        return self.parsed_text(store_id, file_id).encode("utf-8")

    def parsed_text(self, store_id: str, file_id: str) -> str:
        """The text the store parsed from an attached file (empty until it is `completed`)."""
        path = f"/vector_stores/{store_id}/files/{file_id}/content"
        answer = self._client.get_json(path, route="GET /vector_stores/{id}/files/{id}/content")
        with reading("GET", path):
            return "\n".join(shapes.content_texts(answer, path))

    # ---------------------------------------------------------------------- store files

    def store_file(self, store_id: str, file_id: str) -> StoreFile:
        path = f"/vector_stores/{store_id}/files/{file_id}"
        answer = self._client.get_json(path, route="GET /vector_stores/{id}/files/{id}")
        with reading("GET", path):
            return shapes.store_file(answer, path)

    def attach(
        self,
        store_id: str,
        file_id: str,
        attributes: Mapping[str, MetadataValue],
        chunking: Chunking | None,
    ) -> StoreFile:
        """Attach a File with its attributes and chunking (processing starts). Attaching is
        retried like an idempotent request: a File is attached to a store at most once."""
        path = f"/vector_stores/{store_id}/files"
        body = shapes.attachment_body(file_id, attributes, chunking)
        answer = self._client.send_json(
            "POST", path, body, idempotent=True, route="POST /vector_stores/{id}/files"
        )
        with reading("POST", path):
            return shapes.store_file(answer, path)

    def update_attributes(
        self, store_id: str, file_id: str, attributes: Mapping[str, MetadataValue]
    ) -> None:
        """Replace a file's attributes (the whole map: the API may not merge)."""
        path = f"/vector_stores/{store_id}/files/{file_id}"
        self._client.send_json(
            "POST",
            path,
            {"attributes": dict(attributes)},
            idempotent=True,
            route="POST /vector_stores/{id}/files/{id}",
        )

    def detach(self, store_id: str, file_id: str) -> bool:
        """Detach a file from a store (the File stays); False when it was not attached."""
        path = f"/vector_stores/{store_id}/files/{file_id}"
        try:
            self._client.send_json("DELETE", path, route="DELETE /vector_stores/{id}/files/{id}")
        except NotFoundError:
            return False
        return True

    # ---------------------------------------------------------------------- file batches

    def create_batch(self, store_id: str, files: Sequence[Mapping[str, object]]) -> Batch:
        """Attach files (each with its own attributes and chunking: the `files` form) in one
        request; retried like an idempotent one, as attaching is."""
        path = f"/vector_stores/{store_id}/file_batches"
        answer = self._client.send_json(
            "POST",
            path,
            {"files": [dict(f) for f in files]},
            idempotent=True,
            route="POST /vector_stores/{id}/file_batches",
        )
        with reading("POST", path):
            return shapes.batch(answer, path)

    def batch(self, store_id: str, batch_id: str) -> Batch:
        """A batch's counts."""
        path = f"/vector_stores/{store_id}/file_batches/{batch_id}"
        answer = self._client.get_json(path, route="GET /vector_stores/{id}/file_batches/{id}")
        with reading("GET", path):
            return shapes.batch(answer, path)

    def batch_files(self, store_id: str, batch_id: str, status: str) -> list[StoreFile]:
        """The files of a batch in one status (`in_progress`, `failed`, …), every page."""
        path = f"/vector_stores/{store_id}/file_batches/{batch_id}/files"
        return self._all(path, shapes.store_file, {"filter": status, "order": "asc"}, PAGE)
