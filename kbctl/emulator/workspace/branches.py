"""Agent branches and deployments: create a branch from any version (with configuration
changes), list, get and PATCH branches (rename, archive, protect), merge one branch into another
(three-way, with a preview), and traffic splits across branches with their history.

Owns those endpoints' semantics on workspace state. Must not parse requests; each method takes
the lock. Writing to a branch goes through `AgentOps._write`, so unknown KB ids and protected
branches are refused the same way as for an agent PATCH.
"""

from __future__ import annotations

from kbctl.emulator.workspace import agent_shapes as wire
from kbctl.emulator.workspace.agent_config import referenced_ids
from kbctl.emulator.workspace.agents import AgentOps
from kbctl.emulator.workspace.errors import ApiProblem
from kbctl.emulator.workspace.merging import Conflict, merge_configs
from kbctl.emulator.workspace.records import Agent, AgentVersion, Branch, Deployment, Json

#: Versions listed in a branch's `most_recent_versions`.
RECENT_VERSIONS = 5
_TOLERANCE = 1e-6


def _snapshot(version: AgentVersion) -> Json:
    return {
        "conversation_config": version.conversation_config,
        "platform_settings": version.platform_settings,
        "workflow": version.workflow,
    }


class BranchOps(AgentOps):
    """Branch, merge and deployment endpoints (mixed into `World`)."""

    def _branch_json(self, agent: Agent, branch: Branch) -> Json:
        head = self._head(agent, branch.id)
        recent = [self._versions[v] for v in reversed(branch.version_ids[-RECENT_VERSIONS:])]
        out = wire.branch_detail(agent, branch, head, agent.traffic().get(branch.id, 0.0), recent)
        out["protection_status"] = self._protection(agent, branch)
        return out

    def list_branches(
        self, agent_id: str, include_archived: bool = False, limit: int | None = None
    ) -> Json:
        """`GET /v1/convai/agents/{id}/branches`: main first, then by creation."""
        with self._lock:
            agent = self._agent(agent_id)
            traffic = agent.traffic()
            results = []
            for branch in agent.branches.values():
                if branch.is_archived and not include_archived:
                    continue
                head = self._head(agent, branch.id)
                item = wire.branch_summary(agent, branch, head, traffic.get(branch.id, 0.0))
                item["protection_status"] = self._protection(agent, branch)
                results.append(item)
            results = results[:limit] if limit is not None else results
            return {
                "meta": {"total": len(results), "page": 0, "page_size": len(results)},
                "results": results,
            }

    def create_branch(self, agent_id: str, body: Json) -> Json:
        """`POST /v1/convai/agents/{id}/branches` → `{created_branch_id, created_version_id}`:
        the parent version with the body's configuration changes merged in."""
        with self._lock:
            agent = self._agent(agent_id)
            parent = self._version_of(agent, str(body["parent_version_id"]))
            name = str(body["name"])
            if any(b.name == name for b in agent.branches.values()):
                raise ApiProblem(
                    409, "branch_name_taken", f"Agent {agent_id!r} already has a branch {name!r}."
                )
            now = self._now()
            branch = Branch(
                id=self._new_id("agtbrch_"),
                name=name,
                description=str(body.get("description") or ""),
                created_at=now,
                version_ids=[],
                parent_branch_id=parent.branch_id,
            )
            agent.branches[branch.id] = branch
            changes = {
                k: body.get(k) for k in ("conversation_config", "platform_settings", "workflow")
            }
            changes["version_description"] = f"Branched from {parent.id}"
            changes.update(name=parent.name, tags=parent.tags)
            try:
                version = self._write(
                    agent, parent, changes, "", branch.id, {"out_of_branch_parent_id": parent.id}
                )
            except ApiProblem:
                del agent.branches[branch.id]
                raise
            return {"created_branch_id": branch.id, "created_version_id": version.id}

    def get_branch(self, agent_id: str, branch_id: str) -> Json:
        """`GET /v1/convai/agents/{id}/branches/{branch_id}`."""
        with self._lock:
            agent = self._agent(agent_id)
            return self._branch_json(agent, self._branch(agent, branch_id))

    def update_branch(
        self,
        agent_id: str,
        branch_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        is_archived: bool | None = None,
        protection_status: str | None = None,
    ) -> Json:
        """`PATCH /v1/convai/agents/{id}/branches/{branch_id}`. Main cannot be archived, nor a
        branch that still carries traffic. Archived branches are nobody's dependents."""
        with self._lock:
            agent = self._agent(agent_id)
            branch = self._branch(agent, branch_id)
            if is_archived and not branch.is_archived:
                if branch.id == agent.main_branch_id:
                    raise ApiProblem(400, "cannot_archive_main_branch", "Main cannot be archived.")
                if agent.traffic().get(branch.id, 0.0) > 0:
                    raise ApiProblem(
                        400,
                        "branch_has_traffic",
                        f"Branch {branch.id!r} still receives traffic; deploy without it first.",
                    )
            if name is not None and name != branch.name:
                if any(b.name == name for b in agent.branches.values()):
                    raise ApiProblem(409, "branch_name_taken", f"A branch {name!r} exists.")
                branch.name = name
            if description is not None:
                branch.description = description
            if protection_status is not None:
                branch.protection_status = protection_status
            if is_archived is not None and is_archived != branch.is_archived:
                branch.is_archived = is_archived
                self._track_head(agent, branch)
            self._mark("agents", agent.agent_id)
            return self._branch_json(agent, branch)

    # ------------------------------------------------------------------ merging
    def _merge_base(self, agent: Agent, source: Branch, target: Branch) -> AgentVersion:
        """The common ancestor: the target version the source last took in (its branch point,
        or what it was last merged from), else the target's first version."""
        for version_id in reversed(source.version_ids):
            origin = self._versions[version_id].origin
            for key in ("merged_from_version_id", "out_of_branch_parent_id"):
                found = self._versions.get(origin.get(key, ""))
                if found is not None and found.branch_id == target.id:
                    return found
        return self._versions[target.version_ids[0]]

    def _merged(
        self, agent: Agent, source_id: str, target_id: str
    ) -> tuple[Branch, Branch, Json, list[Conflict]]:
        source = self._branch(agent, source_id)
        target = self._branch(agent, target_id)
        if source.id == target.id:
            raise ApiProblem(400, "invalid_merge", "A branch cannot be merged into itself.")
        base = self._merge_base(agent, source, target)
        head_s, head_t = self._head(agent, source.id), self._head(agent, target.id)
        merged, conflicts = merge_configs(_snapshot(base), _snapshot(head_s), _snapshot(head_t))
        return source, target, merged, conflicts

    def merge_preview(self, agent_id: str, source_id: str, target_id: str) -> Json:
        """`GET …/branches/{source}/merge-preview?target_branch_id=`: the agent as the merge
        would leave the target, with the conflicts (the source's side wins them)."""
        with self._lock:
            agent = self._agent(agent_id)
            source, target, merged, conflicts = self._merged(agent, source_id, target_id)
            head_t = self._head(agent, target.id)
            out = self._agent_json(agent, head_t)
            cc, ps, wf = (
                merged[k] for k in ("conversation_config", "platform_settings", "workflow")
            )
            out.update(conversation_config=cc, platform_settings=ps, workflow=wf)
            out["overridden_fields"] = [f"{c.section}.{c.path}".rstrip(".") for c in conflicts]
            out["conflicts"] = [
                {
                    "path": c.path,
                    "section": c.section,
                    "base_value": c.base,
                    "source_value": c.source,
                    "target_value": c.target,
                }
                for c in conflicts
            ]
            out["source_identical_to_target"] = merged == _snapshot(self._head(agent, source.id))
            return out

    def merge_branch(
        self,
        agent_id: str,
        source_id: str,
        target_id: str,
        *,
        archive_source_branch: bool = False,
        force: bool = False,
    ) -> Json:
        """`POST …/branches/{source}/merge?target_branch_id=`: a new version on the target.
        Conflicting fields need `force` (409 `merge_conflict` otherwise); archiving the source
        moves its traffic to the target. Answers the target's new head as an agent."""
        with self._lock:
            agent = self._agent(agent_id)
            source, target, merged, conflicts = self._merged(agent, source_id, target_id)
            self._check_writable(agent, target)
            if conflicts and not force:
                paths = ", ".join(f"{c.section}.{c.path}" for c in conflicts)
                raise ApiProblem(
                    409, "merge_conflict", f"Both branches changed: {paths}. Merge with force."
                )
            head_s = self._head(agent, source.id)
            body: Json = {
                **merged,
                "name": head_s.name,
                "tags": head_s.tags,
                "version_description": f"Merged branch {source.name}",
            }
            head_t = self._head(agent, target.id)
            origin = {"merged_from_branch_id": source.id, "merged_from_version_id": head_s.id}
            version = self._write(agent, head_t, body, "", target.id, origin, replace=True)
            source.merged_into_branch_id = target.id
            if archive_source_branch and source.id != agent.main_branch_id:
                traffic = agent.traffic()
                moved = traffic.pop(source.id, 0.0)
                if moved > 0:
                    traffic[target.id] = traffic.get(target.id, 0.0) + moved
                    self._deploy(agent, traffic, "branch_merge")
                source.is_archived = True
                self._track_head(agent, source)
            self._mark("agents", agent.agent_id)
            return self._agent_json(agent, version)

    # ------------------------------------------------------------------ deployments
    def _deploy(self, agent: Agent, traffic: dict[str, float], source: str) -> Deployment:
        deployment = Deployment(self._new_id("agtdpl_"), self._now(), traffic, source)
        agent.deployments.append(deployment)
        self._mark("agents", agent.agent_id)
        return deployment

    def create_deployment(self, agent_id: str, requests: list[tuple[str, float]]) -> Json:
        """`POST /v1/convai/agents/{id}/deployments`: the new live split. Branches not named get
        0 %; when main is not named it takes what the others leave. The split must total 100."""
        with self._lock:
            agent = self._agent(agent_id)
            traffic: dict[str, float] = {}
            for branch_id, percentage in requests:
                branch = self._branch(agent, branch_id)
                if branch.is_archived:
                    raise ApiProblem(400, "branch_archived", f"Branch {branch_id!r} is archived.")
                traffic[branch.id] = float(percentage)
            if agent.main_branch_id not in traffic:
                traffic[agent.main_branch_id] = 100.0 - sum(traffic.values())
            total = sum(traffic.values())
            if abs(total - 100.0) > _TOLERANCE or min(traffic.values()) < -_TOLERANCE:
                raise ApiProblem(
                    400,
                    "invalid_traffic_split",
                    f"Traffic percentages must total 100 across branches, not {total:g}.",
                )
            live = {b: p for b, p in traffic.items() if p > _TOLERANCE}
            deployment = self._deploy(agent, live, "manual")
            return {"traffic_percentage_branch_id_map": dict(deployment.traffic)}

    def list_deployments(self, agent_id: str, page: int = 0, page_size: int = 30) -> Json:
        """`GET /v1/convai/agents/{id}/deployments`: traffic-split history, newest first."""
        with self._lock:
            agent = self._agent(agent_id)
            history = list(reversed(agent.deployments))
            chosen = history[page * page_size : (page + 1) * page_size]
            return {
                "meta": {"total": len(history), "page": page, "page_size": page_size},
                "results": [wire.deployment_item(d, d is history[0]) for d in chosen],
            }

    def branch_references(self, agent_id: str, branch_id: str | None) -> set[str]:
        """Ids the head of a branch references (tests)."""
        with self._lock:
            agent = self._agent(agent_id)
            head = self._head(agent, self._branch(agent, branch_id).id)
            return referenced_ids(head.conversation_config, head.workflow)
