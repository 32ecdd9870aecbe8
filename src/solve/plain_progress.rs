//! A deliberately tiny plain-text renderer of `Control.Status`, until the progress
//! module takes over: one line when a step starts, when it ends (DONE, CACHED, ERROR,
//! CANCELED) and for each log line. It writes to the writer it is given (the CLI passes
//! stderr); library code never prints by itself.

use std::collections::HashMap;
use std::io::Write;

use bollard_buildkit_proto::moby::buildkit::v1::StatusResponse;
use tokio::sync::mpsc;

/// Renders updates until the stream ends.
pub async fn print_plain(mut updates: mpsc::Receiver<StatusResponse>, mut out: impl Write) {
    let mut numbers: HashMap<String, usize> = HashMap::new();
    let mut ended: std::collections::HashSet<String> = Default::default();
    while let Some(update) = updates.recv().await {
        for v in &update.vertexes {
            let next = numbers.len() + 1;
            let n = *numbers.entry(v.digest.clone()).or_insert(next);
            if v.started.is_some() && v.completed.is_none() && !ended.contains(&v.digest) {
                let _ = writeln!(out, "#{n} {}", v.name);
            }
            if v.completed.is_some() && ended.insert(v.digest.clone()) {
                let state = if !v.error.is_empty() {
                    if v.error.contains("context canceled") { "CANCELED".to_string() } else { format!("ERROR: {}", v.error) }
                } else if v.cached {
                    "CACHED".to_string()
                } else {
                    "DONE".to_string()
                };
                let _ = writeln!(out, "#{n} {} {state}", v.name);
            }
        }
        for log in &update.logs {
            let n = numbers.get(&log.vertex).copied().unwrap_or(0);
            for line in String::from_utf8_lossy(&log.msg).lines() {
                let _ = writeln!(out, "#{n} {line}");
            }
        }
        for w in &update.warnings {
            let _ = writeln!(out, "WARNING: {}", String::from_utf8_lossy(&w.short));
        }
    }
}

/// Collects every vertex's final state (name -> CACHED/DONE/ERROR/CANCELED), for tests and summaries.
pub async fn collect_states(mut updates: mpsc::Receiver<StatusResponse>) -> Vec<(String, String)> {
    let mut states: Vec<(String, String)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    while let Some(update) = updates.recv().await {
        for v in update.vertexes.iter().filter(|v| v.completed.is_some()) {
            let state = if !v.error.is_empty() {
                if v.error.contains("context canceled") { "CANCELED" } else { "ERROR" }
            } else if v.cached {
                "CACHED"
            } else {
                "DONE"
            };
            match index.get(&v.digest) {
                // A step loaded from cache may be completed again later (when its lazy
                // layers are pulled for an export): it stays CACHED unless it failed.
                Some(&i) if states[i].1 == "CACHED" && state == "DONE" => {}
                Some(&i) => states[i].1 = state.to_string(),
                None => {
                    index.insert(v.digest.clone(), states.len());
                    states.push((v.name.clone(), state.to_string()));
                }
            }
        }
    }
    states
}
