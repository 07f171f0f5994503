//! The parameters of one dispatch, as every kernel reads them (binding 0,
//! a uniform buffer). Keep in sync with `struct Params` in
//! shaders/common.wgsl: same fields, same order, all u32; the tests check
//! both the size and the field names against the shader.

use bytemuck::{Pod, Zeroable};

/// See shaders/common.wgsl for what each field means to which kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Params {
    pub n: u32,
    pub d: u32,
    pub groups_x: u32,
    pub workgroups: u32,
    pub k: u32,
    pub runs: u32,
    pub pairs: u32,
    pub tiles: u32,
    pub partial_offset: u32,
    pub partial_rows: u32,
    pub begin: u32,
    pub end: u32,
    pub anchors: u32,
    pub flags: u32,
    pub width: u32,
    pub pad: u32,
}

/// `Params::flags` bits.
pub const MOVE_CENTRES: u32 = 1;
pub const FIRST_PART: u32 = 2;
pub const LAST_PART: u32 = 4;

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
