"""Fixtures for retrieval checks: a project folder with Russian and English quarter documents and
a manifest with checks, an emulated workspace on a `FakeClock` shared with its `World`, the real
provider over it (`ApiClient(transport=httpx.WSGITransport(app=EmulatorApp(world)))`), and the
CLI wired to the same workspace (`kbctl apply`, `kbctl check`, `kbctl validate` run in-process,
never sleeping).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import Result

from kbctl.apply import ApplyOptions, ApplyResult, RecordingEvents, apply_agent_plan
from kbctl.manifest import load_manifests
from kbctl.model import Target
from kbctl.plan.planner import plan_target
from kbctl.provider.elevenlabs import ElevenLabsProvider
from kbctl.snapshots.hook import SnapshotHook
from kbctl.snapshots.store import SnapshotStore
from tests.conftest import EmulatedFactory
from tests.harness import Emulated

AGENT = "agent_staging"
SEARCH = "GET /v1/convai/knowledge-base/search"

#: Four quarters: each answers one caller question; only Заречье and Садовый mention parking
#: (Заречье three times, Садовый once), so "Есть ли паркинг?" ranks Заречье first.
DOCS = {
    "zarechye": (
        "# ЖК «Заречье»\n\n"
        "Цена квадратного метра в ЖК «Заречье» — от 165 000 ₽, студии от 4,1 млн ₽.\n"
        "Сдача корпуса 2 — IV квартал 2026 года.\n\n"
        "Подземный паркинг на 200 машиномест; паркинг для гостей у корпуса 1; "
        "место в паркинге от 1,2 млн ₽.\n\n"
        "Во дворе детские площадки, вдоль реки набережная с велодорожкой. "
        "Офис продаж работает ежедневно с 9:00 до 20:00 на первом этаже корпуса 1, "
        "там же можно посмотреть макет квартала и образцы отделки квартир.\n"
    ),
    "sadovy": (
        "# Квартал «Садовый»\n\n"
        "Школа на 1 100 учеников открывается в квартале «Садовый» в сентябре 2026 года, "
        "детский сад на 250 мест — во дворе корпуса 3.\n\n"
        "Гостевой паркинг вдоль улицы Вишнёвой. Парк с прудом и яблоневым садом "
        "примыкает к кварталу с юга; до метро 12 минут пешком.\n\n"
        "Квартиры сдаются с отделкой white box, видовые квартиры на парк — с 9-го этажа.\n"
    ),
    "riverside": (
        "# Riverside Park\n\n"
        "Riverside Park building B will be completed in Q3 2026; building A is handed over "
        "and keys are issued at the sales office. Flats from 38 to 96 m², prices per m² from "
        "170,000 RUB, river views from the 8th floor.\n\n"
        "The embankment promenade, a cycling path and a playground are inside the quarter; "
        "the nearest tram stop is a four-minute walk away. Viewings every day from 9:00 to "
        "20:00 by appointment. Underground storage rooms of 4 to 8 m² are sold separately, "
        "and the courtyard is closed to cars.\n"
    ),
    "mortgage": (
        "# Ипотека и банки-партнёры\n\n"
        "Банки-партнёры: Сбербанк, ВТБ, Альфа-Банк и Дом.РФ. Семейная ипотека от 6 % "
        "для семей с ребёнком до 6 лет, IT-ипотека от 5 %, стандартная ипотека от 15,5 %.\n\n"
        "Менеджер подаёт заявку сразу в несколько банков, решение приходит за 1–3 рабочих "
        "дня. Материнский капитал принимается как первый взнос или его часть.\n"
    ),
}

#: What `docs/mortgage.md` becomes when the mortgage facts are edited out by mistake.
MORTGAGE_GONE = (
    "# Рассрочка от застройщика\n\n"
    "Рассрочка до конца строительства: первый взнос от 30 %, без переплаты, платежи раз "
    "в квартал. Договор подписывается в офисе продаж за один визит; нужен только паспорт.\n\n"
    "Скидка 3 % при оплате 100 % стоимости квартиры, 1,5 % — при первом взносе от 50 %. "
    "Условия действуют для всех корпусов до конца года.\n"
)

CHECKS = """\
checks:
  - query: Сколько стоит квадратный метр в ЖК «Заречье»?
    expect: docs/zarechye.md
  - query: Будет ли школа рядом с кварталом «Садовый»?
    expect: docs/sadovy.md
  - query: When will Riverside Park building B be completed?
    expect: docs/riverside.md
  - query: Какие банки дают семейную ипотеку?
    expect: [docs/mortgage.md]
"""


class Bench:
    """The project folder, the emulated workspace, the provider and the snapshot store."""

    def __init__(self, root: Path, emulated: Emulated) -> None:
        self.root = root
        self.emulated = emulated
        self.clock = emulated.clock
        self.world = emulated.world
        self.app = emulated.app
        self.client = emulated.new_client()
        self.provider = ElevenLabsProvider(self.client)
        self.store = SnapshotStore(root / "state-snapshots")

    # ------------------------------------------------------------------------------ files

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    def manifest(
        self,
        *,
        checks: str = CHECKS,
        policy: str = "",
        docs: Mapping[str, str] = DOCS,
    ) -> None:
        """Write manifests/docs/<name>.md and manifests/kb.yaml (staging only)."""
        for name, text in docs.items():
            self.write(f"manifests/docs/{name}.md", text)
        self.write(
            "manifests/kb.yaml",
            "version: 1\n"
            "project: demo\n"
            "rag:\n"
            "  enabled: true\n"
            "  embedding_model: multilingual_e5_large_instruct\n"
            "policy:\n"
            "  index_timeout: 60\n"
            "documents:\n"
            "  - glob: docs/*.md\n"
            "environments:\n"
            "  staging:\n"
            f"    agent_id: {AGENT}\n"
            "    base_url: https://emulator.kbctl.test\n" + checks + policy,
        )

    def target(self) -> Target:
        (manifest,) = load_manifests([Path("manifests/kb.yaml")], {})
        return manifest.resolve("staging", {})

    # ------------------------------------------------------------------------------ API

    def apply(self, events: RecordingEvents | None = None) -> tuple[ApplyResult, SnapshotHook]:
        """What `kbctl apply --auto-approve` does for the agent, with the snapshot hook."""
        target = self.target()
        live = self.provider.read_state(target.agent_id, target.project, target.environment)
        hook = SnapshotHook(self.store, self.clock, self.provider)
        result = apply_agent_plan(
            plan_target(target, live),
            target,
            self.provider,
            self.clock,
            events=events or RecordingEvents(),
            options=ApplyOptions(poll_initial=1.0, poll_max=2.0),
            hook=hook,
        )
        self.clock.advance(5)
        return result, hook

    def kb_ids(self) -> list[str]:
        agent = self.world.agent(AGENT)
        assert agent is not None
        return [str(e["id"]) for e in agent.knowledge_base]

    def version_count(self) -> int:
        agent = self.world.agent(AGENT)
        assert agent is not None
        return agent.version_count

    def searches(self) -> int:
        return self.world.calls[SEARCH]

    # ------------------------------------------------------------------------------ CLI

    def run(self, *args: str) -> Result:
        """`kbctl ARGS` in the project folder."""
        return self.emulated.cli(*args)


@pytest.fixture
def bench(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulated: EmulatedFactory) -> Bench:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("ELEVENLABS_BASE_URL", raising=False)
    return Bench(tmp_path, emulated(agents={AGENT: "Staging Agent"}))
