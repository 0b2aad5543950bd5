//! End-to-end tests of the HTTP and command targets against real servers and processes.

mod command;
mod http;
mod inspect;
mod support;
mod tls;
