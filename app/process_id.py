"""This process's id, read once per process and again after a fork.

`os.getpid` is a system call, and the hot paths ask for it on every request: each access-log
line names its worker, and prometheus_client checks the pid at every increment in
multiprocess mode (to notice a fork). Measured here at one connection, those calls were
about 4% of an ES256 token's CPU.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def process_id() -> int:
    return _pid


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)
