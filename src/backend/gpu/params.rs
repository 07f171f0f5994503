//! The parameters of one dispatch, as every kernel reads them (binding 0,
//! a uniform buffer). Keep in sync with `struct Params` in
//! shaders/common.wgsl: same fields, same order, all u32; the tests check
//! both the size and the field names against the shader.

use bytemuck::{Pod, Zeroable};

/// The uniform `params` (`@group(0) @binding(0)`) of every kernel, one
/// per dispatch. See shaders/common.wgsl for what each field means to
/// which kernel; fields a dispatch does not set stay 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Params {
    /// Rows of the chunk of points bound to the dispatch (assign,
    /// kmeanspp_update, kmeanspp_potentials, lloyd_partials); block_sums:
    /// the distances of the chunk; silhouette: rows of the other chunk,
    /// the stride of its labels.
    pub n: u32,
    /// Features per point, equal to the constant `D` the kernel is
    /// compiled with (the kernels loop to `D`; none reads this field).
    pub d: u32,
    /// Workgroups along x of the dispatch grid, which is 2D past the
    /// device's workgroups per dimension; `group_index` in common.wgsl
    /// reads it. Set by `GpuBackend::dispatch`.
    pub groups_x: u32,
    /// Workgroups with work: those of the grid past it return at once.
    /// Set by `GpuBackend::dispatch`.
    pub workgroups: u32,
    /// Centres (assign), candidates (kmeanspp_potentials, where the
    /// constant `T` is what the kernel loops to) or components
    /// (mixture_partials, the constant `K`); no kernel reads it.
    pub k: u32,
    /// Runs (lloyd_partials, lloyd_update) or labellings (silhouette) of
    /// the group, equal to the constant `R`; no kernel reads it.
    pub runs: u32,
    /// Accumulator columns of a partials row: the Lloyd pairs of a group
    /// (lloyd_partials), a mixture's statistics (mixture_partials), the
    /// columns to add up (reduce_columns).
    pub pairs: u32,
    /// Tiles of `WG` (64) points per workgroup (lloyd_partials,
    /// kmeanspp_potentials, mixture_partials).
    pub tiles: u32,
    /// First partials row this dispatch writes (lloyd_partials,
    /// kmeanspp_potentials, mixture_partials: the workgroups of the
    /// chunks before);
    /// block_sums: the index of the chunk's first block in the sums.
    pub partial_offset: u32,
    /// Partials rows reduce_columns adds up.
    pub partial_rows: u32,
    /// First of the range `begin..end`: rows of the other chunk
    /// (silhouette), centres (assign).
    pub begin: u32,
    /// End (exclusive) of the range `begin..end`.
    pub end: u32,
    /// Rows of the anchor chunk (silhouette).
    pub anchors: u32,
    /// Bits [`MOVE_CENTRES`], [`FIRST_PART`], [`LAST_PART`] and
    /// [`WRITE_LABELS`].
    pub flags: u32,
    /// Silhouette accumulators per anchor (the sum of the labellings' k),
    /// equal to the constant `NACC`; no kernel reads it.
    pub width: u32,
    /// Unused: brings the struct to 16 u32 (64 bytes), a multiple of 16
    /// bytes, as a uniform buffer needs.
    pub pad: u32,
}

/// [`Params::flags`] bit 0, lloyd_update: move each centre to the mean
/// of its points (else the centres are copied unchanged).
pub const MOVE_CENTRES: u32 = 1;
/// [`Params::flags`] bit 1: the first part. assign: the first range of
/// centres (start from no centre, not from the labels and distances the
/// dispatches before wrote); silhouette: the first part of the other rows
/// (the anchors' sums start at 0, not from `state`).
pub const FIRST_PART: u32 = 2;
/// [`Params::flags`] bit 2, silhouette: the last part of the other rows
/// (write each anchor's silhouettes to `out`, not its sums to `state`).
pub const LAST_PART: u32 = 4;
/// [`Params::flags`] bit 0, mixture_partials: write each point's most
/// probable component to `labels`.
pub const WRITE_LABELS: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    /// The WGSL struct's member names, in order.
    fn shader_fields() -> Vec<String> {
        let common = include_str!("../../../shaders/common.wgsl");
        let body = common
            .split("struct Params {")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .expect("struct Params in common.wgsl");
        body.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && l.contains(':'))
            .map(|l| {
                assert!(l.ends_with("u32,"), "every field is a u32: {l}");
                l.split(':').next().unwrap().trim().to_string()
            })
            .collect()
    }

    #[test]
    fn params_match_the_shader_struct() {
        let fields = shader_fields();
        // 16 u32: a multiple of 16 bytes, as a uniform buffer needs.
        assert_eq!(std::mem::size_of::<Params>(), 4 * fields.len());
        assert_eq!(std::mem::size_of::<Params>() % 16, 0);
        let rust = [
            "n",
            "d",
            "groups_x",
            "workgroups",
            "k",
            "runs",
            "pairs",
            "tiles",
            "partial_offset",
            "partial_rows",
            "begin",
            "end",
            "anchors",
            "flags",
            "width",
            "pad",
        ];
        assert_eq!(fields, rust);
        // The byte layout follows the declaration order.
        let p = Params {
            workgroups: 7,
            pad: 9,
            ..Params::default()
        };
        let words: &[u32] = bytemuck::cast_slice(std::slice::from_ref(&p));
        assert_eq!(words[3], 7);
        assert_eq!(words[15], 9);
    }
}
