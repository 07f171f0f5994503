//! The nearest-centre kernels written with AVX-512 intrinsics, where the
//! portable loops of [`super::tiles`] leave the running minimum in memory
//! (the compiler turns its update into masked stores, whose values a load
//! of the next centre cannot take from the store buffer). The same f32
//! operations in the same order as the portable kernels: subtract,
//! multiply, add (never fused), compare with `<`. So every point gets the
//! same distance and label, bit for bit, on every instruction set.

#![cfg(target_arch = "x86_64")]

use std::arch::x86_64::{
    __m512, __m512i, _CMP_LT_OQ, _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_loadu_ps,
    _mm512_mask_mov_epi32, _mm512_mask_mov_ps, _mm512_max_ps, _mm512_min_ps, _mm512_mul_ps,
    _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps, _mm512_setzero_si512, _mm512_storeu_ps,
    _mm512_storeu_si512, _mm512_sub_ps,
};

use super::TILE;
use super::tiles::Nearest;

/// Registers of 16 lanes per tile.
const BLOCKS: usize = TILE / 16;

/// Whether this CPU runs the kernels of this module.
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

/// Adds the squared distances of the tile's points (transposed `values`,
/// d rows of TILE) to `centre` into `acc`, in feature order.
#[inline(always)]
unsafe fn distances(values: &[f32], centre: &[f32], acc: &mut [__m512; BLOCKS]) {
    for (j, &x) in centre.iter().enumerate() {
        let column = &values[j * TILE..(j + 1) * TILE];
        // SAFETY: avx512f is enabled by the callers; `column` holds TILE
        // values, read 16 at a time.
        unsafe {
            let x = _mm512_set1_ps(x);
            for (b, acc) in acc.iter_mut().enumerate() {
                let t = _mm512_sub_ps(_mm512_loadu_ps(column.as_ptr().add(16 * b)), x);
                *acc = _mm512_add_ps(*acc, _mm512_mul_ps(t, t));
            }
        }
    }
}

/// Nearest of `centres` (k x d) for every point of a tile: index (lowest
/// on ties) and squared distance. Two centres at a time, so that eight
/// accumulators are in flight.
///
/// # Safety
/// The CPU must have AVX-512F ([`available`]); `values` holds d x TILE.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn nearest(
    values: &[f32],
    d: usize,
    centres: &[f32],
    best: &mut [f32; TILE],
    index: &mut [u32; TILE],
) {
    assert_eq!(values.len(), d * TILE, "a transposed tile");
    let k = centres.len().checked_div(d).unwrap_or(0);
    let mut low = [_mm512_set1_ps(f32::INFINITY); BLOCKS];
    let mut at: [__m512i; BLOCKS] = [_mm512_setzero_si512(); BLOCKS];
    let mut update = |acc: &[__m512; BLOCKS], c: usize| {
        let c = _mm512_set1_epi32(c as i32);
        for b in 0..BLOCKS {
            let nearer = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(acc[b], low[b]);
            low[b] = _mm512_mask_mov_ps(low[b], nearer, acc[b]);
            at[b] = _mm512_mask_mov_epi32(at[b], nearer, c);
        }
    };
    let mut c = 0;
    while c + 2 <= k {
        let mut one = [_mm512_setzero_ps(); BLOCKS];
        let mut two = [_mm512_setzero_ps(); BLOCKS];
        let (p, q) = centres[c * d..(c + 2) * d].split_at(d);
        for (j, (&x, &y)) in p.iter().zip(q).enumerate() {
            let column = &values[j * TILE..(j + 1) * TILE];
            let (x, y) = (_mm512_set1_ps(x), _mm512_set1_ps(y));
            for b in 0..BLOCKS {
                // SAFETY: `column` holds TILE values, read 16 at a time.
                let v = unsafe { _mm512_loadu_ps(column.as_ptr().add(16 * b)) };
                let t = _mm512_sub_ps(v, x);
                one[b] = _mm512_add_ps(one[b], _mm512_mul_ps(t, t));
                let u = _mm512_sub_ps(v, y);
                two[b] = _mm512_add_ps(two[b], _mm512_mul_ps(u, u));
            }
        }
        update(&one, c);
        update(&two, c + 1);
        c += 2;
    }
    if c < k {
        let mut acc = [_mm512_setzero_ps(); BLOCKS];
        // SAFETY: avx512f is enabled here.
        unsafe { distances(values, &centres[c * d..(c + 1) * d], &mut acc) };
        update(&acc, c);
    }
    for b in 0..BLOCKS {
        // SAFETY: `best` and `index` hold TILE values, written 16 at a time.
        unsafe {
            _mm512_storeu_ps(best.as_mut_ptr().add(16 * b), low[b]);
            _mm512_storeu_si512(index.as_mut_ptr().add(16 * b).cast(), at[b]);
        }
    }
}

/// [`nearest`] with the runner-up: per point the nearest centre, its
/// squared distance, and the squared distance to the nearest other.
///
/// # Safety
/// As [`nearest`].
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn nearest_two(values: &[f32], d: usize, centres: &[f32], out: &mut Nearest) {
    assert_eq!(values.len(), d * TILE, "a transposed tile");
    let mut low = [_mm512_set1_ps(f32::INFINITY); BLOCKS];
    let mut next = [_mm512_set1_ps(f32::INFINITY); BLOCKS];
    let mut at: [__m512i; BLOCKS] = [_mm512_setzero_si512(); BLOCKS];
    for (c, centre) in centres.chunks_exact(d).enumerate() {
        let mut acc = [_mm512_setzero_ps(); BLOCKS];
        // SAFETY: avx512f is enabled here.
        unsafe { distances(values, centre, &mut acc) };
        let c = _mm512_set1_epi32(c as i32);
        for b in 0..BLOCKS {
            // The runner-up: min(next, max(acc, low)), as the portable
            // kernel (no NaN, no -0 among squared distances).
            next[b] = _mm512_min_ps(next[b], _mm512_max_ps(acc[b], low[b]));
            let nearer = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(acc[b], low[b]);
            low[b] = _mm512_mask_mov_ps(low[b], nearer, acc[b]);
            at[b] = _mm512_mask_mov_epi32(at[b], nearer, c);
        }
    }
    for b in 0..BLOCKS {
        // SAFETY: the outputs hold TILE values, written 16 at a time.
        unsafe {
            _mm512_storeu_ps(out.best.as_mut_ptr().add(16 * b), low[b]);
            _mm512_storeu_ps(out.second.as_mut_ptr().add(16 * b), next[b]);
            _mm512_storeu_si512(out.index.as_mut_ptr().add(16 * b).cast(), at[b]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::cpu::tests::naive_nearest;
    use crate::backend::cpu::tiles::{portable_nearest_two, tile_nearest};

    #[test]
    fn the_intrinsics_kernels_give_the_portable_kernels_bits() {
        if !available() {
            eprintln!("skipped: this CPU has no AVX-512F");
            return;
        }
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            // Coarse values: many exact ties between centres.
            ((state >> 59) as f32 - 16.0) * 0.25
        };
        for d in [1usize, 2, 3, 5, 8, 13] {
            for k in [1usize, 2, 3, 8, 17] {
                let values: Vec<f32> = (0..d * TILE).map(|_| next()).collect();
                let centres: Vec<f32> = (0..k * d).map(|_| next()).collect();
                let (mut best, mut index) = ([0.0f32; TILE], [0u32; TILE]);
                // SAFETY: AVX-512F is available (checked above).
                unsafe { nearest(&values, d, &centres, &mut best, &mut index) };
                let (mut best2, mut index2) = ([0.0f32; TILE], [0u32; TILE]);
                tile_nearest(&values, d, &centres, &mut best2, &mut index2);
                assert_eq!(index, index2, "d {d} k {k}");
                assert_eq!(
                    best.map(f32::to_bits),
                    best2.map(f32::to_bits),
                    "d {d} k {k}"
                );
                for p in 0..TILE {
                    let x: Vec<f32> = (0..d).map(|j| values[j * TILE + p]).collect();
                    let (l, dist) = naive_nearest(&x, &centres, d);
                    assert_eq!((index[p], best[p].to_bits()), (l, dist.to_bits()));
                }
                let mut two = Nearest::new();
                // SAFETY: as above.
                unsafe { nearest_two(&values, d, &centres, &mut two) };
                let mut portable = Nearest::new();
                portable_nearest_two(&values, d, &centres, &mut portable);
                assert_eq!(two.index, index, "d {d} k {k}");
                assert_eq!(two.index, portable.index, "d {d} k {k}");
                assert_eq!(two.best.map(f32::to_bits), portable.best.map(f32::to_bits));
                assert_eq!(
                    two.second.map(f32::to_bits),
                    portable.second.map(f32::to_bits)
                );
            }
        }
    }
}
