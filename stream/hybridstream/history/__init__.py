"""The PostgreSQL history of an account (docs/history.md): the versioned schema and its
migrations, the mapping of unified events to rows written idempotently, and the reads
behind ``hybridstream history``."""
