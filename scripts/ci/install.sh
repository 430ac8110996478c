#!/usr/bin/env bash
# Installs kbctl into a virtual environment of its own under RUNNER_TEMP, once per job, and
# leaves the job's Python and its packages alone.
#
#   KBCTL_VERSION  empty: kbctl from KBCTL_SOURCE (the action's own checkout);
#                  else a release ("0.2.0" → kbctl==0.2.0) or any pip requirement.
#   KBCTL_SOURCE   directory with kbctl's pyproject.toml (github.action_path).
#   KBCTL_PYTHON   the interpreter that creates the virtual environment (default: python3).
#
# kbctl's dependencies come from requirements.txt beside this script, every file checked
# against its sha256 (--require-hashes); kbctl itself is then installed without dependencies,
# so nothing is resolved afresh in the job that holds an API key.
# Step outputs: kbctl (the executable), python (the environment's interpreter).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/ci/lib.sh
. "$here/lib.sh"

version="${KBCTL_VERSION:-}"
source_dir="${KBCTL_SOURCE:-${GITHUB_ACTION_PATH:-.}}"
lock="$here/requirements.txt"
base_python="${KBCTL_PYTHON:-python3}"

if [ -z "$version" ]; then
  if [ ! -f "$source_dir/pyproject.toml" ]; then
    die "No pyproject.toml in $source_dir; set the kbctl-version input."
  fi
  requirement="$source_dir"
elif [[ "$version" =~ ^[0-9][0-9A-Za-z.+-]*$ ]]; then
  requirement="kbctl==$version"
else
  requirement="$version"
fi

# One environment per requirement, so two uses of the action in a job share it.
key="$(printf '%s' "$requirement" | cksum | cut -d' ' -f1)"
venv="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kbctl-venv-$key"
if [ -x "$venv/bin/kbctl" ] && [ -f "$venv/.kbctl-installed" ]; then
  echo "kbctl already installed in this job ($requirement)."
else
  echo "Installing kbctl ($requirement) into $venv"
  "$base_python" -m venv "$venv"
  pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
  "${pip[@]}" install --require-hashes --no-deps -r "$lock"
  if [ -z "$version" ]; then
    # The build backend is in the lock: build kbctl from source without fetching anything.
    "${pip[@]}" install --no-deps --no-build-isolation "$requirement"
  else
    "${pip[@]}" install --no-deps "$requirement"
  fi
  : >"$venv/.kbctl-installed"
fi
set_output kbctl "$venv/bin/kbctl"
set_output python "$venv/bin/python"
