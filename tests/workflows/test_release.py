"""What a release ships: the wheel and sdist build without setuptools deprecation warnings, pass
`twine check --strict`, and carry the metadata PyPI shows (SPDX license, classifiers, URLs,
authors), the LICENSE file and the manifest JSON Schema; the wheel alone runs the quick start
from a copy of manifests/; the pre-commit hook offers validate."""

from __future__ import annotations

import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.workflows.conftest import ROOT


@pytest.mark.slow
def test_the_release_builds_cleanly_with_complete_metadata(tmp_path: Path) -> None:
    pytest.importorskip("build")
    pytest.importorskip("twine")
    source = tmp_path / "src"
    # Build from a copy, so the build leaves nothing in the repository.
    files = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((ROOT / name).read_bytes())
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    assert "deprecat" not in (build.stdout + build.stderr).lower()
    twine = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert twine.returncode == 0, twine.stdout + twine.stderr
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.message_from_bytes(archive.read(metadata_name))
    assert metadata["License-Expression"] == "MIT"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "kbctl/manifest/schema.json" in names
    classifiers = metadata.get_all("Classifier") or []
    assert "Programming Language :: Python :: 3.13" in classifiers
    assert not [c for c in classifiers if c.startswith("License ::")]  # the SPDX string says it
    urls = metadata.get_all("Project-URL") or []
    assert any(u.startswith("Source, ") for u in urls) and any(
        u.startswith("Changelog, ") for u in urls
    )
    assert metadata["Author"] or metadata["Author-email"]

    # The wheel alone runs the quick start from a copy of manifests/ (its dependencies come
    # from this environment; kbctl itself only from the wheel).
    target = tmp_path / "installed"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr
    quick = tmp_path / "quick"
    shutil.copytree(
        ROOT / "manifests", quick / "manifests", ignore=shutil.ignore_patterns("__pycache__")
    )
    run = [sys.executable, "-c", "import sys; from kbctl.cli.main import main; sys.exit(main())"]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target), "HOME": str(tmp_path)}
    where = subprocess.run(
        [sys.executable, "-c", "import kbctl; print(kbctl.__file__)"],
        cwd=quick,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(target))
    for args in (["plan", "-e", "local"], ["apply", "-e", "local", "--auto-approve"]):
        result = subprocess.run(
            [*run, *args],
            cwd=quick,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
    again = subprocess.run(
        [*run, "plan", "-e", "local"],
        cwd=quick,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert "No changes" in again.stdout, again.stdout + again.stderr


def test_the_pre_commit_hook_offers_kbctl_validate() -> None:
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in hooks if h["id"] == "kbctl-validate"]
    assert hook["entry"] == "kbctl validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is False


def test_license_and_changelog_ship() -> None:
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "## [Unreleased]" in (ROOT / "CHANGELOG.md").read_text()
