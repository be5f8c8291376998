//! Seeding beyond one machine: `rasterzen seed --queue sqs://QUEUE_URL` sends the plan's tiles
//! to SQS in batches; the Lambda function (the same binary), subscribed to the queue by an event
//! source mapping, renders each batch into its S3 cache.
//!
//! - A message is one batch: up to `--batch-size` tiles (default 64, an aligned 8×8 block where
//!   the area allows), with what decides their keys (source id, renderer version, tile size, and
//!   each variant's style name and hash, format, scale). The function refuses a batch made for
//!   another configuration rather than filling the cache under keys nobody asked for.
//! - The function answers with `batchItemFailures` (the mapping's `ReportBatchItemFailures`):
//!   only the messages with a failed tile come back, and on the retry their finished tiles are
//!   skipped (they are in S3), so only the failed tiles are rendered again. After
//!   `maxReceiveCount` receives SQS moves a message to the dead-letter queue: a poison batch
//!   (undecodable, or a tile that always fails) stops there.
//! - A batch stops taking tiles shortly before the invocation's deadline; the unfinished message
//!   is reported failed and comes back (its finished tiles skipped).
//! - Progress: the queue's approximate counts (`--wait` follows them, and the dead-letter
//!   queue's) and one summary object per batch attempt in the cache's S3 prefix,
//!   `.seed/RUN/batches/BATCH-aATTEMPT.json` (rendered, skipped, empty, failed with reasons).

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context as _};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use rasterzen_render::TileId;
use serde_json::{json, Value};

use super::checkpoint::Checkpoint;
use super::worker::{Outcome, Seeder, Variant};
use super::{SeedArgs, SeedRun};
use crate::aws::error_text;
use crate::service::Service;

pub const MESSAGE_FORMAT: &str = "seed-batch/1";

/// One SQS message.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct BatchMessage {
    /// Always [`MESSAGE_FORMAT`].
    pub rasterzen: String,
    pub run: String,
    pub batch: u64,
    pub source: String,
    pub renderer: String,
    pub tile_size: u32,
    pub variants: Vec<MessageVariant>,
    /// `[z, x, y]`.
    pub tiles: Vec<[u32; 3]>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct MessageVariant {
    pub style: String,
    pub hash: String,
    pub format: String,
    pub scale: u32,
}

/// `sqs://https://…`, `sqs://HOST/ACCOUNT/NAME` (https) or a plain `https://…` queue URL.
pub fn queue_url(spec: &str) -> anyhow::Result<String> {
    let spec = spec.trim();
    let rest = spec.strip_prefix("sqs://").unwrap_or(spec);
    let url = if rest.starts_with("https://") || rest.starts_with("http://") {
        rest.to_string()
    } else if spec.starts_with("sqs://") && rest.contains('/') {
        format!("https://{rest}")
    } else {
        bail!("--queue {spec:?} is not sqs://QUEUE_URL (e.g. sqs://https://sqs.us-east-1.amazonaws.com/123456789012/rasterzen-seed)")
    };
    Ok(url)
}

fn message_variants(variants: &[Variant]) -> Vec<MessageVariant> {
    variants
        .iter()
        .map(|v| MessageVariant {
            style: v.style_name.clone(),
            hash: v.style_hash.clone(),
            format: v.kind.name().to_string(),
            scale: v.scale,
        })
        .collect()
}

/// Queue attributes: (waiting, in flight, delayed).
async fn counts(client: &aws_sdk_sqs::Client, url: &str) -> anyhow::Result<(u64, u64, u64)> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .map_err(|e| anyhow!("{url}: {}", error_text(&e)))?;
    let get = |n: QueueAttributeName| {
        out.attributes()
            .and_then(|a| a.get(&n))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Ok((
        get(QueueAttributeName::ApproximateNumberOfMessages),
        get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    ))
}

/// The dead-letter queue's URL, from the queue's redrive policy.
async fn dead_letter_queue(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> anyhow::Result<Option<String>> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .map_err(|e| anyhow!("cannot read the queue {url}: {}", error_text(&e)))?;
    let Some(policy) = out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::RedrivePolicy))
    else {
        return Ok(None);
    };
    let policy: Value = serde_json::from_str(policy).unwrap_or(Value::Null);
    let Some(arn) = policy["deadLetterTargetArn"].as_str() else {
        return Ok(None);
    };
    // arn:aws:sqs:REGION:ACCOUNT:NAME
    let parts: Vec<&str> = arn.split(':').collect();
    let (Some(name), Some(account)) = (parts.get(5), parts.get(4)) else {
        return Ok(None);
    };
    let out = client
        .get_queue_url()
        .queue_name(*name)
        .queue_owner_aws_account_id(*account)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "cannot find the dead-letter queue {arn}: {}",
                error_text(&e)
            )
        })?;
    Ok(out.queue_url().map(str::to_string))
}

/// Sends the plan's unfinished tiles as batches; with `--wait`, follows the queue until it drains.
pub async fn send(
    run: &SeedRun,
    args: &SeedArgs,
    spec: &str,
    checkpoint: Checkpoint,
    total: u64,
) -> anyhow::Result<ExitCode> {
    let url = queue_url(spec)?;
    let client = crate::aws::sqs_client().await;
    let dlq = dead_letter_queue(&client, &url).await?;
    if dlq.is_none() {
        tracing::warn!(queue = %url, "the queue has no dead-letter queue: a poison batch would be retried until it expires");
    }
    let dlq_before = match &dlq {
        Some(d) => counts(&client, d).await?.0,
        None => 0,
    };
    let seeder = &run.seeder;
    let service = &seeder.service;
    let variants = message_variants(&seeder.variants);
    let before = checkpoint.done.len();
    let checkpoint_path = checkpoint.path.clone();
    let mut checkpoint = checkpoint;
    let mut stop = super::signals();
    let started = Instant::now();
    tracing::info!(run = %run.id, queue = %url, total, finished_before = before, batch_size = args.batch_size, "sending {}", run.about);

    // Batches of tiles (plan order: 8×8 blocks), ten messages per SendMessageBatch call.
    let mut tiles = run.plan.iter();
    let mut batch_no = 0u64;
    let (mut sent_tiles, mut sent_batches) = (0u64, 0u64);
    let mut last_log = Instant::now();
    let mut interrupted = None;
    loop {
        if let super::Stop::Drain(c) | super::Stop::Abort(c) = *stop.borrow_and_update() {
            interrupted = Some(c);
            break;
        }
        let mut entries: Vec<(String, Vec<u64>, String)> = Vec::new();
        while entries.len() < 10 {
            let mut ordinals = Vec::new();
            let mut list = Vec::new();
            for (ordinal, t) in tiles.by_ref() {
                if checkpoint.done.contains(ordinal) {
                    continue;
                }
                ordinals.push(ordinal);
                list.push([u32::from(t.z), t.x, t.y]);
                if list.len() == args.batch_size {
                    break;
                }
            }
            if list.is_empty() {
                break;
            }
            // Batch numbers follow the first ordinal, so a resumed send names them the same.
            batch_no = ordinals[0];
            let body = serde_json::to_string(&BatchMessage {
                rasterzen: MESSAGE_FORMAT.into(),
                run: run.id.clone(),
                batch: batch_no,
                source: service.source.id().to_string(),
                renderer: seeder.renderer.version().to_string(),
                tile_size: service.config.tile_size,
                variants: variants_clone(&variants),
                tiles: list,
            })?;
            entries.push((format!("b{batch_no}"), ordinals, body));
        }
        if entries.is_empty() {
            break;
        }
        let mut pending = entries;
        for attempt in 0..4 {
            let mut req = client.send_message_batch().queue_url(&url);
            for (id, _, body) in &pending {
                req = req.entries(
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .build()
                        .map_err(|e| anyhow!("{e}"))?,
                );
            }
            let failed_ids: Vec<String> = match req.send().await {
                Ok(out) => {
                    for f in out.failed() {
                        tracing::warn!(
                            id = f.id(),
                            code = f.code(),
                            message = f.message().unwrap_or(""),
                            "message not sent"
                        );
                    }
                    out.failed().iter().map(|f| f.id().to_string()).collect()
                }
                Err(e) if attempt < 3 => {
                    tracing::warn!(error = %error_text(&e), "sending to SQS failed; retrying");
                    pending.iter().map(|p| p.0.clone()).collect()
                }
                Err(e) => {
                    checkpoint.save()?;
                    bail!("cannot send to {url}: {}", error_text(&e));
                }
            };
            let (failed, ok): (Vec<_>, Vec<_>) =
                pending.into_iter().partition(|p| failed_ids.contains(&p.0));
            for (_, ordinals, _) in ok {
                sent_batches += 1;
                sent_tiles += ordinals.len() as u64;
                for o in ordinals {
                    checkpoint.mark(o);
                }
            }
            pending = failed;
            if pending.is_empty() {
                break;
            }
            if attempt == 3 {
                checkpoint.save()?;
                bail!("{} message(s) could not be sent to {url}", pending.len());
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        if last_log.elapsed() >= Duration::from_secs(1) {
            checkpoint.save()?;
            last_log = Instant::now();
            tracing::info!(target: "rasterzen::seed", sent_tiles, sent_batches, total, "sent {}/{total} tiles", before + sent_tiles);
        }
    }
    checkpoint.save()?;
    let secs = started.elapsed().as_secs_f64();
    let mut out = format!(
        "seed {}: sent {sent_tiles} tiles in {sent_batches} batches to {url} in {} ({} of {total} tiles sent, {before} before this run)\n  checkpoint: {}\n",
        if interrupted.is_some() { "interrupted" } else { "sent" },
        super::human_duration(secs),
        checkpoint.done.len(),
        checkpoint_path.display()
    );
    let _ = std::io::stdout().write_all(out.as_bytes());
    let summary = json!({
        "status": if interrupted.is_some() { "interrupted" } else { "sent" },
        "run": run.id, "queue": url, "total": total, "finished_before": before,
        "sent_tiles": sent_tiles, "sent_batches": sent_batches, "finished": checkpoint.done.len(),
        "last_batch": batch_no, "checkpoint": checkpoint_path.display().to_string(),
    });
    if let Some(p) = &args.summary {
        std::fs::write(p, serde_json::to_vec_pretty(&summary)?)
            .with_context(|| format!("cannot write {}", p.display()))?;
    }
    if let Some(c) = interrupted {
        return Ok(ExitCode::from(c));
    }
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    // Follow the queue until it has nothing waiting, in flight or delayed (twice in a row).
    let interval = Duration::from_secs(args.progress_interval_s.max(1));
    let mut quiet = 0;
    let dlq_after;
    loop {
        let (waiting, in_flight, delayed) = counts(&client, &url).await?;
        let dead = match &dlq {
            Some(d) => counts(&client, d).await?.0,
            None => 0,
        };
        tracing::info!(target: "rasterzen::seed", waiting, in_flight, delayed, dead_letter = dead.saturating_sub(dlq_before),
            "queue: {waiting} batch(es) waiting, {in_flight} in flight, {delayed} delayed; dead-letter queue: {}", dead.saturating_sub(dlq_before));
        if waiting + in_flight + delayed == 0 {
            quiet += 1;
            if quiet >= 2 {
                dlq_after = dead;
                break;
            }
        } else {
            quiet = 0;
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => {
                if let super::Stop::Drain(c) | super::Stop::Abort(c) = *stop.borrow() {
                    return Ok(ExitCode::from(c));
                }
            }
        }
    }
    let dead = dlq_after.saturating_sub(dlq_before);
    out = format!(
        "seed: the queue has drained in {}; {dead} batch(es) went to the dead-letter queue{}\n",
        super::human_duration(started.elapsed().as_secs_f64()),
        dlq.as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default()
    );
    let _ = std::io::stdout().write_all(out.as_bytes());
    Ok(if dead > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "rasterzen: error: {dead} batch(es) failed into the dead-letter queue; the batch summaries are under .seed/{}/ in the cache",
            run.id
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn variants_clone(v: &[MessageVariant]) -> Vec<MessageVariant> {
    v.iter()
        .map(|m| MessageVariant {
            style: m.style.clone(),
            hash: m.hash.clone(),
            format: m.format.clone(),
            scale: m.scale,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The Lambda side
// ---------------------------------------------------------------------------------------------

/// Whether a Lambda event is an SQS event (`Records[].eventSource == "aws:sqs"`).
pub fn is_sqs_event(event: &Value) -> bool {
    event["Records"]
        .as_array()
        .and_then(|r| r.first())
        .is_some_and(|r| r["eventSource"] == "aws:sqs")
}

/// Time kept back from the invocation's deadline: no new tile starts after it.
const BATCH_MARGIN: Duration = Duration::from_secs(3);

/// Renders the batches of an SQS event; answers `{"batchItemFailures": [...]}` naming every
/// message that did not finish (a failed tile, a refused or undecodable batch, the deadline).
pub async fn handle_sqs(
    service: &Arc<Service>,
    event: &Value,
    deadline: SystemTime,
) -> (Value, String) {
    let records = event["Records"].as_array().cloned().unwrap_or_default();
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    for record in &records {
        let id = record["messageId"].as_str().unwrap_or("").to_string();
        let attempt = record["attributes"]["ApproximateReceiveCount"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let started = Instant::now();
        let result = batch(service, record, attempt, deadline).await;
        let ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(b) if b.failed == 0 && b.unfinished == 0 => {
                tracing::info!(message_id = %id, run = %b.run, batch = b.batch, attempt, tiles = b.tiles, rendered = b.rendered, skipped = b.skipped, empty = b.empty, ms, "seed batch done");
            }
            Ok(b) => {
                tracing::warn!(message_id = %id, run = %b.run, batch = b.batch, attempt, tiles = b.tiles, rendered = b.rendered, skipped = b.skipped, empty = b.empty, failed = b.failed, unfinished = b.unfinished, ms, error = %b.first_error, "seed batch incomplete: reported for a retry");
                notes.push(format!("batch {}: {}", b.batch, b.first_error));
                failures.push(json!({ "itemIdentifier": id }));
            }
            Err(e) => {
                tracing::error!(message_id = %id, attempt, ms, error = %e, "seed batch refused: reported failed (after the queue's maxReceiveCount it goes to the dead-letter queue)");
                notes.push(e);
                failures.push(json!({ "itemIdentifier": id }));
            }
        }
    }
    (json!({ "batchItemFailures": failures }), notes.join("; "))
}

struct BatchResult {
    run: String,
    batch: u64,
    tiles: usize,
    rendered: u64,
    skipped: u64,
    empty: u64,
    failed: u64,
    unfinished: u64,
    first_error: String,
}

async fn batch(
    service: &Arc<Service>,
    record: &Value,
    attempt: u64,
    deadline: SystemTime,
) -> Result<BatchResult, String> {
    let body = record["body"].as_str().ok_or("the message has no body")?;
    let msg: BatchMessage =
        serde_json::from_str(body).map_err(|e| format!("not a rasterzen seed batch: {e}"))?;
    if msg.rasterzen != MESSAGE_FORMAT {
        return Err(format!(
            "batch format {:?}, this function reads {MESSAGE_FORMAT:?}",
            msg.rasterzen
        ));
    }
    // The batch must have been made for this function's configuration.
    if msg.source != service.source.id() {
        return Err(format!(
            "the batch is for source {}, this function serves {}",
            msg.source,
            service.source.id()
        ));
    }
    let renderer = service.renderer();
    if msg.renderer != renderer.version() {
        return Err(format!(
            "the batch is for renderer {}, this function runs {}",
            msg.renderer,
            renderer.version()
        ));
    }
    if msg.tile_size != service.config.tile_size {
        return Err(format!(
            "the batch is for {} px tiles, this function renders {} px",
            msg.tile_size, service.config.tile_size
        ));
    }
    let mut variants = Vec::new();
    for v in &msg.variants {
        let (name, spec) = service.style_spec(Some(v.style.as_str()));
        let hash = service
            .style_hash(&renderer, &name, &spec)
            .await
            .map_err(|e| format!("style {name}: {e}"))?;
        if hash != v.hash {
            return Err(format!(
                "style {name} is {hash} here, the batch was made with {}",
                v.hash
            ));
        }
        let Some(kind) = super::worker::SEED_KINDS
            .into_iter()
            .find(|k| k.name() == v.format)
        else {
            return Err(format!(
                "format {:?} is not png, svg, webp or jpg",
                v.format
            ));
        };
        if v.scale != 1 && v.scale != 2 {
            return Err(format!("scale {} is not 1 or 2", v.scale));
        }
        let labelled =
            service.config.neighbours && service.style_labelled(&renderer, &name, &spec).await;
        variants.push(Variant {
            style_name: name,
            style: spec,
            style_hash: hash,
            kind,
            scale: v.scale,
            labelled,
        });
    }
    let mut tiles = Vec::with_capacity(msg.tiles.len());
    for [z, x, y] in &msg.tiles {
        let t = u8::try_from(*z)
            .ok()
            .and_then(|z| TileId::new(z, *x, *y).ok())
            .ok_or_else(|| format!("{z}/{x}/{y} is not a tile"))?;
        tiles.push(t);
    }
    let seeder = Arc::new(Seeder::new(Arc::clone(service), renderer, variants));
    if seeder.cache.is_empty() {
        return Err(
            "this function has no persistent cache tier (RASTERZEN_CACHE needs s3://BUCKET/PREFIX)"
                .into(),
        );
    }
    // The tiles on the render pool's workers, none started past the deadline's margin.
    let workers = service.config.render_workers.max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut next = tiles.iter();
    let mut unfinished = 0u64;
    let mut first_error = String::new();
    loop {
        let late = deadline
            .duration_since(SystemTime::now())
            .map_or(true, |left| left < BATCH_MARGIN);
        while set.len() < workers && !late {
            let Some(&t) = next.next() else { break };
            let s = Arc::clone(&seeder);
            set.spawn(async move { (t, s.seed(t).await) });
        }
        if late {
            unfinished = next.len() as u64;
            if unfinished > 0 && first_error.is_empty() {
                first_error =
                    format!("{unfinished} tile(s) not started before the invocation's deadline");
            }
        }
        match set.join_next().await {
            Some(Ok((t, Outcome::Failed(reason)))) => {
                if first_error.is_empty() {
                    first_error = format!("{t}: {reason}");
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                if first_error.is_empty() {
                    first_error = format!("task failed: {e}");
                }
                unfinished += 1;
            }
            None => break,
        }
        if late && set.is_empty() {
            break;
        }
    }
    let s = &seeder.stats;
    let result = BatchResult {
        run: msg.run.clone(),
        batch: msg.batch,
        tiles: tiles.len(),
        rendered: s.get(&s.rendered),
        skipped: s.get(&s.skipped),
        empty: s.get(&s.empty),
        failed: s.get(&s.failed),
        unfinished,
        first_error,
    };
    // The batch's summary object, for progress and post-mortems (`aws s3 cp … - | jq`).
    let summary = json!({
        "run": msg.run, "batch": msg.batch, "attempt": attempt,
        "message_id": record["messageId"], "tiles": result.tiles,
        "rendered": result.rendered, "skipped": result.skipped, "empty": result.empty,
        "failed": result.failed, "unfinished": result.unfinished,
        "failures": s.failures_json(), "bytes_written": s.get(&s.bytes),
        "renderer": msg.renderer, "finished_at_unix_ms": SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
    });
    let key = format!(
        ".seed/{}/batches/{:012}-a{attempt}.json",
        crate::source::slug(&msg.run),
        msg.batch
    );
    if let Err(e) = seeder
        .cache
        .store_everywhere(&key, &bytes::Bytes::from(summary.to_string()))
        .await
    {
        tracing::warn!(key = %key, error = %e, "cannot write the batch summary");
    }
    Ok(result)
}
