"""The quick fuzz: 40 generated cases (``python -m benchmarks.fuzz --cases 40``) against a real server process."""

from __future__ import annotations

import pytest

from benchmarks.fuzz import FAILURES, Files, fuzz, judge, make_cases

pytestmark = pytest.mark.slow


def test_the_cases_are_the_same_for_the_same_seed(tmp_path):
    first = make_cases(60, 7, Files(tmp_path / "a"))
    again = make_cases(60, 7, Files(tmp_path / "b"))
    other = make_cases(60, 8, Files(tmp_path / "c"))
    describe = [(case.kind, case.target) for case in first]
    assert describe == [(case.kind, case.target) for case in again]
    assert describe != [(case.kind, case.target) for case in other]


def test_a_reasonless_or_traceback_message_fails_the_case(tmp_path):
    case = next(case for case in make_cases(60, 1, Files(tmp_path)) if case.target == "content")
    assert judge(case, None) == "done"
    assert judge(case, "The content image is not an image that can be read.") == "refused"
    assert judge(case, "Error") in FAILURES
    assert judge(case, 'Traceback (most recent call last):\n  File "x.py"') in FAILURES
    assert judge(case, "Something went wrong.") in FAILURES  # names no input


def test_forty_cases_no_crash_no_hang_every_refusal_explained(tmp_path):
    passed, text = fuzz(40, 1, tmp_path, log=print)
    print(text)
    assert passed, text
