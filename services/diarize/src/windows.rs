//! Where the encoder looks. Speech is cut into segments at the VAD's pauses,
//! and windows never cross a pause: a window straddling a change of speaker
//! gets an embedding between the two voices, which blurs the clusters.
//!
//! - A segment of at least `WINDOW_FRAMES` (1.6 s) gets windows of that
//!   length every `STEP_FRAMES` (0.75 s), the last one ending at its end.
//! - A segment of `MIN_FRAMES` (0.5 s) up to 1.6 s gets one shorter window,
//!   its centre trimmed to a multiple of `LENGTH_QUANTUM` frames so that
//!   windows of equal length can be encoded as one batch.
//! - Shorter segments get no window and take the label of the nearest one.

/// Frames per full window: 160 × 10 ms = 1.6 s, the encoder's training length.
pub const WINDOW_FRAMES: usize = 160;
/// Step between windows in a segment: 75 frames = 0.75 s.
const STEP_FRAMES: usize = 75;
/// The shortest segment that gets its own window: 50 frames = 0.5 s.
const MIN_FRAMES: usize = 50;
const LENGTH_QUANTUM: usize = 10;

/// A run of speech: `[start, end)` as indices into the speech stream (the
/// list of speech frame indices), which are consecutive frames in the audio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start: usize,
    pub end: usize,
}

/// `len` stream frames from `start`, inside segment number `segment`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: usize,
    pub len: usize,
    pub segment: usize,
}

impl Window {
    pub fn is_full(&self) -> bool {
        self.len == WINDOW_FRAMES
    }
    fn centre(&self) -> usize {
        self.start + self.len / 2
    }
}

/// The speech stream (indices of speech frames) and its segments.
pub fn segments(speech: &[bool]) -> (Vec<usize>, Vec<Segment>) {
    let stream: Vec<usize> = (0..speech.len()).filter(|&i| speech[i]).collect();
    let mut segments: Vec<Segment> = Vec::new();
    for (s, &frame) in stream.iter().enumerate() {
        match segments.last_mut() {
            Some(seg) if s > 0 && stream[s - 1] + 1 == frame => seg.end = s + 1,
            _ => segments.push(Segment { start: s, end: s + 1 }),
        }
    }
    (stream, segments)
}

pub fn place_windows(segments: &[Segment]) -> Vec<Window> {
    let mut windows = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let len = seg.end - seg.start;
        if len >= WINDOW_FRAMES {
            let last = seg.end - WINDOW_FRAMES;
            let mut start = seg.start;
            while start < last {
                windows.push(Window { start, len: WINDOW_FRAMES, segment: i });
                start += STEP_FRAMES;
            }
            windows.push(Window { start: last, len: WINDOW_FRAMES, segment: i });
        } else if len >= MIN_FRAMES {
            let trimmed = len / LENGTH_QUANTUM * LENGTH_QUANTUM;
            windows.push(Window { start: seg.start + (len - trimmed) / 2, len: trimmed, segment: i });
        }
    }
    windows
}

/// Per-frame labels (`None` outside speech) for `frame_count` frames: each
/// speech frame takes the label of the nearest window centre in its segment;
/// a segment without windows takes the label of the window whose centre is
/// nearest its own (in audio time).
pub fn label_frames(
    stream: &[usize],
    segments: &[Segment],
    windows: &[Window],
    labels: &[usize],
    frame_count: usize,
) -> Vec<Option<usize>> {
    let mut out = vec![None; frame_count];
    if windows.is_empty() {
        return out;
    }
    let mut first = 0; // first window of the current segment
    for (i, seg) in segments.iter().enumerate() {
        while first < windows.len() && windows[first].segment < i {
            first += 1;
        }
        let own = &windows[first..first + windows[first..].iter().take_while(|w| w.segment == i).count()];
        if own.is_empty() {
            let centre = stream[(seg.start + seg.end) / 2];
            let w = (0..windows.len()).min_by_key(|&w| stream[windows[w].centre()].abs_diff(centre)).unwrap_or(0);
            for &frame in &stream[seg.start..seg.end] {
                out[frame] = Some(labels[w]);
            }
            continue;
        }
        // Centres rise with the window index, so the nearest one to `s` is
        // the first centre at or after it, or the one before that.
        for s in seg.start..seg.end {
            let after = own.partition_point(|w| w.centre() < s);
            let w = match after {
                0 => 0,
                a if a == own.len() => a - 1,
                a if s - own[a - 1].centre() <= own[a].centre() - s => a - 1,
                a => a,
            };
            out[stream[s]] = Some(labels[first + w]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_the_stream_at_pauses() {
        let mut speech = vec![false; 10];
        speech[2..5].fill(true);
        speech[7..9].fill(true);
        let (stream, segs) = segments(&speech);
        assert_eq!(stream, vec![2, 3, 4, 7, 8]);
        assert_eq!(segs, vec![Segment { start: 0, end: 3 }, Segment { start: 3, end: 5 }]);
    }

    #[test]
    fn windows_stay_inside_segments() {
        let segs = [
            Segment { start: 0, end: 400 },   // 1.6 s windows
            Segment { start: 400, end: 437 }, // too short
            Segment { start: 437, end: 560 }, // one 120-frame window
        ];
        let w = place_windows(&segs);
        let starts: Vec<(usize, usize, usize)> = w.iter().map(|w| (w.start, w.len, w.segment)).collect();
        assert_eq!(starts, vec![(0, 160, 0), (75, 160, 0), (150, 160, 0), (225, 160, 0), (240, 160, 0), (438, 120, 2)]);
    }

    #[test]
    fn frames_take_the_nearest_window_in_their_segment() {
        // Two segments in the audio: frames 0..200 and 260..300 (too short).
        let mut speech = vec![false; 320];
        speech[0..200].fill(true);
        speech[260..300].fill(true);
        let (stream, segs) = segments(&speech);
        let windows = place_windows(&segs); // starts 0 and 40: centres 80 and 120
        assert_eq!(windows.len(), 2);
        let labels = label_frames(&stream, &segs, &windows, &[7, 9], speech.len());
        assert_eq!(labels[0], Some(7));
        assert_eq!(labels[100], Some(7));
        assert_eq!(labels[101], Some(9));
        assert_eq!(labels[199], Some(9));
        assert_eq!(labels[230], None);
        assert_eq!(labels[280], Some(9), "short segment takes the nearest window");
    }
}
