//! A bot behind an HTTP endpoint.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Response, Uri};
use perf_core::{
    BotResponse, BotTarget, ErrorKind, Query, Redactor, TargetError, TargetInfo, TokenSource,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::{json, Value};
use url::Url;

use crate::client::{error_chain, Client, RequestParts, SendError};
use crate::inspect::{longest_string, shown, start_of, Inspection, INSPECT_BODY_BYTES};
use crate::pointer::{Extractor, Pointer};
use crate::secret::{Secret, REDACTED};
use crate::spec::{Api, HttpTargetConfig};
use crate::sse::{micros, SseParser, StreamState};
use crate::{template, TargetsError};

/// Characters of an error body quoted in a status error's message (after redaction).
const ERROR_SNIPPET_CHARS: usize = 256;

/// A bot behind an HTTP endpoint: JSON request/response, or a server-sent-events stream
/// (OpenAI-compatible chat completions or plain SSE).
///
/// One pool of connections (hyper; rustls; HTTP/1.1, HTTP/2 or either by ALPN) serves all
/// concurrent queries; see `docs/targets.md`. The auth token is read from the environment
/// once, sent in a sensitive header, and scrubbed from every error message; `Debug` and
/// [`BotTarget::describe`] never show it.
pub struct HttpTarget {
    client: Client,
    timeout: Option<Duration>,
    body: Option<Value>,
    answer_pointer: Pointer,
    /// Looks up [answer, error, usage, agents...] in a JSON answer.
    answer_fields: Extractor,
    /// Looks up [delta, error, usage, agents...] in a streamed event's JSON, if events are
    /// JSON (`None`: an event's data is the delta).
    event_fields: Option<Extractor>,
    api: Api,
    stream: bool,
    max_bytes: u64,
    token: Option<Secret>,
    /// Token, URL credentials and query values, secret header values.
    redactor: Redactor,
    name: String,
    pid_file: Option<std::path::PathBuf>,
    /// For [`HttpTarget::inspect`]: the method and URL (query values redacted), the request
    /// headers (secret values redacted) and the agent pointers as written.
    shown_request: String,
    shown_headers: Vec<(String, String)>,
    agent_pointer_texts: Vec<String>,
    https: bool,
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("name", &self.name)
            .field("client", &self.client)
            .field("api", &self.api)
            .field("stream", &self.stream)
            .field("max_bytes", &self.max_bytes)
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .finish_non_exhaustive()
    }
}

impl HttpTarget {
    /// Builds the target and its client; reads the auth token from the environment.
    pub fn new(config: HttpTargetConfig) -> Result<Self, TargetsError> {
        let url = Url::parse(&config.url)
            .map_err(|e| TargetsError::config("target.url", format!("not a valid URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetsError::config(
                "target.url",
                format!("unsupported scheme `{}`; use http or https", url.scheme()),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetsError::config(
                "target.url",
                "the URL carries a user or password; remove them and pass the credential \
                 with auth_token_env (auth_scheme \"Basic\" for basic authentication)",
            ));
        }
        let Some(host) = url.host_str() else {
            return Err(TargetsError::config("target.url", "the URL has no host"));
        };
        let method = Method::from_bytes(config.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| TargetsError::config("target.method", "not an HTTP method"))?;
        let token = match &config.auth_token_env {
            Some(var) => Some(
                Secret::from_env(var)
                    .ok_or_else(|| TargetsError::MissingToken { var: var.clone() })?,
            ),
            None => None,
        };

        let mut headers = HeaderMap::new();
        for (k, v) in &config.headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                TargetsError::config(format!("target.headers.{k}"), "not a valid header name")
            })?;
            let mut value = HeaderValue::from_str(v).map_err(|_| {
                TargetsError::config(format!("target.headers.{k}"), "not a valid header value")
            })?;
            value.set_sensitive(config.is_secret_header(k));
            headers.insert(name, value);
        }
        if let Some(token) = &token {
            let name = HeaderName::from_bytes(config.auth_header.as_bytes()).map_err(|_| {
                TargetsError::config("target.auth_header", "not a valid header name")
            })?;
            let text = if config.auth_scheme.is_empty() {
                token.expose().to_owned()
            } else {
                format!("{} {}", config.auth_scheme, token.expose())
            };
            let mut value = HeaderValue::from_str(&text).map_err(|_| {
                TargetsError::config(
                    "target.auth_token_env",
                    "the token is not a valid header value (control characters?)",
                )
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }

        let shown_request = format!("{method} {}", crate::secret::redacted_url(&config.url));
        let sends_body = !matches!(method, Method::GET | Method::HEAD);
        let body = if sends_body {
            let body = config
                .body
                .clone()
                .unwrap_or_else(|| default_body(config.api, config.stream, &config.model));
            if !template::mentions_query(&body) {
                return Err(TargetsError::config(
                    "target.body",
                    "the body template has no string exactly equal to \"{{query}}\"",
                ));
            }
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
            Some(body)
        } else {
            None
        };
        let accept = if config.stream {
            "text/event-stream"
        } else {
            "*/*"
        };
        headers
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static(accept));
        headers
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(concat!(
                "perf-targets/",
                env!("CARGO_PKG_VERSION")
            )));
        crate::spec::check_own_timeout(config.timeout_ms)?;
        if config.max_response_bytes == 0 {
            return Err(TargetsError::config(
                "target.max_response_bytes",
                "must be positive",
            ));
        }

        let host_port = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        let uri = |text: &str| {
            text.parse::<Uri>().map_err(|e| {
                TargetsError::config("target.url", format!("not a valid request URI: {e}"))
            })
        };
        let origin = format!("{}://{host_port}", url.scheme());
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        let mut shown_headers = vec![("host".to_owned(), host_port.clone())];
        shown_headers.extend(headers.iter().map(|(k, v)| {
            let shown = if v.is_sensitive() || config.is_secret_header(k.as_str()) {
                REDACTED.to_owned()
            } else {
                config
                    .redactor()
                    .redact_owned(String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            (k.as_str().to_owned(), shown)
        }));
        let parts = RequestParts {
            method,
            absolute: uri(&format!("{origin}{path}"))?,
            origin: uri(&origin)?,
            path: uri(&path)?,
            headers,
            host: HeaderValue::from_str(&host_port).map_err(|_| {
                TargetsError::config("target.url", "the host is not a valid header value")
            })?,
        };
        let extra_roots = match &config.tls_ca_file {
            Some(path) => read_roots(path)?,
            None => Vec::new(),
        };
        let client = Client::new(
            parts,
            config.http_version,
            Duration::from_millis(config.connect_timeout_ms.max(1)),
            config.pool_max_idle_per_host,
            extra_roots,
        )
        .map_err(|e| match &config.tls_ca_file {
            Some(path) => {
                TargetsError::config("target.tls_ca_file", format!("`{}`: {e}", path.display()))
            }
            None => TargetsError::Client(e.to_string()),
        })?;

        let answer_pointer = config.answer_pointer.clone().unwrap_or_else(|| {
            match config.api {
                Api::Json => "/answer",
                Api::Openai => "/choices/0/message/content",
            }
            .to_owned()
        });
        let delta_pointer = config.delta_pointer.clone().or(match config.api {
            Api::Openai => Some("/choices/0/delta/content".to_owned()),
            Api::Json => None,
        });
        let name = config.name.clone().unwrap_or_else(|| public_url(&url));
        let pointer = |key: &str, text: &str| {
            Pointer::parse(text).ok_or_else(|| {
                TargetsError::config(
                    key,
                    format!("`{text}` is not a JSON pointer (it must start with `/`)"),
                )
            })
        };
        let answer_pointer = pointer("target.answer_pointer", &answer_pointer)?;
        let agent_pointers = config
            .agent_pointers
            .iter()
            .map(|p| pointer("target.agent_pointers", p))
            .collect::<Result<Vec<_>, _>>()?;
        let error_pointer = pointer("target.error_pointer", &config.error_pointer)?;
        let usage_pointer = pointer("usage", "/usage")?;
        // The slots of `Slot`.
        let fields = |first: Pointer| {
            let mut all = vec![first, error_pointer.clone(), usage_pointer.clone()];
            all.extend(agent_pointers.iter().cloned());
            Extractor::new(all)
        };
        let delta_pointer = match delta_pointer {
            Some(p) => Some(pointer("target.delta_pointer", &p)?),
            None => None,
        };
        Ok(Self {
            client,
            timeout: config.timeout_ms.map(Duration::from_millis),
            body,
            answer_fields: fields(answer_pointer.clone()),
            event_fields: delta_pointer.map(fields),
            answer_pointer,
            api: config.api,
            stream: config.stream,
            max_bytes: config.max_response_bytes,
            redactor: config.redactor(),
            token,
            name,
            pid_file: config.pid_file,
            shown_request,
            shown_headers,
            agent_pointer_texts: config.agent_pointers.clone(),
            https: url.scheme() == "https",
        })
    }

    fn scrub(&self, text: String) -> String {
        let text = match &self.token {
            Some(t) => t.scrub(text),
            None => text,
        };
        self.redactor.redact_owned(text)
    }

    fn error(&self, kind: ErrorKind, message: String) -> TargetError {
        TargetError::new(kind, self.scrub(message))
    }

    fn send_error(&self, e: SendError) -> TargetError {
        match e {
            SendError::Connect(message) => self.error(
                ErrorKind::Connect,
                format!("cannot connect to {}: {message}", self.name),
            ),
            SendError::Request(e) if e.is_parse() => self.error(
                ErrorKind::InvalidResponse,
                format!("the response is not valid HTTP: {}", error_chain(&e)),
            ),
            SendError::Request(e) => self.error(
                ErrorKind::Connect,
                format!("request failed: {}", error_chain(&e)),
            ),
        }
    }

    fn body_error(&self, e: &hyper::Error, what: &str) -> TargetError {
        self.error(
            ErrorKind::InvalidResponse,
            format!("{what}: {}", error_chain(e)),
        )
    }

    /// Reads the whole body, failing once it passes the cap.
    async fn read_capped(&self, response: &mut Response<Incoming>) -> Result<Vec<u8>, TargetError> {
        let length = hyper::body::Body::size_hint(response.body()).exact();
        if let Some(len) = length {
            if len > self.max_bytes {
                return Err(self.too_large(len));
            }
        }
        let hint = length.unwrap_or(1024).min(self.max_bytes);
        let mut buf = Vec::with_capacity(usize::try_from(hint).unwrap_or(1024));
        while let Some(chunk) = next_chunk(response.body_mut())
            .await
            .map_err(|e| self.body_error(&e, "reading the response body failed (truncated?)"))?
        {
            if (buf.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(self.too_large((buf.len() + chunk.len()) as u64));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    fn too_large(&self, len: u64) -> TargetError {
        TargetError::invalid_response(format!(
            "response body of at least {len} bytes exceeds max_response_bytes ({})",
            self.max_bytes
        ))
    }

    async fn status_error(&self, mut response: Response<Incoming>) -> TargetError {
        let status = response.status();
        // Enough bytes for the quoted characters plus the longest secret, so a secret that
        // starts inside the quote is read (and removed) whole before the quote is cut.
        let read = ERROR_SNIPPET_CHARS * 4 + self.redactor.longest_bytes();
        let mut snippet = Vec::new();
        // A best-effort quote of the body: errors while reading it do not matter.
        while snippet.len() < read {
            match next_chunk(response.body_mut()).await {
                Ok(Some(chunk)) => snippet.extend_from_slice(&chunk),
                _ => break,
            }
        }
        snippet.truncate(read);
        let text = self.scrub(String::from_utf8_lossy(&snippet).into_owned());
        let text = perf_core::cut(text.trim(), ERROR_SNIPPET_CHARS);
        let message = if text.is_empty() {
            format!("HTTP status {}", status.as_u16())
        } else {
            format!("HTTP status {}: {text}", status.as_u16())
        };
        TargetError::new(ErrorKind::Status, message)
    }

    fn bot_error(&self, error: Option<&Value>) -> Option<TargetError> {
        match error {
            Some(Value::String(s)) => Some(self.error(ErrorKind::Bot, s.clone())),
            Some(Value::Object(o)) => {
                let message = o
                    .get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| Value::Object(o.clone()).to_string(), str::to_owned);
                Some(self.error(ErrorKind::Bot, message))
            }
            _ => None,
        }
    }

    fn parse_json(&self, body: &[u8], ttfb: Duration) -> Result<BotResponse, TargetError> {
        let mut slots = self.answer_fields.extract(body).map_err(|e| {
            self.error(
                ErrorKind::InvalidResponse,
                format!("response body ({} bytes) is not JSON: {e}", body.len()),
            )
        })?;
        if let Some(e) = self.bot_error(slots[Slot::ERROR].as_ref()) {
            return Err(e);
        }
        let answer = match slots[Slot::MAIN].take() {
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(self.error(
                    ErrorKind::InvalidResponse,
                    format!(
                        "the value at `{}` is not a string",
                        self.answer_pointer.as_str()
                    ),
                ))
            }
            None => {
                return Err(self.error(
                    ErrorKind::InvalidResponse,
                    format!("the response has no `{}`", self.answer_pointer.as_str()),
                ))
            }
        };
        let usage = |field: &str| {
            slots[Slot::USAGE]
                .as_ref()
                .and_then(|u| u.get(field))
                .and_then(Value::as_u64)
        };
        let prompt_tokens = usage("prompt_tokens");
        let completion_tokens = usage("completion_tokens");
        Ok(BotResponse {
            answer,
            agents: agents_of(&slots),
            prompt_tokens,
            token_source: completion_tokens.map(|_| TokenSource::Reported),
            completion_tokens,
            metadata: json!({"http": {"ttfb_us": micros(ttfb)}}),
            ..BotResponse::default()
        })
    }

    /// Reads a server-sent-events answer; the flag tells whether the body was read to its
    /// end (the connection can then serve another request).
    async fn read_stream(
        &self,
        response: &mut Response<Incoming>,
        start: Instant,
        ttfb: Duration,
    ) -> Result<(BotResponse, bool), TargetError> {
        let mut parser = SseParser::default();
        let mut state = StreamState::new(start);
        let mut read: u64 = 0;
        let mut done = false;
        let mut ended = false;
        loop {
            let chunk = match next_chunk(response.body_mut()).await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    ended = true;
                    break;
                }
                Err(e) => {
                    let mut err = self.body_error(&e, "the stream was cut off");
                    err.message = format!("{} after {} tokens", err.message, state.tokens);
                    return Err(err);
                }
            };
            read += chunk.len() as u64;
            if read > self.max_bytes {
                return Err(self.too_large(read));
            }
            let mut failure = None;
            let finished = !parser.feed(&chunk, |data| match self.on_event(data, &mut state) {
                Ok(go_on) => {
                    if !go_on {
                        done = true;
                    }
                    go_on
                }
                Err(e) => {
                    failure = Some(e);
                    false
                }
            });
            if let Some(e) = failure {
                return Err(e);
            }
            if finished {
                break;
            }
        }
        if self.api == Api::Openai && !done {
            return Err(self.error(
                ErrorKind::InvalidResponse,
                format!(
                    "the stream ended before `data: [DONE]` after {} tokens",
                    state.tokens
                ),
            ));
        }
        Ok((state.finish(ttfb), ended))
    }

    /// Handles one event's data; `Ok(false)` ends the stream.
    fn on_event(&self, data: &str, state: &mut StreamState) -> Result<bool, TargetError> {
        let now = Instant::now();
        state.events += 1;
        if data.trim() == "[DONE]" {
            return Ok(false);
        }
        let delta = match &self.event_fields {
            None => Some(data.to_owned()),
            Some(fields) => {
                let mut slots = fields.extract(data.as_bytes()).map_err(|e| {
                    self.error(
                        ErrorKind::InvalidResponse,
                        format!("a streamed event is not JSON: {e}"),
                    )
                })?;
                if let Some(e) = self.bot_error(slots[Slot::ERROR].as_ref()) {
                    return Err(e);
                }
                if state.agents.is_empty() {
                    state.agents = agents_of(&slots);
                }
                if let Some(usage) = slots[Slot::USAGE].as_ref().filter(|u| u.is_object()) {
                    state.prompt_tokens = usage.get("prompt_tokens").and_then(Value::as_u64);
                    state.reported_completion_tokens =
                        usage.get("completion_tokens").and_then(Value::as_u64);
                }
                match slots[Slot::MAIN].take() {
                    Some(Value::String(s)) => Some(s),
                    _ => None,
                }
            }
        };
        if let Some(delta) = delta.filter(|d| !d.is_empty()) {
            state.token(now, &delta);
        }
        Ok(true)
    }
}

/// The certificates in the PEM file `path`: at least one, all valid.
fn read_roots(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, TargetsError> {
    let bad = |what: String| {
        TargetsError::config(
            "target.tls_ca_file",
            format!("`{}`: {what}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("cannot read it as PEM: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a valid PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad(
            "holds no certificate (expected `-----BEGIN CERTIFICATE-----` blocks)".to_owned(),
        ));
    }
    Ok(certs)
}

/// The slots of an [`Extractor`] built by `HttpTarget::new`.
struct Slot;

impl Slot {
    /// The answer (or a streamed event's delta).
    const MAIN: usize = 0;
    const ERROR: usize = 1;
    const USAGE: usize = 2;
    /// The first agent pointer's; the others follow in order.
    const AGENTS: usize = 3;
}

/// The agents at the first agent pointer that names any: a non-empty string, or an array
/// with strings in it.
fn agents_of(slots: &[Option<Value>]) -> Vec<String> {
    for slot in slots.iter().skip(Slot::AGENTS) {
        match slot {
            Some(Value::String(s)) if !s.is_empty() => return vec![s.clone()],
            Some(Value::Array(items)) => {
                let agents: Vec<String> = items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect();
                if !agents.is_empty() {
                    return agents;
                }
            }
            _ => {}
        }
    }
    Vec::new()
}

fn default_body(api: Api, stream: bool, model: &str) -> Value {
    match api {
        Api::Json => json!({
            "query": template::QUERY,
            "id": template::ID,
            "user_id": template::USER_ID,
            "channel": template::CHANNEL,
        }),
        Api::Openai => {
            let mut body = json!({
                "model": model,
                "messages": [{"role": "user", "content": template::QUERY}],
                "stream": stream,
            });
            if stream {
                body["stream_options"] = json!({"include_usage": true});
            }
            body
        }
    }
}

/// The URL without user, password, query string and fragment, for reports.
fn public_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The next data chunk of a body, skipping trailers; `None` at its end.
async fn next_chunk(body: &mut Incoming) -> Result<Option<Bytes>, hyper::Error> {
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

impl HttpTarget {
    /// One request and its answer, without the overall timeout.
    async fn exchange(&self, body: Bytes) -> Result<BotResponse, TargetError> {
        let start = Instant::now();
        let (mut response, lease) = self
            .client
            .send(body)
            .await
            .map_err(|e| self.send_error(e))?;
        let ttfb = start.elapsed();
        if !response.status().is_success() {
            // The lease is dropped with the unread rest of the body: the connection closes.
            return Err(self.status_error(response).await);
        }
        if self.stream {
            let (answer, ended) = self.read_stream(&mut response, start, ttfb).await?;
            if ended {
                lease.release();
            }
            Ok(answer)
        } else {
            let body = self.read_capped(&mut response).await?;
            lease.release();
            self.parse_json(&body, ttfb)
        }
    }
}

impl HttpTarget {
    /// Sends `query` once and reports the whole exchange, redacted (what `orchestrator
    /// check-target` prints): request, status, headers, the start of the body, what the
    /// answer and agent pointers resolved to, and a suggestion when the answer is
    /// elsewhere. `timeout` and the target's `timeout_ms` bound it; the shorter wins.
    pub async fn inspect(&self, query: &Query, timeout: Duration) -> Inspection {
        let body = match &self.body {
            Some(t) => serde_json::to_vec(&template::fill(t, query)).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut out = Inspection {
            request_line: self.shown_request.clone(),
            request_headers: self.shown_headers.clone(),
            request_body: self.scrub(String::from_utf8_lossy(&body).into_owned()),
            streamed: self.stream,
            answer_pointer: Some(self.answer_pointer.as_str().to_owned()),
            answer: Err("no answer".to_owned()),
            ..Inspection::default()
        };
        let (limit, setting) = crate::spec::effective_timeout(timeout, self.timeout);
        match tokio::time::timeout(limit, self.inspect_exchange(Bytes::from(body), &mut out)).await
        {
            Ok(Ok(())) => {}
            Ok(Err(e)) => out.answer = Err(self.hinted(e)),
            Err(_) => {
                // A TLS server spoken to in plain HTTP often waits for a handshake that
                // never comes, and a plain one spoken to in TLS for a request line.
                let tls_hint = if self.https {
                    " (if that port speaks plain HTTP, use an http:// URL)"
                } else {
                    " (if that port speaks TLS, use an https:// URL)"
                };
                out.answer = Err(format!(
                    "no complete answer within {} ms ({setting}): the server accepted the connection but did not answer{tls_hint}",
                    limit.as_millis()
                ))
            }
        }
        out
    }

    /// A transport error with a hint at the usual mix-up of http and https.
    fn hinted(&self, e: TargetError) -> String {
        let hint = match (e.kind, self.https) {
            (ErrorKind::InvalidResponse, false) if e.message.contains("not valid HTTP") => {
                "; if that port speaks TLS, use an https:// URL"
            }
            (ErrorKind::Connect, true) => {
                "; is anything listening there? If that port speaks plain HTTP (no TLS), use an http:// URL"
            }
            (ErrorKind::Connect, false) => "; is the bot running at that address and port?",
            _ => "",
        };
        format!("{}: {}{hint}", e.kind, e.message)
    }

    async fn inspect_exchange(&self, body: Bytes, out: &mut Inspection) -> Result<(), TargetError> {
        let (mut response, _lease) = self
            .client
            .send(body)
            .await
            .map_err(|e| self.send_error(e))?;
        let status = response.status();
        out.status = Some(status.as_u16());
        out.response_headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                let shown = if crate::is_secret_name(k.as_str()) {
                    REDACTED.to_owned()
                } else {
                    self.scrub(String::from_utf8_lossy(v.as_bytes()).into_owned())
                };
                (k.as_str().to_owned(), shown)
            })
            .collect();
        let sse = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/event-stream"));
        out.streamed = self.stream || sse;
        let raw = self.read_capped(&mut response).await?;
        out.response_bytes = raw.len();
        // Redacted before it is cut, so a secret across the cut goes whole.
        let head = start_of(&raw, INSPECT_BODY_BYTES + self.redactor.longest_bytes());
        let head = self.scrub(head);
        out.response_body = cut_bytes(&head, INSPECT_BODY_BYTES);
        if !status.is_success() {
            out.answer = Err(format!(
                "HTTP status {}: the run records every such answer as a `status` error",
                status.as_u16()
            ));
            return Ok(());
        }
        if self.stream {
            let mut parser = SseParser::default();
            let mut state = StreamState::new(Instant::now());
            let mut failure = None;
            parser.feed(&raw, |data| match self.on_event(data, &mut state) {
                Ok(go_on) => go_on,
                Err(e) => {
                    failure = Some(e);
                    false
                }
            });
            out.agents = vec![(
                "agent_pointers (first event naming one)".to_owned(),
                (!state.agents.is_empty()).then(|| self.scrub(state.agents.join(", "))),
            )];
            out.answer = match failure {
                Some(e) => Err(format!("{}: {}", e.kind, e.message)),
                None if state.tokens == 0 => Err("the stream carried no answer text".to_owned()),
                None => Ok(self.scrub(state.answer)),
            };
            return Ok(());
        }
        out.answer = self
            .parse_json(&raw, Duration::ZERO)
            .map(|r| self.scrub(r.answer))
            .map_err(|e| format!("{}: {}", e.kind, e.message));
        if let Ok(doc) = serde_json::from_slice::<Value>(&raw) {
            out.agents = self
                .agent_pointer_texts
                .iter()
                .map(|p| (p.clone(), doc.pointer(p).map(|v| self.scrub(shown(v)))))
                .collect();
            if out.answer.is_err() {
                out.suggestion = longest_string(&doc)
                    .map(|(p, s)| (p, self.scrub(perf_core::cut(&s, 200).into_owned())));
            }
        }
        Ok(())
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn cut_bytes(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[async_trait]
impl BotTarget for HttpTarget {
    async fn execute(&self, query: &Query) -> Result<BotResponse, TargetError> {
        let body = match &self.body {
            Some(t) => Bytes::from(serde_json::to_vec(&template::fill(t, query)).map_err(|e| {
                TargetError::new(ErrorKind::Other, format!("cannot encode body: {e}"))
            })?),
            None => Bytes::new(),
        };
        // Without a limit of its own the target waits as long as the caller does: the
        // runner's `query_timeout` is each query's deadline.
        let Some(limit) = self.timeout else {
            return self.exchange(body).await;
        };
        match tokio::time::timeout(limit, self.exchange(body)).await {
            Ok(result) => result,
            Err(_) => Err(TargetError::new(
                ErrorKind::Timeout,
                format!(
                    "no complete answer within {} ms (target.timeout_ms)",
                    limit.as_millis()
                ),
            )),
        }
    }

    fn process_id(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.pid_file.as_ref()?).ok()?;
        text.trim().parse().ok()
    }

    fn describe(&self) -> TargetInfo {
        TargetInfo {
            name: self.redactor.redact_owned(self.name.clone()),
            version: None,
            transport: perf_core::Transport::Http,
        }
    }

    fn redactor(&self) -> Redactor {
        self.redactor.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_drops_credentials_and_query() {
        let u = Url::parse("https://user:pw@example.invalid:8443/v1/q?key=abc#x")
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(public_url(&u), "https://example.invalid:8443/v1/q");
    }

    #[test]
    fn default_bodies_carry_the_query() {
        assert!(template::mentions_query(&default_body(
            Api::Json,
            false,
            "m"
        )));
        let b = default_body(Api::Openai, true, "m");
        assert!(template::mentions_query(&b));
        assert_eq!(b["stream"], json!(true));
        assert_eq!(b["model"], json!("m"));
    }

    #[test]
    fn stream_stats_count_gaps() {
        let start = Instant::now();
        let mut s = StreamState::new(start);
        s.token(start + Duration::from_millis(10), "a");
        s.token(start + Duration::from_millis(20), " b");
        s.token(start + Duration::from_millis(40), " c");
        let r = s.finish(Duration::from_millis(5));
        assert_eq!(r.answer, "a b c");
        assert_eq!(r.time_to_first_token, Some(Duration::from_millis(10)));
        assert_eq!(r.completion_tokens, Some(3));
        let st = &r.metadata["stream"];
        assert_eq!(st["inter_token_us"]["count"], json!(2));
        assert_eq!(st["inter_token_us"]["min"], json!(10_000));
        assert_eq!(st["inter_token_us"]["max"], json!(20_000));
        assert_eq!(st["tokens_per_second"], json!(2.0 / 0.030));
        assert_eq!(st["ttfb_us"], json!(5_000));
    }
}
