//! Prints how long one password hash takes in each scheme, for the benchmark's "hash limit"
//! (cores ÷ one hash's time). `cargo run --release --example hash_time`.
#![forbid(unsafe_code)]

use std::time::Instant;

use sesame::auth::password;
use sesame::config::PasswordHash;

fn main() -> anyhow::Result<()> {
    for (name, scheme, cost) in [
        ("scrypt", PasswordHash::Scrypt, 10),
        ("bcrypt10", PasswordHash::Bcrypt, 10),
    ] {
        let stored = password::hash("warm-up-password", scheme, cost)?;
        let runs = 8;
        let start = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(password::verify("warm-up-password", &stored));
        }
        let ms = start.elapsed().as_secs_f64() * 1000.0 / f64::from(runs);
        println!("{{\"scheme\":\"{name}\",\"ms\":{ms:.2}}}");
    }
    Ok(())
}
