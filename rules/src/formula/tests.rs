use super::*;
use crate::error::ErrorCode;
use crate::money::parse as d;

fn scope() -> Scope {
    Scope {
        tier: true,
        rate_names: alloc::vec!["rate".into(), "bound_rate".into()],
    }
}

fn vars<'a>(rates: &'a [Decimal]) -> Vars<'a> {
    Vars {
        notional: d("10000").unwrap(),
        fee: d("2000").unwrap(),
        fee_rate: None,
        vip: Decimal::from(6),
        affiliate_rate: d("0.1").unwrap(),
        channel: "api",
        product: "spot",
        liquidity: "",
        account: "c1",
        broker: "B1",
        master: "",
        attribution: "broker_code",
        msa: false,
        fee_discount: false,
        tier_level: 3,
        tier: "BKR 3",
        rates,
    }
}

fn num(src: &str) -> Result<String> {
    let rates = [d("0.4").unwrap(), d("0.05").unwrap()];
    let e = Expr::compile(src, &scope(), Ty::Num)?;
    e.eval_num(&vars(&rates)).map(crate::money::canonical)
}

fn boolean(src: &str) -> bool {
    let rates = [d("0.4").unwrap(), d("0.05").unwrap()];
    Expr::compile(src, &scope(), Ty::Bool)
        .unwrap()
        .eval_bool(&vars(&rates))
        .unwrap()
}

fn compile_err(src: &str, want: Ty) -> (ErrorCode, u32, String) {
    let e = Expr::compile(src, &scope(), want).unwrap_err();
    (e.code, e.location.position.unwrap(), e.message)
}

#[test]
fn backpack_formula() {
    assert_eq!(
        num("fee * min(tier_rate, max(0, 50% - affiliate_rate))").unwrap(),
        "800"
    );
}

#[test]
fn every_operator() {
    assert_eq!(num("1 + 2 * 3 - 4 / 8").unwrap(), "6.5");
    assert_eq!(num("(1 + 2) * 3").unwrap(), "9");
    assert_eq!(num("-fee + -(-1)").unwrap(), "-1999");
    assert_eq!(num("abs(-2.50)").unwrap(), "2.5");
    assert_eq!(num("min(3, 1, 2) + max(3, 1, 2)").unwrap(), "4");
    assert_eq!(num("if(vip >= 6, 0, 1)").unwrap(), "0");
    assert_eq!(num("fee_rate").unwrap(), "0.2");
    assert_eq!(num("tier_level + bound_rate").unwrap(), "3.05");
    assert_eq!(num("12.5%").unwrap(), "0.125");
    assert!(boolean(
        "channel == 'api' and product in ['spot', \"futures\"]"
    ));
    assert!(boolean("not (channel != 'api') or false"));
    assert!(boolean(
        "vip in [5, 6] and vip > 5 and vip < 7 and vip <= 6"
    ));
    assert!(boolean("channel not in ['web', 'app']"));
    assert!(!boolean("fee_discount"));
    assert!(boolean("tier == 'BKR 3' and true"));
}

#[test]
fn runtime_errors_are_values_not_panics() {
    let e = Expr::compile("fee / (vip - 6)", &scope(), Ty::Num).unwrap();
    let rates = [Decimal::ZERO, Decimal::ZERO];
    let err = e.eval_num(&vars(&rates)).unwrap_err();
    assert_eq!(
        (err.code, err.location.position),
        (ErrorCode::DivZero, Some(4))
    );
    assert_eq!(num("fee / 3").unwrap_err().code, ErrorCode::Inexact);
    assert_eq!(
        num("79228162514264337593543950335 * 2").unwrap_err().code,
        ErrorCode::Overflow
    );
}

#[test]
fn parse_errors_with_positions() {
    assert_eq!(compile_err("fee * ", Ty::Num).1, 6);
    assert_eq!(compile_err("fee * (1 + 2", Ty::Num).1, 12);
    assert_eq!(compile_err("fee # 2", Ty::Num).1, 4);
    assert_eq!(compile_err("fee = 2", Ty::Bool).1, 4);
    assert_eq!(compile_err("'abc", Ty::Num).1, 0);
    assert_eq!(compile_err("fee 2", Ty::Num).1, 4);
    assert_eq!(compile_err("1e5", Ty::Num).1, 1);
    assert_eq!(compile_err("", Ty::Num).0, ErrorCode::Expr);
    let (code, pos, msg) = compile_err("fee * volume", Ty::Num);
    assert_eq!(
        (code, pos, msg.as_str()),
        (ErrorCode::Expr, 6, "unknown name 'volume'")
    );
    let (_, pos, msg) = compile_err("floor(fee)", Ty::Num);
    assert_eq!(
        (pos, msg.as_str()),
        (0, "unknown function 'floor' (known: min, max, abs, if)")
    );
    assert_eq!(
        compile_err("if(true, 1)", Ty::Num).2,
        "if() takes 3 arguments, got 2"
    );
}

#[test]
fn type_errors() {
    assert_eq!(
        compile_err("channel + 1", Ty::Num).2,
        "type mismatch: '+' needs a number, got a string"
    );
    assert_eq!(compile_err("channel + 1", Ty::Num).1, 8);
    assert_eq!(
        compile_err("fee == 'api'", Ty::Bool).2,
        "type mismatch: cannot compare number with string using '=='"
    );
    assert_eq!(compile_err("vip and true", Ty::Bool).1, 4);
    assert_eq!(
        compile_err("if(fee, 1, 2)", Ty::Num).2,
        "type mismatch: 'if' needs a boolean, got a number"
    );
    assert_eq!(
        compile_err("if(true, 1, 'x')", Ty::Num).2,
        "type mismatch: if() branches are number and string"
    );
    assert_eq!(compile_err("channel in [1, 2]", Ty::Bool).1, 12);
    assert_eq!(
        compile_err("fee", Ty::Bool).2,
        "expression has type number, but a boolean is needed here"
    );
    let no_tier = Scope {
        tier: false,
        rate_names: alloc::vec!["rate".into()],
    };
    let e = Expr::compile("tier_rate > 0", &no_tier, Ty::Bool).unwrap_err();
    assert!(e.message.contains("tier variable"), "{}", e.message);
}

/// Inputs that once overflowed the stack (issue: a formula nested ~4,400 deep, ~8,000 unary
/// minuses, a flat sum of ~7,000 terms) are `E_EXPR` with a position, on a thread with a
/// small stack, and the limits themselves still compile and evaluate.
#[test]
fn deep_and_long_expressions_are_errors_not_crashes() {
    let run = || {
        let code = |src: &str| {
            Expr::compile(src, &scope(), Ty::Num)
                .map(|_| ())
                .unwrap_err()
        };
        let nested = alloc::format!("{}fee{}", "(".repeat(4400), ")".repeat(4400));
        assert!(code(&nested)
            .message
            .contains("longer than 4096 characters"));
        let nested = alloc::format!("{}fee{}", "(".repeat(2000), ")".repeat(2000));
        let e = code(&nested);
        assert_eq!(e.code, ErrorCode::Expr);
        assert!(e.message.contains("nested more than 64"), "{}", e.message);
        assert_eq!(e.location.position, Some(64));
        let minus = alloc::format!("{}fee", "-".repeat(8000));
        assert!(code(&minus).message.contains("longer than 4096 characters"));
        let minus = alloc::format!("{}fee", "-".repeat(100));
        assert!(code(&minus).message.contains("nested more than 64"));
        let flat = alloc::vec!["fee"; 7000].join("+");
        assert!(code(&flat).message.contains("longer than 4096"));
        let flat = alloc::vec!["1"; 300].join("+");
        let e = code(&flat);
        assert!(e.message.contains("deeper than 256"), "{}", e.message);
        let nots = alloc::format!("{}true", "not ".repeat(70));
        let e = Expr::compile(&nots, &scope(), Ty::Bool).unwrap_err();
        assert!(e.message.contains("nested more than 64"), "{}", e.message);
        let calls = alloc::format!("{}fee{}", "abs(".repeat(65), ")".repeat(65));
        assert!(code(&calls).message.contains("nested more than 64"));
        // At the limits: fine.
        let ok = alloc::format!("{}fee{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(num(&ok).unwrap(), "2000");
        let ok = alloc::vec!["1"; 255].join("+");
        assert_eq!(num(&ok).unwrap(), "255");
    };
    // At the limits, parsing needs under 256 KB of stack in release builds (what every host
    // ships); unoptimized test builds use several times more per frame.
    let stack = if cfg!(debug_assertions) {
        2 << 20
    } else {
        256 << 10
    };
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}
