//! Helpers the benchmark scripts in `bench/` run: a trivial upstream, and a synthetic
//! RBAC policy of any size. Nothing here is part of Waypoint itself.
