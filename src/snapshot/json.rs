//! Writing a snapshot as pretty JSON: serde_json's own output, byte for byte, with
//! fewer and larger writes.
//!
//! A snapshot of 50,000 endpoints is about 165 MB, mostly line breaks and
//! indentation. serde_json's `PrettyFormatter` writes the break, then the indent
//! once per level (four or five writes for most lines); [`Pretty`] writes a line's
//! break and indentation as one slice.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

use super::Snapshot;

/// The write buffer of a JSON snapshot: a snapshot of hundreds of megabytes is a few
/// hundred writes, not tens of thousands.
const BUFFER: usize = 1 << 20;

/// Pretty JSON of `snapshot` and a newline, as `serde_json::to_writer_pretty` writes
/// it (`tests::pretty_is_serde_jsons_pretty`).
pub(super) fn write<E: Serialize>(snapshot: &Snapshot<E>, out: &mut dyn Write) -> io::Result<()> {
    let mut buffered = io::BufWriter::with_capacity(BUFFER, out);
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffered, Pretty::default());
    snapshot.serialize(&mut serializer)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// A comma, a line break and the deepest indentation written in one piece: a line
/// break with its indentation is a slice of it.
const BREAKS: &[u8] = b",\n                                                                ";

/// serde_json's `PrettyFormatter` with its default indent (two spaces), each line
/// break written together with its indentation.
#[derive(Debug, Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
}

impl Pretty {
    /// A line break (after a comma, when `comma`) and the current indentation.
    fn line<W: ?Sized + Write>(&self, writer: &mut W, comma: bool) -> io::Result<()> {
        let width = 2 * self.depth;
        let start = usize::from(!comma);
        match BREAKS.get(start..2 + width) {
            Some(piece) => writer.write_all(piece),
            None => {
                writer.write_all(&BREAKS[start..2])?;
                (0..self.depth).try_for_each(|_| writer.write_all(b"  "))
            }
        }
    }

    /// Opens an array or an object (`bracket`), one level deeper.
    fn open<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    /// Closes an array or an object (`bracket`): on a line of its own unless empty.
    fn close<W: ?Sized + Write>(&mut self, writer: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(writer, false)?;
        }
        writer.write_all(bracket)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.line(writer, !first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.line(writer, !first)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_is_serde_jsons_pretty() {
        // Empty and nested containers, and nesting deeper than `BREAKS` indents.
        let mut deep = serde_json::json!({"leaf": [1, {"a": null}]});
        for level in 0..40 {
            deep = serde_json::json!({ "level": level, "inner": deep, "list": [[], {}, [level]] });
        }
        for value in [
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"a": [], "b": {}, "c": [1, 2.5, "x\n\"y\""], "d": {"e": true}}),
            deep,
        ] {
            let mut ours = Vec::new();
            let mut serializer =
                serde_json::Serializer::with_formatter(&mut ours, Pretty::default());
            value.serialize(&mut serializer).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string_pretty(&value).unwrap()
            );
        }
    }
}
