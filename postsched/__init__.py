"""postsched: shared parts of the four services (store, settings, gRPC plumbing, generated API)."""
