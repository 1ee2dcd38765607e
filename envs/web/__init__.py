"""Web tasks in a real Chromium through Playwright: MiniWoB++ and user sites.

Modules, one concept each:

- `browser`     launching, watching, killing and restarting Chromium (async), its memory.
- `guard`       the safety policy: one browser-wide request filter (same origin only, the HTTP
                cache kept), no downloads, no pop-ups, dialogs dismissed.
- `page_server` a static http.server on 127.0.0.1 in its own process.
- `instrument`  the script every page gets: timers, frames and requests it can be asked
                about, a page-own clipboard, the page-side half of the guard.
- `settle`      waiting until the page has nothing pending (no fixed sleeps).
- `tab`         one environment's context and page, kept across episodes, recycled when
                worn out, crashed or stuck.
- `refs`        element references renumbered per episode on a reused page.
- `actions`     the action language: parsing `click(e12)`-style calls with `ast`, allowlisted.
- `dispatch`    performing a parsed action on a page through Playwright.
- `observation` what the agent sees (goal, URL, accessibility tree with refs and boxes,
                focus, errors).
- `axtree`      reading the accessibility-tree text back into (role, name, ref) records.
- `tasks`       task types (MiniWoB++, user sites), the registry and the suites.
- `oracle_kit`, `oracles`, `oracles_*`  scripted solvers that prove tasks solvable.
- `core`        the async environment (one episode at a time, on its own page).
- `host`        an event loop in a thread + one browser + the page server, for sync callers.
- `gym_env`     the Gymnasium environment (sync facade over `core`).
- `registration` Gymnasium ids, registered lazily by string entry point.

Episodes with retries and traces, agents and whole runs live in the agent package
(agent.runs.web_episodes, agent.web.scripted).

Importing this package imports nothing heavy (no Playwright); the modules do.
"""
