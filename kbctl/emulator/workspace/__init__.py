"""The emulated ElevenLabs workspace: documents and folders, RAG indexes, agents with their
versions, and their persistence in a folder. `World` (in `world`) is the whole of it.

- `records`, `errors`: the data and the API's failures;
- `base`: the lock and the primitives every operation shares (folders, dependents, versions,
  index attempts, the change log);
- `documents`, `indexing`, `agents`: the operations, one mixin each;
- `agent_config`, `search`, `paging`: pure helpers (agent JSON trees, BM25 and chunks, cursors);
- `shapes`: records as the API's JSON resources (the SDK's models);
- `codec`, `persistence`: records as JSON on disk, and the folder (snapshot, journal, blobs).

Must not know about HTTP transport (requests, status lines, sockets, faults): that is
`kbctl.emulator.http`'s job. Reads time only from the injected clock.
"""
