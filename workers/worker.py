"""The RQ worker `linli worker` runs (and the suite's `drain`): RQ's SimpleWorker, jobs in its
own process, JSON arguments, with one repair.

RQ 3.0 stops its pub/sub listener with redis-py's `PubSubWorkerThread.stop()`, which since
redis-py 8.2 waits for the thread; after UNSUBSCRIBE the thread sits in `get_message` for up to
RQ's 60 s `sleep_time`, so a worker asked to stop (SIGTERM, or the end of a burst) hung for up to
a minute. Here the wait is bounded: the listener is a daemon thread and holds nothing.
"""

from __future__ import annotations

from rq import SimpleWorker
from rq.serializers import JSONSerializer

STOP_LISTENER_WAIT = 1.0  # seconds


class Worker(SimpleWorker):
    def __init__(self, queues, connection) -> None:
        super().__init__(queues, connection=connection, serializer=JSONSerializer)

    def unsubscribe(self) -> None:
        thread = self.pubsub_thread
        if thread is None:
            return
        self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
        self.pubsub.unsubscribe()
        try:
            thread.stop(timeout=STOP_LISTENER_WAIT)
        except TypeError:  # redis-py before 8.2: stop() does not wait
            thread.stop()
            thread.join(timeout=STOP_LISTENER_WAIT)
        self.pubsub.close()
