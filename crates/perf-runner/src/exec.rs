//! One query against the target: timeout, panic capture, retries, expectations.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use perf_core::{
    check_expectations, BotResponse, BotTarget, ErrorKind, ExpectationFailure, Outcome, Query,
    TargetError,
};
use tokio::time::error::Elapsed;
use tokio::time::Instant;

use crate::RetryPolicy;

/// How a query ended after all its attempts.
#[derive(Debug)]
pub(crate) struct Finished {
    pub(crate) outcome: Outcome,
    pub(crate) first_attempt: Option<Outcome>,
    pub(crate) attempts: u32,
    pub(crate) response: Option<BotResponse>,
    pub(crate) error: Option<String>,
    pub(crate) failures: Vec<ExpectationFailure>,
}

impl Finished {
    /// When the query ended for the figures: `now`, less the time the target spent only
    /// to know the answer was final ([`BotResponse::settle`]), never before `start`.
    pub(crate) fn end(&self, now: Instant, start: Instant) -> Instant {
        let settle = self
            .response
            .as_ref()
            .and_then(|r| r.settle)
            .unwrap_or_default();
        now.checked_sub(settle).unwrap_or(start).max(start)
    }
}

/// Polls a future inside `catch_unwind`, so a target that panics in `execute` becomes an
/// error sample instead of taking a worker down. The inner future is never polled again
/// after a panic.
struct CatchUnwind<F>(F);

impl<F: Future + Unpin> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(inner).poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => Poll::Ready(Err(panic_message(payload.as_ref()))),
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string panic payload");
    format!("target panicked in execute: {what}")
}

type Attempt = Result<Result<Result<BotResponse, TargetError>, String>, Elapsed>;

/// One attempt. The target's future is polled once before any timer exists: an answer
/// that is ready at once (an in-process target) costs no timer registration, which is
/// most of the harness's cost per query at high rates.
async fn attempt_with_timeout(target: &dyn BotTarget, query: &Query, deadline: Instant) -> Attempt {
    let mut fut = CatchUnwind(target.execute(query));
    match std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut fut).poll(cx))).await {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => tokio::time::timeout_at(deadline, fut).await,
    }
}

/// Runs the attempts of one query.
///
/// `start` is when the first attempt starts (the caller has just read the clock).
pub(crate) async fn run_query(
    target: &dyn BotTarget,
    query: &Query,
    start: Instant,
    timeout: Duration,
    retry: RetryPolicy,
) -> Finished {
    let mut attempts = 0u32;
    let mut first_attempt = None;
    let mut attempt_start = start;
    loop {
        attempts += 1;
        let attempt =
            attempt_with_timeout(target, query, crate::runner::later(attempt_start, timeout)).await;
        let (outcome, response, error) = match attempt {
            Err(_) => (
                Outcome::Timeout,
                None,
                Some(format!("no answer within {} ms", timeout.as_millis())),
            ),
            Ok(Err(panic)) => (Outcome::Error(ErrorKind::Panic), None, Some(panic)),
            Ok(Ok(Err(e))) => (Outcome::Error(e.kind), None, Some(e.message)),
            Ok(Ok(Ok(r))) => match check_stream_figures(&r, attempt_start.elapsed()) {
                Ok(()) => (Outcome::Ok, Some(r), None),
                Err(e) => (Outcome::Error(e.kind), None, Some(e.message)),
            },
        };
        if first_attempt.is_none() {
            first_attempt = Some(outcome);
        }
        let retryable = matches!(outcome, Outcome::Error(_) | Outcome::Timeout);
        if retryable && attempts <= retry.max_retries {
            tokio::time::sleep(retry.delay(attempts)).await;
            attempt_start = Instant::now();
            continue;
        }
        let (outcome, failures) = match &response {
            Some(r) if !query.expectations.is_empty() => {
                let failures = check_expectations(&query.expectations, r);
                if failures.is_empty() {
                    (outcome, failures)
                } else {
                    (Outcome::FailedExpectation, failures)
                }
            }
            _ => (outcome, Vec::new()),
        };
        return Finished {
            outcome,
            first_attempt: if attempts > 1 { first_attempt } else { None },
            attempts,
            response,
            error,
            failures,
        };
    }
}

/// More output tokens than any answer has: a count above it is a bot's mistake.
pub(crate) const MAX_OUTPUT_TOKENS: u64 = 10_000_000;

/// Rejects streaming figures that cannot be true, so no made-up time to first token or
/// token rate reaches a report: a first token after the answer ended, a last token
/// before the first, more pieces than a stream can have, or an absurd token count.
fn check_stream_figures(r: &BotResponse, elapsed: Duration) -> Result<(), TargetError> {
    // A little slack: a target's clock read and ours are not the same instant.
    let limit = elapsed + Duration::from_millis(5);
    if let Some(ttft) = r.time_to_first_token {
        if ttft > limit {
            return Err(TargetError::invalid_response(format!(
                "the reported time to first token ({} ms) is longer than the whole answer took ({} ms)",
                ttft.as_millis(),
                elapsed.as_millis()
            )));
        }
    }
    if let Some(last) = r.time_to_last_token {
        if last > limit || r.time_to_first_token.is_some_and(|f| last < f) {
            return Err(TargetError::invalid_response(format!(
                "the reported time to last token ({} ms) is outside the answer (first token {:?}, answer {} ms)",
                last.as_millis(),
                r.time_to_first_token.map(|f| f.as_millis()),
                elapsed.as_millis()
            )));
        }
    }
    if let Some(n) = r.completion_tokens {
        if n > MAX_OUTPUT_TOKENS {
            return Err(TargetError::invalid_response(format!(
                "the answer claims {n} output tokens, more than the {MAX_OUTPUT_TOKENS} any answer can have"
            )));
        }
    }
    if let Some(n) = r.stream_chunks {
        if n > MAX_OUTPUT_TOKENS {
            return Err(TargetError::invalid_response(format!(
                "the answer claims {n} streamed pieces, more than the {MAX_OUTPUT_TOKENS} any answer can have"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_readable() {
        let p: Box<dyn std::any::Any + Send> = Box::new("boom");
        assert!(panic_message(p.as_ref()).ends_with("boom"));
        let p: Box<dyn std::any::Any + Send> = Box::new(String::from("bang"));
        assert!(panic_message(p.as_ref()).ends_with("bang"));
        let p: Box<dyn std::any::Any + Send> = Box::new(7u8);
        assert!(panic_message(p.as_ref()).contains("non-string"));
    }
}
