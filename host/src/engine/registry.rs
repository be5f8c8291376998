//! The renderer registry: versions of the renderer component kept in a directory or under an
//! S3 prefix, with an `active` pointer. Operators publish a new `.wasm` and activate it; every
//! running host notices the pointer change and swaps renderers without a restart.
//!
//! Layout (the same on disk and in S3):
//! ```text
//! <root>/versions/<version>.wasm   the component
//! <root>/versions/<version>.json   its manifest (version, sha256, interface, publish time, size)
//! <root>/active                    the active version, as text
//! <root>/compiled/<artifact>.cwasm  the component precompiled for a CPU baseline (x86-64-v2,
//!                                   Armv8.1-A), named as hosts look artifacts up
//! ```
//!
//! Precompiled artifacts spare every host that loads a version the Cranelift compile (0.4–2 s of
//! a Lambda cold start or a swap). A host copies the one for its own engine into its compiled
//! cache after checking it against the sha256 the manifest records; one that fails to load there
//! (another CPU, a damaged file) costs a warning and a compile, never the version. A
//! precompiled artifact is native code the host runs unsandboxed, so write access to the
//! registry is trusted like write access to the host's binary (SECURITY.md);
//! `--registry-artifacts false` makes hosts compile every version themselves.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::wasm::{
    artifact_name, hex, precompile, shared_engine, unique_tmp, Arch, Limits, WasmRenderer,
};
use super::{RenderRequest, Renderer, StyleSpec};

/// What the registry records about one version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub version: String,
    /// sha256 of the `.wasm`, hex.
    pub sha256: String,
    /// The WIT interface the component exports (`rasterzen:renderer/render@…`).
    pub interface_version: String,
    /// Publish time, RFC 3339 UTC.
    pub published_at: String,
    pub size_bytes: u64,
    /// The precompiled artifacts stored under `compiled/` (none in registries written before
    /// they existed, or published with `--no-precompile`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compiled: Vec<CompiledArtifact>,
}

impl Manifest {
    /// The architectures it was precompiled for, in publish order.
    pub fn precompiled_arches(&self) -> Vec<&str> {
        self.compiled.iter().map(|c| c.arch.as_str()).collect()
    }
}

/// One precompiled artifact of a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CompiledArtifact {
    /// The CPU architecture it was compiled for (`x86_64`, `aarch64`).
    pub arch: String,
    /// Its file name under `compiled/`: the component's sha256 and the engine's compatibility
    /// hash ([`super::wasm::artifact_name`]).
    pub file: String,
    /// sha256 of the artifact, hex; a host refuses a copy that does not match.
    pub sha256: String,
    pub size_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry {0}: {1}")]
    Storage(String, String),
    #[error("renderer version {0:?} is not in the registry")]
    UnknownVersion(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("invalid registry {0:?}: expected a directory or s3://BUCKET/PREFIX")]
    BadSpec(String),
    /// Not a version name at all (see [`valid_version`]); never used to build a path or key.
    #[error("{0:?} is not a renderer version (letters, digits, . _ + -, at most 64, not starting with a dot)")]
    BadVersion(String),
}

pub use crate::tilepath::valid_version;

/// Where the registry lives.
#[derive(Debug, Clone)]
enum Store {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

/// A registry handle with a cache of loaded versions.
pub struct Registry {
    store: Store,
    compiled_cache: Option<PathBuf>,
    /// Whether loads use the registry's precompiled artifacts.
    use_artifacts: bool,
    limits: Limits,
    loaded: Mutex<HashMap<String, Arc<WasmRenderer>>>,
}

/// A cheap identity of the `active` pointer's current state (S3 ETag or file contents).
pub type PointerTag = String;

impl Registry {
    /// Opens `spec`: a directory path or `s3://BUCKET/PREFIX`.
    pub fn open(
        spec: &str,
        compiled_cache: Option<PathBuf>,
        limits: Limits,
    ) -> Result<Registry, RegistryError> {
        let store = if spec.starts_with("s3://") {
            let (bucket, prefix) = crate::aws::parse_s3_url(spec)
                .ok_or_else(|| RegistryError::BadSpec(spec.into()))?;
            Store::S3 { bucket, prefix }
        } else if spec.is_empty() {
            return Err(RegistryError::BadSpec(spec.into()));
        } else {
            Store::Dir(PathBuf::from(spec))
        };
        Ok(Registry {
            store,
            compiled_cache,
            use_artifacts: true,
            limits,
            loaded: Mutex::default(),
        })
    }

    /// Whether [`Registry::load`] uses the registry's precompiled artifacts (default) or
    /// compiles every version itself.
    pub fn use_artifacts(mut self, yes: bool) -> Registry {
        self.use_artifacts = yes;
        self
    }

    fn describe(&self) -> String {
        match &self.store {
            Store::Dir(d) => d.display().to_string(),
            Store::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }

    fn err(&self, what: impl std::fmt::Display) -> RegistryError {
        RegistryError::Storage(self.describe(), what.to_string())
    }

    fn s3_key(prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}/{name}")
        }
    }

    /// Reads an object; `None` when it does not exist.
    async fn get(&self, name: &str) -> Result<Option<(Vec<u8>, PointerTag)>, RegistryError> {
        match &self.store {
            Store::Dir(dir) => match tokio::fs::read(dir.join(name)).await {
                Ok(bytes) => {
                    let tag = format!("{:x}", Sha256::digest(&bytes));
                    Ok(Some((bytes, tag)))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(self.err(format!("{name}: {e}"))),
            },
            Store::S3 { bucket, prefix } => {
                let client = crate::aws::s3_client().await;
                match client
                    .get_object()
                    .bucket(bucket)
                    .key(Self::s3_key(prefix, name))
                    .send()
                    .await
                {
                    Ok(out) => {
                        let tag = out.e_tag().unwrap_or_default().to_string();
                        let bytes = out
                            .body
                            .collect()
                            .await
                            .map_err(|e| self.err(format!("{name}: {e}")))?;
                        Ok(Some((bytes.to_vec(), tag)))
                    }
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
                    Err(e) => Err(self.err(format!("{name}: {}", crate::aws::error_text(&e)))),
                }
            }
        }
    }

    /// Writes an object atomically (temp file + rename on disk; one PUT in S3).
    async fn put(
        &self,
        name: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), RegistryError> {
        match &self.store {
            Store::Dir(dir) => {
                let path = dir.join(name);
                let parent = path.parent().unwrap_or(dir).to_path_buf();
                tokio::fs::create_dir_all(&parent)
                    .await
                    .map_err(|e| self.err(format!("{}: {e}", parent.display())))?;
                let tmp = parent.join(format!(
                    ".{}.tmp{}",
                    path.file_name().and_then(|n| n.to_str()).unwrap_or("x"),
                    std::process::id()
                ));
                tokio::fs::write(&tmp, &bytes)
                    .await
                    .map_err(|e| self.err(format!("{}: {e}", tmp.display())))?;
                tokio::fs::rename(&tmp, &path)
                    .await
                    .map_err(|e| self.err(format!("{}: {e}", path.display())))?;
                Ok(())
            }
            Store::S3 { bucket, prefix } => {
                let client = crate::aws::s3_client().await;
                client
                    .put_object()
                    .bucket(bucket)
                    .key(Self::s3_key(prefix, name))
                    .content_type(content_type)
                    .body(bytes.into())
                    .send()
                    .await
                    .map_err(|e| self.err(format!("{name}: {}", crate::aws::error_text(&e))))?;
                Ok(())
            }
        }
    }

    /// Names of the manifests present.
    async fn list_manifest_names(&self) -> Result<Vec<String>, RegistryError> {
        match &self.store {
            Store::Dir(dir) => {
                let mut out = Vec::new();
                let mut rd = match tokio::fs::read_dir(dir.join("versions")).await {
                    Ok(rd) => rd,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
                    Err(e) => return Err(self.err(e)),
                };
                while let Some(entry) = rd.next_entry().await.map_err(|e| self.err(e))? {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.ends_with(".json") && !name.starts_with('.') {
                        out.push(format!("versions/{name}"));
                    }
                }
                Ok(out)
            }
            Store::S3 { bucket, prefix } => {
                let client = crate::aws::s3_client().await;
                let list_prefix = Self::s3_key(prefix, "versions/");
                let mut out = Vec::new();
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(&list_prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| self.err(crate::aws::error_text(&e)))?;
                    for obj in page.contents() {
                        if let Some(key) = obj.key().filter(|k| k.ends_with(".json")) {
                            out.push(format!("versions/{}", &key[list_prefix.len()..]));
                        }
                    }
                }
                Ok(out)
            }
        }
    }

    /// Validates a component and stores it as a new version; optionally activates it.
    ///
    /// Validation: it compiles, imports nothing, exports this host's WIT interface, reports a
    /// version, and renders a smoke tile to a PNG of the right size. A broken upload is refused
    /// before anything is written. Then it is precompiled for each of `arches` (stored under
    /// `compiled/`, listed in the manifest), so hosts of those architectures load it without
    /// compiling.
    pub async fn publish(
        &self,
        bytes: Vec<u8>,
        activate: bool,
        arches: &[Arch],
    ) -> Result<Manifest, RegistryError> {
        let limits = self.limits;
        let cache = self.compiled_cache.clone();
        let (renderer, bytes) = tokio::task::spawn_blocking(move || {
            let r = WasmRenderer::load(&bytes, cache.as_deref(), limits).map(|(r, _)| r);
            (r, bytes)
        })
        .await
        .map_err(|e| RegistryError::Refused(format!("validation crashed: {e}")))?;
        let renderer = renderer.map_err(|e| RegistryError::Refused(e.to_string()))?;
        let renderer = Arc::new(renderer);
        let smoke = Arc::clone(&renderer);
        tokio::task::spawn_blocking(move || smoke_test(&*smoke))
            .await
            .map_err(|e| RegistryError::Refused(format!("smoke test crashed: {e}")))?
            .map_err(RegistryError::Refused)?;
        let version = renderer.version().to_string();
        if !valid_version(&version) {
            return Err(RegistryError::Refused(format!(
                "version {version:?} is not a valid name (letters, digits, . _ + -)"
            )));
        }
        let mut compiled = Vec::new();
        for &arch in arches {
            let (file, artifact) = self.precompiled(&bytes, arch).await?;
            compiled.push(CompiledArtifact {
                arch: arch.name().to_string(),
                sha256: hex(&Sha256::digest(&artifact)),
                size_bytes: artifact.len() as u64,
                file: file.clone(),
            });
            // Artifacts before the manifest that lists them: a host never sees a listed artifact
            // that is not there yet.
            self.put(
                &format!("compiled/{file}"),
                artifact,
                "application/octet-stream",
            )
            .await?;
        }
        let manifest = Manifest {
            version: version.clone(),
            sha256: renderer.sha256().to_string(),
            interface_version: rasterzen_render::INTERFACE_VERSION.to_string(),
            published_at: rfc3339_now(),
            size_bytes: bytes.len() as u64,
            compiled,
        };
        self.put(
            &format!("versions/{version}.wasm"),
            bytes,
            "application/wasm",
        )
        .await?;
        let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        self.put(
            &format!("versions/{version}.json"),
            json,
            "application/json",
        )
        .await?;
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(version.clone(), renderer);
        if activate {
            self.activate(&version).await?;
        }
        Ok(manifest)
    }

    /// `bytes` precompiled for `arch`'s portable baseline, compiled here and now: never a
    /// file of the local compiled cache, which may hold what another registry supplied.
    async fn precompiled(
        &self,
        bytes: &[u8],
        arch: Arch,
    ) -> Result<(String, Vec<u8>), RegistryError> {
        let bytes = bytes.to_vec();
        tokio::task::spawn_blocking(move || precompile(&bytes, Some(arch)))
            .await
            .map_err(|e| RegistryError::Refused(format!("precompiling crashed: {e}")))?
            .map_err(|e| {
                RegistryError::Refused(format!("cannot precompile for {}: {e}", arch.name()))
            })
    }

    /// Where loaded versions' compiled artifacts are cached: with registry artifacts on, a
    /// `registry/` directory of the compiled cache of its own, so that turning them off leaves
    /// the host loading only what it compiled itself (and what its deployment shipped).
    fn load_cache(&self) -> Option<PathBuf> {
        self.compiled_cache
            .as_ref()
            .map(|d| match self.use_artifacts {
                true => d.join("registry"),
                false => d.clone(),
            })
    }

    /// Puts the registry's precompiled artifact of `manifest` for this host's engine into the
    /// compiled cache, if the registry has one and the cache lacks it. Best effort: without it
    /// the load compiles (and says so).
    async fn fetch_artifact(&self, manifest: &Manifest) {
        let Some(dir) = self.load_cache().filter(|_| self.use_artifacts) else {
            return;
        };
        let dir = &dir;
        let name = artifact_name(shared_engine(), &manifest.sha256);
        let path = dir.join(&name);
        if path.is_file() {
            return;
        }
        let version = &manifest.version;
        let Some(listed) = manifest.compiled.iter().find(|c| c.file == name) else {
            tracing::info!(version = %version, "the registry has no precompiled artifact of this version for this host's engine; compiling it (publish it with this host's release to add one)");
            return;
        };
        let artifact = match self.get(&format!("compiled/{name}")).await {
            Ok(Some((artifact, _))) => artifact,
            Ok(None) => {
                tracing::warn!(version = %version, artifact = %name, "the manifest lists a precompiled artifact the registry does not hold; compiling instead");
                return;
            }
            Err(e) => {
                tracing::warn!(version = %version, error = %e, "cannot read the precompiled artifact; compiling instead");
                return;
            }
        };
        if hex(&Sha256::digest(&artifact)) != listed.sha256 {
            tracing::warn!(version = %version, artifact = %name, "the registry's precompiled artifact does not match the sha256 of its manifest; compiling instead (publish the version again to replace it)");
            return;
        }
        let written = async {
            tokio::fs::create_dir_all(dir).await?;
            let tmp = unique_tmp(&path);
            tokio::fs::write(&tmp, &artifact).await?;
            tokio::fs::rename(&tmp, &path).await
        };
        if let Err(e) = written.await {
            tracing::warn!(version = %version, cache = %dir.display(), error = %e, "cannot store the registry's precompiled artifact in the compiled cache; compiling instead");
        }
    }

    /// Every published version, oldest first, and the active one.
    pub async fn list(&self) -> Result<(Vec<Manifest>, Option<String>), RegistryError> {
        let mut manifests = Vec::new();
        for name in self.list_manifest_names().await? {
            if let Some((bytes, _)) = self.get(&name).await? {
                match serde_json::from_slice::<Manifest>(&bytes) {
                    Ok(m) => manifests.push(m),
                    Err(e) => return Err(self.err(format!("{name}: bad manifest: {e}"))),
                }
            }
        }
        manifests.sort_by(|a, b| {
            a.published_at
                .cmp(&b.published_at)
                .then(a.version.cmp(&b.version))
        });
        Ok((manifests, self.active().await?.map(|(v, _)| v)))
    }

    /// Points `active` at `version` (which must be published).
    pub async fn activate(&self, version: &str) -> Result<(), RegistryError> {
        if !valid_version(version) {
            return Err(RegistryError::BadVersion(version.to_string()));
        }
        if self
            .get(&format!("versions/{version}.json"))
            .await?
            .is_none()
        {
            return Err(RegistryError::UnknownVersion(version.to_string()));
        }
        self.put("active", format!("{version}\n").into_bytes(), "text/plain")
            .await
    }

    /// The active version and the pointer's tag, if a version is active.
    pub async fn active(&self) -> Result<Option<(String, PointerTag)>, RegistryError> {
        Ok(self
            .get("active")
            .await?
            .map(|(bytes, tag)| (String::from_utf8_lossy(&bytes).trim().to_string(), tag)))
    }

    /// Loads a version (once; later calls share it), checking the stored sha256.
    pub async fn load(&self, version: &str) -> Result<Arc<WasmRenderer>, RegistryError> {
        if !valid_version(version) {
            return Err(RegistryError::BadVersion(version.to_string()));
        }
        if let Some(r) = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(version)
        {
            return Ok(Arc::clone(r));
        }
        let (manifest, _) = self
            .get(&format!("versions/{version}.json"))
            .await?
            .ok_or_else(|| RegistryError::UnknownVersion(version.into()))?;
        let manifest: Manifest = serde_json::from_slice(&manifest)
            .map_err(|e| self.err(format!("{version}: bad manifest: {e}")))?;
        let (bytes, _) = self
            .get(&format!("versions/{version}.wasm"))
            .await?
            .ok_or_else(|| RegistryError::UnknownVersion(version.into()))?;
        // The manifest's sha256 names files (the artifact, in the registry and in the compiled
        // cache): 64 hex digits, and the `.wasm`'s own, before anything is fetched under it.
        let is_sha = manifest.sha256.len() == 64
            && manifest
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !is_sha || hex(&Sha256::digest(&bytes)) != manifest.sha256 {
            return Err(RegistryError::Refused(format!(
                "version {version}: sha256 does not match its manifest"
            )));
        }
        let started = std::time::Instant::now();
        self.fetch_artifact(&manifest).await;
        let limits = self.limits;
        let cache = self.load_cache();
        let (renderer, path) = tokio::task::spawn_blocking(move || {
            WasmRenderer::load(&bytes, cache.as_deref(), limits)
        })
        .await
        .map_err(|e| RegistryError::Refused(format!("load crashed: {e}")))?
        .map_err(|e| RegistryError::Refused(format!("version {version}: {e}")))?;
        tracing::info!(version = %version, load = ?path, ms = started.elapsed().as_millis() as u64, "renderer version loaded");
        if renderer.version() != version {
            return Err(RegistryError::Refused(format!(
                "version {version}: the component says it is {:?}",
                renderer.version()
            )));
        }
        let renderer = Arc::new(renderer);
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(version.to_string(), Arc::clone(&renderer));
        Ok(renderer)
    }
}

/// Renders a small real tile (the conformance suite's polygon fixture) and checks the PNG.
pub fn smoke_test(renderer: &dyn Renderer) -> Result<(), String> {
    const TILE: &[u8] =
        include_bytes!("../../../tests/fixtures/mvt-fixtures/fixtures/019/tile.mvt");
    let request = RenderRequest {
        tile: rasterzen_render::TileId { z: 0, x: 0, y: 0 },
        data_tile: None,
        format: rasterzen_render::Format::Png,
        size: 256,
        scale: 1,
        style: StyleSpec::Builtin("default".into()),
        png: Default::default(),
        assets: Default::default(),
        neighbours: Vec::new(),
    };
    let png = renderer
        .render(TILE, &request)
        .map_err(|e| format!("smoke render failed: {e}"))?
        .bytes;
    let is_png = png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR";
    let (w, h) = if is_png {
        (
            u32::from_be_bytes(png[16..20].try_into().unwrap_or_default()),
            u32::from_be_bytes(png[20..24].try_into().unwrap_or_default()),
        )
    } else {
        (0, 0)
    };
    if (w, h) != (256, 256) {
        return Err(format!(
            "smoke render did not produce a 256×256 PNG (got {} bytes, {w}×{h})",
            png.len()
        ));
    }
    Ok(())
}

/// Polls the registry's `active` pointer and swaps the service's renderer when it changes.
/// A version that fails to load is logged and skipped: the host keeps serving the old one.
pub fn spawn_watcher(
    registry: Arc<Registry>,
    every: Duration,
    mut current_tag: Option<PointerTag>,
    swap: impl Fn(Arc<dyn Renderer>) + Send + Sync + 'static,
) {
    tokio::spawn(async move {
        let mut failed_tag: Option<PointerTag> = None;
        loop {
            tokio::time::sleep(every).await;
            let (version, tag) = match registry.active().await {
                Ok(Some(active)) => active,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the renderer registry's active pointer");
                    continue;
                }
            };
            if current_tag.as_ref() == Some(&tag) || failed_tag.as_ref() == Some(&tag) {
                continue;
            }
            match registry.load(&version).await {
                Ok(renderer) => {
                    tracing::info!(version = %version, "renderer swapped");
                    swap(renderer);
                    current_tag = Some(tag);
                    failed_tag = None;
                }
                Err(e) => {
                    tracing::error!(version = %version, error = %e, "new active renderer failed to load; keeping the current one");
                    failed_tag = Some(tag);
                }
            }
        }
    });
}

fn rfc3339_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
