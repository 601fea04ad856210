//! The engine flags every benchmark example takes (`--threads`, `--memory-limit`,
//! `--spill-dir`), flattened into its own arguments, and the session they describe.

use spillway::SessionBuilder;
use spillway::prelude::*;

#[derive(clap::Args)]
pub struct EngineArgs {
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The memory limit, e.g. 1536MiB.
    #[arg(long)]
    pub memory_limit: Option<String>,
    /// Where spill files go (default: the system temp folder).
    #[arg(long)]
    pub spill_dir: Option<std::path::PathBuf>,
}

impl EngineArgs {
    /// A session builder with these settings, for the example to add its own.
    pub fn builder(&self) -> Result<SessionBuilder> {
        let mut builder = Session::builder();
        if let Some(t) = self.threads {
            builder = builder.threads(t);
        }
        if let Some(d) = &self.spill_dir {
            builder = builder.spill_dir(d);
        }
        if let Some(m) = &self.memory_limit {
            builder = builder.memory_limit(spillway::config::parse_bytes(m)?);
        }
        Ok(builder)
    }
}
