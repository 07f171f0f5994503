//! `segmint bench`: times one clustering stage on a numeric table, for the
//! comparison scripts (benches/compare/). Reports the median, min and max
//! of the repetitions; loading and scaling are not timed.

use std::time::Instant;

use serde::Serialize;

use super::emit::say;
use super::read_rows;
use super::{Session, warn_constant};
use crate::cli::{BenchArgs, BenchStage, Format, MethodName, k_list};
use ndarray::Array2;
use ndarray::{Array1, Array3};
use segmint::Error;
use segmint::backend::{Backend, CpuBackend, Kernels, Labeling, Workload};
use segmint::cluster::gmm::mstep::Moments;
use segmint::cluster::gmm::{CovarianceType, Covariances, EmRun, GmmParams, Iteration, Mixture};
use segmint::cluster::{KMeansParams, fit_each_k, kmeans};
use segmint::features::matrix::{FeatureMatrix, FeatureSpec};
use segmint::ingest::Delimiter;
use segmint::insights::btyd::{self, LifetimeOptions};
use segmint::report::summary::ModelFit;
use segmint::segment::{self, InputSchema};

#[derive(Serialize)]
struct BenchReport {
    stage: &'static str,
    backend: String,
    threads: usize,
    n: usize,
    d: usize,
    k: String,
    repeat: usize,
    median_s: f64,
    min_s: f64,
    max_s: f64,
    times_s: Vec<f64>,
}

pub fn run(args: &BenchArgs, session: &Session) -> Result<(), Error> {
    let quiet = session.quiet;
    if args.repeat == 0 {
        return Err(Error::Usage("--repeat must be at least 1".into()));
    }
    if args.stage == BenchStage::Lifetime {
        return time_lifetime(args, session);
    }
    let table = segment::read_feature_table(
        &args.features_input,
        args.key_col.clone(),
        Delimiter::default(),
        None,
        None,
    )?;
    let schema = InputSchema::FeatureTable {
        key_col: args.key_col.clone(),
        delimiter: Delimiter::default().to_string(),
    };
    let prepared = segment::prepare(table, None, args.scale.into(), schema, true)?;
    warn_constant(&prepared, quiet)?;
    let points = &prepared.points;
    let (n, d) = (points.n(), points.d());
    // What the stage needs, read before the backend is chosen for it.
    let centres = match args.stage {
        BenchStage::Lloyd | BenchStage::Assign | BenchStage::Gmm | BenchStage::Fit => {
            let path = args.init.as_deref().expect("clap requires --init");
            // Centres in scaled space, as the points' frame places them.
            points.frame.to_working(&read_rows(path, d)?)
        }
        _ => Vec::new(),
    };
    let labels: Vec<u32> = match args.stage {
        BenchStage::Silhouette => {
            let path = args.labels.as_deref().expect("clap requires --labels");
            let labels: Vec<u32> = read_rows(path, 1)?.iter().map(|&v| v as u32).collect();
            if labels.len() != n {
                return Err(Error::Usage(format!(
                    "{}: {} labels for {n} points",
                    path.display(),
                    labels.len()
                )));
            }
            labels
        }
        _ => Vec::new(),
    };
    let ks = match args.stage {
        BenchStage::Sweep => k_list(&args.k, "--k")?,
        _ => Vec::new(),
    };
    if matches!(
        args.kmeans.method,
        MethodName::Hierarchical | MethodName::Leiden | MethodName::Dec
    ) {
        return Err(Error::Usage(
            "bench times the K-Means and mixture kernels; time hierarchical, leiden and dec fits with `fit --format json` (its seconds)".into(),
        ));
    }
    if args.kmeans.method == MethodName::Gmm && args.stage != BenchStage::Gmm {
        return Err(Error::Usage(
            "--method gmm: bench times a mixture's EM iteration as `bench gmm`; the other stages are K-Means'".into(),
        ));
    }
    let params = args.kmeans.params();
    params.validate(usize::MAX)?;
    let init_k = centres.len() / d;
    let labels_k = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let runs: Vec<usize> = match args.stage {
        BenchStage::Lloyd | BenchStage::Fit => vec![init_k],
        BenchStage::Sweep => ks
            .iter()
            .flat_map(|&k| std::iter::repeat_n(k, args.kmeans.n_init.unwrap_or(1)))
            .collect(),
        _ => Vec::new(),
    };
    let silhouettes: Vec<usize> = match args.stage {
        BenchStage::Silhouette => vec![labels_k],
        _ => Vec::new(),
    };
    let covariance = covariance_of(args)?;
    let mixtures: Vec<usize> = match args.stage {
        BenchStage::Gmm => vec![init_k],
        _ => Vec::new(),
    };
    let backend = session.backend(&Workload {
        n,
        d,
        runs: &runs,
        silhouettes: &silhouettes,
        mixtures: &mixtures,
        products: covariance.products(),
    })?;
    let mut times = Vec::with_capacity(args.repeat);
    let k_label;
    match args.stage {
        // Returned above, before the table was read for points.
        BenchStage::Lifetime => return time_lifetime(args, session),
        BenchStage::Lloyd | BenchStage::Assign => {
            k_label = init_k.to_string();
            let stage = args.stage;
            times = match &backend {
                Backend::Cpu => time_kernel(&CpuBackend, stage, points, &centres, args)?,
                Backend::Gpu(gpu) => time_kernel(gpu, stage, points, &centres, args)?,
            };
        }
        BenchStage::Sweep => {
            k_label = args.k.clone();
            warm_up(|| {
                std::hint::black_box(fit_each_k(&backend, points, &ks[..1], &params).ok());
            });
            for _ in 0..args.repeat {
                let t = Instant::now();
                let fits = fit_each_k(&backend, points, &ks, &params)?;
                times.push(t.elapsed().as_secs_f64());
                std::hint::black_box(fits);
            }
        }
        BenchStage::Fit => {
            k_label = init_k.to_string();
            let params = KMeansParams {
                k: init_k,
                init: Some(
                    Array2::from_shape_vec(
                        (init_k, d),
                        centres.iter().map(|&v| f64::from(v)).collect(),
                    )
                    .expect("k x d centres"),
                ),
                ..params.clone()
            };
            let mut last = None;
            for _ in 0..args.repeat {
                let t = Instant::now();
                let fit = kmeans::fit(&backend, points, &params)?;
                times.push(t.elapsed().as_secs_f64());
                last = Some(fit);
            }
            if let Some(fit) = last
                && !quiet
            {
                eprintln!(
                    "segmint: fit: {} iterations, inertia {:.6e}, {}",
                    fit.n_iter,
                    fit.inertia,
                    params.algorithm.for_run(init_k, d).name()
                );
            }
        }
        BenchStage::Gmm => {
            k_label = init_k.to_string();
            times = match &backend {
                Backend::Cpu => time_em(&CpuBackend, args, points, &centres)?,
                Backend::Gpu(gpu) => time_em(gpu, args, points, &centres)?,
            };
        }
        BenchStage::Silhouette => {
            let k = labels_k;
            k_label = k.to_string();
            warm_up(|| {
                let few = points.subset(&(0..n.min(2000)).collect::<Vec<_>>());
                let l = &labels[..few.n()];
                std::hint::black_box(backend.silhouette(&few, &[Labeling { labels: l, k }]).ok());
            });
            for _ in 0..args.repeat {
                let t = Instant::now();
                let s = backend.silhouette(points, &[Labeling { labels: &labels, k }])?;
                times.push(t.elapsed().as_secs_f64());
                std::hint::black_box(s);
            }
        }
    }
    let stage = match args.stage {
        BenchStage::Lloyd => "lloyd",
        BenchStage::Assign => "assign",
        BenchStage::Sweep => "sweep",
        BenchStage::Fit => "fit",
        BenchStage::Silhouette => "silhouette",
        BenchStage::Gmm => "gmm",
        BenchStage::Lifetime => "lifetime",
    };
    emit(args, stage, backend.describe(), (n, d), k_label, times)
}

/// Prints the median, min and max of `times`.
fn emit(
    args: &BenchArgs,
    stage: &'static str,
    backend: String,
    (n, d): (usize, usize),
    k_label: String,
    times: Vec<f64>,
) -> Result<(), Error> {
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = if sorted.len() % 2 == 1 {
        sorted[sorted.len() / 2]
    } else {
        (sorted[sorted.len() / 2 - 1] + sorted[sorted.len() / 2]) / 2.0
    };
    let report = BenchReport {
        stage,
        backend,
        threads: rayon::current_num_threads(),
        n,
        d,
        k: k_label,
        repeat: args.repeat,
        median_s: median,
        min_s: sorted[0],
        max_s: sorted[sorted.len() - 1],
        times_s: times,
    };
    match args.format {
        Format::Json => say(serde_json::to_string(&report)
            .map_err(|e| Error::Internal(format!("the report does not serialise: {e}")))?),
        Format::Table => say(format_args!(
            "{} on {} (n = {n}, d = {d}, k = {}): median {:.6} s, min {:.6} s, max {:.6} s over {}",
            report.stage, report.backend, report.k, median, report.min_s, report.max_s, args.repeat
        )),
    }
}

/// Times fitting BG/NBD and Gamma-Gamma on the customers of a table with
/// the columns they read (`active_days`, `active_span_days`, `age_days`,
/// `repeat_spend`): the whole fit `fit` and `report` run, reading
/// excluded.
fn time_lifetime(args: &BenchArgs, session: &Session) -> Result<(), Error> {
    let columns: Vec<FeatureSpec> = btyd::COLUMNS
        .iter()
        .map(|c| FeatureSpec::parse(c).map_err(Error::Usage))
        .collect::<Result<_, _>>()?;
    let table = segment::read_feature_table(
        &args.features_input,
        args.key_col.clone(),
        Delimiter::default(),
        None,
        Some(&columns),
    )?;
    let options = LifetimeOptions::default();
    let fit = btyd::fit_lifetime(&table, options);
    if let Err(e) = &fit.bgnbd {
        return Err(Error::Usage(format!(
            "{}: {e}",
            args.features_input.display()
        )));
    }
    if !session.quiet {
        super::emit::note(format_args!(
            "{}; {}",
            ModelFit::new(&fit.bgnbd).describe(),
            ModelFit::new(&fit.gamma_gamma).describe(),
        ))?;
    }
    let mut times = Vec::with_capacity(args.repeat);
    for _ in 0..args.repeat {
        let t = Instant::now();
        std::hint::black_box(btyd::fit_lifetime(&table, options));
        times.push(t.elapsed().as_secs_f64());
    }
    let backend = format!("cpu ({} threads)", rayon::current_num_threads());
    emit(
        args,
        "lifetime",
        backend,
        (table.rows(), 4),
        "-".into(),
        times,
    )
}

/// Times `repeat` assignments, or Lloyd iterations from `centres`, on one
/// backend's kernels (the points uploaded once, untimed).
fn time_kernel<K: Kernels>(
    kernels: &K,
    stage: BenchStage,
    points: &FeatureMatrix,
    centres: &[f32],
    args: &BenchArgs,
) -> Result<Vec<f64>, Error> {
    let repeat = args.repeat;
    let algorithm = args.kmeans.algorithm.unwrap_or_default();
    let (n, d) = (points.n(), points.d());
    let k = centres.len() / d;
    let device = kernels.upload(points)?;
    let mut times = Vec::with_capacity(repeat);
    if stage == BenchStage::Assign {
        let mut labels = vec![0u32; n];
        let mut distances = vec![0.0f32; n];
        let mut assign = || kernels.assign(&device, centres, &mut labels, &mut distances);
        warm_up(|| {
            std::hint::black_box(assign().ok());
        });
        for _ in 0..repeat {
            let t = Instant::now();
            assign()?;
            times.push(t.elapsed().as_secs_f64());
        }
    } else {
        let init = Array2::from_shape_vec((k, d), centres.iter().map(|&v| f64::from(v)).collect())
            .expect("k x d centres");
        let mut runs = kernels.lloyd_start(&device, std::slice::from_ref(&init), algorithm)?;
        warm_up(|| {
            std::hint::black_box(kernels.lloyd_step(&device, &mut runs, &[0], true).ok());
        });
        // Timed from the initial centres again.
        let mut runs = kernels.lloyd_start(&device, &[init], algorithm)?;
        for _ in 0..repeat {
            let t = Instant::now();
            kernels.lloyd_step(&device, &mut runs, &[0], true)?;
            times.push(t.elapsed().as_secs_f64());
        }
    }
    Ok(times)
}

/// Times `args.repeat` EM iterations of a Gaussian mixture on `kernels`
/// from the means `centres` (working coordinates), equal weights and unit
/// covariances, each iteration (the E-step pass and the M-step) timed
/// alone, the points uploaded once.
fn time_em<K: Kernels>(
    kernels: &K,
    args: &BenchArgs,
    points: &FeatureMatrix,
    centres: &[f32],
) -> Result<Vec<f64>, Error> {
    let d = points.d();
    let k = centres.len() / d;
    let covariance = covariance_of(args)?;
    let reg = args
        .kmeans
        .reg_covar
        .unwrap_or(GmmParams::default().reg_covar);
    let params = GmmParams {
        k,
        covariance,
        reg_covar: reg,
        ..GmmParams::default()
    };
    params.validate(points.n())?;
    let reg = reg / (points.frame.unit * points.frame.unit);
    let unit = 1.0 / (points.frame.unit * points.frame.unit);
    let covariances = match covariance {
        CovarianceType::Full => Covariances::Full(Array3::from_shape_fn((k, d, d), |(_, a, b)| {
            if a == b { unit } else { 0.0 }
        })),
        CovarianceType::Tied => Covariances::Tied(Array2::eye(d) * unit),
        CovarianceType::Diag => Covariances::Diag(Array2::from_elem((k, d), unit)),
        CovarianceType::Spherical => Covariances::Spherical(Array1::from_elem(k, unit)),
    };
    let means = Array2::from_shape_vec((k, d), centres.iter().map(|&v| f64::from(v)).collect())
        .expect("k x d centres");
    let start = Mixture::new(vec![1.0 / k as f64; k], means, covariances)
        .expect("unit covariances are positive definite");
    let device = kernels.upload(points)?;
    let moments = (covariance == CovarianceType::Tied).then(|| Moments::of(points));
    let mut state = kernels.mixture_start(&device, &[k], covariance.products())?;
    let iteration = Iteration {
        n: points.n(),
        moments: moments.as_ref(),
        tol: 0.0,
        reg_covar: reg,
    };
    let mut runs = vec![EmRun::new(start.clone())];
    warm_up(|| {
        if runs[0].lower_bounds.len() >= 5 {
            runs = vec![EmRun::new(start.clone())];
        }
        let step = iteration.run(kernels, &device, &mut state, &mut runs, &[0]);
        std::hint::black_box(step.ok());
    });
    let mut runs = vec![EmRun::new(start)];
    let mut times = Vec::with_capacity(args.repeat);
    for _ in 0..args.repeat {
        let t = Instant::now();
        iteration.run(kernels, &device, &mut state, &mut runs, &[0])?;
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(times)
}

/// `--covariance`, `full` when not given.
fn covariance_of(args: &BenchArgs) -> Result<CovarianceType, Error> {
    match &args.kmeans.covariance {
        Some(text) => text
            .parse()
            .map_err(|e| Error::Usage(format!("--covariance: {e}"))),
        None => Ok(CovarianceType::Full),
    }
}

/// Runs `f` untimed for about a second: freshly loaded memory and idle
/// cores are slower for the first few hundred milliseconds, which would
/// otherwise land in the first repetitions.
fn warm_up(mut f: impl FnMut()) {
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < 1.0 {
        f();
    }
}
