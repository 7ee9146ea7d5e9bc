fn main() {
    print!("{}", payments_domain::state_diagram());
}
