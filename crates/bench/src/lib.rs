//! `custos bench`: measures Custos against the targets in PERFORMANCE.md.

/// Options of `custos bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// How many synthetic members to import.
    #[arg(long, default_value_t = 20_000)]
    pub members: u64,
}

/// Runs the benchmarks and prints the figures.
pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "benchmarks for {} members are not written yet",
        args.members
    )
}
