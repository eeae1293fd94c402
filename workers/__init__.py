"""Background work (后台任务): the outbox relay, RQ job functions, the cron schedule, the worker."""
