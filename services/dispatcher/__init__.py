"""The dispatcher (port 50052): leases due posts and hands them to JetStream at their time."""
