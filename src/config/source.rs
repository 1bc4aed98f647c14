//! The configuration file's text and positions inside it.
//!
//! Positions are byte ranges ([`Pos`]); [`SourceFile`] turns them into 1-based
//! line and column numbers (columns count characters, as editors do) and clamps
//! every range to the text, so a wrong offset from the YAML parser can never make
//! a diagnostic panic.

use std::sync::Arc;

/// A byte range in the configuration text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub start: usize,
    pub len: usize,
}

impl Pos {
    pub fn new(start: usize, len: usize) -> Self {
        Pos { start, len }
    }
}

/// A value together with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct At<T> {
    pub pos: Pos,
    pub value: T,
}

impl<T> At<T> {
    pub fn new(pos: Pos, value: T) -> Self {
        At { pos, value }
    }
}

/// The text of one configuration file, with a line index.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// The name shown in messages (the path as given).
    pub name: String,
    pub text: Arc<str>,
    /// Byte offset where each line starts; always holds at least `0`.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: String, text: &str) -> Self {
        let line_starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        SourceFile { name, text: Arc::from(text), line_starts }
    }

    /// 1-based line and character column of byte `offset` (clamped to the text).
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_boundary(offset);
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        (line, column)
    }

    /// Byte offset of 1-based `line` and character `column`, clamped to the text.
    pub fn offset_of(&self, line: usize, column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        let rest = &self.text[start..];
        let skip = column.saturating_sub(1);
        let within = rest.char_indices().nth(skip).map_or(rest.len(), |(i, _)| i);
        start + within
    }

    /// `pos` shrunk to lie inside the text, on character boundaries.
    pub fn clamp(&self, pos: Pos) -> Pos {
        let start = self.floor_boundary(pos.start);
        let end = self.floor_boundary(pos.start.saturating_add(pos.len)).max(start);
        Pos::new(start, end - start)
    }

    /// The text at `pos`, if `pos` is a valid range.
    pub fn slice(&self, pos: Pos) -> &str {
        let pos = self.clamp(pos);
        &self.text[pos.start..pos.start + pos.len]
    }

    fn floor_boundary(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let src = SourceFile::new("f".into(), "ab\nçd: x\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(3), (2, 1));
        assert_eq!(src.line_col(5), (2, 2)); // after the 2-byte 'ç'
        assert_eq!(src.offset_of(2, 2), 5);
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let src = SourceFile::new("f".into(), "é");
        assert_eq!(src.clamp(Pos::new(1, 40)), Pos::new(0, 2));
        assert_eq!(src.line_col(99), (1, 2));
        assert_eq!(src.offset_of(7, 7), 2);
    }
}
