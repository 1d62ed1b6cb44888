// `sqlx::migrate!` embeds the migrations at compile time; without this, a
// migration added later is not seen until something else changes the crate
// (sqlx's own advice).
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
