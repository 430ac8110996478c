#!/usr/bin/env bash
# Installs kbctl into the runner's Python, once per job.
#
#   KBCTL_VERSION  empty: install from KBCTL_SOURCE (the action's own checkout);
#                  else a PyPI version ("0.1.0") or any pip requirement ("kbctl>=0.1").
#   KBCTL_SOURCE   directory with kbctl's pyproject.toml (github.action_path).
set -euo pipefail

version="${KBCTL_VERSION:-}"
source_dir="${KBCTL_SOURCE:-${GITHUB_ACTION_PATH:-.}}"

if [ -z "$version" ]; then
  requirement="$source_dir"
  if [ ! -f "$source_dir/pyproject.toml" ]; then
    echo "::error title=kbctl install::No pyproject.toml in $source_dir; set the kbctl-version input." >&2
    exit 1
  fi
elif [[ "$version" =~ ^[0-9][0-9A-Za-z.+-]*$ ]]; then
  requirement="kbctl==$version"
else
  requirement="$version"
fi

# The action may be used several times in one job: install once per requirement.
stamp_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kbctl-install"
stamp="$stamp_dir/$(printf '%s' "$requirement" | cksum | cut -d' ' -f1)"
if [ -f "$stamp" ] && command -v kbctl >/dev/null 2>&1; then
  echo "kbctl already installed in this job ($requirement)."
  exit 0
fi

echo "Installing kbctl from $requirement"
python -m pip install --quiet --disable-pip-version-check "$requirement"
mkdir -p "$stamp_dir"
: >"$stamp"
