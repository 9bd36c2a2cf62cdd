//! Places the document's text on A4 pages: the heading (title and job
//! details), then one paragraph per speaker turn under a
//! `[hh:mm:ss] Speaker` line, wrapped at the font's glyph advances, and a
//! `Page N of M` footer on every page.

use steno_runtime::transcript::Transcript;

use super::font::Face;
use crate::render::{Document, speaker_display_name, txt};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
const MARGIN_X: f32 = 60.0;
const MARGIN_TOP: f32 = 64.0;
const MARGIN_BOTTOM: f32 = 64.0;
/// Baseline of the footer, from the bottom edge.
const FOOTER_BASELINE: f32 = 34.0;
/// Width of the label column of the job details ("Duration").
const LABEL_WIDTH: f32 = 68.0;

const TEXT: Color = Color(0.0, 0.0, 0.0);
const MUTED: Color = Color(0.4, 0.4, 0.4);
const ACCENT: Color = Color(0.11, 0.3, 0.55);

const TITLE: Style = Style { bold: true, size: 18.0, leading: 24.0, color: TEXT };
const LABEL: Style = Style { bold: true, size: 10.0, leading: 14.0, color: MUTED };
const DETAIL: Style = Style { bold: false, size: 10.0, leading: 14.0, color: TEXT };
const SPEAKER: Style = Style { bold: true, size: 10.5, leading: 15.0, color: ACCENT };
const BODY: Style = Style { bold: false, size: 10.5, leading: 14.5, color: TEXT };
const FOOTER: Style = Style { bold: false, size: 9.0, leading: 12.0, color: MUTED };
/// Space above each paragraph, and below the heading.
const PARAGRAPH_GAP: f32 = 9.0;

/// An RGB fill colour, each component 0..1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Color(pub f32, pub f32, pub f32);

/// How a line of text looks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Style {
    pub bold: bool,
    /// Font size in points.
    pub size: f32,
    /// Distance from this line's baseline to the next one's.
    leading: f32,
    pub color: Color,
}

/// One run of text in one style, its baseline starting at (`x`, `y`)
/// (points from the bottom-left corner).
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub x: f32,
    pub y: f32,
    pub style: Style,
    /// Text the font can show (see [`Face::printable`]).
    pub text: String,
}

/// The faces text is measured with.
pub struct Faces<'f> {
    pub regular: &'f Face,
    pub bold: &'f Face,
}

impl Faces<'_> {
    fn of(&self, style: Style) -> &Face {
        if style.bold { self.bold } else { self.regular }
    }
}

/// The document's pages, each a list of lines, footer included.
pub fn lay_out(t: &Transcript, doc: &Document, faces: &Faces<'_>) -> Vec<Vec<Line>> {
    let mut pages = Pages { faces, done: Vec::new(), lines: Vec::new(), top: PAGE_HEIGHT - MARGIN_TOP };
    pages.wrapped(TITLE, MARGIN_X, &doc.title);
    pages.skip(PARAGRAPH_GAP / 2.0);
    for (label, value) in details(t, doc) {
        pages.detail(label, &value);
    }
    pages.skip(PARAGRAPH_GAP);
    let paragraphs = txt::paragraphs(t);
    if paragraphs.is_empty() {
        pages.wrapped(Style { color: MUTED, ..BODY }, MARGIN_X, "No speech was transcribed.");
    }
    for paragraph in paragraphs {
        let mut heading = format!("[{}]", clock(paragraph.start_ms));
        if let Some(id) = paragraph.speaker {
            heading = format!("{heading} {}", speaker_display_name(t, id));
        }
        pages.skip(PARAGRAPH_GAP);
        // The heading never ends a page: it moves over with its first line.
        pages.make_room(SPEAKER.leading + BODY.leading);
        pages.wrapped(SPEAKER, MARGIN_X, &heading);
        pages.wrapped(BODY, MARGIN_X, &paragraph.text);
    }
    pages.finish()
}

/// The heading's label/value rows; unknown values are left out.
fn details(t: &Transcript, doc: &Document) -> Vec<(&'static str, String)> {
    let mut rows = Vec::new();
    if !doc.source.is_empty() {
        rows.push(("Source", doc.source.clone()));
    }
    if let Some(date) = doc.date() {
        rows.push(("Date", date));
    }
    rows.push(("Duration", duration(t.duration_ms)));
    if !t.language.is_empty() {
        rows.push(("Language", t.language.clone()));
    }
    if t.labels_speakers() {
        let names: Vec<String> = t.speakers.iter().map(|s| speaker_display_name(t, &s.id)).collect();
        rows.push(("Speakers", names.join(", ")));
    }
    rows
}

/// Pages being filled top to bottom.
struct Pages<'a, 'f> {
    faces: &'a Faces<'f>,
    done: Vec<Vec<Line>>,
    lines: Vec<Line>,
    /// Where the next line's top is, in points from the bottom.
    top: f32,
}

impl Pages<'_, '_> {
    /// `text` wrapped to the text column from `x`, in `style`.
    fn wrapped(&mut self, style: Style, x: f32, text: &str) {
        let face = self.faces.of(style);
        for line in wrap(face, &face.printable(text), style.size, PAGE_WIDTH - MARGIN_X - x) {
            self.line(style, x, line);
        }
    }

    /// A bold label with its value wrapped beside it.
    fn detail(&mut self, label: &str, value: &str) {
        self.make_room(DETAIL.leading);
        let top = self.top;
        self.line(LABEL, MARGIN_X, self.faces.bold.printable(label));
        self.top = top;
        self.wrapped(DETAIL, MARGIN_X + LABEL_WIDTH, value);
    }

    fn line(&mut self, style: Style, x: f32, text: String) {
        self.make_room(style.leading);
        // The baseline sits about a size below the line's top.
        let y = self.top - style.size;
        self.top -= style.leading;
        self.lines.push(Line { x, y, style, text });
    }

    /// Starts a new page unless `height` fits above the bottom margin.
    fn make_room(&mut self, height: f32) {
        if self.top - height < MARGIN_BOTTOM && !self.lines.is_empty() {
            self.done.push(std::mem::take(&mut self.lines));
            self.top = PAGE_HEIGHT - MARGIN_TOP;
        }
    }

    /// Vertical space, dropped at the top of a page.
    fn skip(&mut self, height: f32) {
        if !self.lines.is_empty() {
            self.top -= height;
        }
    }

    /// The pages with their `Page N of M` footers.
    fn finish(mut self) -> Vec<Vec<Line>> {
        if !self.lines.is_empty() || self.done.is_empty() {
            self.done.push(self.lines);
        }
        let count = self.done.len();
        for (i, page) in self.done.iter_mut().enumerate() {
            let text = format!("Page {} of {count}", i + 1);
            let x = (PAGE_WIDTH - self.faces.regular.width(&text, FOOTER.size)) / 2.0;
            page.push(Line { x, y: FOOTER_BASELINE, style: FOOTER, text });
        }
        self.done
    }
}

/// `text` split into lines at most `width` points wide: at spaces, and
/// inside a word only when the word alone is wider.
pub fn wrap(face: &Face, text: &str, size: f32, width: f32) -> Vec<String> {
    let space = face.width(" ", size);
    let mut lines = Vec::new();
    let (mut line, mut line_width) = (String::new(), 0.0);
    for word in text.split_whitespace() {
        let word_width = face.width(word, size);
        if !line.is_empty() && line_width + space + word_width <= width {
            line.push(' ');
            line.push_str(word);
            line_width += space + word_width;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut pieces = split_word(face, word, size, width);
        (line, line_width) = pieces.pop().unwrap_or_default();
        lines.extend(pieces.into_iter().map(|(piece, _)| piece));
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `word` in pieces at most `width` wide (at least one character each),
/// with their widths.
fn split_word(face: &Face, word: &str, size: f32, width: f32) -> Vec<(String, f32)> {
    let mut pieces: Vec<(String, f32)> = vec![(String::new(), 0.0)];
    for c in word.chars() {
        let c_width = face.width(c.encode_utf8(&mut [0; 4]), size);
        match pieces.last_mut() {
            Some((piece, piece_width)) if piece.is_empty() || *piece_width + c_width <= width => {
                piece.push(c);
                *piece_width += c_width;
            }
            _ => pieces.push((c.to_string(), c_width)),
        }
    }
    pieces
}

/// `[hh:mm:ss]`'s inside: hours as two digits or more.
fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `h:mm:ss`.
fn duration(ms: u64) -> String {
    let s = ms / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_at_spaces_within_the_width_and_split_only_overlong_words() {
        let face = Face::regular().expect("font");
        let text = "Пётр пришёл домой, and José Núñez met Σωκράτης at the station before noon.";
        let lines = wrap(&face, text, 10.5, 120.0);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(lines.iter().all(|l| face.width(l, 10.5) <= 120.0), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        let long = "x".repeat(200);
        let pieces = wrap(&face, &format!("a {long} b"), 10.5, 100.0);
        assert_eq!(pieces.concat().replace(' ', ""), format!("a{long}b"));
        assert!(pieces.iter().all(|l| face.width(l, 10.5) <= 100.0), "{pieces:?}");
        assert!(wrap(&face, "  ", 10.5, 100.0).is_empty());
    }

    #[test]
    fn clock_and_duration() {
        assert_eq!(clock(83_999), "00:01:23");
        assert_eq!(clock(360_000_000), "100:00:00");
        assert_eq!(duration(3_723_004), "1:02:03");
        assert_eq!(duration(0), "0:00:00");
    }
}
