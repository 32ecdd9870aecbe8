//! The `--metadata-file`: the exporter response as JSON, like buildctl writes it (values
//! that are base64 of JSON, such as `containerimage.descriptor`, are embedded as JSON).
//! The file is written atomically.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use base64::Engine;

/// The JSON document for an exporter response.
pub fn metadata_json(response: &BTreeMap<String, String>) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (k, v) in response {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(v)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .filter(|j| j.is_object() || j.is_array());
        out.insert(k.clone(), decoded.unwrap_or_else(|| serde_json::Value::String(v.clone())));
    }
    serde_json::Value::Object(out)
}

/// Writes [`metadata_json`] to `path` through a temporary file in the same directory.
pub fn write_metadata_file(path: &Path, response: &BTreeMap<String, String>) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(&metadata_json(response)).map_err(std::io::Error::other)?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&text)?;
    tmp.write_all(b"\n")?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeds_base64_json() {
        let desc = base64::engine::general_purpose::STANDARD.encode(r#"{"digest":"sha256:ab","size":3}"#);
        let m = BTreeMap::from([
            ("containerimage.digest".to_string(), "sha256:ab".to_string()),
            ("containerimage.descriptor".to_string(), desc),
            ("image.name".to_string(), "localhost:5000/a:1".to_string()),
        ]);
        let j = metadata_json(&m);
        assert_eq!(j["containerimage.descriptor"]["size"], 3);
        assert_eq!(j["containerimage.digest"], "sha256:ab");
        assert_eq!(j["image.name"], "localhost:5000/a:1");
    }
}
