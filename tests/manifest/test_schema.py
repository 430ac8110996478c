"""The JSON Schema ships as package data, is valid Draft 2020-12, and accepts the example."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from kbctl.cli.main import cli
from kbctl.manifest import schema_text

REPO = Path(__file__).resolve().parents[2]


def _schema() -> dict[str, object]:
    text = resources.files("kbctl.manifest").joinpath("schema.json").read_text("utf-8")
    loaded = json.loads(text)
    assert isinstance(loaded, dict)
    return loaded


def test_schema_loads_from_package_data_and_is_valid() -> None:
    schema = _schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"]
    assert schema["title"]
    assert json.loads(schema_text()) == schema


def test_every_property_is_described_for_editors() -> None:
    schema = _schema()

    def walk(node: object, path: str) -> list[str]:
        missing: list[str] = []
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if isinstance(sub, dict) and "$ref" not in sub and "description" not in sub:
                    missing.append(f"{path}.{name}")
            for key, value in node.items():
                missing.extend(walk(value, f"{path}.{key}"))
        return missing

    assert walk(schema, "") == []


def test_example_manifest_passes_the_raw_schema() -> None:
    data = yaml.safe_load((REPO / "manifests" / "example.yaml").read_text("utf-8"))
    errors = list(Draft202012Validator(_schema()).iter_errors(data))
    assert errors == []


def test_example_points_editors_at_the_schema() -> None:
    first_line = (REPO / "manifests" / "example.yaml").read_text("utf-8").splitlines()[0]
    assert first_line == "# yaml-language-server: $schema=../kbctl/manifest/schema.json"
    assert (REPO / "manifests" / "../kbctl/manifest/schema.json").resolve().is_file()


def test_kbctl_schema_prints_the_shipped_schema() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == _schema()
    assert result.stderr == ""


def test_openai_limits_in_the_schema_match_the_model() -> None:
    from kbctl import chunking as model

    defs = _schema()["$defs"]
    assert isinstance(defs, dict)
    metadata, chunking = defs["metadata"], defs["chunking"]
    assert metadata["maxProperties"] == model.MAX_METADATA_KEYS
    assert metadata["propertyNames"]["maxLength"] == model.MAX_ATTRIBUTE_KEY_LENGTH
    assert metadata["propertyNames"]["pattern"] == f"^(?!{model.RESERVED_ATTRIBUTE_PREFIX})"
    assert metadata["additionalProperties"]["maxLength"] == model.MAX_ATTRIBUTE_STRING_LENGTH
    size = chunking["properties"]["max_chunk_size_tokens"]
    assert (size["minimum"], size["maximum"]) == (
        model.MIN_CHUNK_SIZE_TOKENS,
        model.MAX_CHUNK_SIZE_TOKENS,
    )
