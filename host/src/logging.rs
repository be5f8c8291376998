//! Structured logs with `tracing`, to standard error: level from `--log-level`, else
//! `RUST_LOG`, else `info`; JSON lines with `--log-format json` or when running in AWS Lambda.

use tracing_subscriber::EnvFilter;

use crate::cli::{LogArgs, LogFormat};

pub fn init(args: &LogArgs) {
    let filter = match args.log_level.as_deref().filter(|l| !l.is_empty()) {
        Some(level) => EnvFilter::try_new(level).unwrap_or_else(|e| {
            eprintln!("rasterzen: warning: bad --log-level {level:?} ({e}); using info");
            EnvFilter::new("info")
        }),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let json = match args.log_format {
        Some(f) => f == LogFormat::Json,
        None => std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init()
    };
}
