//! Speaker turns as RTTM (the NIST format diarization tools score):
//! `SPEAKER <file> 1 <start s> <duration s> <NA> <NA> <speaker> <NA> <NA>`.

use std::fmt::Write;

use crate::engine::Turn;

/// One `SPEAKER` line per turn; `name_of` gives the speaker column (no spaces).
pub fn render(file_id: &str, turns: &[Turn], name_of: impl Fn(usize) -> String) -> String {
    let mut out = String::new();
    for turn in turns {
        let start = turn.start_ms as f64 / 1000.0;
        let duration = turn.end_ms.saturating_sub(turn.start_ms) as f64 / 1000.0;
        let _ =
            writeln!(out, "SPEAKER {file_id} 1 {start:.3} {duration:.3} <NA> <NA> {} <NA> <NA>", name_of(turn.speaker));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_turn_in_seconds() {
        let turns =
            [Turn { start_ms: 250, end_ms: 1750, speaker: 0 }, Turn { start_ms: 2000, end_ms: 2500, speaker: 1 }];
        let rttm = render("job1", &turns, |s| format!("S{}", s + 1));
        assert_eq!(
            rttm,
            "SPEAKER job1 1 0.250 1.500 <NA> <NA> S1 <NA> <NA>\nSPEAKER job1 1 2.000 0.500 <NA> <NA> S2 <NA> <NA>\n"
        );
    }
}
