"""Agent operations: create, get (a branch head or a version), list, summaries, PATCH (deep
merge, arrays replaced, unknown KB ids rejected, a new version on the branch each time, 403 on
a protected branch), delete, duplicate, versions and the knowledge-base size.

Owns those endpoints' semantics on workspace state. Must not parse requests; body schemas are
checked by the caller (`http.agent_schema`); each method takes the lock. Branches, merges and
deployments are in `branches`.
"""

from __future__ import annotations

from kbctl.emulator.workspace import agent_shapes as wire
from kbctl.emulator.workspace import shapes
from kbctl.emulator.workspace.agent_config import (
    all_locators,
    deep_merge,
    default_conversation_config,
    normalise_locators,
    prompt_locators,
    rag_of,
    referenced_ids,
)
from kbctl.emulator.workspace.errors import ApiProblem, not_found
from kbctl.emulator.workspace.index_attempts import IndexAttempts
from kbctl.emulator.workspace.paging import Ordering, SortKey, page
from kbctl.emulator.workspace.records import MAIN_BRANCH_NAME, Agent, AgentVersion, Branch, Json

#: Bytes counted as one page by `GET /v1/convai/agent/{id}/knowledge-base/size`.
BYTES_PER_PAGE = 2000


class AgentOps(IndexAttempts):
    """Agent endpoints (mixed into `World`)."""

    def _check_references(self, cc: Json, workflow: Json | None) -> None:
        missing = sorted(i for i in referenced_ids(cc, workflow) if i not in self._docs)
        if missing:
            raise ApiProblem(
                self.config.unknown_kb_id_status,
                "knowledge_base_documents_not_found",
                "Knowledge base documents do not exist: " + ", ".join(missing),
            )
        if rag_of(cc).get("enabled") is True:
            return
        for entry in all_locators(cc, workflow):
            folder = self._docs[str(entry["id"])]
            if folder.doc_type != "folder":
                continue
            size = sum(self._docs[d].size_bytes for d in self._descendants(folder.id))
            if size >= self.config.min_index_bytes:
                raise ApiProblem(
                    400,
                    "folder_requires_rag",
                    f"Folder {folder.id!r} can only be attached to an agent with RAG enabled.",
                )

    def _auto_index(self, before: set[str], cc: Json) -> None:
        rag = rag_of(cc)
        if not (self.config.auto_index_on_attach and rag.get("enabled") is True):
            return
        for entry in prompt_locators(cc):
            doc = self._docs.get(str(entry.get("id")))
            if doc is not None and doc.id not in before and doc.doc_type != "folder":
                self._request_index(doc, str(rag.get("embedding_model")))

    def _agent_json(self, agent: Agent, version: AgentVersion) -> Json:
        """The agent at `version`, names rewritten to the documents' when they propagate."""
        names = None
        if self.config.rename_propagates:
            ids = referenced_ids(version.conversation_config, version.workflow)
            names = {i: self._docs[i].name for i in ids if i in self._docs}
        return wire.agent(agent, version, names)

    def _protection(self, agent: Agent, branch: Branch) -> str | None:
        """The branch's protection status (main is `admin_perms_required` with `protect_main`)."""
        if branch.protection_status is None and branch.id == agent.main_branch_id:
            return "admin_perms_required" if self.config.protect_main else "writer_perms_required"
        return branch.protection_status

    def _check_writable(self, agent: Agent, branch: Branch) -> None:
        """403 on a protected branch (the caller has no admin rights), 400 on an archived one."""
        if self._protection(agent, branch) == "admin_perms_required":
            raise ApiProblem(
                403,
                "admin_perms_required",
                f"Branch {branch.name!r} of agent {agent.agent_id!r} is protected: "
                "writing to it needs admin permissions.",
            )
        if branch.is_archived:
            raise ApiProblem(
                400, "branch_archived", f"Branch {branch.id!r} is archived; unarchive it first."
            )

    def _write(
        self,
        agent: Agent,
        base: AgentVersion | None,
        body: Json,
        description: str,
        branch_id: str | None = None,
        origin: dict[str, str] | None = None,
        *,
        replace: bool = False,
    ) -> AgentVersion:
        """Merge `body` into `base` (or the defaults), check it and commit a version on
        `branch_id` (default main). With `replace` the body's sections are taken as they are
        (a branch merge has already combined them)."""
        base_cc = {} if replace else (base.conversation_config if base else None)
        patch_cc = body.get("conversation_config")
        cc = deep_merge(
            default_conversation_config() if base_cc is None else base_cc,
            patch_cc if isinstance(patch_cc, dict) else {},
        )
        patch_ps = body.get("platform_settings")
        base_ps = {} if replace or base is None else base.platform_settings
        ps = deep_merge(base_ps, patch_ps if isinstance(patch_ps, dict) else {})
        patch_wf = body.get("workflow")
        base_wf = None if replace or base is None else base.workflow
        wf = deep_merge(base_wf or {}, patch_wf) if isinstance(patch_wf, dict) else base_wf
        normalise_locators(cc)
        self._check_references(cc, wf)
        name = body.get("name")
        tags = body.get("tags")
        before = referenced_ids(base.conversation_config, base.workflow) if base else set()
        version = self._commit(
            agent,
            name=name if isinstance(name, str) else (base.name if base else "Agent"),
            tags=[str(t) for t in tags] if isinstance(tags, list) else (base.tags if base else []),
            conversation_config=cc,
            platform_settings=ps,
            workflow=wf,
            description=str(body.get("version_description") or description),
            branch_id=branch_id,
            origin=origin,
        )
        self._auto_index(before, cc)
        return version

    def _new_agent(self, agent_id: str, body: Json) -> Agent:
        now = self._now()
        main = Branch(self._new_id("agtbrch_"), MAIN_BRANCH_NAME, "Main branch", now, [])
        agent = Agent(agent_id, now, now, main.id, {main.id: main})
        self._agents[agent_id] = agent
        try:
            self._write(agent, None, body, "Initial version")
        except ApiProblem:
            del self._agents[agent_id]
            raise
        return agent

    def create_agent_from_api(self, body: Json) -> Json:
        """`POST /v1/convai/agents/create` → `{agent_id}` (a body already checked for 422s)."""
        with self._lock:
            agent = self._new_agent(self._new_id("agent_"), body)
            return {"agent_id": agent.agent_id}

    def get_agent(
        self, agent_id: str, version_id: str | None = None, branch_id: str | None = None
    ) -> Json:
        """`GET /v1/convai/agents/{id}` (head of main or of `branch_id`, or `version_id`)."""
        with self._lock:
            agent = self._agent(agent_id)
            branch = self._branch(agent, branch_id)
            if version_id is not None:
                return self._agent_json(agent, self._version_of(agent, version_id))
            return self._agent_json(agent, self._head(agent, branch.id))

    def _version_of(self, agent: Agent, version_id: str) -> AgentVersion:
        version = self._versions.get(version_id)
        if version is None or version.agent_id != agent.agent_id:
            raise not_found("agent_version", version_id)
        return version

    def update_agent(self, agent_id: str, body: Json, branch_id: str | None = None) -> Json:
        """`PATCH /v1/convai/agents/{id}`: a new version on the branch (default main); answers
        the full agent."""
        with self._lock:
            agent = self._agent(agent_id)
            branch = self._branch(agent, branch_id)
            self._check_writable(agent, branch)
            head = self._head(agent, branch.id)
            version = self._write(agent, head, body, "Updated via API", branch.id)
            return self._agent_json(agent, version)

    def delete_agent(self, agent_id: str) -> None:
        """`DELETE /v1/convai/agents/{id}`."""
        with self._lock:
            agent = self._agent(agent_id)
            del self._agents[agent_id]
            self._untrack_agent(agent)
            self._mark("agents", agent_id)
            for branch in agent.branches.values():
                for version_id in branch.version_ids:
                    self._versions.pop(version_id, None)
                    self._mark("versions", version_id)

    def duplicate_agent(self, agent_id: str, name: str | None = None) -> Json:
        """`POST /v1/convai/agents/{id}/duplicate` → `{agent_id}` (head only, no history)."""
        with self._lock:
            head = self._head(self._agent(agent_id))
            body: Json = {
                "conversation_config": head.conversation_config,
                "platform_settings": head.platform_settings,
                "workflow": head.workflow,
                "name": name or f"{head.name} (copy)",
                "tags": head.tags,
            }
            return {"agent_id": self._new_agent(self._new_id("agent_"), body).agent_id}

    def list_agents(
        self,
        *,
        page_size: int = 30,
        cursor: str | None = None,
        search: str | None = None,
        tags: list[str] | None = None,
        sort_by: str | None = None,
        sort_direction: str | None = None,
    ) -> Json:
        """`GET /v1/convai/agents`. Default order: newest first."""
        with self._lock:
            field = sort_by or "created_at"
            descending = (sort_direction or "desc") == "desc"
            order = list(self._agents.values())

            def key(a: Agent) -> SortKey:
                head = self._head(a)
                primary: object = {"name": head.name.casefold(), "updated_at": a.updated_at}.get(
                    field, a.created_at
                )
                return (0, primary, a.created_at)

            keyed = sorted(
                ((key(a), a) for a in order),
                key=lambda ka: (ka[0][1], ka[0][2], ka[1].agent_id),
                reverse=descending,
            )
            ordering = Ordering(
                items=[a for _, a in keyed],
                positions={a.agent_id: i for i, (_, a) in enumerate(keyed)},
                keys=[k for k, _ in keyed],
                descending=descending,
            )
            needle = search.casefold() if search else None
            wanted = set(tags) if tags else None

            def matches(a: Agent) -> bool:
                head = self._head(a)
                if needle is not None and needle not in head.name.casefold():
                    return False
                return wanted is None or bool(wanted & set(head.tags))

            got = page(ordering, cursor, page_size, matches, lambda a: a.agent_id)
            return {
                "agents": [wire.agent_summary(a, self._head(a)) for a in got.items],
                "next_cursor": got.next_cursor,
                "has_more": got.has_more,
            }

    def agent_summaries(self, agent_ids: list[str]) -> Json:
        """`GET /v1/convai/agents/summaries`: id -> success/failure."""
        with self._lock:
            out: Json = {}
            for agent_id in agent_ids:
                agent = self._agents.get(agent_id)
                if agent is None:
                    out[agent_id] = shapes.failure(
                        404, "agent_not_found", f"Agent {agent_id!r} was not found."
                    )
                else:
                    out[agent_id] = shapes.success(wire.agent_summary(agent, self._head(agent)))
            return out

    def agent_version(self, agent_id: str, version_id: str) -> Json:
        """`GET /v1/convai/agents/{id}/versions/{version_id}`."""
        with self._lock:
            return wire.version_metadata(self._version_of(self._agent(agent_id), version_id))

    def knowledge_base_size(self, agent_id: str) -> Json:
        """`GET /v1/convai/agent/{id}/knowledge-base/size`: pages of 2,000 bytes."""
        with self._lock:
            head = self._head(self._agent(agent_id))
            ids: set[str] = set()
            for ref in referenced_ids(head.conversation_config, head.workflow):
                if ref in self._docs:
                    ids.add(ref)
                    ids.update(self._descendants(ref))
            total = sum(self._docs[i].size_bytes for i in ids)
            return {"number_of_pages": round(total / BYTES_PER_PAGE, 2)}
