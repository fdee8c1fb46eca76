//! End-to-end tests live in `tests/api/`: each starts the services in-process behind two
//! gateway replicas, on a private Redis key space and a fresh database.
