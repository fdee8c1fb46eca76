//! The operator commands of the `recommend-service` binary besides serving:
//! `import`, `eval` and `gen`.

pub mod eval;
pub mod file;
pub mod generate;
pub mod import;
