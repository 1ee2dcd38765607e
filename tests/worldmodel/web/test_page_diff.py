"""Page changes as tree lines (worldmodel.web.page_diff): hand-worked cases on real MiniWoB++
trees, and properties: applying the real change to the page before gives the page after (as
a multiset of normalised lines), the text format reads back to the same change, and the
parser raises nothing but ChangeFormatError on any text."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzzing import TEST_TIMEOUT_S
from worldplan.worldmodel.web.page_diff import (
    MAX_ITEMS,
    ChangeFormatError,
    PageChange,
    apply_change,
    format_change,
    normalise_line,
    parse_change,
    real_change,
    score_change,
    tree_line,
)
from worldplan.worldmodel.web.world_model import page_change

pytestmark = pytest.mark.timeout(TEST_TIMEOUT_S)

FORM = """- generic [ref=e1]:
  - textbox "Name" [ref=e2]
  - checkbox "A" [ref=e3]
  - button "Submit" [ref=e4]"""
FILLED = """- generic [ref=e1]:
  - textbox "Name" [active] [ref=e2]: Bob
  - checkbox "A" [checked] [ref=e3]
  - button "Submit" [ref=e4]"""
# the page after Submit: the form moves under a new wrapper and a START overlay appears
DONE = """- generic [ref=e5]:
  - generic [ref=e1]:
    - textbox "Name" [ref=e2]: Bob
    - checkbox "A" [checked] [ref=e3]
    - button "Submit" [active] [ref=e4]
  - generic [ref=e6] [cursor=pointer]: START"""
LIST = """- combobox [ref=e2]:
  - option "Theodora" [selected]
  - option "Helli"
- button "Submit" [ref=e3]"""


def lines_of(page: str) -> Counter[str]:
    return Counter(normalise_line(ln) for ln in page.splitlines() if ln.strip())


def test_line_forms() -> None:
    raw = '    - textbox "Name" [active] [ref=e2]  [cursor=pointer]: Bob'
    assert tree_line(raw) == 'textbox "Name" [ref=e2]: Bob'
    assert normalise_line(raw) == 'textbox "Name": Bob'


def test_a_new_value_or_state_is_a_changed_line() -> None:
    change = real_change(FORM, FILLED)
    assert change == PageChange(changed=(
        ('textbox "Name" [ref=e2]', 'textbox "Name" [ref=e2]: Bob'),
        ('checkbox "A" [ref=e3]', 'checkbox "A" [checked] [ref=e3]')))
    assert real_change(FORM, FORM).empty
    # focus and indentation are not changes; a new wrapper and the overlay are
    assert real_change(FILLED, DONE) == PageChange(
        added=("generic [ref=e5]:", "generic [ref=e6]: START"))


def test_lines_without_refs_pair_by_role_and_name() -> None:
    after = LIST.replace(' [selected]', '').replace('"Helli"', '"Helli" [selected]')
    assert real_change(LIST, after) == PageChange(changed=(
        ('option "Theodora" [selected]', 'option "Theodora"'),
        ('option "Helli"', 'option "Helli" [selected]')))


def test_format_and_parse() -> None:
    change = real_change(FORM, DONE)
    text = format_change(change)
    assert text.splitlines()[0] == '~ textbox "Name" [ref=e2] => textbox "Name" [ref=e2]: Bob'
    assert parse_change(text) == change
    assert format_change(PageChange()) == "nothing changes"
    chatty = ('Sure! After the click:\n```\n* + dialog "Saved" [ref=e9]\n'
              '- - button "Submit" [ref=e4]\n`~ textbox [ref=e2] -> textbox [ref=e2]: x`\n```\n'
              '- The page will show a dialog.')
    assert parse_change(chatty) == PageChange(
        added=('dialog "Saved" [ref=e9]',), removed=('button "Submit" [ref=e4]',),
        changed=(("textbox [ref=e2]", "textbox [ref=e2]: x"),))
    assert parse_change("I think nothing changes.").empty
    assert parse_change("No change.").empty


@pytest.mark.parametrize("text", ["", "The textbox shows Bob.", "+ a dialog opens",
                                  "~ textbox [ref=e2]", "- The page will reload"])
def test_text_without_a_change_is_refused(text: str) -> None:
    with pytest.raises(ChangeFormatError, match="no change line"):
        parse_change(text)


def test_apply_change() -> None:
    imagined = apply_change(FORM, real_change(FORM, FILLED))
    assert imagined.splitlines()[1] == '  - textbox "Name" [ref=e2]: Bob'
    assert lines_of(imagined) == lines_of(FILLED)
    added = apply_change(FORM, PageChange(added=('dialog "Saved" [ref=e9]',),
                                          removed=('button "Submit"',)))
    assert added.splitlines()[-1] == '  - dialog "Saved" [ref=e9]'
    assert "Submit" not in added
    # an old line given by its ref alone is found; a line not on the page is not
    by_ref = apply_change(FORM, PageChange(changed=(("textbox [ref=e2]", "textbox [ref=e2]: Z"),)))
    assert "textbox [ref=e2]: Z" in by_ref
    with pytest.raises(ChangeFormatError, match="not on the page"):
        apply_change(FORM, PageChange(removed=('link "Home" [ref=e7]',)))
    with pytest.raises(ChangeFormatError, match="changed line"):
        apply_change(FORM, PageChange(changed=(("link [ref=e9]", "link [ref=e9]: x"),)))


def test_scores() -> None:
    real = real_change(FORM, DONE)  # 2 changed + 2 added
    assert score_change(real, real) == score_change(parse_change(format_change(real)), real)
    perfect = score_change(real, real)
    assert (perfect.precision, perfect.recall, perfect.f1, perfect.exact) == (1, 1, 1, True)
    # refs are not compared, and a removal plus an addition of one element is a change
    half = score_change(parse_change('- textbox "Name" [ref=e8]\n+ textbox "Name" [ref=e8]: Bob\n'
                                     '+ dialog "Oops"'), real)
    assert (half.precision, half.recall, half.exact) == (0.5, 0.25, False)
    assert half.f1 == pytest.approx(1 / 3)
    wrong = score_change(None, real)
    assert (wrong.f1, wrong.exact, wrong.applied) == (0.0, False, False)
    nothing = score_change(PageChange(), PageChange())
    assert (nothing.precision, nothing.recall, nothing.f1, nothing.exact) == (1, 1, 1, True)
    assert score_change(PageChange(), real).f1 == 0.0
    assert score_change(real, PageChange()).f1 == 0.0
    assert score_change(None, PageChange()).f1 == 0.0


def test_page_change_keeps_its_output() -> None:
    assert page_change(FORM, FILLED) == ['+ textbox "Name": Bob', '+ checkbox "A" [checked]',
                                         '- textbox "Name"', '- checkbox "A"']


# ---- properties ------------------------------------------------------------------------

ROLES = ["generic", "button", "textbox", "checkbox", "option", "text", "link", "heading"]
names = st.one_of(st.just(""), st.sampled_from(["A", "Submit", "Name", "Tab #1", "x y"]))
texts = st.one_of(st.just(""), st.sampled_from(["Bob", "START", "42", "a: b", "Lorem ipsum."]))


@st.composite
def tree_lines(draw: st.DrawFn, refs: bool = True) -> str:
    role, name, text = draw(st.sampled_from(ROLES)), draw(names), draw(texts)
    states = draw(st.lists(st.sampled_from(["[checked]", "[selected]", "[level=2]"]),
                           max_size=2, unique=True))
    marks = draw(st.lists(st.sampled_from(["[active]", "[cursor=pointer]"]), max_size=1))
    ref = [f"[ref=e{draw(st.integers(1, 6))}]"] if refs and draw(st.booleans()) else []
    head = " ".join([role] + ([f'"{name}"'] if name else []) + states + marks + ref)
    return head + (f": {text}" if text else draw(st.sampled_from(["", ":"])))


pages = st.lists(st.tuples(st.integers(0, 3), tree_lines()), max_size=12).map(
    lambda rows: "\n".join("  " * d + "- " + ln for d, ln in rows))
display = tree_lines().map(tree_line)
changes = st.builds(
    lambda a, r, c: PageChange(tuple(a), tuple(r), tuple(c)),
    st.lists(display, max_size=5), st.lists(display, max_size=5),
    st.lists(st.tuples(display, display), max_size=5))


@given(pages, pages)
@example(FORM, DONE)
@example(LIST, LIST.replace(" [selected]", ""))
def test_applying_the_real_change_gives_the_page_after(before: str, after: str) -> None:
    change = real_change(before, after)
    assert lines_of(apply_change(before, change)) == lines_of(after)
    assert change.empty == (lines_of(before) == lines_of(after))


@given(changes)
def test_the_text_format_reads_back(change: PageChange) -> None:
    assert parse_change(format_change(change)) == change


CHATTER = ["+ ", "- ", "~ ", " => ", " -> ", "`", "* ", "1. ", "\n", "button", '"x"',
           "[ref=e1]", "[active]", ":", "nothing changes", "'", "\\", "\x00", "\ud800", "["]
untrusted = st.one_of(st.text(max_size=400), st.lists(st.sampled_from(CHATTER),
                                                      max_size=60).map("".join))


@given(untrusted)
@example("+ button\n" * (MAX_ITEMS * 3))
@example("+ " + '"' * 20_000)
@example("~ " + " => " * 5_000)
@example("+ button [" + "[ref=e1]" * 3000)
def test_the_parser_raises_only_its_own_error(text: str) -> None:
    try:
        change = parse_change(text)
    except ChangeFormatError:
        return
    items = len(change.added) + len(change.removed) + len(change.changed)
    assert items <= MAX_ITEMS
    try:
        apply_change(FORM, change)
    except ChangeFormatError:
        pass
    score = score_change(change, real_change(FORM, FILLED))
    assert 0.0 <= score.f1 <= 1.0
