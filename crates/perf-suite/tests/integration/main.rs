//! End-to-end tests of the suite pipeline on small generated databases.

mod ground_truth;
mod pipeline;
