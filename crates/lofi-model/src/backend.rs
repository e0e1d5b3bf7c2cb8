//! Which burn backend trains: `flex` (CPU, always built, the fastest CPU
//! backend measured here) or, in builds with the matching cargo feature,
//! `wgpu` (Vulkan/Metal/DX12 GPUs) or `cuda` (NVIDIA). The model code is the
//! same on every backend; only the device differs.

use burn::tensor::Device;

use crate::error::ModelError;

/// Names `--device` accepts in this build.
pub fn available() -> Vec<&'static str> {
    let mut names = vec!["flex"];
    if cfg!(feature = "wgpu") {
        names.push("wgpu");
    }
    if cfg!(feature = "cuda") {
        names.push("cuda");
    }
    names
}

/// The device a backend name stands for (the first GPU for `wgpu` and
/// `cuda`), or a clear error naming the cargo feature a build needs.
pub fn device(name: &str) -> Result<Device, ModelError> {
    match name {
        "flex" => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        "wgpu" => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" => Err(missing(name)),
        #[cfg(not(feature = "cuda"))]
        "cuda" => Err(missing(name)),
        other => Err(ModelError::Config(format!(
            "unknown device {other:?}; this build has: {}",
            available().join(", ")
        ))),
    }
}

#[allow(dead_code)] // unused in a build with every GPU feature
fn missing(name: &str) -> ModelError {
    ModelError::Config(format!(
        "this build of lofi has no {name} backend; build it with \
         `cargo build --release -p lofi-cli --features {name}`"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flex_always_and_gpus_only_when_built() {
        assert!(device("flex").is_ok());
        assert_eq!(available()[0], "flex");
        if !cfg!(feature = "wgpu") {
            let e = device("wgpu").unwrap_err().to_string();
            assert!(e.contains("--features wgpu"), "{e}");
        }
        assert!(device("tpu").unwrap_err().to_string().contains("unknown device"));
    }
}
