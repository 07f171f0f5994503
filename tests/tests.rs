//! The integration tests, one binary (built and linked once): a module
//! per area. `common` holds what they share (the backends under test, the
//! binary, the sample log).

mod common;

mod backend_suite;
mod browser_report;
mod cli_behaviour;
mod cli_cluster;
mod cli_dec;
mod cli_distributed;
mod cli_errors;
mod cli_formats;
mod cli_gmm;
mod cli_gpu;
mod cli_hierarchical;
mod cli_leiden;
mod cli_lifetime;
mod cli_report;
mod cluster_properties;
mod golden;
mod gpu_chunking;
mod hostile;
mod parser_properties;
mod properties;
mod reference_btyd;
mod reference_cluster;
mod reference_features;
mod reference_gmm;
mod reference_graph;
mod reference_hierarchical;
mod scale_reference;
mod shaders;
mod spark_stage;
