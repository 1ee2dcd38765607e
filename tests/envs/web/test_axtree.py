"""Reading Playwright's ai-mode aria snapshot lines (real snapshots, copied from Chromium)."""

from __future__ import annotations

from worldplan.envs.web.axtree import find, parse_line, parse_tree, refs

TREE = """- generic [ref=e1]:
  - tablist [ref=e2]:
    - tab [expanded] [selected] [ref=e7]:
      - 'link "Tab #3" [ref=e8]':
        - /url: "#tabs-3"
    - checkbox "Lc" [checked] [ref=e9]
  - textbox [active] [ref=e3]: abc
  - combobox [ref=e4]:
    - option "Jodi" [selected]
  - button "say \\"hi\\"" [ref=e5] [cursor=pointer]
  - text: "Tags:"
  - heading "Primary" [level=2] [ref=e6]"""


def test_parse_tree() -> None:
    nodes = parse_tree(TREE)
    assert nodes[0].role == "generic" and nodes[0].ref == "e1" and nodes[0].depth == 0
    tab = find(nodes, "tab")[0]
    assert tab.states == {"expanded": "true", "selected": "true"} and tab.depth == 2
    link = find(nodes, "link", "Tab #3")[0]
    assert link.ref == "e8" and link.depth == 3
    assert find(nodes, "textbox")[0].text == "abc"
    assert find(nodes, "textbox")[0].states == {"active": "true"}
    assert find(nodes, "button")[0].name == 'say "hi"'
    assert find(nodes, "heading")[0].states == {"level": "2"}
    option = [n for n in nodes if n.role == "option"][0]
    assert option.ref == "" and option.name == "Jodi"
    text = [n for n in nodes if n.role == "text"][0]
    assert text.text == "Tags:"
    assert refs(TREE) == ["e1", "e2", "e7", "e8", "e9", "e3", "e4", "e5", "e6"]


def test_unknown_lines_are_kept() -> None:
    node = parse_line("  - /url: \"#tabs-3\"")
    assert node is not None and node.role == "" and "/url" in node.text
    assert parse_line("not a list item") is None
