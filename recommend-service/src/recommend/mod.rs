//! Collaborative filtering, independent of HTTP and the database: indexing ratings,
//! baselines, similarities, neighbourhood models, offline evaluation and synthetic data.

pub mod auto;
pub mod baseline;
pub mod blend;
pub mod ease;
pub mod evaluate;
pub mod factors;
pub mod generate;
pub mod matrix;
pub mod model;
pub mod rng;
pub mod rp3;
pub mod similarity;

pub use matrix::{Matrix, Rating};
pub use model::{Because, Direction, Model, Profile, Scored, Strategy};
pub use similarity::Similarity;
