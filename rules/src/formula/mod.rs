//! The expression language of programs: commission formulas and exclusion predicates.
//!
//! Expressions are parsed and type-checked once, when the program loads, into a flat node
//! array; evaluation walks that array with values that borrow from the trade, so settling a
//! trade allocates nothing. Arithmetic is exact decimal (see [`crate::money`]).
//!
//! Grammar (lowest precedence first):
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := not ("and" not)*
//! not     := "not" not | cmp
//! cmp     := sum (("=="|"!="|"<"|"<="|">"|">=") sum | "not"? "in" "[" literal,* "]")?
//! sum     := product (("+"|"-") product)*
//! product := unary (("*"|"/") unary)*
//! unary   := "-" unary | atom
//! atom    := number "%"? | string | "true" | "false" | name | name "(" expr,* ")" | "(" expr ")"
//! ```
//! Functions: `min(a, b, ...)`, `max(a, b, ...)`, `abs(x)`, `if(cond, then, else)`.

mod eval;
mod parse;

pub use parse::{MAX_DEPTH, MAX_EXPR_CHARS, MAX_NESTING};

pub use eval::{Scope, Vars};

use crate::error::{Error, ErrorCode, Result};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// The type of an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Num,
    Bool,
    Str,
}

impl Ty {
    fn name(self) -> &'static str {
        match self {
            Ty::Num => "number",
            Ty::Bool => "boolean",
            Ty::Str => "string",
        }
    }
}

/// A variable an expression may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    Notional,
    Fee,
    FeeRate,
    Vip,
    AffiliateRate,
    Channel,
    Product,
    Liquidity,
    Account,
    Broker,
    Master,
    Attribution,
    FeeDiscount,
    /// The account is a managed sub-account: the trade's `msa` flag, or the registry's
    /// `clients[].msa`.
    Msa,
    /// The level's primary rate (its first named rate).
    TierRate,
    /// The level's rank: 0 below the lowest level, 1 for the lowest, ...
    TierLevel,
    /// The level's name, `""` below the lowest level.
    Tier,
    /// A named rate of the level, by index in the program's rate names.
    Rate(u16),
}

impl Var {
    /// Variables of the trade (available everywhere).
    const TRADE: [(&'static str, Var, Ty); 14] = [
        ("notional", Var::Notional, Ty::Num),
        ("fee", Var::Fee, Ty::Num),
        ("fee_rate", Var::FeeRate, Ty::Num),
        ("vip", Var::Vip, Ty::Num),
        ("affiliate_rate", Var::AffiliateRate, Ty::Num),
        ("channel", Var::Channel, Ty::Str),
        ("product", Var::Product, Ty::Str),
        ("liquidity", Var::Liquidity, Ty::Str),
        ("account", Var::Account, Ty::Str),
        ("broker", Var::Broker, Ty::Str),
        ("master", Var::Master, Ty::Str),
        ("attribution", Var::Attribution, Ty::Str),
        ("fee_discount", Var::FeeDiscount, Ty::Bool),
        ("msa", Var::Msa, Ty::Bool),
    ];

    fn is_tier(self) -> bool {
        matches!(
            self,
            Var::TierRate | Var::TierLevel | Var::Tier | Var::Rate(_)
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Lit {
    Num(Decimal),
    Str(Box<str>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Num(Decimal),
    Str(Box<str>),
    Bool(bool),
    Var(Var),
    Neg(u32),
    Not(u32),
    Bin(BinOp, u32, u32),
    If(u32, u32, u32),
    Min(Box<[u32]>),
    Max(Box<[u32]>),
    Abs(u32),
    In {
        value: u32,
        list: Box<[Lit]>,
        negated: bool,
    },
}

/// The tree's depth, computed without recursion (children come before their parents in
/// the node array); past [`parse::MAX_DEPTH`] the expression is refused.
fn check_depth(nodes: &[Node], positions: &[u32]) -> Result<()> {
    let mut depth = alloc::vec![0u32; nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        let d = |c: &u32| depth.get(*c as usize).copied().unwrap_or(0);
        let below = match n {
            Node::Num(_) | Node::Str(_) | Node::Bool(_) | Node::Var(_) => 0,
            Node::Neg(a) | Node::Not(a) | Node::Abs(a) => d(a),
            Node::Bin(_, a, b) => d(a).max(d(b)),
            Node::If(a, b, c) => d(a).max(d(b)).max(d(c)),
            Node::Min(xs) | Node::Max(xs) => xs.iter().map(d).max().unwrap_or(0),
            Node::In { value, .. } => d(value),
        };
        depth[i] = below + 1;
        if depth[i] > parse::MAX_DEPTH {
            return Err(Error::new(
                ErrorCode::Expr,
                format!(
                    "expression tree deeper than {} levels (a long chain such as a + b + c + ... counts one level per term)",
                    parse::MAX_DEPTH
                ),
            )
            .position(positions[i]));
        }
    }
    Ok(())
}

/// A parsed, type-checked expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    source: String,
    nodes: Vec<Node>,
    /// Source position (characters) of each node, for run-time errors.
    positions: Vec<u32>,
    root: u32,
    ty: Ty,
    uses_tier: bool,
}

impl Expr {
    /// Parses and checks `source` in `scope`; the result must have type `want`.
    pub fn compile(source: &str, scope: &Scope, want: Ty) -> Result<Expr> {
        let mut p = parse::Parser::new(source, scope)?;
        let (root, ty) = p.parse_all()?;
        if ty != want {
            return Err(Error::new(
                ErrorCode::Expr,
                format!(
                    "expression has type {}, but a {} is needed here",
                    ty.name(),
                    want.name()
                ),
            )
            .position(0));
        }
        let (nodes, positions) = p.finish();
        check_depth(&nodes, &positions)?;
        let uses_tier = nodes
            .iter()
            .any(|n| matches!(n, Node::Var(v) if v.is_tier()));
        Ok(Expr {
            source: source.into(),
            nodes,
            positions,
            root,
            ty,
            uses_tier,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn ty(&self) -> Ty {
        self.ty
    }

    /// Whether the value can change with the tier (formulas that do not are evaluated once).
    pub fn uses_tier(&self) -> bool {
        self.uses_tier
    }

    /// Every variable the expression reads.
    pub(crate) fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        self.nodes.iter().filter_map(|n| match n {
            Node::Var(v) => Some(*v),
            _ => None,
        })
    }

    /// The additive trade quantity `q` when the expression is `q * g(...)`: a product chain
    /// with exactly one factor that is `fee` or `notional`, and no other use of `fee`,
    /// `notional` or `fee_rate` anywhere. Then the value for a trade is `q` times the value
    /// at `q = 1`, so sums of `q` can be priced once per class instead of once per trade.
    pub(crate) fn quantity_factor(&self) -> Option<Var> {
        let mut factors = Vec::new();
        let mut stack = alloc::vec![self.root];
        while let Some(i) = stack.pop() {
            match &self.nodes[i as usize] {
                Node::Bin(BinOp::Mul, a, b) => {
                    stack.push(*a);
                    stack.push(*b);
                }
                _ => factors.push(i),
            }
        }
        let is_q = |i: u32| {
            matches!(
                self.nodes[i as usize],
                Node::Var(Var::Fee) | Node::Var(Var::Notional)
            )
        };
        let q: Vec<u32> = factors.iter().copied().filter(|&i| is_q(i)).collect();
        let uses = self
            .vars()
            .filter(|v| matches!(v, Var::Fee | Var::Notional | Var::FeeRate))
            .count();
        match (q.as_slice(), uses) {
            ([i], 1) => match self.nodes[*i as usize] {
                Node::Var(v) => Some(v),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
