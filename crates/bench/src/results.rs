//! Keeps one run's results as files, so that a reviewer can compare two
//! runs without running anything: `<date>-<commit>[-quick].md` (the
//! report), `.json` (every figure) and one SVG chart per comparison,
//! `<stem>-w2-throughput.svg` and so on, side by side in one directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::compare::Comparison;
use crate::plot;

/// Which build a run measured.
#[derive(Debug, Clone)]
pub(crate) struct Build {
    /// `git rev-parse --short HEAD`, or `unknown` outside a checkout.
    pub(crate) commit: String,
    /// Whether the checkout had uncommitted changes to tracked files.
    pub(crate) dirty: bool,
    /// The UTC date the run started, `YYYY-MM-DD`.
    pub(crate) date: String,
}

impl Build {
    /// Reads the commit of the current directory's checkout, if any.
    pub(crate) fn current() -> Self {
        let git = |args: &[&str]| {
            Command::new("git")
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let commit = git(&["rev-parse", "--short", "HEAD"])
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        let dirty =
            git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
        Self {
            commit,
            dirty,
            date: time::OffsetDateTime::now_utc().date().to_string(),
        }
    }

    /// How the report names the build, with its profile: a debug build's
    /// figures are not comparable with a release build's.
    pub(crate) fn describe(&self) -> String {
        let profile = if cfg!(debug_assertions) {
            "debug build"
        } else {
            "release build"
        };
        if self.dirty {
            format!("{} with uncommitted changes ({profile})", self.commit)
        } else {
            format!("{} ({profile})", self.commit)
        }
    }
}

/// The files of one run.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    pub(crate) markdown: PathBuf,
    pub(crate) json: PathBuf,
    /// Each chart's file, in the order of [`Comparison::charts`].
    pub(crate) charts: Vec<PathBuf>,
}

/// The first stem `<date>-<commit>[-quick][-N]` for which no report
/// exists in `dir`, so that a second run of the same build keeps the first.
pub(crate) fn free_stem(dir: &Path, build: &Build, quick: bool) -> String {
    let base = format!(
        "{}-{}{}",
        build.date,
        build.commit,
        if quick { "-quick" } else { "" }
    );
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|stem| {
            !dir.join(format!("{stem}.md")).exists() && !dir.join(format!("{stem}.json")).exists()
        })
        .unwrap_or(base)
}

/// Where the files of `stem` go; nothing is written yet.
pub(crate) fn files(dir: &Path, stem: &str, comparison: &Comparison) -> Files {
    Files {
        markdown: dir.join(format!("{stem}.md")),
        json: dir.join(format!("{stem}.json")),
        charts: comparison
            .charts()
            .iter()
            .map(|(suffix, _)| dir.join(format!("{stem}-{suffix}.svg")))
            .collect(),
    }
}

/// Writes the charts, the Markdown report and the JSON document.
pub(crate) fn write(
    files: &Files,
    comparison: &Comparison,
    markdown: &str,
    json: &serde_json::Value,
) -> anyhow::Result<()> {
    let write = |path: &Path, text: &str| {
        std::fs::write(path, text)
            .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", path.display()))
    };
    for ((_, chart), path) in comparison.charts().iter().zip(&files.charts) {
        write(path, &plot::svg(chart))?;
    }
    write(&files.markdown, markdown)?;
    write(&files.json, &serde_json::to_string_pretty(json)?)
}

/// A file's name, for links between files of one directory.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> Build {
        Build {
            commit: "abc1234".to_owned(),
            dirty: false,
            date: "2026-12-06".to_owned(),
        }
    }

    #[test]
    fn a_second_run_of_the_same_build_keeps_the_first() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            free_stem(dir.path(), &build(), true),
            "2026-12-06-abc1234-quick"
        );
        std::fs::write(dir.path().join("2026-12-06-abc1234-quick.md"), "x").unwrap();
        assert_eq!(
            free_stem(dir.path(), &build(), true),
            "2026-12-06-abc1234-quick-2"
        );
        assert_eq!(free_stem(dir.path(), &build(), false), "2026-12-06-abc1234");
    }

    #[test]
    fn every_chart_gets_a_file_next_to_the_report() {
        let comparison = Comparison::default();
        let f = files(Path::new("/r"), "s", &comparison);
        assert_eq!(f.markdown, Path::new("/r/s.md"));
        assert_eq!(f.charts.len(), comparison.charts().len());
        assert!(
            f.charts
                .iter()
                .all(|p| p.extension().is_some_and(|e| e == "svg"))
        );
        assert_eq!(file_name(&f.json), "s.json");
    }
}
