//! The command line: the help text and the flags a run takes, read from `std::env::args`
//! into an [`Args`] for `main.rs`'s `run`.

use crate::servers::Kind;
use anyhow::{bail, Context};
use std::path::PathBuf;

const USAGE: &str = "\
journeyboard-bench: Journeyboard vs the reference Node y-websocket server, same shapes, same run

USAGE: journeyboard-bench [--quick] [--servers ours,node] [--only SHAPE,...] [--server-bin PATH]
                          [--measure SECS] [--rounds N] [--json FILE]

  --quick            small shapes, about two minutes in all
  --servers LIST     which servers to run: ours, node (default both); floor is a relay with
                     no document and no store (`relay-floor`), to see what the machine and
                     this generator cost alone (its figures are in the per-run lines and the
                     JSON, not the table)
  --only LIST        shape names to run (fanout, crowd, company, many, join)
  --server-bin PATH  the journeyboard binary (default: build it, release, next to this one)
  --measure SECS     measuring time per shape (default 30, quick 6)
  --rounds N         run each shape N times, the servers taking turns; the table shows
                     medians, and each ratio is the median of the rounds' ratios (default 1)
  --json FILE        also write the JSON line to FILE
";

/// The flags of a run, as `USAGE` describes them.
pub(crate) struct Args {
    pub(crate) quick: bool,
    pub(crate) servers: Vec<Kind>,
    pub(crate) only: Option<Vec<String>>,
    pub(crate) server_bin: Option<PathBuf>,
    pub(crate) measure: Option<f64>,
    pub(crate) rounds: usize,
    pub(crate) json: Option<PathBuf>,
}

/// Reads the flags; `--help` prints `USAGE` and exits.
pub(crate) fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        quick: false,
        servers: vec![Kind::Ours, Kind::Node],
        only: None,
        server_bin: None,
        measure: None,
        rounds: 1,
        json: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--quick" => args.quick = true,
            "--servers" => {
                args.servers = value()?
                    .split(',')
                    .map(|s| match s {
                        "ours" | "journeyboard" => Ok(Kind::Ours),
                        "node" => Ok(Kind::Node),
                        "floor" => Ok(Kind::Floor),
                        other => bail!("unknown server {other:?}"),
                    })
                    .collect::<anyhow::Result<_>>()?
            }
            "--only" => args.only = Some(value()?.split(',').map(String::from).collect()),
            "--server-bin" => args.server_bin = Some(PathBuf::from(value()?)),
            "--measure" => args.measure = Some(value()?.parse()?),
            "--rounds" => {
                args.rounds = value()?.parse()?;
                if args.rounds == 0 {
                    bail!("--rounds must be at least 1");
                }
            }
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?}\n\n{USAGE}"),
        }
    }
    Ok(args)
}
