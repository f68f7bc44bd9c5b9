//! Evaluation: a recursive walk over the node array. Values borrow from the expression and
//! the trade, so nothing is allocated per trade; every arithmetic step is checked.

use super::{BinOp, Expr, Lit, Node, Var};
use crate::error::{Error, Result};
use crate::money;
use alloc::string::String;
use alloc::vec::Vec;
use rust_decimal::Decimal;

/// Which names an expression may use.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Whether tier variables (`tier_rate`, named rates, `tier`, `tier_level`) are visible.
    pub tier: bool,
    /// The program's named rates, in declaration order.
    pub rate_names: Vec<String>,
}

/// The variables of one evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Vars<'a> {
    pub notional: Decimal,
    pub fee: Decimal,
    /// `None` when the trade gave only `fee`: then `fee_rate` is `fee / notional`, exactly.
    pub fee_rate: Option<Decimal>,
    pub vip: Decimal,
    pub affiliate_rate: Decimal,
    pub channel: &'a str,
    pub product: &'a str,
    pub liquidity: &'a str,
    pub account: &'a str,
    pub broker: &'a str,
    pub master: &'a str,
    pub attribution: &'a str,
    pub fee_discount: bool,
    pub tier_level: u32,
    pub tier: &'a str,
    pub rates: &'a [Decimal],
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Val<'a> {
    Num(Decimal),
    Bool(bool),
    Str(&'a str),
}

impl Expr {
    /// Evaluates a numeric expression.
    pub fn eval_num(&self, v: &Vars<'_>) -> Result<Decimal> {
        match self.eval(self.root, v)? {
            Val::Num(n) => Ok(n),
            _ => unreachable_ty(),
        }
    }

    /// Evaluates a predicate.
    pub fn eval_bool(&self, v: &Vars<'_>) -> Result<bool> {
        match self.eval(self.root, v)? {
            Val::Bool(b) => Ok(b),
            _ => unreachable_ty(),
        }
    }

    fn num<'a>(&'a self, i: u32, v: &Vars<'a>) -> Result<Decimal> {
        match self.eval(i, v)? {
            Val::Num(n) => Ok(n),
            _ => unreachable_ty(),
        }
    }

    fn boolean<'a>(&'a self, i: u32, v: &Vars<'a>) -> Result<bool> {
        match self.eval(i, v)? {
            Val::Bool(b) => Ok(b),
            _ => unreachable_ty(),
        }
    }

    fn eval<'a>(&'a self, i: u32, v: &Vars<'a>) -> Result<Val<'a>> {
        let at = |e: Error| {
            let pos = self.positions[i as usize];
            e.position(pos).field("formula")
        };
        Ok(match &self.nodes[i as usize] {
            Node::Num(n) => Val::Num(*n),
            Node::Str(s) => Val::Str(s),
            Node::Bool(b) => Val::Bool(*b),
            Node::Var(var) => var_value(*var, v).map_err(at)?,
            Node::Neg(e) => Val::Num(-self.num(*e, v)?),
            Node::Not(e) => Val::Bool(!self.boolean(*e, v)?),
            Node::Abs(e) => Val::Num(self.num(*e, v)?.abs()),
            Node::If(c, a, b) => {
                if self.boolean(*c, v)? {
                    self.eval(*a, v)?
                } else {
                    self.eval(*b, v)?
                }
            }
            Node::Min(args) | Node::Max(args) => {
                let is_min = matches!(self.nodes[i as usize], Node::Min(_));
                let mut best = self.num(args[0], v)?;
                for a in &args[1..] {
                    let x = self.num(*a, v)?;
                    if (is_min && x < best) || (!is_min && x > best) {
                        best = x;
                    }
                }
                Val::Num(best)
            }
            Node::In {
                value,
                list,
                negated,
            } => {
                let x = self.eval(*value, v)?;
                let found = list.iter().any(|l| match (l, x) {
                    (Lit::Num(a), Val::Num(b)) => *a == b,
                    (Lit::Str(a), Val::Str(b)) => &**a == b,
                    _ => false,
                });
                Val::Bool(found != *negated)
            }
            Node::Bin(op, a, b) => match op {
                BinOp::And => Val::Bool(self.boolean(*a, v)? && self.boolean(*b, v)?),
                BinOp::Or => Val::Bool(self.boolean(*a, v)? || self.boolean(*b, v)?),
                BinOp::Eq | BinOp::Ne => {
                    let eq = self.eval(*a, v)? == self.eval(*b, v)?;
                    Val::Bool(eq == (*op == BinOp::Eq))
                }
                _ => {
                    let (x, y) = (self.num(*a, v)?, self.num(*b, v)?);
                    match op {
                        BinOp::Add => Val::Num(money::add(x, y).map_err(at)?),
                        BinOp::Sub => Val::Num(money::sub(x, y).map_err(at)?),
                        BinOp::Mul => Val::Num(money::mul(x, y).map_err(at)?),
                        BinOp::Div => Val::Num(money::div(x, y).map_err(at)?),
                        BinOp::Lt => Val::Bool(x < y),
                        BinOp::Le => Val::Bool(x <= y),
                        BinOp::Gt => Val::Bool(x > y),
                        BinOp::Ge => Val::Bool(x >= y),
                        BinOp::And | BinOp::Or | BinOp::Eq | BinOp::Ne => unreachable_ty()?,
                    }
                }
            },
        })
    }
}

fn var_value<'a>(var: Var, v: &Vars<'a>) -> Result<Val<'a>> {
    Ok(match var {
        Var::Notional => Val::Num(v.notional),
        Var::Fee => Val::Num(v.fee),
        Var::FeeRate => Val::Num(match v.fee_rate {
            Some(r) => r,
            None => money::div(v.fee, v.notional)?,
        }),
        Var::Vip => Val::Num(v.vip),
        Var::AffiliateRate => Val::Num(v.affiliate_rate),
        Var::Channel => Val::Str(v.channel),
        Var::Product => Val::Str(v.product),
        Var::Liquidity => Val::Str(v.liquidity),
        Var::Account => Val::Str(v.account),
        Var::Broker => Val::Str(v.broker),
        Var::Master => Val::Str(v.master),
        Var::Attribution => Val::Str(v.attribution),
        Var::FeeDiscount => Val::Bool(v.fee_discount),
        Var::TierRate => Val::Num(v.rates.first().copied().unwrap_or_default()),
        Var::TierLevel => Val::Num(Decimal::from(v.tier_level)),
        Var::Tier => Val::Str(v.tier),
        Var::Rate(i) => Val::Num(v.rates.get(i as usize).copied().unwrap_or_default()),
    })
}

/// The type checker makes this impossible; it is an error rather than a panic all the same.
fn unreachable_ty<T>() -> Result<T> {
    Err(Error::new(
        crate::error::ErrorCode::Internal,
        "expression evaluated to an unexpected type",
    ))
}
