"""Every prediction the change grammar admits is read by page_diff and applies to its page
(its repeated lines read once), unless it names one page line twice (removes and changes
it): that contradiction is an error, scored as a wrong prediction."""

from __future__ import annotations

import re

from hypothesis import assume, given
from hypothesis import strategies as st

from worldplan.worldmodel.web.change_grammar import change_regex
from worldplan.worldmodel.web.change_reading import once
from worldplan.worldmodel.web.page_diff import apply_change, parse_change

PAGE = ('- generic [ref=e1]:\n  - textbox "Name" [ref=e2]\n  - checkbox "Agree" [ref=e4]\n'
        '  - button "Submit (now)" [ref=e3]\n  - text: Total $5.00?')


def test_lines_not_on_the_page_cannot_be_removed_or_changed() -> None:
    rx = re.compile(change_regex(PAGE))
    assert rx.fullmatch('~ textbox "Name" [ref=e2] => textbox "Name" [ref=e2]: Ann')
    assert rx.fullmatch('- button "Submit (now)" [ref=e3]\n+ status "Saved"')
    assert rx.fullmatch("- text: Total $5.00?")  # operators in page text are literal
    assert rx.fullmatch("nothing changes")
    assert not rx.fullmatch('- textbox "Email" [ref=e9]')
    assert not rx.fullmatch('+ fill("e2", "Ann")')  # an action is not a tree line
    assert not rx.fullmatch("")


@given(st.data())
def test_whatever_the_grammar_admits_applies(data: st.DataObject) -> None:
    text = once(data.draw(st.from_regex(change_regex(PAGE), fullmatch=True)))
    olds = [ln[2:].split(" => ")[0] for ln in text.splitlines() if ln[:2] in ("- ", "~ ")]
    assume(len(olds) == len(set(olds)))  # removing and changing one line contradicts itself
    apply_change(PAGE, parse_change(text))  # raises ChangeFormatError if it does not
