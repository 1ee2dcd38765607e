"""Web tasks in a real Chromium through Playwright: MiniWoB++ and user sites.

Modules, one concept each:

- `browser`     launching, watching, killing and restarting Chromium (async).
- `guard`       the safety policy of a browser context: same-origin only, no downloads,
                no pop-ups, dialogs dismissed.
- `server`      a local http.server on 127.0.0.1 serving the task pages from a thread.
- `actions`     the action language: parsing `click(e12)`-style calls with `ast`, allowlisted.
- `dispatch`    performing a parsed action on a page through Playwright.
- `settle`      waiting for requests, images and fonts before observing (stable refs).
- `observation` what the agent sees (goal, URL, accessibility tree with refs, focus, errors).
- `axtree`      reading the accessibility-tree text back into (role, name, ref) records.
- `tasks`       task types (MiniWoB++, user sites), the registry and the suites.
- `oracles`     scripted solvers that prove tasks solvable and rewards read right.
- `agents`      the agent protocol, and the oracle and random agents.
- `core`        the async environment (one episode at a time, one browser context).
- `host`        an event loop in a thread + one browser + the page server, for sync callers.
- `gym_env`     the Gymnasium environment (sync facade over `core`).
- `runner`      episodes and suites with retries, parallelism and traces.
- `session`     one `worldplan web` run end to end (server, browser, trace run, summary).
- `registration` Gymnasium ids, registered lazily by string entry point.

Importing this package imports nothing heavy (no Playwright); the modules do.
"""
