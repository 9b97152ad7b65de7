//! The library's error type, named by whose fault the failure is.

use std::path::PathBuf;

/// Everything that can go wrong in the pdpaint library.
///
/// Messages put the offending file path last, so a user can copy it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{what}: {source}: {}", path.display())]
    Io {
        /// What we were trying to do.
        what: String,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An image could not be decoded or encoded.
    #[error("{what}: {}", path.display())]
    Image {
        /// What went wrong, in words.
        what: String,
        /// The image file.
        path: PathBuf,
    },
    /// A weights file is unreadable, incomplete or does not fit the architecture.
    #[error("{what}: {}", path.display())]
    Weights {
        /// What went wrong, in words (names the key and both shapes for a mismatch).
        what: String,
        /// The weights file.
        path: PathBuf,
    },
    /// A configuration is invalid or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An array has the wrong shape or an input does not fit the model.
    #[error("{0}")]
    Shape(String),
    /// The input is valid but there is nothing sensible to do with it (e.g. an empty mask).
    #[error("{0}")]
    Input(String),
    /// The backend could not be initialised.
    #[error("backend: {0}")]
    Backend(String),
    /// The work was cancelled by the user.
    #[error("cancelled")]
    Cancelled,
    /// A training loss was NaN or infinite; the step was skipped.
    #[error("non-finite loss, step skipped: {0}")]
    NonFinite(String),
    /// The request cannot be carried out as asked, but the caller can change something to
    /// proceed. The message names no command-line option or window control: each front end
    /// maps the [`Refusal`] to its own (the CLI to its flags, the studio to its buttons).
    #[error("{0}")]
    Refused(Refusal),
}

/// What the caller can change to proceed (see [`Error::Refused`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The wgpu backend was asked for, but wgpu found no adapter.
    #[error(
        "no wgpu adapter found (install a Vulkan, Metal or DX12 driver, or use the CPU backend)"
    )]
    NoWgpuAdapter,
    /// The output folder already holds a training run, and resuming it was not asked for.
    #[error(
        "this output folder already holds a training run (resume it, or choose another output \
         folder): {}",
        checkpoint.display()
    )]
    RunExists {
        /// The run's newest checkpoint.
        checkpoint: PathBuf,
    },
}

/// Short for `std::result::Result<T, pdpaint::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(what: impl Into<String>, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Weights`] for `path`.
    pub fn weights(what: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Error::Weights {
            what: what.into(),
            path: path.into(),
        }
    }

    /// An [`Error::Image`] for `path`.
    pub fn image(what: impl Into<String>, path: impl Into<PathBuf>) -> Self {
        Error::Image {
            what: what.into(),
            path: path.into(),
        }
    }
}
