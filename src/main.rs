use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the C library's allocator: a request allocates a few dozen small objects
/// and frees them on the same thread, which mimalloc's per-thread free lists serve without the
/// locks and bin sorting of glibc's `free` (a sixth of a request's user-space work was spent
/// there). See `docs/adr/0011-request-path.md`.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = spotter::cli::Cli::parse();
    spotter::cli::run(cli)
}
