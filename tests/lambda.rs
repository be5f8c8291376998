//! End-to-end tests of the AWS Lambda mode: the real `rasterzen` binary started as a Lambda
//! custom runtime (`AWS_LAMBDA_RUNTIME_API` set, no arguments) against an emulator of the Lambda
//! Runtime API running in this process on 127.0.0.1, fed AWS's sample events (`tests/events/`,
//! see `SOURCES.md` there) for API Gateway REST (v1), HTTP API (v2) and function URLs.
//!
//! S3 caching runs against `moto_server` (install with `pip install 'moto[server]'`); a fake
//! upstream (a small axum server here) stands in for a failing URL-template source. Seeding over
//! SQS uses moto's SQS too, with an event source mapping emulated here (receive, invoke with an
//! SQS event in AWS's sample shape, delete what succeeded, retry what failed).
//!
//! `cargo test --release -p rasterzen --test lambda -- --nocapture --test-threads 1` also prints
//! the cold-start and warm-request timings.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

#[path = "support/harness.rs"]
mod harness;
#[path = "support/pmtiles.rs"]
mod pmtiles;
use harness::{list_keys, repo, s3_client, s3_env, sqs_client, Moto, Scratch, BIN};

// ---------------------------------------------------------------------------------------------
// The Lambda Runtime API emulator
// ---------------------------------------------------------------------------------------------

/// One invocation handed to the function by `GET …/invocation/next`.
struct Invocation {
    id: String,
    body: Vec<u8>,
    deadline_ms: u64,
}

/// What the function posted back for an invocation.
#[derive(Debug)]
enum Outcome {
    /// `POST …/invocation/{id}/response`
    Response(Vec<u8>),
    /// `POST …/invocation/{id}/error`: the error type header and the body.
    Error(String, Vec<u8>),
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

/// The Runtime API (`/2018-06-01/runtime/…`) on 127.0.0.1: invocations are queued by the test
/// and long-polled by the function, as Lambda does.
struct Emulator {
    address: String,
    queue: mpsc::UnboundedSender<Invocation>,
    waiters: Waiters,
    first_poll: Arc<Mutex<Option<Instant>>>,
    init_error: Arc<Mutex<Option<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Emulator {
    async fn start() -> Emulator {
        use axum::extract::{Path as AxPath, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        use axum::routing::{get, post};

        #[derive(Clone)]
        struct St {
            next: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>>,
            waiters: Waiters,
            first_poll: Arc<Mutex<Option<Instant>>>,
            init_error: Arc<Mutex<Option<(String, Value)>>>,
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let st = St {
            next: Arc::new(tokio::sync::Mutex::new(rx)),
            waiters: Arc::default(),
            first_poll: Arc::default(),
            init_error: Arc::default(),
        };
        fn deliver(st: &St, id: &str, outcome: Outcome) -> StatusCode {
            match st.waiters.lock().unwrap().remove(id) {
                Some(w) => {
                    let _ = w.send(outcome);
                    StatusCode::ACCEPTED
                }
                None => StatusCode::NOT_FOUND,
            }
        }
        let app = axum::Router::new()
            .route(
                "/2018-06-01/runtime/invocation/next",
                get(|State(st): State<St>| async move {
                    st.first_poll.lock().unwrap().get_or_insert_with(Instant::now);
                    let Some(inv) = st.next.lock().await.recv().await else {
                        return StatusCode::GONE.into_response();
                    };
                    (
                        [
                            ("lambda-runtime-aws-request-id", inv.id),
                            ("lambda-runtime-deadline-ms", inv.deadline_ms.to_string()),
                            (
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:123456789012:function:rasterzen-test".into(),
                            ),
                            ("lambda-runtime-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
                            ("content-type", "application/json".into()),
                        ],
                        inv.body,
                    )
                        .into_response()
                }),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(|State(st): State<St>, AxPath(id): AxPath<String>, body: axum::body::Bytes| async move {
                    deliver(&st, &id, Outcome::Response(body.to_vec()))
                }),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(
                    |State(st): State<St>, AxPath(id): AxPath<String>, headers: HeaderMap, body: axum::body::Bytes| async move {
                        let kind = headers
                            .get("lambda-runtime-function-error-type")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        deliver(&st, &id, Outcome::Error(kind, body.to_vec()))
                    },
                ),
            )
            .route(
                "/2018-06-01/runtime/init/error",
                post(|State(st): State<St>, headers: HeaderMap, body: axum::body::Bytes| async move {
                    let kind = headers
                        .get("lambda-runtime-function-error-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    *st.init_error.lock().unwrap() = Some((kind, body));
                    StatusCode::ACCEPTED
                }),
            )
            .with_state(st.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Emulator {
            address,
            queue: tx,
            waiters: st.waiters,
            first_poll: st.first_poll,
            init_error: st.init_error,
            task,
        }
    }

    /// Queues an invocation with `budget` until its deadline and waits for what comes back.
    async fn invoke_raw(&self, body: Vec<u8>, budget: Duration) -> Outcome {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!(
            "8476a536-e9f4-11e8-9739-{:012x}",
            N.fetch_add(1, Ordering::SeqCst) + 1
        );
        self.invoke_with_id(&id, body, budget).await
    }

    async fn invoke_with_id(&self, id: &str, body: Vec<u8>, budget: Duration) -> Outcome {
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(id.to_string(), tx);
        let deadline = SystemTime::now() + budget;
        let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        self.queue
            .send(Invocation {
                id: id.to_string(),
                body,
                deadline_ms,
            })
            .unwrap();
        tokio::time::timeout(budget + Duration::from_secs(30), rx)
            .await
            .unwrap_or_else(|_| panic!("invocation {id}: no answer from the function"))
            .unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The function: the real binary as a custom runtime
// ---------------------------------------------------------------------------------------------

/// `rasterzen` as Lambda starts `bootstrap`: no arguments, configuration in the environment.
/// Killed at drop; its output (stdout and stderr, as CloudWatch gets them) goes to a log file.
struct Function {
    child: Child,
    log: PathBuf,
    emulator: Emulator,
    started: Instant,
    /// Spawn → first `GET …/invocation/next`: the cold start as Lambda sees it.
    init: Duration,
    _scratch: Scratch,
}

impl Function {
    async fn start(envs: &[(&str, &str)]) -> Function {
        Function::start_command(Command::new(BIN), envs).await
    }

    /// Starts `cmd` (another build of the function, or one run through an emulator) as the
    /// function, with the environment Lambda gives one.
    async fn start_command(cmd: Command, envs: &[(&str, &str)]) -> Function {
        let mut f = Function::spawn(cmd, envs).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let polled = *f.emulator.first_poll.lock().unwrap();
            if let Some(t) = polled {
                f.init = t - f.started;
                return f;
            }
            if let Ok(Some(status)) = f.child.try_wait() {
                panic!(
                    "the function exited with {status} during its cold start:\n{}",
                    f.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the function never asked for an event:\n{}",
                f.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn spawn(mut cmd: Command, envs: &[(&str, &str)]) -> Function {
        let emulator = Emulator::start().await;
        let scratch = Scratch::new("function");
        let log = scratch.0.join("output.log");
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", scratch.0.join("home"))
            .env("AWS_LAMBDA_RUNTIME_API", &emulator.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "rasterzen-test")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/rasterzen-test")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/11/24/[$LATEST]0123456789abcdef",
            )
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("TMPDIR", scratch.0.join("tmp"))
            .env("RASTERZEN_COMPILED_CACHE", scratch.0.join("compiled"));
        std::fs::create_dir_all(scratch.0.join("tmp")).unwrap();
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = std::fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let started = Instant::now();
        let child = cmd.spawn().expect("start rasterzen as a Lambda function");
        Function {
            child,
            log,
            emulator,
            started,
            init: Duration::ZERO,
            _scratch: scratch,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Every log line, parsed (each must be a JSON object).
    fn log_lines(&self) -> Vec<Value> {
        self.log_text()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
            })
            .collect()
    }

    /// Invokes with an HTTP event and decodes the HTTP response it answers.
    async fn http(&mut self, event: &Value) -> Http {
        self.http_within(event, Duration::from_secs(60)).await
    }

    async fn http_within(&mut self, event: &Value, budget: Duration) -> Http {
        let started = Instant::now();
        let outcome = self
            .emulator
            .invoke_raw(event.to_string().into_bytes(), budget)
            .await;
        let elapsed = started.elapsed();
        match outcome {
            Outcome::Response(body) => Http::parse(&body, elapsed),
            Outcome::Error(kind, body) => panic!(
                "invocation error {kind}: {}\n{}",
                String::from_utf8_lossy(&body),
                self.log_text()
            ),
        }
    }

    fn assert_alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("the function exited with {status}:\n{}", self.log_text());
        }
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response as the function returned it to API Gateway / the function URL.
#[derive(Debug)]
struct Http {
    raw: Value,
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    base64: bool,
    elapsed: Duration,
}

impl Http {
    fn parse(bytes: &[u8], elapsed: Duration) -> Http {
        let raw: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!(
                "response is not JSON ({e}): {}",
                String::from_utf8_lossy(bytes)
            )
        });
        let status = raw["statusCode"]
            .as_u64()
            .unwrap_or_else(|| panic!("no statusCode: {raw}")) as u16;
        let mut headers = HashMap::new();
        if let Some(h) = raw.get("multiValueHeaders").and_then(Value::as_object) {
            for (k, v) in h {
                let joined: Vec<&str> = v
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                headers.insert(k.to_ascii_lowercase(), joined.join(", "));
            }
        }
        if let Some(h) = raw.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                headers.insert(k.to_ascii_lowercase(), v.as_str().unwrap().to_string());
            }
        }
        let base64 = raw["isBase64Encoded"].as_bool().unwrap_or(false);
        let text = raw.get("body").and_then(Value::as_str).unwrap_or("");
        let body = if base64 {
            base64_decode(text)
        } else {
            text.as_bytes().to_vec()
        };
        Http {
            raw,
            status,
            headers,
            body,
            base64,
            elapsed,
        }
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let clean: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sample events (tests/events/, verbatim AWS samples) with the request fields a test sets
// ---------------------------------------------------------------------------------------------

fn sample(name: &str) -> Value {
    let path = repo().join("tests/events").join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn split_query(path: &str) -> (&str, &str) {
    path.split_once('?').unwrap_or((path, ""))
}

fn query_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// API Gateway REST API (v1) proxy event, named stage `testStage` (as in the sample): the
/// client asked for `/testStage{path}`, the event's `path` is `{path}`.
fn rest_event(path_and_query: &str, headers: &[(&str, &str)]) -> Value {
    let (path, query) = split_query(path_and_query);
    let mut e = sample("apigw-rest-request.json");
    let stage = e["requestContext"]["stage"].as_str().unwrap().to_string();
    e["httpMethod"] = json!("GET");
    e["path"] = json!(path);
    e["body"] = Value::Null;
    e["pathParameters"] = json!({ "proxy": path.trim_start_matches('/') });
    e["requestContext"]["httpMethod"] = json!("GET");
    e["requestContext"]["path"] = json!(format!("/{stage}{path}"));
    let pairs = query_pairs(query);
    e["queryStringParameters"] = if pairs.is_empty() {
        Value::Null
    } else {
        Value::Object(pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
    };
    e["multiValueQueryStringParameters"] = if pairs.is_empty() {
        Value::Null
    } else {
        Value::Object(pairs.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
    };
    for (k, v) in headers {
        e["headers"][*k] = json!(v);
        e["multiValueHeaders"][*k] = json!([v]);
    }
    e
}

/// Payload format 2.0 (HTTP API, function URL): `rawPath` is what the client asked for (on a
/// named stage, with the stage in front).
fn v2_event(sample_name: &str, raw_path_and_query: &str, headers: &[(&str, &str)]) -> Value {
    let (path, query) = split_query(raw_path_and_query);
    let mut e = sample(sample_name);
    e["rawPath"] = json!(path);
    e["rawQueryString"] = json!(query);
    let pairs = query_pairs(query);
    match e.as_object_mut() {
        Some(o) if pairs.is_empty() => {
            o.remove("queryStringParameters");
        }
        _ => {
            e["queryStringParameters"] =
                Value::Object(pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect())
        }
    }
    e["requestContext"]["http"]["method"] = json!("GET");
    e["requestContext"]["http"]["path"] = json!(path);
    if let Some(o) = e.as_object_mut() {
        o.remove("body");
    }
    e["isBase64Encoded"] = json!(false);
    for (k, v) in headers {
        e["headers"][*k] = json!(v);
    }
    e
}

fn url_event(path_and_query: &str, headers: &[(&str, &str)]) -> Value {
    v2_event("function-url-request.json", path_and_query, headers)
}

fn http_api_event(path_and_query: &str, headers: &[(&str, &str)]) -> Value {
    v2_event("apigw-http-request.json", path_and_query, headers)
}

/// HTTP API on the named stage `Prod` (the sample's): `rawPath` is `/Prod{path}`.
fn http_api_prod_event(path_and_query: &str) -> Value {
    v2_event(
        "apigw-http-request-named-stage.json",
        &format!("/Prod{path_and_query}"),
        &[],
    )
}

// ---------------------------------------------------------------------------------------------
// Tiles, PNGs, moto
// ---------------------------------------------------------------------------------------------

const FIRENZE: (f64, f64) = (11.2550, 43.7700);

fn tile_at(lon: f64, lat: f64, z: u8) -> (u8, u32, u32) {
    let n = 2f64.powi(i32::from(z));
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
        as u32;
    (z, x, y)
}

fn tile_path(kind: &str, t: (u8, u32, u32), suffix: &str) -> String {
    format!("/{kind}/{}/{}/{}{suffix}.{kind}", t.0, t.1, t.2)
}

/// Decodes a PNG fully; returns (width, height, number of distinct pixel values).
fn decode_png(bytes: &[u8]) -> (u32, u32, usize) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a valid PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    let bpp = info.line_size / info.width as usize;
    let distinct: std::collections::HashSet<&[u8]> =
        buf[..info.buffer_size()].chunks(bpp.max(1)).collect();
    (info.width, info.height, distinct.len())
}

fn sha256(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// REST (v1, named stage), HTTP API (v2, `$default` and a named stage) and function URL events
/// through the same router; PNG as base64, SVG and JSON as text; tiles cached in S3.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rest_http_api_and_function_url_events_with_an_s3_cache() {
    let moto = Moto::start();
    let s3 = s3_client(&moto.endpoint);
    s3.create_bucket()
        .bucket("tiles")
        .send()
        .await
        .expect("create bucket in moto");
    let env = s3_env(&moto.endpoint);
    let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The seed's `bucket=tiles prefix=lambda/v1 region=us-east-1` and `ACL=public-read`.
    envs.extend([
        ("RASTERZEN_CACHE", "s3://tiles/lambda/v1"),
        ("RASTERZEN_CACHE_ACL", "public-read"),
        ("RASTERZEN_CACHE_CONTROL", "public, max-age=600"),
        // Cleared in the Lambda console: unset, not "no style" or "no source".
        ("RASTERZEN_STYLE", ""),
        ("RASTERZEN_SOURCE", " "),
    ]);
    let mut f = Function::start(&envs).await;
    let t = tile_at(FIRENZE.0, FIRENZE.1, 14);

    // REST API on the named stage `testStage`: without the stage fix the router would see
    // `/testStage/png/…` and answer 404.
    let png = f
        .http(&rest_event(
            &tile_path("png", t, ""),
            &[("Accept", "image/png")],
        ))
        .await;
    assert_eq!(png.status, 200, "{}\n{}", png.text(), f.log_text());
    assert!(png.base64, "PNG must be base64: {}", png.raw);
    assert_eq!(png.header("content-type"), "image/png");
    assert_eq!(png.header("x-rasterzen-cache"), "miss");
    assert_eq!(png.header("access-control-allow-origin"), "*");
    assert_eq!(png.header("cache-control"), "public, max-age=600");
    assert!(png.header("etag").starts_with('"'), "{:?}", png.headers);
    assert!(!png.header("x-rasterzen-renderer").is_empty());
    assert!(
        png.raw["headers"].as_object().is_none_or(|h| h.is_empty()),
        "v1 answers in multiValueHeaders only"
    );
    let (w, h, colours) = decode_png(&png.body);
    assert_eq!((w, h), (512, 512));
    assert!(
        colours > 3,
        "a drawn map, not a blank tile ({colours} colours)"
    );
    assert_eq!(
        png.header("x-rasterzen-data-tile"),
        "",
        "z14 is not overzoomed"
    );

    // The tile landed in S3, with its type, Cache-Control and ACL, byte for byte.
    let keys = list_keys(&s3, "tiles", "lambda/v1/").await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        keys[0].ends_with(&format!("/png-512@1x/14/{}/{}.png", t.1, t.2)),
        "{keys:?}"
    );
    let object = s3
        .get_object()
        .bucket("tiles")
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("image/png"));
    assert_eq!(object.cache_control(), Some("public, max-age=600"));
    assert_eq!(
        object.body.collect().await.unwrap().into_bytes().as_ref(),
        png.body.as_slice()
    );
    let acl = s3
        .get_object_acl()
        .bucket("tiles")
        .key(&keys[0])
        .send()
        .await
        .unwrap();
    assert!(
        acl.grants().iter().any(|g| g
            .grantee()
            .and_then(|g| g.uri())
            .is_some_and(|u| u.ends_with("/AllUsers"))),
        "public-read ACL: {acl:?}"
    );

    // The right image: the same bytes as the CLI renders from the source tile the function
    // serves (MVT: binary, so base64 too).
    let mvt = f.http(&url_event(&tile_path("mvt", t, ""), &[])).await;
    assert_eq!(mvt.status, 200, "{}", mvt.text());
    assert!(mvt.base64);
    assert_eq!(
        mvt.header("content-type"),
        "application/vnd.mapbox-vector-tile"
    );
    let scratch = Scratch::new("cli");
    std::fs::write(scratch.0.join("tile.mvt"), &mvt.body).unwrap();
    let out = Command::new(BIN)
        .args(["render", "--input"])
        .arg(scratch.0.join("tile.mvt"))
        .args(["--tile", &format!("{}/{}/{}", t.0, t.1, t.2), "-o"])
        .arg(scratch.0.join("cli.png"))
        // The function draws labelled tiles with their neighbours from its source.
        .arg("--neighbours")
        .arg(repo().join("host/assets/firenze.pmtiles"))
        .env("RASTERZEN_COMPILED_CACHE", scratch.0.join("compiled"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli = std::fs::read(scratch.0.join("cli.png")).unwrap();
    assert_eq!(
        sha256(&cli),
        sha256(&png.body),
        "the Lambda PNG is the CLI's rendering of the tile"
    );

    // Function URL: the same tile, now from S3 (the only tier), same bytes and ETag.
    let hit = f.http(&url_event(&tile_path("png", t, ""), &[])).await;
    assert_eq!(
        (hit.status, hit.header("x-rasterzen-cache")),
        (200, "hit"),
        "{}",
        hit.text()
    );
    assert!(hit.base64);
    assert_eq!(hit.body, png.body);
    assert_eq!(hit.header("etag"), png.header("etag"));
    assert!(hit
        .raw
        .get("multiValueHeaders")
        .is_none_or(|m| m.as_object().is_none_or(|m| m.is_empty())));

    // HTTP API on the named stage `Prod` (rawPath `/Prod/svg/…`): SVG goes back as text.
    let svg = f.http(&http_api_prod_event(&tile_path("svg", t, ""))).await;
    assert_eq!(svg.status, 200, "{}\n{}", svg.text(), f.log_text());
    assert!(!svg.base64, "SVG is text");
    assert_eq!(svg.header("content-type"), "image/svg+xml");
    assert!(
        svg.text().contains("<svg"),
        "{}",
        &svg.text()[..svg.text().len().min(200)]
    );

    // HTTP API `$default` stage: @2x PNG, then a conditional request answered 304.
    let retina = f
        .http(&http_api_event(&tile_path("png", t, "@2x"), &[]))
        .await;
    assert_eq!(retina.status, 200, "{}", retina.text());
    assert_eq!(decode_png(&retina.body).0, 1024);
    let etag = retina.header("etag").to_string();
    let same = f
        .http(&http_api_event(
            &tile_path("png", t, "@2x"),
            &[("if-none-match", &etag)],
        ))
        .await;
    assert_eq!(same.status, 304, "{}", same.text());
    assert!(same.body.is_empty());
    assert_eq!(same.header("etag"), etag);

    // TileJSON through the function URL: JSON as text, tile URLs on the URL's host, https.
    let tj = f.http(&url_event("/tilejson.json?style=light", &[])).await;
    assert_eq!(tj.status, 200, "{}", tj.text());
    assert!(!tj.base64);
    assert_eq!(tj.header("content-type"), "application/json");
    let doc: Value = serde_json::from_slice(&tj.body).unwrap();
    let url = doc["tiles"][0].as_str().unwrap();
    assert_eq!(
        url, "https://id.lambda-url.eu-west-2.on.aws/png/{z}/{x}/{y}.png?style=light",
        "{doc}"
    );

    // The REST API's root and health check on the named stage.
    let ok = f.http(&rest_event("/healthz", &[])).await;
    assert_eq!((ok.status, ok.text().trim()), (200, "ok"));
    let index = f.http(&rest_event("/", &[])).await;
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").starts_with("text/html"));
    assert!(!index.base64);

    // Logs: JSON lines; every line written during an invocation carries its request id.
    f.assert_alive();
    let lines = f.log_lines();
    let invocations: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "invocation")
        .collect();
    assert_eq!(invocations.len(), 9, "{}", f.log_text());
    for l in &invocations {
        assert!(
            l["requestId"]
                .as_str()
                .is_some_and(|r| r.starts_with("8476a536-")),
            "{l}"
        );
        assert!(
            l["xrayTraceId"]
                .as_str()
                .is_some_and(|r| r.starts_with("Root=")),
            "{l}"
        );
    }
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "rasterzen::access")
        .collect();
    assert!(!access.is_empty(), "{}", f.log_text());
    assert!(
        access.iter().all(|l| l["requestId"].is_string()),
        "{}",
        f.log_text()
    );
    assert_eq!(invocations[0]["cold_start"], true);
    assert!(invocations[1..].iter().all(|l| l["cold_start"] == false));
    assert_eq!(invocations[0]["event"], "apigw-rest");
    assert_eq!(invocations[0]["path"], tile_path("png", t, ""));
    let kinds: Vec<&str> = invocations
        .iter()
        .filter_map(|l| l["event"].as_str())
        .collect();
    assert!(
        kinds.contains(&"function-url") && kinds.contains(&"apigw-http"),
        "{kinds:?}"
    );
    eprintln!(
        "lambda (S3 cache, moto): init {} ms; first tile (miss, render, S3 put) {} ms; S3 hit {} ms; SVG {} ms",
        f.init.as_millis(),
        png.elapsed.as_millis(),
        hit.elapsed.as_millis(),
        svg.elapsed.as_millis()
    );
}

/// The fake upstream: x=0 a valid tile, x=1 hangs, x=2 answers 500, x=3 garbage.
async fn fake_upstream() -> (String, tokio::task::JoinHandle<()>) {
    use axum::extract::Path as AxPath;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let tile = Arc::new(
        std::fs::read(repo().join("tests/fixtures/tiles/nextzen-10-301-384.mvt")).unwrap(),
    );
    let app = axum::Router::new().route(
        "/tiles/{z}/{x}/{y}",
        axum::routing::get(move |AxPath((_z, x, _y)): AxPath<(u8, u32, String)>| {
            let tile = Arc::clone(&tile);
            async move {
                match x {
                    0 => (StatusCode::OK, tile.as_ref().clone()).into_response(),
                    1 => {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                        StatusCode::OK.into_response()
                    }
                    2 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
                    3 => (StatusCode::OK, b"<html>not a tile</html>".to_vec()).into_response(),
                    _ => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}

/// A render over its limit, upstream failures, malformed events, a panic while reading the
/// event and a request that outlives its invocation: each answers a proper HTTP error (or, for a
/// payload that is not JSON at all, an invocation error), and the next invocation is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_answer_http_and_the_function_keeps_serving() {
    let (upstream, _up) = fake_upstream().await;
    let template = format!("{upstream}/tiles/{{z}}/{{x}}/{{y}}.mvt");
    let mut f = Function::start(&[
        ("RASTERZEN_SOURCE", template.as_str()),
        ("RASTERZEN_CACHE", "none"),
        ("RASTERZEN_UPSTREAM_RETRIES", "0"),
        ("RASTERZEN_UPSTREAM_TIMEOUT_MS", "30000"),
        // Too little memory for any 512 px render; the style check at start still fits.
        ("RASTERZEN_MEMORY_LIMIT_MB", "4"),
    ])
    .await;
    let healthy = |f: &mut Function| {
        f.assert_alive();
    };
    // The source works (no render involved).
    let mvt = f.http(&url_event("/mvt/10/0/384.mvt", &[])).await;
    assert_eq!(mvt.status, 200, "{}\n{}", mvt.text(), f.log_text());

    // A render over its memory limit: 500 with the reason.
    let limit = f.http(&url_event("/png/10/0/384.png", &[])).await;
    assert_eq!(limit.status, 500, "{}", limit.text());
    assert!(limit.text().contains("memory limit"), "{}", limit.text());
    assert!(!limit.base64);
    assert_eq!(limit.header("content-type"), "text/plain; charset=utf-8");
    healthy(&mut f);

    // Upstream failures: 502 with the reason.
    for x in [2, 3] {
        let up = f
            .http(&rest_event(&format!("/png/10/{x}/384.png"), &[]))
            .await;
        assert_eq!(up.status, 502, "x={x}: {}", up.text());
        assert!(!up.text().trim().is_empty());
    }
    let ok = f.http(&url_event("/mvt/10/0/384.mvt", &[])).await;
    assert_eq!(ok.status, 200);

    // Malformed events: not an HTTP event at all; a REST event whose method is no method; a
    // function URL event whose Host header is no host (lambda_http panics converting it); a
    // malformed tile path.
    let not_http = f.http(&json!({"hello": "world"})).await;
    assert_eq!(not_http.status, 400, "{}", not_http.text());
    assert!(
        not_http.text().contains("not an HTTP event"),
        "{}",
        not_http.text()
    );
    let mut bad_method = rest_event("/healthz", &[]);
    bad_method["httpMethod"] = json!("GE T");
    let r = f.http(&bad_method).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("malformed apigw-rest event"),
        "{}",
        r.text()
    );
    let bad_host = f
        .http(&url_event("/healthz", &[("host", "bad host name")]))
        .await;
    assert_eq!(bad_host.status, 400, "{}", bad_host.text());
    assert!(
        bad_host.text().contains("malformed function-url event"),
        "{}",
        bad_host.text()
    );
    let bad_path = f.http(&http_api_prod_event("/png/a/b/c.png")).await;
    assert_eq!(bad_path.status, 400, "{}", bad_path.text());
    assert!(
        bad_path.text().contains("malformed tile path"),
        "{}",
        bad_path.text()
    );
    healthy(&mut f);

    // Not JSON at all: the runtime reports an invocation error; the function goes on.
    match f
        .emulator
        .invoke_raw(b"\x00 not json".to_vec(), Duration::from_secs(30))
        .await
    {
        Outcome::Error(kind, body) => {
            assert!(!kind.is_empty(), "{}", String::from_utf8_lossy(&body));
        }
        other => panic!("expected an invocation error, got {other:?}"),
    }
    let ok = f.http(&rest_event("/healthz", &[])).await;
    assert_eq!((ok.status, ok.text().trim()), (200, "ok"));

    // A tile whose upstream hangs past the invocation's deadline: 504 before the deadline,
    // instead of a Lambda timeout.
    let started = Instant::now();
    let late = f
        .http_within(
            &url_event("/png/10/1/384.png", &[]),
            Duration::from_millis(2500),
        )
        .await;
    assert_eq!(late.status, 504, "{}", late.text());
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert!(late.text().contains("time limit"), "{}", late.text());
    let ok = f.http(&url_event("/mvt/10/0/384.mvt", &[])).await;
    assert_eq!(ok.status, 200);
    healthy(&mut f);

    // CloudWatch can tell why: the failures are logged with their cause and request id.
    let lines = f.log_lines();
    let failed: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "invocation" && l["status"].as_u64().unwrap_or(0) >= 400)
        .collect();
    assert_eq!(failed.len(), 8, "{}", f.log_text());
    for l in &failed {
        assert!(
            l["requestId"].is_string() && l["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{l}"
        );
    }
    let limit_line = failed.iter().find(|l| l["status"] == 500).unwrap();
    assert_eq!(limit_line["level"], "ERROR");
    assert!(
        limit_line["error"]
            .as_str()
            .unwrap()
            .contains("memory limit"),
        "{limit_line}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "panic" && l["requestId"].is_string()),
        "the conversion panic is logged as JSON with its request id:\n{}",
        f.log_text()
    );
}

/// A cold start that cannot work (bad configuration) is reported to the Runtime API's
/// `/runtime/init/error` with the cause, and the process exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_cold_starts_are_reported_to_the_runtime_api() {
    for (envs, cause) in [
        (
            vec![("RASTERZEN_STYLE", "/nonexistent/style.json")],
            "neither a file, a URL nor a built-in style",
        ),
        (vec![("RASTERZEN_TILE_SIZE", "300")], "300"),
        (
            vec![("RASTERZEN_SOURCE", "/nonexistent/tiles.pmtiles")],
            "nonexistent",
        ),
        // lambda_runtime itself would panic over it.
        (
            vec![("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE is \"lots\"",
        ),
    ] {
        let mut f = Function::spawn(Command::new(BIN), &envs).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Ok(Some(status)) = f.child.try_wait() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the function did not stop:\n{}",
                f.log_text()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(!status.success());
        let (kind, body) = f
            .emulator
            .init_error
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| panic!("no /runtime/init/error for {envs:?}:\n{}", f.log_text()));
        assert_eq!(kind, "Rasterzen.InitError");
        let message = body["errorMessage"].as_str().unwrap_or("");
        assert!(message.contains(cause), "{envs:?}: {body}");
        let lines = f.log_lines();
        assert!(
            lines
                .iter()
                .any(|l| l["message"] == "cold start failed" && l["level"] == "ERROR"),
            "{}",
            f.log_text()
        );
    }
}

/// The first cold start compiles the renderer; a later one on the same sandbox (`/tmp` kept)
/// deserializes it; one with an empty `/tmp` and the artifacts shipped in the package
/// deserializes those and compiles nothing. Prints the timings (BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_compiles_once_then_deserializes() {
    let compiled = Scratch::new("compiled");
    let dir = compiled.0.to_str().unwrap().to_string();
    let envs = [
        ("RASTERZEN_CACHE", "memory"),
        ("RASTERZEN_COMPILED_CACHE", dir.as_str()),
    ];
    // Round 3 is a cold start as Lambda makes one: an empty /tmp (a fresh, empty compiled
    // cache) and the artifacts `build.sh lambda` ships beside the executable.
    let shipped = compiled.0.join("shipped");
    let out = Command::new(BIN)
        .args(["renderer", "precompile", "--out", shipped.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let empty = compiled.0.join("empty-tmp");
    let shipped_envs = [
        ("RASTERZEN_CACHE", "memory"),
        ("RASTERZEN_COMPILED_CACHE", empty.to_str().unwrap()),
        ("RASTERZEN_SHIPPED_COMPILED", shipped.to_str().unwrap()),
    ];
    let mut report = Vec::new();
    for (round, expect, envs) in [
        (1, "Compiled", &envs[..]),
        (2, "Deserialized", &envs),
        (3, "Deserialized", &shipped_envs[..]),
    ] {
        let mut f = Function::start(envs).await;
        let t = tile_at(FIRENZE.0, FIRENZE.1, 15);
        let first = f.http(&url_event(&tile_path("png", t, ""), &[])).await;
        assert_eq!(first.status, 200, "{}", first.text());
        let next = f
            .http(&url_event(&tile_path("png", (t.0, t.1 + 1, t.2), ""), &[]))
            .await;
        assert_eq!(next.status, 200);
        let hit = f.http(&url_event(&tile_path("png", t, ""), &[])).await;
        assert_eq!(hit.header("x-rasterzen-cache"), "hit");
        let lines = f.log_lines();
        let load = lines
            .iter()
            .find(|l| l["message"] == "renderer component loaded")
            .expect("load line");
        assert_eq!(load["load"], expect, "round {round}: {load}");
        let init = lines
            .iter()
            .find(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("cold start done"))
            })
            .unwrap();
        report.push(format!(
            "cold start {round} ({expect}{}, renderer {} ms): init {} ms (process {} ms), first tile {} ms, \
             warm tile (render) {} ms, warm tile (memory hit) {} ms",
            if round == 3 { ", shipped, empty /tmp" } else { "" },
            load["ms"],
            init["init_ms"],
            f.init.as_millis(),
            first.elapsed.as_millis(),
            next.elapsed.as_millis(),
            hit.elapsed.as_millis()
        ));
    }
    assert!(
        !empty.exists() || std::fs::read_dir(&empty).unwrap().next().is_none(),
        "the shipped artifact was used: nothing compiled into the empty /tmp"
    );
    for line in report {
        eprintln!("lambda: {line}");
    }
}

/// The arm64 Lambda package (`./build.sh lambda arm64`: cross-compiled with zig, the renderer
/// precompiled for Graviton by this machine's host) run as Graviton would run it, emulated by
/// qemu-user: its cold start deserializes the aarch64 artifact shipped beside `bootstrap`
/// (nothing is compiled into the empty /tmp), and its tiles are byte for byte this machine's.
/// Ignored by `cargo test` because the cross build takes minutes; `tests/lambda-arm64.sh` builds
/// the package and runs this test, and fails saying what to install when something is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs ./build.sh lambda arm64 and qemu-user: tests/lambda-arm64.sh runs it"]
async fn arm64_package_cold_start_under_qemu() {
    let package = repo().join("target/lambda/package");
    let bootstrap = package.join("bootstrap");
    let elf = std::fs::read(&bootstrap).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the package with ./build.sh lambda arm64",
            bootstrap.display()
        )
    });
    // ELF e_machine 183: AArch64.
    assert!(
        elf.len() > 20 && elf[..4] == *b"\x7fELF" && u16::from_le_bytes([elf[18], elf[19]]) == 183,
        "{} is not an aarch64 executable; build it with ./build.sh lambda arm64",
        bootstrap.display()
    );
    let sysroot = "/usr/aarch64-linux-gnu";
    assert!(
        Command::new("qemu-aarch64")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
            && std::path::Path::new(sysroot).join("lib/libgcc_s.so.1").is_file(),
        "qemu-user and an aarch64 glibc are needed: apt-get install qemu-user libc6-arm64-cross libgcc-s1-arm64-cross"
    );
    let scratch = Scratch::new("arm64");
    let empty_tmp = scratch.0.join("compiled");
    let envs = [
        ("RASTERZEN_CACHE", "memory"),
        ("RASTERZEN_COMPILED_CACHE", empty_tmp.to_str().unwrap()),
    ];
    let mut qemu = Command::new("qemu-aarch64");
    qemu.args(["-L", sysroot]).arg(&bootstrap);
    let mut arm = Function::start_command(qemu, &envs).await;
    let x86_cache = scratch.0.join("x86-compiled");
    let mut x86 = Function::start(&[
        ("RASTERZEN_CACHE", "memory"),
        ("RASTERZEN_COMPILED_CACHE", x86_cache.to_str().unwrap()),
    ])
    .await;
    let lines = arm.log_lines();
    let load = lines
        .iter()
        .find(|l| l["message"] == "renderer component loaded")
        .expect("load line");
    assert_eq!(load["load"], "Deserialized", "{load}");
    let t = tile_at(FIRENZE.0, FIRENZE.1, 15);
    // Emulated, a tile takes seconds, not milliseconds.
    for path in [
        tile_path("png", t, ""),
        tile_path("png", (t.0 - 1, t.1 / 2, t.2 / 2), "@2x"),
        tile_path("svg", t, ""),
    ] {
        let ours = arm
            .http_within(&url_event(&path, &[]), Duration::from_secs(120))
            .await;
        assert_eq!(ours.status, 200, "{path}: {}", ours.text());
        let theirs = x86.http(&url_event(&path, &[])).await;
        assert_eq!(theirs.status, 200, "{path}");
        assert!(
            ours.body == theirs.body,
            "{path}: the arm64 function's bytes differ from x86_64's ({} vs {} bytes)",
            ours.body.len(),
            theirs.body.len()
        );
    }
    assert!(
        !empty_tmp.exists() || std::fs::read_dir(&empty_tmp).unwrap().next().is_none(),
        "the shipped aarch64 artifact was used: nothing compiled into the empty /tmp"
    );
    eprintln!(
        "lambda arm64 (qemu): renderer {} ({} ms), init {} ms under emulation; 3 tiles byte-identical to x86_64",
        load["load"],
        load["ms"],
        arm.init.as_millis()
    );
}

// ---------------------------------------------------------------------------------------------
// Seeding over SQS: the real binary sends the batches, the real binary as the function renders
// them; an event source mapping (as Lambda runs one) is emulated here against moto's SQS
// ---------------------------------------------------------------------------------------------

/// A URL-template upstream serving the embedded Florence archive's tiles, with faults: `flaky`
/// answers 500 to its first request only, `poison` always.
async fn archive_upstream(
    flaky: &'static str,
    poison: &'static str,
) -> (
    String,
    tokio::task::JoinHandle<()>,
    Arc<Mutex<HashMap<String, u32>>>,
) {
    use axum::extract::Path as AxPath;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let archive = std::fs::read(repo().join("host/assets/firenze.pmtiles")).unwrap();
    let tiles: Arc<HashMap<String, Vec<u8>>> = Arc::new(
        pmtiles::read_all(&archive)
            .into_iter()
            .map(|e| (format!("{}/{}/{}", e.z, e.x, e.y), e.data))
            .collect(),
    );
    let hits: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let h = Arc::clone(&hits);
    let app = axum::Router::new().route(
        "/tiles/{z}/{x}/{y}",
        axum::routing::get(move |AxPath((z, x, y)): AxPath<(u8, u32, String)>| {
            let tiles = Arc::clone(&tiles);
            let hits = Arc::clone(&h);
            async move {
                let key = format!("{z}/{x}/{}", y.trim_end_matches(".mvt"));
                let n = {
                    let mut hits = hits.lock().unwrap();
                    let n = hits.entry(key.clone()).or_default();
                    *n += 1;
                    *n
                };
                if key == poison || (key == flaky && n == 1) {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "injected fault").into_response();
                }
                match tiles.get(&key) {
                    Some(t) => (StatusCode::OK, t.clone()).into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task, hits)
}

/// An SQS event for `messages`, in the shape of AWS's sample (`tests/events/sqs-event.json`).
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], queue_arn: &str) -> Value {
    use aws_sdk_sqs::types::MessageSystemAttributeName as A;
    let mut event = sample("sqs-event.json");
    let template = event["Records"][0].clone();
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut r = template.clone();
            let attr = |a: A| {
                m.attributes()
                    .and_then(|x| x.get(&a))
                    .cloned()
                    .unwrap_or_default()
            };
            r["messageId"] = json!(m.message_id().unwrap());
            r["receiptHandle"] = json!(m.receipt_handle().unwrap());
            r["body"] = json!(m.body().unwrap());
            r["md5OfBody"] = json!(m.md5_of_body().unwrap_or(""));
            r["attributes"] = json!({
                "ApproximateReceiveCount": attr(A::ApproximateReceiveCount),
                "SentTimestamp": attr(A::SentTimestamp),
                "SenderId": attr(A::SenderId),
                "ApproximateFirstReceiveTimestamp": attr(A::ApproximateFirstReceiveTimestamp),
            });
            r["messageAttributes"] = json!({});
            if let Some(o) = r.as_object_mut() {
                o.remove("md5OfMessageAttributes");
            }
            r["eventSourceARN"] = json!(queue_arn);
            r["awsRegion"] = json!("us-east-1");
            r
        })
        .collect();
    event["Records"] = json!(records);
    event
}

async fn queue_counts(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as Q;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(Q::All)
        .send()
        .await
        .unwrap();
    let get = |a: Q| {
        out.attributes()
            .and_then(|m| m.get(&a))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        get(Q::ApproximateNumberOfMessages),
        get(Q::ApproximateNumberOfMessagesNotVisible),
    )
}

/// `rasterzen seed --queue` (the real binary, with `--wait`) sends a box of Florence tiles as
/// batches to moto's SQS; the function (the real binary under the Runtime API emulator) gets
/// them as SQS events from an emulated event source mapping and renders them into S3 (moto).
/// A batch whose tile fails once is reported in `batchItemFailures`, comes back and then only
/// that tile is rendered; a batch with a tile that always fails, and a message that is no batch
/// at all, go to the dead-letter queue after `maxReceiveCount` (2) receives. Every other key is
/// in S3, and each batch attempt left its summary object.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seed_over_sqs_with_partial_failures_and_a_dead_letter_queue() {
    const FLAKY: &str = "13/4352/2986";
    const POISON: &str = "14/8704/5972";
    let moto = Moto::start();
    let s3 = s3_client(&moto.endpoint);
    s3.create_bucket().bucket("tiles").send().await.unwrap();
    let sqs = sqs_client(&moto.endpoint);
    let dlq = sqs
        .create_queue()
        .queue_name("rasterzen-seed-dlq")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    use aws_sdk_sqs::types::QueueAttributeName as Q;
    let queue = sqs
        .create_queue()
        .queue_name("rasterzen-seed")
        .attributes(Q::VisibilityTimeout, "60")
        .attributes(
            Q::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let queue_arn = dlq_arn.replace("rasterzen-seed-dlq", "rasterzen-seed");
    let (upstream, _up, hits) = archive_upstream(FLAKY, POISON).await;
    let template = format!("{upstream}/tiles/{{z}}/{{x}}/{{y}}.mvt");
    let env = s3_env(&moto.endpoint);
    let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    envs.extend([
        ("RASTERZEN_SOURCE", template.as_str()),
        ("RASTERZEN_SOURCE_MAXZOOM", "14"),
        ("RASTERZEN_CACHE", "memory:16,s3://tiles/seed"),
        ("RASTERZEN_UPSTREAM_RETRIES", "0"),
        // Each tile reads its own data only, so that exactly the batches holding the poison
        // tile fail (with neighbours, the poison tile's eight neighbours would fail too:
        // a seed never stores a tile drawn without a neighbour).
        ("RASTERZEN_LABEL_NEIGHBOURS", "off"),
    ]);
    let mut f = Function::start(&envs).await;

    // The sender: the same configuration as the function, plus the box and the queue.
    let scratch = Scratch::new("seed-sqs");
    let summary_path = scratch.0.join("sent.json");
    let sender_log = scratch.0.join("sender.log");
    let sender = Command::new(BIN)
        .args(["seed", "--queue", &format!("sqs://{queue}")])
        .args(["--bbox", "11.22,43.75,11.29,43.79", "--zooms", "12-14"])
        .args(["--batch-size", "4", "--wait", "--progress-interval-s", "1"])
        .arg("--summary")
        .arg(&summary_path)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("XDG_CACHE_HOME", scratch.0.join("xdg"))
        .env("RASTERZEN_COMPILED_CACHE", scratch.0.join("compiled"))
        .env("RASTERZEN_SOURCE", &template)
        .env("RASTERZEN_SOURCE_MAXZOOM", "14")
        .env("RASTERZEN_CACHE", "s3://tiles/seed")
        .env("RASTERZEN_LOG_LEVEL", "info")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&sender_log).unwrap())
        .spawn()
        .unwrap();
    // Stopped at drop if the test fails before the sender ends by itself.
    let mut sender = harness::Reaped(Some(sender));

    // The event source mapping: receive up to 10, invoke, delete what succeeded, make what
    // failed visible again at once (instead of after the visibility timeout).
    let mut sent_tiles: std::collections::BTreeSet<String> = Default::default();
    let mut reported: HashMap<String, u32> = HashMap::new(); // body kind → times reported failed
    let mut invocations = 0;
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut garbage_sent = false;
    loop {
        assert!(
            Instant::now() < deadline,
            "the queue never drained:\n{}",
            f.log_text()
        );
        if !garbage_sent && summary_path.exists() {
            // A poison message, once the sender has sent its batches: not a batch at all.
            sqs.send_message()
                .queue_url(&queue)
                .message_body("this is not a rasterzen batch")
                .send()
                .await
                .unwrap();
            garbage_sent = true;
        }
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let messages = out.messages().to_vec();
        if messages.is_empty() {
            if let Ok(Some(_)) = sender.child().try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        invocations += 1;
        let event = sqs_event(&messages, &queue_arn);
        let reply = match f
            .emulator
            .invoke_raw(event.to_string().into_bytes(), Duration::from_secs(60))
            .await
        {
            Outcome::Response(body) => serde_json::from_slice::<Value>(&body).unwrap(),
            Outcome::Error(kind, body) => panic!(
                "invocation error {kind}: {}\n{}",
                String::from_utf8_lossy(&body),
                f.log_text()
            ),
        };
        // The sample's shape: {"batchItemFailures": [{"itemIdentifier": …}]}.
        let shape = sample("sqs-batch-response.json");
        assert_eq!(
            reply.as_object().unwrap().keys().collect::<Vec<_>>(),
            shape.as_object().unwrap().keys().collect::<Vec<_>>()
        );
        let failed: Vec<&str> = reply["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["itemIdentifier"].as_str().unwrap())
            .collect();
        for m in &messages {
            let body = m.body().unwrap();
            let kind = match serde_json::from_str::<Value>(body) {
                Ok(b) => {
                    let tiles: Vec<String> = b["tiles"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| format!("{}/{}/{}", t[0], t[1], t[2]))
                        .collect();
                    let kind = if tiles.iter().any(|t| t == POISON) {
                        "poison batch"
                    } else if tiles.iter().any(|t| t == FLAKY) {
                        "flaky batch"
                    } else {
                        "batch"
                    };
                    sent_tiles.extend(tiles);
                    kind
                }
                Err(_) => "garbage",
            };
            if failed.contains(&m.message_id().unwrap()) {
                *reported.entry(kind.to_string()).or_default() += 1;
                sqs.change_message_visibility()
                    .queue_url(&queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .visibility_timeout(0)
                    .send()
                    .await
                    .unwrap();
            } else {
                sqs.delete_message()
                    .queue_url(&queue)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    f.assert_alive();

    // The sender followed the queue until it drained and counted the dead letters.
    let out = sender.take().wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let sender_text = std::fs::read_to_string(&sender_log).unwrap_or_default();
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{sender_text}");
    assert!(
        stdout.contains("2 batch(es) went to the dead-letter queue"),
        "{stdout}"
    );
    assert!(
        sender_text.contains("queue: "),
        "progress lines while waiting:\n{sender_text}"
    );
    let sent: Value = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    assert_eq!(
        sent["sent_tiles"].as_u64().unwrap(),
        sent_tiles.len() as u64,
        "{sent}"
    );
    assert!(sent_tiles.contains(FLAKY) && sent_tiles.contains(POISON));

    // Partial failures: the flaky batch was reported once, the poison batch and the garbage
    // each twice (maxReceiveCount), nothing else ever.
    assert_eq!(reported.get("flaky batch"), Some(&1), "{reported:?}");
    assert_eq!(reported.get("poison batch"), Some(&2), "{reported:?}");
    assert_eq!(reported.get("garbage"), Some(&2), "{reported:?}");
    assert_eq!(reported.get("batch"), None, "{reported:?}");
    // The dead-letter queue holds exactly those two.
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let mut bodies: Vec<String> = dead
        .messages()
        .iter()
        .map(|m| m.body().unwrap().to_string())
        .collect();
    bodies.sort();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert!(bodies.iter().any(|b| b == "this is not a rasterzen batch"));
    assert!(
        bodies.iter().any(|b| b.contains("[14,8704,5972]")),
        "{bodies:?}"
    );
    assert_eq!(queue_counts(&sqs, &queue).await, (0, 0));

    // Every tile but the poison one is in S3, once, as a PNG.
    let keys = list_keys(&s3, "tiles", "seed/").await;
    let tile_keys: std::collections::BTreeSet<String> = keys
        .iter()
        .filter(|k| !k.starts_with("seed/.seed/"))
        .map(|k| {
            let p: Vec<&str> = k.split('/').collect();
            assert_eq!(p[4], "png-512@1x", "{k}");
            format!("{}/{}/{}", p[5], p[6], p[7].trim_end_matches(".png"))
        })
        .collect();
    let mut expect = sent_tiles.clone();
    expect.remove(POISON);
    assert_eq!(tile_keys, expect);
    // The flaky tile was fetched twice (failed, then rendered); the others of its batch once.
    assert_eq!(hits.lock().unwrap().get(FLAKY), Some(&2));

    // One summary object per batch attempt: the flaky batch's retry rendered only its failed
    // tile and skipped the rest; the poison batch's retry rendered nothing again.
    let summaries: Vec<String> = keys
        .iter()
        .filter(|k| k.starts_with("seed/.seed/"))
        .cloned()
        .collect();
    let mut by_attempt: Vec<Value> = Vec::new();
    for k in &summaries {
        let o = s3.get_object().bucket("tiles").key(k).send().await.unwrap();
        let v: Value =
            serde_json::from_slice(&o.body.collect().await.unwrap().into_bytes()).unwrap();
        by_attempt.push(v);
    }
    let batches = sent["sent_batches"].as_u64().unwrap() as usize;
    assert_eq!(
        summaries.len(),
        batches + 2,
        "one per attempt: {summaries:?}"
    );
    let with = |tile: &str, attempt: u64| -> &Value {
        by_attempt
            .iter()
            .find(|v| {
                v["attempt"] == attempt
                    && v["failures"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .chain(std::iter::once(&json!({})))
                        .any(|f| {
                            f["tiles"]
                                .as_array()
                                .is_some_and(|t| t.iter().any(|x| x == tile))
                        })
            })
            .unwrap_or_else(|| panic!("no attempt {attempt} failing {tile}: {by_attempt:?}"))
    };
    let flaky1 = with(FLAKY, 1);
    assert_eq!(flaky1["failed"], 1, "{flaky1}");
    let flaky2 = by_attempt
        .iter()
        .find(|v| v["batch"] == flaky1["batch"] && v["attempt"] == 2)
        .unwrap();
    assert_eq!(
        (flaky2["rendered"].as_u64(), flaky2["failed"].as_u64()),
        (Some(1), Some(0)),
        "{flaky2}"
    );
    assert_eq!(flaky2["skipped"], flaky1["rendered"], "{flaky2}");
    let poison2 = with(POISON, 2);
    assert_eq!(
        (poison2["rendered"].as_u64(), poison2["failed"].as_u64()),
        (Some(0), Some(1)),
        "{poison2}"
    );
    let log = f.log_text();
    assert!(log.contains("seed batch refused"), "{log}");
    assert!(log.contains("not a rasterzen seed batch"), "{log}");
    eprintln!(
        "seed over SQS: {} tiles in {batches} batches, {invocations} invocations",
        sent_tiles.len()
    );
}
