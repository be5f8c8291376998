//! One object per tile in S3 (or an S3-compatible store): `s3://BUCKET/PREFIX/KEY`, with
//! `Content-Type`, `Cache-Control` and an optional canned ACL set on the object. Writes are
//! conditional (`If-None-Match: *`): a key names exactly one rendering, so an object that is
//! already there is left alone and two hosts racing to write it both succeed.
//!
//! When S3 fails, the tier steps aside for a short while (a circuit breaker), so an outage costs
//! each request nothing but a skipped tier; the failure is logged as a warning once per trip.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;

use super::{content_type_of, CacheError, TileCache};
use crate::aws::error_text;
use crate::source::BoxFuture;

/// How long the tier is skipped after a failure.
const BREAK_FOR: Duration = Duration::from_secs(5);

pub struct S3Cache {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    cache_control: String,
    acl: Option<aws_sdk_s3::types::ObjectCannedAcl>,
    broken_until: Mutex<Option<Instant>>,
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
            broken_until: Mutex::new(None),
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

    /// Whether the breaker is open (S3 failed within the last few seconds).
    fn broken(&self) -> bool {
        let mut until = self.broken_until.lock().unwrap_or_else(|p| p.into_inner());
        match *until {
            Some(t) if Instant::now() < t => true,
            Some(_) => {
                *until = None;
                false
            }
            None => false,
        }
    }

    fn trip(&self, what: &str, text: String) -> CacheError {
        *self.broken_until.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Instant::now() + BREAK_FOR);
        CacheError::S3(format!(
            "s3://{}/{}: {what}: {text} (S3 tier skipped for {} s)",
            self.bucket,
            self.prefix,
            BREAK_FOR.as_secs()
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
