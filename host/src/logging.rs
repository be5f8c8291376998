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

/// `s` made safe to log or echo: control characters (newlines, ESC, NUL) become `\u{..}`
/// escapes so a request cannot forge log lines or write raw bytes to a terminal, and anything
/// past `max` characters is cut with an ellipsis.
pub fn printable(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 8));
    for (i, c) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn printable_escapes_controls_and_truncates() {
        assert_eq!(
            super::printable("a\nb\u{1b}[31m\0", 80),
            "a\\u{a}b\\u{1b}[31m\\u{0}"
        );
        assert_eq!(super::printable("abcdef", 3), "abc…");
        assert_eq!(super::printable("Φλωρεντία", 80), "Φλωρεντία");
    }
}
