//! The hand-written training step (`train::host_step`) against burn's autodiff step: the same
//! loss and, parameter by parameter, the same gradient (within 1e-5 of each parameter's largest
//! entry; the key biases', 0 up to rounding, within 1e-5 of the largest) for SFT and DPO, with and without class weights, on BERT (exact and tanh GELU) and a
//! RoBERTa-shaped model with padding of mixed lengths; every parameter gets one. Then `ntkgap
//! train` end to end both ways (`NTKGAP_FORWARD=burn` pins burn's step): the same losses, dev
//! metrics and weights to f32 rounding.

use std::path::Path;
use std::process::Command;

use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use ntkgap::model::{Batch, MarginModel, WeightMap};
use ntkgap::tokenize::pad_batch;
use ntkgap::train::host_step::parameter_ids;
use ntkgap::train::objective::{dpo_loss_weighted, margin_loss_host, sft_loss_weighted, MarginLoss};

use crate::common::{ntkgap, s, stderr};
use crate::ntk_fastfb::{cases, relative};

fn host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

#[test]
fn the_hand_written_training_step_gives_burns_gradients() {
    let device = Device::flex().autodiff();
    let mut worst = 0.0f64;
    for case in cases().into_iter().filter(|c| c.model.config.num_labels() == 2) {
        let n = case.encodings.len();
        let signs: Vec<f32> = (0..n).map(|i| if i % 3 == 0 { 1.0 } else { -1.0 }).collect();
        let weights: Vec<f32> = (0..n).map(|i| 0.5 + i as f32 * 0.4).collect();
        let reference: Vec<f32> = (0..n).map(|i| 0.3 - i as f32 * 0.2).collect();
        for (dpo, weighted) in [(false, false), (false, true), (true, true)] {
            let what = format!("{} (dpo {dpo}, weighted {weighted})", case.name);
            let loss = MarginLoss {
                signs: &signs,
                reference: dpo.then_some(&reference[..]),
                beta: 0.5,
                weights: weighted.then_some(&weights[..]),
            };
            let (value, fast) = case
                .model
                .host_gradients((&case.encodings, case.pad_id), &device, &|m| margin_loss_host(m, &loss))
                .unwrap()
                .unwrap_or_else(|| panic!("{what}: the hand-written step did not run"));
            let batch =
                Batch::new(&pad_batch(&case.encodings, case.pad_id).unwrap(), &case.model.config, &device).unwrap();
            let on = |v: &[f32]| Tensor::<1>::from_data(TensorData::new(v.to_vec(), [n]), &device);
            let margin = case.model.margin(&batch);
            let w = weighted.then(|| on(&weights));
            let burn_loss = if dpo {
                dpo_loss_weighted(margin, on(&reference), on(&signs), 0.5, w)
            } else {
                sft_loss_weighted(margin, on(&signs), w)
            };
            let burn_value = f64::from(host(burn_loss.clone())[0]);
            assert!(
                (value - burn_value).abs() <= 1e-5 * (1.0 + burn_value.abs()),
                "{what}: loss {value} vs {burn_value}"
            );
            let burn = GradientsParams::from_grads(burn_loss.backward(), &case.model);
            let ids = parameter_ids(&case.model);
            assert_eq!(fast.len(), ids.len(), "{what}: one gradient per parameter");
            assert_eq!(burn.len(), ids.len(), "{what}: burn's gradients");
            let pairs: Vec<(String, Vec<f32>, Vec<f32>)> = ids
                .into_iter()
                .map(|(name, id, rank)| match rank {
                    1 => (name, host(fast.get::<1>(id).unwrap()), host(burn.get::<1>(id).unwrap())),
                    _ => (name, host(fast.get::<2>(id).unwrap()), host(burn.get::<2>(id).unwrap())),
                })
                .collect();
            let largest = pairs.iter().flat_map(|(_, _, b)| b).map(|v| f64::from(v.abs())).fold(0.0, f64::max);
            for (name, f, b) in pairs {
                // A key bias adds q·b to every score of a query, which the softmax ignores: its
                // gradient is 0 up to rounding in both, so it is held to the model's largest.
                if name.ends_with("attention.self.key.bias") {
                    let gap = f.iter().zip(&b).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max);
                    assert!(gap <= 1e-5 * largest, "{what}: {name}: {gap:e} against a largest gradient {largest:e}");
                    continue;
                }
                assert!(b.iter().any(|&v| v != 0.0), "{what}: burn's gradient of {name} is all zero");
                let rel = relative(&f, &b);
                assert!(rel <= 1e-5, "{what}: the gradient of {name} differs from burn's by {rel:e} of its largest");
                worst = worst.max(rel);
            }
        }
    }
    eprintln!("hand-written training step vs burn: largest relative gradient difference {worst:.2e}");
}

/// `ntkgap train` on builtin:tiny with the step chosen by `NTKGAP_FORWARD`; returns the run
/// directory and the seconds it took.
fn train(dir: &Path, data: &Path, engine: &str) -> (std::path::PathBuf, f64) {
    let out = dir.join(format!("run-{engine}"));
    let started = std::time::Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_ntkgap"))
        .env("NTKGAP_FORWARD", engine)
        .args(["train", "--model", "builtin:tiny", "--epochs", "2", "--batch", "8", "--seed", "3"])
        .args(["--data", s(&data.join("dev.jsonl")), "--dev", s(&data.join("test.jsonl")), "--out", s(&out)])
        .output()
        .unwrap();
    assert!(run.status.success(), "{engine}: {}", stderr(&run));
    (out, started.elapsed().as_secs_f64())
}

#[test]
fn ntkgap_train_gives_the_same_model_by_either_step() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("c2c");
    let run = ntkgap(&["generate", "--kind", "corr2cause", "--nodes", "2..3", "--out", s(&data)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let (fast, fast_s) = train(tmp.path(), &data, "auto");
    let (burn, burn_s) = train(tmp.path(), &data, "burn");
    let json = |dir: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join("history.json")).unwrap()).unwrap()
    };
    let (hf, hb) = (json(&fast), json(&burn));
    let (ef, eb) = (hf.as_array().unwrap(), hb.as_array().unwrap());
    assert_eq!(ef.len(), eb.len(), "epochs: {hf} vs {hb}");
    for (f, b) in ef.iter().zip(eb) {
        for key in ["train_loss", "learning_rate"] {
            let (x, y) = (f[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{key}: {x} vs burn {y}");
        }
        for key in ["loss", "accuracy"] {
            let (x, y) = (f["dev"][key].as_f64().unwrap(), b["dev"][key].as_f64().unwrap());
            assert!((x - y).abs() <= 1e-3 * (1.0 + y.abs()), "dev {key}: {x} vs burn {y}");
        }
    }
    let weights = |dir: &Path| WeightMap::read_safetensors(&dir.join("last/model.safetensors")).unwrap();
    let (wf, wb) = (weights(&fast), weights(&burn));
    assert_eq!(wf.names(), wb.names());
    let mut worst = 0.0f64;
    for name in wb.names() {
        let (f, b) = (wf.get(&name).unwrap(), wb.get(&name).unwrap());
        assert_eq!(f.shape, b.shape, "{name}");
        let gap = f.data.iter().zip(&b.data).map(|(x, y)| f64::from((x - y).abs())).fold(0.0, f64::max);
        assert!(gap <= 1e-4, "{name}: the two runs' weights differ by up to {gap:e}");
        worst = worst.max(gap);
    }
    eprintln!(
        "ntkgap train builtin:tiny, 2 epochs: hand-written step {fast_s:.1} s, burn's {burn_s:.1} s; weights within {worst:.2e}"
    );
}
