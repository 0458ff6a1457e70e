//! Parameters and gradients of any burn module, read in module-visiting order — for the eNTK
//! checks that look beneath `Classifier::gradients` (`ntk_finite_diff`, `ntk_arccos`).

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Element, Gradients, Tensor};

/// One vector per parameter tensor, in visiting order.
pub type ParamVectors<E> = Vec<Vec<E>>;

struct GradientReader<'a, E> {
    grads: &'a Gradients,
    out: ParamVectors<E>,
}

impl<E: Element> ModuleVisitor for GradientReader<'_, E> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let value = param.val();
        let n = value.shape().num_elements();
        let g = match value.grad(self.grads) {
            Some(g) => g.into_data().try_into_vec_as::<E>().expect("gradient read-back"),
            None => vec![E::from_elem(0.0); n],
        };
        self.out.push(g);
    }
}

/// Every parameter's gradient from `grads` as `E` (zeros where a parameter has none).
pub fn gradients<E: Element, M: Module>(module: &M, grads: &Gradients) -> ParamVectors<E> {
    let mut reader = GradientReader { grads, out: Vec::new() };
    module.visit(&mut reader);
    reader.out
}

struct Shapes(Vec<Vec<usize>>);

impl ModuleVisitor for Shapes {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.val().dims().to_vec());
    }
}

/// The shape of every parameter tensor, in visiting order.
pub fn shapes<M: Module>(module: &M) -> Vec<Vec<usize>> {
    let mut s = Shapes(Vec::new());
    module.visit(&mut s);
    s.0
}

/// Σ over parameter tensors of ⟨a, b⟩, accumulated in f64.
pub fn dot<E: Element>(a: &ParamVectors<E>, b: &ParamVectors<E>) -> f64 {
    a.iter().zip(b).map(|(x, y)| x.iter().zip(y).map(|(p, q)| p.to_f64() * q.to_f64()).sum::<f64>()).sum()
}
