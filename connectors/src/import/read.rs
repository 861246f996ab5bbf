//! Readers: CSV, JSON lines and Excel `.xlsx`, each streamed record by record
//! to a visitor, with the record's line (CSV: the line it starts on; JSON
//! lines: its line; xlsx: its row number as Excel shows it). Only the mapped
//! columns are kept, in the plan's order.
//!
//! Memory does not grow with the file: CSV and JSON lines are read through a
//! buffered reader one record at a time; an xlsx sheet is read cell by cell
//! from its compressed XML (calamine's `worksheet_cells_reader`). The one
//! limit: calamine holds the workbook's shared-string table in memory (every
//! distinct text of the workbook once), so a workbook of a million distinct
//! names holds those names; numbers, dates and repeated texts cost nothing.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use calamine::{DataRef, Reader, Xlsx};

use super::mapping::Format;
use super::validate::RawValue;
use super::ImportError;

/// What a reader hands the visitor for each record.
#[derive(Debug)]
pub struct Record {
    /// Line (row) number in the file, 1-based; the header is line 1.
    pub line: u64,
    /// The mapped columns' values (`None`: empty or absent), or why the
    /// record could not be read at all.
    pub values: Result<Vec<Option<RawValue>>, String>,
}

/// Reader options from the mapping.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// xlsx: the sheet (default: the first).
    pub sheet: Option<String>,
    /// CSV delimiter (default `,`).
    pub delimiter: Option<char>,
    /// CSV and JSON lines: the text encoding (default UTF-8).
    pub encoding: Option<&'static encoding_rs::Encoding>,
}

/// The file's bytes as UTF-8: as they are, or decoded from `encoding`.
fn open(
    path: &Path,
    encoding: Option<&'static encoding_rs::Encoding>,
) -> Result<Box<dyn Read>, ImportError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    Ok(match encoding {
        None => Box::new(file),
        Some(e) if e == encoding_rs::UTF_8 => Box::new(file),
        Some(e) => Box::new(Decoded {
            inner: file,
            decoder: e.new_decoder_without_bom_handling(),
            chunk: vec![0; 1 << 16],
            out: Vec::new(),
            at: 0,
            done: false,
        }),
    })
}

/// A reader decoding `inner` from a legacy encoding into UTF-8, chunk by chunk.
struct Decoded {
    inner: File,
    decoder: encoding_rs::Decoder,
    chunk: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl Read for Decoded {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            let n = self.inner.read(&mut self.chunk)?;
            let last = n == 0;
            let room = self
                .decoder
                .max_utf8_buffer_length(n)
                .unwrap_or(4 * n + 16)
                .max(16);
            self.out.resize(room, 0);
            let (_, _, written, _) =
                self.decoder
                    .decode_to_utf8(&self.chunk[..n], &mut self.out, last);
            self.out.truncate(written);
            self.at = 0;
            self.done = last;
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads `path` as `format`, calling `visit` for each record until it returns
/// `false`. `columns` are the column names to keep.
///
/// # Errors
/// [`ImportError::File`] if the file cannot be opened or read, or its header
/// lacks a mapped column.
pub fn read(
    path: &Path,
    format: Format,
    options: &ReadOptions,
    columns: &[String],
    visit: &mut dyn FnMut(Record) -> bool,
) -> Result<(), ImportError> {
    match format {
        Format::Csv => read_csv(path, options, columns, visit),
        Format::Jsonl => read_jsonl(path, options, columns, visit),
        Format::Xlsx => read_xlsx(path, options, columns, visit),
    }
}

fn file_error(path: &Path, why: impl std::fmt::Display) -> ImportError {
    ImportError::File(format!("{}: {why}", path.display()))
}

/// For each wanted column, its index among `header`.
fn positions(
    path: &Path,
    header: &[String],
    columns: &[String],
) -> Result<Vec<usize>, ImportError> {
    let mut missing = Vec::new();
    let mut out = Vec::with_capacity(columns.len());
    for c in columns {
        match header.iter().position(|h| h.trim() == c) {
            Some(i) => out.push(i),
            None => missing.push(c.as_str()),
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(file_error(
            path,
            format!(
                "the header has no column {}; it has: {}",
                missing.join(", "),
                header.join(", ")
            ),
        ))
    }
}

fn read_csv(
    path: &Path,
    options: &ReadOptions,
    columns: &[String],
    visit: &mut dyn FnMut(Record) -> bool,
) -> Result<(), ImportError> {
    let file = open(path, options.encoding)?;
    let delimiter = options.delimiter.unwrap_or(',');
    if !delimiter.is_ascii() {
        return Err(ImportError::Mapping(
            "the CSV delimiter must be one ASCII character".into(),
        ));
    }
    let blanks = Rc::new(RefCell::new(VecDeque::new()));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter as u8)
        .flexible(true)
        .from_reader(LineFeeds::new(file, blanks.clone()));
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(path, format!("cannot read the header: {e}")))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let at = positions(path, &header, columns)?;
    let mut record = csv::StringRecord::new();
    // The csv crate places a record after the previous one's line break, so
    // blank lines before it are counted into its position: add them back.
    let start_line = |p: &csv::Position| -> u64 {
        let mut blanks = blanks.borrow_mut();
        while blanks.front().is_some_and(|&o| o < p.byte()) {
            blanks.pop_front();
        }
        let mut n = 0;
        while blanks.front() == Some(&(p.byte() + n)) {
            blanks.pop_front();
            n += 1;
        }
        p.line() + n
    };
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(line, start_line);
                let values = at
                    .iter()
                    .map(|&i| {
                        record
                            .get(i)
                            .filter(|s| !s.trim().is_empty())
                            .map(|s| RawValue::Text(s.to_string()))
                    })
                    .collect();
                if !visit(Record {
                    line,
                    values: Ok(values),
                }) {
                    return Ok(());
                }
            }
            Err(e) => {
                if let csv::ErrorKind::Io(io) = e.kind() {
                    return Err(file_error(path, io));
                }
                let line = e.position().map_or(line, start_line);
                let why = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => "not UTF-8".to_string(),
                    _ => "not a well-formed CSV record".to_string(),
                };
                if !visit(Record {
                    line,
                    values: Err(why),
                }) {
                    return Ok(());
                }
            }
        }
    }
}

/// The bytes of a CSV file with CRLF line breaks made LF (the csv crate
/// would count the LF of a CRLF as a blank line before the next record), which
/// notes the offset of every blank line's LF (an LF right after an LF) so that
/// records are numbered by the line they start on.
struct LineFeeds {
    inner: BufReader<Box<dyn Read>>,
    chunk: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    offset: u64,
    previous: u8,
    pending_cr: bool,
    blanks: Rc<RefCell<VecDeque<u64>>>,
}

impl LineFeeds {
    fn new(file: Box<dyn Read>, blanks: Rc<RefCell<VecDeque<u64>>>) -> LineFeeds {
        LineFeeds {
            inner: BufReader::with_capacity(1 << 16, file),
            chunk: vec![0; 1 << 16],
            out: Vec::with_capacity(1 << 16),
            at: 0,
            offset: 0,
            previous: 0,
            pending_cr: false,
            blanks,
        }
    }

    fn push(&mut self, b: u8) {
        if b == b'\n' && self.previous == b'\n' {
            self.blanks.borrow_mut().push_back(self.offset);
        }
        self.out.push(b);
        self.offset += 1;
        self.previous = b;
    }
}

impl Read for LineFeeds {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.out.len() {
            self.out.clear();
            self.at = 0;
            let n = self.inner.read(&mut self.chunk)?;
            if n == 0 {
                if self.pending_cr {
                    self.pending_cr = false;
                    self.push(b'\r');
                    break;
                }
                return Ok(0);
            }
            for i in 0..n {
                let b = self.chunk[i];
                if std::mem::take(&mut self.pending_cr) && b != b'\n' {
                    self.push(b'\r');
                }
                if b == b'\r' {
                    self.pending_cr = true;
                } else {
                    self.push(b);
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn read_jsonl(
    path: &Path,
    options: &ReadOptions,
    columns: &[String],
    visit: &mut dyn FnMut(Record) -> bool,
) -> Result<(), ImportError> {
    let file = open(path, options.encoding)?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut buf = Vec::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| file_error(path, e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t.trim().trim_start_matches('\u{feff}'),
            Err(_) => {
                if !visit(Record {
                    line,
                    values: Err("not UTF-8".into()),
                }) {
                    return Ok(());
                }
                continue;
            }
        };
        if text.is_empty() {
            continue;
        }
        let values = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        {
            Ok(object) => Ok(columns
                .iter()
                .map(|c| object.get(c).and_then(json_value))
                .collect()),
            Err(_) => Err("not a JSON object".to_string()),
        };
        if !visit(Record { line, values }) {
            return Ok(());
        }
    }
}

fn json_value(v: &serde_json::Value) -> Option<RawValue> {
    use serde_json::Value as J;
    match v {
        J::Null => None,
        J::String(s) => Some(RawValue::Text(s.clone())),
        J::Bool(b) => Some(RawValue::Bool(*b)),
        J::Number(n) => Some(RawValue::Number(n.to_string())),
        J::Array(_) | J::Object(_) => Some(RawValue::Invalid(
            "expected a single value, found a list or an object".into(),
        )),
    }
}

fn read_xlsx(
    path: &Path,
    options: &ReadOptions,
    columns: &[String],
    visit: &mut dyn FnMut(Record) -> bool,
) -> Result<(), ImportError> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    let mut workbook: Xlsx<_> = Xlsx::new(BufReader::new(file))
        .map_err(|e| file_error(path, format!("not a readable xlsx workbook: {e}")))?;
    let names = workbook.sheet_names();
    let sheet = match &options.sheet {
        Some(s) if names.contains(s) => s.clone(),
        Some(s) => {
            return Err(file_error(
                path,
                format!("no sheet `{s}`; sheets: {}", names.join(", ")),
            ))
        }
        None => names
            .first()
            .cloned()
            .ok_or_else(|| file_error(path, "the workbook has no sheet"))?,
    };
    let mut cells = workbook
        .worksheet_cells_reader(&sheet)
        .map_err(|e| file_error(path, format!("cannot read sheet `{sheet}`: {e}")))?;
    // The header: every cell of the first row that has any.
    let mut header: Vec<String> = Vec::new();
    let mut header_row: Option<u32> = None;
    // Column index → position among `columns`, known once the header is read.
    let mut slot: Vec<Option<usize>> = Vec::new();
    let mut row: Option<(u32, Vec<Option<RawValue>>, bool)> = None;
    let flush = |row: Option<(u32, Vec<Option<RawValue>>, bool)>,
                 visit: &mut dyn FnMut(Record) -> bool|
     -> bool {
        match row {
            Some((r, values, true)) => visit(Record {
                line: u64::from(r) + 1,
                values: Ok(values),
            }),
            _ => true,
        }
    };
    loop {
        let cell = cells
            .next_cell()
            .map_err(|e| file_error(path, format!("sheet `{sheet}`: {e}")))?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        let c = c as usize;
        let r_header = *header_row.get_or_insert(r);
        if r_header == r {
            if header.len() <= c {
                header.resize(c + 1, String::new());
            }
            header[c] = cell_text(cell.get_value());
            continue;
        }
        if slot.is_empty() {
            let at = positions(path, &header, columns)?;
            slot = vec![None; header.len().max(1)];
            for (p, i) in at.into_iter().enumerate() {
                slot[i] = Some(p);
            }
        }
        if row.as_ref().is_none_or(|(current, _, _)| *current != r) {
            if !flush(row.take(), visit) {
                return Ok(());
            }
            row = Some((r, vec![None; columns.len()], false));
        }
        let value = cell_value(cell.get_value());
        if let (Some((_, values, any)), Some(v)) = (row.as_mut(), value) {
            *any = true;
            if let Some(Some(p)) = slot.get(c) {
                values[*p] = Some(v);
            }
        }
    }
    if slot.is_empty() {
        // A sheet with a header and no row: still check the header.
        positions(path, &header, columns)?;
    }
    flush(row, visit);
    Ok(())
}

fn cell_text(v: &DataRef<'_>) -> String {
    match cell_value(v) {
        Some(RawValue::Text(t) | RawValue::Number(t)) => t,
        _ => String::new(),
    }
}

/// A cell as a raw value; `None` for an empty cell.
fn cell_value(v: &DataRef<'_>) -> Option<RawValue> {
    match v {
        DataRef::Empty => None,
        DataRef::String(s) if s.trim().is_empty() => None,
        DataRef::SharedString(s) if s.trim().is_empty() => None,
        DataRef::String(s) => Some(RawValue::Text(s.clone())),
        DataRef::SharedString(s) => Some(RawValue::Text((*s).to_string())),
        DataRef::Int(i) => Some(RawValue::Number(i.to_string())),
        DataRef::Float(f) => Some(RawValue::Number(number_text(*f))),
        DataRef::Bool(b) => Some(RawValue::Bool(*b)),
        DataRef::DateTime(d) if d.is_datetime() => {
            let (y, m, day, h, mi, s, ms) = d.to_ymd_hms_milli();
            match chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(day)) {
                Some(date) if h == 0 && mi == 0 && s == 0 && ms == 0 => Some(RawValue::Date(date)),
                _ => Some(RawValue::Invalid(
                    "a date and time where a date was expected".into(),
                )),
            }
        }
        DataRef::DateTime(d) => Some(RawValue::Number(number_text(d.as_f64()))),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Some(RawValue::Text(s.clone())),
        DataRef::Error(e) => Some(RawValue::Invalid(format!("the cell holds an error ({e})"))),
    }
}

/// A float as Excel users read it: integers without `.0` (up to 2^53, beyond
/// which a float holds no exact integer — an 18-digit ID number typed as a
/// number arrives mangled and is rejected by its check character).
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Values = Result<Vec<Option<RawValue>>, String>;

    fn records(format: Format, text: &str, columns: &[&str]) -> Vec<(u64, Values)> {
        let dir = std::env::temp_dir().join(format!(
            "mandate-read-{}-{}",
            std::process::id(),
            text.len()
        ));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("f");
        let _ = std::fs::write(&path, text);
        let columns: Vec<String> = columns.iter().map(|c| c.to_string()).collect();
        let mut out = Vec::new();
        let result = read(&path, format, &ReadOptions::default(), &columns, &mut |r| {
            out.push((r.line, r.values));
            true
        });
        let _ = std::fs::remove_dir_all(&dir);
        assert!(result.is_ok(), "{result:?}");
        out
    }

    fn text(s: &str) -> Option<RawValue> {
        Some(RawValue::Text(s.to_string()))
    }

    #[test]
    fn csv_records_carry_the_line_they_start_on() {
        let got = records(
            Format::Csv,
            "\u{feff}b,a\r\n1,x\r\n\"2\r\nstill 2\",y\r\n\r\n\n3\n,\n",
            &["a", "b"],
        );
        assert_eq!(
            got,
            vec![
                (2, Ok(vec![text("x"), text("1")])),
                (3, Ok(vec![text("y"), text("2\nstill 2")])),
                (7, Ok(vec![None, text("3")])),
                (8, Ok(vec![None, None])),
            ]
        );
    }

    #[test]
    fn a_gb18030_csv_is_decoded() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("姓名,性别\r\n王芳,女\r\n张伟,男\r\n");
        let dir = std::env::temp_dir().join(format!("mandate-read-gbk-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("f.csv");
        let _ = std::fs::write(&path, &bytes);
        let options = ReadOptions {
            encoding: encoding_rs::Encoding::for_label(b"gbk"),
            ..ReadOptions::default()
        };
        let mut got = Vec::new();
        let result = read(
            &path,
            Format::Csv,
            &options,
            &["性别".to_string(), "姓名".to_string()],
            &mut |r| {
                got.push((r.line, r.values));
                true
            },
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(
            got,
            vec![
                (2, Ok(vec![text("女"), text("王芳")])),
                (3, Ok(vec![text("男"), text("张伟")]))
            ]
        );
    }

    #[test]
    fn json_lines_keep_types_and_reject_what_is_not_an_object() {
        let got = records(
            Format::Jsonl,
            "{\"a\": 1, \"b\": true}\n\n[1]\n{\"a\": null, \"b\": [1]}\n",
            &["a", "b"],
        );
        assert_eq!(
            got[0],
            (
                1,
                Ok(vec![
                    Some(RawValue::Number("1".into())),
                    Some(RawValue::Bool(true))
                ])
            )
        );
        assert_eq!(got[1], (3, Err("not a JSON object".to_string())));
        assert_eq!(got[2].0, 4);
        assert!(
            matches!(&got[2].1, Ok(v) if v[0].is_none() && matches!(v[1], Some(RawValue::Invalid(_))))
        );
    }

    #[test]
    fn a_missing_column_is_named_with_the_header() {
        let dir = std::env::temp_dir().join(format!("mandate-read-missing-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("f.csv");
        let _ = std::fs::write(&path, "a,b\n1,2\n");
        let e = read(
            &path,
            Format::Csv,
            &ReadOptions::default(),
            &["c".to_string()],
            &mut |_| true,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            e.contains("the header has no column c; it has: a, b"),
            "{e}"
        );
    }
}
