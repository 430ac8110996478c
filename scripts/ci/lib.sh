#!/usr/bin/env bash
# Functions shared by the action's scripts (sourced, never run). They print GitHub workflow
# commands and talk to the `origin` remote; they never print a token.

# die MESSAGE: fail the step with one error annotation (escaped: it may quote an input).
die() {
  echo "::error title=kbctl::$(escape_data "$1")" >&2
  exit 1
}

# escape_data TEXT: TEXT made safe as the message of a workflow command.
escape_data() {
  local text="${1//'%'/%25}"
  text="${text//$'\r'/%0D}"
  printf '%s' "${text//$'\n'/%0A}"
}

# set_output NAME VALUE: a step output (single line).
set_output() {
  printf '%s=%s\n' "$1" "$2" >>"${GITHUB_OUTPUT:-/dev/null}"
}

# git_remote ARGS...: git, authenticated for an https origin with KBCTL_GITHUB_TOKEN when it is
# set. The checkout keeps no credentials (persist-credentials: false): the header is given to
# this one git process through the environment, so it appears in no argument list and no file.
git_remote() {
  local token="${KBCTL_GITHUB_TOKEN:-}" url basic
  url="$(git remote get-url origin 2>/dev/null || true)"
  if [ -n "$token" ] && [[ "$url" == https://* ]]; then
    basic="$(printf 'x-access-token:%s' "$token" | base64 | tr -d '\n')"
    echo "::add-mask::$basic"
    GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.extraheader" \
      GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $basic" git "$@"
  else
    git "$@"
  fi
}
