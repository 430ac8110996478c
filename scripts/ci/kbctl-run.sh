#!/usr/bin/env bash
# Runs one kbctl command the way a GitHub Actions job needs it (the `run` step of action.yml).
#
# Inputs (environment): KBCTL_COMMAND (validate|plan|apply|rollback|status|drift),
# KBCTL_ENVIRONMENT, KBCTL_MANIFEST (files, one per line), KBCTL_ARGS (extra arguments),
# KBCTL_SNAPSHOT (rollback target), KBCTL_COMMIT_SNAPSHOTS (true|false), KBCTL_API_KEY,
# KBCTL_OUT_DIR. Writes step outputs to $GITHUB_OUTPUT and a report to $GITHUB_STEP_SUMMARY.
#
# Exit status: kbctl's, except that plan/drift's 2 ("there are changes") is a success.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command="${KBCTL_COMMAND:-}"
environment="${KBCTL_ENVIRONMENT:-}"
out_dir="${KBCTL_OUT_DIR:-}"
[ -n "$out_dir" ] || out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kbctl"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
outputs="${GITHUB_OUTPUT:-/dev/null}"
python="${KBCTL_PYTHON:-python}"
command -v "$python" >/dev/null 2>&1 || python=python3

# die MESSAGE: fail the step with an error annotation (escaped: it may quote an input).
die() {
  local message="${1//'%'/%25}"
  message="${message//$'\r'/%0D}"
  message="${message//$'\n'/%0A}"
  echo "::error title=kbctl::$message" >&2
  exit 1
}

set_output() {
  printf '%s=%s\n' "$1" "$2" >>"$outputs"
}

# Secrets: GitHub masks `secrets.*`, but a key may also arrive through an input or a variable.
if [ -n "${KBCTL_API_KEY:-}" ]; then
  echo "::add-mask::$KBCTL_API_KEY"
  export ELEVENLABS_API_KEY="$KBCTL_API_KEY"
fi
if [ -n "${ELEVENLABS_API_KEY:-}" ]; then
  echo "::add-mask::$ELEVENLABS_API_KEY"
fi
unset KBCTL_API_KEY

# `env: NAME: ${{ vars.NAME }}` sets NAME to "" when the variable is not defined (a fork's pull
# request, a repository without it). For kbctl an empty ${VAR} is an error, an unset one only
# matters for the environment being planned: so treat empty ELEVENLABS_* as unset.
while IFS= read -r name; do
  if [[ "$name" == ELEVENLABS_* ]] && [ -z "${!name}" ]; then
    unset "$name"
  fi
done < <(compgen -e)

case "$command" in
  validate | plan | apply | rollback | status | drift) ;;
  *) die "Unknown command '$command' (expected validate, plan, apply, rollback, status or drift)." ;;
esac
if [ "$command" != validate ] && [ -z "$environment" ]; then
  die "kbctl $command needs the environment input."
fi
if [ -n "$environment" ] && [[ ! "$environment" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then
  die "Invalid environment name '$environment'."
fi

mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
set_output out-dir "$out_dir"

files=()
while IFS= read -r line; do
  line="${line#"${line%%[![:space:]]*}"}"
  line="${line%"${line##*[![:space:]]}"}"
  [ -n "$line" ] && files+=(-f "$line")
done <<<"${KBCTL_MANIFEST:-}"

set -f # extra arguments are split on whitespace, never glob-expanded
# shellcheck disable=SC2206
extra=(${KBCTL_ARGS:-})
set +f

# run_kbctl STDOUT_FILE STDERR_FILE ARGS...: kbctl's output is shown live and kept in the files.
# Returns kbctl's exit status (pipefail: the tees succeed, so the pipeline's status is kbctl's).
run_kbctl() {
  local stdout_file="$1" stderr_file="$2"
  shift 2
  echo "+ kbctl $*"
  { kbctl "$@" 2>&1 1>&3 3>&- | tee "$stderr_file" >&2; } 3>&1 | tee "$stdout_file"
  return "${PIPESTATUS[0]}"
}

# fence FILE: the file as a fenced block for Markdown (at most the last 200 lines).
fence() {
  echo '```'
  tail -n 200 "$1"
  echo '```'
}

commit_snapshots() {
  if [ "${KBCTL_COMMIT_SNAPSHOTS:-false}" = true ]; then
    bash "$here/commit-snapshots.sh" "$environment" "$1" || return 1
  fi
}

case "$command" in
  validate)
    stdout_file="$out_dir/validate.out"
    stderr_file="$out_dir/validate.err"
    run_kbctl "$stdout_file" "$stderr_file" validate "${files[@]}" \
      ${environment:+-e "$environment"} "${extra[@]}"
    code=$?
    # kbctl itself prints ::warning/::error annotations when GITHUB_ACTIONS=true.
    set_output exit-code "$code"
    if [ "$code" -eq 0 ]; then
      { echo "### ✅ kbctl validate"; echo; fence "$stdout_file"; echo; } >>"$summary"
    else
      { echo "### ❌ kbctl validate failed"; echo; fence "$stderr_file"; echo; } >>"$summary"
    fi
    exit "$code"
    ;;

  plan | drift)
    base="$out_dir/$command-$environment"
    # The drift check reads every managed document's content: an in-place edit is drift.
    refresh=()
    [ "$command" = drift ] && refresh=(--refresh-content)
    run_kbctl "$base.md" "$base.err" plan -e "$environment" "${files[@]}" \
      --out "$base.json" --format markdown --detailed-exitcode "${refresh[@]}" "${extra[@]}"
    code=$?
    echo "$code" >"$base.exit"
    grep -qxF "$environment" "$out_dir/$command-environments" 2>/dev/null \
      || echo "$environment" >>"$out_dir/$command-environments"
    set_output exit-code "$code"
    case "$code" in
      0 | 2)
        changes=false
        [ "$code" -eq 2 ] && changes=true
        { cat "$base.md"; echo; } >>"$summary"
        # kbctl itself annotates the plan's findings on their manifest lines (GITHUB_ACTIONS=true).
        set_output has-changes "$changes"
        [ "$command" = drift ] && set_output drift "$changes"
        set_output plan-json "$base.json"
        set_output plan-markdown "$base.md"
        ;;
      *)
        {
          echo "### ❌ kbctl plan failed: $environment (exit $code)"
          echo
          fence "$base.err"
          echo
        } >>"$summary"
        ;;
    esac
    "$python" "$here/kbctl_ci.py" body --kind "$command" --out-dir "$out_dir" \
      >"$out_dir/$command-body.md" || code=1
    set_output body "$out_dir/$command-body.md"
    if [ "$code" -eq 0 ] || [ "$code" -eq 2 ]; then exit 0; fi
    exit "$code"
    ;;

  apply | rollback)
    base="$out_dir/$command-$environment"
    if [ "$command" = apply ]; then
      run_kbctl "$base.out" "$base.err" apply -e "$environment" "${files[@]}" \
        --auto-approve --json "${extra[@]}"
    else
      # What can be rolled back to, for the log and the summary (never fatal).
      run_kbctl "$out_dir/snapshots-$environment.txt" "$out_dir/snapshots-$environment.err" \
        snapshots list -e "$environment" || true
      run_kbctl "$base.out" "$base.err" rollback -e "$environment" "${files[@]}" \
        --to "${KBCTL_SNAPSHOT:-previous}" --auto-approve --json "${extra[@]}"
    fi
    code=$?
    set_output exit-code "$code"
    case "$code" in
      0)
        title="### ✅ kbctl $command: $environment"
        note=""
        ;;
      3)
        title="### ❌ kbctl $command stopped at the index gate: $environment"
        note="The agent is unchanged: the documents this run created were deleted. Why each document failed:"
        ;;
      4)
        title="### ❌ kbctl $command: $environment changed while planning or applying"
        note="Re-run the job: it plans again against the live workspace."
        ;;
      5)
        title="### ❌ kbctl $command refused by policy: $environment"
        note="Deletions beyond the manifest's policy need --allow-destroy (the workflow's allow-destroy input)."
        ;;
      *)
        title="### ❌ kbctl $command failed: $environment (exit $code)"
        note=""
        ;;
    esac
    {
      echo "$title"
      echo
      [ -n "$note" ] && { echo "$note"; echo; }
      if [ "$code" -ne 0 ] && [ -s "$base.err" ]; then fence "$base.err"; echo; fi
      "$python" "$here/kbctl_ci.py" apply-summary "$base.out"
      if [ "$command" = rollback ] && [ -s "$out_dir/snapshots-$environment.txt" ]; then
        echo "<details><summary>Snapshots of $environment before the rollback</summary>"
        echo
        fence "$out_dir/snapshots-$environment.txt"
        echo
        echo "</details>"
        echo
      fi
    } >>"$summary"
    # Snapshots are committed after a failure too: the "before" snapshot is what a rollback needs.
    commit_snapshots "$command" || { [ "$code" -eq 0 ] && code=1; }
    exit "$code"
    ;;

  status)
    run_kbctl "$out_dir/status-$environment.out" "$out_dir/status-$environment.err" \
      status -e "$environment" "${files[@]}" "${extra[@]}"
    code=$?
    set_output exit-code "$code"
    {
      echo "### kbctl status: $environment"
      echo
      fence "$out_dir/status-$environment.out"
      echo
      [ "$code" -ne 0 ] && fence "$out_dir/status-$environment.err"
    } >>"$summary"
    exit "$code"
    ;;
esac
