// fanion._core: the C++ kernels of fanion for Python (docs/design.md §4).
//
// The pure-Python package (python/fanion/*.py) keeps the bookkeeping (param groups, state dicts,
// the auxiliary AdamW, torch.distributed) the way torch.optim does, and calls these for the
// maths: norms, solvers (with their stats), directions d(M) with warm-start bases, the momentum
// rule and the shape scale. `CppNormOptimizer` wraps the C++ optimizer itself, for parity tests.
//
// Enums cross the boundary as the lower-case strings the CLI uses; dtypes as torch.dtype (or
// their names); solver stats as dicts. std::invalid_argument becomes ValueError.
#include <pybind11/stl.h>
#include <torch/csrc/Dtype.h>
#include <torch/csrc/DynamicTypes.h>
#include <torch/extension.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <cstdint>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fanion/directions.h"
#include "fanion/matrix.h"
#include "fanion/norms.h"
#include "fanion/optim/fanion.h"
#include "fanion/optim/presets.h"
#include "fanion/solvers/polar.h"
#include "fanion/solvers/status.h"
#include "fanion/solvers/top_k.h"

namespace py = pybind11;

namespace {

using fanion::Direction;
using fanion::DirectionKind;
using fanion::DirectionState;
using fanion::DirectionTerm;
using fanion::PolarMethod;
using fanion::PolarOptions;
using fanion::TopKMethod;
using fanion::TopKOptions;
namespace fo = fanion::optim;

// --- dtypes --------------------------------------------------------------------------------------

std::optional<at::ScalarType> dtype_from_py(const py::object& obj, const char* what) {
  if (obj.is_none()) return std::nullopt;
  if (THPDtype_Check(obj.ptr())) return reinterpret_cast<THPDtype*>(obj.ptr())->scalar_type;
  if (py::isinstance<py::str>(obj)) {
    std::string s = obj.cast<std::string>();
    if (s.rfind("torch.", 0) == 0) s = s.substr(6);
    if (s == "float32" || s == "float") return at::kFloat;
    if (s == "float64" || s == "double") return at::kDouble;
    if (s == "bfloat16") return at::kBFloat16;
    if (s == "float16" || s == "half") return at::kHalf;
    throw std::invalid_argument(std::string("fanion: ") + what + ": unknown dtype '" + s +
                                "' (known: float32, float64, bfloat16, float16)");
  }
  throw py::type_error(std::string("fanion: ") + what + " must be a torch.dtype or None, got " +
                       py::repr(obj).cast<std::string>());
}

py::object dtype_to_py(const std::optional<at::ScalarType>& t) {
  if (!t) return py::none();
  return py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(torch::getTHPDtype(*t)));
}

// --- enums as strings: the library's conversions (next to each enum) -----------------------------

// --- small conversions ---------------------------------------------------------------------------

py::dict stats_to_dict(const fanion::SolverStats& s) {
  py::dict d;
  d["status"] = fanion::to_string(s.status);
  d["iterations"] = s.iterations;
  d["matvecs"] = s.matvecs;
  d["passes"] = s.passes;
  d["matmuls"] = s.matmuls;
  d["residual"] = s.residual;
  return d;
}

py::object tensor_or_none(const at::Tensor& t) {
  if (!t.defined()) return py::none();
  return py::cast(t);
}

std::vector<at::Tensor> bases_from_py(const py::object& obj) {
  std::vector<at::Tensor> out;
  if (obj.is_none()) return out;
  for (auto item : obj.cast<py::sequence>()) {
    out.push_back(item.is_none() ? at::Tensor() : item.cast<at::Tensor>());
  }
  return out;
}

py::list bases_to_py(const std::vector<at::Tensor>& bases) {
  py::list out;
  for (const auto& b : bases) out.append(tensor_or_none(b));
  return out;
}

at::Tensor checked_tensor(const at::Tensor& t, const char* what) {
  if (!t.defined()) throw std::invalid_argument(std::string("fanion: ") + what + " is undefined");
  return t;
}

// Pickle states (plain tuples: the optimizer's param groups may hold directions).
py::tuple polar_state(const PolarOptions& o) {
  return py::make_tuple(fanion::to_string(o.method), o.schedule.name, o.steps, o.tol,
                        dtype_to_py(o.dtype), o.rel_rank_tol, o.gram_normalization);
}
PolarOptions polar_from_state(const py::tuple& t) {
  if (t.size() != 6 && t.size() != 7) {
    throw std::runtime_error("fanion: bad PolarOptions pickle state");
  }
  PolarOptions o;
  o.method = fanion::polar_method_from_string(t[0].cast<std::string>());
  o.schedule = fanion::NewtonSchulzSchedule::by_name(t[1].cast<std::string>());
  o.steps = t[2].cast<int64_t>();
  o.tol = t[3].cast<double>();
  o.dtype = dtype_from_py(t[4], "PolarOptions.dtype");
  o.rel_rank_tol = t[5].cast<double>();
  if (t.size() == 7) o.gram_normalization = t[6].cast<bool>();
  return o;
}
py::tuple top_k_state(const TopKOptions& o) {
  return py::make_tuple(fanion::to_string(o.method), o.tol, o.max_passes, o.block_size, o.max_basis,
                        o.seed, o.rel_rank_tol);
}
TopKOptions top_k_from_state(const py::tuple& t) {
  if (t.size() != 7) throw std::runtime_error("fanion: bad TopKOptions pickle state");
  TopKOptions o;
  o.method = fanion::top_k_method_from_string(t[0].cast<std::string>());
  o.tol = t[1].cast<double>();
  o.max_passes = t[2].cast<int64_t>();
  o.block_size = t[3].cast<int64_t>();
  o.max_basis = t[4].cast<int64_t>();
  o.seed = t[5].cast<uint64_t>();
  o.rel_rank_tol = t[6].cast<double>();
  return o;
}
py::tuple term_state(const DirectionTerm& t) {
  return py::make_tuple(fanion::to_string(t.kind), t.weight, t.k, t.p, polar_state(t.polar),
                        top_k_state(t.top_k));
}
DirectionTerm term_from_state(const py::tuple& s) {
  if (s.size() != 6) throw std::runtime_error("fanion: bad DirectionTerm pickle state");
  DirectionTerm t;
  t.kind = fanion::direction_kind_from_string(s[0].cast<std::string>());
  t.weight = s[1].cast<double>();
  t.k = s[2].cast<int64_t>();
  t.p = s[3].cast<double>();
  t.polar = polar_from_state(s[4].cast<py::tuple>());
  t.top_k = top_k_from_state(s[5].cast<py::tuple>());
  return t;
}

// A Direction from a list of terms (Direction has no public constructor from terms: build it
// as a sum of single-term directions, then overwrite each term with the requested one).
Direction direction_from_terms(const std::vector<DirectionTerm>& terms) {
  if (terms.empty()) throw std::invalid_argument("fanion: a direction needs at least one term");
  std::optional<Direction> out;
  for (const auto& t : terms) {
    Direction one = Direction::nsgd();
    switch (t.kind) {
      case DirectionKind::kNsgd:
        one = Direction::nsgd();
        break;
      case DirectionKind::kSign:
        one = Direction::sign();
        break;
      case DirectionKind::kMuon:
        one = Direction::muon(t.polar);
        break;
      case DirectionKind::kFanion:
        one = Direction::fanion(t.k, t.top_k);
        break;
      case DirectionKind::kSchatten:
        one = Direction::schatten(t.p);
        break;
    }
    // Carry every field (solver options of the other kind, k, p) and the weight exactly.
    auto& slot = const_cast<DirectionTerm&>(one.terms().front());
    slot = t;
    out = out ? *out + one : one;
  }
  return *out;
}

std::string direction_repr(const Direction& d) {
  return "fanion.directions.Direction(" + d.name() + ")";
}

std::string polar_repr(const PolarOptions& o) {
  std::ostringstream os;
  os << "PolarOptions(method='" << fanion::to_string(o.method) << "', schedule='" << o.schedule.name
     << "', steps=" << o.steps << ", tol=" << o.tol
     << ", gram_normalization=" << (o.gram_normalization ? "True" : "False") << ")";
  return os.str();
}

std::string top_k_repr(const TopKOptions& o) {
  std::ostringstream os;
  os << "TopKOptions(method='" << fanion::to_string(o.method) << "', tol=" << o.tol
     << ", max_passes=" << o.max_passes << ", block_size=" << o.block_size
     << ", max_basis=" << o.max_basis << ", seed=" << o.seed << ")";
  return os.str();
}

fo::NormOptimizerParamState* cpp_state_of(fo::NormOptimizer& opt, const at::Tensor& p) {
  return opt.find_state(p);
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "fanion._core: C++ kernels of the fanion optimizers (norms, solvers, directions)";
  m.attr("FULL_RANK") = py::int_(fanion::kFullRank);

  // --- matrix view --------------------------------------------------------------------------
  m.def("as_matrix", &fanion::as_matrix, py::arg("t"),
        "Matrix view: 2-D as is, (out, d1, d2, ...) -> (out, d1*d2*...), 1-D -> 1 x n.");
  m.def("shape_string", &fanion::shape_string, py::arg("t"));
  m.def(
      "default_compute_dtype",
      [](py::object dtype) {
        auto t = dtype_from_py(dtype, "dtype");
        if (!t) throw std::invalid_argument("fanion: default_compute_dtype needs a dtype");
        return dtype_to_py(fanion::default_compute_dtype(*t));
      },
      py::arg("param_dtype"));

  // --- norms --------------------------------------------------------------------------------
  auto norms = m.def_submodule("norms", "Matrix norms (fp64 results) of the matrix view");
  norms.def("frobenius", &fanion::norms::frobenius, py::arg("M"));
  norms.def("spectral", &fanion::norms::spectral, py::arg("M"));
  norms.def("nuclear", &fanion::norms::nuclear, py::arg("M"));
  norms.def("ky_fan", &fanion::norms::ky_fan, py::arg("M"), py::arg("k"));
  norms.def("ky_fan_dual", &fanion::norms::ky_fan_dual, py::arg("M"), py::arg("k"));
  norms.def("f_fanion_primal", &fanion::norms::f_fanion_primal, py::arg("M"), py::arg("k"),
            py::arg("alpha"));
  norms.def("chebyshev", &fanion::norms::chebyshev, py::arg("M"));
  norms.def("l1", &fanion::norms::l1, py::arg("M"));
  norms.def("schatten", &fanion::norms::schatten, py::arg("M"), py::arg("p"));
  norms.def("singular_values", &fanion::norms::singular_values, py::arg("M"));

  // --- solvers ------------------------------------------------------------------------------
  py::class_<PolarOptions>(m, "PolarOptions", "Options of the polar factor (Muon) solver")
      .def(py::init([](const std::string& method, const std::string& schedule, int64_t steps,
                       double tol, py::object dtype, double rel_rank_tol, bool gram_normalization) {
             PolarOptions o;
             o.method = fanion::polar_method_from_string(method);
             o.schedule = fanion::NewtonSchulzSchedule::by_name(schedule);
             o.steps = steps;
             o.tol = tol;
             o.dtype = dtype_from_py(dtype, "PolarOptions.dtype");
             o.rel_rank_tol = rel_rank_tol;
             o.gram_normalization = gram_normalization;
             return o;
           }),
           py::arg("method") = "newton_schulz", py::arg("schedule") = "quintic",
           py::arg("steps") = 5, py::arg("tol") = 0.0, py::arg("dtype") = py::none(),
           py::arg("rel_rank_tol") = 1e-12,
           py::arg("gram_normalization") = PolarOptions().gram_normalization)
      .def_property(
          "method", [](const PolarOptions& o) { return fanion::to_string(o.method); },
          [](PolarOptions& o, const std::string& s) {
            o.method = fanion::polar_method_from_string(s);
          })
      .def_property(
          "schedule", [](const PolarOptions& o) { return o.schedule.name; },
          [](PolarOptions& o, const std::string& s) {
            o.schedule = fanion::NewtonSchulzSchedule::by_name(s);
          })
      .def_property_readonly("coefficients",
                             [](const PolarOptions& o) {
                               std::vector<std::tuple<double, double, double>> out;
                               for (const auto& c : o.schedule.steps)
                                 out.emplace_back(c.a, c.b, c.c);
                               return out;
                             })
      .def_readwrite("steps", &PolarOptions::steps)
      .def_readwrite("tol", &PolarOptions::tol)
      .def_readwrite("rel_rank_tol", &PolarOptions::rel_rank_tol)
      .def_readwrite("gram_normalization", &PolarOptions::gram_normalization)
      .def_property(
          "dtype", [](const PolarOptions& o) { return dtype_to_py(o.dtype); },
          [](PolarOptions& o, py::object d) { o.dtype = dtype_from_py(d, "PolarOptions.dtype"); })
      .def("__repr__", &polar_repr)
      .def(py::pickle([](const PolarOptions& o) { return polar_state(o); },
                      [](py::tuple t) { return polar_from_state(t); }));

  py::class_<TopKOptions>(m, "TopKOptions", "Options of the top-k singular subspace solvers")
      .def(py::init([](const std::string& method, double tol, int64_t max_passes,
                       int64_t block_size, int64_t max_basis, uint64_t seed, double rel_rank_tol) {
             TopKOptions o;
             o.method = fanion::top_k_method_from_string(method);
             o.tol = tol;
             o.max_passes = max_passes;
             o.block_size = block_size;
             o.max_basis = max_basis;
             o.seed = seed;
             o.rel_rank_tol = rel_rank_tol;
             return o;
           }),
           py::arg("method") = "auto", py::arg("tol") = 1e-6, py::arg("max_passes") = 1000,
           py::arg("block_size") = 0, py::arg("max_basis") = 0, py::arg("seed") = 0,
           py::arg("rel_rank_tol") = 1e-12)
      .def_property(
          "method", [](const TopKOptions& o) { return fanion::to_string(o.method); },
          [](TopKOptions& o, const std::string& s) {
            o.method = fanion::top_k_method_from_string(s);
          })
      .def_readwrite("tol", &TopKOptions::tol)
      .def_readwrite("max_passes", &TopKOptions::max_passes)
      .def_readwrite("block_size", &TopKOptions::block_size)
      .def_readwrite("max_basis", &TopKOptions::max_basis)
      .def_readwrite("seed", &TopKOptions::seed)
      .def_readwrite("rel_rank_tol", &TopKOptions::rel_rank_tol)
      .def("__repr__", &top_k_repr)
      .def(py::pickle([](const TopKOptions& o) { return top_k_state(o); },
                      [](py::tuple t) { return top_k_from_state(t); }));

  m.def(
      "polar_factor",
      [](const at::Tensor& M, const PolarOptions& options) {
        fanion::PolarResult r;
        {
          py::gil_scoped_release nogil;
          r = fanion::polar_factor(checked_tensor(M, "M"), options);
        }
        return py::make_tuple(r.Q, stats_to_dict(r.stats));
      },
      py::arg("M"), py::arg("options") = PolarOptions(),
      "Polar factor U V^T of a 2-D tensor, or of each matrix of a 3-D stack [B, m, n] "
      "(Newton-Schulz: one set of batched matmuls): (Q, stats).");
  m.def(
      "top_k_svd",
      [](const at::Tensor& M, int64_t k, const TopKOptions& options,
         std::optional<at::Tensor> warm_start) {
        fanion::TopKResult r;
        {
          py::gil_scoped_release nogil;
          r = fanion::top_k_svd(checked_tensor(M, "M"), k, options,
                                warm_start ? *warm_start : at::Tensor());
        }
        return py::make_tuple(r.U, r.S, r.V, stats_to_dict(r.stats));
      },
      py::arg("M"), py::arg("k"), py::arg("options") = TopKOptions(),
      py::arg("warm_start") = py::none(),
      "Top-k singular triplets of a 2-D tensor: (U, S, V, stats), k clamped to the numerical "
      "rank.");
  m.def(
      "top_k_auto_method",
      [](int64_t mm, int64_t n, int64_t k) {
        return fanion::to_string(fanion::top_k_auto_method(mm, n, k));
      },
      py::arg("m"), py::arg("n"), py::arg("k"));
  m.def(
      "accepts_warm_start",
      [](const std::string& method) {
        return fanion::accepts_warm_start(fanion::top_k_method_from_string(method));
      },
      py::arg("method"));
  m.def("polar_methods", []() {
    return std::vector<std::string>{"newton_schulz", "exact", "gram"};
  });
  m.def("top_k_methods", []() {
    std::vector<std::string> out;
    for (auto mm : {TopKMethod::kAuto, TopKMethod::kExact, TopKMethod::kGram, TopKMethod::kLanczos,
                    TopKMethod::kBlockKrylov, TopKMethod::kSubspaceIteration}) {
      out.push_back(fanion::to_string(mm));
    }
    return out;
  });
  m.def("schedule_names", []() {
    return std::vector<std::string>{"quintic", "cubic", "polar_express", "polar_express_exact"};
  });

  // --- directions ---------------------------------------------------------------------------
  py::class_<DirectionTerm>(m, "DirectionTerm", "One weighted basic direction")
      .def(py::init([](const std::string& kind, double weight, int64_t k, double p,
                       const PolarOptions& polar, const TopKOptions& top_k) {
             DirectionTerm t;
             t.kind = fanion::direction_kind_from_string(kind);
             t.weight = weight;
             t.k = k;
             t.p = p;
             t.polar = polar;
             t.top_k = top_k;
             return t;
           }),
           py::arg("kind"), py::arg("weight") = 1.0, py::arg("k") = 1, py::arg("p") = 2.0,
           py::arg("polar") = PolarOptions(), py::arg("top_k") = TopKOptions())
      .def_property(
          "kind", [](const DirectionTerm& t) { return fanion::to_string(t.kind); },
          [](DirectionTerm& t, const std::string& s) {
            t.kind = fanion::direction_kind_from_string(s);
          })
      .def_readwrite("weight", &DirectionTerm::weight)
      .def_readwrite("k", &DirectionTerm::k)
      .def_readwrite("p", &DirectionTerm::p)
      .def_readwrite("polar", &DirectionTerm::polar)
      .def_readwrite("top_k", &DirectionTerm::top_k)
      .def("__repr__",
           [](const DirectionTerm& t) {
             std::ostringstream os;
             os << "DirectionTerm(kind='" << fanion::to_string(t.kind) << "', weight=" << t.weight;
             if (t.kind == DirectionKind::kFanion) os << ", k=" << t.k;
             if (t.kind == DirectionKind::kSchatten) os << ", p=" << t.p;
             os << ")";
             return os.str();
           })
      .def(py::pickle([](const DirectionTerm& t) { return term_state(t); },
                      [](py::tuple s) { return term_from_state(s); }));

  py::class_<Direction>(m, "Direction",
                        "A steepest direction d(M) = argmax_{||D||<=1} <M, D>: a weighted sum of "
                        "basic terms (paper, Corollary 5).")
      .def_static("nsgd", &Direction::nsgd)
      .def_static("sign", &Direction::sign)
      .def_static("muon", &Direction::muon, py::arg("polar") = PolarOptions())
      .def_static("neon", &Direction::neon, py::arg("top_k") = TopKOptions())
      .def_static("fanion", &Direction::fanion, py::arg("k"), py::arg("top_k") = TopKOptions())
      .def_static("schatten", &Direction::schatten, py::arg("p"))
      .def_static("from_terms", &direction_from_terms, py::arg("terms"))
      .def(
          "__add__", [](const Direction& a, const Direction& b) { return a + b; },
          py::is_operator())
      .def(
          "__mul__", [](const Direction& a, double w) { return a * w; }, py::is_operator())
      .def(
          "__rmul__", [](const Direction& a, double w) { return w * a; }, py::is_operator())
      .def(
          "__call__",
          [](const Direction& d, const at::Tensor& M, py::object compute_dtype) {
            auto dt = dtype_from_py(compute_dtype, "compute_dtype");
            py::gil_scoped_release nogil;
            return d.apply(checked_tensor(M, "M"), nullptr, dt);
          },
          py::arg("M"), py::arg("compute_dtype") = py::none())
      .def(
          "apply",
          [](const Direction& d, const at::Tensor& M, py::object bases, py::object compute_dtype,
             bool stats) {
            auto dt = dtype_from_py(compute_dtype, "compute_dtype");
            if (bases.is_none() && !stats) {
              at::Tensor out;
              {
                py::gil_scoped_release nogil;
                out = d.apply(checked_tensor(M, "M"), nullptr, dt);
              }
              return py::object(py::cast(out));
            }
            DirectionState state;
            if (!bases.is_none()) state.bases = bases_from_py(bases);
            at::Tensor out;
            {
              py::gil_scoped_release nogil;
              out = d.apply(checked_tensor(M, "M"), &state, dt);
            }
            if (stats) {
              return py::object(py::make_tuple(out, bases_to_py(state.bases), state.fallbacks));
            }
            return py::object(py::make_tuple(out, bases_to_py(state.bases)));
          },
          py::arg("M"), py::arg("bases") = py::none(), py::arg("compute_dtype") = py::none(),
          py::arg("stats") = false,
          "d(M) in M's dtype, computed in compute_dtype. With `bases` (a list, one slot per "
          "term, None where empty) returns (d, new_bases): the warm starts for the next step. "
          "stats=True returns (d, new_bases, fallbacks): how many top-k solves did not converge "
          "and were redone by the exact SVD.")
      .def("dual_norm", &Direction::dual_norm, py::arg("M"))
      .def("primal_norm", &Direction::primal_norm, py::arg("D"))
      .def(
          "with_polar",
          [](const Direction& d, const PolarOptions& p) {
            Direction c = d;
            c.with_polar(p);
            return c;
          },
          py::arg("polar"))
      .def(
          "with_top_k",
          [](const Direction& d, const TopKOptions& t) {
            Direction c = d;
            c.with_top_k(t);
            return c;
          },
          py::arg("top_k"))
      .def_property_readonly("name", &Direction::name)
      .def_property_readonly("terms", [](const Direction& d) { return d.terms(); })
      .def("validate", &Direction::validate)
      .def("__repr__", &direction_repr)
      .def(py::pickle(
          [](const Direction& d) {
            py::list terms;
            for (const auto& t : d.terms()) terms.append(term_state(t));
            return py::make_tuple(terms);
          },
          [](py::tuple s) {
            std::vector<DirectionTerm> terms;
            for (auto t : s[0].cast<py::list>())
              terms.push_back(term_from_state(t.cast<py::tuple>()));
            return direction_from_terms(terms);
          }));

  m.def("f_fanion", &fanion::f_fanion, py::arg("k"), py::arg("alpha"));
  m.def("s_fanion", &fanion::s_fanion, py::arg("k"), py::arg("alpha"), py::arg("sign_lr_coeff"));
  m.def("make_direction", &fanion::make_direction, py::arg("family"),
        py::arg("k") = fanion::kFullRank, py::arg("alpha") = 0.5, py::arg("sign_lr_coeff") = 1.0,
        py::arg("p") = 2.0);

  // --- optimizer kernels --------------------------------------------------------------------
  m.def(
      "effective_gradient",
      [](const std::string& kind, double beta, const at::Tensor& grad,
         std::optional<at::Tensor> buffer) {
        at::Tensor buf = buffer ? *buffer : at::Tensor();
        at::Tensor M;
        {
          py::gil_scoped_release nogil;
          at::NoGradGuard no_grad;
          M = fo::effective_gradient(fo::momentum_kind_from_string(kind), beta,
                                     checked_tensor(grad, "grad"), buf);
        }
        return py::make_tuple(M, tensor_or_none(buf));
      },
      py::arg("kind"), py::arg("beta"), py::arg("grad"), py::arg("buffer") = py::none(),
      "The effective gradient M and the (updated in place, or new) momentum buffer.");
  m.def(
      "shape_scale_factor",
      [](const std::string& rule, const at::Tensor& p) {
        return fo::shape_scale_factor(fo::shape_scale_from_string(rule), p);
      },
      py::arg("rule"), py::arg("param"));
  m.def("momentum_kinds", []() {
    std::vector<std::string> names;
    for (fo::MomentumKind k : fo::all_momentum_kinds()) names.push_back(fo::to_string(k));
    return names;
  });
  m.def("shape_scales", []() {
    return std::vector<std::string>{"none", "muon", "spectral", "match_rms_adamw"};
  });

  // --- the C++ optimizer (parity tests, and users who want it as is) ------------------------
  py::class_<fo::NormOptimizerOptions>(m, "NormOptimizerOptions",
                                       "fanion::optim::NormOptimizerOptions")
      .def(py::init([](double lr, const Direction& direction, double momentum,
                       const std::string& momentum_kind, double weight_decay,
                       const std::string& shape_scale, bool normalize_weights,
                       py::object compute_dtype, const std::string& on_nonfinite, bool use_adamw,
                       bool adamw_for_non_matrix, double adamw_lr, double adamw_beta1,
                       double adamw_beta2, double adamw_eps, double adamw_weight_decay,
                       bool batched) {
             fo::NormOptimizerOptions o(lr);
             o.direction(direction)
                 .momentum(momentum)
                 .momentum_kind(fo::momentum_kind_from_string(momentum_kind))
                 .weight_decay(weight_decay)
                 .shape_scale(fo::shape_scale_from_string(shape_scale))
                 .normalize_weights(normalize_weights)
                 .compute_dtype(dtype_from_py(compute_dtype, "compute_dtype"))
                 .on_nonfinite(fo::nonfinite_policy_from_string(on_nonfinite))
                 .use_adamw(use_adamw)
                 .adamw_for_non_matrix(adamw_for_non_matrix)
                 .adamw_lr(adamw_lr)
                 .adamw_beta1(adamw_beta1)
                 .adamw_beta2(adamw_beta2)
                 .adamw_eps(adamw_eps)
                 .adamw_weight_decay(adamw_weight_decay)
                 .batched(batched);
             return o;
           }),
           py::arg("lr") = 0.02, py::arg("direction") = Direction::muon(),
           py::arg("momentum") = 0.95, py::arg("momentum_kind") = "nesterov",
           py::arg("weight_decay") = 0.0, py::arg("shape_scale") = "none",
           py::arg("normalize_weights") = false, py::arg("compute_dtype") = py::none(),
           py::arg("on_nonfinite") = "error", py::arg("use_adamw") = false,
           py::arg("adamw_for_non_matrix") = true, py::arg("adamw_lr") = 3e-4,
           py::arg("adamw_beta1") = 0.9, py::arg("adamw_beta2") = 0.95, py::arg("adamw_eps") = 1e-8,
           py::arg("adamw_weight_decay") = 0.0, py::arg("batched") = false)
      .def_property(
          "lr", [](const fo::NormOptimizerOptions& o) { return o.lr(); },
          [](fo::NormOptimizerOptions& o, double v) { o.lr(v); })
      .def_property(
          "direction", [](const fo::NormOptimizerOptions& o) { return o.direction(); },
          [](fo::NormOptimizerOptions& o, const Direction& d) { o.direction(d); })
      .def_property(
          "momentum", [](const fo::NormOptimizerOptions& o) { return o.momentum(); },
          [](fo::NormOptimizerOptions& o, double v) { o.momentum(v); })
      .def_property(
          "momentum_kind",
          [](const fo::NormOptimizerOptions& o) { return fo::to_string(o.momentum_kind()); },
          [](fo::NormOptimizerOptions& o, const std::string& s) {
            o.momentum_kind(fo::momentum_kind_from_string(s));
          })
      .def_property(
          "weight_decay", [](const fo::NormOptimizerOptions& o) { return o.weight_decay(); },
          [](fo::NormOptimizerOptions& o, double v) { o.weight_decay(v); })
      .def_property(
          "shape_scale",
          [](const fo::NormOptimizerOptions& o) { return fo::to_string(o.shape_scale()); },
          [](fo::NormOptimizerOptions& o, const std::string& s) {
            o.shape_scale(fo::shape_scale_from_string(s));
          })
      .def_property(
          "normalize_weights",
          [](const fo::NormOptimizerOptions& o) { return o.normalize_weights(); },
          [](fo::NormOptimizerOptions& o, bool v) { o.normalize_weights(v); })
      .def_property(
          "compute_dtype",
          [](const fo::NormOptimizerOptions& o) { return dtype_to_py(o.compute_dtype()); },
          [](fo::NormOptimizerOptions& o, py::object d) {
            o.compute_dtype(dtype_from_py(d, "compute_dtype"));
          })
      .def_property(
          "on_nonfinite",
          [](const fo::NormOptimizerOptions& o) { return fo::to_string(o.on_nonfinite()); },
          [](fo::NormOptimizerOptions& o, const std::string& s) {
            o.on_nonfinite(fo::nonfinite_policy_from_string(s));
          })
      .def_property(
          "use_adamw", [](const fo::NormOptimizerOptions& o) { return o.use_adamw(); },
          [](fo::NormOptimizerOptions& o, bool v) { o.use_adamw(v); })
      .def_property(
          "adamw_for_non_matrix",
          [](const fo::NormOptimizerOptions& o) { return o.adamw_for_non_matrix(); },
          [](fo::NormOptimizerOptions& o, bool v) { o.adamw_for_non_matrix(v); })
      .def_property(
          "adamw_lr", [](const fo::NormOptimizerOptions& o) { return o.adamw_lr(); },
          [](fo::NormOptimizerOptions& o, double v) { o.adamw_lr(v); })
      .def_property(
          "adamw_beta1", [](const fo::NormOptimizerOptions& o) { return o.adamw_beta1(); },
          [](fo::NormOptimizerOptions& o, double v) { o.adamw_beta1(v); })
      .def_property(
          "adamw_beta2", [](const fo::NormOptimizerOptions& o) { return o.adamw_beta2(); },
          [](fo::NormOptimizerOptions& o, double v) { o.adamw_beta2(v); })
      .def_property(
          "adamw_eps", [](const fo::NormOptimizerOptions& o) { return o.adamw_eps(); },
          [](fo::NormOptimizerOptions& o, double v) { o.adamw_eps(v); })
      .def_property(
          "adamw_weight_decay",
          [](const fo::NormOptimizerOptions& o) { return o.adamw_weight_decay(); },
          [](fo::NormOptimizerOptions& o, double v) { o.adamw_weight_decay(v); })
      .def_property(
          "batched", [](const fo::NormOptimizerOptions& o) { return o.batched(); },
          [](fo::NormOptimizerOptions& o, bool v) { o.batched(v); })
      .def("validate", &fo::NormOptimizerOptions::validate);

  m.def("preset", &fo::preset, py::arg("name"), py::arg("lr"), py::arg("momentum"),
        py::arg("alpha") = 0.5, py::arg("sign_lr_coeff") = 0.01,
        "NormOptimizerOptions of a named preset (muon, f-muon, s-fanion-8, ...).");
  m.def("preset_names", &fo::preset_names);

  py::class_<fo::NormOptimizer>(
      m, "CppNormOptimizer",
      "fanion::optim::NormOptimizer itself (the C++ optimizer), on Python tensors.")
      .def(py::init(
               [](std::vector<std::pair<std::vector<at::Tensor>, fo::NormOptimizerOptions>> groups,
                  const fo::NormOptimizerOptions& defaults) {
                 std::vector<torch::optim::OptimizerParamGroup> pg;
                 for (auto& [params, options] : groups) {
                   pg.emplace_back(params, std::make_unique<fo::NormOptimizerOptions>(options));
                 }
                 return std::make_unique<fo::NormOptimizer>(std::move(pg), defaults);
               }),
           py::arg("groups"), py::arg("defaults") = fo::NormOptimizerOptions())
      .def("step",
           [](fo::NormOptimizer& opt) {
             py::gil_scoped_release nogil;
             opt.step();
           })
      .def("last_skipped", &fo::NormOptimizer::last_skipped)
      .def(
          "set_lr",
          [](fo::NormOptimizer& opt, size_t group, double lr) {
            if (group >= opt.param_groups().size()) throw py::index_error("no such param group");
            opt.param_groups()[group].options().set_lr(lr);
          },
          py::arg("group"), py::arg("lr"))
      .def(
          "get_lr",
          [](fo::NormOptimizer& opt, size_t group) {
            if (group >= opt.param_groups().size()) throw py::index_error("no such param group");
            return opt.param_groups()[group].options().get_lr();
          },
          py::arg("group"))
      .def(
          "save",
          [](const fo::NormOptimizer& opt, const std::string& path) {
            torch::serialize::OutputArchive archive;
            opt.save(archive);
            archive.save_to(path);
          },
          py::arg("path"))
      .def(
          "load",
          [](fo::NormOptimizer& opt, const std::string& path) {
            torch::serialize::InputArchive archive;
            archive.load_from(path);
            opt.load(archive);
          },
          py::arg("path"))
      .def(
          "state_of",
          [](fo::NormOptimizer& opt, const at::Tensor& p) -> py::object {
            auto* s = cpp_state_of(opt, p);
            if (!s) return py::none();
            py::dict d;
            d["step"] = s->step();
            d["momentum_buffer"] = tensor_or_none(s->momentum_buffer());
            d["exp_avg"] = tensor_or_none(s->exp_avg());
            d["exp_avg_sq"] = tensor_or_none(s->exp_avg_sq());
            d["direction_bases"] = bases_to_py(s->direction_state().bases);
            return d;
          },
          py::arg("param"),
          "The C++ state of one parameter as a dict (None before its first step).");

  // Earlier names (fanion::optim::Fanion and FanionOptions), kept as aliases.
  m.attr("CppFanion") = m.attr("CppNormOptimizer");
  m.attr("FanionOptions") = m.attr("NormOptimizerOptions");
}
