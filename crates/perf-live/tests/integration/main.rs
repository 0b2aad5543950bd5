//! Integration tests of the live view: the aggregator on the paused clock, the server over
//! real HTTP on loopback, and a whole suite run watched live.

mod aggregator;
mod docs;
mod http;
mod limits;
mod pipeline;
mod support;
