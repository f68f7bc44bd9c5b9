fn main() {
    std::process::exit(broker_rules_cli::main());
}
