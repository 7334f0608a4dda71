"""The admin service (port 50054): queue stats, processing logs, failed posts, retry / clear / pause."""
