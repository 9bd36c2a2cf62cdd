//! PDF (`.pdf`) writer: an A4 document of the transcript, laid out by
//! [`layout`] and set in the embedded DejaVu Sans ([`font`]), subset to the
//! glyphs it uses. Text extracts as written (each font has a `/ToUnicode`
//! map), so the PDF can be searched and copied from.

mod font;
mod layout;
#[cfg(test)]
mod tests;

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, TextStr};
use steno_runtime::transcript::Transcript;

use self::font::{Face, FontRefs, FontUse, deflate};
use self::layout::{Faces, Line, PAGE_HEIGHT, PAGE_WIDTH};
use super::Document;

/// Why a PDF could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font {name}: {reason}")]
    Font { name: &'static str, reason: String },
    #[error("cannot compress a stream: {0}")]
    Compress(#[source] std::io::Error),
}

/// Resource names of the two fonts in every page's content.
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// Renders `t` as a PDF document headed by `doc`.
pub fn render_pdf(t: &Transcript, doc: &Document) -> Result<Vec<u8>, PdfError> {
    let (regular, bold) = (Face::regular()?, Face::bold()?);
    let pages = layout::lay_out(t, doc, &Faces { regular: &regular, bold: &bold });
    let mut fonts = [FontUse::new(&regular), FontUse::new(&bold)];
    let contents = pages.iter().map(|lines| page_content(lines, &mut fonts)).collect::<Result<Vec<_>, _>>()?;
    write_document(doc, &contents, &fonts)
}

/// One page's content stream, compressed, drawing `lines` with `fonts`
/// (regular, bold).
fn page_content(lines: &[Line], fonts: &mut [FontUse<'_>; 2]) -> Result<Vec<u8>, PdfError> {
    let mut content = Content::new();
    for line in lines {
        let (font, name) = if line.style.bold { (&mut fonts[1], BOLD) } else { (&mut fonts[0], REGULAR) };
        let codes = font.encode(&line.text);
        let color = line.style.color;
        content.set_fill_rgb(color.0, color.1, color.2);
        content.begin_text();
        content.set_font(name, line.style.size);
        content.next_line(line.x, line.y);
        content.show(pdf_writer::Str(&codes));
        content.end_text();
    }
    deflate(content.finish().as_slice())
}

/// Numbers the document's objects.
struct Refs(i32);

impl Refs {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }

    fn font(&mut self) -> FontRefs {
        FontRefs {
            type0: self.next(),
            cid: self.next(),
            descriptor: self.next(),
            file: self.next(),
            to_unicode: self.next(),
        }
    }
}

/// The whole file: catalog, page tree, pages, fonts and metadata.
fn write_document(doc: &Document, contents: &[Vec<u8>], fonts: &[FontUse<'_>; 2]) -> Result<Vec<u8>, PdfError> {
    let mut refs = Refs(0);
    let (catalog, tree, info) = (refs.next(), refs.next(), refs.next());
    let font_refs = [refs.font(), refs.font()];
    let page_refs: Vec<(Ref, Ref)> = contents.iter().map(|_| (refs.next(), refs.next())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_refs.iter().map(|(page, _)| *page)).count(page_refs.len() as i32);
    for ((page_ref, content_ref), content) in page_refs.iter().zip(contents) {
        let mut page = pdf.page(*page_ref);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree).contents(*content_ref);
        let mut resources = page.resources();
        let mut names = resources.fonts();
        names.pair(REGULAR, font_refs[0].type0).pair(BOLD, font_refs[1].type0);
        names.finish();
        resources.finish();
        page.finish();
        pdf.stream(*content_ref, content).filter(Filter::FlateDecode);
    }
    for (font, refs) in fonts.iter().zip(font_refs) {
        font.write(&mut pdf, refs)?;
    }
    let mut metadata = pdf.document_info(info);
    metadata.title(TextStr(&doc.title)).creator(TextStr("steno")).producer(TextStr("steno-export"));
    metadata.finish();
    Ok(pdf.finish())
}
