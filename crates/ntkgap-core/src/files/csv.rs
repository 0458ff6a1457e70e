//! [`CsvTable`]: every CSV file ntkgap writes goes through this one writer (the `csv` crate), so
//! that a field holding a comma, a quote or a line break — a record id, say — is quoted the same
//! way everywhere (RFC 4180: quoted only when needed, `"` doubled).

/// A CSV table built in memory: a header, then rows of exactly as many fields.
#[derive(Debug)]
pub struct CsvTable {
    writer: csv::Writer<Vec<u8>>,
    columns: usize,
}

impl CsvTable {
    /// A table with these column names.
    pub fn new<S: AsRef<str>>(header: &[S]) -> Self {
        let mut table = Self { writer: csv::WriterBuilder::new().from_writer(Vec::new()), columns: header.len() };
        table.row(header);
        table
    }

    /// Append one row.
    ///
    /// # Panics
    /// When the row's length differs from the header's (a bug in the caller, not an input).
    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) {
        assert_eq!(fields.len(), self.columns, "CSV row width differs from the header");
        self.writer
            .write_record(fields.iter().map(|f| f.as_ref().as_bytes()))
            .expect("writing CSV into memory cannot fail");
    }

    /// The whole table as text (`\n` line ends, a final newline).
    pub fn into_string(self) -> String {
        let bytes = self.writer.into_inner().expect("flushing CSV into memory cannot fail");
        String::from_utf8(bytes).expect("every field was UTF-8")
    }
}

/// An optional value as a CSV field: empty when absent.
pub fn optional<T: ToString>(value: Option<T>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_commas_quotes_and_newlines_are_quoted_and_plain_ones_are_not() {
        let mut t = CsvTable::new(&["id", "x"]);
        t.row(&["plain", "1"]);
        t.row(&["a,b", "2"]);
        t.row(&["say \"hi\"", "3"]);
        t.row(&["two\nlines", ""]);
        assert_eq!(t.into_string(), "id,x\nplain,1\n\"a,b\",2\n\"say \"\"hi\"\"\",3\n\"two\nlines\",\n");
    }

    #[test]
    #[should_panic(expected = "width")]
    fn a_row_of_the_wrong_width_is_a_bug() {
        CsvTable::new(&["a", "b"]).row(&["1"]);
    }

    #[test]
    fn absent_values_are_empty_fields() {
        assert_eq!(optional(Some(2.5)), "2.5");
        assert_eq!(optional::<u8>(None), "");
    }
}
