//! A newsletter folder: its config and where its parts live.

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::issue::Issues;
use crate::store::Store;

pub struct Newsletter {
    pub dir: PathBuf,
    pub config: Config,
}

impl Newsletter {
    /// Opens the folder `dir`, reading and validating its `config.yaml`.
    pub fn open(dir: &Path) -> anyhow::Result<Newsletter> {
        let config_path = dir.join("config.yaml");
        if !config_path.exists() {
            anyhow::bail!(
                "{} is not a newsletter folder: it has no config.yaml (create one with `dispatch init DIR`, or point --dir at the folder)",
                dir.display()
            );
        }
        Ok(Newsletter {
            dir: dir.to_path_buf(),
            config: Config::load(&config_path)?,
        })
    }

    pub fn issues_dir(&self) -> PathBuf {
        self.dir.join("issues")
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.dir.join("templates")
    }

    pub fn output_dir(&self) -> PathBuf {
        self.dir.join(&self.config.output)
    }

    pub fn database_path(&self) -> PathBuf {
        self.dir.join(&self.config.database)
    }

    /// Resolves a path given in config.yaml (relative to the folder).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        self.dir.join(path)
    }

    pub fn load_issues(&self) -> anyhow::Result<Issues> {
        Issues::load(&self.issues_dir())
    }

    /// The database, created on first use.
    pub fn store(&self) -> anyhow::Result<Store> {
        Store::open(&self.database_path())
    }
}
