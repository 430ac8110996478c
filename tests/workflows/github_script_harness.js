// Runs an actions/github-script `script:` against a fake GitHub API (tests only).
//
//   node github_script_harness.js STATE.json SCRIPT.js CALLS.json
//
// STATE.json: { "comments": [...], "issues": [...], "issue_number": N, "sha": SHA,
// "pulls_for_commit": {SHA: [...]} }. The script runs the way github-script runs it: an async
// function body with github, context, core and require. Every call to a writing endpoint is
// recorded in CALLS.json as [method, params]; core.setOutput writes to $GITHUB_OUTPUT.
'use strict';
const fs = require('fs');

const [statePath, scriptPath, callsPath] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(statePath, 'utf8'));
const calls = [];
const record = (method) => async (params) => {
  calls.push([method, params]);
  return { data: { id: 1000 + calls.length, number: 500 + calls.length, html_url: 'https://x' } };
};

const github = {
  paginate: async (method, params) => (await method(params)).data,
  rest: {
    repos: {
      listPullRequestsAssociatedWithCommit: async (params) => ({
        data: (state.pulls_for_commit || {})[params.commit_sha] || [],
      }),
    },
    issues: {
      listComments: async () => ({ data: state.comments || [] }),
      listForRepo: async (params) => ({
        data: (state.issues || []).filter(
          (i) =>
            (!params.state || i.state === params.state) &&
            (!params.labels || (i.labels || []).includes(params.labels)),
        ),
      }),
      createComment: record('createComment'),
      updateComment: record('updateComment'),
      create: record('create'),
      update: record('update'),
    },
  },
};
const context = {
  repo: { owner: 'acme', repo: 'kb' },
  issue: { number: state.issue_number || 0 },
  serverUrl: 'https://github.com',
  runId: 4242,
  sha: state.sha || '',
};
const core = {
  info: (message) => console.log(message),
  setOutput: (name, value) => {
    if (process.env.GITHUB_OUTPUT) {
      fs.appendFileSync(process.env.GITHUB_OUTPUT, `${name}=${value}\n`);
    }
  },
};

const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const script = fs.readFileSync(scriptPath, 'utf8');
new AsyncFunction('github', 'context', 'core', 'require', script)(github, context, core, require)
  .then(() => fs.writeFileSync(callsPath, JSON.stringify(calls)))
  .catch((error) => {
    console.error(error);
    process.exit(1);
  });
