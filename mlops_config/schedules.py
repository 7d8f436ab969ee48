"""Schedule expressions parsed against AWS's documented grammar, so a bad one fails at validate, not at deploy.

Sources (AWS documentation):
- EventBridge Scheduler, "Schedule types": ``at(yyyy-mm-ddThh:mm:ss)``, ``rate(value unit)`` and ``cron(fields)``
  with six fields: minutes hours day-of-month month day-of-week year.
- EventBridge rules (legacy scheduled rules), "Cron expressions reference" and "Rate expressions reference": the
  same six cron fields, their values and wildcards; ``rate`` units agree in number with the value (``rate(1 hour)``,
  ``rate(5 hours)``); day-of-month and day-of-week cannot both be set: one of them is ``?``. Rules have no ``at``.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

SCHEDULER = "EventBridge Scheduler"
RULE = "EventBridge rule"
CRON_FORM = "cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 4 1 * ? *)"
RATE_FORM = "rate(value unit), unit minute|minutes|hour|hours|day|days in number with value, e.g. rate(1 hour)"
AT_FORM = "at(yyyy-mm-ddThh:mm:ss), e.g. at(2027-01-31T06:00:00)"

_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
# (name, low, high, extra wildcards beyond , - * /, names)
_FIELDS = (
    ("minutes", 0, 59, "", ()),
    ("hours", 0, 23, "", ()),
    ("day-of-month", 1, 31, "?LW", ()),
    ("month", 1, 12, "", _MONTHS),
    ("day-of-week", 1, 7, "?L#", _DAYS),
    ("year", 1970, 2199, "", ()),
)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


def _value(token: str, low: int, high: int, names: tuple[str, ...]) -> int:
    if token.upper() in names:
        return names.index(token.upper()) + 1
    if not token.isdigit() or not low <= int(token) <= high:
        allowed = f"{low}-{high}" + (f" or {names[0]}-{names[-1]}" if names else "")
        raise ValueError(f"{token!r} is not {allowed}")
    return int(token)


def _check_field(text: str, name: str, low: int, high: int, extra: str, names: tuple[str, ...]) -> None:
    if text in ("*", "?"):
        if text == "?" and "?" not in extra:
            raise ValueError("'?' is allowed in day-of-month and day-of-week only")
        return
    for part in text.split(","):
        if part == "L" and "L" in extra or part == "LW" and "W" in extra or (
                name == "day-of-week" and re.fullmatch(r"[1-7]L", part)):
            continue
        if "W" in extra and part.endswith("W"):
            _value(part[:-1], low, high, names)
            continue
        if "#" in extra and "#" in part:
            day, _, nth = part.partition("#")
            _value(day, low, high, names)
            if nth not in {"1", "2", "3", "4", "5"}:
                raise ValueError(f"{part!r}: the week after '#' is 1-5")
            continue
        base, slash, step = part.partition("/")
        if slash and (not step.isdigit() or int(step) < 1):
            raise ValueError(f"{part!r}: the increment after '/' is a positive whole number")
        if base == "*" and slash:
            continue
        start, dash, end = base.partition("-")
        _value(start, low, high, names)
        if dash:
            _value(end, low, high, names)


def check_schedule(expression: str, service: str = SCHEDULER) -> str:
    """Return ``expression`` if ``service`` (SCHEDULER or RULE) accepts it, else raise ValueError showing the form."""
    forms = [CRON_FORM, RATE_FORM] + ([AT_FORM] if service == SCHEDULER else [])
    expected = f"{service} expects " + " or ".join(forms)
    if expression.startswith("rate("):
        match = _RATE.match(expression)
        if not match:
            raise ValueError(f"not a rate expression; {expected}")
        value, unit = int(match.group(1)), match.group(2)
        if value < 1:
            raise ValueError(f"the rate value must be a positive whole number; {RATE_FORM}")
        if (value == 1) == unit.endswith("s"):
            right = unit.rstrip("s") if value == 1 else unit + "s"
            raise ValueError(f"the unit agrees in number with the value: rate({value} {right}); {RATE_FORM}")
        return expression
    if expression.startswith("at("):
        match = _AT.match(expression)
        if service != SCHEDULER:
            raise ValueError(f"an {service} has no one-time schedules; {expected}")
        if not match:
            raise ValueError(f"not an at expression; {AT_FORM}")
        try:
            datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
        except ValueError as exc:
            raise ValueError(f"{match.group(1)!r} is not a date and time ({exc}); {AT_FORM}") from None
        return expression
    if not (expression.startswith("cron(") and expression.endswith(")")):
        raise ValueError(expected)
    fields = expression[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"a cron expression has six fields, this one has {len(fields)}; {CRON_FORM}")
    for text, (name, low, high, extra, names) in zip(fields, _FIELDS, strict=True):
        try:
            _check_field(text, name, low, high, extra, names)
        except ValueError as exc:
            raise ValueError(f"cron field {name} {text!r}: {exc}; {CRON_FORM}") from None
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ValueError(f"exactly one of day-of-month ({day_of_month!r}) and day-of-week ({day_of_week!r}) must be "
                         f"'?'; {CRON_FORM}")
    return expression


def scheduler_expression(expression: str) -> str:
    """pydantic validator: an EventBridge Scheduler expression (at, rate or cron)."""
    return check_schedule(expression, SCHEDULER)


def rule_expression(expression: str) -> str:
    """pydantic validator: an EventBridge rule schedule expression (rate or cron)."""
    return check_schedule(expression, RULE)


SchedulerExpression = Annotated[str, AfterValidator(scheduler_expression)]
RuleExpression = Annotated[str, AfterValidator(rule_expression)]
