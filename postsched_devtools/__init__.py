"""Development tools: never in the production image, shared by the tests and the benchmarks.

fake_meta  — `postsched fake-meta`, a Graph API and webhook receiver that behaves like Meta at volume
processes  — real PostgreSQL databases per test and the services as real processes
tenant     — a small gRPC client holding one tenant's token
faults     — the fault suite (kills, restarts, lost messages, a NATS leader killed) and its checks
"""
