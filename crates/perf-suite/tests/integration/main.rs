//! End-to-end tests of the suite pipeline on small generated databases.

mod capacity;
mod distributed;
mod edge;
mod gate;
mod ground_truth;
mod nothing_lost;
mod pipeline;
mod props;
mod questions;
mod timeouts;
mod your_bot;
