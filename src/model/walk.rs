//! Walking a module's float parameters by **path** (`generated.3.block.conv_0.weight_orig`):
//! the key the half-precision files and the generator's moving average use, so that values
//! re-attach to a model built in another process.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

/// One float parameter, flattened.
#[derive(Debug, Clone)]
pub struct FlatParam {
    /// Module path, dot-separated.
    pub path: String,
    /// Shape of the parameter.
    pub shape: Vec<usize>,
    /// Its values, flattened (on the module's device).
    pub values: Tensor<1>,
    /// Whether it is trained (has a gradient); buffers such as spectral-norm `u`, `v` are not.
    pub trained: bool,
}

/// Every float parameter of `m`, in module order.
pub fn flat_params<M: Module>(m: &M) -> Vec<FlatParam> {
    struct Collect {
        path: Vec<String>,
        out: Vec<FlatParam>,
    }
    impl ModuleVisitor for Collect {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            let n = shape.iter().product::<usize>();
            self.out.push(FlatParam {
                path: self.path.join("."),
                trained: t.is_require_grad(),
                values: t.reshape([n]),
                shape,
            });
        }
    }
    let mut c = Collect {
        path: Vec::new(),
        out: Vec::new(),
    };
    m.visit(&mut c);
    c.out
}

/// Rebuilds `m` with every float parameter passed through `f(path, shape, flattened values)`:
/// `Some(new)` (same number of elements) replaces the values, `None` (or a wrong length) keeps
/// them. Parameter ids, shapes and whether a parameter is trained are kept; a replaced trained
/// parameter is a fresh leaf (no autodiff graph behind it).
pub fn replace_params<M, F>(m: M, f: F) -> M
where
    M: Module,
    F: FnMut(&str, &[usize], Tensor<1>) -> Option<Tensor<1>>,
{
    struct Replace<F> {
        path: Vec<String>,
        f: F,
    }
    impl<F: FnMut(&str, &[usize], Tensor<1>) -> Option<Tensor<1>>> ModuleMapper for Replace<F> {
        fn enter_module(&mut self, name: &str, _container_type: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _name: &str, _container_type: &str) {
            self.path.pop();
        }
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let shape = tensor.dims();
            let n = shape.iter().product::<usize>();
            let trained = tensor.is_require_grad();
            let flat = tensor.clone().reshape([n]);
            let out = match (self.f)(&self.path.join("."), &shape, flat) {
                Some(new) if new.shape().num_elements() == n => {
                    let t: Tensor<D> = new.reshape(shape);
                    // A trained parameter is a leaf again (new values carry no graph).
                    if trained {
                        t.detach().require_grad()
                    } else {
                        t
                    }
                }
                _ => tensor,
            };
            Param::from_mapped_value(id, out, mapper)
        }
    }
    m.map(&mut Replace {
        path: Vec::new(),
        f,
    })
}

/// `m` with every float parameter taken off the autodiff device (its inner tensor; values
/// shared, not copied): a frozen network that the trainers run without recording a graph, on
/// the inference kernels. Parameters already plain are kept.
pub fn to_plain<M: Module>(m: M) -> M {
    struct Plain;
    impl ModuleMapper for Plain {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let (id, tensor, mapper) = param.consume();
            let out = match tensor.is_autodiff() {
                true => tensor.inner(),
                false => tensor,
            };
            Param::from_mapped_value(id, out, mapper)
        }
    }
    m.map(&mut Plain)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Preset;
    use crate::model::generator::Generator;
    use crate::model::params::ParamSource;
    use crate::model::tensor_to_vec;

    #[test]
    fn paths_shapes_and_trained_flags_survive_a_round_trip() {
        let dev = Device::flex().autodiff();
        let cfg = Preset::Tiny.config();
        let g = Generator::from_source(&mut ParamSource::random(5, &dev), &cfg.generator).unwrap();
        let before = flat_params(&g);
        assert!(before.iter().any(|p| p.path == "fc.weight" && p.trained));
        assert!(
            before
                .iter()
                .any(|p| p.path.ends_with("conv_0.weight_u") && !p.trained)
        );
        // Double every parameter (buffers too): flags and shapes stay.
        let g2 = replace_params(g, |_, _, x| Some(x * 2.0));
        let after = flat_params(&g2);
        assert_eq!(before.len(), after.len());
        for (a, b) in before.iter().zip(&after) {
            assert_eq!(
                (&a.path, &a.shape, a.trained),
                (&b.path, &b.shape, b.trained)
            );
            let (va, vb) = (
                tensor_to_vec(a.values.clone()).unwrap(),
                tensor_to_vec(b.values.clone()).unwrap(),
            );
            assert!(va.iter().zip(&vb).all(|(x, y)| 2.0 * x == *y), "{}", a.path);
        }
        // A wrong length keeps the old values.
        let g3 = replace_params(g2, |_, _, x| Some(x.narrow(0, 0, 1)));
        let kept = flat_params(&g3);
        assert_eq!(
            tensor_to_vec(kept[0].values.clone()).unwrap(),
            tensor_to_vec(after[0].values.clone()).unwrap()
        );
    }

    /// A network taken off the autodiff device has plain parameters with the same values, and
    /// on plain inputs (the inference kernels) computes what it computes on autodiff.
    #[test]
    fn a_plain_copy_computes_the_same_prior() {
        use crate::model::prior::PriorNet;
        let dev = Device::flex().autodiff();
        let cfg = Preset::Tiny.config();
        let prior =
            PriorNet::from_sources_single(&mut ParamSource::random(3, &dev), &cfg.prior).unwrap();
        let plain = to_plain(prior.clone());
        for (a, b) in flat_params(&prior).iter().zip(flat_params(&plain)) {
            assert!(
                a.values.is_autodiff() && !b.values.is_autodiff(),
                "{}",
                a.path
            );
            assert_eq!(
                tensor_to_vec(a.values.clone()).unwrap(),
                tensor_to_vec(b.values).unwrap()
            );
        }
        let r = cfg.resolution();
        let img: Vec<f32> = (0..3 * r * r)
            .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
            .collect();
        let known: Vec<f32> = (0..3 * r * r)
            .map(|i| if (i % (r * r)) / r < r / 2 { 1.0 } else { 0.0 })
            .collect();
        let run = |net: &PriorNet, d: &Device| {
            let x = Tensor::<1>::from_floats(img.as_slice(), d).reshape([1, 3, r, r]);
            let m = Tensor::<1>::from_floats(known.as_slice(), d).reshape([1, 3, r, r]);
            tensor_to_vec(net.forward(x * m.clone(), m)).unwrap()
        };
        let (want, got) = (run(&prior, &dev), run(&plain, &Device::flex()));
        let worst = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-4, "plain prior differs by {worst}");
    }
}
