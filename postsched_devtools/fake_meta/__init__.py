"""`postsched fake-meta`: server.py is the fake Graph API; control.py starts one and drives its /_control API."""
