//! Server settings from flags and environment variables (flags win).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `run` needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The sled store's directory.
    pub data_dir: PathBuf,
    /// The base URL people open (board links start with it). Defaults to `http://{addr}`.
    pub public_url: String,
    /// index.html, CSS, icons and the built client bundle.
    pub static_dir: PathBuf,
    /// How long an empty room stays loaded.
    pub idle_unload: Duration,
    /// Origins (`scheme://host[:port]`) whose pages may open a WebSocket. Empty: the public
    /// URL's origin and the request's own (same-origin). A request without an `Origin` header
    /// (not a browser: a yrs or Node client) is not checked.
    pub allowed_origins: Vec<String>,
    /// Per-connection, per-board and server-wide limits ([`crate::limits`]).
    pub limits: crate::limits::Limits,
    /// Threads of the async runtime: the sockets and rooms. Blocking work (loads,
    /// compactions, exports) and sled's disk writes have threads of their own.
    pub threads: usize,
}

/// One runtime thread by default: relaying is mostly system calls, and on the small machines
/// this is meant for, a second worker bought no latency and cost about 30% more CPU (tasks
/// woken across threads) and more memory (BENCHMARKS.md). `--threads` raises it.
pub const DEFAULT_THREADS: usize = 1;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./journeyboard-data";

/// The static directory next to this crate in the source tree, where the build puts the
/// client bundle.
pub fn default_static_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../static"))
}

pub const USAGE: &str = "\
journeyboard: the Journeyboard server (customer journey mapping workshops)

USAGE: journeyboard [--addr HOST:PORT] [--data-dir DIR] [--public-url URL] [--static-dir DIR]
                    [--allowed-origins ORIGIN,...] [--threads N]
       journeyboard backup DIR [--addr HOST:PORT] [--data-dir DIR]
       journeyboard restore DIR [--data-dir DIR]

  --addr HOST:PORT   where to listen            [env JOURNEYBOARD_ADDR, default 127.0.0.1:8080]
  --data-dir DIR     the sled store's directory [env JOURNEYBOARD_DATA_DIR, default ./journeyboard-data]
  --public-url URL   base URL of board links    [env JOURNEYBOARD_PUBLIC_URL, default http://ADDR]
  --static-dir DIR   client files to serve      [env JOURNEYBOARD_STATIC_DIR, default the source tree's static/]
  --allowed-origins ORIGIN,...
                     pages that may open a WebSocket [env JOURNEYBOARD_ALLOWED_ORIGINS,
                     default the public URL's origin and same-origin requests]
  --threads N        threads serving sockets and rooms [env JOURNEYBOARD_THREADS, default 1]

  backup DIR         write a consistent copy of the store into DIR (new or empty), from the
                     running server at --addr, or from --data-dir if no server runs there
  restore DIR        copy a backup into --data-dir (new or empty; the server must be stopped)
  -h, --help         this text
";

/// Why the command line could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}\n\n{USAGE}")]
    Usage(String),
    #[error("help requested")]
    Help,
}

impl Config {
    /// Reads flags (`args` without the program name) over environment variables over defaults.
    pub fn from_args(
        args: impl IntoIterator<Item = String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut addr = env("JOURNEYBOARD_ADDR").unwrap_or_else(|| DEFAULT_ADDR.into());
        let mut data_dir = env("JOURNEYBOARD_DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.into());
        let mut public_url = env("JOURNEYBOARD_PUBLIC_URL");
        let mut static_dir = env("JOURNEYBOARD_STATIC_DIR").map(PathBuf::from);
        let mut allowed_origins = env("JOURNEYBOARD_ALLOWED_ORIGINS").unwrap_or_default();
        let mut threads = env("JOURNEYBOARD_THREADS");
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                args.next()
                    .ok_or_else(|| ConfigError::Usage(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--addr" => addr = value()?,
                "--data-dir" => data_dir = value()?,
                "--public-url" => public_url = Some(value()?),
                "--static-dir" => static_dir = Some(PathBuf::from(value()?)),
                "--allowed-origins" => allowed_origins = value()?,
                "--threads" => threads = Some(value()?),
                "-h" | "--help" => return Err(ConfigError::Help),
                other => return Err(ConfigError::Usage(format!("unknown argument {other:?}"))),
            }
        }
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| ConfigError::Usage(format!("--addr {addr:?} is not HOST:PORT")))?;
        let threads = match threads {
            None => DEFAULT_THREADS,
            Some(n) => match n.parse::<usize>() {
                Ok(n @ 1..=1024) => n,
                _ => {
                    return Err(ConfigError::Usage(format!(
                        "--threads {n:?} is not a number from 1 to 1024"
                    )))
                }
            },
        };
        Ok(Config {
            public_url: public_url
                .unwrap_or_else(|| format!("http://{addr}"))
                .trim_end_matches('/')
                .to_string(),
            addr,
            data_dir: PathBuf::from(data_dir),
            static_dir: static_dir.unwrap_or_else(default_static_dir),
            idle_unload: crate::room::DEFAULT_IDLE_UNLOAD,
            allowed_origins: allowed_origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
            limits: crate::limits::Limits::default(),
            threads,
        })
    }

    /// Settings for a server on `addr` with its store in `data_dir`, everything else default
    /// (tests and tools).
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            addr,
            data_dir,
            public_url: format!("http://{addr}"),
            static_dir: default_static_dir(),
            idle_unload: crate::room::DEFAULT_IDLE_UNLOAD,
            allowed_origins: Vec::new(),
            limits: crate::limits::Limits::default(),
            threads: DEFAULT_THREADS,
        }
    }

    /// The origin (`scheme://host[:port]`, lower case) of the public URL.
    pub fn public_origin(&self) -> String {
        origin_of(&self.public_url)
    }
}

/// `scheme://host[:port]` of a URL, lower case, without path or trailing slash.
pub fn origin_of(url: &str) -> String {
    let lower = url.trim().to_ascii_lowercase();
    match lower.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}")
        }
        None => lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn flags_override_environment_which_overrides_defaults() {
        let env = |k: &str| (k == "JOURNEYBOARD_ADDR").then(|| "0.0.0.0:9000".to_string());
        let config = Config::from_args(args(&[]), env).unwrap();
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("./journeyboard-data"));
        let config = Config::from_args(
            args(&[
                "--addr",
                "127.0.0.1:7000",
                "--public-url",
                "https://jb.example/",
            ]),
            env,
        )
        .unwrap();
        assert_eq!(config.addr.port(), 7000);
        assert_eq!(config.public_url, "https://jb.example");
        assert_eq!(config.public_origin(), "https://jb.example");
        assert!(config.allowed_origins.is_empty());
        let config = Config::from_args(
            args(&[
                "--allowed-origins",
                "https://A.example/, http://b.example:8080",
            ]),
            env,
        )
        .unwrap();
        assert_eq!(
            config.allowed_origins,
            ["https://a.example", "http://b.example:8080"]
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        let none = |_: &str| None;
        let err = Config::from_args(args(&["--addr", "nowhere"]), none).unwrap_err();
        assert!(err.to_string().contains("not HOST:PORT"));
        assert!(Config::from_args(args(&["--data-dir"]), none).is_err());
        assert!(Config::from_args(args(&["--frobnicate"]), none).is_err());
        for bad in ["0", "many", "-1"] {
            let err = Config::from_args(args(&["--threads", bad]), none).unwrap_err();
            assert!(err.to_string().contains("from 1 to 1024"), "{err}");
        }
    }

    #[test]
    fn threads_come_from_the_flag_or_the_environment() {
        let none = |_: &str| None;
        assert_eq!(
            Config::from_args(args(&[]), none).unwrap().threads,
            DEFAULT_THREADS
        );
        let env = |k: &str| (k == "JOURNEYBOARD_THREADS").then(|| "3".to_string());
        assert_eq!(Config::from_args(args(&[]), env).unwrap().threads, 3);
        let flag = args(&["--threads", "2"]);
        assert_eq!(Config::from_args(flag, env).unwrap().threads, 2);
    }
}
