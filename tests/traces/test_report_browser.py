"""The HTML report in a real Chromium: it renders, logs no errors, shows its plots, and
model-written `<script>` stays text."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.fakes.trace_db import XSS, build_demo
from worldplan.traces.report import write_report

pytestmark = pytest.mark.browser


def open_report(path: Path, chromium_args: dict[str, object], shot: Path | None = None
                ) -> dict[str, object]:
    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(**chromium_args)  # type: ignore[arg-type]
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.eval_on_selector_all("details", "els => els.forEach(e => e.open = true)")
        plots = page.eval_on_selector_all("img.plot", """imgs => imgs.map(i => ({
            complete: i.complete, w: i.naturalWidth, h: i.naturalHeight,
            box: [i.getBoundingClientRect().width, i.getBoundingClientRect().height]}))""")
        result = {
            "errors": errors, "requests": requests, "dialogs": dialogs, "plots": plots,
            "title": page.title(),
            "xss": page.evaluate("window.__xss === undefined ? null : window.__xss"),
            "text": page.inner_text("body"),
            "scripts": page.eval_on_selector_all("script", "s => s.length"),
            "visible_plots": [page.locator("img.plot").nth(k).is_visible()
                              for k in range(len(plots))],
        }
        if shot is not None:
            page.screenshot(path=str(shot), full_page=False)
        browser.close()
    return result


def test_report_renders_with_visible_plots_and_no_errors(tmp_path: Path,
                                                         chromium_args: dict[str, object]) -> None:
    demo = build_demo(tmp_path / "t.db")
    out = write_report(demo.engine, demo.runs, tmp_path / "report.html").path
    r = open_report(out, chromium_args, tmp_path / "shot.png")
    assert r["errors"] == []
    assert all(u.startswith(("file:", "data:")) for u in r["requests"])  # type: ignore[union-attr]
    plots = r["plots"]
    assert isinstance(plots, list) and len(plots) >= 4  # tokens, FLOPs, difficulty, level
    for p in plots:
        assert p["complete"] and p["w"] > 100 and p["h"] > 100, p
        assert p["box"][0] > 100 and p["box"][1] > 100, p
    assert all(r["visible_plots"])  # type: ignore[arg-type]
    text = str(r["text"])
    assert "best-of-n" in text and "beam" in text and "By difficulty" in text
    assert "Episode viewer" in text and "bin says so" in text


def test_planted_script_in_model_output_does_not_run(tmp_path: Path,
                                                     chromium_args: dict[str, object]) -> None:
    demo = build_demo(tmp_path / "x.db", completion=XSS)
    out = write_report(demo.engine, demo.runs, tmp_path / "report.html").path
    html = out.read_text()
    assert "<script>window.__xss" not in html
    assert "&lt;script&gt;window.__xss" in html
    r = open_report(out, chromium_args)
    assert r["xss"] is None and r["dialogs"] == [] and r["scripts"] == 0
    assert r["title"] != "pwned"
    assert "<script>window.__xss = 1" in str(r["text"])  # shown as text, literally
    assert r["errors"] == []


def test_report_of_a_killed_run_renders(tmp_path: Path, chromium_args: dict[str, object]) -> None:
    from tests.fakes.trace_db import make_killed_db
    from worldplan.traces.migrate import open_db

    engine = open_db(str(make_killed_db(tmp_path / "killed.db"))).engine
    out = write_report(engine, [1], tmp_path / "killed.html").path
    r = open_report(out, chromium_args)
    assert r["errors"] == [] and r["xss"] is None
    assert "interrupted" in str(r["text"]) and "half-done thought" in str(r["text"])
    plots = r["plots"]
    assert isinstance(plots, list) and plots and all(p["w"] > 0 for p in plots)
