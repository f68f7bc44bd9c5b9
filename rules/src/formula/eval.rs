//! Evaluation: a walk over the node array with an explicit stack (no native recursion).
//! Values borrow from the expression and the trade; every arithmetic step is checked.

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
    pub msa: bool,
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

    /// Evaluates node `i` with an explicit stack, not native recursion: a deep expression
    /// costs heap, never the thread's stack. `if`, `and` and `or` evaluate only the branch
    /// they need (a guarded division by zero stays guarded).
    fn eval<'a>(&'a self, root: u32, v: &Vars<'a>) -> Result<Val<'a>> {
        #[derive(Clone, Copy)]
        enum Task {
            Eval(u32),
            Apply(u32),
            Branch(u32),
        }
        let mut tasks: Stack<Task, 32> = Stack::new(Task::Eval(root));
        tasks.push(Task::Eval(root));
        let mut vals: Stack<Val<'a>, 16> = Stack::new(Val::Bool(false));
        let pop = |vals: &mut Stack<Val<'a>, 16>| vals.pop().map_or_else(unreachable_ty, Ok);
        let num = |x: Val<'a>| match x {
            Val::Num(n) => Ok(n),
            _ => unreachable_ty(),
        };
        let boolean = |x: Val<'a>| match x {
            Val::Bool(b) => Ok(b),
            _ => unreachable_ty(),
        };
        while let Some(task) = tasks.pop() {
            match task {
                Task::Eval(i) => match &self.nodes[i as usize] {
                    Node::Num(n) => vals.push(Val::Num(*n)),
                    Node::Str(s) => vals.push(Val::Str(s)),
                    Node::Bool(b) => vals.push(Val::Bool(*b)),
                    Node::Var(var) => {
                        let pos = self.positions[i as usize];
                        vals.push(var_value(*var, v).map_err(|e| e.position(pos).field("formula"))?)
                    }
                    Node::Neg(a) | Node::Not(a) | Node::Abs(a) | Node::In { value: a, .. } => {
                        tasks.push(Task::Apply(i));
                        tasks.push(Task::Eval(*a));
                    }
                    Node::If(c, _, _) => {
                        tasks.push(Task::Branch(i));
                        tasks.push(Task::Eval(*c));
                    }
                    Node::Bin(BinOp::And | BinOp::Or, a, _) => {
                        tasks.push(Task::Branch(i));
                        tasks.push(Task::Eval(*a));
                    }
                    Node::Bin(_, a, b) => {
                        tasks.push(Task::Apply(i));
                        tasks.push(Task::Eval(*b));
                        tasks.push(Task::Eval(*a));
                    }
                    Node::Min(args) | Node::Max(args) => {
                        tasks.push(Task::Apply(i));
                        for a in args.iter().rev() {
                            tasks.push(Task::Eval(*a));
                        }
                    }
                },
                Task::Branch(i) => {
                    let x = boolean(pop(&mut vals)?)?;
                    match &self.nodes[i as usize] {
                        Node::If(_, a, b) => tasks.push(Task::Eval(if x { *a } else { *b })),
                        Node::Bin(op, _, b) => {
                            // `a and b` is `b` when `a` holds; `a or b` is `b` when it does not.
                            if x == (*op == BinOp::And) {
                                tasks.push(Task::Eval(*b));
                            } else {
                                vals.push(Val::Bool(x));
                            }
                        }
                        _ => return unreachable_ty(),
                    }
                }
                Task::Apply(i) => {
                    let at = |e: Error| e.position(self.positions[i as usize]).field("formula");
                    let out = match &self.nodes[i as usize] {
                        Node::Neg(_) => Val::Num(-num(pop(&mut vals)?)?),
                        Node::Not(_) => Val::Bool(!boolean(pop(&mut vals)?)?),
                        Node::Abs(_) => Val::Num(num(pop(&mut vals)?)?.abs()),
                        Node::In { list, negated, .. } => {
                            let x = pop(&mut vals)?;
                            let found = list.iter().any(|l| match (l, x) {
                                (Lit::Num(a), Val::Num(b)) => *a == b,
                                (Lit::Str(a), Val::Str(b)) => &**a == b,
                                _ => false,
                            });
                            Val::Bool(found != *negated)
                        }
                        Node::Min(args) | Node::Max(args) => {
                            let is_min = matches!(self.nodes[i as usize], Node::Min(_));
                            let from = vals
                                .len()
                                .checked_sub(args.len())
                                .map_or_else(unreachable_ty, Ok)?;
                            let mut best = num(vals.as_slice()[from])?;
                            for x in &vals.as_slice()[from + 1..] {
                                let x = num(*x)?;
                                if (is_min && x < best) || (!is_min && x > best) {
                                    best = x;
                                }
                            }
                            vals.truncate(from);
                            Val::Num(best)
                        }
                        Node::Bin(op, _, _) => {
                            let y = pop(&mut vals)?;
                            let x = pop(&mut vals)?;
                            match op {
                                BinOp::Eq => Val::Bool(x == y),
                                BinOp::Ne => Val::Bool(x != y),
                                _ => {
                                    let (x, y) = (num(x)?, num(y)?);
                                    match op {
                                        BinOp::Add => Val::Num(money::add(x, y).map_err(at)?),
                                        BinOp::Sub => Val::Num(money::sub(x, y).map_err(at)?),
                                        BinOp::Mul => Val::Num(money::mul(x, y).map_err(at)?),
                                        BinOp::Div => Val::Num(money::div(x, y).map_err(at)?),
                                        BinOp::Lt => Val::Bool(x < y),
                                        BinOp::Le => Val::Bool(x <= y),
                                        BinOp::Gt => Val::Bool(x > y),
                                        BinOp::Ge => Val::Bool(x >= y),
                                        BinOp::And | BinOp::Or | BinOp::Eq | BinOp::Ne => {
                                            unreachable_ty()?
                                        }
                                    }
                                }
                            }
                        }
                        _ => return unreachable_ty(),
                    };
                    vals.push(out);
                }
            }
        }
        match (vals.pop(), vals.is_empty()) {
            (Some(x), true) => Ok(x),
            _ => unreachable_ty(),
        }
    }
}

/// A stack kept inline up to `N` items, on the heap beyond: most formulas need a handful of
/// slots, and the per-trade engine and `estimate` evaluate them many times, so the common case
/// allocates nothing. Deep expressions still cost heap, never the thread's stack.
struct Stack<T: Copy, const N: usize> {
    inline: [T; N],
    len: usize,
    heap: Vec<T>,
    spilled: bool,
}

impl<T: Copy, const N: usize> Stack<T, N> {
    fn new(fill: T) -> Self {
        Stack {
            inline: [fill; N],
            len: 0,
            heap: Vec::new(),
            spilled: false,
        }
    }

    fn push(&mut self, x: T) {
        if !self.spilled {
            if self.len < N {
                self.inline[self.len] = x;
                self.len += 1;
                return;
            }
            self.heap.extend_from_slice(&self.inline[..self.len]);
            self.spilled = true;
        }
        self.heap.push(x);
    }

    fn pop(&mut self) -> Option<T> {
        if self.spilled {
            return self.heap.pop();
        }
        self.len = self.len.checked_sub(1)?;
        Some(self.inline[self.len])
    }

    fn as_slice(&self) -> &[T] {
        if self.spilled {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn truncate(&mut self, n: usize) {
        if self.spilled {
            self.heap.truncate(n);
        } else {
            self.len = self.len.min(n);
        }
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
        Var::Msa => Val::Bool(v.msa),
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
