"""A job for test_nightly: do the real work, then die like a worker killed before it could tell RQ."""

import os
import signal


def settle_then_die(attendance_id: int) -> None:
    from workers.jobs import attendance_closed

    attendance_closed(attendance_id)
    os.kill(os.getpid(), signal.SIGKILL)
