#!/usr/bin/env bash
# Commits new snapshot files under state-snapshots/ and pushes them to the current branch.
#
#   commit-snapshots.sh ENVIRONMENT WHAT     (WHAT: apply | rollback)
#
# The commit is made by github-actions[bot] with "[skip ci]" in its message; pushes made with the
# workflow's GITHUB_TOKEN never start workflows, and kbctl-apply.yml ignores state-snapshots/**,
# so the commit cannot trigger another apply. Only state-snapshots/ is ever staged.
# The branch is KBCTL_PUSH_BRANCH, else GITHUB_REF_NAME. Without an `origin` remote the commit
# stays local (with a warning).
set -euo pipefail

environment="$1"
what="$2"
dir="${KBCTL_SNAPSHOT_DIR:-state-snapshots}"
branch="${KBCTL_PUSH_BRANCH:-${GITHUB_REF_NAME:-}}"

if [ ! -d "$dir" ]; then
  echo "No $dir/ folder: nothing to commit."
  exit 0
fi

git add -- "$dir"
if git diff --cached --quiet -- "$dir"; then
  echo "No new snapshots to commit."
  exit 0
fi

message="kbctl: snapshots for $environment $what [skip ci]"
details=""
if [ -n "${GITHUB_RUN_ID:-}" ]; then
  details="Written by ${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
fi
# The bot identity for the commit and for the rebase below (runners have no git identity).
export GIT_AUTHOR_NAME="github-actions[bot]"
export GIT_AUTHOR_EMAIL="41898282+github-actions[bot]@users.noreply.github.com"
export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME"
export GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
git commit --quiet -m "$message" ${details:+-m "$details"} -- "$dir"
echo "Committed: $message"

if ! git remote get-url origin >/dev/null 2>&1; then
  echo "::warning title=kbctl snapshots::No 'origin' remote: the snapshot commit was not pushed."
  exit 0
fi
if [ -z "$branch" ]; then
  echo "::error title=kbctl snapshots::No branch to push to (set GITHUB_REF_NAME)." >&2
  exit 1
fi

# Other jobs (the other environment, a merge) may have pushed meanwhile: rebase and retry.
# Snapshot files are new, uniquely named files, so the rebase does not conflict.
for attempt in 1 2 3 4 5; do
  if git fetch --quiet origin "$branch" && git rebase --quiet FETCH_HEAD \
    && git push --quiet origin "HEAD:refs/heads/$branch"; then
    echo "Pushed the snapshots to $branch."
    exit 0
  fi
  git rebase --abort >/dev/null 2>&1 || true
  echo "Push attempt $attempt failed; retrying."
  sleep $((attempt * 2))
done
echo "::error title=kbctl snapshots::Could not push the snapshot commit to $branch." >&2
exit 1
