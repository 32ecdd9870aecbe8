//! Source maps: the file an op came from (a Dockerfile) and the line ranges inside it.
//!
//! The converter makes one `SourceMap` per Dockerfile and attaches ranges to each op through
//! `Constraints::location`; marshalling turns them into `pb::Source` (infos + locations keyed
//! by op digest) so BuildKit can point errors at the right lines. Never reads files itself.

use std::sync::Arc;

use bollard_buildkit_proto::pb;

/// A source file (name, language, contents) ops can point into. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceMap(Arc<SourceFile>);

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SourceFile {
    pub(crate) filename: String,
    pub(crate) language: String,
    pub(crate) data: Vec<u8>,
}

impl SourceMap {
    /// A Dockerfile-language source map (`language` = "Dockerfile", as BuildKit's frontend sets).
    pub fn new(filename: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self::with_language(filename, "Dockerfile", data)
    }

    pub fn with_language(
        filename: impl Into<String>,
        language: impl Into<String>,
        data: impl Into<Vec<u8>>,
    ) -> Self {
        SourceMap(Arc::new(SourceFile {
            filename: filename.into(),
            language: language.into(),
            data: data.into(),
        }))
    }

    pub fn filename(&self) -> &str {
        &self.0.filename
    }

    pub(crate) fn to_info(&self) -> pb::SourceInfo {
        pb::SourceInfo {
            filename: self.0.filename.clone(),
            data: self.0.data.clone(),
            definition: None,
            language: self.0.language.clone(),
        }
    }
}

/// A range of whole lines, 1-based and inclusive, as the Dockerfile parser reports them.
pub fn line_range(start_line: u32, end_line: u32) -> pb::Range {
    range(start_line, 0, end_line, 0)
}

/// A range with explicit characters (both 0-based in BuildKit's convention for characters).
pub fn range(start_line: u32, start_char: u32, end_line: u32, end_char: u32) -> pb::Range {
    let pos = |line: u32, character: u32| pb::Position {
        line: i32::try_from(line).unwrap_or(i32::MAX),
        character: i32::try_from(character).unwrap_or(i32::MAX),
    };
    pb::Range {
        start: Some(pos(start_line, start_char)),
        end: Some(pos(end_line, end_char)),
    }
}
