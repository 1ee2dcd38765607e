"""Task names and suites.

Every MiniWoB++ page in the installed `miniwob` wheel is a task, named like the page
(`click-test`, `email-inbox`, ...; the flight sites are `flight.AA`, `flight.Alaska`,
`flight.Alaska-auto`), minus `OFFLINE_BROKEN`: pages that do not run without the internet.
The list is read from the wheel's directory, without importing `miniwob`.

Suites:

- `miniwob-all`: every task above.
- `miniwob-dev`: 20 tasks for development, a few per kind of web skill (`click-link` is left
  out: its links are bare <span>s, which the accessibility tree gives no reference):
    clicking      click-test, click-button, click-button-sequence, click-dialog, click-tab,
                  click-collapsible
    choosing      click-checkboxes, click-option
    typing        enter-text, enter-text-2, enter-password, focus-text
    forms         login-user, enter-date
    lists         choose-list, click-scroll-list
    autocomplete  use-autocomplete-nodelay
    email         email-inbox, email-inbox-forward-nl
    flights       book-flight-nodelay

Building a task (`make_task`, given the page server's URL) and the page server for the
wheel's pages (`miniwob_server`) happen here; oracle solvers are in `envs.web.oracles`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from worldplan.envs.web.page_server import STATIC, PageServer

if TYPE_CHECKING:  # importing the task module imports Playwright; registration must not
    from worldplan.envs.web.tasks.miniwob import MiniWoBTask

DEV_SUITE: dict[str, tuple[str, ...]] = {
    "clicking": ("click-test", "click-button", "click-button-sequence", "click-dialog",
                 "click-tab", "click-collapsible"),
    "choosing": ("click-checkboxes", "click-option"),
    "typing": ("enter-text", "enter-text-2", "enter-password", "focus-text"),
    "forms": ("login-user", "enter-date"),
    "lists": ("choose-list", "click-scroll-list"),
    "autocomplete": ("use-autocomplete-nodelay",),
    "email": ("email-inbox", "email-inbox-forward-nl"),
    "flights": ("book-flight-nodelay",),
}
# Pages that need the internet. None in miniwob 1.1.0: a sweep over all 134 pages (131 tasks
# + 3 flight sites) started every episode offline with a non-empty goal, and the same seed
# gave the same first observation twice for all but stock-market (an animation).
OFFLINE_BROKEN: frozenset[str] = frozenset()
SUITES = ("miniwob-dev", "miniwob-all")


def miniwob_html_dir() -> Path:
    """The `html/` directory of the installed `miniwob` wheel."""
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the `miniwob` package is not installed: pip install --no-deps miniwob")
    return Path(next(iter(spec.submodule_search_locations))) / "html"


def miniwob_server() -> PageServer:
    """A (not yet started) page server for the wheel's pages, cacheable: they cannot change
    during a run, so Chromium loads and compiles core.js, d3 and jQuery once."""
    return PageServer(miniwob_html_dir(), cache_control=STATIC)


def miniwob_task_names(html_dir: Path | None = None) -> list[str]:
    """All MiniWoB++ task names in the wheel that run offline, sorted."""
    root = html_dir or miniwob_html_dir()
    names = [p.stem for p in (root / "miniwob").glob("*.html")]
    names += [f"flight.{p.parent.name}" for p in (root / "flight").glob("*/wrapper.html")]
    return sorted(n for n in names if n not in OFFLINE_BROKEN)


def suite_tasks(suite: str) -> list[str]:
    if suite == "miniwob-dev":
        return [t for group in DEV_SUITE.values() for t in group]
    if suite == "miniwob-all":
        return miniwob_task_names()
    raise KeyError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")


def category_of(task: str) -> str:
    for cat, names in DEV_SUITE.items():
        if task in names:
            return cat
    return "flights" if task.startswith("flight.") else "other"


def make_task(name: str, base_url: str, **kwargs: object) -> MiniWoBTask:
    """The MiniWoB++ task `name`, with pages served from `base_url` (the wheel's html/)."""
    from worldplan.envs.web.tasks.miniwob import MiniWoBTask

    if name not in miniwob_task_names():
        raise KeyError(f"unknown MiniWoB++ task {name!r}")
    return MiniWoBTask(name, base_url, **kwargs)  # type: ignore[arg-type]
