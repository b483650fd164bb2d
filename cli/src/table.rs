//! Plain-text tables whose columns are as wide as their widest cell, so long contacts
//! (`whatsapp:6281234567890`, `line:U4af4980629...`) never push a row out of line.

use std::io::Write;

/// A column: its header, and whether numbers in it align right.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The header.
    pub header: &'static str,
    /// Right-aligned (counts).
    pub right: bool,
}

impl Column {
    /// A left-aligned column.
    pub const fn left(header: &'static str) -> Column {
        Column {
            header,
            right: false,
        }
    }

    /// A right-aligned column.
    pub const fn right(header: &'static str) -> Column {
        Column {
            header,
            right: true,
        }
    }
}

/// Writes the header and `rows` with two spaces between columns. The last column is not
/// padded (it holds free text). Widths count characters, and a line break in a cell is shown
/// as a space so every row stays on one line.
pub fn write(
    out: &mut impl Write,
    columns: &[Column],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|cell| one_line(cell)).collect())
        .collect();
    let mut widths: Vec<usize> = columns.iter().map(|c| c.header.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = columns.iter().map(|c| c.header.to_owned()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (column, cell)) in columns.iter().zip(row).enumerate() {
            let last = i + 1 == columns.len();
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
            if column.right {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if !last {
                    line.push_str(&pad);
                }
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// `text` on one line (runs of white space as one space), cut to `width` characters with an
/// ellipsis: for a free-text column whose whole text is elsewhere (`--json`).
pub fn cut(text: &str, width: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() <= width {
        text
    } else {
        let kept: String = text.chars().take(width.saturating_sub(1)).collect();
        format!("{}…", kept.trim_end())
    }
}

fn one_line(cell: &str) -> String {
    cell.split(['\r', '\n'])
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut out = Vec::new();
        write(
            &mut out,
            &[
                Column::left("CONTACT"),
                Column::right("MSGS"),
                Column::left("ACK"),
            ],
            &[
                vec!["+62812".into(), "1".into(), "sent".into()],
                vec![
                    "line:U4af4980629abcdef".into(),
                    "12".into(),
                    "skipped (opted_out)".into(),
                ],
            ],
        )
        .expect("write");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "CONTACT                 MSGS  ACK\n\
             +62812                     1  sent\n\
             line:U4af4980629abcdef    12  skipped (opted_out)\n"
        );
    }

    #[test]
    fn cut_keeps_short_text_and_ends_long_text_with_an_ellipsis() {
        assert_eq!(cut("Halo,\n\n  Kak", 20), "Halo, Kak");
        assert_eq!(cut("Nomor tiket Anda #K7F3Q2", 12), "Nomor tiket…");
        assert_eq!(cut("Nomor tiket Anda #K7F3Q2", 12).chars().count(), 12);
    }

    #[test]
    fn a_line_break_in_a_cell_stays_on_its_row() {
        let mut out = Vec::new();
        write(
            &mut out,
            &[Column::left("TO"), Column::left("BODY")],
            &[vec!["a@b.c".into(), "Halo,\r\n\r\nterima kasih".into()]],
        )
        .expect("write");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "TO     BODY\na@b.c  Halo, terima kasih\n"
        );
    }
}
