"""The shared core: config, database, storage, jobs, events, auth, uploads, errors."""
