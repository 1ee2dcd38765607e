"""Text typed into a date or time field, as the value the browser's widget would hold.

Chromium's `<input type="date">` shows and takes a date the way its locale writes it
(en-US: 05/20/2010), but its value, and Playwright's `fill`, are ISO (2010-05-20): filling
"05/20/2010" leaves the field silently empty. `widget_value(kind, text)` turns what a person
would type into such a field (en-US display forms, or the ISO form itself) into its value,
so `fill(ref, "05/20/2010")` does what typing it would do. Handled: `date`
(MM/DD/YYYY, M/D/YYYY, YYYY-MM-DD) and `time` (HH:MM[:SS] on 24 hours, h:MM AM/PM); other
kinds, and text in no known form, come back unchanged (the caller then checks that the
field took it). `TYPED_KINDS` maps each typed input kind to the form its value takes, for
error messages.
Pure functions; no locale other than en-US (the browser's here).
"""

from __future__ import annotations

import datetime as dt
import re

TYPED_KINDS = {"date": "YYYY-MM-DD or MM/DD/YYYY", "time": "HH:MM or h:MM AM/PM",
               "datetime-local": "YYYY-MM-DDTHH:MM", "month": "YYYY-MM", "week": "YYYY-Www"}

_US_DATE = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*$")
_TIME = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?\s*$")


def _date(text: str) -> str | None:
    m = _US_DATE.match(text)
    if m:
        month, day, year = (int(g) for g in m.groups())
    elif m := _ISO_DATE.match(text):
        year, month, day = (int(g) for g in m.groups())
    else:
        return None
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def _time(text: str) -> str | None:
    m = _TIME.match(text)
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2))
    second = int(m.group(3)) if m.group(3) else None
    half = (m.group(4) or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "pm" else 0)
    try:
        t = dt.time(hour, minute, second or 0)
    except ValueError:
        return None
    return t.isoformat(timespec="seconds" if second is not None else "minutes")


def widget_value(kind: str, text: str) -> str:
    """The value a field of input type `kind` holds after `text` is typed into it; `text`
    itself when the kind is not handled or the text is in no known form."""
    convert = {"date": _date, "time": _time}.get(kind.lower())
    value = convert(text) if convert is not None else None
    return text if value is None else value
