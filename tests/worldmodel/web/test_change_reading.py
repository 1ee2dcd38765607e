"""Reading a predicted change against its page: refs are identities, repeats read once, a
reply cut at its token limit loses its unfinished line, and what cannot apply is an error."""

from __future__ import annotations

import pytest

from worldplan.worldmodel.web.change_reading import read_change
from worldplan.worldmodel.web.page_diff import ChangeFormatError, real_change, score_change

BEFORE = '- textbox "Name" [ref=e2]\n- checkbox "Agree" [ref=e4]\n- button "Go" [ref=e3]'
AFTER = ('- textbox "Name" [active] [ref=e2]: Bob\n- checkbox "Agree" [ref=e4]\n'
         '- button "Go" [ref=e3]')


def test_an_added_line_with_a_ref_on_the_page_is_that_elements_new_state() -> None:
    change = read_change('+ textbox "Name" [ref=e2]: Bob', BEFORE)
    assert change.changed == (('textbox "Name" [ref=e2]', 'textbox "Name" [ref=e2]: Bob'),)
    assert change.added == ()
    score = score_change(change, real_change(BEFORE, AFTER))
    assert score.exact and score.precision == 1.0


def test_a_new_ref_stays_added_and_a_named_ref_is_not_read_twice() -> None:
    assert read_change('+ dialog "Hi" [ref=e9]', BEFORE).added == ('dialog "Hi" [ref=e9]',)
    both = read_change('- button "Go" [ref=e3]\n+ button "Gone" [ref=e3]', BEFORE)
    assert both.removed == ('button "Go" [ref=e3]',)
    assert both.added == ('button "Gone" [ref=e3]',)


def test_repeats_and_cut_replies() -> None:
    twice = '- button "Go" [ref=e3]\n- button "Go" [ref=e3]'
    assert read_change(twice, BEFORE).removed == ('button "Go" [ref=e3]',)
    cut = '- button "Go" [ref=e3]\n+ status "Sav'
    assert read_change(cut, BEFORE, finished=False).added == ()
    with pytest.raises(ChangeFormatError):
        read_change('- textbox "Email" [ref=e7]', BEFORE)  # not on the page
