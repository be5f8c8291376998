//! One object per tile in S3 (or an S3-compatible store): `s3://BUCKET/PREFIX/KEY`, with
//! `Content-Type`, `Cache-Control` and an optional canned ACL set on the object. Writes are
//! conditional (`If-None-Match: *`): a key names exactly one rendering, so an object that is
//! already there is left alone and two hosts racing to write it both succeed.
//!
//! When S3 fails (a timeout, a 5xx, throttling), the tier steps aside: a circuit breaker opens
//! and no request touches S3 until a background probe (a GET of a key that does not exist)
//! gets an answer again. The probe runs after 5 s, then backs off to at most a minute while
//! S3 stays down, so a hung S3 costs one request one timeout, not every request after each
//! break. Tile operations have tight timeouts of their own (a tile is small; see
//! [`tile_client`]). Failures are logged as warnings once per trip.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{content_type_of, CacheError, TileCache};
use crate::aws::error_text;
use crate::source::BoxFuture;

/// How long the tier is skipped after a failure before the first probe.
const BREAK_FOR: Duration = Duration::from_secs(5);
/// The longest wait between probes while S3 stays down.
const MAX_BREAK: Duration = Duration::from_secs(60);

/// The S3 client for tile reads and writes: the shared one with tight timeouts (a tile is a
/// few hundred kB at most; a slow S3 must not hold a request for the SDK's 12 s).
pub fn tile_client(shared: &aws_sdk_s3::Client) -> aws_sdk_s3::Client {
    use aws_config::retry::RetryConfig;
    use aws_config::timeout::TimeoutConfig;
    let conf = shared
        .config()
        .to_builder()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .read_timeout(Duration::from_millis(1500))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_millis(2500))
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(50)),
        )
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

#[derive(Debug)]
struct Breaker {
    /// Skipped until then; `None` = closed (S3 in use).
    open_until: Option<Instant>,
    /// The next wait after a failed probe.
    backoff: Duration,
    /// A probe is running: keep skipping.
    probing: bool,
}

pub struct S3Cache {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    cache_control: String,
    acl: Option<aws_sdk_s3::types::ObjectCannedAcl>,
    breaker: Arc<Mutex<Breaker>>,
}

impl S3Cache {
    pub fn new(
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
        cache_control: String,
        acl: Option<String>,
    ) -> S3Cache {
        let acl = acl
            .filter(|a| !a.is_empty())
            .map(|a| aws_sdk_s3::types::ObjectCannedAcl::from(a.as_str()));
        S3Cache {
            client,
            bucket,
            prefix,
            cache_control,
            acl,
            breaker: Arc::new(Mutex::new(Breaker {
                open_until: None,
                backoff: BREAK_FOR,
                probing: false,
            })),
        }
    }

    fn object_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }

    /// A conditional `PutObject` (`If-None-Match: *`); an object already there counts as stored.
    async fn put_object(&self, key: &str, body: Bytes) -> Result<(), String> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.object_key(key))
            .content_type(content_type_of(key))
            .cache_control(&self.cache_control)
            .if_none_match("*")
            .body(ByteStream::from(body));
        if let Some(acl) = &self.acl {
            req = req.acl(acl.clone());
        }
        match req.send().await {
            Ok(_) => Ok(()),
            // 412: already there (the same bytes, by construction of the key); 409: a
            // concurrent conditional write won.
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 412 | 409)) =>
            {
                Ok(())
            }
            Err(e) => Err(error_text(&e)),
        }
    }

    /// Whether the breaker is open (S3 failed and no probe has succeeded since). When its wait
    /// is over, starts a probe in the background and keeps the tier skipped meanwhile.
    fn broken(&self) -> bool {
        let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        match b.open_until {
            None => false,
            Some(t) if Instant::now() < t || b.probing => true,
            Some(_) => {
                b.probing = true;
                drop(b);
                self.spawn_probe();
                true
            }
        }
    }

    fn spawn_probe(&self) {
        let (client, bucket, key, breaker) = (
            self.client.clone(),
            self.bucket.clone(),
            self.object_key(".rasterzen-probe"),
            Arc::clone(&self.breaker),
        );
        let name = format!("s3://{}/{}", self.bucket, self.prefix);
        tokio::spawn(async move {
            let answered = match client.get_object().bucket(&bucket).key(&key).send().await {
                Ok(_) => true,
                Err(e) => {
                    e.as_service_error().is_some_and(|s| s.is_no_such_key())
                        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
                }
            };
            let mut b = breaker.lock().unwrap_or_else(|p| p.into_inner());
            b.probing = false;
            if answered {
                b.open_until = None;
                b.backoff = BREAK_FOR;
                tracing::info!(cache = %name, "S3 answers again: the S3 tier is back in use");
            } else {
                b.open_until = Some(Instant::now() + b.backoff);
                tracing::warn!(cache = %name, retry_in_s = b.backoff.as_secs(), "S3 still failing: the S3 tier stays skipped");
                b.backoff = (b.backoff * 2).min(MAX_BREAK);
            }
        });
    }

    fn trip(&self, what: &str, text: String) -> CacheError {
        let mut b = self.breaker.lock().unwrap_or_else(|p| p.into_inner());
        if b.open_until.is_none() {
            b.open_until = Some(Instant::now() + b.backoff);
        }
        CacheError::S3(format!(
            "s3://{}/{}: {what}: {text} (S3 tier skipped until it answers again; next check in {} s)",
            self.bucket,
            self.prefix,
            b.backoff.as_secs()
        ))
    }
}

impl TileCache for S3Cache {
    fn name(&self) -> &str {
        "s3"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Bytes>, CacheError>> {
        Box::pin(async move {
            if self.broken() {
                return Ok(None);
            }
            let result = self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(self.object_key(key))
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(e) => {
                    let missing = e.as_service_error().is_some_and(|s| s.is_no_such_key())
                        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                    if missing {
                        return Ok(None);
                    }
                    return Err(self.trip("get", error_text(&e)));
                }
            };
            match out.body.collect().await {
                Ok(data) => Ok(Some(data.into_bytes())),
                Err(e) => Err(self.trip("get (body)", e.to_string())),
            }
        })
    }

    fn put<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            if self.broken() {
                return Ok(());
            }
            self.put_object(key, body)
                .await
                .map_err(|text| self.trip("put", text))
        })
    }

    fn store<'a>(&'a self, key: &'a str, body: Bytes) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            self.put_object(key, body).await.map_err(|text| {
                CacheError::S3(format!("s3://{}/{}: put: {text}", self.bucket, self.prefix))
            })
        })
    }

    fn contains<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool, CacheError>> {
        Box::pin(async move {
            let result = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(self.object_key(key))
                .send()
                .await;
            match result {
                Ok(_) => Ok(true),
                Err(e)
                    if e.as_service_error().is_some_and(|s| s.is_not_found())
                        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
                {
                    Ok(false)
                }
                Err(e) => Err(CacheError::S3(format!(
                    "s3://{}/{}: head: {}",
                    self.bucket,
                    self.prefix,
                    error_text(&e)
                ))),
            }
        })
    }

    fn purge<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(async move {
            let full = self.object_key(prefix.trim_start_matches('/'));
            let err = |what: &str, t: String| {
                CacheError::S3(format!("s3://{}/{full}: {what}: {t}", self.bucket))
            };
            let mut removed = 0u64;
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(&full)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .map_err(|e| err("list", error_text(&e)))?;
                let ids: Vec<aws_sdk_s3::types::ObjectIdentifier> = page
                    .contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .filter_map(|k| {
                        aws_sdk_s3::types::ObjectIdentifier::builder()
                            .key(k)
                            .build()
                            .ok()
                    })
                    .collect();
                if !ids.is_empty() {
                    let n = ids.len() as u64;
                    let delete = aws_sdk_s3::types::Delete::builder()
                        .set_objects(Some(ids))
                        .quiet(true)
                        .build()
                        .map_err(|e| err("delete", e.to_string()))?;
                    let out = self
                        .client
                        .delete_objects()
                        .bucket(&self.bucket)
                        .delete(delete)
                        .send()
                        .await
                        .map_err(|e| err("delete", error_text(&e)))?;
                    if let Some(first) = out.errors().first() {
                        return Err(err(
                            "delete",
                            format!(
                                "{} object(s) not deleted, e.g. {:?}: {:?}",
                                out.errors().len(),
                                first.key(),
                                first.message()
                            ),
                        ));
                    }
                    removed += n;
                }
                match page.next_continuation_token() {
                    Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
                    _ => break,
                }
            }
            Ok(removed)
        })
    }
}
