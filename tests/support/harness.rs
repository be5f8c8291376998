//! Shared pieces of the end-to-end tests: scratch directories, a running `rasterzen serve`,
//! and `moto_server` (a real S3-compatible server). Included by `#[path]` from each test file.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_rasterzen");

pub fn repo() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A scratch directory removed at drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "rasterzen-test-{}-{name}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `rasterzen serve`, killed at drop; its stderr goes to a log file.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: PathBuf,
    _scratch: Scratch,
}

impl Server {
    pub fn start(args: &[&str], envs: &[(&str, &str)]) -> Server {
        let scratch = Scratch::new("server");
        let port = free_port();
        let log = scratch.0.join("stderr.log");
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .args(args);
        // Keep the default cache out of the user's home; keep the caller's RUST_LOG out.
        cmd.env("XDG_CACHE_HOME", scratch.0.join("xdg"))
            .env_remove("RUST_LOG")
            .env("RASTERZEN_LOG_LEVEL", "info");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let child = cmd.spawn().expect("start rasterzen serve");
        let mut server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            _scratch: scratch,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "rasterzen serve exited with {status}:\n{}",
                    server.log_text()
                );
            }
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ =
                    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                let mut buf = String::new();
                let _ = s.read_to_string(&mut buf);
                if buf.starts_with("HTTP/1.1 200") {
                    return server;
                }
            }
            assert!(
                Instant::now() < deadline,
                "rasterzen serve did not come up:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` on a free port, killed at drop.
pub struct Moto {
    pub child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = free_port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start moto_server ({e}): install with: pip install 'moto[server]'")
            });
        let mut moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!(
                    "moto_server exited with {status}: install with: pip install 'moto[server]'"
                );
            }
            assert!(Instant::now() < deadline, "moto_server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn s3_env(endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

/// An S3 client for moto (path-style, test credentials).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let creds = aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The keys under `prefix` in `bucket`.
pub async fn list_keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

/// An SQS client for moto (test credentials).
pub fn sqs_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let creds = aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "test");
    let conf = aws_sdk_sqs::config::Builder::new()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(creds)
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// A child process killed (and reaped) at drop unless taken back with [`Reaped::take`].
pub struct Reaped(pub Option<Child>);

impl Reaped {
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child was taken")
    }

    pub fn take(&mut self) -> Child {
        self.0.take().expect("the child was taken")
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// GDAL's WMS/WMTS block cache goes to a scratch directory: by default it is `./gdalwmscache`
/// in the working directory, and a stale cache could answer a later run.
pub fn gdal_cache() -> &'static std::path::Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("rasterzen-gdal-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    })
}

/// Runs a GDAL tool (Debian's `gdal-bin`), which must succeed; its output.
pub fn gdal(tool: &str, args: &[&str]) -> std::process::Output {
    let out = Command::new(tool)
        .args(args)
        .env("GDAL_DEFAULT_WMS_CACHE_PATH", gdal_cache())
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} is needed for the GDAL client tests ({e}): apt-get install gdal-bin (.ci/run does)")
        });
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The ground of tile `z/x/y`, read by `gdal_translate` from `dataset` (e.g. `WMTS:URL`) at
/// 512 × 512 px into `out` (a PNG), as RGBA.
pub fn gdal_tile_ground(
    dataset: &str,
    (z, x, y): (u8, u32, u32),
    out: &std::path::Path,
) -> image::RgbaImage {
    let half = 20_037_508.342_789_244;
    let size = 2.0 * half / 2f64.powi(i32::from(z));
    let (minx, maxy) = (-half + f64::from(x) * size, half - f64::from(y) * size);
    let win: Vec<String> = [minx, maxy, minx + size, maxy - size]
        .iter()
        .map(|v| format!("{v:.6}"))
        .collect();
    gdal(
        "gdal_translate",
        &[
            "-q",
            "-of",
            "PNG",
            "-outsize",
            "512",
            "512",
            "-projwin",
            &win[0],
            &win[1],
            &win[2],
            &win[3],
            dataset,
            out.to_str().unwrap(),
        ],
    );
    image::open(out).unwrap().to_rgba8()
}
