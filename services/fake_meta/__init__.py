"""`postsched fake-meta`: a local stand-in for the Meta Graph API, for demos and tests."""
