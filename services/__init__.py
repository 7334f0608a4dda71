"""The four postsched services; each imports only the shared `postsched` package, never another service."""
