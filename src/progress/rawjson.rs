//! rawjson: one JSON object per status message, exactly as buildctl's `--progress rawjson`
//! writes BuildKit's `client.SolveStatus` (Go field names, omitempty rules, digests as
//! strings, RFC 3339 times, bytes as base64, two-space indent). Also the reverse, so recorded
//! streams can be replayed. Secrets are masked before a message gets here.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bollard_buildkit_proto::moby::buildkit::v1::{StatusResponse, Vertex, VertexLog, VertexStatus, VertexWarning};
use bollard_buildkit_proto::pb;
use serde_json::Value;

use super::gojson::{parse_rfc3339, rfc3339_nano, Json};
use super::ProgressError;

/// Renders one status message as buildctl's rawjson does (with the trailing newline).
pub fn encode_status(msg: &StatusResponse) -> String {
    let mut out = String::new();
    solve_status(msg).write_indented(&mut out);
    out
}

/// Reads a recorded rawjson stream (concatenated JSON objects) back into status messages.
pub fn decode_stream(text: &str) -> Result<Vec<StatusResponse>, ProgressError> {
    let mut out = Vec::new();
    for (i, value) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
        let value = value.map_err(|e| ProgressError::RawJson { message: i + 1, reason: e.to_string() })?;
        out.push(status_from_json(&value).map_err(|reason| ProgressError::RawJson { message: i + 1, reason })?);
    }
    Ok(out)
}

struct Obj(Vec<(String, Json)>);

impl Obj {
    fn new() -> Self {
        Obj(Vec::new())
    }
    fn put(&mut self, k: &str, v: Json) -> &mut Self {
        self.0.push((k.to_string(), v));
        self
    }
    fn str_omit(&mut self, k: &str, v: &str) -> &mut Self {
        if !v.is_empty() {
            self.put(k, Json::Str(v.to_string()));
        }
        self
    }
    fn int_omit(&mut self, k: &str, v: i64) -> &mut Self {
        if v != 0 {
            self.put(k, Json::Int(v));
        }
        self
    }
    fn bool_omit(&mut self, k: &str, v: bool) -> &mut Self {
        if v {
            self.put(k, Json::Bool(true));
        }
        self
    }
    fn bytes_omit(&mut self, k: &str, v: &[u8]) -> &mut Self {
        if !v.is_empty() {
            self.put(k, b64(v));
        }
        self
    }
    fn time_omit(&mut self, k: &str, v: &Option<bollard_buildkit_proto::google::protobuf::Timestamp>) -> &mut Self {
        if let Some(t) = v {
            self.put(k, Json::Str(rfc3339_nano(t)));
        }
        self
    }
    fn arr_omit(&mut self, k: &str, v: Vec<Json>) -> &mut Self {
        if !v.is_empty() {
            self.put(k, Json::Arr(v));
        }
        self
    }
    fn done(&mut self) -> Json {
        Json::Obj(std::mem::take(&mut self.0))
    }
}

fn b64(v: &[u8]) -> Json {
    Json::Str(B64.encode(v))
}

/// Go's `time.Time{}` (a non-pointer field without omitempty effect) prints as year 1.
fn time_always(v: &Option<bollard_buildkit_proto::google::protobuf::Timestamp>) -> Json {
    match v {
        Some(t) => Json::Str(rfc3339_nano(t)),
        None => Json::Str("0001-01-01T00:00:00Z".to_string()),
    }
}

fn solve_status(msg: &StatusResponse) -> Json {
    let mut o = Obj::new();
    o.arr_omit("vertexes", msg.vertexes.iter().map(vertex).collect())
        .arr_omit("statuses", msg.statuses.iter().map(vertex_status).collect())
        .arr_omit("logs", msg.logs.iter().map(vertex_log).collect())
        .arr_omit("warnings", msg.warnings.iter().map(vertex_warning).collect())
        .done()
}

fn vertex(v: &Vertex) -> Json {
    let mut o = Obj::new();
    o.str_omit("digest", &v.digest)
        .arr_omit("inputs", v.inputs.iter().map(|s| Json::Str(s.clone())).collect())
        .str_omit("name", &v.name)
        .time_omit("started", &v.started)
        .time_omit("completed", &v.completed)
        .bool_omit("cached", v.cached)
        .str_omit("error", &v.error);
    if let Some(g) = &v.progress_group {
        o.put("progressGroup", progress_group(g));
    }
    o.done()
}

fn progress_group(g: &pb::ProgressGroup) -> Json {
    Obj::new().str_omit("id", &g.id).str_omit("name", &g.name).bool_omit("weak", g.weak).done()
}

fn vertex_status(s: &VertexStatus) -> Json {
    let mut o = Obj::new();
    o.put("id", Json::Str(s.id.clone()))
        .str_omit("vertex", &s.vertex)
        .str_omit("name", &s.name)
        .int_omit("total", s.total)
        .put("current", Json::Int(s.current))
        .put("timestamp", time_always(&s.timestamp))
        .time_omit("started", &s.started)
        .time_omit("completed", &s.completed)
        .done()
}

fn vertex_log(l: &VertexLog) -> Json {
    let mut o = Obj::new();
    o.str_omit("vertex", &l.vertex)
        .int_omit("stream", l.stream)
        // A nil []byte marshals as null; the daemon never sends an empty message otherwise.
        .put("data", if l.msg.is_empty() { Json::Null } else { b64(&l.msg) })
        .put("timestamp", time_always(&l.timestamp))
        .done()
}

fn vertex_warning(w: &VertexWarning) -> Json {
    let mut o = Obj::new();
    o.str_omit("vertex", &w.vertex)
        .int_omit("level", w.level)
        .bytes_omit("short", &w.short)
        .arr_omit("detail", w.detail.iter().map(|d| b64(d)).collect())
        .str_omit("url", &w.url);
    if let Some(info) = &w.info {
        o.put("sourceInfo", source_info(info));
    }
    o.arr_omit("range", w.ranges.iter().map(range).collect()).done()
}

fn source_info(i: &pb::SourceInfo) -> Json {
    let mut o = Obj::new();
    o.str_omit("filename", &i.filename).bytes_omit("data", &i.data);
    if let Some(d) = &i.definition {
        o.put("definition", definition(d));
    }
    o.str_omit("language", &i.language).done()
}

fn definition(d: &pb::Definition) -> Json {
    let mut o = Obj::new();
    o.arr_omit("def", d.def.iter().map(|b| b64(b)).collect());
    // `json:"metadata"` without omitempty: a nil map prints as null.
    o.put(
        "metadata",
        if d.metadata.is_empty() {
            Json::Null
        } else {
            Json::Obj(d.metadata.iter().map(|(k, m)| (k.clone(), op_metadata(m))).collect())
        },
    );
    if let Some(src) = &d.source {
        o.put("Source", source(src));
    }
    o.done()
}

fn op_metadata(m: &pb::OpMetadata) -> Json {
    let mut o = Obj::new();
    o.bool_omit("ignore_cache", m.ignore_cache);
    if !m.description.is_empty() {
        o.put("description", Json::Obj(m.description.iter().map(|(k, v)| (k.clone(), Json::Str(v.clone()))).collect()));
    }
    if let Some(e) = &m.export_cache {
        o.put("export_cache", Obj::new().bool_omit("Value", e.value).done());
    }
    o.put(
        "caps",
        if m.caps.is_empty() { Json::Null } else { Json::Obj(m.caps.iter().map(|(k, v)| (k.clone(), Json::Bool(*v))).collect()) },
    );
    if let Some(g) = &m.progress_group {
        o.put("progress_group", progress_group(g));
    }
    o.done()
}

fn source(s: &pb::Source) -> Json {
    let mut o = Obj::new();
    if !s.locations.is_empty() {
        let locs = s
            .locations
            .iter()
            .map(|(k, l)| {
                let list = l.locations.iter().map(|loc| {
                    Obj::new()
                        .int_omit("sourceIndex", i64::from(loc.source_index))
                        .arr_omit("ranges", loc.ranges.iter().map(range).collect())
                        .done()
                });
                (k.clone(), Obj::new().arr_omit("locations", list.collect()).done())
            })
            .collect();
        o.put("locations", Json::Obj(locs));
    }
    o.arr_omit("infos", s.infos.iter().map(source_info).collect()).done()
}

fn range(r: &pb::Range) -> Json {
    let pos = |p: &Option<pb::Position>| {
        let p = p.unwrap_or_default();
        Obj::new().int_omit("line", i64::from(p.line)).int_omit("character", i64::from(p.character)).done()
    };
    Obj::new().put("start", pos(&r.start)).put("end", pos(&r.end)).done()
}

// ---- decoding (recorded fixtures and `--progress rawjson` captures) ----

type Fields<'a> = &'a serde_json::Map<String, Value>;

fn obj(v: &Value) -> Result<Fields<'_>, String> {
    v.as_object().ok_or_else(|| format!("expected an object, found {v}"))
}
fn s(o: Fields, k: &str) -> String {
    o.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}
fn i(o: Fields, k: &str) -> i64 {
    o.get(k).and_then(Value::as_i64).unwrap_or_default()
}
fn b(o: Fields, k: &str) -> bool {
    o.get(k).and_then(Value::as_bool).unwrap_or_default()
}
fn bytes(v: Option<&Value>) -> Result<Vec<u8>, String> {
    match v.and_then(Value::as_str) {
        Some(t) => B64.decode(t).map_err(|e| format!("bad base64: {e}")),
        None => Ok(Vec::new()),
    }
}
fn time(o: Fields, k: &str) -> Result<Option<bollard_buildkit_proto::google::protobuf::Timestamp>, String> {
    match o.get(k).and_then(Value::as_str) {
        Some(t) => parse_rfc3339(t).map(Some).ok_or_else(|| format!("bad time {t:?} in {k}")),
        None => Ok(None),
    }
}
fn list<'a>(o: Fields<'a>, k: &str) -> &'a [Value] {
    o.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn status_from_json(v: &Value) -> Result<StatusResponse, String> {
    let o = obj(v)?;
    let mut msg = StatusResponse::default();
    for v in list(o, "vertexes") {
        let o = obj(v)?;
        msg.vertexes.push(Vertex {
            digest: s(o, "digest"),
            inputs: list(o, "inputs").iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            name: s(o, "name"),
            cached: b(o, "cached"),
            started: time(o, "started")?,
            completed: time(o, "completed")?,
            error: s(o, "error"),
            progress_group: o.get("progressGroup").map(progress_group_from).transpose()?,
        });
    }
    for v in list(o, "statuses") {
        let o = obj(v)?;
        msg.statuses.push(VertexStatus {
            id: s(o, "id"),
            vertex: s(o, "vertex"),
            name: s(o, "name"),
            current: i(o, "current"),
            total: i(o, "total"),
            timestamp: time(o, "timestamp")?,
            started: time(o, "started")?,
            completed: time(o, "completed")?,
        });
    }
    for v in list(o, "logs") {
        let o = obj(v)?;
        msg.logs.push(VertexLog { vertex: s(o, "vertex"), timestamp: time(o, "timestamp")?, stream: i(o, "stream"), msg: bytes(o.get("data"))? });
    }
    for v in list(o, "warnings") {
        let o = obj(v)?;
        msg.warnings.push(VertexWarning {
            vertex: s(o, "vertex"),
            level: i(o, "level"),
            short: bytes(o.get("short"))?,
            detail: list(o, "detail").iter().map(|d| bytes(Some(d))).collect::<Result<_, _>>()?,
            url: s(o, "url"),
            info: o.get("sourceInfo").map(source_info_from).transpose()?,
            ranges: list(o, "range").iter().map(range_from).collect::<Result<_, _>>()?,
        });
    }
    Ok(msg)
}

fn progress_group_from(v: &Value) -> Result<pb::ProgressGroup, String> {
    let o = obj(v)?;
    Ok(pb::ProgressGroup { id: s(o, "id"), name: s(o, "name"), weak: b(o, "weak") })
}

fn source_info_from(v: &Value) -> Result<pb::SourceInfo, String> {
    let o = obj(v)?;
    Ok(pb::SourceInfo {
        filename: s(o, "filename"),
        data: bytes(o.get("data"))?,
        definition: o.get("definition").map(definition_from).transpose()?,
        language: s(o, "language"),
    })
}

fn definition_from(v: &Value) -> Result<pb::Definition, String> {
    let o = obj(v)?;
    let mut metadata = BTreeMap::new();
    if let Some(m) = o.get("metadata").and_then(Value::as_object) {
        for (k, v) in m {
            let mo = obj(v)?;
            let strings = |k: &str| -> BTreeMap<String, String> {
                mo.get(k).and_then(Value::as_object).map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect()).unwrap_or_default()
            };
            metadata.insert(
                k.clone(),
                pb::OpMetadata {
                    ignore_cache: b(mo, "ignore_cache"),
                    description: strings("description"),
                    export_cache: mo.get("export_cache").map(|e| pb::ExportCache { value: e.get("Value").and_then(Value::as_bool).unwrap_or_default() }),
                    caps: mo.get("caps").and_then(Value::as_object).map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_bool().unwrap_or_default())).collect()).unwrap_or_default(),
                    progress_group: mo.get("progress_group").map(progress_group_from).transpose()?,
                },
            );
        }
    }
    let source = match o.get("Source") {
        None => None,
        Some(v) => {
            let so = obj(v)?;
            let mut locations = BTreeMap::new();
            if let Some(m) = so.get("locations").and_then(Value::as_object) {
                for (k, v) in m {
                    let lo = obj(v)?;
                    let mut list_out = Vec::new();
                    for l in list(lo, "locations") {
                        let l = obj(l)?;
                        list_out.push(pb::Location {
                            source_index: i(l, "sourceIndex") as i32,
                            ranges: list(l, "ranges").iter().map(range_from).collect::<Result<_, _>>()?,
                        });
                    }
                    locations.insert(k.clone(), pb::Locations { locations: list_out });
                }
            }
            let infos = list(so, "infos").iter().map(source_info_from).collect::<Result<_, _>>()?;
            Some(pb::Source { locations, infos })
        }
    };
    Ok(pb::Definition {
        def: list(o, "def").iter().map(|d| bytes(Some(d))).collect::<Result<_, _>>()?,
        metadata,
        source,
    })
}

fn range_from(v: &Value) -> Result<pb::Range, String> {
    let o = obj(v)?;
    let pos = |k: &str| -> Option<pb::Position> {
        let p = o.get(k)?.as_object()?;
        Some(pb::Position { line: i(p, "line") as i32, character: i(p, "character") as i32 })
    };
    Ok(pb::Range { start: pos("start"), end: pos("end") })
}
