"""The store: every SQL statement postsched runs lives in this package."""
