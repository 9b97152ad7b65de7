//! A small random VGG-16 written as a `.safetensors` file under torchvision's names, for tests
//! that need a `--vgg FILE` without the 59 MB ImageNet one (CI has none).

use std::path::Path;

/// torchvision's `features` index of each VGG-16 convolution.
const CONV_INDICES: [usize; 13] = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28];
/// Convolutions per block.
const BLOCKS: [usize; 5] = [2, 2, 3, 3, 3];
/// Full widths of the blocks.
const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// Writes a VGG-16 at width `64/div` … `512/div` with seeded random weights (uniform, He-scaled:
/// std `sqrt(2 / fan_in)`) and small positive biases to `path`. `act_scale`, when given, is
/// written as the `act_scale` metadata that scripts/fetch-vgg.sh writes (its value string).
pub fn write_small_vgg16(path: &Path, div: usize, seed: u64, act_scale: Option<&str>) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
        v as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    };
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    let mut cin = 3;
    let mut k = 0;
    for (b, n) in BLOCKS.into_iter().enumerate() {
        let cout = (WIDTHS[b] / div).max(1);
        for _ in 0..n {
            let a = (2.0 / (cin * 9) as f32).sqrt() * 3f32.sqrt();
            let w: Vec<f32> = (0..cout * cin * 9).map(|_| a * uniform()).collect();
            let bias: Vec<f32> = (0..cout).map(|_| 0.05 * (uniform() + 1.0)).collect();
            let i = CONV_INDICES[k];
            tensors.push((format!("features.{i}.weight"), vec![cout, cin, 3, 3], w));
            tensors.push((format!("features.{i}.bias"), vec![cout], bias));
            cin = cout;
            k += 1;
        }
    }
    let mut header = serde_json::Map::new();
    if let Some(s) = act_scale {
        header.insert(
            "__metadata__".into(),
            serde_json::json!({ "act_scale": s, "format": "pt" }),
        );
    }
    let mut data: Vec<u8> = Vec::new();
    for (name, shape, values) in &tensors {
        let start = data.len();
        for v in values {
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [start, data.len()] }),
        );
    }
    let head = serde_json::to_vec(&serde_json::Value::Object(header)).expect("header json");
    let mut bytes = (head.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&head);
    bytes.extend_from_slice(&data);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir for the VGG file");
    }
    std::fs::write(path, bytes).expect("write the VGG file");
}

/// The sha256 (hex) of a file.
pub fn sha256_hex(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).expect("read for sha256");
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
