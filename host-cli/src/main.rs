/// mimalloc: the statement is built from many small strings and freed in bulk, where glibc's
/// allocator cost a third of an hourly settlement's time (bench/RESULTS.md, session 5).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(broker_rules_cli::main());
}
