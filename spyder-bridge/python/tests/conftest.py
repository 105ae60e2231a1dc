"""Ends the test process once pytest has reported, without the interpreter's teardown.

With Python 3.14, PyQt5's sip (Debian sid, Spyder 6.1) sometimes crashes with SIGSEGV while the
interpreter destroys the Qt objects left at exit, after every test has passed and the summary has
been printed. The outcome is known by then, so the exit status is handed back before that teardown.
"""

import os
import sys

import pytest

_exit_status = None


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if _exit_status is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
