//! The built-in drum kit against recorded kits, piece by piece: each hit
//! (velocity 100) measured by `lofi_audio::spectrum::OneShotMeasures`.
//!
//! ```sh
//! cargo run --release -p lofi-audio --example kit_spectra -- \
//!     /usr/share/sounds/sf2/FluidR3_GM.sf2 /usr/share/sounds/sf2/TimGM6mb.sf2
//! ```
//!
//! Each SoundFont's GM standard kit (channel 10) is a set of recorded
//! drums: the reference the built-in kit is compared with. Prints a
//! Markdown table.

use lofi_audio::spectrum::OneShotMeasures;
use lofi_audio::{load_soundfont, DrumKit, Instrument, Sf2};
use lofi_core::Seed;

const RATE: u32 = 44_100;
const PIECES: [(&str, u8); 7] = [
    ("kick", 36),
    ("snare", 38),
    ("side stick", 37),
    ("closed hat", 42),
    ("open hat", 46),
    ("crash", 49),
    ("tom", 45),
];

/// Makes a fresh kit.
type MakeKit = Box<dyn Fn() -> Result<Box<dyn Instrument>, Box<dyn std::error::Error>>>;

/// Two seconds of one hit, mono.
fn hit(kit: &mut dyn Instrument, pitch: u8) -> Vec<f32> {
    let n = 2 * RATE as usize;
    let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
    kit.note_on(pitch, 100);
    for (lc, rc) in l.chunks_mut(512).zip(r.chunks_mut(512)) {
        kit.render(lc, rc);
    }
    l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut kits: Vec<(String, MakeKit)> = vec![(
        "lofi built-in".to_string(),
        Box::new(|| Ok(Box::new(DrumKit::new(RATE, Seed(0))) as Box<dyn Instrument>)),
    )];
    for path in std::env::args().skip(1) {
        let font = load_soundfont(std::path::Path::new(&path))?;
        let name = std::path::Path::new(&path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or(path.clone());
        kits.push((
            name,
            Box::new(move || Ok(Box::new(Sf2::new(&font, RATE, 0, true, 512)?) as Box<dyn Instrument>)),
        ));
    }
    println!(
        "| piece | kit | centroid Hz | roll-off Hz | < 150 Hz | > 12 kHz | flatness | T40 s | level dB |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (piece, pitch) in PIECES {
        for (name, make) in &kits {
            // A fresh kit per hit: nothing of the last one still rings.
            let mut kit = make()?;
            let m = OneShotMeasures::of(&hit(kit.as_mut(), pitch), RATE);
            println!(
                "| {piece} | {name} | {:.0} | {:.0} | {:.3} | {:.4} | {:.3} | {:.2} | {:.1} |",
                m.centroid_hz, m.rolloff_hz, m.low_share, m.air_share, m.flatness, m.t40_s, m.level_db
            );
        }
    }
    Ok(())
}
