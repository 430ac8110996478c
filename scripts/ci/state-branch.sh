#!/usr/bin/env bash
# Keeps kbctl's snapshots on a branch of their own (default kbctl/state), never on the
# protected default branch: merges stay free of bot commits and no ruleset bypass is needed.
#
#   state-branch.sh fetch              copy the branch's snapshots into the snapshot folder
#   state-branch.sh push ENV WHAT      commit the folder's new files onto the branch and push
#
# Run in the directory kbctl runs in. KBCTL_STATE_BRANCH names the branch, KBCTL_SNAPSHOT_DIR
# the folder (default state-snapshots), KBCTL_GITHUB_TOKEN authenticates https remotes.
# The snapshots keep their repository path on the branch (kb/support/state-snapshots/… for a
# project in kb/support), so several projects share one state branch. The checkout's own
# branch, index and files are never touched: the commit is built in a temporary index.
#
# push retries only what another job's push explains (the branch moved: fetch, rebuild,
# retry). A rejection by the server (a protected branch or ruleset, GH006/GH013, missing
# permission) is permanent: it is reported at once with the server's words, exit 1.
# Outputs: fetched=N (fetch); pushed=true|false|nothing, commit=SHA, reason=TEXT (push).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/ci/lib.sh
. "$here/lib.sh"

branch="${KBCTL_STATE_BRANCH:-kbctl/state}"
dir="${KBCTL_SNAPSHOT_DIR:-state-snapshots}"
dir="${dir%/}"
ref="refs/kbctl/state-tip"
prefix="$(git rev-parse --show-prefix 2>/dev/null)" || die "Not in a git checkout: $(pwd)"
top="$(git rev-parse --show-toplevel)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# fetch_tip: the branch's commit into $ref; returns 0 found, 1 no such branch, 2 error.
fetch_tip() {
  if git_remote fetch --quiet --no-tags --depth=1 origin \
    "+refs/heads/$branch:$ref" 2>"$work/fetch.err"; then
    return 0
  fi
  if grep -qiE "couldn't find remote ref|no such ref|not our ref" "$work/fetch.err"; then
    git update-ref -d "$ref" 2>/dev/null || true
    return 1
  fi
  return 2
}

do_fetch() {
  fetch_tip
  case $? in
    1)
      echo "No $branch branch yet: it is created by the first snapshot push."
      set_output fetched 0
      return 0
      ;;
    2)
      echo "::warning title=kbctl snapshots::Could not read the $branch branch: $(escape_data "$(tail -n 3 "$work/fetch.err")")"
      set_output fetched 0
      return 0
      ;;
  esac
  if ! git cat-file -e "$ref:$prefix$dir" 2>/dev/null; then
    echo "The $branch branch has no snapshots under $prefix$dir yet."
    set_output fetched 0
    return 0
  fi
  git archive --format=tar "$ref" -- "$prefix$dir" | tar -x -C "$top"
  count="$(git ls-tree -r --name-only "$ref" -- "$prefix$dir" | grep -c '\.json$')"
  echo "Read $count snapshot record(s) of $prefix$dir from the $branch branch."
  set_output fetched "$count"
}

# build_commit ENV WHAT: a commit of the branch's tree plus the folder's files, on top of the
# fetched tip (if any); prints its sha, or nothing when the folder adds nothing.
build_commit() {
  local parent="" tree
  export GIT_INDEX_FILE="$work/index"
  rm -f "$GIT_INDEX_FILE"
  if git rev-parse --verify --quiet "$ref^{commit}" >/dev/null; then
    parent="$(git rev-parse "$ref^{commit}")"
    git read-tree "$parent"
  else
    git read-tree --empty
  fi
  git add --force -- "$dir"
  tree="$(git write-tree)"
  unset GIT_INDEX_FILE
  if [ -n "$parent" ] && [ "$tree" = "$(git rev-parse "$parent^{tree}")" ]; then
    return 0
  fi
  local message="kbctl: snapshots for $1 $2${prefix:+ (${prefix%/})}"
  local details="Commit ${GITHUB_SHA:-unknown}"
  if [ -n "${GITHUB_RUN_ID:-}" ]; then
    details="$details, run ${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
  fi
  GIT_AUTHOR_NAME="github-actions[bot]" \
    GIT_AUTHOR_EMAIL="41898282+github-actions[bot]@users.noreply.github.com" \
    GIT_COMMITTER_NAME="github-actions[bot]" \
    GIT_COMMITTER_EMAIL="41898282+github-actions[bot]@users.noreply.github.com" \
    git commit-tree "$tree" ${parent:+-p "$parent"} -m "$message" -m "$details"
}

do_push() {
  local environment="$1" what="$2" attempt commit reason
  if [ ! -d "$dir" ]; then
    echo "No $dir/ folder: no snapshots to push."
    set_output pushed nothing
    return 0
  fi
  for attempt in 1 2 3 4 5; do
    fetch_tip
    if [ $? -eq 2 ]; then
      reason="could not read $branch: $(tail -n 1 "$work/fetch.err")"
      break
    fi
    commit="$(build_commit "$environment" "$what")" || {
      reason="could not build the snapshot commit"
      break
    }
    if [ -z "$commit" ]; then
      echo "No new snapshots to push."
      set_output pushed nothing
      return 0
    fi
    if git_remote push --quiet --porcelain origin "$commit:refs/heads/$branch" \
      >"$work/push.out" 2>"$work/push.err"; then
      echo "Pushed the snapshots to $branch ($commit)."
      set_output pushed true
      set_output commit "$commit"
      return 0
    fi
    # Retry only when the branch moved under us (another job pushed first).
    if grep -qE "\[rejected\].*(fetch first|non-fast-forward)|stale info|cannot lock ref|failed to update ref" \
      "$work/push.out" "$work/push.err"; then
      echo "The $branch branch moved (attempt $attempt); rebuilding on its new tip."
      sleep "$attempt"
      continue
    fi
    reason="$(grep -hE "GH0[0-9]+|remote rejected|denied|protected|error:|fatal:" \
      "$work/push.err" "$work/push.out" | head -n 3 | tr '\n' ' ')"
    [ -n "$reason" ] || reason="$(tail -n 2 "$work/push.err" | tr '\n' ' ')"
    break
  done
  [ -n "${reason:-}" ] || reason="the $branch branch kept moving; gave up after 5 attempts"
  echo "::error title=kbctl snapshots not pushed::Could not push the $environment snapshots to the $branch branch: $(escape_data "$reason")"
  set_output pushed false
  set_output reason "$reason"
  return 1
}

case "${1:-}" in
  fetch) do_fetch ;;
  push)
    [ $# -eq 3 ] || die "usage: state-branch.sh push ENVIRONMENT WHAT"
    do_push "$2" "$3"
    ;;
  *) die "usage: state-branch.sh fetch | push ENVIRONMENT WHAT" ;;
esac
