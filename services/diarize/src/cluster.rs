//! Spectral clustering of speaker embeddings, with the speaker count taken
//! from the eigengap, so no similarity threshold is needed. After Park et
//! al. 2019 (NME-SC: binarised p-nearest-neighbour affinity, neighbour count
//! p searched), with the symmetric normalised Laplacian, whose eigenvalues lie
//! in [0, 2] so gaps are comparable across p:
//!
//! 1. cosine affinity; each row keeps its `p` most similar windows (itself
//!    included) as 1 and the rest as 0, symmetrised as `(A + Aᵀ) / 2`;
//! 2. `L = I − D^-½ A D^-½`, eigenvalues ascending `λ₀ ≤ λ₁ …`; the count `k`
//!    maximises the gap `λₖ − λₖ₋₁` within the allowed range (`k = 1` when
//!    the graph is one well-connected block: then `λ₁` itself is large);
//! 3. `p` runs over 2–30% of the windows, at most `MAX_NEIGHBOURS`, and
//!    the `p` with the largest such gap wins: small `p` splits a voice into
//!    its utterances, large `p` merges voices, and the clearest gap lies
//!    between. A voice needs more windows than `p` to stand apart, so `p`
//!    does not grow with the recording: a speaker with a few percent of a
//!    long meeting is still found;
//! 4. k-means (k-means++ from a fixed seed, best of several runs) on the
//!    row-normalised eigenvectors of the `k` smallest eigenvalues.
//!
//! A speaker with fewer windows than the chosen `p` (at most about 20 s of
//! speech; proportionally more once long recordings are subsampled) can join
//! a similar voice: for example a man with two short utterances in a 90 s
//! conversation with another man.
//!
//! Large inputs: at most `MAX_SPECTRAL` evenly spaced windows (12.5 min of
//! speech) are clustered this way, as the eigen-decompositions are cubic in
//! the window count (about 3 s at the cap on one core); every window then
//! takes the cluster whose mean embedding is nearest (cosine).

//!
//! Short inputs: below `MIN_SPECTRAL` windows (about 40 s of speech) the
//! neighbour graph is too small for the eigengap to mean much (it splits
//! single voices), so average-linkage agglomerative clustering with a cosine
//! threshold of `MERGE_COSINE` is used instead. On flite conversations cut
//! to 8–25 s this took the mean DER from 16–46% down to 2–9%.

use nalgebra::{DMatrix, SymmetricEigen};

/// Fewer windows than this are clustered agglomeratively.
const MIN_SPECTRAL: usize = 50;
/// Agglomerative clustering merges clusters whose mean pairwise cosine is at
/// least this (same-voice windows average about 0.8 with this encoder,
/// different voices 0.55–0.75).
const MERGE_COSINE: f64 = 0.7;
/// Windows clustered spectrally at most (the eigen-decompositions are cubic).
const MAX_SPECTRAL: usize = 1000;
/// Candidate neighbour counts, as fractions of the window count (of at most
/// the count where the largest fraction reaches `MAX_NEIGHBOURS`).
const P_FRACTIONS: [f64; 10] = [0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2, 0.25, 0.3];
const MAX_NEIGHBOURS: usize = 25;
const KMEANS_RUNS: usize = 10;
const KMEANS_ITERATIONS: usize = 100;

/// Cluster labels `0..k` for `n` embeddings of `dim` values each (rows of
/// `embeddings`, unit length), with `k` in `min_k..=max_k` (clamped to `1..=n`).
pub fn cluster(embeddings: &[f32], dim: usize, min_k: usize, max_k: usize) -> Vec<usize> {
    cluster_capped(embeddings, dim, min_k, max_k, MAX_SPECTRAL)
}

fn cluster_capped(embeddings: &[f32], dim: usize, min_k: usize, max_k: usize, cap: usize) -> Vec<usize> {
    let n = embeddings.len() / dim;
    let max_k = max_k.clamp(1, n.max(1));
    let min_k = min_k.clamp(1, max_k);
    if n <= 1 || max_k == 1 {
        return vec![0; n];
    }
    if n < MIN_SPECTRAL {
        return agglomerative(embeddings, dim, min_k, max_k);
    }
    let step = n.div_ceil(cap);
    let chosen: Vec<usize> = (0..n).step_by(step).collect();
    let sample: Vec<f32> = chosen.iter().flat_map(|&i| embeddings[i * dim..][..dim].iter().copied()).collect();
    let labels = spectral(&sample, dim, min_k, max_k);
    if step == 1 {
        return labels;
    }
    let k = labels.iter().max().map_or(1, |m| m + 1);
    nearest_centroid(embeddings, dim, &sample, &labels, k)
}

fn spectral(embeddings: &[f32], dim: usize, min_k: usize, max_k: usize) -> Vec<usize> {
    let n = embeddings.len() / dim;
    let affinity = cosine_matrix(embeddings, dim);
    let scale = (n as f64).min(MAX_NEIGHBOURS as f64 / P_FRACTIONS[P_FRACTIONS.len() - 1]);
    let mut candidates: Vec<usize> =
        P_FRACTIONS.iter().map(|f| ((scale * f).round() as usize).clamp(2, MAX_NEIGHBOURS).min(n - 1)).collect();
    candidates.dedup();
    let mut best: Option<(f64, usize)> = None;
    for &p in &candidates {
        let (_, gap) = best_gap(&sorted_eigenvalues(&laplacian(&affinity, p)), min_k, max_k);
        if best.is_none_or(|(g, _)| gap > g) {
            best = Some((gap, p));
        }
    }
    let p = best.map_or(1, |(_, p)| p);
    let eigen = SymmetricEigen::new(laplacian(&affinity, p));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eigen.eigenvalues[a].total_cmp(&eigen.eigenvalues[b]));
    let eigenvalues: Vec<f64> = order.iter().map(|&i| eigen.eigenvalues[i]).collect();
    let (k, _) = best_gap(&eigenvalues, min_k, max_k);
    if k == 1 {
        return vec![0; n];
    }
    let mut points = Vec::with_capacity(n * k);
    for row in 0..n {
        let values: Vec<f64> = order[..k].iter().map(|&col| eigen.eigenvectors[(row, col)]).collect();
        let norm = values.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        points.extend(values.iter().map(|v| v / norm));
    }
    kmeans(&points, k, k)
}

/// Average-linkage agglomerative clustering on cosine similarity: merges the
/// most similar pair while it is at least `MERGE_COSINE` (or while there are
/// more than `max_k` clusters), never below `min_k` clusters.
fn agglomerative(embeddings: &[f32], dim: usize, min_k: usize, max_k: usize) -> Vec<usize> {
    let n = embeddings.len() / dim;
    let affinity = cosine_matrix(embeddings, dim);
    // sums[a][b]: summed similarity between the members of clusters a and b.
    let mut sums: Vec<Vec<f64>> = (0..n).map(|i| (0..n).map(|j| affinity[(i, j)]).collect()).collect();
    let mut members: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).collect();
    let mut alive: Vec<usize> = (0..n).collect();
    while alive.len() > min_k {
        let mut best: Option<(f64, usize, usize)> = None;
        for (x, &a) in alive.iter().enumerate() {
            for &b in &alive[x + 1..] {
                let mean = sums[a][b] / (members[a].len() * members[b].len()) as f64;
                if best.is_none_or(|(m, _, _)| mean > m) {
                    best = Some((mean, a, b));
                }
            }
        }
        let Some((mean, a, b)) = best else { break };
        if mean < MERGE_COSINE && alive.len() <= max_k {
            break;
        }
        let moved = std::mem::take(&mut members[b]);
        members[a].extend(moved);
        for &c in &alive {
            let merged = sums[a][c] + sums[b][c];
            sums[a][c] = merged;
            sums[c][a] = merged;
        }
        alive.retain(|&c| c != b);
    }
    let mut labels = vec![0; n];
    for (label, &c) in alive.iter().enumerate() {
        for &i in &members[c] {
            labels[i] = label;
        }
    }
    renumber(&labels)
}

/// The count in `min_k..=max_k` with the largest eigengap, and that gap.
/// `eigenvalues` ascending; a count of `k` needs `λₖ`, so `k < n`.
fn best_gap(eigenvalues: &[f64], min_k: usize, max_k: usize) -> (usize, f64) {
    let top = max_k.min(eigenvalues.len().saturating_sub(1));
    (min_k..=top)
        .map(|k| (k, eigenvalues[k] - eigenvalues[k - 1]))
        .fold((min_k, f64::NEG_INFINITY), |best, cur| if cur.1 > best.1 { cur } else { best })
}

fn cosine_matrix(embeddings: &[f32], dim: usize) -> DMatrix<f64> {
    let n = embeddings.len() / dim;
    let row = |i: usize| &embeddings[i * dim..][..dim];
    DMatrix::from_fn(n, n, |i, j| row(i).iter().zip(row(j)).map(|(a, b)| f64::from(a * b)).sum())
}

/// The symmetric normalised Laplacian `I − D^-½ A D^-½` of the symmetrised
/// `p`-nearest-neighbour graph of `affinity` (each window is its own
/// neighbour, so no degree is zero).
fn laplacian(affinity: &DMatrix<f64>, p: usize) -> DMatrix<f64> {
    let n = affinity.nrows();
    let mut graph = DMatrix::<f64>::zeros(n, n);
    let mut order: Vec<usize> = (0..n).collect();
    for i in 0..n {
        order.sort_by(|&a, &b| affinity[(i, b)].total_cmp(&affinity[(i, a)]).then((a != i).cmp(&(b != i))));
        for &j in &order[..p.min(n)] {
            graph[(i, j)] = 1.0;
        }
    }
    let graph = (&graph + graph.transpose()) * 0.5;
    let scale: Vec<f64> = graph.row_iter().map(|row| 1.0 / row.sum().sqrt()).collect();
    DMatrix::from_fn(n, n, |i, j| f64::from(u8::from(i == j)) - scale[i] * graph[(i, j)] * scale[j])
}

fn sorted_eigenvalues(m: &DMatrix<f64>) -> Vec<f64> {
    let mut values: Vec<f64> = m.symmetric_eigenvalues().iter().copied().collect();
    values.sort_by(f64::total_cmp);
    values
}

/// Gives each embedding (rows of `embeddings`) the label of the nearest mean
/// (cosine) of the clusters `labels` gives the rows of `sample`.
pub fn nearest_centroid(embeddings: &[f32], dim: usize, sample: &[f32], labels: &[usize], k: usize) -> Vec<usize> {
    let mut centroids = vec![0.0f32; k * dim];
    for (row, &label) in sample.chunks_exact(dim).zip(labels) {
        centroids[label * dim..][..dim].iter_mut().zip(row).for_each(|(c, x)| *c += x);
    }
    embeddings
        .chunks_exact(dim)
        .map(|row| {
            let score = |c: usize| {
                let centroid = &centroids[c * dim..][..dim];
                let norm = centroid.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                row.iter().zip(centroid).map(|(a, b)| a * b).sum::<f32>() / norm
            };
            (0..k).max_by(|&a, &b| score(a).total_cmp(&score(b))).unwrap_or(0)
        })
        .collect()
}

/// A small deterministic generator (xorshift64*), so results are reproducible.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// k-means on rows of `dim` values: k-means++ seeding, best of
/// `KMEANS_RUNS` runs by inertia. Labels are renumbered by first occurrence.
fn kmeans(points: &[f64], dim: usize, k: usize) -> Vec<usize> {
    let n = points.len() / dim;
    let row = |i: usize| &points[i * dim..][..dim];
    let dist = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut best: Option<(f64, Vec<usize>)> = None;
    for _ in 0..KMEANS_RUNS {
        // k-means++ seeding.
        let mut centres: Vec<f64> = row((rng.next_f64() * n as f64) as usize % n).to_vec();
        while centres.len() < k * dim {
            let d: Vec<f64> = (0..n)
                .map(|i| centres.chunks_exact(dim).map(|c| dist(row(i), c)).fold(f64::INFINITY, f64::min))
                .collect();
            let total: f64 = d.iter().sum();
            let mut target = rng.next_f64() * total;
            let pick = d.iter().position(|&x| {
                target -= x;
                target < 0.0
            });
            centres.extend_from_slice(row(pick.unwrap_or(n - 1)));
        }
        let mut labels = vec![0usize; n];
        for _ in 0..KMEANS_ITERATIONS {
            let mut changed = false;
            for (i, label) in labels.iter_mut().enumerate() {
                let nearest = (0..k)
                    .min_by(|&a, &b| {
                        dist(row(i), &centres[a * dim..][..dim]).total_cmp(&dist(row(i), &centres[b * dim..][..dim]))
                    })
                    .unwrap_or(0);
                changed |= nearest != *label;
                *label = nearest;
            }
            let mut sums = vec![0.0; k * dim];
            let mut counts = vec![0usize; k];
            for (i, &label) in labels.iter().enumerate() {
                counts[label] += 1;
                sums[label * dim..][..dim].iter_mut().zip(row(i)).for_each(|(s, x)| *s += x);
            }
            for c in 0..k {
                if counts[c] > 0 {
                    centres[c * dim..][..dim]
                        .iter_mut()
                        .zip(&sums[c * dim..][..dim])
                        .for_each(|(m, s)| *m = s / counts[c] as f64);
                }
            }
            if !changed {
                break;
            }
        }
        let inertia: f64 = labels.iter().enumerate().map(|(i, &l)| dist(row(i), &centres[l * dim..][..dim])).sum();
        if best.as_ref().is_none_or(|(b, _)| inertia < *b - 1e-12) {
            best = Some((inertia, labels));
        }
    }
    renumber(&best.map(|(_, l)| l).unwrap_or_default())
}

/// Renumbers labels `0..` in order of first occurrence.
pub fn renumber(labels: &[usize]) -> Vec<usize> {
    let mut map: Vec<(usize, usize)> = Vec::new();
    labels
        .iter()
        .map(|&l| match map.iter().find(|(from, _)| *from == l) {
            Some(&(_, to)) => to,
            None => {
                map.push((l, map.len()));
                map.len() - 1
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIM: usize = 16;

    /// `per_cluster` unit vectors around each of `centres` random directions;
    /// `spread` sets the within-cluster cosine (about 1 / (1 + spread²)).
    /// Rows are interleaved in runs of 3 like the turns of a conversation.
    fn voices(centres: usize, per_cluster: usize, spread: f32, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = Rng(seed);
        let mut gauss = move || {
            let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
            ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        };
        let centre_vecs: Vec<Vec<f32>> = (0..centres).map(|_| (0..DIM).map(|_| gauss()).collect()).collect();
        let (mut rows, mut truth) = (Vec::new(), Vec::new());
        let mut left = vec![per_cluster; centres];
        let mut c = 0;
        while left.iter().any(|&l| l > 0) {
            for _ in 0..3.min(left[c]) {
                let norm_c = centre_vecs[c].iter().map(|x| x * x).sum::<f32>().sqrt();
                let v: Vec<f32> =
                    centre_vecs[c].iter().map(|x| x / norm_c + spread * gauss() / (DIM as f32).sqrt()).collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                rows.extend(v.iter().map(|x| x / norm));
                truth.push(c);
                left[c] -= 1;
            }
            c = (c + 1) % centres;
        }
        (rows, truth)
    }

    #[test]
    fn finds_the_number_of_voices_and_who_is_who() {
        for (centres, seed) in [(2, 1), (3, 2), (4, 3)] {
            let (rows, truth) = voices(centres, 30, 0.6, seed);
            let labels = cluster(&rows, DIM, 1, 8);
            assert_eq!(labels, renumber(&truth), "{centres} voices");
        }
    }

    #[test]
    fn one_voice_is_one_cluster() {
        let (rows, _) = voices(1, 80, 0.6, 4);
        assert_eq!(cluster(&rows, DIM, 1, 8), vec![0; 80]);
    }

    #[test]
    fn respects_count_limits_and_tiny_inputs() {
        let (rows, truth) = voices(3, 20, 0.6, 5);
        let count = |labels: &[usize]| labels.iter().max().map_or(0, |m| m + 1);
        assert_eq!(count(&cluster(&rows, DIM, 2, 2)), 2);
        assert_eq!(count(&cluster(&rows, DIM, 4, 4)), 4);
        assert_eq!(count(&cluster(&rows, DIM, 1, 3)), 3);
        assert_eq!(cluster(&rows, DIM, 1, 1), vec![0; truth.len()]);
        assert_eq!(cluster(&[], DIM, 1, 8), Vec::<usize>::new());
        assert_eq!(cluster(&rows[..DIM], DIM, 1, 8), vec![0]);
        assert_eq!(count(&cluster(&rows[..2 * DIM], DIM, 3, 3)), 2, "at most one cluster per window");
    }

    #[test]
    fn subsampled_clustering_labels_every_window() {
        let (rows, truth) = voices(3, 40, 0.6, 6);
        assert_eq!(cluster_capped(&rows, DIM, 1, 8, 50), renumber(&truth));
    }

    #[test]
    fn short_inputs_merge_similar_windows_only() {
        let (rows, truth) = voices(2, 12, 0.4, 7);
        assert_eq!(cluster(&rows, DIM, 1, 8), renumber(&truth));
        let (one, _) = voices(1, 20, 0.4, 8);
        assert_eq!(cluster(&one, DIM, 1, 8), vec![0; 20]);
        let count = |labels: &[usize]| labels.iter().max().map_or(0, |m| m + 1);
        assert_eq!(count(&cluster(&one, DIM, 3, 8)), 3, "min_k splits further");
        let (three, _) = voices(3, 8, 0.4, 9);
        assert_eq!(count(&cluster(&three, DIM, 1, 2)), 2, "max_k merges further");
    }

    #[test]
    fn renumbers_by_first_occurrence() {
        assert_eq!(renumber(&[4, 4, 1, 4, 0, 1]), vec![0, 0, 1, 0, 2, 1]);
    }
}
