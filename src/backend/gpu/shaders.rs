//! The WGSL kernels (shaders/, one entry point `main` per file) and their
//! specialisation: each is compiled with its constants prepended to
//! common.wgsl and its own file, so loops over features run to a constant
//! and per-thread arrays have a constant size (specialising D made the
//! assignment several times faster than a loop bound read from memory).

/// The kernels, one per shader file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// assign.wgsl: every point's nearest centre and squared distance to
    /// it, over a range of the centres.
    Assign,
    /// kmeanspp_update.wgsl: for every point,
    /// `closest[i] = min(closest[i], |x_i - centre|^2)`.
    KmeansppUpdate,
    /// kmeanspp_potentials.wgsl: per workgroup, each of `T` candidates'
    /// potential over its points, one row of partials.
    KmeansppPotentials,
    /// block_sums.wgsl: the sum of each block of [`BLOCK`] distances, for
    /// k-means++ draws.
    BlockSums,
    /// reduce_columns.wgsl: the rows of a partials matrix added up per
    /// column (compensated floats, exact counts, skipped columns).
    ReduceColumns,
    /// lloyd_partials.wgsl: one Lloyd pass over a chunk for the `R` runs
    /// of a group: labels, and a row of per-cluster partial sums per
    /// workgroup.
    LloydPartials,
    /// lloyd_update.wgsl: per run, the centres moved to their means and
    /// the four numbers the host reads (inertia, shift, changed, empty).
    LloydUpdate,
    /// silhouette.wgsl: tiled all-pairs distance sums per cluster of `R`
    /// labellings, and each anchor's silhouettes after the last part.
    Silhouette,
    /// mixture_partials.wgsl: one E-step pass of a mixture of `K`
    /// components over a chunk: responsibilities, optionally labels, and a
    /// row of partial sums (centred moments, log-likelihood) per workgroup.
    MixturePartials,
}

impl Kernel {
    /// Every kernel, in the order of the variants.
    pub const ALL: [Kernel; 9] = [
        Kernel::Assign,
        Kernel::KmeansppUpdate,
        Kernel::KmeansppPotentials,
        Kernel::BlockSums,
        Kernel::ReduceColumns,
        Kernel::LloydPartials,
        Kernel::LloydUpdate,
        Kernel::Silhouette,
        Kernel::MixturePartials,
    ];

    /// The stem of the kernel's shader file (`assign` for
    /// shaders/assign.wgsl), also the label of its pipeline.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Assign => "assign",
            Kernel::KmeansppUpdate => "kmeanspp_update",
            Kernel::KmeansppPotentials => "kmeanspp_potentials",
            Kernel::BlockSums => "block_sums",
            Kernel::ReduceColumns => "reduce_columns",
            Kernel::LloydPartials => "lloyd_partials",
            Kernel::LloydUpdate => "lloyd_update",
            Kernel::Silhouette => "silhouette",
            Kernel::MixturePartials => "mixture_partials",
        }
    }

    fn body(self) -> &'static str {
        match self {
            Kernel::Assign => include_str!("../../../shaders/assign.wgsl"),
            Kernel::KmeansppUpdate => include_str!("../../../shaders/kmeanspp_update.wgsl"),
            Kernel::KmeansppPotentials => {
                include_str!("../../../shaders/kmeanspp_potentials.wgsl")
            }
            Kernel::BlockSums => include_str!("../../../shaders/block_sums.wgsl"),
            Kernel::ReduceColumns => include_str!("../../../shaders/reduce_columns.wgsl"),
            Kernel::LloydPartials => include_str!("../../../shaders/lloyd_partials.wgsl"),
            Kernel::LloydUpdate => include_str!("../../../shaders/lloyd_update.wgsl"),
            Kernel::Silhouette => include_str!("../../../shaders/silhouette.wgsl"),
            Kernel::MixturePartials => include_str!("../../../shaders/mixture_partials.wgsl"),
        }
    }
}

const COMMON: &str = include_str!("../../../shaders/common.wgsl");

/// Workgroup size of every kernel (`WG` in common.wgsl).
pub const WG: u32 = 64;

/// Rows of a block of `block_sums` (`BLOCK` in block_sums.wgsl).
pub const BLOCK: u32 = 4096;

/// The constants a kernel is compiled with. Every kernel gets all of
/// them (each at least 1, as array sizes); a kernel that does not use one
/// is compiled once for any value, by [`Specialisation::for_kernel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Specialisation {
    /// Features per point.
    pub d: u32,
    /// Runs (Lloyd) or labellings (silhouette) in the group.
    pub r: u32,
    /// Accumulator columns per thread (Lloyd pairs, mixture statistics).
    pub pt: u32,
    /// k-means++ candidates.
    pub t: u32,
    /// Silhouette accumulators per anchor.
    pub nacc: u32,
    /// Mixture components.
    pub k: u32,
}

impl Specialisation {
    /// `d` features per point, every other constant 1: what a kernel
    /// that uses only `D` is compiled with.
    pub fn new(d: u32) -> Self {
        Specialisation {
            d,
            r: 1,
            pt: 1,
            t: 1,
            nacc: 1,
            k: 1,
        }
    }

    /// Only the constants `kernel` uses, the others at 1, so that pipelines
    /// are shared where they can be.
    pub fn for_kernel(self, kernel: Kernel) -> Self {
        let base = Specialisation::new(self.d);
        match kernel {
            Kernel::LloydPartials => Specialisation {
                r: self.r,
                pt: self.pt,
                ..base
            },
            Kernel::KmeansppPotentials => Specialisation { t: self.t, ..base },
            Kernel::Silhouette => Specialisation {
                r: self.r,
                nacc: self.nacc,
                ..base
            },
            Kernel::MixturePartials => Specialisation {
                k: self.k,
                pt: self.pt,
                ..base
            },
            Kernel::ReduceColumns | Kernel::BlockSums => Specialisation::new(1),
            _ => base,
        }
    }
}

/// The WGSL source of `kernel` with the constants of `spec`.
pub fn source(kernel: Kernel, spec: Specialisation) -> String {
    let spec = spec.for_kernel(kernel);
    format!(
        "// {} (segmint), specialised\n\
         const D: u32 = {}u;\nconst R: u32 = {}u;\nconst PT: u32 = {}u;\n\
         const T: u32 = {}u;\nconst NACC: u32 = {}u;\nconst K: u32 = {}u;\n\n{COMMON}\n{}",
        kernel.name(),
        spec.d.max(1),
        spec.r.max(1),
        spec.pt.max(1),
        spec.t.max(1),
        spec.nacc.max(1),
        spec.k.max(1),
        kernel.body()
    )
}
