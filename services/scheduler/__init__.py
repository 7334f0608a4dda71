"""SchedulerService: the write API other backends call (port 50051)."""
