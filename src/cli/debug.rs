//! `bentokit debug …`: workers, daemon version, disk usage and prune, as buildctl shows them.

use std::io::Write;

use clap::{Subcommand, ValueEnum};

use super::DaemonArgs;
use crate::solve::control::{self, CacheRecord};

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// List the daemon's workers and their platforms.
    Workers {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show the BuildKit daemon's version.
    Info {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show the build cache's disk usage.
    Du {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Remove build cache.
    Prune {
        /// Remove all cache, not only what the daemon's GC policy considers unused.
        #[arg(long)]
        all: bool,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

pub(super) async fn run(daemon: &DaemonArgs, cmd: DebugCommand) -> anyhow::Result<()> {
    let conn = super::connect(daemon).await?;
    let ch = &conn.channel;
    let mut out = std::io::stdout().lock();
    match cmd {
        DebugCommand::Workers { format } => {
            let workers = control::list_workers(ch).await?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&workers)?)?,
                Format::Table => {
                    let rows = workers.iter().map(|w| vec![w.id.clone(), w.platforms.join(",")]).collect();
                    write_table(&mut out, &["ID", "PLATFORMS"], rows)?;
                }
            }
        }
        DebugCommand::Info { format } => {
            let v = control::info(ch).await?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?,
                Format::Table => writeln!(out, "BuildKit: {} {} {}", v.package, v.version, v.revision)?,
            }
        }
        DebugCommand::Du { format } => {
            let records = control::disk_usage(ch).await?;
            print_records(&mut out, &records, format, true)?;
        }
        DebugCommand::Prune { all, format } => {
            let removed = control::prune(ch, all).await?;
            print_records(&mut out, &removed, format, false)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn print_records(out: &mut impl Write, records: &[CacheRecord], format: Format, du: bool) -> anyhow::Result<()> {
    if format == Format::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(records)?)?;
        return Ok(());
    }
    let rows = records
        .iter()
        .map(|r| {
            let id = if r.mutable { format!("{}*", r.id) } else { r.id.clone() };
            vec![id, r.reclaimable().to_string(), human_size(r.size)]
        })
        .collect();
    write_table(out, &["ID", "RECLAIMABLE", "SIZE"], rows)?;
    let total: i64 = records.iter().map(|r| r.size).sum();
    if du {
        let reclaimable: i64 = records.iter().filter(|r| r.reclaimable()).map(|r| r.size).sum();
        writeln!(out, "Reclaimable:\t{}", human_size(reclaimable))?;
    }
    writeln!(out, "Total:\t\t{}", human_size(total))?;
    Ok(())
}

/// Columns padded with spaces to the widest cell, like Go's tabwriter in buildctl.
fn write_table(out: &mut impl Write, header: &[&str], rows: Vec<Vec<String>>) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len() - 1;
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| if i == last { c.to_string() } else { format!("{c:<w$}", w = widths[i] + 2) })
            .collect::<String>()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// Decimal sizes with four significant digits, as go-units' HumanSize prints them.
pub(crate) fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    // %.4g: four significant digits, trailing zeros dropped.
    let digits_before_point = if size >= 1.0 { size.log10().floor() as i32 + 1 } else { 1 };
    let decimals = (4 - digits_before_point).max(0) as usize;
    let mut text = format!("{size:.decimals$}");
    if text.contains('.') {
        text = text.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{text}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_go_units() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4096), "4.096kB");
        assert_eq!(human_size(12_345_678), "12.35MB");
        assert_eq!(human_size(1_000_000_000), "1GB");
    }

    #[test]
    fn table_pads_columns() {
        let mut out = Vec::new();
        write_table(&mut out, &["ID", "PLATFORMS"], vec![vec!["abc".into(), "linux/amd64".into()]]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "ID   PLATFORMS\nabc  linux/amd64\n");
    }
}
