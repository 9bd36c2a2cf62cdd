//! The embedded DejaVu Sans faces: glyph metrics for layout, and each PDF's
//! subset of them as a CID-keyed TrueType font with a `/ToUnicode` map, so
//! text copied or extracted from the PDF is the transcript's text.

use std::collections::BTreeMap;
use std::io::Write as _;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Filter, Finish, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::GlyphId;

use super::PdfError;

/// Shown, and extracted, instead of a character the font has no glyph for.
const REPLACEMENT: char = '\u{FFFD}';

/// The collection every Identity-H CID font refers to.
const IDENTITY: SystemInfo<'static> = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

/// A parsed face of the embedded font.
pub struct Face {
    /// PostScript name without the subset tag, e.g. `DejaVuSans-Bold`.
    name: &'static str,
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
}

impl Face {
    /// DejaVu Sans.
    pub fn regular() -> Result<Self, PdfError> {
        Self::parse("DejaVuSans", include_bytes!("../../../assets/fonts/DejaVuSans.ttf"))
    }

    /// DejaVu Sans Bold.
    pub fn bold() -> Result<Self, PdfError> {
        Self::parse("DejaVuSans-Bold", include_bytes!("../../../assets/fonts/DejaVuSans-Bold.ttf"))
    }

    fn parse(name: &'static str, data: &'static [u8]) -> Result<Self, PdfError> {
        let face = ttf_parser::Face::parse(data, 0).map_err(|e| PdfError::Font { name, reason: e.to_string() })?;
        Ok(Self { name, data, face })
    }

    /// `text` as this face can show it: control characters dropped, and
    /// characters it has no glyph for replaced by U+FFFD.
    pub fn printable(&self, text: &str) -> String {
        text.chars()
            .filter(|c| !c.is_control())
            .map(|c| if self.face.glyph_index(c).is_some() { c } else { REPLACEMENT })
            .collect()
    }

    /// Width of `text` at `size` points, from the glyphs' advances.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| u32::from(self.advance(self.glyph(c)))).sum();
        units as f32 * size / f32::from(self.face.units_per_em())
    }

    fn glyph(&self, c: char) -> GlyphId {
        self.face.glyph_index(c).unwrap_or_default()
    }

    fn advance(&self, glyph: GlyphId) -> u16 {
        self.face.glyph_hor_advance(glyph).unwrap_or(0)
    }

    /// A length in font units as PDF glyph space (thousandths of the size).
    fn to_pdf_units(&self, units: impl Into<f32>) -> f32 {
        units.into() * 1000.0 / f32::from(self.face.units_per_em())
    }
}

/// The references a font's objects are written at.
#[derive(Clone, Copy)]
pub struct FontRefs {
    pub type0: Ref,
    pub cid: Ref,
    pub descriptor: Ref,
    pub file: Ref,
    pub to_unicode: Ref,
}

/// A face as one PDF uses it: the glyphs its text needs, numbered in order
/// of first use (the subset's glyph ids, which are also the CIDs).
pub struct FontUse<'f> {
    face: &'f Face,
    glyphs: GlyphRemapper,
    /// The character each subset glyph stands for.
    text_of: BTreeMap<u16, char>,
}

impl<'f> FontUse<'f> {
    pub fn new(face: &'f Face) -> Self {
        Self { face, glyphs: GlyphRemapper::new(), text_of: BTreeMap::new() }
    }

    /// `text` (already [`Face::printable`]) as Identity-H codes: two bytes,
    /// the subset glyph id, per character.
    pub fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut codes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let cid = self.glyphs.remap(self.face.glyph(c).0);
            self.text_of.entry(cid).or_insert(c);
            codes.extend(cid.to_be_bytes());
        }
        codes
    }

    /// Writes the Type0 font and its parts: CID font with the glyph widths,
    /// descriptor, subset font program and `/ToUnicode` map.
    pub fn write(&self, pdf: &mut Pdf, refs: FontRefs) -> Result<(), PdfError> {
        let face = self.face;
        let subset = subsetter::subset(face.data, 0, &self.glyphs)
            .map_err(|e| PdfError::Font { name: face.name, reason: format!("cannot subset: {e}") })?;
        let base_name = format!("{}+{}", self.subset_tag(), face.name);
        let base_name = Name(base_name.as_bytes());

        pdf.type0_font(refs.type0)
            .base_font(base_name)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(refs.cid)
            .to_unicode(refs.to_unicode);
        let widths: Vec<f32> =
            self.glyphs.remapped_gids().map(|gid| face.to_pdf_units(face.advance(GlyphId(gid)))).collect();
        let mut cid = pdf.cid_font(refs.cid);
        cid.subtype(CidFontType::Type2)
            .base_font(base_name)
            .system_info(IDENTITY)
            .font_descriptor(refs.descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid.widths().consecutive(0, widths);
        cid.finish();
        self.write_descriptor(pdf, refs, base_name);
        pdf.stream(refs.file, &deflate(&subset)?).filter(Filter::FlateDecode);

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), IDENTITY);
        for (&cid, &c) in &self.text_of {
            cmap.pair(cid, c);
        }
        let cmap = deflate(cmap.finish().as_slice())?;
        pdf.cmap(refs.to_unicode, &cmap).name(Name(b"Custom")).system_info(IDENTITY).filter(Filter::FlateDecode);
        Ok(())
    }

    fn write_descriptor(&self, pdf: &mut Pdf, refs: FontRefs, base_name: Name<'_>) {
        let face = self.face;
        let ttf = &face.face;
        let bbox = ttf.global_bounding_box();
        let weight = f32::from(ttf.weight().to_number());
        pdf.font_descriptor(refs.descriptor)
            .name(base_name)
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                face.to_pdf_units(bbox.x_min),
                face.to_pdf_units(bbox.y_min),
                face.to_pdf_units(bbox.x_max),
                face.to_pdf_units(bbox.y_max),
            ))
            .italic_angle(ttf.italic_angle())
            .ascent(face.to_pdf_units(ttf.ascender()))
            .descent(face.to_pdf_units(ttf.descender()))
            .cap_height(face.to_pdf_units(ttf.capital_height().unwrap_or(ttf.ascender())))
            // The usual estimate from the weight class; readers only hint with it.
            .stem_v(10.0 + 0.244 * (weight - 50.0))
            .font_file2(refs.file);
    }

    /// Six capital letters naming this subset (the PDF convention for
    /// subset fonts), from its glyphs, so equal subsets get equal names.
    fn subset_tag(&self) -> String {
        // FNV-1a over the original glyph ids in subset order.
        let hash = self.glyphs.remapped_gids().fold(0xcbf2_9ce4_8422_2325_u64, |h, gid| {
            gid.to_be_bytes().iter().fold(h, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
        });
        (0..6).map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8)).collect()
    }
}

/// `data` zlib-compressed, for a `/FlateDecode` stream.
pub fn deflate(data: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).map_err(PdfError::Compress)?;
    encoder.finish().map_err(PdfError::Compress)
}
