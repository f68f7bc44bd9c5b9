//! Tokenizer and Pratt parser with type checking in the same pass: every node gets its type
//! as it is built, so a type error points at the operator that caused it.

use super::{BinOp, Lit, Node, Scope, Ty, Var};
use crate::error::{Error, ErrorCode, Result};
use crate::money;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(Decimal),
    Str(String),
    Name(String),
    Op(&'static str),
    End,
}

pub(super) struct Parser<'s> {
    toks: Vec<(Tok, u32)>,
    at: usize,
    scope: &'s Scope,
    nodes: Vec<Node>,
    positions: Vec<u32>,
    /// Current nesting (parentheses, calls, unary `-`, `not`): bounded by [`MAX_NESTING`]
    /// so parsing never recurses in proportion to the input.
    depth: u32,
}

/// Longest expression, in characters.
pub const MAX_EXPR_CHARS: usize = 4096;
/// Deepest nesting of parentheses, calls, unary minus and `not`.
pub const MAX_NESTING: u32 = 64;
/// Deepest expression tree (a chain of `a + b + c ...` is as deep as it is long), so
/// evaluation's recursion is bounded whatever thread runs it.
pub const MAX_DEPTH: u32 = 256;

fn err(pos: u32, msg: String) -> Error {
    Error::new(ErrorCode::Expr, msg).position(pos)
}

fn lex(src: &str) -> Result<Vec<(Tok, u32)>> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let pos = i as u32;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i].is_alphabetic() || chars[i] == '_') {
                return Err(err(
                    i as u32,
                    format!("unexpected '{}' after a number", chars[i]),
                ));
            }
            let text: String = chars[start..i].iter().collect();
            let mut v = money::parse(&text).map_err(|e| err(pos, e.message))?;
            if chars.get(i) == Some(&'%') {
                i += 1;
                v = money::div(v, Decimal::ONE_HUNDRED).map_err(|e| err(pos, e.message))?;
            }
            out.push((Tok::Num(v), pos));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Name(chars[start..i].iter().collect()), pos));
            continue;
        }
        if c == '\'' || c == '"' {
            let start = i + 1;
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i == chars.len() {
                return Err(err(pos, "unterminated string".into()));
            }
            out.push((Tok::Str(chars[start..i].iter().collect()), pos));
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let op = ["==", "!=", "<=", ">="].into_iter().find(|o| *o == two);
        if let Some(op) = op {
            out.push((Tok::Op(op), pos));
            i += 2;
            continue;
        }
        let one = ["+", "-", "*", "/", "(", ")", "[", "]", ",", "<", ">"]
            .into_iter()
            .find(|o| o.starts_with(c));
        match one {
            Some(op) => {
                out.push((Tok::Op(op), pos));
                i += 1;
            }
            None if c == '=' => {
                return Err(err(pos, "'=' is not an operator; compare with '=='".into()))
            }
            None => return Err(err(pos, format!("unexpected character '{c}'"))),
        }
    }
    out.push((Tok::End, chars.len() as u32));
    Ok(out)
}

impl<'s> Parser<'s> {
    pub(super) fn new(src: &str, scope: &'s Scope) -> Result<Self> {
        if src.trim().is_empty() {
            return Err(err(0, "empty expression".into()));
        }
        if let Some((i, _)) = src.char_indices().nth(MAX_EXPR_CHARS) {
            let pos = src[..i].chars().count() as u32;
            return Err(err(
                pos,
                format!("expression longer than {MAX_EXPR_CHARS} characters"),
            ));
        }
        Ok(Parser {
            toks: lex(src)?,
            at: 0,
            scope,
            nodes: Vec::new(),
            positions: Vec::new(),
            depth: 0,
        })
    }

    pub(super) fn parse_all(&mut self) -> Result<(u32, Ty)> {
        let r = self.expr()?;
        match self.peek() {
            Tok::End => Ok(r),
            t => Err(err(
                self.pos(),
                format!("unexpected {} after the end of the expression", describe(t)),
            )),
        }
    }

    pub(super) fn finish(self) -> (Vec<Node>, Vec<u32>) {
        (self.nodes, self.positions)
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }
    fn pos(&self) -> u32 {
        self.toks[self.at].1
    }
    fn bump(&mut self) -> (Tok, u32) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(o) if *o == op)
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Name(n) if n == kw)
    }
    fn expect(&mut self, op: &str) -> Result<()> {
        if self.is_op(op) {
            self.bump();
            Ok(())
        } else {
            Err(err(
                self.pos(),
                format!("expected '{op}', found {}", describe(self.peek())),
            ))
        }
    }
    fn push(&mut self, n: Node, pos: u32) -> u32 {
        self.nodes.push(n);
        self.positions.push(pos);
        (self.nodes.len() - 1) as u32
    }

    fn expr(&mut self) -> Result<(u32, Ty)> {
        self.logic(true)
    }

    /// Enters one level of nesting at `pos`, or fails past [`MAX_NESTING`].
    fn enter(&mut self, pos: u32) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(err(
                pos,
                format!("expression nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn logic(&mut self, or: bool) -> Result<(u32, Ty)> {
        let mut left = if or { self.logic(false)? } else { self.not()? };
        let kw = if or { "or" } else { "and" };
        while self.is_kw(kw) {
            let pos = self.bump().1;
            let right = if or { self.logic(false)? } else { self.not()? };
            want(left.1, Ty::Bool, pos, kw)?;
            want(right.1, Ty::Bool, pos, kw)?;
            let op = if or { BinOp::Or } else { BinOp::And };
            left = (self.push(Node::Bin(op, left.0, right.0), pos), Ty::Bool);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<(u32, Ty)> {
        if self.is_kw("not") {
            let pos = self.bump().1;
            self.enter(pos)?;
            let (e, ty) = self.not()?;
            self.depth -= 1;
            want(ty, Ty::Bool, pos, "not")?;
            return Ok((self.push(Node::Not(e), pos), Ty::Bool));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<(u32, Ty)> {
        let left = self.sum()?;
        let pos = self.pos();
        let negated_in =
            self.is_kw("not") && matches!(&self.toks[self.at + 1].0, Tok::Name(n) if n == "in");
        if negated_in {
            self.bump();
        }
        if self.is_kw("in") {
            self.bump();
            return self.in_list(left, pos, negated_in);
        }
        let op = match self.peek() {
            Tok::Op("==") => BinOp::Eq,
            Tok::Op("!=") => BinOp::Ne,
            Tok::Op("<") => BinOp::Lt,
            Tok::Op("<=") => BinOp::Le,
            Tok::Op(">") => BinOp::Gt,
            Tok::Op(">=") => BinOp::Ge,
            _ => return Ok(left),
        };
        let (_, pos) = self.bump();
        let right = self.sum()?;
        let sym = op_symbol(op);
        match op {
            BinOp::Eq | BinOp::Ne => {
                if left.1 != right.1 {
                    return Err(err(
                        pos,
                        format!(
                            "type mismatch: cannot compare {} with {} using '{sym}'",
                            left.1.name(),
                            right.1.name()
                        ),
                    ));
                }
            }
            _ => {
                want(left.1, Ty::Num, pos, sym)?;
                want(right.1, Ty::Num, pos, sym)?;
            }
        }
        Ok((self.push(Node::Bin(op, left.0, right.0), pos), Ty::Bool))
    }

    fn in_list(&mut self, left: (u32, Ty), pos: u32, negated: bool) -> Result<(u32, Ty)> {
        if left.1 == Ty::Bool {
            return Err(err(
                pos,
                "type mismatch: 'in' needs a number or a string on its left".into(),
            ));
        }
        self.expect("[")?;
        let mut list = Vec::new();
        while !self.is_op("]") {
            let (t, p) = self.bump();
            let negative = matches!(t, Tok::Op("-"));
            let (t, p) = if negative { self.bump() } else { (t, p) };
            let lit = match (t, left.1) {
                (Tok::Num(n), Ty::Num) => Lit::Num(if negative { -n } else { n }),
                (Tok::Str(s), Ty::Str) if !negative => Lit::Str(s.into()),
                (Tok::Num(_) | Tok::Str(_), ty) => {
                    return Err(err(
                        p,
                        format!(
                            "type mismatch: the list holds a value that is not a {}",
                            ty.name()
                        ),
                    ))
                }
                (t, _) => {
                    return Err(err(
                        p,
                        format!("expected a literal in the list, found {}", describe(&t)),
                    ))
                }
            };
            list.push(lit);
            if !self.is_op("]") {
                self.expect(",")?;
            }
        }
        self.bump();
        Ok((
            self.push(
                Node::In {
                    value: left.0,
                    list: list.into(),
                    negated,
                },
                pos,
            ),
            Ty::Bool,
        ))
    }

    fn sum(&mut self) -> Result<(u32, Ty)> {
        let mut left = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Op("+") => BinOp::Add,
                Tok::Op("-") => BinOp::Sub,
                _ => return Ok(left),
            };
            let (_, pos) = self.bump();
            let right = self.product()?;
            left = self.arith(op, left, right, pos)?;
        }
    }

    fn product(&mut self) -> Result<(u32, Ty)> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Op("*") => BinOp::Mul,
                Tok::Op("/") => BinOp::Div,
                _ => return Ok(left),
            };
            let (_, pos) = self.bump();
            let right = self.unary()?;
            left = self.arith(op, left, right, pos)?;
        }
    }

    fn arith(&mut self, op: BinOp, l: (u32, Ty), r: (u32, Ty), pos: u32) -> Result<(u32, Ty)> {
        want(l.1, Ty::Num, pos, op_symbol(op))?;
        want(r.1, Ty::Num, pos, op_symbol(op))?;
        Ok((self.push(Node::Bin(op, l.0, r.0), pos), Ty::Num))
    }

    fn unary(&mut self) -> Result<(u32, Ty)> {
        if self.is_op("-") {
            let pos = self.bump().1;
            self.enter(pos)?;
            let (e, ty) = self.unary()?;
            self.depth -= 1;
            want(ty, Ty::Num, pos, "-")?;
            return Ok((self.push(Node::Neg(e), pos), Ty::Num));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<(u32, Ty)> {
        let (t, pos) = self.bump();
        match t {
            Tok::Num(n) => Ok((self.push(Node::Num(n), pos), Ty::Num)),
            Tok::Str(s) => Ok((self.push(Node::Str(s.into()), pos), Ty::Str)),
            Tok::Op("(") => {
                self.enter(pos)?;
                let e = self.expr()?;
                self.expect(")")?;
                self.depth -= 1;
                Ok(e)
            }
            Tok::Name(n) if self.is_op("(") => self.call(&n, pos),
            Tok::Name(n) => match n.as_str() {
                "true" => Ok((self.push(Node::Bool(true), pos), Ty::Bool)),
                "false" => Ok((self.push(Node::Bool(false), pos), Ty::Bool)),
                _ => {
                    let (var, ty) = self.scope.lookup(&n).map_err(|m| err(pos, m))?;
                    Ok((self.push(Node::Var(var), pos), ty))
                }
            },
            t => Err(err(
                pos,
                format!("expected a value, found {}", describe(&t)),
            )),
        }
    }

    fn call(&mut self, name: &str, pos: u32) -> Result<(u32, Ty)> {
        self.enter(pos)?;
        let r = self.call_args(name, pos);
        self.depth -= 1;
        r
    }

    fn call_args(&mut self, name: &str, pos: u32) -> Result<(u32, Ty)> {
        self.expect("(")?;
        let mut args = Vec::new();
        while !self.is_op(")") {
            args.push(self.expr()?);
            if !self.is_op(")") {
                self.expect(",")?;
            }
        }
        self.bump();
        let arity = |lo: usize, hi: usize| -> Result<()> {
            if args.len() < lo || args.len() > hi {
                let n = if lo == hi {
                    format!("{lo}")
                } else if hi == usize::MAX {
                    format!("at least {lo}")
                } else {
                    format!("{lo} to {hi}")
                };
                return Err(err(
                    pos,
                    format!("{name}() takes {n} arguments, got {}", args.len()),
                ));
            }
            Ok(())
        };
        match name {
            "min" | "max" => {
                arity(1, usize::MAX)?;
                for a in &args {
                    want(a.1, Ty::Num, pos, name)?;
                }
                let ids: Box<[u32]> = args.iter().map(|a| a.0).collect();
                let node = if name == "min" {
                    Node::Min(ids)
                } else {
                    Node::Max(ids)
                };
                Ok((self.push(node, pos), Ty::Num))
            }
            "abs" => {
                arity(1, 1)?;
                want(args[0].1, Ty::Num, pos, name)?;
                Ok((self.push(Node::Abs(args[0].0), pos), Ty::Num))
            }
            "if" => {
                arity(3, 3)?;
                want(args[0].1, Ty::Bool, pos, "if")?;
                if args[1].1 != args[2].1 {
                    return Err(err(
                        pos,
                        format!(
                            "type mismatch: if() branches are {} and {}",
                            args[1].1.name(),
                            args[2].1.name()
                        ),
                    ));
                }
                Ok((
                    self.push(Node::If(args[0].0, args[1].0, args[2].0), pos),
                    args[1].1,
                ))
            }
            _ => Err(err(
                pos,
                format!("unknown function '{name}' (known: min, max, abs, if)"),
            )),
        }
    }
}

fn want(got: Ty, need: Ty, pos: u32, what: &str) -> Result<()> {
    if got == need {
        Ok(())
    } else {
        Err(err(
            pos,
            format!(
                "type mismatch: '{what}' needs a {}, got a {}",
                need.name(),
                got.name()
            ),
        ))
    }
}

fn op_symbol(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        BinOp::Div => "/",
        BinOp::Eq => "==",
        BinOp::Ne => "!=",
        BinOp::Lt => "<",
        BinOp::Le => "<=",
        BinOp::Gt => ">",
        BinOp::Ge => ">=",
        BinOp::And => "and",
        BinOp::Or => "or",
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(n) => format!("number {n}"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Name(n) => format!("'{n}'"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::End => "the end of the expression".into(),
    }
}

impl Scope {
    fn lookup(&self, name: &str) -> core::result::Result<(Var, Ty), String> {
        if let Some((_, v, t)) = Var::TRADE.iter().find(|(n, _, _)| *n == name) {
            return Ok((*v, *t));
        }
        let tier = match name {
            "tier_rate" => Some((Var::TierRate, Ty::Num)),
            "tier_level" => Some((Var::TierLevel, Ty::Num)),
            "tier" => Some((Var::Tier, Ty::Str)),
            _ => self
                .rate_names
                .iter()
                .position(|r| r == name)
                .map(|i| (Var::Rate(i as u16), Ty::Num)),
        };
        match tier {
            Some(found) if self.tier => Ok(found),
            Some(_) => Err(format!("'{name}' is a tier variable and is not available here (exclusions and caps are decided before the tier)")),
            None => Err(format!("unknown name '{name}'")),
        }
    }
}
