"""The emulator's HTTP face: what a client on the wire meets.

- `app`: `EmulatorApp`, the WSGI application (auth, injected faults, dispatch, error bodies);
- `server`: `EmulatorServer`, the app on a socket (`kbctl emulator serve`);
- `routing`: path templates with literal-before-parameter precedence;
- `messages`: parsed requests (query, JSON, multipart) and responses;
- `validation` and `agent_schema`: FastAPI-style 422 checks;
- `kb_routes`, `agent_routes`: one handler per endpoint: check the request, call one workspace
  operation, shape the answer.

Must not hold workspace state or decide API semantics: that is `kbctl.emulator.workspace`'s job.
Never imports httpx or `kbctl.provider`.
"""
