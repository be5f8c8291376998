//! AWS Lambda: the `serve` router answering the Lambda Runtime API's events.
//!
//! The binary is the function's `bootstrap` (custom runtime `provided.al2023`): started with no
//! arguments while `AWS_LAMBDA_RUNTIME_API` is set, it reads every option from the environment
//! exactly as `rasterzen serve` does (`RASTERZEN_*`), builds the service once per cold start
//! (wasmtime engine, renderer compiled or deserialized from `/tmp`, S3 client, styles, source)
//! and then answers API Gateway REST (v1), HTTP API (v2) and function URL events with the very
//! same axum router, through `lambda_http`'s adapter.
//!
//! What this module adds around the adapter:
//! - The API stage never reaches the router. REST (v1) events carry the path without the stage
//!   and `lambda_http` would put `/{stage}` back in front unless
//!   `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set: it is set at start. HTTP API (v2) events
//!   carry the stage in `rawPath` on a named stage: it is cut here. The prefix the client saw
//!   travels to the router as `X-Forwarded-Prefix`.
//! - SQS events (the batches of `rasterzen seed --queue`, through an event source mapping) are
//!   rendered into the cache by `crate::seed::queue`, answering `batchItemFailures`.
//! - An event that is no HTTP event, or a malformed one, gets a `400` HTTP response instead of an
//!   invocation error (which API Gateway turns into a bare `502 Internal server error`).
//! - A panic answers `500`; a request still running when the invocation's deadline is near
//!   answers `504` by itself instead of being killed by the Lambda timeout. Either way the
//!   function goes on to the next invocation.
//! - A `RASTERZEN_*` variable with an empty value counts as unset (the Lambda console keeps
//!   variables whose value was cleared).
//! - Logs are JSON lines, and every line written during an invocation carries its `requestId`
//!   (a field of the runtime's per-invocation span, lifted to the top level), so CloudWatch Logs
//!   Insights can filter one request: `filter requestId = "…"`.
//!
//! Binary bodies: `lambda_http` sends `image/png` and MVT bodies base64-encoded with
//! `isBase64Encoded: true`, and text types (`text/*`, JSON, `+xml` such as SVG, `+json`) as text.

use std::any::Any;
use std::convert::Infallible;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::{Args as _, FromArgMatches as _};
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::lambda_runtime::{self, layers::TracingLayer, Context, LambdaEvent, Runtime};
use lambda_http::request::LambdaRequest;
use lambda_http::Service as _;
use serde_json::{json, Map, Value};
use tracing::Instrument as _;

use crate::cli::{LogFormat, ServeArgs};

/// `lambda_http` reads it on every request; any value means "do not prefix the stage".
const IGNORE_STAGE: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

/// Time kept back from the invocation's deadline to send a `504` ourselves.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);

/// The largest response Lambda accepts from a synchronous invocation (6 MiB), less some slack.
const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 - 1024;

/// Whether to run as a Lambda function: in the Lambda environment and started with no arguments
/// (`bootstrap` is; `rasterzen render …` in the same environment stays the CLI).
pub fn wanted() -> bool {
    std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty())
        && std::env::args_os().len() <= 1
}

/// Runs the function until the Runtime API goes away; a failed cold start is reported to the
/// Runtime API's `/runtime/init/error` (and logged) before exiting non-zero.
pub fn main() -> ExitCode {
    let started = Instant::now();
    // Before any thread exists (setting the environment is not thread-safe).
    std::env::set_var(IGNORE_STAGE, "true");
    // The Lambda console keeps variables whose value was cleared: an empty one means "not set".
    for (name, value) in std::env::vars_os() {
        let ours = name.to_str().is_some_and(|n| n.starts_with("RASTERZEN_"));
        if ours && value.to_str().is_some_and(|v| v.trim().is_empty()) {
            std::env::remove_var(name);
        }
    }
    let args = options();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("rasterzen")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rasterzen: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(args, started))
}

async fn run(args: anyhow::Result<ServeArgs>, started: Instant) -> ExitCode {
    let args = match args {
        Ok(args) => args,
        Err(e) => {
            init_logging(None, None);
            return init_failed(&e.context("bad configuration in the environment")).await;
        }
    };
    init_logging(args.log.log_level.as_deref(), args.log.log_format);
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic = %panic_text(info.payload()), at = %at, "panic");
    }));
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
        memory_mb = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").unwrap_or_default(),
        "cold start"
    );
    if let Err(e) = runtime_environment() {
        return init_failed(&e).await;
    }
    let (state, app) = match crate::serve::build_app(&args).await {
        Ok(built) => built,
        Err(e) => return init_failed(&e).await,
    };
    tracing::info!(
        init_ms = ms(started.elapsed()),
        "cold start done: engine, renderer, styles, source and cache ready"
    );
    let handler = Handler {
        app,
        service: Arc::clone(&state.service),
        cold: Arc::new(AtomicBool::new(true)),
    };
    let service = lambda_runtime::service_fn(move |event: LambdaEvent<Value>| {
        let handler = handler.clone();
        async move { handler.handle(event).await }
    });
    match Runtime::new(service).layer(TracingLayer::new()).run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %one_line(&e.to_string()), "the Lambda runtime loop stopped");
            ExitCode::FAILURE
        }
    }
}

/// Checks what `lambda_runtime` reads from the environment and would panic over (its
/// `Config::from_env` expects them): the Lambda service always sets them, an emulator or a
/// hand-made environment may not. A one-line error instead, reported to the Runtime API.
fn runtime_environment() -> anyhow::Result<()> {
    for name in [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    ] {
        let value = std::env::var(name).map_err(|_| {
            anyhow::anyhow!(
                "AWS_LAMBDA_RUNTIME_API is set but {name} is not: the Lambda service sets both; \
                 an emulator needs them too (or unset AWS_LAMBDA_RUNTIME_API to run rasterzen as a CLI)"
            )
        })?;
        if name == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" && value.parse::<i32>().is_err() {
            anyhow::bail!("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is {value:?}, not a whole number of MB");
        }
    }
    Ok(())
}

/// The `serve` options, from the environment alone (`RASTERZEN_*`), with `serve`'s defaults.
fn options() -> anyhow::Result<ServeArgs> {
    let command = ServeArgs::augment_args(clap::Command::new("bootstrap").no_binary_name(true));
    let matches = command
        .try_get_matches_from(std::iter::empty::<String>())
        .map_err(|e| anyhow::anyhow!(one_line(&e.to_string())))?;
    let mut args = ServeArgs::from_arg_matches(&matches)
        .map_err(|e| anyhow::anyhow!(one_line(&e.to_string())))?;
    // With RASTERZEN_CONFIG, the environment wins over the file, as for `serve`.
    args.given = crate::config::given(&matches);
    Ok(args)
}

/// Logs the failure with its causes and tells the Runtime API, so the console and CloudWatch
/// both say why the function cannot start.
async fn init_failed(e: &anyhow::Error) -> ExitCode {
    let message = one_line(&format!("{e:#}"));
    tracing::error!(error = %message, "cold start failed");
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        let body = json!({ "errorType": "Rasterzen.InitError", "errorMessage": message });
        let sent = reqwest::Client::new()
            .post(format!("http://{api}/2018-06-01/runtime/init/error"))
            .header("Lambda-Runtime-Function-Error-Type", "Rasterzen.InitError")
            .header("content-type", "application/json")
            .body(body.to_string())
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        if let Err(e) = sent {
            tracing::error!(error = %e, "cannot report the failed cold start to the Runtime API");
        }
    }
    ExitCode::FAILURE
}

/// Which HTTP event an invocation carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    /// API Gateway REST API, Lambda proxy integration (payload format 1.0).
    Rest,
    /// API Gateway HTTP API (payload format 2.0).
    HttpApi,
    /// A Lambda function URL (payload format 2.0, `*.lambda-url.*` domain).
    FunctionUrl,
}

impl EventKind {
    fn of(event: &Value) -> Option<EventKind> {
        if event.get("httpMethod").is_some_and(Value::is_string) {
            return Some(EventKind::Rest);
        }
        let ctx = event.get("requestContext")?;
        if !ctx.pointer("/http/method").is_some_and(Value::is_string) {
            return None;
        }
        let url = ctx
            .get("domainName")
            .and_then(Value::as_str)
            .is_some_and(|d| d.contains(".lambda-url."));
        Some(if url {
            EventKind::FunctionUrl
        } else {
            EventKind::HttpApi
        })
    }

    fn name(self) -> &'static str {
        match self {
            EventKind::Rest => "apigw-rest",
            EventKind::HttpApi => "apigw-http",
            EventKind::FunctionUrl => "function-url",
        }
    }

    /// Why the event does not parse as this kind (serde's message, with its position).
    fn parse_error(self, text: &str) -> String {
        let e = match self {
            EventKind::Rest => serde_json::from_str::<ApiGatewayProxyRequest>(text).err(),
            EventKind::HttpApi | EventKind::FunctionUrl => {
                serde_json::from_str::<ApiGatewayV2httpRequest>(text).err()
            }
        };
        e.map_or_else(
            || "it matches no HTTP event shape".into(),
            |e| e.to_string(),
        )
    }
}

/// Takes the API stage out of the routed path (see the module docs) and hands the prefix the
/// client saw to the router as `X-Forwarded-Prefix`. Returns the path the router will see.
fn normalize(kind: EventKind, event: &mut Value) -> String {
    let stage = event
        .pointer("/requestContext/stage")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "$default")
        .map(str::to_string);
    let (path, prefix) = match kind {
        EventKind::Rest => {
            // `path` is the resource path; `requestContext.path` what the client asked for
            // (`/prod/png/…` on the execute-api domain, `/base/png/…` under a base path mapping).
            let path = event
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_string();
            let full = event
                .pointer("/requestContext/path")
                .and_then(Value::as_str)
                .unwrap_or("");
            let prefix = (full.len() > path.len() && full.ends_with(path.as_str()))
                .then(|| {
                    full[..full.len() - path.len()]
                        .trim_end_matches('/')
                        .to_string()
                })
                .filter(|p| p.starts_with('/'));
            (path, prefix)
        }
        EventKind::HttpApi | EventKind::FunctionUrl => {
            let raw = event
                .get("rawPath")
                .and_then(Value::as_str)
                .unwrap_or("/")
                .to_string();
            match stage {
                Some(stage)
                    if raw == format!("/{stage}") || raw.starts_with(&format!("/{stage}/")) =>
                {
                    let rest = &raw[stage.len() + 1..];
                    let path = if rest.is_empty() {
                        "/".to_string()
                    } else {
                        rest.to_string()
                    };
                    event["rawPath"] = Value::String(path.clone());
                    (path, Some(format!("/{stage}")))
                }
                _ => (raw, None),
            }
        }
    };
    if let Some(prefix) = prefix {
        set_header(
            event,
            "x-forwarded-prefix",
            &prefix,
            kind == EventKind::Rest,
        );
    }
    path
}

/// Sets a request header in the event (replacing any spelling of it the client sent).
fn set_header(event: &mut Value, name: &str, value: &str, multi: bool) {
    let Some(obj) = event.as_object_mut() else {
        return;
    };
    for (field, v) in [
        ("headers", json!(value)),
        ("multiValueHeaders", json!([value])),
    ] {
        if field == "multiValueHeaders" && !multi {
            continue;
        }
        let headers = obj
            .entry(field)
            .or_insert_with(|| Value::Object(Map::new()));
        if !headers.is_object() {
            *headers = Value::Object(Map::new());
        }
        if let Some(h) = headers.as_object_mut() {
            h.retain(|k, _| !k.eq_ignore_ascii_case(name));
            h.insert(name.to_string(), v);
        }
    }
}

/// The invocation handler: the router behind `lambda_http`'s adapter, and the error answers.
#[derive(Clone)]
struct Handler {
    app: axum::Router,
    /// The router's service, for SQS events (`rasterzen seed --queue` batches).
    service: Arc<crate::service::Service>,
    cold: Arc<AtomicBool>,
}

/// What an invocation returns: the response event, and its status and error for the log.
struct Reply {
    event: Value,
    status: u16,
    error: Option<String>,
}

impl Reply {
    /// A plain-text HTTP error in the response shape every event kind accepts.
    fn error(status: u16, reason: impl Into<String>) -> Reply {
        let reason = reason.into();
        let event = json!({
            "statusCode": status,
            "headers": {
                "content-type": "text/plain; charset=utf-8",
                "cache-control": "no-store",
                "access-control-allow-origin": "*",
            },
            "body": format!("{reason}\n"),
            "isBase64Encoded": false,
        });
        Reply {
            event,
            status,
            error: Some(reason),
        }
    }
}

impl Handler {
    async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, Infallible> {
        let started = Instant::now();
        let cold_start = self.cold.swap(false, Ordering::Relaxed);
        let (payload, context) = event.into_parts();
        if crate::seed::queue::is_sqs_event(&payload) {
            // Seed batches from `rasterzen seed --queue`: partial-batch failure reporting.
            let (reply, notes) =
                crate::seed::queue::handle_sqs(&self.service, &payload, context.deadline()).await;
            let failed = reply["batchItemFailures"].as_array().map_or(0, Vec::len);
            let messages = payload["Records"].as_array().map_or(0, Vec::len);
            let duration_ms = ms(started.elapsed());
            if failed > 0 {
                tracing::warn!(event = "sqs", messages, failed, duration_ms, cold_start, error = %notes, "invocation");
            } else {
                tracing::info!(
                    event = "sqs",
                    messages,
                    failed,
                    duration_ms,
                    cold_start,
                    "invocation"
                );
            }
            return Ok(reply);
        }
        let kind = EventKind::of(&payload);
        let (reply, path) = match kind {
            Some(kind) => self.http(kind, payload, context).await,
            None => (
                Reply::error(
                    400,
                    "not an HTTP event: this function answers API Gateway (REST or HTTP API) and \
                     Lambda function URL events",
                ),
                String::new(),
            ),
        };
        let event = kind.map_or("unknown", EventKind::name);
        let duration_ms = ms(started.elapsed());
        let status = reply.status;
        match (&reply.error, status) {
            (Some(error), 500..) => {
                tracing::error!(event, path, status, duration_ms, cold_start, error = %error, "invocation")
            }
            (Some(error), _) => {
                tracing::warn!(event, path, status, duration_ms, cold_start, error = %error, "invocation")
            }
            (None, _) => tracing::info!(event, path, status, duration_ms, cold_start, "invocation"),
        }
        Ok(reply.event)
    }

    async fn http(&self, kind: EventKind, mut payload: Value, context: Context) -> (Reply, String) {
        let path = normalize(kind, &mut payload);
        let text = payload.to_string();
        let request: LambdaRequest = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(_) => {
                let why = kind.parse_error(&text);
                return (
                    Reply::error(400, format!("malformed {} event: {why}", kind.name())),
                    path,
                );
            }
        };
        let left = context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let mut adapter = lambda_http::Adapter::from(self.app.clone());
        // The event becomes an `http::Request` inside `call`, which panics on what it cannot
        // represent (a bad Host header, say): that is the event's fault.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| {
            adapter.call(LambdaEvent::new(request, context))
        })) {
            Ok(f) => f,
            Err(p) => {
                let why = panic_text(p.as_ref());
                return (
                    Reply::error(400, format!("malformed {} event: {why}", kind.name())),
                    path,
                );
            }
        };
        // A task of its own: a panic in the router ends the task, not the function.
        let task = tokio::spawn(future.instrument(tracing::Span::current()));
        let abort = task.abort_handle();
        let reply = match tokio::time::timeout(left.saturating_sub(DEADLINE_MARGIN), task).await {
            Ok(Ok(Ok(response))) => match serde_json::to_value(&response) {
                Ok(event) => http_reply(event),
                Err(e) => Reply::error(500, format!("cannot encode the response: {e}")),
            },
            Ok(Ok(Err(never))) => match never {},
            Ok(Err(e)) => {
                let why = if e.is_panic() {
                    panic_text(e.into_panic().as_ref())
                } else {
                    e.to_string()
                };
                Reply::error(500, format!("internal error: {why}"))
            }
            Err(_) => {
                abort.abort();
                Reply::error(
                    504,
                    format!(
                        "the tile was not ready within the function's time limit ({} ms were left \
                         of the invocation); try again, or raise the function's timeout",
                        left.as_millis()
                    ),
                )
            }
        };
        (reply, path)
    }
}

/// The router's response as a reply: its status, and for errors the router's plain-text reason.
fn http_reply(event: Value) -> Reply {
    let status = event.get("statusCode").and_then(Value::as_u64).unwrap_or(0) as u16;
    let size = event
        .get("body")
        .and_then(Value::as_str)
        .map_or(0, str::len);
    if size > MAX_RESPONSE_BYTES {
        return Reply::error(
            500,
            format!("the response ({size} bytes encoded) exceeds Lambda's 6 MiB response limit"),
        );
    }
    let error = (status >= 400).then(|| {
        let text = match event.get("isBase64Encoded") {
            Some(Value::Bool(true)) => "",
            _ => event.get("body").and_then(Value::as_str).unwrap_or(""),
        };
        one_line(text)
    });
    Reply {
        event,
        status,
        error,
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e5).round() / 100.0
}

/// JSON lines on standard error, each with the fields of the spans it happened in (so the
/// runtime's `requestId` and `xrayTraceId`) at the top level. `RASTERZEN_LOG_FORMAT=text` gives
/// `serve`'s text lines instead.
fn init_logging(level: Option<&str>, format: Option<LogFormat>) {
    use tracing_subscriber::EnvFilter;
    if format == Some(LogFormat::Text) {
        crate::logging::init(&crate::cli::LogArgs {
            log_level: level.map(str::to_string),
            log_format: format,
        });
        return;
    }
    let filter = match level.filter(|l| !l.is_empty()) {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info")),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .event_format(LambdaJson)
        .try_init();
}

/// The event formatter behind [`init_logging`].
struct LambdaJson;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LambdaJson
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        use tracing_subscriber::fmt::time::FormatTime as _;
        let meta = event.metadata();
        let mut line = Map::new();
        let mut time = String::new();
        let _ = tracing_subscriber::fmt::time::SystemTime
            .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut time));
        line.insert("timestamp".into(), Value::String(time));
        line.insert("level".into(), Value::String(meta.level().as_str().into()));
        line.insert("target".into(), Value::String(meta.target().into()));
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(fields) = extensions.get::<tracing_subscriber::fmt::FormattedFields<N>>()
                else {
                    continue;
                };
                if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(fields) {
                    line.extend(fields);
                }
            }
        }
        event.record(&mut Fields(&mut line));
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields into the JSON line.
struct Fields<'a>(&'a mut Map<String, Value>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0
            .insert(field.name().into(), Value::String(value.into()));
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(
            field.name().into(),
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        let mut text = value.to_string();
        let mut source = value.source();
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        self.0.insert(field.name().into(), Value::String(text));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(
            EventKind::of(&json!({"httpMethod": "GET", "path": "/"})),
            Some(EventKind::Rest)
        );
        let v2 = json!({"rawPath": "/", "requestContext": {"http": {"method": "GET"}, "domainName": "a.execute-api.eu-west-1.amazonaws.com"}});
        assert_eq!(EventKind::of(&v2), Some(EventKind::HttpApi));
        let url = json!({"rawPath": "/", "requestContext": {"http": {"method": "GET"}, "domainName": "x.lambda-url.eu-west-2.on.aws"}});
        assert_eq!(EventKind::of(&url), Some(EventKind::FunctionUrl));
        assert_eq!(EventKind::of(&json!({"hello": "world"})), None);
        assert_eq!(EventKind::of(&json!("text")), None);
    }

    #[test]
    fn stages() {
        // HTTP API, named stage: cut from rawPath, handed on as the prefix.
        let mut e = json!({"rawPath": "/prod/png/1/2/3.png", "headers": {"X-Forwarded-Prefix": "/evil"}, "requestContext": {"stage": "prod", "http": {"method": "GET"}}});
        assert_eq!(normalize(EventKind::HttpApi, &mut e), "/png/1/2/3.png");
        assert_eq!(e["rawPath"], "/png/1/2/3.png");
        assert_eq!(e["headers"], json!({"x-forwarded-prefix": "/prod"}));
        let mut e = json!({"rawPath": "/prod", "requestContext": {"stage": "prod", "http": {"method": "GET"}}});
        assert_eq!(normalize(EventKind::HttpApi, &mut e), "/");
        // `$default` and a path that only looks like the stage are left alone.
        let mut e = json!({"rawPath": "/production/x", "requestContext": {"stage": "prod", "http": {"method": "GET"}}});
        assert_eq!(normalize(EventKind::HttpApi, &mut e), "/production/x");
        assert!(e.get("headers").is_none());
        let mut e = json!({"rawPath": "/png/1/2/3.png", "requestContext": {"stage": "$default", "http": {"method": "GET"}}});
        assert_eq!(normalize(EventKind::FunctionUrl, &mut e), "/png/1/2/3.png");
        // REST: the path is stage-free already; the prefix comes from requestContext.path.
        let mut e = json!({"httpMethod": "GET", "path": "/png/1/2/3.png", "headers": null, "multiValueHeaders": {}, "requestContext": {"stage": "prod", "path": "/prod/png/1/2/3.png"}});
        assert_eq!(normalize(EventKind::Rest, &mut e), "/png/1/2/3.png");
        assert_eq!(e["headers"]["x-forwarded-prefix"], "/prod");
        assert_eq!(
            e["multiValueHeaders"]["x-forwarded-prefix"],
            json!(["/prod"])
        );
        let mut e = json!({"httpMethod": "GET", "path": "/healthz", "requestContext": {"stage": "prod", "path": "/healthz"}});
        assert_eq!(normalize(EventKind::Rest, &mut e), "/healthz");
        assert!(e.get("headers").is_none());
    }

    #[test]
    fn error_replies_fit_every_event_kind() {
        let r = Reply::error(400, "nope");
        assert_eq!(r.event["statusCode"], 400);
        assert_eq!(r.event["isBase64Encoded"], false);
        assert_eq!(r.event["body"], "nope\n");
        assert_eq!(r.event["headers"]["access-control-allow-origin"], "*");
    }
}
