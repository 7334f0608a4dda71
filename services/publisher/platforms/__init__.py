"""Platform adapters: HTTP calls and error classification. They never touch the store."""
