;; luge-fuzz regression
;; seed: 1
;; found in: guard@baseline (issue 17's first outside run, 4,933 of 10,934 modules)
;; Below SSE4.1 Cranelift calls `ceilf`, `floor`... for the rounding
;; instructions; the object linked without them and failed to load with
;; "undefined symbol: ceilf".
(module
  (func (export "f32.ceil") (param f32) (result f32) local.get 0 f32.ceil)
  (func (export "f32.floor") (param f32) (result f32) local.get 0 f32.floor)
  (func (export "f32.trunc") (param f32) (result f32) local.get 0 f32.trunc)
  (func (export "f32.nearest") (param f32) (result f32) local.get 0 f32.nearest)
  (func (export "f64.ceil") (param f64) (result f64) local.get 0 f64.ceil)
  (func (export "f64.floor") (param f64) (result f64) local.get 0 f64.floor)
  (func (export "f64.trunc") (param f64) (result f64) local.get 0 f64.trunc)
  (func (export "f64.nearest") (param f64) (result f64) local.get 0 f64.nearest))
