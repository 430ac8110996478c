#!/usr/bin/env bash
# Runs one kbctl command the way a GitHub Actions job needs it (the `run` step of action.yml).
#
# Inputs (environment):
#   KBCTL_COMMAND      validate | changes | plan | drift | check | apply | rollback | snapshots
#                      | status
#   KBCTL_ENVIRONMENT  the manifest environment (all but validate and changes)
#   KBCTL_MANIFEST     manifest files, one per line (default: every manifests/*.yaml)
#   KBCTL_ARGS         extra kbctl arguments, split on whitespace
#   KBCTL_NAME         the project's name in comment markers and artifact names ('' = default)
#   KBCTL_PLAN_FILE    apply: the saved plan to apply exactly (exit 4 when stale)
#   KBCTL_ALLOW_DESTROY  true: pass --allow-destroy (plan, apply, rollback)
#   KBCTL_REQUIRE_HEAD apply/rollback: refuse unless the checkout is the head of this branch
#   KBCTL_STATE_BRANCH the branch that keeps the snapshots ('' = none)
#   KBCTL_SNAPSHOT     rollback: the snapshot id, or previous
#   KBCTL_BASE         changes: the commit to compare with; KBCTL_PATHS: more globs that count
#   KBCTL_API_KEY, KBCTL_API_KEY_ENV  the key, exported as $KBCTL_API_KEY_ENV
#   KBCTL_OPENAI_API_KEY, KBCTL_OPENAI_API_KEY_ENV  an OpenAI key, exported as the latter
#                      (default OPENAI_API_KEY), for manifests with provider: openai
#   KBCTL_NOTIFY_WEBHOOK  a Slack-compatible webhook URL, exported under every variable the
#                      manifests' notify.webhook_env names (kbctl check/apply post failures
#                      there; the drift command posts its drift notice)
#   KBCTL_VARS         toJSON(vars): configuration variables manifests may read as ${NAME}
#   KBCTL_EXE, KBCTL_PYTHON  kbctl and the Python of its environment (from install.sh)
#   KBCTL_OUT_DIR      where files go (default $RUNNER_TEMP/kbctl)
# Writes step outputs to $GITHUB_OUTPUT and a report to $GITHUB_STEP_SUMMARY.
#
# Success is read from kbctl's own result, not guessed from its exit code: a plan succeeds when
# kbctl wrote this environment's plan file and exited 0 (no changes) or 2 (changes); an apply or
# rollback when kbctl exited 0 and its --json stream ended without an error event.
#
# shellcheck disable=SC2154 # result_* variables are assigned by read_result (printf -v)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/ci/lib.sh
. "$here/lib.sh"

command="${KBCTL_COMMAND:-}"
environment="${KBCTL_ENVIRONMENT:-}"
name="${KBCTL_NAME:-}"
out_dir="${KBCTL_OUT_DIR:-}"
[ -n "$out_dir" ] || out_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/kbctl"
summary="${GITHUB_STEP_SUMMARY:-/dev/null}"
kbctl="${KBCTL_EXE:-}"
[ -n "$kbctl" ] || kbctl=kbctl
python="${KBCTL_PYTHON:-}"
[ -n "$python" ] || python=python3
snapshots_dir="state-snapshots"

# Secrets: GitHub masks `secrets.*`, but a key may also arrive through an input or a variable.
# An ElevenLabs key and an OpenAI key may both be given: a repository can hold manifests of
# both providers, each reading its own variable.
key_env="${KBCTL_API_KEY_ENV:-}"
[ -n "$key_env" ] || key_env=ELEVENLABS_API_KEY
[[ "$key_env" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "Invalid api-key-env '$key_env'."
openai_key_env="${KBCTL_OPENAI_API_KEY_ENV:-}"
[ -n "$openai_key_env" ] || openai_key_env=OPENAI_API_KEY
[[ "$openai_key_env" =~ ^[A-Z_][A-Z0-9_]*$ ]] || die "Invalid openai-api-key-env '$openai_key_env'."
if [ -n "${KBCTL_API_KEY:-}" ] && [ -n "${KBCTL_OPENAI_API_KEY:-}" ] \
  && [ "$key_env" = "$openai_key_env" ]; then
  die "api-key-env and openai-api-key-env are both $key_env: give each key its own variable."
fi
if [ -n "${KBCTL_API_KEY:-}" ]; then
  echo "::add-mask::$KBCTL_API_KEY"
  export "$key_env=$KBCTL_API_KEY"
fi
if [ -n "${KBCTL_OPENAI_API_KEY:-}" ]; then
  echo "::add-mask::$KBCTL_OPENAI_API_KEY"
  export "$openai_key_env=$KBCTL_OPENAI_API_KEY"
fi
for var in "$key_env" "$openai_key_env"; do
  if [ -n "${!var:-}" ]; then
    echo "::add-mask::${!var}"
  fi
done
unset KBCTL_API_KEY KBCTL_OPENAI_API_KEY
webhook="${KBCTL_NOTIFY_WEBHOOK:-}"
unset KBCTL_NOTIFY_WEBHOOK
[ -n "$webhook" ] && echo "::add-mask::$webhook"

# `env: NAME: ${{ vars.NAME }}` sets NAME to "" when the variable is not defined (a fork's pull
# request, a repository without it). For kbctl an empty ${VAR} is an error, an unset one only
# matters for the environment being planned: so treat empty ELEVENLABS_* and OPENAI_* as unset.
while IFS= read -r var; do
  if [[ "$var" == ELEVENLABS_* || "$var" == OPENAI_* ]] && [ -z "${!var}" ]; then
    unset "$var"
  fi
done < <(compgen -e)

# Configuration variables (toJSON(vars)) become environment variables for ${NAME} in manifests,
# without overriding anything already set.
if [ -n "${KBCTL_VARS:-}" ] && [ "${KBCTL_VARS}" != "{}" ]; then
  while IFS= read -r -d '' var && IFS= read -r -d '' value; do
    export "$var=$value"
  done < <("$python" "$here/kbctl_ci.py" export-vars)
fi
unset KBCTL_VARS

case "$command" in
  validate | changes | plan | drift | check | apply | rollback | snapshots | status) ;;
  *) die "Unknown command '$command' (expected validate, changes, plan, drift, check, apply, rollback, snapshots or status)." ;;
esac
if [ "$command" != validate ] && [ "$command" != changes ] && [ -z "$environment" ]; then
  die "kbctl $command needs the environment input."
fi
if [ -n "$environment" ] && [[ ! "$environment" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*$ ]]; then
  die "Invalid environment name '$environment'."
fi
if [ -n "$name" ] && [[ ! "$name" =~ ^[A-Za-z0-9][A-Za-z0-9_./-]*$ ]]; then
  die "Invalid name '$name' (letters, digits, . _ / -)."
fi
# A project in a subdirectory is named by its path, unless it has a name.
if [ -z "$name" ]; then
  name="$(git rev-parse --show-prefix 2>/dev/null || true)"
  name="${name%/}"
fi
set_output name "$name"

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
for arg in "${extra[@]}"; do
  if [ "$arg" = --snapshots-dir ] || [[ "$arg" == --snapshots-dir=* ]]; then
    die "The snapshot folder is the action's to choose: remove --snapshots-dir from args."
  fi
done
destroy=()
[ "${KBCTL_ALLOW_DESTROY:-false}" = true ] && destroy=(--allow-destroy)
manifest_args=()
for ((i = 1; i < ${#files[@]}; i += 2)); do manifest_args+=(--manifest "${files[i]}"); done

# The notify webhook, under the variable each manifest's notify.webhook_env names (a variable
# the step already has wins). The URL is a credential: masked, and kbctl redacts it too.
if [ -n "$webhook" ]; then
  while IFS= read -r var; do
    if [ -z "${!var:-}" ]; then
      export "$var=$webhook"
    fi
  done < <("$python" "$here/kbctl_ci.py" webhook-vars "${manifest_args[@]}")
fi
unset webhook

# artifact_name KIND: a name unique to this run attempt, so "Re-run jobs" never collides.
artifact_name() {
  local project=""
  [ -n "$name" ] && project="-$("$python" "$here/kbctl_ci.py" slug "$name")"
  printf 'kbctl-%s%s-%s-%s-%s' "$1" "$project" "${environment:-all}" \
    "${GITHUB_RUN_ID:-local}" "${GITHUB_RUN_ATTEMPT:-1}"
}

# run_kbctl STDOUT_FILE STDERR_FILE ARGS...: kbctl's output is shown live and kept in the files.
run_kbctl() {
  local stdout_file="$1" stderr_file="$2"
  shift 2
  echo "+ kbctl $*"
  { "$kbctl" "$@" 2>&1 1>&3 3>&- | tee "$stderr_file" >&2; } 3>&1 | tee "$stdout_file"
  return "${PIPESTATUS[0]}"
}

# run_kbctl_json EVENTS_FILE STDERR_FILE ARGS...: --json events kept in the file, shown in the
# log as human lines.
run_kbctl_json() {
  local events_file="$1" stderr_file="$2"
  shift 2
  echo "+ kbctl $*"
  { "$kbctl" "$@" 2>&1 1>&3 3>&- | tee "$stderr_file" >&2; } 3>&1 | tee "$events_file" \
    | "$python" "$here/kbctl_ci.py" progress
  return "${PIPESTATUS[0]}"
}

# read_result KEY=VALUE lines into result_<key> variables.
read_result() {
  local line key
  while IFS= read -r line; do
    key="${line%%=*}"
    key="${key//-/_}"
    printf -v "result_$key" '%s' "${line#*=}"
  done
}

fence() {
  echo '```'
  tail -n 200 "$1" | sed 's/```/'"'''"'/g'
  echo '```'
}

# fetch_state: the state branch's snapshots into the snapshot folder (apply, rollback, list).
fetch_state() {
  if [ -n "${KBCTL_STATE_BRANCH:-}" ]; then
    KBCTL_SNAPSHOT_DIR="$snapshots_dir" bash "$here/state-branch.sh" fetch
  fi
}

# require_head: refuse (exit 4) unless the checkout is still the head of KBCTL_REQUIRE_HEAD.
require_head() {
  local branch="${KBCTL_REQUIRE_HEAD:-}" head current
  [ -n "$branch" ] || return 0
  current="$(git rev-parse HEAD)"
  head="$(git_remote ls-remote origin "refs/heads/$branch" | cut -f1)"
  if [ -z "$head" ]; then
    die "Could not read the head of $branch from origin."
  fi
  if [ "$head" != "$current" ]; then
    set_output exit-code 4
    set_output status superseded
    {
      echo "### ⛔ kbctl $command refused: $environment"
      echo
      echo "This run is for commit \`${current:0:12}\`, but \`$branch\` is now at \`${head:0:12}\`."
      echo "A newer merge's run applies the newest \`$branch\`; re-running an old run never"
      echo "applies an old commit."
      echo
    } >>"$summary"
    echo "::error title=kbctl $command refused::${current:0:12} is no longer the head of $branch (now ${head:0:12}): the newer run applies it."
    exit 4
  fi
}

case "$command" in
  validate)
    run_kbctl "$out_dir/validate.out" "$out_dir/validate.err" validate "${files[@]}" \
      ${environment:+-e "$environment"} "${extra[@]}"
    code=$?
    set_output exit-code "$code"
    if [ "$code" -eq 0 ]; then
      { echo "### ✅ kbctl validate"; echo; fence "$out_dir/validate.out"; echo; } >>"$summary"
    else
      { echo "### ❌ kbctl validate failed"; echo; fence "$out_dir/validate.err"; echo; } >>"$summary"
    fi
    exit "$code"
    ;;

  changes)
    base="${KBCTL_BASE:-}"
    list="$out_dir/changed-files.txt"
    if [ -z "$base" ] || [[ "$base" =~ ^0+$ ]]; then
      echo "No commit to compare with: every manifest counts as changed."
      set_output changed true
      exit 0
    fi
    if ! git cat-file -e "$base^{commit}" 2>/dev/null; then
      git_remote fetch --quiet --no-tags --depth=1 origin "$base" 2>"$out_dir/changes.err"
    fi
    if ! git diff --name-only --no-renames "$base" HEAD >"$list" 2>>"$out_dir/changes.err"; then
      echo "::warning title=kbctl::Could not compare with ${base:0:12}: every manifest counts as changed."
      set_output changed true
      exit 0
    fi
    read_result < <("$python" "$here/kbctl_ci.py" changes --changed "$list" \
      --prefix "$(git rev-parse --show-prefix)" --paths "${KBCTL_PATHS:-}" "${manifest_args[@]}" \
      | grep -v '^file=')
    set_output changed "${result_changed:-true}"
    [ -n "${result_reason:-}" ] && echo "::notice title=kbctl::$(escape_data "$result_reason")"
    if [ "${result_changed:-true}" = true ]; then
      echo "${result_count:-some} changed file(s) that kbctl reads, since ${base:0:12}."
    else
      echo "Nothing kbctl reads changed since ${base:0:12}."
      {
        echo "### ✅ kbctl: no manifest changes${name:+ ($name)}"
        echo
        echo "Nothing the manifests read changed since \`${base:0:12}\`: there is nothing to plan or apply."
        echo
      } >>"$summary"
    fi
    exit 0
    ;;

  plan | drift)
    base="$out_dir/$command-$environment"
    rm -f "$base.json" "$base.md" "$base.err"
    # The drift check reads every managed document's content: an in-place edit is drift.
    refresh=()
    [ "$command" = drift ] && refresh=(--refresh-content)
    run_kbctl "$base.md" "$base.err" plan -e "$environment" "${files[@]}" \
      --out "$base.json" --format markdown --detailed-exitcode "${destroy[@]}" "${refresh[@]}" \
      "${extra[@]}"
    code=$?
    echo "$code" >"$base.exit"
    grep -qxF "$environment" "$out_dir/$command-environments" 2>/dev/null \
      || echo "$environment" >>"$out_dir/$command-environments"
    set_output exit-code "$code"
    allow=()
    [ ${#destroy[@]} -gt 0 ] && allow=(--allow-destroy)
    read_result < <("$python" "$here/kbctl_ci.py" plan-result --plan "$base.json" \
      --environment "$environment" --exit "$code" "${allow[@]}")
    status="${result_status:-error}"
    set_output status "$status"
    case "$status" in
      changes | no-changes)
        { cat "$base.md"; echo; } >>"$summary"
        set_output has-changes "$result_has_changes"
        [ "$command" = drift ] && set_output drift "$result_has_changes"
        ;;
      refused)
        # Keep the exit file honest for the comment: a refusal is not a success.
        echo 5 >"$base.exit"
        set_output has-changes true
        {
          echo "### ⛔ kbctl plan: $environment deletes what its policy protects"
          echo
          echo "${result_message:-}."
          echo
          echo "Apply would refuse this (exit 5). If the deletions are intended, acknowledge them"
          echo "in review: add the \`${KBCTL_DESTROY_LABEL:-kbctl:allow-destroy}\` label to the pull request."
          echo "The merge's apply honours the same label."
          echo
          [ -s "$base.md" ] && { cat "$base.md"; echo; }
        } >>"$summary"
        echo "::error title=kbctl plan $environment::$(escape_data "Deletions need acknowledgement: ${result_message:-}")"
        ;;
      *)
        [ "$code" -eq 0 ] || [ "$code" -eq 2 ] && echo 1 >"$base.exit"
        {
          echo "### ❌ kbctl plan failed: $environment (exit $code)"
          echo
          echo "${result_message:-}"
          echo
          [ -s "$base.err" ] && { fence "$base.err"; echo; }
          [ -s "$base.md" ] && { cat "$base.md"; echo; }
        } >>"$summary"
        echo "::error title=kbctl plan $environment::$(escape_data "${result_message:-kbctl plan failed}")"
        ;;
    esac
    # Drift is a notice too, for the manifests with notify: (kbctl plan itself never posts:
    # it is also the pull requests' plan).
    if [ "$command" = drift ] && [ "${result_has_changes:-false}" = true ]; then
      "$python" "$here/kbctl_ci.py" notify-drift --plan "$base.json" \
        --secret-env "$key_env" --secret-env "$openai_key_env" || true
    fi
    if [ -s "$base.json" ]; then
      set_output plan-json "$base.json"
      set_output plan-markdown "$base.md"
      artifact="$out_dir/artifact-$command-$environment"
      rm -rf "$artifact" && mkdir -p "$artifact"
      cp "$base.json" "$artifact/$command-$environment.json"
      cp "$base.md" "$artifact/$command-$environment.md"
      set_output artifact-name "$(artifact_name "$command")"
      set_output artifact-path "$artifact"
    fi
    "$python" "$here/kbctl_ci.py" body --kind "$command" \
      --out-dir "$out_dir" --name "$name" >"$out_dir/$command-body.md" || result_ok=false
    set_output body "$out_dir/$command-body.md"
    [ "${result_ok:-false}" = true ] && exit 0
    [ "$status" = refused ] && exit 5
    [ "$code" -eq 0 ] || [ "$code" -eq 2 ] && exit 1
    exit "$code"
    ;;

  check)
    # The retrieval checks of the drift job: a drop below a threshold is reported (status
    # failing, checks-failing true; kbctl posts the notice itself), not a failed step; a check
    # that could not run is.
    base="$out_dir/check-$environment"
    rm -f "$base.json" "$base.err" "$base.json.md"
    run_kbctl "$base.json" "$base.err" check -e "$environment" "${files[@]}" \
      --detailed-exitcode --format json "${extra[@]}"
    code=$?
    echo "$code" >"$base.exit"
    grep -qxF "$environment" "$out_dir/check-environments" 2>/dev/null \
      || echo "$environment" >>"$out_dir/check-environments"
    set_output exit-code "$code"
    read_result < <("$python" "$here/kbctl_ci.py" check-result --report "$base.json" \
      --environment "$environment" --exit "$code" --errors "$base.err")
    status="${result_status:-error}"
    set_output status "$status"
    set_output checks-failing "${result_failing:-false}"
    { cat "$base.json.md" 2>/dev/null; echo; } >>"$summary"
    case "$status" in
      failing) echo "::warning title=kbctl check $environment::$(escape_data "${result_message:-}")" ;;
      error) echo "::error title=kbctl check $environment::$(escape_data "${result_message:-}")" ;;
    esac
    # The drift issue's body covers the checks as well, when this job planned drift.
    if [ -s "$out_dir/drift-environments" ]; then
      "$python" "$here/kbctl_ci.py" body --kind drift --out-dir "$out_dir" --name "$name" \
        >"$out_dir/drift-body.md"
      set_output body "$out_dir/drift-body.md"
    fi
    [ "$status" = error ] && { [ "$code" -ne 0 ] && exit "$code"; exit 1; }
    exit 0
    ;;

  apply | rollback)
    base="$out_dir/$command-$environment"
    require_head
    fetch_state
    before="$out_dir/snapshots-before-$environment.txt"
    find "$snapshots_dir" -type f 2>/dev/null | sort >"$before"
    set_output snapshots-dir "$snapshots_dir"
    if [ "$command" = apply ]; then
      target=()
      if [ -n "${KBCTL_PLAN_FILE:-}" ]; then
        [ -f "$KBCTL_PLAN_FILE" ] || die "The saved plan $KBCTL_PLAN_FILE does not exist."
        target=("$KBCTL_PLAN_FILE")
      fi
      run_kbctl_json "$base.jsonl" "$base.err" apply -e "$environment" "${files[@]}" \
        "${target[@]}" --auto-approve --json "${destroy[@]}" "${extra[@]}"
    else
      run_kbctl "$out_dir/snapshots-$environment.txt" "$out_dir/snapshots-$environment.err" \
        snapshots list -e "$environment" || true
      run_kbctl_json "$base.jsonl" "$base.err" rollback -e "$environment" "${files[@]}" \
        --to "${KBCTL_SNAPSHOT:-previous}" --auto-approve --json "${destroy[@]}" "${extra[@]}"
    fi
    code=$?
    set_output exit-code "$code"
    read_result < <("$python" "$here/kbctl_ci.py" apply-result --events "$base.jsonl" \
      --exit "$code" --command "$command")
    ok="${result_ok:-false}"
    set_output status "${result_status:-error}"
    set_output applied "$ok"
    # Also as a file: a workflow reads it even when a later step of the action fails.
    printf 'applied=%s\nexit-code=%s\n' "$ok" "$code" >"$base.outcome"
    [ "$ok" = true ] || [ "$code" -ne 0 ] || code=1
    case "$code" in
      0) title="### ✅ kbctl $command: $environment"; note="" ;;
      3)
        title="### ❌ kbctl $command stopped at the index gate: $environment"
        note="The agent is unchanged: the documents this run created were deleted. Why each document failed:"
        ;;
      4)
        title="### ❌ kbctl $command: $environment changed since it was planned"
        if [ -n "${KBCTL_PLAN_FILE:-}" ]; then
          note="The reviewed plan is stale: the live workspace or the manifests changed after it was made. Nothing was applied. Run the workflow again to plan afresh and review the new plan."
        else
          note="Re-run the job: it plans again against the live workspace."
        fi
        ;;
      5)
        title="### ❌ kbctl $command refused by policy: $environment"
        note="Deletions beyond the manifest's policy must be acknowledged: the \`${KBCTL_DESTROY_LABEL:-kbctl:allow-destroy}\` label on the merged pull request (or allow-destroy on a rollback)."
        ;;
      *)
        title="### ❌ kbctl $command failed: $environment (exit $code)"
        note="${result_message:-}"
        ;;
    esac
    {
      echo "$title"
      echo
      [ -n "$note" ] && { echo "$note"; echo; }
      if [ "$code" -ne 0 ] && [ -s "$base.err" ]; then fence "$base.err"; echo; fi
      "$python" "$here/kbctl_ci.py" apply-summary "$base.jsonl"
      if [ "$command" = rollback ] && [ -s "$out_dir/snapshots-$environment.txt" ]; then
        echo "<details><summary>Snapshots of $environment before the rollback</summary>"
        echo
        fence "$out_dir/snapshots-$environment.txt"
        echo
        echo "</details>"
        echo
      fi
    } >>"$summary"
    # The records of this run (JSON events, new snapshots) for the artifact, even on failure:
    # the "before" snapshot is what a rollback needs.
    artifact="$out_dir/artifact-$command-$environment"
    rm -rf "$artifact" && mkdir -p "$artifact"
    cp "$base.jsonl" "$artifact/$command-$environment.jsonl" 2>/dev/null
    [ -n "${KBCTL_PLAN_FILE:-}" ] && cp "$KBCTL_PLAN_FILE" "$artifact/" 2>/dev/null
    find "$snapshots_dir" -type f 2>/dev/null | sort | comm -13 "$before" - \
      | while IFS= read -r file; do
        mkdir -p "$artifact/$(dirname "$file")" && cp "$file" "$artifact/$file"
      done
    set_output artifact-name "$(artifact_name "$command")"
    set_output artifact-path "$artifact"
    exit "$code"
    ;;

  snapshots)
    fetch_state
    run_kbctl "$out_dir/snapshots-$environment.txt" "$out_dir/snapshots-$environment.err" \
      snapshots list -e "$environment" "${extra[@]}"
    code=$?
    set_output exit-code "$code"
    {
      echo "### kbctl snapshots: $environment"
      echo
      fence "$out_dir/snapshots-$environment.txt"
      echo
    } >>"$summary"
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
