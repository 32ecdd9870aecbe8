//! Control API calls that need no session: workers, version, disk usage, prune.

use bollard_buildkit_proto::moby::buildkit::v1::{
    control_client::ControlClient, DiskUsageRequest, InfoRequest, ListWorkersRequest, PruneRequest, UsageRecord,
};
use bollard_buildkit_proto::pb;
use serde::Serialize;
use tonic::transport::Channel;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Worker {
    pub id: String,
    pub platforms: Vec<String>,
    pub labels: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Version {
    pub package: String,
    pub version: String,
    pub revision: String,
}

/// One build-cache record, as `buildctl du` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CacheRecord {
    pub id: String,
    pub size: i64,
    pub mutable: bool,
    pub in_use: bool,
    pub shared: bool,
    pub record_type: String,
    pub description: String,
    /// Seconds since the Unix epoch, when known.
    pub last_used: Option<i64>,
}

impl CacheRecord {
    /// Reclaimable as buildctl counts it: neither in use nor shared.
    pub fn reclaimable(&self) -> bool {
        !self.in_use && !self.shared
    }
}

impl From<UsageRecord> for CacheRecord {
    fn from(r: UsageRecord) -> Self {
        CacheRecord {
            id: r.id,
            size: r.size,
            mutable: r.mutable,
            in_use: r.in_use,
            shared: r.shared,
            record_type: r.record_type,
            description: r.description,
            last_used: r.last_used_at.map(|t| t.seconds),
        }
    }
}

/// `os/arch[/variant]`, the way BuildKit prints a platform.
pub fn format_platform(p: &pb::Platform) -> String {
    let mut s = format!("{}/{}", p.os, p.architecture);
    if !p.variant.is_empty() {
        s.push('/');
        s.push_str(&p.variant);
    }
    s
}

pub async fn list_workers(channel: &Channel) -> Result<Vec<Worker>, tonic::Status> {
    let resp = ControlClient::new(channel.clone()).list_workers(ListWorkersRequest::default()).await?.into_inner();
    Ok(resp
        .record
        .into_iter()
        .map(|w| Worker {
            id: w.id,
            platforms: w.platforms.iter().map(format_platform).collect(),
            labels: w.labels.into_iter().collect(),
        })
        .collect())
}

pub async fn info(channel: &Channel) -> Result<Version, tonic::Status> {
    let resp = ControlClient::new(channel.clone()).info(InfoRequest {}).await?.into_inner();
    let v = resp.buildkit_version.unwrap_or_default();
    Ok(Version { package: v.package, version: v.version, revision: v.revision })
}

pub async fn disk_usage(channel: &Channel) -> Result<Vec<CacheRecord>, tonic::Status> {
    let resp = ControlClient::new(channel.clone()).disk_usage(DiskUsageRequest::default()).await?.into_inner();
    let mut records: Vec<CacheRecord> = resp.record.into_iter().map(CacheRecord::from).collect();
    // Largest first, like buildctl du.
    records.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.id.cmp(&b.id)));
    Ok(records)
}

/// Prunes the build cache (`all`: also records that are still shared or recently used)
/// and returns what was removed.
pub async fn prune(channel: &Channel, all: bool) -> Result<Vec<CacheRecord>, tonic::Status> {
    let mut stream =
        ControlClient::new(channel.clone()).prune(PruneRequest { all, ..Default::default() }).await?.into_inner();
    let mut removed = Vec::new();
    while let Some(record) = stream.message().await? {
        removed.push(CacheRecord::from(record));
    }
    Ok(removed)
}
