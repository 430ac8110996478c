"""A saved plan is made from the store's attribute values: when someone changes a managed
file's user attributes between `plan --out` and `apply PLAN`, the plan is stale (exit 4)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kbctl import commands
from kbctl.errors import ExitCode, StalePlanError
from kbctl.plan import planfile
from tests.openai.conftest import KEY, Handbook


def api_client(handbook: Handbook) -> httpx.Client:
    """A person at the API: plain HTTP to the same emulator."""
    return httpx.Client(
        transport=httpx.WSGITransport(app=handbook.app),
        base_url="http://emulator/v1",
        headers={"Authorization": f"Bearer {KEY}"},
    )


def save_plan(handbook: Handbook, path: Path) -> None:
    path.write_text(planfile.dumps(commands.plan(handbook.session, "local").plan))


def set_attributes(handbook: Handbook, file_id: str, attributes: dict[str, object]) -> None:
    with api_client(handbook) as api:
        answer = api.post(
            f"/vector_stores/{handbook.store_id()}/files/{file_id}",
            json={"attributes": attributes},
        )
        assert answer.status_code == 200, answer.text


def test_a_hand_edit_of_a_managed_files_attributes_makes_a_saved_plan_stale(
    handbook: Handbook, tmp_path: Path
) -> None:
    handbook.apply()
    sidecar = handbook.doc("kb/it/security/passwords.md.metadata.yaml")
    sidecar.write_text(sidecar.read_text().replace("version: 3", "version: 4"))
    saved = tmp_path / "plan.json"
    save_plan(handbook, saved)
    prices = handbook.attached()["kb/sales/pricing/price-list.md"]
    set_attributes(handbook, prices["id"], {**prices["attributes"], "public": False})
    uploads = handbook.recorder.uploads()

    with pytest.raises(StalePlanError) as caught:
        commands.apply(handbook.session, "local", plan_file=saved, auto_approve=True)
    assert caught.value.exit_code == ExitCode.STALE
    assert int(caught.value.exit_code) == 4
    assert "live knowledge base changed" in (caught.value.detail or "")
    passwords = handbook.attached()["kb/it/security/passwords.md"]
    assert passwords["attributes"]["version"] == 3  # nothing was written
    assert handbook.recorder.uploads() == uploads

    # A fresh plan sees both: the sidecar's change and the hand edit to undo.
    plan = commands.plan(handbook.session, "local").plan
    assert plan.summary.update == 2
    handbook.apply()
    assert handbook.attached()["kb/sales/pricing/price-list.md"]["attributes"]["public"] is True


def test_attributes_of_a_file_kbctl_does_not_manage_leave_a_saved_plan_valid(
    handbook: Handbook, tmp_path: Path
) -> None:
    handbook.apply()
    with api_client(handbook) as api:
        upload = api.post(
            "/files",
            files={"file": ("faq.md", b"# FAQ\n\nThe office opens at 8.\n", "text/markdown")},
            data={"purpose": "assistants"},
        )
        hand = upload.json()["id"]
        attach = {"file_id": hand, "attributes": {"dept": "hr"}}
        assert api.post(f"/vector_stores/{handbook.store_id()}/files", json=attach).status_code
    handbook.clock.advance(10)
    saved = tmp_path / "plan.json"
    save_plan(handbook, saved)
    set_attributes(handbook, hand, {"dept": "it"})

    run = commands.apply(handbook.session, "local", plan_file=saved, auto_approve=True)
    assert not run.plan.has_changes and not run.cancelled
