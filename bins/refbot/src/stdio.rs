//! `refbot stdio`: the bot as a child process speaking JSON lines.
//!
//! Each stdin line is a request `{"id", "query", "user_id", "channel"}`; each answer is one
//! stdout line `{"id", "answer", "agent", "agents", "error"}`, written when it is ready, so
//! answers may come in any order. A line that is not a request is reported on stderr and
//! skipped (with an error answer when it had a string `id`). At the end of stdin the bot
//! finishes the queries in flight and exits.
//!
//! In the LLM mode the answer is streamed first: one `{"id", "delta"}` line per token
//! when it is generated, then the answer line, which also carries `"tokens"` (the number
//! of deltas sent). `docs/targets.md` describes this streaming form.

use std::sync::Arc;

use anyhow::Context as _;
use perf_core::{BotTarget, Query};
use perf_refbot::RefBot;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Longest request line accepted.
const MAX_LINE: usize = 1 << 20;

#[derive(Debug, Deserialize)]
struct Request {
    id: String,
    query: String,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}

/// `refbot stdio`: the bot as a JSON-lines child process.
#[derive(Debug, clap::Args)]
pub(crate) struct StdioArgs {
    #[command(flatten)]
    bot: super::BotArgs,
}

/// Runs `refbot stdio` until stdin ends.
pub(crate) async fn main(args: StdioArgs) -> anyhow::Result<()> {
    let bot = Arc::new(args.bot.open().await?);
    bot.initialize()
        .await
        .map_err(|e| anyhow::anyhow!("refbot failed to start: {e}"))?;
    let served = run(Arc::clone(&bot)).await;
    bot.shutdown().await.ok();
    served
}

/// Serves `bot` on stdin/stdout until stdin ends.
pub(crate) async fn run(bot: Arc<RefBot>) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::stdout();
        while let Some(mut line) = rx.recv().await {
            line.push('\n');
            out.write_all(line.as_bytes()).await?;
            // Answers are sent as they are ready: the harness times them.
            out.flush().await?;
        }
        Ok::<_, std::io::Error>(())
    });

    let mut reader = BufReader::new(tokio::io::stdin());
    let mut tasks = JoinSet::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .context("cannot read stdin")?;
        if n == 0 {
            break;
        }
        if line.len() > MAX_LINE {
            eprintln!("refbot: skipping a request line longer than {MAX_LINE} bytes");
            if !skip_line(&mut reader).await.context("cannot read stdin")? {
                break;
            }
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let request: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                let id = serde_json::from_slice::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
                eprintln!("refbot: skipping a line that is not a request: {e}");
                if let Some(id) = id {
                    let _ = tx.send(
                        json!({"id": id, "answer": null, "agent": null,
                               "error": format!("invalid request: {e}")})
                        .to_string(),
                    );
                }
                continue;
            }
        };
        let bot = Arc::clone(&bot);
        let tx = tx.clone();
        tasks.spawn(async move {
            let mut q = Query::new(request.id.clone(), request.query, "stdio");
            q.user_id = request.user_id;
            q.channel = request.channel;
            let id = request.id.clone();
            let deltas = tx.clone();
            let mut on_token = move |piece: &str| {
                let _ = deltas.send(json!({"id": id, "delta": piece}).to_string());
            };
            let answer = match bot.execute_streaming(&q, &mut on_token).await {
                Ok(r) => {
                    let mut line = json!({
                        "id": request.id,
                        "answer": r.answer,
                        "agent": r.primary_agent(),
                        "agents": r.agents,
                        "error": null,
                    });
                    if let Some(tokens) = r.completion_tokens {
                        line["tokens"] = json!(tokens);
                    }
                    line
                }
                Err(e) => {
                    json!({"id": request.id, "answer": null, "agent": null, "error": e.to_string()})
                }
            };
            let _ = tx.send(answer.to_string());
        });
        // Reap finished tasks as we go, so the set does not grow with the run.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    drop(tx);
    writer
        .await
        .context("the stdout writer stopped")?
        .context("cannot write to stdout")?;
    Ok(())
}

/// Discards the rest of an overlong line without holding it; `false` at end of input.
async fn skip_line<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> std::io::Result<bool> {
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(false);
        }
        if let Some(i) = buf.iter().position(|&b| b == b'\n') {
            reader.consume(i + 1);
            return Ok(true);
        }
        let n = buf.len();
        reader.consume(n);
    }
}
