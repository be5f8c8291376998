//! Seeding one tile: skip it when every variant is cached, else fetch its data once, render
//! each missing variant on the service's pool and store it in every persistent cache tier.
//! Shared by the local run and the Lambda function's SQS batches.
//!
//! The key and the bytes are the service's own ([`Service::cache_key_as`], the same renderer and
//! styles), so a seeded tile is exactly what `serve` would render and then serves from cache.
//!
//! Empty tiles (the source has none there) are drawn by the style's background alone: each
//! (zoom, style, format, size, scale) is rendered once per run and the same bytes are stored under
//! every empty tile's key. The renderer is asked twice for the first one, at two positions: when
//! the two differ (a background pattern aligned to the world), empty tiles are rendered one by one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rasterzen_render::{Format, TileId};
use tokio::sync::OnceCell;

use crate::cache::Tiered;
use crate::engine::{NeighbourTile, RenderRequest, Renderer, StyleSpec};
use crate::service::{Kind, Service, TileError};

/// One rendering of every tile: a style, a format and a scale.
#[derive(Debug, Clone)]
pub struct Variant {
    pub style_name: String,
    pub style: StyleSpec,
    pub style_hash: String,
    /// What is stored, as `serve`'s paths name it: the renderer's PNG or SVG, or its PNG made
    /// into WebP or JPEG (as `/webp` and `/jpg` do).
    pub kind: Kind,
    pub scale: u32,
    /// The style draws labels: tiles are drawn with their neighbours (as `serve` draws them).
    pub labelled: bool,
}

/// What `seed` stores (`--formats` and SQS batches name them by [`Kind::name`]).
pub const SEED_KINDS: [Kind; 4] = [Kind::Png, Kind::Svg, Kind::Webp, Kind::Jpg];

impl Variant {
    /// What the renderer is asked for (a WebP or JPEG is made from its PNG).
    pub fn format(&self) -> Format {
        self.kind.format().unwrap_or(Format::Png)
    }

    pub fn label(&self) -> String {
        format!("{} {}@{}x", self.style_name, self.kind.name(), self.scale)
    }
}

/// What became of one tile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// At least one variant rendered from the source's data; bytes stored.
    Rendered(u64),
    /// No data there: the shared empty tile stored; bytes stored.
    Empty(u64),
    /// Every variant already cached.
    Skipped,
    Failed(String),
}

/// Counters of a run (or of one SQS batch).
#[derive(Debug, Default)]
pub struct Stats {
    pub rendered: AtomicU64,
    pub skipped: AtomicU64,
    pub empty: AtomicU64,
    pub failed: AtomicU64,
    /// Variant renders run (an empty tile's shared rendering counts once).
    pub renders: AtomicU64,
    pub bytes: AtomicU64,
    /// reason → (count, first few tiles).
    failures: Mutex<BTreeMap<String, (u64, Vec<String>)>>,
}

impl Stats {
    pub fn record(&self, tile: TileId, outcome: &Outcome) {
        match outcome {
            Outcome::Rendered(b) => {
                self.rendered.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(*b, Ordering::Relaxed);
            }
            Outcome::Empty(b) => {
                self.empty.fetch_add(1, Ordering::Relaxed);
                self.bytes.fetch_add(*b, Ordering::Relaxed);
            }
            Outcome::Skipped => {
                self.skipped.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Failed(reason) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
                let e = f.entry(reason.clone()).or_default();
                e.0 += 1;
                if e.1.len() < 5 {
                    e.1.push(tile.to_string());
                }
            }
        }
    }

    /// Tiles finished in any way.
    pub fn processed(&self) -> u64 {
        self.rendered.load(Ordering::Relaxed)
            + self.skipped.load(Ordering::Relaxed)
            + self.empty.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
    }

    pub fn get(&self, c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// The failures as JSON: `[{reason, count, tiles}]`, most frequent first.
    pub fn failures_json(&self) -> Vec<serde_json::Value> {
        let f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(&String, &(u64, Vec<String>))> = f.iter().collect();
        v.sort_by_key(|b| std::cmp::Reverse(b.1 .0));
        v.into_iter()
            .map(|(reason, (count, tiles))| {
                serde_json::json!({ "reason": reason, "count": count, "tiles": tiles })
            })
            .collect()
    }
}

/// The shared rendering of empty tiles at one zoom for one variant.
#[derive(Debug, Clone)]
enum EmptyTile {
    /// The same bytes wherever the tile is.
    Shared(Bytes),
    /// The background depends on the position (a pattern): render each one.
    PerTile,
}

type EmptyCell = Arc<OnceCell<Result<EmptyTile, String>>>;

/// Seeds tiles into the persistent tiers of a service's cache.
pub struct Seeder {
    pub service: Arc<Service>,
    pub renderer: Arc<dyn Renderer>,
    pub variants: Vec<Variant>,
    /// The persistent tiers (fs, S3): what is checked and written.
    pub cache: Tiered,
    pub stats: Stats,
    empties: Mutex<HashMap<(u8, usize), EmptyCell>>,
}

impl Seeder {
    pub fn new(
        service: Arc<Service>,
        renderer: Arc<dyn Renderer>,
        variants: Vec<Variant>,
    ) -> Seeder {
        let cache = service.cache.persistent();
        Seeder {
            service,
            renderer,
            variants,
            cache,
            stats: Stats::default(),
            empties: Mutex::default(),
        }
    }

    pub fn key(&self, v: &Variant, tile: TileId) -> String {
        self.service.cache_key_as(
            self.renderer.build_id(),
            &v.style_hash,
            v.labelled,
            v.format(),
            v.kind.encoding(),
            v.scale,
            tile,
        )
    }

    /// Seeds one tile and records the outcome in [`Seeder::stats`].
    pub async fn seed(&self, tile: TileId) -> Outcome {
        let outcome = match self.seed_inner(tile).await {
            Ok(o) => o,
            Err(reason) => Outcome::Failed(reason),
        };
        self.stats.record(tile, &outcome);
        outcome
    }

    async fn seed_inner(&self, tile: TileId) -> Result<Outcome, String> {
        let data_tile = self.service.data_tile(tile).map_err(|e| e.to_string())?;
        let mut missing = Vec::new();
        for (i, v) in self.variants.iter().enumerate() {
            let key = self.key(v, tile);
            let cached = self
                .cache
                .contains_everywhere(&key)
                .await
                .map_err(|e| format!("cache check failed: {e}"))?;
            if !cached {
                missing.push((i, key));
            }
        }
        if missing.is_empty() {
            return Ok(Outcome::Skipped);
        }
        let data = self.source_tile(data_tile).await?;
        // The neighbours, once for every variant that draws labels (as `serve` draws them:
        // labels crossing a seam are decided from both tiles' data).
        let labelled = missing.iter().any(|(i, _)| self.variants[*i].labelled);
        let neighbours = if labelled {
            let (n, partial) = self.service.neighbours(tile, None).await;
            if partial {
                // Never store a tile whose seam labels may disagree with its neighbour's.
                return Err(
                    "a neighbour could not be fetched (see the log); left for a later run".into(),
                );
            }
            n
        } else {
            Vec::new()
        };
        let mut bytes = 0u64;
        for (i, key) in missing {
            let around: &[NeighbourTile] = if self.variants[i].labelled {
                &neighbours
            } else {
                &[]
            };
            let body = match &data {
                // Nothing here and no neighbour's label can reach in: the shared empty tile.
                None if around.iter().all(|n| n.data.is_empty()) => {
                    self.empty_tile(tile, i).await?
                }
                d => {
                    let d = d.clone().unwrap_or_default();
                    self.render_with(&d, tile, data_tile, i, around).await?
                }
            };
            bytes += body.len() as u64;
            self.store(&key, &body).await?;
        }
        Ok(if data.is_some() {
            Outcome::Rendered(bytes)
        } else {
            Outcome::Empty(bytes)
        })
    }

    async fn store(&self, key: &str, body: &Bytes) -> Result<(), String> {
        self.cache
            .store_everywhere(key, body)
            .await
            .map_err(|e| format!("cache write failed: {e}"))
    }

    /// The source's tile (through the service's memory of source tiles); `None` when it has
    /// none there.
    pub async fn source_tile(&self, t: TileId) -> Result<Option<Bytes>, String> {
        self.service
            .source_tile(t, None)
            .await
            .map_err(|e| e.to_string())
    }

    /// One render on the service's pool, without neighbours (empty tiles, estimates).
    pub async fn render(
        &self,
        data: &Bytes,
        tile: TileId,
        data_tile: TileId,
        variant: usize,
    ) -> Result<Bytes, String> {
        self.render_with(data, tile, data_tile, variant, &[]).await
    }

    /// One render on the service's pool, with the tiles around it for the label stage.
    pub async fn render_with(
        &self,
        data: &Bytes,
        tile: TileId,
        data_tile: TileId,
        variant: usize,
        neighbours: &[NeighbourTile],
    ) -> Result<Bytes, String> {
        let v = &self.variants[variant];
        let request = RenderRequest {
            tile,
            data_tile: (data_tile != tile).then_some(data_tile),
            format: v.format(),
            size: self.service.config.tile_size,
            scale: v.scale,
            style: v.style.clone(),
            png: self.service.config.png,
            assets: self.service.style_assets(&v.style_name),
            neighbours: neighbours.to_vec(),
        };
        let ticket = self.service.admit().map_err(|e| e.to_string())?;
        let r = Arc::clone(&self.renderer);
        let data = data.clone();
        let out = self
            .service
            .run_render(ticket, move || r.render(&data, &request))
            .await
            .map_err(|e: TileError| e.to_string())?;
        self.stats.renders.fetch_add(1, Ordering::Relaxed);
        self.service.metrics.renders.fetch_add(1, Ordering::Relaxed);
        let png = out
            .map(|r| {
                self.service.warn_once(&r.warnings, &v.style_name);
                Bytes::from(r.bytes)
            })
            .map_err(|e| {
                self.service
                    .metrics
                    .render_failures
                    .fetch_add(1, Ordering::Relaxed);
                format!("render failed: {e}")
            })?;
        let Some(encoding) = v.kind.encoding() else {
            return Ok(png);
        };
        // The same bytes `serve` makes from the same PNG (rasterzen_render::encode).
        let ticket = self.service.admit().map_err(|e| e.to_string())?;
        self.service
            .run_render(ticket, move || {
                rasterzen_render::encode::transcode_png(&png, encoding)
            })
            .await
            .map_err(|e: TileError| e.to_string())?
            .map(Bytes::from)
            .map_err(|e| format!("cannot make the tile a {}: {e}", encoding.name()))
    }

    /// The empty tile for `tile` in variant `i` (shared per zoom and variant when it can be).
    async fn empty_tile(&self, tile: TileId, i: usize) -> Result<Bytes, String> {
        let cell = {
            let mut m = self.empties.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(m.entry((tile.z, i)).or_default())
        };
        let empty = Bytes::new();
        let shared = cell
            .get_or_init(|| async {
                let here = self.render(&empty, tile, tile, i).await?;
                // Another position at the same zoom (a neighbour; at z0 there is none).
                let n = 1u32 << tile.z;
                if n == 1 {
                    return Ok(EmptyTile::Shared(here));
                }
                let other = TileId {
                    z: tile.z,
                    x: (tile.x + n / 2 + 1) % n,
                    y: (tile.y + n / 2 + 1) % n,
                };
                let there = self.render(&empty, other, other, i).await?;
                Ok(if here == there {
                    EmptyTile::Shared(here)
                } else {
                    tracing::info!(zoom = tile.z, variant = %self.variants[i].label(), "the style's background depends on the position: empty tiles are rendered one by one");
                    EmptyTile::PerTile
                })
            })
            .await
            .clone()?;
        match shared {
            EmptyTile::Shared(b) => Ok(b),
            EmptyTile::PerTile => self.render(&empty, tile, tile, i).await,
        }
    }
}

/// The variants of a run: every style × format × scale.
pub async fn variants(
    service: &Service,
    renderer: &Arc<dyn Renderer>,
    styles: &[String],
    kinds: &[Kind],
    scales: &[u32],
) -> anyhow::Result<Vec<Variant>> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for name in styles {
        let (name, spec) = service.style_spec(Some(name.as_str()));
        let hash = service
            .style_hash(renderer, &name, &spec)
            .await
            .map_err(|e| anyhow::anyhow!("style {name}: {e}"))?;
        let labelled =
            service.config.neighbours && service.style_labelled(renderer, &name, &spec).await;
        for &kind in kinds {
            for &scale in scales {
                if seen.insert((name.clone(), kind.name(), scale)) {
                    out.push(Variant {
                        style_name: name.clone(),
                        style: spec.clone(),
                        style_hash: hash.clone(),
                        kind,
                        scale,
                        labelled: labelled && kind != Kind::Geojson,
                    });
                }
            }
        }
    }
    Ok(out)
}
