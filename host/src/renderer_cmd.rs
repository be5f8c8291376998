//! `rasterzen renderer publish|list|activate`: manage renderer versions in a registry.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::cli::EngineArgs;
use crate::engine::registry::Registry;
use crate::engine::wasm::Limits;

#[derive(Debug, Subcommand)]
pub enum RendererCommand {
    /// Validate a renderer component and store it as a new version.
    Publish(PublishArgs),
    /// List the published versions; the active one is marked with `*`.
    List(RegistryArgs),
    /// Make VERSION the active renderer; running hosts pick it up without a restart.
    Activate(ActivateArgs),
    /// Compile a renderer component ahead of time for a portable CPU baseline (x86-64-v2, or
    /// Armv8.1-A for Graviton), so that a host starting on a fresh machine (a Lambda cold start)
    /// loads it in milliseconds instead of compiling it. `build.sh lambda` ships one in its
    /// package.
    Precompile(PrecompileArgs),
}

#[derive(Debug, Args)]
pub struct PrecompileArgs {
    /// The component (.wasm); default: the one built into this binary.
    #[arg(long)]
    pub renderer: Option<PathBuf>,
    /// The directory to write the artifact into (its name is keyed by the component's sha256
    /// and the engine settings, as hosts look it up).
    #[arg(long)]
    pub out: PathBuf,
    /// The architecture of the hosts that will load it (default: this one's). Compiling for
    /// another is how an arm64 Lambda package gets its artifact from an x86_64 build machine.
    #[arg(long, value_enum)]
    pub arch: Option<crate::engine::wasm::Arch>,
}

#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// The registry: a directory or s3://BUCKET/PREFIX.
    #[arg(long, env = "RASTERZEN_REGISTRY")]
    pub registry: String,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The component (.wasm) to publish.
    pub file: PathBuf,
    /// Also make it the active version.
    #[arg(long, env = "RASTERZEN_ACTIVATE")]
    pub activate: bool,
    /// The CPU architectures to precompile it for (repeat the flag or separate with commas), so
    /// hosts of those kinds load it without compiling: a Lambda cold start or a swap then costs
    /// milliseconds instead of 0.4–2 s.
    #[arg(long = "arch", value_enum, value_delimiter = ',', default_values_t = [crate::engine::wasm::Arch::X86_64, crate::engine::wasm::Arch::Aarch64])]
    pub arches: Vec<crate::engine::wasm::Arch>,
    /// Store no precompiled artifacts: every host compiles the version itself.
    #[arg(long, conflicts_with = "arches")]
    pub no_precompile: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct ActivateArgs {
    /// The version to activate (see `rasterzen renderer list`).
    pub version: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// Opens the registry the arguments name, with the engine's limits for validation.
pub fn open_registry(args: &RegistryArgs) -> anyhow::Result<Registry> {
    open_registry_for(&args.registry, &args.engine)
}

/// Opens the registry `spec`; versions load with `engine`'s limits and compiled-artifact cache.
pub fn open_registry_for(spec: &str, engine: &EngineArgs) -> anyhow::Result<Registry> {
    let limits = Limits {
        memory_bytes: engine.memory_limit_mb.saturating_mul(1 << 20),
        deadline: std::time::Duration::from_millis(engine.render_timeout_ms),
    };
    let cache = engine
        .compiled_cache
        .clone()
        .unwrap_or_else(crate::engine::wasm::default_compiled_cache);
    Ok(Registry::open(spec, Some(cache), limits)?.use_artifacts(engine.registry_artifacts))
}

pub fn cmd_renderer(command: RendererCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match command {
            RendererCommand::Publish(args) => {
                let bytes = std::fs::read(&args.file)
                    .with_context(|| format!("cannot read {}", args.file.display()))?;
                let registry = open_registry(&args.registry)?;
                let arches = if args.no_precompile {
                    Vec::new()
                } else {
                    args.arches.clone()
                };
                let manifest = registry
                    .publish(bytes, args.activate, &arches)
                    .await
                    .with_context(|| format!("{} was not published", args.file.display()))?;
                let arches = manifest.precompiled_arches();
                let precompiled = if arches.is_empty() {
                    "not precompiled".to_string()
                } else {
                    format!("precompiled for {}", arches.join(", "))
                };
                println!(
                    "published {} (sha256 {}, interface {}, {precompiled}){}",
                    manifest.version,
                    &manifest.sha256[..16],
                    manifest.interface_version,
                    if args.activate { ", active" } else { "" }
                );
            }
            RendererCommand::List(args) => {
                let registry = open_registry(&args)?;
                let (versions, active) = registry.list().await?;
                if versions.is_empty() {
                    println!("no renderer versions in {}", args.registry);
                }
                for m in versions {
                    let mark = if active.as_deref() == Some(m.version.as_str()) {
                        "*"
                    } else {
                        " "
                    };
                    let arches = m.precompiled_arches();
                    println!(
                        "{mark} {:<24} {}  {:>9} bytes  sha256 {}  precompiled: {}",
                        m.version,
                        m.published_at,
                        m.size_bytes,
                        &m.sha256[..16],
                        if arches.is_empty() {
                            "none".to_string()
                        } else {
                            arches.join(",")
                        }
                    );
                }
            }
            RendererCommand::Activate(args) => {
                let registry = open_registry(&args.registry)?;
                registry.activate(&args.version).await?;
                println!("active: {}", args.version);
            }
            RendererCommand::Precompile(args) => {
                let bytes = match &args.renderer {
                    Some(p) => {
                        std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?
                    }
                    None => crate::engine::wasm::embedded_component()
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "no renderer built into this binary: pass --renderer FILE.wasm"
                            )
                        })?
                        .to_vec(),
                };
                let (name, compiled) = crate::engine::wasm::precompile(&bytes, args.arch)?;
                std::fs::create_dir_all(&args.out)
                    .with_context(|| format!("cannot create {}", args.out.display()))?;
                let path = args.out.join(&name);
                std::fs::write(&path, &compiled)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("{} ({} bytes)", path.display(), compiled.len());
            }
        }
        Ok(())
    })
}
