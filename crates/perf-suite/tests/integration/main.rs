//! End-to-end tests of the suite pipeline on small generated databases.

mod distributed;
mod edge;
mod gate;
mod ground_truth;
mod pipeline;
