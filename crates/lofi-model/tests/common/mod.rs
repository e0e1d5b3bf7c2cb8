//! The toy corpus and run spec shared by the training tests.
#![allow(dead_code)]

use lofi_model::{Arch, ModelConfig, RunSpec, TrainOptions};
use lofi_tokens::{Cache, Song, Split, TokenizerConfig};

/// Songs of a repeating one-bar REMI phrase, each in its own key: a
/// sequence a model can learn far below its unigram entropy.
pub fn toy_cache() -> Cache {
    let tokenizer = TokenizerConfig::by_name("remi").unwrap();
    let tok = tokenizer.build().unwrap();
    let id = |name: &str| -> u16 {
        (0..tok.vocab().len() as u16)
            .find(|&t| tok.vocab().name(t) == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    let songs = (0..12u16)
        .map(|k| {
            let mut tokens = Vec::new();
            for bar in 0..24u16 {
                tokens.push(id("Bar"));
                for (pos, step) in [(0, 0u16), (4, 4), (8, 7), (12, 12)] {
                    tokens.push(id(&format!("Position_{pos}")));
                    tokens.push(id(&format!("Pitch_{}", 55 + k + step + (bar % 2) * 2)));
                    tokens.push(id("Velocity_4"));
                    tokens.push(id("Duration_4"));
                }
            }
            Song {
                file: format!("toy{k}.mid"),
                split: if k % 6 == 5 {
                    Split::Validation
                } else {
                    Split::Train
                },
                notes: 96,
                rest_steps: 0,
                span_steps: 384,
                tokens,
            }
        })
        .collect();
    Cache {
        tokenizer,
        seed: 0,
        val_fraction: 0.2,
        songs,
    }
}

pub fn spec(arch: Arch, epochs: usize, cache: &Cache) -> RunSpec {
    RunSpec {
        lofi_version: "test".into(),
        model: ModelConfig::new(arch, cache.tokenizer.build().unwrap().vocab().len(), 16)
            .with_embed(32)
            .with_hidden(48)
            .with_layers(2)
            .with_dropout(0.0),
        tokenizer: cache.tokenizer.clone(),
        train: TrainOptions {
            epochs,
            batch: 16,
            lr: 5e-3,
            warmup_steps: 5,
            patience: 10,
            seed: 3,
            ..TrainOptions::default()
        },
        data: "toy.lofitok".into(),
    }
}
