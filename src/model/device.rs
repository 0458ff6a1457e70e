//! Run-time backend selection. burn 0.22 tensors carry no backend type; the [`Device`] decides.
//! Adding a backend is one Cargo feature plus one variant and one match arm here.

use burn::tensor::Device;

/// The compute backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
pub enum Backend {
    /// burn's pure-Rust CPU backend (`flex`): always available, the default.
    #[default]
    Flex,
}

impl Backend {
    /// The inference device of this backend.
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
        }
    }

    /// The same device with autodiff (for training and probes).
    pub fn autodiff_device(self) -> Device {
        self.device().autodiff()
    }
}
