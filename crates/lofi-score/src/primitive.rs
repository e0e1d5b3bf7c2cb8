//! Newtypes for MIDI values, so a pitch is never passed where a velocity was
//! meant and out-of-range values are rejected where they are made.

use serde::{Deserialize, Serialize};

macro_rules! seven_bit {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "u8", into = "u8")]
        pub struct $name(u8);

        impl $name {
            /// The value if it fits in MIDI's 7 bits (0..=127).
            pub const fn new(value: u8) -> Option<Self> {
                if value <= 127 { Some(Self(value)) } else { None }
            }
            /// Clamps into 0..=127.
            pub const fn saturating(value: i32) -> Self {
                Self(if value < 0 { 0 } else if value > 127 { 127 } else { value as u8 })
            }
            /// The raw 7-bit value.
            pub const fn value(self) -> u8 {
                self.0
            }
        }

        impl TryFrom<u8> for $name {
            type Error = String;
            fn try_from(v: u8) -> Result<Self, String> {
                Self::new(v).ok_or_else(|| format!("{} {v} is out of range 0..=127", stringify!($name)))
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                v.0
            }
        }
    };
}

seven_bit!(
    /// A MIDI key number (60 = middle C); on a drum part, the drum sound.
    Pitch
);
seven_bit!(
    /// A note-on velocity, 1..=127 for sounding notes.
    Velocity
);
seven_bit!(
    /// A General MIDI program number, 0-based (0 = acoustic grand piano).
    Program
);

impl Pitch {
    /// Pitch class, 0 = C .. 11 = B.
    pub const fn class(self) -> u8 {
        self.0 % 12
    }
}
